/**
 * twilio-reply: answers the Twilio webhook that a twilio-in node received (in "reply from the flow"
 * mode) with TwiML built from the node's settings, or with raw TwiML from msg.payload.
 */
import { upgradeConfig } from '../../lib/node-red/config-version';
import type { Response } from 'express';
import type { Node, NodeAPI, NodeDef, NodeMessageInFlow } from 'node-red';
import { TwilioNodeError } from '../../lib/core/errors';
import { isOwnText, typedFieldsReader } from '../../lib/node-red/typed-fields';
import { nodeStatus } from '../../lib/node-red/status';
import { NodeInput } from '../../lib/outbound/input';
import { REPLY_ACTIONS, ReplyAction, ReplyFields, buildTwiml } from '../../lib/twilio/twiml';

interface TwilioReplyDef extends NodeDef {
  action: ReplyAction;
  [field: string]: unknown;
}

/** The typed-input fields each reply reads. */
const FIELDS_BY_ACTION: Record<ReplyAction, ReadonlyArray<keyof ReplyFields>> = {
  message: ['text', 'mediaUrl', 'metadata'],
  say: ['text', 'voice', 'language', 'loop', 'metadata'],
  play: ['url', 'loop'],
  gather: ['input', 'url', 'numDigits', 'timeout', 'text', 'voice', 'language', 'metadata'],
  dial: ['number', 'callerId', 'timeout'],
  redirect: ['url'],
  hangup: [],
  reject: ['reason'],
  raw: [],
  empty: [],
};

module.exports = function registerTwilioReply(RED: NodeAPI): void {
  function TwilioReply(this: Node, def: TwilioReplyDef): void {
    RED.nodes.createNode(this, def);
    def = upgradeConfig('twilio-reply', def);
    const node = this;
    const status = nodeStatus(RED, node);
    const action: ReplyAction = REPLY_ACTIONS.includes(def.action) ? def.action : 'message';
    const readFields = typedFieldsReader(RED, node, def, FIELDS_BY_ACTION[action]);
    // Only the node's own Text is a template: an echo of msg.payload.Body is sent as the stranger wrote it.
    const textIsTemplate = isOwnText(def, 'text');

    const input = new NodeInput<NodeMessageInFlow>(node, status);

    node.on('input', (msg, send, done) =>
      input.take(send, done, async () => {
        const res = (msg as { res?: { _res?: Response } }).res?._res;
        if (!res || typeof res.status !== 'function') throw new TwilioNodeError('MISSING_INPUT', RED._('twilio-reply.errors.noRequest'));
        if (res.headersSent) throw new TwilioNodeError('INVALID_INPUT', RED._('twilio-reply.errors.answered'));
        const fields = (await readFields(msg)) as ReplyFields;
        const twiml = buildTwiml(action, fields, msg, msg.payload, textIsTemplate);
        res.status(200).type('text/xml').send(twiml);
        status.success('twilio-reply.status.replied', { action });
      }),
    );
    node.on('close', (_removed: boolean, done: () => void) => void input.close().then(done));
  }

  RED.nodes.registerType('twilio-reply', TwilioReply);
};
