import dns from 'node:dns';
import type { LookupFunction } from 'node:net';

/**
 * How long an answer is reused after a lookup fails with a temporary error. A DNS blip (CoreDNS
 * restarting or overloaded: `getaddrinfo EAI_AGAIN`) lasts seconds; a pod's address changes only when
 * the pod is replaced, and then its name stops resolving (ENOTFOUND), which is never papered over.
 */
export const STALE_ANSWER_MS = 60_000;

/** getaddrinfo's "try again": the resolver did not answer, which says nothing about the name. */
const TEMPORARY = new Set(['EAI_AGAIN', 'ETIMEOUT', 'ECONNREFUSED', 'ESERVFAIL']);

type Answer = { address: string; family: number } | { address: string; family: number }[];
type Base = (hostname: string, options: dns.LookupOptions, callback: (err: NodeJS.ErrnoException | null, address: string | dns.LookupAddress[], family?: number) => void) => void;

/**
 * A `lookup` for sockets that serves the last good answer for a name, for up to `staleMs`, when the
 * resolver fails with a temporary error. Without it, one DNS blip makes every Sentinel named by a
 * Kubernetes hostname unreachable at once, and the standalone endpoint closes the master route for
 * as long as the blip lasts (seen on the loaded test bed: three Sentinel names, EAI_AGAIN for seconds).
 * Any other failure, and an answer older than `staleMs`, is passed on as it is.
 */
export function staleOnTemporaryFailure(base: Base = dns.lookup as unknown as Base, staleMs = STALE_ANSWER_MS, now = Date.now): LookupFunction {
  const last = new Map<string, { answer: Answer; at: number }>();
  return ((hostname: string, options: dns.LookupOptions, callback: (err: NodeJS.ErrnoException | null, address: string | dns.LookupAddress[], family?: number) => void) => {
    const key = `${hostname}/${options.family ?? 0}/${options.all ? 'all' : 'one'}`;
    base(hostname, options, (err, address, family) => {
      if (!err) {
        last.set(key, { answer: Array.isArray(address) ? address.map((a) => ({ ...a })) : { address, family: family ?? 0 }, at: now() });
        callback(null, address, family);
        return;
      }
      const kept = last.get(key);
      if (!kept || !TEMPORARY.has(err.code ?? '') || now() - kept.at > staleMs) {
        callback(err, options.all ? [] : '', undefined);
        return;
      }
      if (Array.isArray(kept.answer)) callback(null, kept.answer);
      else callback(null, kept.answer.address, kept.answer.family);
    });
  }) as LookupFunction;
}

/** The one lookup every Redis and Sentinel connection redis-ha opens uses (guard.ts). */
export const lookup: LookupFunction = staleOnTemporaryFailure();
