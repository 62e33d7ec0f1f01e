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
import { startMaster, startRole, type PeerView, type StartRole } from '../../topology/start.ts';
import { failoverObjection } from '../../topology/agreement.ts';
import { scriptPrelude } from './scripts.ts';

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
  { what: 'an empty replica is no candidate: the lone Sentinel\'s answer', pod: 't-redis-0', sentinels: [undefined, R0, undefined], peers: { [R1]: EMPTY, [R2]: EMPTY }, role: { kind: 'fence' } },
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
];

/** The INFO text a peer answers (the fields the start rule reads, among others), keys over two databases. */
function infoOf([role, keys, offset, master]: Peer): string {
  const keyspace = keys > 0 ? `db0:keys=${keys - 1},expires=0,avg_ttl=0\ndb3:keys=1,expires=0,avg_ttl=0\n` : '';
  // A replica's own offset is slave_repl_offset; its master_repl_offset is made to rank the other way,
  // so that reading the wrong one shows.
  const follows = master ? `master_host:${master}\nmaster_port:6379\nmaster_link_status:down\nslave_repl_offset:${offset}\n` : '';
  return `# Server\nredis_version:7.0.15\n# Persistence\nloading:${role === 'loading' ? 1 : 0}\n# Replication\nrole:${role === 'loading' ? 'slave' : role}\n${follows}connected_slaves:0\nmaster_repl_offset:${master ? 999_999 - offset : offset}\n# Keyspace\n${keyspace}`;
}

/** Runs `fn` of the rendered prelude as pod `pod`, with redis-cli replaced by the case's answers. */
function shell(c: Case, pod: string, fn: string): string {
  const sentinelAnswers = c.sentinels.map((a, i) => `  ${host(`t-sentinel-${i}`)}) ${a === undefined ? 'return 1' : `echo ${a}`} ;;`).join('\n');
  const infos = Object.entries(c.peers).map(([m, p]) => `  ${m}) printf '${infoOf(p).replaceAll('\n', '\\r\\n')}' ;;`).join('\n');
  const script = `${scriptPrelude(spec)}
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
      const view = { me, first: R0, replicas: spec.replicas, sentinels: spec.sentinels, sentinelAnswers: c.sentinels, peers: peersOf(c, me) };
      assert.deepEqual(startRole(view), c.role);
      assert.equal(shell(c, c.pod, 'start_role'), asShell(c.role));
      // A Sentinel starting (t-sentinel-0 does not ask itself) monitors the same rule's master.
      const sentinelView = { first: R0, sentinels: spec.sentinels, sentinelAnswers: [undefined, ...c.sentinels.slice(1)], peers: peersOf(c) };
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
