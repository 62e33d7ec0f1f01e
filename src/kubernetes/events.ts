/** Kubernetes Events about a RedisHA (failovers, repairs, rejected specs), as `kubectl describe` shows them. */
import type { KubeClient } from './client.ts';
import { collectionPath, typeOfKind } from './resources.ts';
import type { RedisHAResource } from './reconcile.ts';

export const EVENT_SOURCE = 'redis-ha-operator';

export type EventType = 'Normal' | 'Warning';

export interface EventRecorder {
  /** Fire and forget: an Event that cannot be written is logged, never fatal. */
  record(cr: RedisHAResource, type: EventType, reason: string, message: string): void;
}

/** Writes core/v1 Events; `identity` names the operator instance (the pod). */
export function eventRecorder(client: KubeClient, identity: string, log: (line: string) => void): EventRecorder {
  return {
    record(cr, type, reason, message) {
      const now = new Date().toISOString();
      const namespace = cr.metadata.namespace ?? 'default';
      const body = {
        apiVersion: 'v1',
        kind: 'Event',
        metadata: { generateName: `${cr.metadata.name}.`, namespace },
        involvedObject: { apiVersion: cr.apiVersion, kind: cr.kind, name: cr.metadata.name, namespace, uid: cr.metadata.uid },
        type,
        reason,
        message: message.slice(0, 1000),
        source: { component: EVENT_SOURCE },
        reportingComponent: `redis-ha.io/${EVENT_SOURCE}`,
        reportingInstance: identity,
        firstTimestamp: now,
        lastTimestamp: now,
        count: 1,
      };
      client.request('POST', collectionPath(typeOfKind('Event'), namespace), { body }).catch((err) => log(`could not record Event ${reason} on ${namespace}/${cr.metadata.name}: ${(err as Error).message}`));
    },
  };
}
