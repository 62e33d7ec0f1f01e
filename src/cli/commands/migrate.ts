import { rmSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { UserError } from '../../errors.ts';
import { resolveSpec } from '../../spec/index.ts';
import type { RedisHASpec } from '../../spec/types.ts';
import { findBinaries, redisServerVersion } from '../../local/binaries.ts';
import { loadDeployment, saveDeployment, type LocalDeployment } from '../../local/deployment.ts';
import { readJson, writeJson } from '../../local/fsutil.ts';
import { filesOf, stateDirFor } from '../../local/layout.ts';
import { downLocal, prepareUp, runState, spawnDetachedSupervisor, topologyOf, waitHealthy } from '../../local/lifecycle.ts';
import { observe, sentinelEndpointIn } from '../../topology/observe.ts';
import { agreedMaster } from '../../topology/observation.ts';
import { withConnection } from '../../redis/connect.ts';
import { errorText } from '../../redis/probe.ts';
import { parseReplication } from '../../redis/parse.ts';
import { type Address, addressKey, parseAddress, sameAddress } from '../../redis/address.ts';
import {
  checkSource, failedCheck, forgetGone, jointTopology, settle, observeSource, repointSentinel, sourceNodeEndpoint, sourceSentinelEndpoint, syncStates,
  type Check, type Source, type SourceObservation,
} from '../../topology/migrate.ts';
import { switchover, SwitchoverError, type SwitchoverResult } from '../../topology/switchover.ts';
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

/** The application user keeps every right the source's default user had: the old Sentinels and replicas log in as it. */
const MIGRATED_ACL_RULES = '~* &* +@all';
/** The deadline of the switchover's CLIENT PAUSE (as `redis-ha failover`): what a killed run leaves at most. */
const SWITCHOVER_PAUSE_MS = 5000;
const SWITCHOVER_TIMEOUT_MS = 60_000;
/** A new node this many bytes behind the source master counts as in sync (the switchover's pause covers the rest). */
const MAX_SYNC_LAG_BYTES = 1024 * 1024;

/** What `migration.json` holds: the source, as first seen (no secrets). */
interface MigrationRecord {
  readonly source: { readonly sentinels: readonly string[]; readonly masterName: string };
  readonly oldNodes: readonly string[];
  readonly oldSentinels: readonly string[];
  /** Each old node's `replica-priority` before the migration, restored with --leave-old-nodes. */
  readonly oldPriorities: Readonly<Record<string, string>>;
  readonly startedAt: string;
  /** When a run last started the switchover (ms since the epoch); a run killed inside it left a pause. */
  switchingAt?: number;
  switchedTo?: string;
  finishedAt?: string;
}

type StepName = 'check' | 'deploy' | 'sync' | 'switchover' | 'sentinels' | 'old-nodes' | 'healthy';
const STEPS: readonly StepName[] = ['check', 'deploy', 'sync', 'switchover', 'sentinels', 'old-nodes', 'healthy'];

interface StepRecord {
  step: StepName;
  status: 'done' | 'skipped' | 'failed';
  detail: string;
  ms: number;
}

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

function progressLine(step: StepName, text: string): string {
  return `[${STEPS.indexOf(step) + 1}/${STEPS.length} ${step}] ${text}`;
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
  const steps: StepRecord[] = [];
  const started = performance.now();
  let stepStarted = started;
  const say = (step: StepName, text: string) => process.stderr.write(`${progressLine(step, text)}\n`);
  const finish = (step: StepName, status: StepRecord['status'], detail: string) => {
    const now = performance.now();
    steps.push({ step, status, detail, ms: Math.round(now - stepStarted) });
    stepStarted = now;
    say(step, `${status === 'done' ? 'done' : status}: ${detail}`);
  };
  const fail = (step: StepName, detail: string): never => {
    finish(step, 'failed', detail);
    if (json) console.log(JSON.stringify({ ok: false, error: detail, steps }));
    throw new UserError(`migrate: ${detail}`);
  };

  const stateDir = stateDirFor(name);
  const files = filesOf(stateDir);
  let d = loadDeployment(stateDir);
  const record = readJson<MigrationRecord>(files.migration);
  if (d && !record) throw new UserError(`migrate: a deployment named '${name}' already exists and was not made by 'redis-ha migrate'; choose another --name`);
  if (record && record.source.masterName !== masterName) {
    throw new UserError(`migrate: '${name}' is a migration of master set '${record.source.masterName}', not '${masterName}'; choose another --name`);
  }
  const own = d ? [...d.nodes, ...d.sentinels] : [];
  if (values.abort) return abort(name, source, d, record, json, (line) => process.stderr.write(`[abort] ${line}\n`));
  if (values.finish) return finishMigration(name, source, d, record, json, (line) => process.stderr.write(`[finish] ${line}\n`));

  // 1. Checks.
  say('check', `asking ${sentinels.map(addressKey).join(', ')} about '${masterName}'`);
  let obs = await observeSource(source, own);
  if (d && record && runState(d).live.size > 0) {
    // A previous run may have been killed inside the switchover: let the group come to rest first.
    // Its CLIENT PAUSE ends by itself after SWITCHOVER_PAUSE_MS; a pause longer than down-after makes
    // Sentinel see the old master down (its PINGs queue behind a paused PUBLISH) and fail it over
    // itself. Watch until either has had time to happen, so we never race Sentinel's own failover.
    // (The pause may have started up to the switchover's own timeout after `switchingAt`.)
    const quiet = SWITCHOVER_PAUSE_MS + d.spec.sentinel.downAfterMilliseconds + 2000;
    const quietAt = Math.min((record.switchingAt ?? 0) + SWITCHOVER_TIMEOUT_MS + quiet, Date.now() + quiet);
    const failoverMs = d.spec.sentinel.failoverTimeout;
    const dd = d;
    const rest = () => settle(jointOf(source, dd, record, obs), Math.max(30_000, 2 * failoverMs), (line) => say('check', line))
      .catch((err: unknown) => fail('check', `${errorText(err)}; nothing was changed; run again`));
    let settled = await rest();
    if (!record.switchedTo && Date.now() < quietAt) {
      // Meanwhile keep fencing: an old master whose pause has ended while the Sentinels name our node
      // would otherwise acknowledge writes that are lost when Sentinel demotes it.
      say('check', `a previous run was killed inside the switchover; watching ${Math.ceil((quietAt - Date.now()) / 1000)} s for its write pause to end and Sentinel to act on it`);
      while (Date.now() < quietAt) {
        await sleep(100);
        settled = await rest();
      }
    }
    say('check', `resuming '${name}': the Sentinels are at rest and name ${addressKey(settled)}`);
    if (!d.nodes.some((n) => sameAddress(n, settled))) await resetPriorities(d, record);
    obs = await observeSource(source, own);
  }
  const switchedTo = d && obs.master ? d.nodes.find((n) => sameAddress(n, obs.master)) : undefined;
  const bin = findBinaries({ redisServer: values['redis-server'], redisSentinel: values['redis-sentinel'] });
  const checks: Check[] = switchedTo ? [] : checkSource(source, obs, redisServerVersion(bin.redisServer));
  if (values['dry-run']) return dryRun(source, name, portBase, obs, checks, switchedTo?.id, json);
  if (switchedTo) {
    finish('check', 'skipped', `the source Sentinels already name ${switchedTo.id} (${addressKey(switchedTo)}) of '${name}': the switchover is done; resuming after it`);
  } else {
    for (const c of checks) if (c.ok) say('check', `${c.name}: ${c.detail}`);
    const failed = failedCheck(checks);
    if (failed) fail('check', `check '${failed.name}' failed: ${failed.detail}; nothing was changed`);
    finish('check', 'done', `all ${checks.length} checks passed`);
  }
  const sourceMaster = obs.master as Address;

  // 2. The new deployment, following the source master.
  if (switchedTo) {
    finish('deploy', 'skipped', `'${name}' exists`);
  } else {
    d = await deploy(name, portBase, bin, source, obs, d, record, (line) => say('deploy', line));
    finish('deploy', 'done', `'${name}' runs ${d.nodes.length} nodes replicating from ${addressKey(sourceMaster)} and ${d.sentinels.length} Sentinels in the '${masterName}' group (ports from ${d.portBase})`);
  }
  const dep = d as LocalDeployment;
  const rec = readJson<MigrationRecord>(files.migration) as MigrationRecord;
  const appAuth = dep.users.application;

  // 3. Sync.
  let target = switchedTo;
  if (!switchedTo) {
    const deadline = Date.now() + syncTimeoutMs;
    let last = '';
    for (;;) {
      obs = await observeSource(source, [...dep.nodes, ...dep.sentinels]);
      if (obs.master && dep.nodes.some((n) => sameAddress(n, obs.master))) break; // Sentinel switched meanwhile (a source failover to one of ours)
      const master = obs.master ?? sourceMaster;
      const states = await syncStates(sourceNodeEndpoint(source, master), dep.nodes.map((n) => ({ id: n.id, endpoint: { ...appAuth, host: n.host, port: n.port } }))).catch(() => []);
      const synced = states.filter((s) => s.linkUp && s.lagBytes <= MAX_SYNC_LAG_BYTES);
      const line = `${synced.length} of ${dep.nodes.length} nodes in sync with ${addressKey(master)}${states.filter((s) => !s.linkUp || s.lagBytes > MAX_SYNC_LAG_BYTES).map((s) => `; ${s.id} ${s.following ? (s.linkUp ? `${s.lagBytes} bytes behind` : 'link down (syncing)') : 'not following yet'}`).join('')}`;
      if (line !== last) say('sync', line);
      last = line;
      if (states.length > 0 && synced.length === dep.nodes.length) {
        target = dep.nodes.find((n) => sameAddress(n, [...states].sort((a, b) => a.lagBytes - b.lagBytes)[0].address));
        break;
      }
      if (Date.now() > deadline) fail('sync', `lag: ${line} after ${syncTimeoutMs / 1000} s; nothing was switched over (run again to keep waiting, or with --abort to roll back)`);
      await sleep(200);
    }
    finish('sync', 'done', `every node of '${name}' is in sync with the source master`);
  } else {
    finish('sync', 'skipped', 'after the switchover');
  }

  // 4. Switchover.
  const joint = (o: SourceObservation) => jointOf(source, dep, rec, o);
  let result: SwitchoverResult | undefined;
  if (!switchedTo && target && !(obs.master && sameAddress(obs.master, target))) {
    const t = joint(obs);
    rec.switchingAt = Date.now();
    writeJson(files.migration, rec);
    try {
      result = await switchover(t, { to: target, timeoutMs: SWITCHOVER_TIMEOUT_MS, pauseMs: SWITCHOVER_PAUSE_MS, log: (line) => say('switchover', line) });
    } catch (err) {
      // It ended cleanly (writes unpaused): nothing for the next run to wait out.
      rec.switchingAt = undefined;
      writeJson(files.migration, rec);
      if (err instanceof SwitchoverError) fail('switchover', `switchover: ${err.message}; run again to retry`);
      throw err;
    }
    finish('switchover', 'done', `${result.from.id} (${addressKey(result.from)}) -> ${result.to.id} (${addressKey(result.to)}); writes paused ${result.writePauseMs} ms, Sentinels agreed after ${result.sentinelsAgreedMs} ms`);
  } else {
    finish('switchover', 'skipped', `${target?.id ?? 'a node of ours'} is already the master`);
  }
  obs = await observeSource(source, [...dep.nodes, ...dep.sentinels]);
  const newMaster = dep.nodes.find((n) => sameAddress(n, obs.master)) ?? target;
  if (!newMaster) fail('switchover', `the source Sentinels name ${obs.master ? addressKey(obs.master) : 'no master'}, not a node of '${name}'; run again`);
  const nm = newMaster as NonNullable<typeof newMaster>;
  rec.switchedTo = addressKey(nm);
  writeJson(files.migration, rec);

  // 5. The source's Sentinels, one at a time, verified.
  const t = joint(obs);
  const oldSentinels = t.sentinels.filter((s) => s.id.startsWith('old-'));
  const repointed: string[] = [];
  for (const s of oldSentinels) {
    try {
      const how = await repointSentinel(t, s, nm, 5000, 2 * dep.spec.sentinel.failoverTimeout + 5000);
      repointed.push(`${addressKey(s)} ${how}`);
      say('sentinels', `${addressKey(s)} names ${nm.id} (${addressKey(nm)}) under '${masterName}' (${how === 'named' ? 'already' : how === 'followed' ? 'followed by itself' : 're-pointed'})`);
    } catch (err) {
      const detail = errorText(err);
      // An old Sentinel that is down cannot be re-pointed now; it follows by itself (newer config epoch) once back.
      if (/ECONNREFUSED|timeout|ETIMEDOUT|EHOSTUNREACH/i.test(detail)) say('sentinels', `${addressKey(s)} does not answer (${detail}); once back it follows the group's newer configuration`);
      else fail('sentinels', `could not make source Sentinel ${addressKey(s)} name ${addressKey(nm)}: ${detail}; run again`);
    }
  }
  finish('sentinels', 'done', `${repointed.length} of ${oldSentinels.length} source Sentinels name ${nm.id} under '${masterName}'`);

  // 6. The old nodes.
  const oldNodes = t.nodes.filter((n) => n.id.startsWith('old-'));
  if (values['leave-old-nodes']) {
    for (const n of oldNodes) {
      const was = rec.oldPriorities[addressKey(n)];
      if (was !== undefined) await withConnection({ ...appAuth, ...n }, (c) => c.call('CONFIG', 'SET', 'replica-priority', was)).catch(() => undefined);
    }
    finish('old-nodes', 'done', `left as they are (replica-priority as before): ${oldNodes.map(addressKey).join(', ') || 'none'}`);
  } else {
    const deadline = Date.now() + 60_000;
    for (const n of oldNodes) {
      const e = { ...appAuth, host: n.host, port: n.port };
      for (;;) {
        try {
          const r = await withConnection(e, async (c) => {
            // Never promoted back by Sentinel: they are to be removed.
            await c.call('CONFIG', 'SET', 'replica-priority', '0');
            const now = parseReplication(String(await c.call('INFO', 'replication')));
            if (now.role !== 'replica' || now.masterHost !== nm.host || now.masterPort !== nm.port) await c.call('REPLICAOF', nm.host, String(nm.port));
            return now;
          });
          if (r.role === 'replica' && r.masterHost === nm.host && r.masterPort === nm.port && r.linkUp) break;
        } catch (err) {
          if (Date.now() > deadline) {
            say('old-nodes', `${addressKey(n)} does not answer (${errorText(err)}); Sentinel makes it a replica of ${nm.id} once it is back`);
            break;
          }
        }
        if (Date.now() > deadline) fail('old-nodes', `old node ${addressKey(n)} is not in sync with ${addressKey(nm)} after 60 s; run again`);
        await sleep(200);
      }
      say('old-nodes', `${addressKey(n)} is a replica of ${nm.id} (replica-priority 0)`);
    }
    finish('old-nodes', 'done', `${oldNodes.length} old nodes replicate from ${nm.id}`);
  }

  // 7. The new deployment on its own feet.
  const priority = dep.spec.redisConfig['replica-priority'] ?? '100';
  for (const n of dep.nodes) await withConnection({ ...appAuth, host: n.host, port: n.port }, (c) => c.call('CONFIG', 'SET', 'replica-priority', priority)).catch(() => undefined);
  saveDeployment(asMigration(dep, undefined));
  const pid = runState(dep).supervisorPid;
  if (!pid) fail('healthy', `the supervisor of '${name}' is not running; run again`);
  const status = await waitHealthy(dep, pid as number, 60_000, (line) => say('healthy', line)).catch((err: unknown) => fail('healthy', errorText(err)));
  rec.finishedAt ??= new Date().toISOString();
  writeJson(files.migration, rec);
  finish('healthy', 'done', `'${name}' is healthy, master ${nm.id} (${addressKey(nm)})`);

  const leftovers = {
    oldNodes: oldNodes.map(addressKey),
    oldSentinels: oldSentinels.map(addressKey),
    oldNodesSafeToRemove: values['leave-old-nodes'] ? 'once no client reads from them: they may hold writes made before the switchover only' : 'now: they are replicas of the new master and hold nothing it lacks',
    oldSentinelsSafeToRemove: `once no application asks them any more (they name ${addressKey(nm)} under '${masterName}', as the new Sentinels do); after stopping them, run this command again with --finish (SENTINEL RESET on each Sentinel of '${name}', one at a time), so the group stops counting them`,
  };
  if (json) {
    console.log(JSON.stringify({ ok: true, name, masterName, master: { id: nm.id, host: nm.host, port: nm.port }, switchover: result ?? null, steps, leftovers, healthy: status.healthy, stateDir }));
  } else {
    console.log([
      `migrated '${masterName}' into '${name}': master ${nm.id} (${addressKey(nm)})${result ? `, writes paused ${result.writePauseMs} ms` : ''}`,
      `  new Sentinels  ${dep.sentinels.map(addressKey).join(', ')}  (master set '${masterName}'; the old ones name the same master)`,
      `  left to remove:`,
      `    old nodes      ${leftovers.oldNodes.join(', ') || 'none'}: safe to remove ${leftovers.oldNodesSafeToRemove}`,
      `    old Sentinels  ${leftovers.oldSentinels.join(', ') || 'none'}: safe to remove ${leftovers.oldSentinelsSafeToRemove}`,
    ].join('\n'));
  }
  return 0;
}

/** The joint topology of the source (as recorded and as seen now) and the new deployment. */
function jointOf(source: Source, d: LocalDeployment, rec: MigrationRecord, o: SourceObservation) {
  const timings = d.spec.sentinel;
  const unique = (as: Address[]) => [...new Map(as.map((a) => [addressKey(a), a])).values()];
  return jointTopology({
    source,
    sourceNodes: unique([...rec.oldNodes.map((k) => parseAddress(k) as Address), ...(o.master ? [o.master] : []), ...o.replicas]),
    sourceSentinels: unique([...rec.oldSentinels.map((k) => parseAddress(k) as Address), ...o.knownSentinels]),
    ownNodes: d.nodes,
    ownSentinels: d.sentinels,
    quorum: d.spec.quorum,
    timings: { downAfterMilliseconds: timings.downAfterMilliseconds, failoverTimeout: timings.failoverTimeout, parallelSyncs: timings.parallelSyncs },
  });
}

/**
 * Every node's `replica-priority` as it should be outside a switchover: ours as configured, the old
 * nodes as recorded before the migration. A run killed inside the switchover leaves the target at 1 and
 * the others at 0; the next switchover would keep those as the "original" values.
 */
async function resetPriorities(d: LocalDeployment, rec: MigrationRecord): Promise<void> {
  const app = d.users.application;
  const configured = d.spec.redisConfig['replica-priority'] ?? '100';
  const wanted: [Address, string][] = [
    ...d.nodes.map((n): [Address, string] => [n, configured]),
    ...Object.entries(rec.oldPriorities).map(([k, v]): [Address, string] => [parseAddress(k) as Address, v]),
  ];
  for (const [a, priority] of wanted) await withConnection({ ...app, host: a.host, port: a.port }, (c) => c.call('CONFIG', 'SET', 'replica-priority', priority)).catch(() => undefined);
}

/** Starts, adopts or reuses the new deployment, following the source master. */
async function deploy(
  name: string,
  portBase: number,
  bin: { redisServer: string; redisSentinel: string },
  source: Source,
  obs: SourceObservation,
  existing: LocalDeployment | undefined,
  record: MigrationRecord | undefined,
  log: (line: string) => void,
): Promise<LocalDeployment> {
  const stateDir = stateDirFor(name);
  const files = filesOf(stateDir);
  const from = obs.master as Address;
  if (existing) {
    const { supervisorPid } = runState(existing);
    if (supervisorPid) {
      log(`reusing '${name}' started by a previous run (supervisor pid ${supervisorPid})`);
      return existing;
    }
  }
  const spec = migratedSpec(name, source, obs);
  const prepared = await prepareUp({ spec, portBase: existing?.portBase ?? portBase, binaries: bin, passwordsGiven: { password: true, sentinelPassword: true } });
  const d = asMigration(prepared.deployment, prepared.kind === 'adopt' ? existing?.bootstrapFrom ?? from : from);
  if (prepared.kind === 'fresh') rmSync(files.memory, { force: true });
  saveDeployment(d);
  if (!record) {
    const oldNodes = [from, ...obs.replicas];
    const oldPriorities: Record<string, string> = {};
    for (const n of oldNodes) {
      const p = await withConnection(sourceNodeEndpoint(source, n), (c) => c.call('CONFIG', 'GET', 'replica-priority'), 1000).catch(() => undefined);
      if (Array.isArray(p) && p.length === 2) oldPriorities[addressKey(n)] = String(p[1]);
    }
    const rec: MigrationRecord = {
      source: { sentinels: source.sentinels.map(addressKey), masterName: source.masterName },
      oldNodes: oldNodes.map(addressKey),
      oldSentinels: obs.knownSentinels.map(addressKey),
      oldPriorities,
      startedAt: new Date().toISOString(),
    };
    writeJson(files.migration, rec);
  }
  log(prepared.kind === 'adopt' ? `adopting the running processes of '${name}'` : `starting '${name}': ${d.nodes.length} nodes following ${addressKey(from)}, ${d.sentinels.length} Sentinels joining '${source.masterName}'`);
  const pid = spawnDetachedSupervisor(d);
  // Until it has recorded itself, 'down' and '--abort' could not find it.
  const deadline = Date.now() + 30_000;
  while (runState(d).supervisorPid !== pid) {
    if (Date.now() > deadline) throw new UserError(`migrate: the supervisor of '${name}' did not start within 30 s; see 'redis-ha logs --name ${name}'`);
    await sleep(50);
  }
  return d;
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
  const own = (a: Address) => d.sentinels.some((m) => sameAddress(m, a));
  const old = [...new Map([...record.oldSentinels.map((k) => parseAddress(k) as Address), ...source.sentinels].filter((a) => !own(a)).map((a) => [addressKey(a), a])).values()];
  for (const s of old) {
    const running = await withConnection(sourceSentinelEndpoint(source, s), (c) => c.call('PING'), 1000).then(() => true, (err: unknown) => !/ECONNREFUSED/.test(errorText(err)));
    if (running) throw new UserError(`migrate --finish: the old Sentinel ${addressKey(s)} still runs; stop it first (safe once no application asks it)`);
  }
  const t = topologyOf(d);
  const master = agreedMaster(await observe(t));
  if (!master || !d.nodes.some((n) => sameAddress(n, master))) {
    throw new UserError(`migrate --finish: the Sentinels of '${name}' do not agree on one of its nodes as master; see 'redis-ha status --name ${name}'`);
  }
  for (const s of d.sentinels) {
    try {
      await forgetGone(sentinelEndpointIn(t, s), d.masterName, { master, otherSentinels: d.sentinels.length - 1, replicas: d.nodes.length - 1 }, 30_000);
      say(`${s.id} (${addressKey(s)}) forgot the old members: it names ${addressKey(master)} and sees ${d.sentinels.length - 1} other Sentinels`);
    } catch (err) {
      throw new UserError(`migrate --finish: ${errorText(err)}; run --finish again`);
    }
  }
  const line = `finished: the Sentinels of '${name}' count only each other (${d.sentinels.length}); the old ones (${old.map(addressKey).join(', ')}) are forgotten`;
  console.log(json ? JSON.stringify({ ok: true, finished: true, master, forgotten: old.map(addressKey) }) : line);
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
