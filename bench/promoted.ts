/**
 * Where a burst's promoted memory was allocated (BENCH_PROMOTED=<file> with bench d): V8's sampling
 * heap profiler, keeping the samples of objects a full collection freed but dropping those a
 * young-generation collection freed. Read before the bench's own gc(), what remains is what was
 * copied into the old generation (or still lives), by the stack that allocated it.
 */
import fs from 'node:fs';
import { Session } from 'node:inspector';

interface ProfileNode {
  callFrame: { functionName: string; url: string; lineNumber: number; columnNumber: number };
  selfSize: number;
  children: ProfileNode[];
}

const post = <T>(session: Session, method: string, params?: object): Promise<T> =>
  new Promise((resolve, reject) => session.post(method, params, (err, result) => (err ? reject(err) : resolve(result as T))));

export async function startPromoted(): Promise<Session> {
  const session = new Session();
  session.connect();
  await post(session, 'HeapProfiler.startSampling', {
    samplingInterval: 4096,
    includeObjectsCollectedByMajorGC: true,
    includeObjectsCollectedByMinorGC: Boolean(process.env.BENCH_PROMOTED_ALL),
  });
  return session;
}

/** Writes the top allocation stacks (bytes, frames) of what survived young collections. */
export async function stopPromoted(session: Session, file: string): Promise<void> {
  const { profile } = await post<{ profile: { head: ProfileNode } }>(session, 'HeapProfiler.getSamplingProfile');
  await post(session, 'HeapProfiler.stopSampling');
  session.disconnect();
  const stacks: Array<{ bytes: number; stack: string[] }> = [];
  const walk = (node: ProfileNode, path: string[]) => {
    const frame = `${node.callFrame.functionName || '(anon)'} ${node.callFrame.url.replace(/^.*node_modules\//, '~/').replace(/^.*\/dist\//, '')}:${node.callFrame.lineNumber + 1}`;
    const here = [...path, frame];
    if (node.selfSize > 0) stacks.push({ bytes: node.selfSize, stack: here });
    for (const child of node.children) walk(child, here);
  };
  walk(profile.head, []);
  stacks.sort((a, b) => b.bytes - a.bytes);
  const total = stacks.reduce((sum, s) => sum + s.bytes, 0);
  const lines = [`total ${(total / 2 ** 20).toFixed(1)} MiB`];
  for (const s of stacks.slice(0, 60))
    lines.push(`${(s.bytes / 2 ** 20).toFixed(2)} MiB\n    ${s.stack.slice(-9).reverse().join('\n    ')}`);
  fs.writeFileSync(file, lines.join('\n') + '\n');
}
