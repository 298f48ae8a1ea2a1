/**
 * This process's instance id: one per Node-RED process, new at each start (a restarted process is a
 * new instance; what the old one held is taken over). Named on the shared engine's per-instance
 * channels (a reply forwarded to the instance that holds its question). TWILIO_INSTANCE_ID, when
 * set, names it (a test, or an operator who wants readable ids in Redis); it must still differ
 * between processes running at once.
 */
import crypto from 'node:crypto';
import os from 'node:os';

let id: string | undefined;

export function instanceId(): string {
  return (id ??= process.env.TWILIO_INSTANCE_ID || `${os.hostname()}-${process.pid}-${crypto.randomBytes(4).toString('hex')}`);
}
