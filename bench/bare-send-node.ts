/**
 * The least a Node-RED node can do to send a message with the SDK: create it, put the result in
 * msg.payload, pass the msg on, at most `concurrency` at a time. No queue, no checks, no templates.
 * Benchmark a. runs it beside twilio-send to show which part of the gap to the raw SDK is Node-RED's
 * own message passing (this node pays it too) and which is twilio-send's.
 */
import type { Node, NodeAPI, NodeDef, NodeMessageInFlow } from 'node-red';
import twilio from 'twilio';
import { RawSdkRequestClient } from '../simulator/raw-sdk-client';

interface BareSendDef extends NodeDef {
  baseUrl: string;
  accountSid: string;
  keySid: string;
  keySecret: string;
  from: string;
  body: string;
  concurrency: number;
}

type Waiting = [NodeMessageInFlow & { to?: string }, (msg: NodeMessageInFlow) => void, (err?: Error) => void];

module.exports = function registerBareSend(RED: NodeAPI): void {
  function BareSend(this: Node, def: BareSendDef): void {
    RED.nodes.createNode(this, def);
    const requestClient = new RawSdkRequestClient(def.baseUrl);
    const client = twilio(def.keySid, def.keySecret, { accountSid: def.accountSid, httpClient: requestClient, env: {} });
    const waiting: Waiting[] = [];
    let active = 0;
    const start = ([msg, send, done]: Waiting) => {
      active++;
      client.messages
        .create({ to: msg.to!, from: def.from, body: def.body })
        .then((message) => {
          msg.payload = message.toJSON();
          send(msg);
          done();
        }, done)
        .finally(() => {
          active--;
          if (waiting.length > 0) start(waiting.shift()!);
        });
    };
    this.on('input', (msg, send, done) => {
      if (active < def.concurrency) start([msg, send, done]);
      else waiting.push([msg, send, done]);
    });
    this.on('close', () => requestClient.destroy());
  }
  RED.nodes.registerType('bench-bare-send', BareSend);
};
