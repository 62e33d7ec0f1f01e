// The pods' start rule in sh (scripts.ts: start_role, start_master) against the same rule in TypeScript
// (src/topology/start.ts), on shared cases: whom a starting Redis pod follows and which master a
// starting Sentinel monitors, from what the Sentinels and the peers answer.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { resolveSpec } from '../../spec/index.ts';
import { electionStep, entersElection, sentinelWaits, startMaster, startRole, type PeerView, type StartRole } from '../../topology/start.ts';
import { failoverObjection } from '../../topology/agreement.ts';
import { preStopScript, scriptPrelude, startRedisScript, startSentinelScript } from './scripts.ts';

const spec = resolveSpec({ name: 't', replicas: 2, sentinels: 3 }, { generateSecret: () => 'p'.repeat(32) });
const host = (pod: string) => `${pod}.t-headless.ns.svc`;
const [R0, R1, R2] = ['t-redis-0', 't-redis-1', 't-redis-2'].map(host) as [string, string, string];

/** A Redis pod that answers, as its INFO describes it: role master, slave or loading, keys, offset, and the master a slave follows. */
type Peer = readonly ['master' | 'slave' | 'loading', number, number, string?];
const M: Peer = ['master', 0, 0];
const EMPTY: Peer = ['slave', 0, 0];

interface Case {
  readonly what: string;
  /** The pod that starts. */
  readonly pod: string;
  /** What t-sentinel-0..2 answer (undefined: no answer). */
  readonly sentinels: readonly (string | undefined)[];
  /** The Redis pods that answer INFO, and what (the starting pod's own entry is not asked). */
  readonly peers: Readonly<Record<string, Peer>>;
  /** Redis ran in this pod before (start rule 6); false unless set. */
  readonly restarted?: boolean;
  readonly role: StartRole;
}

const CASES: Case[] = [
  { what: 'all Sentinels name a peer', pod: 't-redis-1', sentinels: [R2, R2, R2], peers: { [R2]: M, [R0]: EMPTY }, role: { kind: 'replicaof', master: R2 } },
  { what: 'two of three name a peer, one another', pod: 't-redis-0', sentinels: [R2, R1, R2], peers: {}, role: { kind: 'replicaof', master: R2 } },
  { what: 'one Sentinel answers: no majority, the peer that reports master', pod: 't-redis-0', sentinels: [R2, undefined, undefined], peers: { [R1]: M, [R2]: EMPTY }, role: { kind: 'replicaof', master: R1 } },
  { what: 'a split vote: no majority, of two empty masters the first', pod: 't-redis-2', sentinels: [R0, R1, R2], peers: { [R0]: M, [R1]: M }, role: { kind: 'replicaof', master: R0 } },
  { what: 'two masters: the one with keys before the first', pod: 't-redis-2', sentinels: [], peers: { [R0]: M, [R1]: ['master', 10, 5] }, role: { kind: 'replicaof', master: R1 } },
  { what: 'two masters with keys: the higher offset', pod: 't-redis-0', sentinels: [], peers: { [R1]: ['master', 900, 100], [R2]: ['master', 10, 7000] }, role: { kind: 'replicaof', master: R2 } },
  { what: 'same offset: more keys', pod: 't-redis-0', sentinels: [], peers: { [R1]: ['master', 5, 100], [R2]: ['master', 9, 100] }, role: { kind: 'replicaof', master: R2 } },
  { what: 'a replica with keys before an empty master', pod: 't-redis-0', sentinels: [undefined, undefined, undefined], peers: { [R1]: M, [R2]: ['slave', 40, 300] }, role: { kind: 'replicaof', master: R2 } },
  { what: 'a master before a replica with keys and more offset', pod: 't-redis-0', sentinels: [], peers: { [R1]: ['master', 40, 100], [R2]: ['slave', 40, 300] }, role: { kind: 'replicaof', master: R1 } },
  { what: 'an empty replica is no candidate: the lone Sentinel\'s answer, this pod, and nobody holds data: master', pod: 't-redis-0', sentinels: [undefined, R0, undefined], peers: { [R1]: EMPTY, [R2]: EMPTY }, role: { kind: 'master' } },
  { what: 'the lone Sentinel names this pod, one empty peer answers, the other not: fenced', pod: 't-redis-0', sentinels: [undefined, R0, undefined], peers: { [R1]: EMPTY }, role: { kind: 'fence' } },
  { what: 'a majority names the pod itself, every other pod answers empty: master (nothing to save, and Sentinel may know no replica)', pod: 't-redis-0', sentinels: [R0, R0, R0], peers: { [R1]: EMPTY, [R2]: EMPTY }, restarted: true, role: { kind: 'master' } },
  { what: 'a majority names the pod itself, every other pod answers, one still loading: fenced', pod: 't-redis-0', sentinels: [R0, R0, R0], peers: { [R1]: EMPTY, [R2]: ['loading', 0, 0, R0] }, role: { kind: 'fence' } },
  { what: 'a lone Sentinel names the pod (the others frozen), its replicas with keys follow it: fenced, not following them back in a loop', pod: 't-redis-0', sentinels: [R0, undefined, undefined], peers: { [R1]: ['slave', 40, 300, R0], [R2]: ['slave', 40, 310, R0] }, role: { kind: 'fence' } },
  { what: 'nothing but its own replicas answer, and they hold keys: fenced, never an empty master', pod: 't-redis-0', sentinels: [], peers: { [R1]: ['slave', 40, 300, R0], [R2]: EMPTY }, role: { kind: 'fence' } },
  { what: 'its replicas with keys follow it through a chain (R1 follows R2, which follows the pod): fenced, no longer loop', pod: 't-redis-0', sentinels: [], peers: { [R1]: ['slave', 40, 300, R2], [R2]: ['slave', 40, 310, R0] }, role: { kind: 'fence' } },
  { what: 'the chain back to the pod runs through a peer still loading, which follows the pod too: fenced', pod: 't-redis-0', sentinels: [], peers: { [R1]: ['slave', 40, 300, R2], [R2]: ['loading', 0, 0, R0] }, role: { kind: 'fence' } },
  { what: 'a peer still loading that follows another pod: follow it', pod: 't-redis-0', sentinels: [], peers: { [R1]: EMPTY, [R2]: ['loading', 5, 0, R1] }, role: { kind: 'replicaof', master: R2 } },
  { what: 'two replicas with keys following each other, not the pod: the higher replica offset (slave_repl_offset)', pod: 't-redis-2', sentinels: [], peers: { [R0]: ['slave', 40, 300, R1], [R1]: ['slave', 40, 310, R0] }, role: { kind: 'replicaof', master: R1 } },
  { what: 'a replica with keys that follows another pod: that replica', pod: 't-redis-0', sentinels: [], peers: { [R1]: ['slave', 40, 300, R2] }, role: { kind: 'replicaof', master: R1 } },
  { what: 'a majority names the pod itself: fenced, whoever holds data', pod: 't-redis-1', sentinels: [R1, R1, undefined], peers: { [R2]: ['slave', 40, 300] }, role: { kind: 'fence' } },
  { what: 'nothing answers, the first pod: master', pod: 't-redis-0', sentinels: [undefined, undefined, undefined], peers: {}, role: { kind: 'master' } },
  { what: 'nothing answers, another pod: the first', pod: 't-redis-2', sentinels: [undefined, undefined, undefined], peers: {}, role: { kind: 'replicaof', master: R0 } },
  { what: 'only empty replicas answer, the first pod: master', pod: 't-redis-0', sentinels: [], peers: { [R1]: EMPTY, [R2]: EMPTY }, role: { kind: 'master' } },
  { what: 'a peer still loading: follow it, not the first pod', pod: 't-redis-0', sentinels: [], peers: { [R1]: EMPTY, [R2]: ['loading', 3, 0] }, role: { kind: 'replicaof', master: R2 } },
  { what: 'one Sentinel still names the pod itself, no majority, no peer master: fenced', pod: 't-redis-1', sentinels: [R1, undefined, undefined], peers: {}, role: { kind: 'fence' } },
  { what: 'one Sentinel names a peer, no majority, no peer master: that peer', pod: 't-redis-0', sentinels: [undefined, R2, undefined], peers: { [R1]: EMPTY }, role: { kind: 'replicaof', master: R2 } },
  { what: 'restarted, nothing answers, the first pod: fenced (a pod it cannot reach may hold data)', pod: 't-redis-0', sentinels: [undefined, undefined, undefined], peers: {}, restarted: true, role: { kind: 'fence' } },
  { what: 'restarted, one other pod answers empty, the other not: fenced', pod: 't-redis-0', sentinels: [], peers: { [R1]: EMPTY }, restarted: true, role: { kind: 'fence' } },
  { what: 'restarted, every other pod answers empty, the first pod: master (nobody holds data)', pod: 't-redis-0', sentinels: [], peers: { [R1]: EMPTY, [R2]: EMPTY }, restarted: true, role: { kind: 'master' } },
  { what: 'restarted, nothing answers, another pod: the first', pod: 't-redis-1', sentinels: [undefined, undefined, undefined], peers: {}, restarted: true, role: { kind: 'replicaof', master: R0 } },
];

/** The INFO text a peer answers (the fields the start rule reads, among others), keys over two databases. */
function infoOf([role, keys, offset, master]: Peer): string {
  const keyspace = keys > 0 ? `db0:keys=${keys - 1},expires=0,avg_ttl=0\ndb3:keys=1,expires=0,avg_ttl=0\n` : '';
  // A replica's own offset is slave_repl_offset; its master_repl_offset is made to rank the other way,
  // so that reading the wrong one shows.
  const follows = master ? `master_host:${master}\nmaster_port:6379\nmaster_link_status:down\nslave_repl_offset:${offset}\n` : '';
  return `# Server\nredis_version:7.0.15\n# Persistence\nloading:${role === 'loading' ? 1 : 0}\n# Replication\nrole:${role === 'loading' ? 'slave' : role}\n${follows}connected_slaves:0\nmaster_repl_offset:${master ? 999_999 - offset : offset}\n# Keyspace\n${keyspace}`;
}

/**
 * Runs `fn` of the rendered prelude (of `rendered`, else the shared spec's) as pod `pod`, with redis-cli
 * replaced by the case's answers (`localhost`: the pod's own Redis).
 */
function shell(c: Pick<Case, 'sentinels' | 'peers'>, pod: string, fn: string, rendered = spec): string {
  const sentinelAnswers = c.sentinels.map((a, i) => `  ${host(`t-sentinel-${i}`)}) ${a === undefined ? 'return 1' : `echo ${a}`} ;;`).join('\n');
  const infos = Object.entries(c.peers).map(([m, p]) => `  ${m}) printf '${infoOf(p).replaceAll('\n', '\\r\\n')}' ;;`).join('\n');
  const script = `${scriptPrelude(rendered)}
ask_sentinel() { case "$1" in
${sentinelAnswers}
  *) return 1 ;;
esac; }
ask_redis() { case "$1" in
${infos}
  *) return 1 ;;
esac; }
${fn}
`;
  return execFileSync('sh', ['-c', script], { env: { PATH: process.env.PATH, POD_NAME: pod, POD_NAMESPACE: 'ns' }, encoding: 'utf8' }).trim();
}

const asShell = (r: StartRole) => (r.kind === 'replicaof' ? `replicaof ${r.master}` : r.kind);

/** The start rule's view of the case's peers, by ordinal, without `me`. */
function peersOf(c: Case, me?: string): PeerView[] {
  return [R0, R1, R2].filter((a) => a !== me && c.peers[a]).map((address) => {
    const [role, keys, offset, master] = c.peers[address]!;
    return { address, role: role === 'slave' ? 'replica' : role, keys, offset, ...(master ? { master } : {}) };
  });
}

describe('the start rule: the pods\' sh and src/topology/start.ts agree on every case', () => {
  for (const c of CASES) {
    it(`${c.what}: ${asShell(c.role)}`, () => {
      const me = host(c.pod);
      const restarted = c.restarted ?? false;
      const view = { me, first: R0, replicas: spec.replicas, sentinels: spec.sentinels, sentinelAnswers: c.sentinels, peers: peersOf(c, me), restarted };
      assert.deepEqual(startRole(view), c.role);
      assert.equal(shell(c, c.pod, `RESTARTED=${restarted ? 1 : 0}; start_role`), asShell(c.role));
      // A Sentinel starting (t-sentinel-0 does not ask itself) monitors the same rule's master.
      const sentinelView = { first: R0, sentinels: spec.sentinels, sentinelAnswers: [undefined, ...c.sentinels.slice(1)], peers: peersOf(c) };
      assert.equal(shell(c, 't-sentinel-0', 'start_master'), startMaster(sentinelView));
    });
  }
});

// With persistence on, every pod restarted at once elects by data rather than make pod 0 master:
// scripts.ts start_role's "elect", election_step and sentinel_waits against entersElection,
// electionStep and sentinelWaits (src/topology/start.ts).
const persistent = resolveSpec({ name: 't', replicas: 2, sentinels: 3, persistence: { enabled: true } }, { generateSecret: () => 'p'.repeat(32) });
/** A pod in the election: fenced, a replica of itself, with its loaded data. */
const fenced = (address: string, keys: number, offset = 0): Peer => ['slave', keys, offset, address];

interface EntryCase { readonly what: string; readonly pod: string; readonly sentinels: readonly (string | undefined)[]; readonly peers: Readonly<Record<string, Peer>>; readonly elect: boolean }
const ENTRY_CASES: EntryCase[] = [
  { what: 'nothing answers (every pod restarting)', pod: 't-redis-0', sentinels: [undefined, undefined, undefined], peers: {}, elect: true },
  { what: 'only peers in the election answer, with keys', pod: 't-redis-2', sentinels: [], peers: { [R0]: fenced(R0, 10), [R1]: fenced(R1, 40) }, elect: true },
  { what: 'a peer still loading', pod: 't-redis-1', sentinels: [], peers: { [R0]: ['loading', 0, 0, R0] }, elect: true },
  { what: 'a peer answers as master: follow it (rule 2)', pod: 't-redis-0', sentinels: [], peers: { [R1]: ['master', 5, 100] }, elect: false },
  { what: 'one Sentinel answers: it knows better than the disks', pod: 't-redis-1', sentinels: [undefined, R0, undefined], peers: { [R0]: fenced(R0, 10) }, elect: false },
  { what: 'a majority names a master', pod: 't-redis-1', sentinels: [R2, R2, undefined], peers: {}, elect: false },
];

describe('persistence on: whether a starting pod enters the election, in sh and in start.ts', () => {
  for (const c of ENTRY_CASES) {
    it(`${c.what}: ${c.elect ? 'elect' : 'the start rule'}`, () => {
      const me = host(c.pod);
      const view = { me, first: R0, replicas: 2, sentinels: 3, sentinelAnswers: c.sentinels, peers: peersOf({ ...c, role: { kind: 'master' } }, me), restarted: false };
      assert.equal(entersElection(view), c.elect);
      assert.equal(shell(c, c.pod, 'start_role', persistent), c.elect ? 'elect' : asShell(startRole(view)));
      // Without persistence nobody elects: the start rule as it was.
      assert.equal(shell(c, c.pod, 'start_role'), asShell(startRole(view)));
    });
  }
});

interface ElectionCase {
  readonly what: string;
  readonly pod: string;
  /** The pod's own Redis (fenced, loaded). */
  readonly mine: Peer;
  readonly sentinels: readonly (string | undefined)[];
  readonly peers: Readonly<Record<string, Peer>>;
  readonly waitedOut: boolean;
  readonly step: string;
}
const ELECTION_CASES: ElectionCase[] = [
  { what: 'the pod with the most keys', pod: 't-redis-1', mine: fenced(R1, 200), sentinels: [], peers: { [R0]: fenced(R0, 100), [R2]: fenced(R2, 150) }, waitedOut: false, step: 'master' },
  { what: 'pod 0 with less data than another: waits for it', pod: 't-redis-0', mine: fenced(R0, 100), sentinels: [], peers: { [R1]: fenced(R1, 200), [R2]: fenced(R2, 200) }, waitedOut: false, step: 'wait' },
  { what: 'two with the same data: the lower ordinal', pod: 't-redis-1', mine: fenced(R1, 200), sentinels: [], peers: { [R0]: fenced(R0, 100), [R2]: fenced(R2, 200) }, waitedOut: false, step: 'master' },
  { what: 'the same data, the higher ordinal waits', pod: 't-redis-2', mine: fenced(R2, 200), sentinels: [], peers: { [R0]: fenced(R0, 100), [R1]: fenced(R1, 200) }, waitedOut: false, step: 'wait' },
  { what: 'all empty (a first start): pod 0', pod: 't-redis-0', mine: fenced(R0, 0), sentinels: [], peers: { [R1]: fenced(R1, 0), [R2]: fenced(R2, 0) }, waitedOut: false, step: 'master' },
  { what: 'the higher restored offset before more keys', pod: 't-redis-2', mine: fenced(R2, 10, 900), sentinels: [], peers: { [R0]: fenced(R0, 50, 800), [R1]: fenced(R1, 50, 800) }, waitedOut: false, step: 'master' },
  { what: 'a pod has not answered yet: wait', pod: 't-redis-1', mine: fenced(R1, 200), sentinels: [], peers: { [R0]: fenced(R0, 100) }, waitedOut: false, step: 'wait' },
  { what: 'a pod still loading: wait', pod: 't-redis-1', mine: fenced(R1, 200), sentinels: [], peers: { [R0]: fenced(R0, 100), [R2]: ['loading', 0, 0, R2] }, waitedOut: false, step: 'wait' },
  { what: 'the wait is over: the best of those that answered', pod: 't-redis-1', mine: fenced(R1, 200), sentinels: [], peers: { [R0]: fenced(R0, 100) }, waitedOut: true, step: 'master' },
  { what: 'the wait is over, a better peer answered: wait for it', pod: 't-redis-2', mine: fenced(R2, 10), sentinels: [], peers: { [R0]: fenced(R0, 100), [R1]: ['loading', 0, 0, R1] }, waitedOut: true, step: 'wait' },
  { what: 'a peer already won (answers as master): follow it', pod: 't-redis-0', mine: fenced(R0, 300), sentinels: [], peers: { [R1]: ['master', 200, 0], [R2]: fenced(R2, 200) }, waitedOut: false, step: `replicaof ${R1}` },
  { what: 'a Sentinel majority names a peer', pod: 't-redis-0', mine: fenced(R0, 300), sentinels: [R2, R2, undefined], peers: {}, waitedOut: false, step: `replicaof ${R2}` },
  { what: 'a Sentinel majority names this pod', pod: 't-redis-0', mine: fenced(R0, 1), sentinels: [R0, undefined, R0], peers: { [R1]: fenced(R1, 9), [R2]: fenced(R2, 9) }, waitedOut: false, step: 'master' },
  { what: 'a lone Sentinel answer changes nothing', pod: 't-redis-0', mine: fenced(R0, 1), sentinels: [R2, undefined, undefined], peers: { [R1]: fenced(R1, 9), [R2]: fenced(R2, 0) }, waitedOut: false, step: 'wait' },
  { what: 'a replica outside the election (still following a master that is gone) holds more: never master over it', pod: 't-redis-0', mine: fenced(R0, 10), sentinels: [], peers: { [R1]: ['slave', 900, 900, 'gone'], [R2]: fenced(R2, 5) }, waitedOut: true, step: 'wait' },
  { what: 'a replica outside the election holds less: the best by data', pod: 't-redis-0', mine: fenced(R0, 10), sentinels: [], peers: { [R1]: ['slave', 3, 0, 'gone'], [R2]: fenced(R2, 5) }, waitedOut: false, step: 'master' },
];

describe('persistence on, every pod restarted at once: the election by data in sh and electionStep agree', () => {
  for (const c of ELECTION_CASES) {
    it(`${c.what}: ${c.step}`, () => {
      const me = host(c.pod);
      const [, keys, offset] = c.mine;
      const view = { me: { address: me, role: 'replica' as const, keys, offset, master: me }, pods: [R0, R1, R2], sentinels: 3, sentinelAnswers: c.sentinels, peers: peersOf({ ...c, role: { kind: 'master' } }, me), waitedOut: c.waitedOut };
      const step = electionStep(view);
      assert.equal(step.kind === 'wait' ? 'wait' : asShell(step), c.step);
      const run = `ANSWERS=$(sentinel_answers); PEERS=$(peer_facts); MINE=$(facts_of localhost "$ME_ADDR"); WAITED=${c.waitedOut ? 1 : 0}; election_step`;
      assert.equal(shell({ sentinels: c.sentinels, peers: { ...c.peers, localhost: c.mine } }, c.pod, run, persistent), c.step);
    });
  }
});

const WAIT_CASES: { what: string; sentinels: (string | undefined)[]; peers: Record<string, Peer>; waits: boolean }[] = [
  { what: 'nothing answers', sentinels: [undefined, undefined], peers: {}, waits: true },
  { what: 'only pods in the election answer', sentinels: [undefined, undefined], peers: { [R0]: fenced(R0, 10), [R1]: fenced(R1, 20) }, waits: true },
  { what: 'one other Sentinel names a pod: no majority yet', sentinels: [R1, undefined], peers: { [R1]: fenced(R1, 20) }, waits: true },
  { what: 'a pod answers as master (the election is over)', sentinels: [undefined, undefined], peers: { [R1]: ['master', 20, 0], [R0]: fenced(R0, 10) }, waits: false },
  { what: 'the other two Sentinels name a master', sentinels: [R2, R2], peers: {}, waits: false },
];

describe('persistence on: a starting Sentinel waits for the election, in sh and in sentinelWaits', () => {
  for (const c of WAIT_CASES) {
    it(`${c.what}: ${c.waits ? 'waits' : 'starts'}`, () => {
      // t-sentinel-0 starts; t-sentinel-1 and -2 answer as given.
      const sentinels = [undefined, ...c.sentinels];
      assert.equal(sentinelWaits({ sentinels: 3, sentinelAnswers: sentinels, peers: peersOf({ sentinels, peers: c.peers, what: '', pod: '', role: { kind: 'master' } }) }), c.waits);
      assert.equal(shell({ sentinels, peers: c.peers }, 't-sentinel-0', 'ANSWERS=$(sentinel_answers); PEERS=$(peer_facts); sentinel_waits', persistent), c.waits ? 'wait' : '');
    });
  }
});

// The preStop hook's check before it asks Sentinel for a failover (scripts.ts failover_objection)
// against failoverObjection (src/topology/agreement.ts), which the controller applies too.
interface SentinelAnswer { master: string; flags: string; epoch: number; sDownMs?: number; tilt?: boolean; roleReported?: string }

interface ObjectionCase {
  readonly what: string;
  /**
   * What t-sentinel-0..2 answer to SENTINEL MASTER: the master they name, their flags and epoch, and
   * with s_down its s-down-time (ms); an error reply as a string; undefined: no answer. `tilt`: INFO
   * sentinel says sentinel_tilt:1.
   */
  readonly sentinels: readonly (SentinelAnswer | string | undefined)[];
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
  { what: 'subjectively down for long, and never objectively: no objection (no quorum agrees)', sentinels: [{ master: ME, flags: 'master,s_down', epoch: 3, sDownMs: 12_000 }, { master: ME, flags: 'master', epoch: 3 }, { master: ME, flags: 'master', epoch: 3 }] },
  { what: 'subjectively down a moment ago: its own failover may follow', sentinels: [{ master: ME, flags: 'master', epoch: 3 }, { master: ME, flags: 'master,s_down', epoch: 3, sDownMs: 800 }, { master: ME, flags: 'master', epoch: 3 }],
    objection: `Sentinel ${S(1)} has seen ${ME} subjectively down for 800 ms; its own failover follows if a quorum agrees` },
  { what: 'reported itself a replica (fenced) and subjectively down for 12 s: the others may reach it up to 10 s later', sentinels: [{ master: ME, flags: 'master,s_down', epoch: 3, sDownMs: 12_000, roleReported: 'slave' }, { master: ME, flags: 'master', epoch: 3, roleReported: 'slave' }, undefined],
    objection: `Sentinel ${S(0)} has seen ${ME} subjectively down for 12000 ms; its own failover follows if a quorum agrees` },
  { what: 'reported itself a replica and subjectively down for 25 s, never objectively: no objection', sentinels: [{ master: ME, flags: 'master,s_down', epoch: 3, sDownMs: 25_000, roleReported: 'slave' }, { master: ME, flags: 'master', epoch: 3, roleReported: 'slave' }, undefined] },
  { what: 'a Sentinel in TILT mode (it would act on the request when TILT ends, beside its own checks)', sentinels: [{ master: ME, flags: 'master', epoch: 3 }, { master: ME, flags: 'master', epoch: 3, tilt: true }, { master: ME, flags: 'master,s_down', epoch: 3, sDownMs: 30_000 }],
    objection: `Sentinel ${S(1)} is in TILT mode` },
];

/** failover_objection of the rendered prelude as t-redis-0, with redis-cli replaced by the case's answers. */
function objectionInShell(c: ObjectionCase): string {
  const raw = (v: SentinelAnswer | string) => {
    // redis-cli --raw prints an error reply as its text and exits 0.
    if (typeof v === 'string') return v;
    const [ip, port] = [v.master.slice(0, v.master.lastIndexOf(':')), v.master.slice(v.master.lastIndexOf(':') + 1)];
    const sdown = v.sDownMs === undefined ? [] : ['s-down-time', String(v.sDownMs)];
    return ['name', 'redis-ha-t', 'ip', ip, 'port', port, 'runid', 'x', 'flags', v.flags, ...sdown, 'role-reported', v.roleReported ?? 'master', 'config-epoch', String(v.epoch)].join('\\n');
  };
  const info = (v: SentinelAnswer | string) => `printf '# Sentinel\\r\\nsentinel_masters:1\\r\\nsentinel_tilt:${typeof v !== 'string' && v.tilt ? 1 : 0}\\r\\n'`;
  const answers = c.sentinels.map((v, i) => `  ${host(`t-sentinel-${i}`)}) ${v === undefined ? 'return 1' : `if [ "$2" = INFO ]; then ${info(v)}; else printf '${raw(v)}\\n'; fi`} ;;`).join('\n');
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
      const views = c.sentinels.flatMap((v, i) => (v && typeof v !== 'string' ? [{ sentinel: S(i), master: v.master, epoch: v.epoch, flags: new Set(v.flags.split(',')), tilt: v.tilt ?? false, roleReported: v.roleReported ?? 'master', ...(v.sDownMs === undefined ? {} : { sDownMs: v.sDownMs }) }] : []));
      assert.equal(failoverObjection(views, ME), c.objection);
      assert.equal(objectionInShell(c), c.objection ?? '');
    });
  }
});

// A pod restarted fenced while the Sentinels still name it (scripts.ts fenced_failover) asks for the
// failover itself. When it came back after down-after, a failover Sentinel started by itself may be in
// progress (the objection holds the request back) and end without a master: a split vote waits out the
// election (up to 10 s, the fast profile's failover-timeout) and aborts. The pod must still ask then,
// inside the 10 x down-after that Sentinel trusts the replicas' links for.
describe('a fenced pod asks for its failover as long as the Sentinels name it', () => {
  const fast = resolveSpec({ name: 't', replicas: 2, sentinels: 3, sentinel: { profile: 'fast', downAfterMilliseconds: 2000 } }, { generateSecret: () => 'p'.repeat(32) });
  /** A shell function of the rendered start script, whole. */
  const fn = (name: string) => new RegExp(`^${name}\\(\\) \\{\\n[\\s\\S]*?^\\}\\n`, 'm').exec(startRedisScript(fast))?.[0];
  const fencedFailover = fn('fenced_failover') && fn('take_role') && `${fn('take_role')}${fn('fenced_failover')}`;
  /** Runs fenced_failover with one second per round and Sentinel refusing (an objection) until round `refusedUntil`; what it did, round by round. */
  const run = (refusedUntil: number, role = 'slave', pointedIn = 0) => execFileSync('sh', ['-c', `${scriptPrelude(fast)}
${fencedFailover}
n=0; asked=0; master=
# From round pointedIn on, the pod replicates from another pod (Sentinel or the operator pointed it there).
sleep() { n=$((n + 1)); [ ${pointedIn} = 0 ] || [ $n -lt ${pointedIn} ] || master=t-redis-2.t-headless.ns.svc; [ $n -le 60 ]; }
ask_redis() { if [ ${role} = slave ]; then printf 'slave\n%s\n6379\nconnect\n0\n' "\${master:-$ME_ADDR}"; else echo ${role}; fi; }
sentinel_answers() { :; }
sentinel_master() { if [ $asked = 1 ]; then echo other; else echo "$ME_ADDR"; fi; }
ask_failover() { [ $n -gt ${refusedUntil} ] || return 1; asked=1; echo "asked in round $n"; }
fenced_failover 2>/dev/null
echo "returned after round $n"
`], { env: { PATH: process.env.PATH, POD_NAME: 't-redis-0', POD_NAMESPACE: 'ns' }, encoding: 'utf8' }).trim().split('\n');
  it('is rendered', () => assert.ok(fencedFailover, 'no fenced_failover function in start-redis.sh'));
  it('asks in the first round that Sentinel accepts, then stops once the Sentinels name another master', () => {
    assert.deepEqual(run(0), ['asked in round 1', 'returned after round 2']);
  });
  it('still asks when a failover of Sentinel\'s own held the request back for longer than failover-timeout', () => {
    assert.deepEqual(run(15), ['asked in round 16', 'returned after round 17']);
  });
  it('never asks once the pod reports master (someone promoted it)', () => {
    assert.deepEqual(run(0, 'master'), ['returned after round 1']);
  });
  // A loop that outlived its fence re-pointed an in-sync replica during the runtime contract's next
  // fault (the start rule on a Sentinel minority's answers): it must end once the pod follows another.
  it('ends, asking nothing more, once Sentinel or the operator points the pod at another node', () => {
    assert.deepEqual(run(5, 'slave', 3), ['returned after round 3']);
  });
  // Fenced by start rule 6 (restarted, another pod did not answer): no Sentinel names it, so it applies
  // the start rule every round, and acts once that names a role.
  const blind = (answerFrom: number, peer: Peer, named = false) => execFileSync('sh', ['-c', `${scriptPrelude(fast)}
${fencedFailover}
n=0; RESTARTED=1; actions=$(mktemp)
sleep() { n=$((n + 1)); [ $n -le 60 ]; }
ask_sentinel() { return 1; }
${named ? 'sentinel_master() { echo "$ME_ADDR"; }; ask_failover() { echo "failover refused in round $n" >> "$actions"; return 1; }' : ''}
ask_redis() { case "$1 $2" in
  "localhost --raw") printf 'slave\n%s\n' "$ME_ADDR" ;;
  "localhost REPLICAOF") echo "REPLICAOF $3 $4 in round $n" >> "$actions" ;;
  *) [ $n -ge ${answerFrom} ] || return 1; printf '${infoOf(peer).replaceAll('\n', '\\r\\n')}' ;;
esac; }
fenced_failover 2>/dev/null
cat "$actions"; rm -f "$actions"
echo "returned after round $n"
`], { env: { PATH: process.env.PATH, POD_NAME: 't-redis-0', POD_NAMESPACE: 'ns' }, encoding: 'utf8' }).trim().split('\n');
  it('fenced while the other pods do not answer: stays fenced, and becomes master once they answer empty', () => {
    assert.deepEqual(blind(4, EMPTY), ['REPLICAOF NO ONE in round 4', 'returned after round 4']);
  });
  it('named by the Sentinels, which refuse its failover (they know no replica): master once every other pod answers empty', () => {
    assert.deepEqual(blind(3, EMPTY, true), ['failover refused in round 1', 'failover refused in round 2', 'REPLICAOF NO ONE in round 3', 'returned after round 3']);
  });
  it('fenced while the other pods do not answer: follows one that answers as master with data', () => {
    assert.deepEqual(blind(3, ['master', 40, 300]), [`REPLICAOF ${R1} 6379 in round 3`, 'returned after round 3']);
  });
});

// The preStop hook of a master pod asks for its failover once writes are caught up. An objection that
// passes (a Sentinel in TILT, one that saw the pod down a moment ago) must not cost the handover: the
// hook asks again every second while it waits.
describe('the preStop hook asks again while a Sentinel objects', () => {
  const body = preStopScript(spec).slice(scriptPrelude(spec).length);
  /** Runs the hook with Sentinel objecting to the first `objections` requests; what it did. */
  const hook = (objections: number) => execFileSync('sh', ['-c', `${scriptPrelude(spec)}
n=0; tries=$(mktemp); promoted=$(mktemp)
sleep() { n=$((n + 1)); }
ask_redis() { case "$2 $3" in
  "--raw ROLE") if [ -s "$promoted" ]; then echo slave; else echo master; fi ;;
  "INFO replication") printf 'role:master\\r\\nslave0:ip=x,port=6379,state=online,offset=7,lag=0\\r\\nmaster_repl_offset:7\\r\\n' ;;
esac; }
sentinel_answers() { :; }
sentinel_master() { echo "$ME_ADDR"; }
ask_failover() { echo >> "$tries"; if [ "$(wc -l < "$tries")" -le ${objections} ]; then return 1; fi; echo "asked at tick $n"; echo yes > "$promoted"; }
${body.replace(/\nexit 0\n$/, '\n')}
echo "$(wc -l < "$tries") tries"; rm -f "$tries" "$promoted"
`], { env: { PATH: process.env.PATH, POD_NAME: 't-redis-0', POD_NAMESPACE: 'ns' }, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim().split('\n');
  it('asks at once when nothing objects', () => {
    assert.deepEqual(hook(0), ['asked at tick 0', '1 tries']);
  });
  it('held back twice, asks again each second until a Sentinel accepts', () => {
    assert.deepEqual(hook(2), ['asked at tick 19', '3 tries']);
  });
});

// A change of flavour updates the scripts before the pods roll: a pod still on the previous image runs
// them (its probes, a container restart) and must find that image's binaries.
describe('the scripts run the binaries the image has', () => {
  const valkey = resolveSpec({ name: 't', replicas: 2, sentinels: 3, image: { flavor: 'valkey', tag: '8.1.4' } }, { generateSecret: () => 'p'.repeat(32) });
  const binaryIn = (names: string[]) => {
    const dir = mkdtempSync(join(tmpdir(), 'redis-ha-bin-'));
    try {
      for (const n of names) writeFileSync(join(dir, n), '#!/bin/sh\n', { mode: 0o755 });
      // sh itself is found by its full path; the PATH holds only the image's binaries.
      return execFileSync('/bin/sh', ['-c', `${scriptPrelude(valkey)}\necho "$CLI"; binary valkey-server redis-server`], { env: { PATH: dir, POD_NAME: 't-redis-0', POD_NAMESPACE: 'ns' }, encoding: 'utf8' }).trim().split('\n');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  };
  it('the spec\'s flavour where the image has it', () => {
    assert.deepEqual(binaryIn(['valkey-cli', 'valkey-server', 'redis-cli']), ['valkey-cli', 'valkey-server']);
  });
  it('the other flavour\'s on an image that has only those (a pod not yet rolled)', () => {
    assert.deepEqual(binaryIn(['redis-cli', 'redis-server']), ['redis-cli', 'redis-server']);
  });
});

describe('migrating in (migrateFrom): the pods follow the master the source\'s Sentinels name, never one of their own; sh and start.ts agree', () => {
  const SOURCE = ['src-0.src.ns.svc:26379', 'src-1.src.ns.svc:26379', 'src-2.src.ns.svc:26379'];
  const migrating = resolveSpec({ name: 't', replicas: 2, sentinels: 3, migrateFrom: { sentinels: SOURCE, masterName: 'mymaster', secretName: 'redis' } }, { generateSecret: () => 'p'.repeat(32) });
  /** The source Sentinels' answers to get-master-addr-by-name, by host, as `host port` (undefined: no answer). */
  const sources = (answers: (string | undefined)[]) =>
    `migrating() { return 0; }\nask_source_sentinel() { case "$1" in\n${answers.map((a, i) => `  src-${i}.src.ns.svc) ${a === undefined ? 'return 1' : `printf '%s\\n%s\\n' ${a}`} ;;`).join('\n')}\n  *) return 1 ;;\nesac; }`;
  const cases: { what: string; pod: string; sentinels: (string | undefined)[]; source: (string | undefined)[]; role: StartRole; monitors: string }[] = [
    { what: 'a majority of the source Sentinels names its master: a replica of it, at its port', pod: 't-redis-1', sentinels: [undefined, undefined, undefined], source: ['src-0.src.ns.svc 6380', 'src-0.src.ns.svc 6380', undefined], role: { kind: 'replicaof', master: 'src-0.src.ns.svc 6380' }, monitors: 'src-0.src.ns.svc 6380' },
    { what: 'one source Sentinel of three and none of ours: fenced (pod 0 does not become an empty master)', pod: 't-redis-0', sentinels: [undefined, undefined, undefined], source: ['src-0.src.ns.svc 6379', undefined, undefined], role: { kind: 'fence' }, monitors: '' },
    { what: 'nothing answers: fenced, and a starting Sentinel waits', pod: 't-redis-0', sentinels: [undefined, undefined, undefined], source: [undefined, undefined, undefined], role: { kind: 'fence' }, monitors: '' },
    { what: 'the source\'s majority comes first (its answer carries the port; ours do not)', pod: 't-redis-2', sentinels: ['src-0.src.ns.svc', 'src-0.src.ns.svc', undefined], source: ['src-0.src.ns.svc 6380', 'src-0.src.ns.svc 6380', 'src-0.src.ns.svc 6380'], role: { kind: 'replicaof', master: 'src-0.src.ns.svc 6380' }, monitors: 'src-0.src.ns.svc 6380' },
    { what: 'no majority of the source\'s Sentinels: a majority of ours (joined to its group)', pod: 't-redis-2', sentinels: [R1, R1, R1], source: [undefined, undefined, 'src-0.src.ns.svc 6379'], role: { kind: 'replicaof', master: R1 }, monitors: R1 },
    { what: 'the source Sentinels name this pod (switched over, our Sentinels not asked yet): rule 1 for it', pod: 't-redis-1', sentinels: [undefined, undefined, undefined], source: [`${R1} 6379`, `${R1} 6379`, undefined], role: { kind: 'fence' }, monitors: `${R1} 6379` },
  ];
  for (const c of cases) {
    it(`${c.what}: ${asShell(c.role)}`, () => {
      const me = host(c.pod);
      const view = { me, first: R0, replicas: 2, sentinels: 3, sentinelAnswers: c.sentinels, peers: [], restarted: false, sourceAnswers: c.source };
      assert.deepEqual(startRole(view), c.role);
      const kase = { sentinels: c.sentinels, peers: {} };
      assert.equal(shell(kase, c.pod, `${sources(c.source)}\nstart_role`, migrating), asShell(c.role));
      const sentinelView = { first: R0, sentinels: 3, sentinelAnswers: [undefined, ...c.sentinels.slice(1)], peers: [], sourceAnswers: c.source };
      assert.equal(startMaster(sentinelView), c.monitors);
      assert.equal(shell(kase, 't-sentinel-0', `${sources(c.source)}\nstart_master`, migrating), startMaster(sentinelView));
    });
  }
  it('after the switchover (the ConfigMap\'s state no longer migrating) the normal rules apply: no wait on the gone source', () => {
    const none = { sentinels: [undefined, undefined, undefined], peers: {} };
    const noSource = 'ask_source_sentinel() { return 1; }';
    assert.equal(shell(none, 't-redis-0', `${noSource}\nstart_role`, migrating), 'master');
    assert.equal(shell(none, 't-sentinel-0', `${noSource}\nstart_master`, migrating), R0);
  });
  // A Sentinel started while nothing named a master waits; the operator may end the migration meanwhile
  // (the ConfigMap's state turns to done), and then the normal rules name one: it must not monitor nothing.
  it('a Sentinel waiting for a master when the migration ends monitors the master the normal rules name', () => {
    const wait = /^master=\$\(start_master\)\n[\s\S]*?(?=^cat )/m.exec(startSentinelScript(migrating))?.[0];
    assert.ok(wait, 'no wait for a master in start-sentinel.sh');
    const out = execFileSync('sh', ['-c', `${scriptPrelude(migrating)}
n=0; calls=$(mktemp)
sleep() { n=$((n + 1)); }
# The ConfigMap turns to done right after the second look, which still saw the migration (and no master).
migrating() { [ "$(wc -l < "$calls")" -lt 2 ]; }
start_master() { if migrating; then echo >> "$calls"; echo ''; else echo "${R0}"; fi; }
${wait}
rm -f "$calls"
echo "monitors $master after $n wait(s)"
`], { env: { PATH: process.env.PATH, POD_NAME: 't-sentinel-0', POD_NAMESPACE: 'ns' }, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    assert.equal(out, `monitors ${R0} after 1 wait(s)`);
  });
  it('a role names its port: "HOST PORT" for the source, our port otherwise', () => {
    assert.equal(shell({ sentinels: [], peers: {} }, 't-redis-1', 'target_of "replicaof src-0.src.ns.svc 6380"; target_of "replicaof t-redis-0.t-headless.ns.svc"', migrating), 'src-0.src.ns.svc 6380\nt-redis-0.t-headless.ns.svc 6379');
  });
});
