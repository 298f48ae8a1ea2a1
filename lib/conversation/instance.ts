/**
 * This process's instance id (lib/state/instance.ts: one per Node-RED process, new at each start),
 * named on the shared engine's per-instance channels (a reply forwarded to the instance that holds
 * its question) and in every record a waiting room holds (the instance lease that owns it).
 */
import { instanceId as processInstanceId } from '../state/instance';

export function instanceId(): string {
  return processInstanceId;
}
