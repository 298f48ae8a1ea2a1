/** Opens the state engine a deployment chose: embedded (the default), redis or context. */
import type { ConnectionOptions } from 'node:tls';
import type { Clock } from '../core/clock';
import type { KeyValueStore } from '../node-red/context';
import { ContextStateEngine } from './context-store';
import { EmbeddedStateEngine } from './embedded';
import type { StateEngine } from './engine';
import { RedisStateEngine } from './redis';

export type EngineConfig =
  | { backend: 'embedded'; dir: string }
  | { backend: 'redis'; url: string; password?: string; tls?: ConnectionOptions; prefix?: string; onError?: (err: Error) => void }
  | { backend: 'context'; store: KeyValueStore };

export function openStateEngine(config: EngineConfig, clock?: Clock): StateEngine {
  switch (config.backend) {
    case 'embedded':
      return new EmbeddedStateEngine({ ...config, clock });
    case 'redis':
      return new RedisStateEngine({ ...config, clock });
    case 'context':
      return new ContextStateEngine({ ...config, clock });
  }
}
