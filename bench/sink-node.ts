/**
 * Where a bench flow ends: a node that counts the msgs it receives and drops them. The test helper's
 * own `helper` node is wrapped in its spies while the flow is deployed; a sink of its own keeps the
 * figures about the node measured, not about the test helper.
 */
import type { Node, NodeAPI, NodeDef } from 'node-red';

/** Each sink's count, read by the bench through `onReceived`. */
export type SinkNode = Node & { onReceived?: () => void };

module.exports = function registerBenchSink(RED: NodeAPI): void {
  function BenchSink(this: SinkNode, def: NodeDef): void {
    RED.nodes.createNode(this, def);
    this.on('input', (_msg, _send, done) => {
      this.onReceived?.();
      done();
    });
  }
  RED.nodes.registerType('bench-sink', BenchSink);
};
