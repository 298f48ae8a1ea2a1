/**
 * Context stores for the tests of stored waits (settings.js contextStorage takes a module object): `slow`, a
 * memory store whose every operation answers after `slowStore.delayMs` (a shared store such as
 * redis); `refusing`, a memory store whose writes fail while `refusingStore.refuse` is true.
 */
type Callback = (err?: Error | null, ...values: unknown[]) => void;

class Store {
  data: Record<string, Record<string, unknown>> = {};
  constructor(
    private readonly later: (fn: () => void) => void,
    private readonly refuses: () => boolean,
  ) {}
  open() {
    return Promise.resolve();
  }
  close() {
    return Promise.resolve();
  }
  get(scope: string, key: string, callback: Callback) {
    const value = this.data[scope]?.[key];
    this.later(() => callback(undefined, value));
  }
  set(scope: string, key: string, value: unknown, callback?: Callback) {
    if (this.refuses()) return this.later(() => callback?.(new Error('store refuses writes')));
    this.data[scope] ??= {};
    if (value === undefined) delete this.data[scope][key];
    else this.data[scope][key] = JSON.parse(JSON.stringify(value));
    this.later(() => callback?.(null));
  }
  keys(scope: string, callback: Callback) {
    const keys = Object.keys(this.data[scope] ?? {});
    this.later(() => callback(null, keys));
  }
  delete(scope: string) {
    delete this.data[scope];
    return Promise.resolve();
  }
  clean() {
    return Promise.resolve();
  }
}

export const slowStore = { delayMs: 0, instances: [] as Store[] };
export const refusingStore = { refuse: false, instances: [] as Store[] };

export const slowModule = Object.assign(
  () => {
    const s = new Store(
      (fn) => setTimeout(fn, slowStore.delayMs),
      () => false,
    );
    slowStore.instances.push(s);
    return s;
  },
  { toString: () => 'slow' },
);
export const refusingModule = Object.assign(
  () => {
    const s = new Store(
      (fn) => fn(),
      () => refusingStore.refuse,
    );
    refusingStore.instances.push(s);
    return s;
  },
  { toString: () => 'refusing' },
);

/** The runtime with these stores beside the default memory one: `slow` and `refusing` (call at the top of a test file). */
export function initWithTestStores(helper: { init(path: string, settings: object): void }, nodeRedPath: string): void {
  helper.init(nodeRedPath, {
    contextStorage: { default: { module: 'memory' }, slow: { module: slowModule }, refusing: { module: refusingModule } },
  });
}
