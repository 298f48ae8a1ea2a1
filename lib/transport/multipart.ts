/** multipart/form-data, for a request that uploads files (twilio-request to Serverless assets, say). */
import crypto from 'node:crypto';

export interface MultipartFile {
  /** The form field. */
  field: string;
  filename: string;
  contentType?: string;
  data: Buffer | string;
}

/** A name in a Content-Disposition header: its quotes and line breaks escaped as browsers do. */
const quoted = (name: string) => name.replace(/"/g, '%22').replace(/\r/g, '%0D').replace(/\n/g, '%0A');

/** The body and its Content-Type (with the boundary) for form fields and files. */
export function encodeMultipart(fields: Record<string, unknown>, files: readonly MultipartFile[]): { body: Buffer; contentType: string } {
  const boundary = `----twilio-node-red-${crypto.randomBytes(12).toString('hex')}`;
  const parts: Buffer[] = [];
  for (const [key, value] of Object.entries(fields)) {
    for (const one of [value].flat()) {
      if (one === undefined || one === null) continue;
      parts.push(Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="${quoted(key)}"\r\n\r\n${String(one)}\r\n`));
    }
  }
  for (const file of files) {
    const head = `--${boundary}\r\nContent-Disposition: form-data; name="${quoted(file.field)}"; filename="${quoted(file.filename)}"\r\nContent-Type: ${file.contentType ?? 'application/octet-stream'}\r\n\r\n`;
    parts.push(Buffer.from(head), typeof file.data === 'string' ? Buffer.from(file.data) : file.data, Buffer.from('\r\n'));
  }
  parts.push(Buffer.from(`--${boundary}--\r\n`));
  return { body: Buffer.concat(parts), contentType: `multipart/form-data; boundary=${boundary}` };
}
