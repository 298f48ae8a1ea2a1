/** One status vocabulary for every node: blue while working, green when done, red on failure. */
import type { Node, NodeAPI } from 'node-red';
import type { TwilioNodeError } from '../core/errors';
import type { Translate } from '../core/texts';
import { logFailuresAsSentences } from './failure-log';

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

  /**
   * A failure, short enough for a status line: a few words of why beside Twilio's number when it
   * gave one, else our code ("no recipient (MISSING_INPUT)"). The words come from
   * `twilio.status.reasons.<text>` for the error's own text (its values filled in), else
   * `twilio.status.reasons.<code>`; with neither, the code alone.
   */
  failedWith(error: TwilioNodeError): void {
    const code = error.twilioCode ?? error.code;
    const reason = this.reason(error);
    if (reason === undefined) this.failed('twilio.status.failed', { code });
    else this.failed('twilio.status.failedBecause', { reason, code });
  }

  private reason(error: TwilioNodeError): string | undefined {
    if (error.text) {
      const name = error.text.key.slice(error.text.key.lastIndexOf('.') + 1);
      const values = Object.entries(error.text.subs).filter(([, v]) => typeof v === 'string' || typeof v === 'number');
      const reason = this.translated(`twilio.status.reasons.${name}`, Object.fromEntries(values) as Record<string, string | number>);
      if (reason !== undefined) return reason;
    }
    return this.translated(`twilio.status.reasons.${error.code}`, {});
  }

  /** A text with values filled in, or undefined when the catalogue has no such key. */
  private translated(key: string, subs: Record<string, string | number>): string | undefined {
    const names = Object.keys(subs);
    const template = this.template(key, names);
    return template === undefined ? undefined : fill(template, subs);
  }

  /**
   * A status without values goes out as its message key: the editor translates keys itself, in each
   * viewer's language, and the runtime skips a translation per message (a tenth of a webhook's cost).
   */
  private text(key: string, subs?: Record<string, string | number>): string {
    if (!subs) return key;
    // With values (counts, codes): translated once per key into a template, filled in per message.
    const names = Object.keys(subs);
    // A count other than 1 takes the key's plural form (`<key>_plural`, as Node-RED core names it) where it has one.
    const plural = typeof subs.count === 'number' && subs.count !== 1 ? this.template(`${key}_plural`, names) : undefined;
    return fill(plural ?? this.template(key, names) ?? key, subs);
  }

  /** The key's translation with a marker where each value goes, once per key; undefined when the catalogue lacks the key. */
  private template(key: string, names: string[]): string | undefined {
    const cacheKey = `${key}\u0000${names.join(',')}`;
    let template = this.templates.get(cacheKey);
    if (template === undefined) {
      template = this.translate(key, Object.fromEntries(names.map((name) => [name, `\u0001${name}\u0001`])));
      this.templates.set(cacheKey, template);
    }
    // RED._ gives the key back (without its namespace) when it has no translation.
    return template === key || key.endsWith(`.${template}`) || key.endsWith(`:${template}`) ? undefined : template;
  }

  clear(): void {
    this.node.status({});
  }
}

/** Puts values where a template marks them: \u0001 marks where a value goes, a character no translation contains. */
function fill(template: string, subs: Record<string, string | number>): string {
  // eslint-disable-next-line no-control-regex
  return template.replace(/\u0001(\w+)\u0001/g, (_, name: string) => String(subs[name]));
}

/**
 * The one way a node makes its status: in the runtime's language, through RED._. A failure shows in
 * the status and in the log: the node's errors that no Catch node takes are logged as sentences.
 */
export function nodeStatus(RED: NodeAPI, node: Node): NodeStatus {
  logFailuresAsSentences(node);
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
