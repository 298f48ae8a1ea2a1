/**
 * The simulator in a process of its own, as Twilio is a server of its own: the benchmarks measure the
 * nodes' process, not one shared with the server that answers them (its CPU and its records).
 */
import { spawn, ChildProcess } from 'node:child_process';
import path from 'node:path';

interface SimulatorStats {
  tooManyRequests: number;
}

export class SimulatorProcess {
  private constructor(
    readonly url: string,
    private readonly child: ChildProcess,
  ) {}

  static async start(options: { latencyMs?: number; maxConcurrent?: number } = {}): Promise<SimulatorProcess> {
    const cli = path.resolve(__dirname, '..', 'simulator', 'cli.js');
    const child = spawn(
      process.execPath,
      [
        '--expose-gc',
        cli,
        '--port',
        '0',
        '--latency',
        String(options.latencyMs ?? 0),
        '--max-concurrent',
        String(options.maxConcurrent ?? 0),
      ],
      {
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    const url = await new Promise<string>((resolve, reject) => {
      let out = '';
      child.stdout!.on('data', (chunk: Buffer) => {
        out += chunk.toString('utf8');
        const found = /on (http:\/\/127\.0\.0\.1:\d+)/.exec(out);
        if (found) resolve(found[1]);
      });
      child.once('exit', (code) => reject(new Error(`simulator exited (${code}) before it listened`)));
    });
    return new SimulatorProcess(url, child);
  }

  /** One of the simulator's control endpoints (/_sim/…): its records, inbound texts, settings. */
  async control<T>(method: 'GET' | 'POST', route: string, body?: object): Promise<T> {
    const response = await fetch(`${this.url}/_sim/${route}`, { method, body: body && JSON.stringify(body) });
    if (!response.ok) throw new Error(`simulator ${route}: ${response.status}`);
    return (await response.json()) as T;
  }

  /** Messages the simulator accepted with this body: how many recipients got one, and how many got more. */
  async delivered(body: string): Promise<{ delivered: number; duplicated: number }> {
    const messages = await this.control<Array<{ to: string; body: string }>>('GET', 'messages');
    const to = messages.filter((m) => m.body === body).map((m) => m.to);
    return { delivered: new Set(to).size, duplicated: to.length - new Set(to).size };
  }

  stats(): Promise<SimulatorStats> {
    return this.control<SimulatorStats>('GET', 'stats');
  }

  /** Forgets every record and collects the garbage, so each run starts from the same simulator. */
  async reset(): Promise<void> {
    await this.control('POST', 'reset');
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null) return;
    const exited = new Promise((resolve) => this.child.once('exit', resolve));
    this.child.kill('SIGTERM');
    await exited;
  }
}
