/**
 * A tiny round-robin HTTP proxy on 127.0.0.1 (a free port), as a load balancer without sticky
 * sessions spreads requests over several Node-RED instances (FlowFuse's HA mode): each request goes to
 * the next live target in turn; one that refuses the connection (a killed instance) is skipped.
 * The Host header is kept as the client sent it (a webhook's signature covers the URL it was sent to).
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface RoundRobinProxy {
  url: string;
  /** Where requests go, in turn (the list may change while it runs). */
  targets: string[];
  /** How many requests each target answered. */
  readonly served: Map<string, number>;
  /** Each request answered: where it went. */
  readonly log: Array<{ method: string; path: string; target: string }>;
  close(): Promise<void>;
}

export async function startProxy(targets: string[]): Promise<RoundRobinProxy> {
  let next = 0;
  const served = new Map<string, number>();
  const proxy: RoundRobinProxy = { url: '', targets: [...targets], served, log: [], close: () => Promise.resolve() };

  const forward = (req: http.IncomingMessage, res: http.ServerResponse, body: Buffer, tries: number): void => {
    if (proxy.targets.length === 0 || tries >= proxy.targets.length) {
      res.writeHead(502).end('no instance answered');
      return;
    }
    const target = new URL(proxy.targets[next++ % proxy.targets.length]);
    const upstream = http.request(
      { host: target.hostname, port: target.port, method: req.method, path: req.url, headers: req.headers },
      (answer) => {
        served.set(target.origin, (served.get(target.origin) ?? 0) + 1);
        proxy.log.push({ method: req.method ?? 'GET', path: req.url ?? '', target: target.origin });
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    upstream.on('error', (err: NodeJS.ErrnoException) => {
      // Nothing reached a dead instance: the next one is asked. Anything else is the client's to see.
      if (err.code === 'ECONNREFUSED' && !res.headersSent) forward(req, res, body, tries + 1);
      else if (!res.headersSent) res.writeHead(502).end(err.message);
      else res.destroy();
    });
    upstream.end(body);
  };

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => forward(req, res, Buffer.concat(chunks), 0));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  proxy.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  proxy.close = () =>
    new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
  return proxy;
}
