import { rmSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { UserError } from '../../errors.ts';
import { resolveSpec } from '../../spec/index.ts';
import { MIGRATED_ACL_RULES } from '../../spec/acl.ts';
import type { RedisHASpec } from '../../spec/types.ts';
import { findBinaries, redisServerVersion } from '../../local/binaries.ts';
import { loadDeployment, saveDeployment, type LocalDeployment } from '../../local/deployment.ts';
import { readJson, writeJson } from '../../local/fsutil.ts';
import { filesOf, stateDirFor } from '../../local/layout.ts';
import { downLocal, prepareUp, runState, spawnDetachedSupervisor, topologyOf, waitHealthy } from '../../local/lifecycle.ts';
import { errorText } from '../../redis/probe.ts';
import { type Address, addressKey, parseAddress, sameAddress } from '../../redis/address.ts';
import { failedCheck, forgetGone, observeSource, sourceSentinelEndpoint, type Check, type Source, type SourceObservation } from '../../topology/migrate.ts';
import {
  forgetOldSentinels, lookAtSource, migrate, MigrationFailed, progressLine, type MigrationRecord, type MigrationResult, type MigrationRuntime,
} from '../../topology/migration.ts';
import { UsageError } from '../errors.ts';
import { intFlag, NAME_OPTIONS, nameOf, parse, portBaseOf } from '../options.ts';

export const MIGRATE_HELP = `Usage: redis-ha migrate --from-sentinels H:P[,H:P...] --master-name NAME [options]

Takes over a running master-replica + Sentinel deployment that redis-ha did not create (the Bitnami
chart's, or any) into a local redis-ha deployment, with no acknowledged write lost:
  1. checks (changes nothing): the source Sentinels answer and agree, no failover in progress, quorum,
     passwords, a local redis-server that can replicate from the source's version;
  2. starts the local deployment (or reuses the one a previous run started): its nodes replicate from
     the source master, its Sentinels join the source's Sentinels under the same master set name;
  3. waits until every new node is in sync;
  4. planned switchover (as 'redis-ha failover'): writes paused until the best new node has caught up,
     then Sentinel promotes it; the old master becomes its replica;
  5. checks each source Sentinel, one at a time, names the new master under the old set name
     (re-points one that does not): applications that ask the old Sentinels follow;
  6. the old nodes become replicas of the new master (or, with --leave-old-nodes, are left as they are);
  7. waits until the new deployment is healthy, and says what is left to remove and when it is safe.
Killed at any step, run it again with the same arguments: it resumes from what it finds.

Options:
      --from-sentinels LIST   the source's Sentinels, host:port, comma-separated
      --master-name NAME      the source's master set name (Bitnami: mymaster); the new deployment uses it too
  -n, --name NAME             the new local deployment (default: local)
      --port-base P           its first port (default: 6400)
      --leave-old-nodes       after the switchover, leave the old nodes as Sentinel left them
      --sync-timeout SECONDS  how long the new nodes may take to get in sync (default: 300)
      --dry-run               print the checks and the plan; change nothing
      --abort                 roll back a migration stopped before its switchover: stop the new
                              deployment, then make each source Sentinel forget it (SENTINEL RESET,
                              one at a time, verified) and remove its state
      --finish                after the migration, once the old Sentinels are stopped: make each new
                              Sentinel forget them (SENTINEL RESET, one at a time, verified), so the
                              group needs a majority of the new Sentinels alone to fail over
      --json                  one JSON object on stdout at the end (progress stays on stderr)
      --redis-server PATH, --redis-sentinel PATH   the binaries (default: PATH)

Passwords only from the environment: REDIS_HA_SOURCE_PASSWORD (the source nodes'; clients keep it) and
REDIS_HA_SOURCE_SENTINEL_PASSWORD (the source Sentinels'; with the Bitnami chart, the same password).
Exit codes: 0 done, 1 a check or step failed (one line says which; before the switchover the source is
left as it was), 2 bad input.`;

const OPTIONS = {
  ...NAME_OPTIONS,
  'from-sentinels': { type: 'string' },
  'master-name': { type: 'string' },
  'port-base': { type: 'string' },
  'leave-old-nodes': { type: 'boolean' },
  'sync-timeout': { type: 'string' },
  'dry-run': { type: 'boolean' },
  abort: { type: 'boolean' },
  finish: { type: 'boolean' },
  json: { type: 'boolean' },
  'redis-server': { type: 'string' },
  'redis-sentinel': { type: 'string' },
} as const;


function sentinelList(raw: string | undefined): Address[] {
  if (!raw) throw new UsageError("migrate: --from-sentinels is required (the source's Sentinels, host:port,...); see 'redis-ha migrate --help'");
  return raw.split(',').map((part) => {
    const a = parseAddress(part.trim());
    if (!a) throw new UsageError(`--from-sentinels: '${part.trim()}' is not host:port`);
    return a;
  });
}

/** The new deployment's spec: the source's set name, passwords and Sentinel timings. */
function migratedSpec(name: string, source: Source, obs: SourceObservation): RedisHASpec {
  const view = obs.sentinels.find((p) => p.view && sameAddress(p.view, obs.master))?.view;
  return resolveSpec({
    name,
    ...(view ? { quorum: Math.min(view.quorum, 3) } : {}),
    sentinel: {
      masterName: source.masterName,
      ...(view ? { downAfterMilliseconds: view.downAfterMilliseconds, failoverTimeout: view.failoverTimeout, parallelSyncs: view.parallelSyncs } : {}),
    },
    // Clients keep their passwords, whatever their length (as with imported Bitnami values).
    auth: { password: source.password, sentinelPassword: source.sentinelPassword, aclRules: MIGRATED_ACL_RULES, allowShortPasswords: true },
  });
}

/** The deployment as a migration runs it: nodes first follow `from`, replication and Sentinels log in as the application. */
function asMigration(d: LocalDeployment, from: Address | undefined): LocalDeployment {
  const { bootstrapFrom: _dropped, ...rest } = d;
  const app = d.users.application;
  return { ...rest, ...(from ? { bootstrapFrom: from } : {}), users: { ...d.users, replication: app, sentinel: app } };
}

/** The local runtime of the migration's steps (src/topology/migration.ts): a local deployment under its supervisor. */
function localRuntime(name: string, portBase: number, bin: { redisServer: string; redisSentinel: string }, source: Source): MigrationRuntime {
  const stateDir = stateDirFor(name);
  const files = filesOf(stateDir);
  const current = () => loadDeployment(stateDir);
  return {
    source,
    own() {
      const d = current();
      if (!d) return undefined;
      const s = d.spec.sentinel;
      return {
        nodes: d.nodes,
        sentinels: d.sentinels,
        auth: d.users.application,
        quorum: d.spec.quorum,
        timings: { downAfterMilliseconds: s.downAfterMilliseconds, failoverTimeout: s.failoverTimeout, parallelSyncs: s.parallelSyncs },
        replicaPriority: d.spec.redisConfig['replica-priority'] ?? '100',
      };
    },
    running() {
      const d = current();
      return d !== undefined && runState(d).live.size > 0;
    },
    localVersion: () => redisServerVersion(bin.redisServer),
    loadRecord: () => readJson<MigrationRecord>(files.migration),
    saveRecord: (r) => writeJson(files.migration, r),
    deploy: (obs, first, log) => deploy(name, portBase, bin, source, obs, current(), first, log),
    async standAlone(master, log) {
      const d = current() as LocalDeployment;
      saveDeployment(asMigration(d, undefined));
      const pid = runState(d).supervisorPid;
      if (!pid) throw new Error(`the supervisor of '${name}' is not running; run again`);
      await waitHealthy(d, pid, 60_000, (line) => log(line));
      return `'${name}' is healthy, master ${master.id} (${addressKey(master)})`;
    },
    say: (step, text) => process.stderr.write(`${progressLine(step, text)}\n`),
  };
}

export async function migrateCommand(argv: string[]): Promise<number> {
  const { values } = parse('migrate', argv, OPTIONS);
  if (values.help) {
    console.log(MIGRATE_HELP);
    return 0;
  }
  const sentinels = sentinelList(values['from-sentinels']);
  const masterName = values['master-name'];
  if (!masterName) throw new UsageError("migrate: --master-name is required (the source's master set name, e.g. mymaster)");
  const name = nameOf(values);
  const portBase = portBaseOf(values['port-base']);
  const syncTimeoutMs = (intFlag('sync-timeout', values['sync-timeout'], 1, 86_400) ?? 300) * 1000;
  const password = process.env.REDIS_HA_SOURCE_PASSWORD;
  const sentinelPassword = process.env.REDIS_HA_SOURCE_SENTINEL_PASSWORD;
  if (!password) throw new UsageError("migrate: REDIS_HA_SOURCE_PASSWORD is not set; put the source's Redis password there (never on the command line)");
  if (!sentinelPassword) throw new UsageError("migrate: REDIS_HA_SOURCE_SENTINEL_PASSWORD is not set; put the source Sentinels' password there (with the Bitnami chart it is the Redis password)");
  const source: Source = { sentinels, masterName, password, sentinelPassword };
  const json = values.json === true;

  const stateDir = stateDirFor(name);
  const files = filesOf(stateDir);
  const d = loadDeployment(stateDir);
  const record = readJson<MigrationRecord>(files.migration);
  if (d && !record) throw new UserError(`migrate: a deployment named '${name}' already exists and was not made by 'redis-ha migrate'; choose another --name`);
  if (record && record.source.masterName !== masterName) {
    throw new UserError(`migrate: '${name}' is a migration of master set '${record.source.masterName}', not '${masterName}'; choose another --name`);
  }
  if (values.abort) return abort(name, source, d, record, json, (line) => process.stderr.write(`[abort] ${line}\n`));
  if (values.finish) return finishMigration(name, source, d, record, json, (line) => process.stderr.write(`[finish] ${line}\n`));

  const bin = findBinaries({ redisServer: values['redis-server'], redisSentinel: values['redis-sentinel'] });
  const rt = localRuntime(name, portBase, bin, source);
  if (values['dry-run']) {
    const { obs, checks, switchedTo } = await lookAtSource(rt);
    return dryRun(source, name, portBase, obs, checks, switchedTo?.id, json);
  }
  let result: MigrationResult;
  try {
    result = await migrate(rt, {
      syncTimeoutMs,
      leaveOldNodes: values['leave-old-nodes'] === true,
      onLag: 'run again to keep waiting, or with --abort to roll back',
    });
  } catch (err) {
    if (!(err instanceof MigrationFailed)) throw err;
    if (json) console.log(JSON.stringify({ ok: false, error: err.detail, steps: err.steps }));
    throw new UserError(`migrate: ${err.detail}`);
  }
  const dep = loadDeployment(stateDir) as LocalDeployment;
  const nm = result.master;
  const leftovers = {
    oldNodes: result.oldNodes.map(addressKey),
    oldSentinels: result.oldSentinels.map(addressKey),
    oldNodesSafeToRemove: values['leave-old-nodes'] ? 'once no client reads from them: they may hold writes made before the switchover only' : 'now: they are replicas of the new master and hold nothing it lacks',
    oldSentinelsSafeToRemove: `once no application asks them any more (they name ${addressKey(nm)} under '${masterName}', as the new Sentinels do); after stopping them, run this command again with --finish (SENTINEL RESET on each Sentinel of '${name}', one at a time), so the group stops counting them`,
  };
  if (json) {
    console.log(JSON.stringify({ ok: true, name, masterName, master: { id: nm.id, host: nm.host, port: nm.port }, switchover: result.switchover ?? null, steps: result.steps, leftovers, healthy: true, stateDir }));
  } else {
    console.log([
      `migrated '${masterName}' into '${name}': master ${nm.id} (${addressKey(nm)})${result.switchover ? `, writes paused ${result.switchover.writePauseMs} ms` : ''}`,
      `  new Sentinels  ${dep.sentinels.map(addressKey).join(', ')}  (master set '${masterName}'; the old ones name the same master)`,
      `  left to remove:`,
      `    old nodes      ${leftovers.oldNodes.join(', ') || 'none'}: safe to remove ${leftovers.oldNodesSafeToRemove}`,
      `    old Sentinels  ${leftovers.oldSentinels.join(', ') || 'none'}: safe to remove ${leftovers.oldSentinelsSafeToRemove}`,
    ].join('\n'));
  }
  return 0;
}

/** Starts, adopts or reuses the new deployment, following the source master. */
async function deploy(
  name: string,
  portBase: number,
  bin: { redisServer: string; redisSentinel: string },
  source: Source,
  obs: SourceObservation,
  existing: LocalDeployment | undefined,
  first: MigrationRecord | undefined,
  log: (line: string) => void,
): Promise<string> {
  const stateDir = stateDirFor(name);
  const files = filesOf(stateDir);
  const from = obs.master as Address;
  const summary = (d: LocalDeployment) => `'${name}' runs ${d.nodes.length} nodes replicating from ${addressKey(from)} and ${d.sentinels.length} Sentinels in the '${source.masterName}' group (ports from ${d.portBase})`;
  if (existing) {
    const { supervisorPid } = runState(existing);
    if (supervisorPid) {
      log(`reusing '${name}' started by a previous run (supervisor pid ${supervisorPid})`);
      return summary(existing);
    }
  }
  const spec = migratedSpec(name, source, obs);
  const prepared = await prepareUp({ spec, portBase: existing?.portBase ?? portBase, binaries: bin, passwordsGiven: { password: true, sentinelPassword: true } });
  const d = asMigration(prepared.deployment, prepared.kind === 'adopt' ? existing?.bootstrapFrom ?? from : from);
  if (prepared.kind === 'fresh') rmSync(files.memory, { force: true });
  saveDeployment(d);
  if (first) writeJson(files.migration, first);
  log(prepared.kind === 'adopt' ? `adopting the running processes of '${name}'` : `starting '${name}': ${d.nodes.length} nodes following ${addressKey(from)}, ${d.sentinels.length} Sentinels joining '${source.masterName}'`);
  const pid = spawnDetachedSupervisor(d);
  // Until it has recorded itself, 'down' and '--abort' could not find it.
  const deadline = Date.now() + 30_000;
  while (runState(d).supervisorPid !== pid) {
    if (Date.now() > deadline) throw new UserError(`migrate: the supervisor of '${name}' did not start within 30 s; see 'redis-ha logs --name ${name}'`);
    await sleep(50);
  }
  return summary(d);
}

/**
 * `--abort`: rolls a migration back, only before its switchover (after it, the new master holds writes
 * the old nodes may lack; running the migration again finishes it instead). The source's Sentinels
 * counted ours while they were in the group; a Sentinel never forgets one, and with ours gone they
 * could no longer reach the majority a failover needs, so each is reset, one at a time, verified.
 */
async function abort(name: string, source: Source, d: LocalDeployment | undefined, record: MigrationRecord | undefined, json: boolean, say: (line: string) => void): Promise<number> {
  if (!d || !record) throw new UserError(`migrate --abort: there is no migration named '${name}' to roll back`);
  const obs = await observeSource(source, [...d.nodes, ...d.sentinels]);
  const ours = d.nodes.find((n) => sameAddress(n, obs.master));
  if (ours) {
    throw new UserError(`migrate --abort: the switchover is done (the source Sentinels name ${ours.id}, ${addressKey(ours)}); the old nodes may lack writes made since, so it cannot be rolled back; run the migration again to finish it`);
  }
  if (!obs.master) throw new UserError('migrate --abort: the source Sentinels agree on no master, so a rollback could not be verified; run again once they do');
  const master = obs.master;
  // A run killed right after starting the supervisor: give it the moment it takes to record itself.
  for (let i = 0; i < 50 && !runState(d).supervisorPid; i++) await sleep(100);
  const stopped = await downLocal(d);
  say(`stopped '${name}' (${stopped.processes} processes)`);
  const own = (a: Address) => [...d.nodes, ...d.sentinels].some((m) => sameAddress(m, a));
  const sentinels = [...new Map([...record.oldSentinels.map((k) => parseAddress(k) as Address), ...source.sentinels].filter((a) => !own(a)).map((a) => [addressKey(a), a])).values()];
  const replicas = record.oldNodes.filter((k) => k !== addressKey(master)).length;
  for (const s of sentinels) {
    try {
      await forgetGone(sourceSentinelEndpoint(source, s), source.masterName, { master, otherSentinels: sentinels.length - 1, replicas }, 30_000);
      say(`${addressKey(s)} forgot '${name}': it names ${addressKey(master)} and sees ${sentinels.length - 1} other Sentinels and ${replicas} replicas`);
    } catch (err) {
      throw new UserError(`migrate --abort: ${errorText(err)}; '${name}' is stopped; run --abort again once that Sentinel answers`);
    }
  }
  rmSync(d.stateDir, { recursive: true, force: true });
  const line = `rolled back: '${name}' is removed, ${addressKey(master)} is still the master of '${source.masterName}', and its ${sentinels.length} Sentinels count only each other`;
  console.log(json ? JSON.stringify({ ok: true, aborted: true, master, sentinels: sentinels.map(addressKey) }) : line);
  return 0;
}

/**
 * `--finish`: once the old Sentinels are stopped, each of ours is reset (`SENTINEL RESET`), one at a
 * time and verified, so the group forgets them: a Sentinel never forgets one it has seen, and with 3 of
 * 6 gone a failover could not reach the majority of 6 it would need.
 */
async function finishMigration(name: string, source: Source, d: LocalDeployment | undefined, record: MigrationRecord | undefined, json: boolean, say: (line: string) => void): Promise<number> {
  if (!d || !record) throw new UserError(`migrate --finish: there is no migration named '${name}'`);
  if (!record.finishedAt) throw new UserError(`migrate --finish: the migration into '${name}' has not completed; run it first (without --finish)`);
  const done = await forgetOldSentinels(topologyOf(d), source, record.oldSentinels.map((k) => parseAddress(k) as Address), say).catch((err: unknown) => {
    throw new UserError(`migrate --finish: ${errorText(err)}; run --finish again`);
  });
  if (typeof done === 'string') throw new UserError(`migrate --finish: ${done}${done.startsWith('the Sentinels') ? `; see 'redis-ha status --name ${name}'` : ''}`);
  const line = `finished: the Sentinels of '${name}' count only each other (${d.sentinels.length}); the old ones (${done.forgotten.map(addressKey).join(', ')}) are forgotten`;
  console.log(json ? JSON.stringify({ ok: true, finished: true, master: done.master, forgotten: done.forgotten.map(addressKey) }) : line);
  return 0;
}

/** `--dry-run`: the checks as made now and the plan; nothing changes. Exit 1 when a check fails. */
function dryRun(source: Source, name: string, portBase: number, obs: SourceObservation, checks: readonly Check[], switchedTo: string | undefined, json: boolean): number {
  const failed = failedCheck(checks);
  const master = obs.master ? addressKey(obs.master) : 'unknown';
  const plan = switchedTo
    ? [`the switchover to ${switchedTo} is done; a run would verify the source Sentinels and the old nodes and wait for '${name}' to be healthy`]
    : [
        `start '${name}' (ports from ${portBase}): 3 nodes replicating from ${master}, 3 Sentinels joining '${source.masterName}' (same passwords)`,
        `wait until every new node is in sync with ${master}`,
        `switch over: pause writes on ${master} until the best new node has caught up, then Sentinel promotes it`,
        `verify each of ${obs.knownSentinels.map(addressKey).join(', ')}, one at a time, names it under '${source.masterName}'`,
        `make ${[master, ...obs.replicas.map(addressKey)].join(', ')} replicas of the new master (unless --leave-old-nodes)`,
        `wait until '${name}' is healthy`,
      ];
  if (json) {
    console.log(JSON.stringify({ ok: !failed, dryRun: true, checks, plan, ...(failed ? { error: failed.detail } : {}) }));
  } else {
    console.log(['checks:', ...checks.map((c) => `  ${c.ok ? 'ok  ' : 'FAIL'} ${c.name.padEnd(9)} ${c.detail}`), 'plan:', ...plan.map((p, i) => `  ${i + 1}. ${p}`)].join('\n'));
  }
  if (failed) throw new UserError(`migrate: check '${failed.name}' failed: ${failed.detail}; nothing was changed`);
  return 0;
}
