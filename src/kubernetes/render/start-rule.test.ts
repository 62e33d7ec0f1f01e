// The pods' start rule in sh (scripts.ts: start_role, start_master) against the same rule in TypeScript
// (src/topology/start.ts), on shared cases: whom a starting Redis pod follows and which master a
// starting Sentinel monitors, from what the Sentinels and the peers answer.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { resolveSpec } from '../../spec/index.ts';
import { startMaster, startRole, type StartRole } from '../../topology/start.ts';
import { failoverObjection } from '../../topology/agreement.ts';
import { scriptPrelude } from './scripts.ts';

const spec = resolveSpec({ name: 't', replicas: 2, sentinels: 3 }, { generateSecret: () => 'p'.repeat(32) });
const host = (pod: string) => `${pod}.t-headless.ns.svc`;
const [R0, R1, R2] = ['t-redis-0', 't-redis-1', 't-redis-2'].map(host) as [string, string, string];

interface Case {
  readonly what: string;
  /** The pod that starts. */
  readonly pod: string;
  /** What t-sentinel-0..2 answer (undefined: no answer). */
  readonly sentinels: readonly (string | undefined)[];
  /** The Redis pods that report role master. */
  readonly masters: readonly string[];
  readonly role: StartRole;
}

const CASES: Case[] = [
  { what: 'all Sentinels name a peer', pod: 't-redis-1', sentinels: [R2, R2, R2], masters: [R2], role: { kind: 'replicaof', master: R2 } },
  { what: 'two of three name a peer, one another', pod: 't-redis-0', sentinels: [R2, R1, R2], masters: [], role: { kind: 'replicaof', master: R2 } },
  { what: 'one Sentinel answers: no majority, the peer that reports master', pod: 't-redis-0', sentinels: [R2, undefined, undefined], masters: [R1], role: { kind: 'replicaof', master: R1 } },
  { what: 'a split vote: no majority, the first peer that reports master', pod: 't-redis-2', sentinels: [R0, R1, R2], masters: [R0, R1], role: { kind: 'replicaof', master: R0 } },
  { what: 'a majority names the pod itself: fenced', pod: 't-redis-1', sentinels: [R1, R1, undefined], masters: [], role: { kind: 'fence' } },
  { what: 'nothing answers, the first pod: master', pod: 't-redis-0', sentinels: [undefined, undefined, undefined], masters: [], role: { kind: 'master' } },
  { what: 'nothing answers, another pod: the first', pod: 't-redis-2', sentinels: [undefined, undefined, undefined], masters: [], role: { kind: 'replicaof', master: R0 } },
  { what: 'one Sentinel still names the pod itself, no majority, no peer master: fenced', pod: 't-redis-1', sentinels: [R1, undefined, undefined], masters: [], role: { kind: 'fence' } },
  { what: 'one Sentinel names a peer, no majority, no peer master: that peer', pod: 't-redis-0', sentinels: [undefined, R2, undefined], masters: [], role: { kind: 'replicaof', master: R2 } },
];

/** Runs `fn` of the rendered prelude as pod `pod`, with redis-cli replaced by the case's answers. */
function shell(c: Case, pod: string, fn: string): string {
  const sentinelAnswers = c.sentinels.map((a, i) => `  ${host(`t-sentinel-${i}`)}) ${a === undefined ? 'return 1' : `echo ${a}`} ;;`).join('\n');
  const roles = c.masters.map((m) => `  ${m}) echo master ;;`).join('\n');
  const script = `${scriptPrelude(spec)}
ask_sentinel() { case "$1" in
${sentinelAnswers}
  *) return 1 ;;
esac; }
ask_redis() { case "$1" in
${roles}
  *) echo slave ;;
esac; }
${fn}
`;
  return execFileSync('sh', ['-c', script], { env: { PATH: process.env.PATH, POD_NAME: pod, POD_NAMESPACE: 'ns' }, encoding: 'utf8' }).trim();
}

const asShell = (r: StartRole) => (r.kind === 'replicaof' ? `replicaof ${r.master}` : r.kind);

describe('the start rule: the pods\' sh and src/topology/start.ts agree on every case', () => {
  for (const c of CASES) {
    it(`${c.what}: ${asShell(c.role)}`, () => {
      const view = { me: host(c.pod), first: R0, replicas: spec.replicas, sentinels: spec.sentinels, sentinelAnswers: c.sentinels, peerMasters: c.masters.filter((m) => m !== host(c.pod)) };
      assert.deepEqual(startRole(view), c.role);
      assert.equal(shell(c, c.pod, 'start_role'), asShell(c.role));
      // A Sentinel starting (t-sentinel-0 does not ask itself) monitors the same rule's master.
      const sentinelView = { first: R0, sentinels: spec.sentinels, sentinelAnswers: [undefined, ...c.sentinels.slice(1)], peerMasters: c.masters };
      assert.equal(shell(c, 't-sentinel-0', 'start_master'), startMaster(sentinelView));
    });
  }
});

// The preStop hook's check before it asks Sentinel for a failover (scripts.ts failover_objection)
// against failoverObjection (src/topology/agreement.ts), which the controller applies too.
interface ObjectionCase {
  readonly what: string;
  /** What t-sentinel-0..2 answer to SENTINEL MASTER: the master they name, their flags and epoch; an error reply as a string; undefined: no answer. */
  readonly sentinels: readonly ({ master: string; flags: string; epoch: number } | string | undefined)[];
  readonly objection?: string;
}

const ME = `${R0}:6379`;
const S = (i: number) => `${host(`t-sentinel-${i}`)}:26379`;
const OBJECTION_CASES: ObjectionCase[] = [
  { what: 'every Sentinel names the pod, none busy', sentinels: [0, 1, 2].map(() => ({ master: ME, flags: 'master', epoch: 3 })) },
  { what: 'a Sentinel does not answer, the others agree', sentinels: [undefined, { master: ME, flags: 'master', epoch: 3 }, { master: ME, flags: 'master', epoch: 3 }] },
  { what: 'a Sentinel answers an error (no such master): no answer', sentinels: ['ERR No such master with that name', { master: ME, flags: 'master', epoch: 3 }, { master: ME, flags: 'master', epoch: 3 }] },
  { what: 'a Sentinel names another master under the same epoch (the pod is a stray)', sentinels: [{ master: ME, flags: 'master', epoch: 3 }, { master: `${R1}:6379`, flags: 'master', epoch: 3 }, undefined],
    objection: `Sentinel ${S(1)} already names ${R1}:6379, not ${ME}` },
  { what: 'a stale Sentinel names another master under an older epoch: no objection', sentinels: [{ master: ME, flags: 'master', epoch: 3 }, { master: `${R1}:6379`, flags: 'master', epoch: 0 }, { master: ME, flags: 'master', epoch: 3 }] },
  { what: 'every Sentinel names another master', sentinels: [{ master: `${R2}:6379`, flags: 'master', epoch: 4 }, undefined, undefined],
    objection: `Sentinel ${S(0)} already names ${R2}:6379, not ${ME}` },
  { what: 'a Sentinel is failing over', sentinels: [{ master: ME, flags: 'master', epoch: 3 }, { master: ME, flags: 'master', epoch: 3 }, { master: ME, flags: 'master,s_down,o_down,failover_in_progress', epoch: 3 }],
    objection: `Sentinel ${S(2)} is already failing over ${ME}` },
  { what: 'a Sentinel sees the pod objectively down', sentinels: [{ master: ME, flags: 'master,s_down,o_down', epoch: 3 }, { master: ME, flags: 'master', epoch: 3 }, undefined],
    objection: `Sentinel ${S(0)} already sees ${ME} objectively down; its own failover follows` },
  { what: 'subjectively down only: no objection', sentinels: [{ master: ME, flags: 'master,s_down', epoch: 3 }, { master: ME, flags: 'master', epoch: 3 }, { master: ME, flags: 'master', epoch: 3 }] },
];

/** failover_objection of the rendered prelude as t-redis-0, with redis-cli replaced by the case's answers. */
function objectionInShell(c: ObjectionCase): string {
  const raw = (v: { master: string; flags: string; epoch: number } | string) => {
    // redis-cli --raw prints an error reply as its text and exits 0.
    if (typeof v === 'string') return v;
    const [ip, port] = [v.master.slice(0, v.master.lastIndexOf(':')), v.master.slice(v.master.lastIndexOf(':') + 1)];
    return ['name', 'redis-ha-t', 'ip', ip, 'port', port, 'runid', 'x', 'flags', v.flags, 'config-epoch', String(v.epoch)].join('\\n');
  };
  const answers = c.sentinels.map((v, i) => `  ${host(`t-sentinel-${i}`)}) ${v === undefined ? 'return 1' : `printf '${raw(v)}\\n'`} ;;`).join('\n');
  const script = `${scriptPrelude(spec)}
ask_sentinel() { case "$1" in
${answers}
  *) return 1 ;;
esac; }
failover_objection
`;
  return execFileSync('sh', ['-c', script], { env: { PATH: process.env.PATH, POD_NAME: 't-redis-0', POD_NAMESPACE: 'ns' }, encoding: 'utf8' }).trim();
}

describe('the check before a failover request: the preStop hook\'s sh and failoverObjection agree on every case', () => {
  for (const c of OBJECTION_CASES) {
    it(`${c.what}: ${c.objection ?? 'ask'}`, () => {
      // An error reply is no answer on both sides (act.ts drops a Sentinel whose SENTINEL MASTER fails).
      const views = c.sentinels.flatMap((v, i) => (v && typeof v !== 'string' ? [{ sentinel: S(i), master: v.master, epoch: v.epoch, flags: new Set(v.flags.split(',')) }] : []));
      assert.equal(failoverObjection(views, ME), c.objection);
      assert.equal(objectionInShell(c), c.objection ?? '');
    });
  }
});
