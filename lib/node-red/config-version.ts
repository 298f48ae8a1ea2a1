/**
 * Every node's config carries a `configVersion`, so a changed config has a way forward: a flow saved
 * by an older release is brought up to date, one step per version, when its node starts (and in the
 * editor when its dialog opens, by the same steps in twilio-editor.js). A config without a version
 * was saved before versions existed: version 0.
 */

/** A step from one version to the next: it rewrites the config it is given. */
type ConfigMigration = (config: Record<string, unknown>) => void;

/**
 * The steps of each node type: the i-th takes version i to version i + 1, so a type's current
 * version is the number of its steps. Version 1 is the first that carries the field: from 0 nothing
 * changes. A release that changes a config appends a step here (and the same in the editor).
 */
export const MIGRATIONS: Readonly<Record<string, readonly ConfigMigration[]>> = {
  'twilio-config': [() => undefined],
  'twilio-send': [() => undefined, toStateEngine],
  'twilio-get': [() => undefined],
  'twilio-query': [() => undefined],
  'twilio-update': [() => undefined],
  'twilio-delete': [() => undefined],
  'twilio-in': [() => undefined, toStateEngine],
  'twilio-reply': [() => undefined],
  'twilio-request': [() => undefined],
  'twilio-ask': [() => undefined, toStateEngine],
  'twilio-page': [() => undefined, toStateEngine],
  'twilio-verify': [() => undefined],
};

/**
 * 1 → 2: the node's state moves from a Node-RED context store (`contextStore`: '' the default one)
 * to the account's state engine (`stateIn: ''`); `stateMovedFrom` tells the node where to move what
 * the context still holds, once, when it starts (lib/account/node-state.ts).
 */
function toStateEngine(config: Record<string, unknown>): void {
  if (typeof config.stateIn !== 'string') {
    config.stateMovedFrom = typeof config.contextStore === 'string' ? config.contextStore : '';
    config.stateIn = '';
  }
  delete config.contextStore;
}

export function currentConfigVersion(type: string, migrations = MIGRATIONS): number {
  return migrations[type]?.length ?? 0;
}

/**
 * The config brought up to the current version of its type (a copy: Node-RED's own stays as it
 * was deployed). A config from a newer release than this one is left as it is.
 */
export function upgradeConfig<C extends object>(type: string, config: C, migrations = MIGRATIONS): C & { configVersion: number } {
  const steps = migrations[type] ?? [];
  const upgraded = { ...config } as Record<string, unknown>;
  const from = Number.isInteger(upgraded.configVersion) ? (upgraded.configVersion as number) : 0;
  for (let version = from; version < steps.length; version++) steps[version](upgraded);
  upgraded.configVersion = Math.max(from, steps.length);
  return upgraded as C & { configVersion: number };
}
