/**
 * The twilio SDK as it is, pointed at a local server the way a user of the raw SDK would: a
 * RequestClient subclass that only rewrites each request's origin, the SDK's own transport (axios),
 * keep-alive sockets as the product's client has. The benchmarks' baseline, and the tests' reference
 * for what the SDK puts on the wire (the product's client, lib/client.ts, sends with its own transport).
 */
import http from 'node:http';
import twilio from 'twilio';
import type RequestClient from 'twilio/lib/base/RequestClient';

export class RawSdkRequestClient extends twilio.RequestClient {
  private readonly base: URL;
  private readonly httpAgent = new http.Agent({ keepAlive: true, maxSockets: 100 });

  constructor(baseUrl: string, opts: { autoRetry?: boolean; maxRetries?: number } = {}) {
    super({ keepAlive: true, maxSockets: 100, ...opts });
    this.base = new URL(baseUrl);
    this.axios.defaults.httpAgent = this.httpAgent;
  }

  override request<TData>(opts: RequestClient.RequestOptions<TData>) {
    const target = new URL(opts.uri);
    return super.request<TData>({ ...opts, uri: `${this.base.origin}${target.pathname}${target.search}` });
  }

  destroy(): void {
    this.httpAgent.destroy();
  }
}
