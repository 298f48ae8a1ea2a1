/**
 * Stoplight Prism serving one of Twilio's official OpenAPI specs (see SPEC_DIR) on a free
 * 127.0.0.1 port. Prism answers 422 to any request that breaks the spec.
 */
import { ChildProcess, spawn } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';
import { httpRequest } from '../../simulator/http-client';

/**
 * Twilio's official OpenAPI specs (twilio/twilio-oai, MIT) as Twilio ships them on the npm registry
 * inside @twilio-alpha/mcp (a pinned devDependency): installed by `npm ci`, nothing outside the clone.
 */
export const SPEC_DIR =
  process.env.TWILIO_OAI_DIR || path.join(path.dirname(require.resolve('@twilio-alpha/mcp/package.json')), 'twilio-oai', 'spec', 'json');

/**
 * A port free now for a server a test starts later (a child process binds it), below the ephemeral
 * range (32768–60999 on Linux): a port the system handed out (listen on 0) is one an outgoing
 * connection of any test may take before the child binds it (EADDRINUSE under a full run's load).
 */
export async function freePort(): Promise<number> {
  for (let tries = 0; ; tries++) {
    const port = 20_000 + Math.floor(Math.random() * 12_000);
    if (await canListen(port)) return port;
    if (tries > 50) throw new Error('no free port between 20000 and 32000');
  }
}

function canListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

export interface PrismServer {
  url: string;
  output(): string;
  stop(): Promise<void>;
}

export async function startPrism(specFile: string): Promise<PrismServer> {
  const port = await freePort();
  const bin = require.resolve('@stoplight/prism-cli/dist/index.js');
  const child: ChildProcess = spawn(
    process.execPath,
    [bin, 'mock', '-h', '127.0.0.1', '-p', String(port), '-v', 'error', path.join(SPEC_DIR, specFile)],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let output = '';
  child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`prism exited (${child.exitCode}): ${output}`);
    try {
      await fetch(url);
      break;
    } catch {
      if (Date.now() > deadline) {
        child.kill('SIGKILL');
        throw new Error(`prism did not start within 60 s: ${output}`);
      }
      await new Promise((r) => setTimeout(r, 200));
    }
  }
  return {
    url,
    output: () => output,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
        setTimeout(() => child.kill('SIGKILL'), 5000).unref();
      }),
  };
}

interface PropertySchema {
  type?: string;
  items?: { type?: string; pattern?: string };
}

interface Operation {
  pattern: RegExp;
  method: string;
  properties: Record<string, PropertySchema>;
}

function loadOperations(specFile: string): Operation[] {
  const spec = require(path.join(SPEC_DIR, specFile)) as { paths: Record<string, Record<string, any>> };
  const operations: Operation[] = [];
  // Literal paths first: IncomingPhoneNumbers/Local.json must not be taken for IncomingPhoneNumbers/{Sid}.json.
  const templates = Object.keys(spec.paths).sort((a, b) => a.split('{').length - b.split('{').length);
  for (const template of templates) {
    const methods = spec.paths[template];
    const pattern = new RegExp(`^${template.replace(/[.]/g, '\\.').replace(/\{[^}]+\}/g, '[^/]+')}$`);
    for (const [method, op] of Object.entries(methods)) {
      const schema = op?.requestBody?.content?.['application/x-www-form-urlencoded']?.schema;
      if (schema) operations.push({ pattern, method: method.toUpperCase(), properties: schema.properties ?? {} });
    }
  }
  return operations;
}

/**
 * A proxy in front of Prism for what Prism cannot check in form bodies. Prism does not read an
 * array sent as repeated keys (`MediaUrl=a&MediaUrl=b`, OpenAPI's default form encoding and what the
 * twilio SDK sends; stoplightio/prism#2473) and it ignores parameters the spec does not declare. So
 * here: every key must be declared by the operation, only array properties may repeat, array items
 * must match the spec's item schema; then the array properties are taken out and Prism checks the rest.
 */
export async function startConformanceProxy(
  prismUrl: string,
  specFile: string,
): Promise<{ url: string; violations: string[]; requests: string[]; stop(): Promise<void> }> {
  const http = await import('node:http');
  const operations = loadOperations(specFile);
  const violations: string[] = [];
  /** Every request that came, as `METHOD /path`. */
  const requests: string[] = [];
  const refuse = (res: import('node:http').ServerResponse, problem: string) => {
    violations.push(problem);
    res.writeHead(422, { 'Content-Type': 'application/problem+json' });
    res.end(JSON.stringify({ title: 'Invalid request', status: 422, detail: problem, message: problem }));
  };
  const server = http.createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const url = new URL(req.url ?? '/', prismUrl);
    requests.push(`${req.method} ${url.pathname}`);
    let body = Buffer.concat(chunks).toString('utf8');
    const operation = operations.find((o) => o.method === req.method && o.pattern.test(url.pathname));
    if (operation && body) {
      const form = new URLSearchParams(body);
      const forwarded = new URLSearchParams();
      for (const key of new Set(form.keys())) {
        const property = operation.properties[key];
        const values = form.getAll(key);
        if (!property) return refuse(res, `${req.method} ${url.pathname}: parameter ${key} is not in the spec`);
        if (property.type !== 'array') {
          if (values.length > 1) return refuse(res, `${key} is not an array but was sent ${values.length} times`);
          forwarded.append(key, values[0]);
          continue;
        }
        const itemPattern = property.items?.pattern ? new RegExp(property.items.pattern) : undefined;
        const bad = values.find((v) => itemPattern && !itemPattern.test(v));
        if (bad !== undefined) return refuse(res, `${key} item ${bad} does not match ${property.items!.pattern}`);
      }
      body = forwarded.toString();
    }
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(req.headers))
      if (typeof v === 'string' && !['host', 'content-length', 'connection'].includes(k)) headers[k] = v;
    const answer = await httpRequest(url.href, { method: req.method, headers, body: req.method === 'GET' ? undefined : body });
    let payload = Buffer.from(answer.body);
    if (answer.status === 422) {
      // Give Prism's findings a `message`, so the SDK's error (and the test's failure) says what broke.
      const problem = JSON.parse(payload.toString('utf8')) as { validation?: Array<{ location: string[]; message: string }> };
      const message = (problem.validation ?? []).map((v) => `${v.location.join('.')}: ${v.message}`).join('; ');
      violations.push(`${req.method} ${url.pathname}: ${message}`);
      payload = Buffer.from(JSON.stringify({ ...problem, message }));
    }
    res.writeHead(answer.status, { 'Content-Type': answer.contentType ?? 'application/json' });
    res.end(payload);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const { port } = server.address() as net.AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    violations,
    requests,
    stop: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
