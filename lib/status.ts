/** One status vocabulary for every node: blue while working, green when done, red on failure. */
import type { Node } from 'node-red';

type Translate = (key: string, subs?: Record<string, string | number>) => string;

export class NodeStatus {
  constructor(private readonly node: Node, private readonly t: Translate) {}

  working(key: string, subs?: Record<string, string | number>): void {
    this.node.status({ fill: 'blue', shape: 'dot', text: this.t(key, subs) });
  }

  success(key: string, subs?: Record<string, string | number>): void {
    this.node.status({ fill: 'green', shape: 'dot', text: this.t(key, subs) });
  }

  warning(key: string, subs?: Record<string, string | number>): void {
    this.node.status({ fill: 'yellow', shape: 'ring', text: this.t(key, subs) });
  }

  failed(key: string, subs?: Record<string, string | number>): void {
    this.node.status({ fill: 'red', shape: 'ring', text: this.t(key, subs) });
  }

  clear(): void {
    this.node.status({});
  }
}
