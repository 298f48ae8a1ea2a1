/**
 * Starts tasks in arrival order, a few milliseconds' worth at a time, yielding to the event loop in
 * between, and only while `ready()` says the work downstream can take more. A burst of thousands of
 * messages (a split node, a broadcast) would otherwise prepare every request at once: answers would
 * wait to be read behind the preparing, and every prepared request would sit in memory. Waiting
 * tasks are a closure each; call `wake()` when downstream has room again. A task is called once:
 * with `cancelled` false when it runs, or true when the intake closed before its turn.
 */
export class SlicedIntake {
  /** Tasks in arrival order from `head` on; run ones are cleared, and the array is cut when half is spent. */
  private waiting: Array<((cancelled: boolean) => void) | undefined> = [];
  private head = 0;
  private scheduled = false;
  private closed = false;

  constructor(private readonly ready: () => boolean = () => true, private readonly sliceMs = 4) {}

  /** How many tasks wait for their turn. */
  get size(): number {
    return this.waiting.length - this.head;
  }

  run(task: (cancelled: boolean) => void): void {
    if (this.closed) return task(true);
    this.waiting.push(task);
    this.wake();
  }

  wake(): void {
    if (this.scheduled || this.closed || this.head === this.waiting.length) return;
    this.scheduled = true;
    setImmediate(() => this.drain());
  }

  /** Runs nothing more: every waiting task, and any that arrives later, is called as cancelled, in order. */
  close(): void {
    this.closed = true;
    const waiting = this.waiting;
    const from = this.head;
    this.waiting = [];
    this.head = 0;
    for (let i = from; i < waiting.length; i++) waiting[i]!(true);
  }

  private drain(): void {
    this.scheduled = false;
    const until = performance.now() + this.sliceMs;
    let ran = 0;
    while (!this.closed && this.head < this.waiting.length && this.ready() && (ran === 0 || performance.now() < until)) {
      const task = this.waiting[this.head]!;
      this.waiting[this.head++] = undefined;
      ran++;
      task(false);
    }
    // Cutting the front off a long array copies the rest: done once half of it is spent, not per slice.
    if (this.head === this.waiting.length) {
      this.waiting = [];
      this.head = 0;
    } else if (this.head >= 1024 && this.head * 2 >= this.waiting.length) {
      this.waiting = this.waiting.slice(this.head);
      this.head = 0;
    }
    if (ran > 0) this.wake(); // more to do; when not ready, the next wake() comes from downstream
  }
}
