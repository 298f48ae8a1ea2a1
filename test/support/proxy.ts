/**
 * Proxies for the tests, each on 127.0.0.1 at a free port.
 *
 * A tiny round-robin HTTP proxy, as a load balancer without sticky sessions spreads requests over
 * several Node-RED instances (FlowFuse's HA mode): each request goes to the next live target in
 * turn; one that refuses the connection (a killed instance) is skipped.
 * The Host header is kept as the client sent it (a webhook's signature covers the URL it was sent to).
 *
 * Pass-through proxies in front of the simulator (one target): one that holds the looks at Twilio's
 * clock (Twilio slow), one that counts them, one that makes the answers' headers (a stale cache, a
 * proxy that strips the Date header).
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before } from 'node:test';
import { CREDENTIALS, recorderSettings } from './flows';
import { type RedProcess, startRed } from './red-process';

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

/** A pass-through proxy in front of one target (the simulator), on 127.0.0.1 at a free port. */
export interface PassThrough {
  url: string;
  close(): Promise<void>;
}

/**
 * A pass-through proxy to `target`: `onRequest` sees each request first (false: never answered, as
 * Twilio slow: the socket dies with the proxy); `headers`, when given, makes the answer's headers
 * (from a copy of the target's; no Date of the proxy's own is added).
 */
export async function passThrough(
  target: string,
  opts: {
    onRequest?: (req: http.IncomingMessage) => boolean | void;
    headers?: (req: http.IncomingMessage, headers: http.IncomingHttpHeaders) => http.IncomingHttpHeaders;
  } = {},
): Promise<PassThrough> {
  const to = new URL(target);
  const server = http.createServer((req, res) => {
    if (opts.onRequest?.(req) === false) return;
    if (opts.headers) res.sendDate = false;
    const upstream = http.request(
      { host: to.hostname, port: to.port, method: req.method, path: req.url, headers: { ...req.headers, host: to.host } },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, opts.headers ? opts.headers(req, { ...answer.headers }) : answer.headers);
        answer.pipe(res);
      },
    );
    upstream.on('error', () => res.destroy());
    req.pipe(upstream);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** A look at Twilio's clock: a GET of the account's record. */
export const isLook = (req: http.IncomingMessage) =>
  req.method === 'GET' && /^\/2010-04-01\/Accounts\/AC[0-9a-f]+\.json/.test(req.url ?? '');

/** A pass-through proxy that counts the looks (GET of the account's record) as they arrive. */
export async function lookCounter(target: string): Promise<PassThrough & { looks: () => number }> {
  let looks = 0;
  const proxy = await passThrough(target, { onRequest: (req) => void (isLook(req) && looks++) });
  return { ...proxy, looks: () => looks };
}

/** A pass-through proxy that holds every look while `holding`; counts looks and creates (POSTs whose path `creates` matches), logs each request. */
export interface HoldingProxy {
  holding: boolean;
  looks: number;
  creates: number;
  /** Each request: "<ms> <method> <the path's end>". */
  log: string[];
  url: string;
  start(target: string): Promise<void>;
  close(): Promise<void>;
}

export function holdingProxy(creates: RegExp = /\/Messages\.json/): HoldingProxy {
  let running: PassThrough | undefined;
  const state: HoldingProxy = {
    holding: true,
    looks: 0,
    creates: 0,
    log: [],
    url: '',
    start: async (target) => {
      running = await passThrough(target, {
        onRequest: (req) => {
          const look = isLook(req);
          if (look) state.looks++;
          state.log.push(`${Date.now() % 100_000} ${req.method} ${(req.url ?? '').split('?')[0].slice(-40)}`);
          if (req.method === 'POST' && creates.test(req.url ?? '')) state.creates++;
          return !(look && state.holding);
        },
      });
      state.url = running.url;
    },
    close: async () => running?.close(),
  };
  return state;
}

/**
 * For a test file of red.js processes calling `simulator` through a holding proxy: the simulator and
 * the proxy started before its tests; after them, every red.js in `reds` stopped, the proxy closed,
 * the simulator stopped. `start(flows)` starts one (with the recorders' settings) and adds it to `reds`.
 */
export function behindHoldingProxy(
  simulator: { start(): Promise<unknown>; stop(): Promise<unknown>; url: string },
  creates?: RegExp,
): { proxy: HoldingProxy; reds: RedProcess[]; start(flows: object[]): Promise<RedProcess> } {
  const proxy = holdingProxy(creates);
  const reds: RedProcess[] = [];
  before(async () => {
    await simulator.start();
    await proxy.start(simulator.url);
  });
  after(async () => {
    for (const red of reds) await red.stop();
    await proxy.close();
    await simulator.stop();
  });
  const start = async (flows: object[]) => {
    const red = await startRed(flows, CREDENTIALS, recorderSettings());
    reds.push(red);
    return red;
  };
  return { proxy, reds, start };
}
