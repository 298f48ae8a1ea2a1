/** One status vocabulary for every node: blue while working, green when done, red on failure. */
import type { Node, NodeAPI } from 'node-red';
import type { TwilioNodeError } from '../core/errors';
import type { Translate } from '../core/texts';

export class NodeStatus {
  private readonly templates = new Map<string, string>();

  /** `translate` is the node's RED._, also for the error texts reported with a status. */
  constructor(
    private readonly node: Node,
    readonly translate: Translate,
  ) {}

  working(key: string, subs?: Record<string, string | number>): void {
    this.node.status({ fill: 'blue', shape: 'dot', text: this.text(key, subs) });
  }

  success(key: string, subs?: Record<string, string | number>): void {
    this.node.status({ fill: 'green', shape: 'dot', text: this.text(key, subs) });
  }

  warning(key: string, subs?: Record<string, string | number>): void {
    this.node.status({ fill: 'yellow', shape: 'ring', text: this.text(key, subs) });
  }

  failed(key: string, subs?: Record<string, string | number>): void {
    this.node.status({ fill: 'red', shape: 'ring', text: this.text(key, subs) });
  }

  /** A failure, short enough for a status line: Twilio's number when it gave one, else our code. */
  failedWith(error: TwilioNodeError): void {
    this.failed('twilio.status.failed', { code: error.twilioCode ?? error.code });
  }

  /**
   * A status without values goes out as its message key: the editor translates keys itself, in each
   * viewer's language, and the runtime skips a translation per message (a tenth of a webhook's cost).
   */
  private text(key: string, subs?: Record<string, string | number>): string {
    if (!subs) return key;
    // With values (counts, codes): translated once per key into a template, filled in per message.
    const names = Object.keys(subs);
    const cacheKey = `${key}\u0000${names.join(',')}`;
    let template = this.templates.get(cacheKey);
    if (template === undefined) {
      template = this.translate(key, Object.fromEntries(names.map((name) => [name, `\u0001${name}\u0001`])));
      this.templates.set(cacheKey, template);
    }
    // \u0001 marks where a value goes: a character no translation contains.
    // eslint-disable-next-line no-control-regex
    return template.replace(/\u0001(\w+)\u0001/g, (_, name: string) => String(subs[name]));
  }

  clear(): void {
    this.node.status({});
  }
}

/** The one way a node makes its status: in the runtime's language, through RED._. */
export function nodeStatus(RED: NodeAPI, node: Node): NodeStatus {
  return new NodeStatus(node, (key, subs) => RED._(key, subs));
}

/**
 * While a node has messages waiting on its account's queue, its status says how many wait and how
 * many retry. One watcher per node (not per message: a burst of 50,000 would make each queue change
 * call 50,000 listeners); `busy` says whether this node has work in the queue. Returns the unsubscribe.
 */
export function showQueue(
  status: NodeStatus,
  queue: { onChange(listener: (state: { queued: number; retrying: number }) => void): () => void },
  busy: () => boolean,
): () => void {
  let last = 0;
  return queue.onChange((state) => {
    if ((state.queued === 0 && state.retrying === 0) || !busy()) return;
    const now = Date.now();
    if (now - last < 250) return;
    last = now;
    status.working('twilio.status.queued', { queued: state.queued, retrying: state.retrying });
  });
}
