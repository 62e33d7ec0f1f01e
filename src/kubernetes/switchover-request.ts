/**
 * A planned switchover asked of the operator (`kubectl redisha failover`): the annotation
 * `redis-ha.io/switchover: "<token> [<target pod>]"` on a RedisHA. The operator, which reaches the pods,
 * runs the switchover (topology/switchover.ts) and answers in `status.switchover` with the same token,
 * and with an Event. A token answered once is not run again; a new request needs a new token.
 */
export const SWITCHOVER_ANNOTATION = 'redis-ha.io/switchover';

export interface SwitchoverRequest {
  readonly token: string;
  readonly to?: string;
}

export interface SwitchoverAnswer {
  request: string;
  time: string;
  result: 'Succeeded' | 'Failed';
  message: string;
  from?: string;
  to?: string;
}

/** The pending request on a resource: none when absent, malformed, or answered already. */
export function pendingSwitchover(annotations: Record<string, string> | undefined, answered: string | undefined): SwitchoverRequest | undefined {
  const raw = annotations?.[SWITCHOVER_ANNOTATION]?.trim();
  if (!raw) return undefined;
  const [token, to, ...extra] = raw.split(/\s+/);
  if (!token || extra.length || !/^[A-Za-z0-9._-]{1,64}$/.test(token) || token === answered) return undefined;
  return to ? { token, to } : { token };
}
