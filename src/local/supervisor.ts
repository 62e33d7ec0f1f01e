import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, openSync, rmSync } from 'node:fs';
import { addressKey, addressOf, type Address } from '../redis/address.ts';
import type { LocalDeployment, Member } from './deployment.ts';
import { members } from './deployment.ts';
import { renderRedisConf, renderSentinelConf } from './config.ts';
import { privateDir, readJson, removeRedisDataFiles, writeJson, writePrivateFile } from './fsutil.ts';
import { filesOf } from './layout.ts';
import { childEnv, isAlive, isProcessIn, terminate } from './processes.ts';

/** What `runtime.json` records: who runs now, so `down`, `status` and a new supervisor can find them. */
export interface RuntimeRecord {
  readonly supervisorPid: number;
  readonly startedAt: string;
  readonly members: Record<string, { pid: number; startedAt: string; restarts: number }>;
}

export function readRuntime(stateDir: string): RuntimeRecord | undefined {
  return readJson<RuntimeRecord>(filesOf(stateDir).runtime);
}

/** The recorded processes of a deployment that still run (checked by pid and working directory). */
export function liveMembers(d: LocalDeployment, runtime: RuntimeRecord | undefined): Map<string, number> {
  const live = new Map<string, number>();
  if (!runtime) return live;
  for (const m of members(d)) {
    const pid = runtime.members[m.id]?.pid;
    if (pid && isProcessIn(pid, filesOf(d.stateDir).dirOf(m.id))) live.set(m.id, pid);
  }
  return live;
}

/** What the supervisor asks the topology brain before it restarts a process. */
export interface RoleAdvisor {
  /** Where a (re)starting Redis node replicates from (itself: fenced); undefined starts it as master. */
  replicaOfFor(node: Member): Promise<Address | undefined>;
  /** The master a Sentinel that lost its config file is told to monitor. */
  currentMaster(): Promise<Address>;
  /** Called once a restarted process runs, so the controller can look at once. */
  restarted(member: Member): void;
  /** Called when a process exits, before its restart: the controller looks at once. */
  exited(member: Member): void;
  /**
   * Whether a process that exited restarts without the back-off: the master the controller publishes.
   * The failover waits for it to come back fenced (rule 2c), so a back-off grown by earlier crashes
   * would only delay the failover (a second crash within the minute waited 200 ms, a fourth 800). Only
   * for a process that had run at least a second: one in a crash loop backs off all the same.
   */
  restartAtOnce(member: Member): boolean;
}

interface Managed {
  readonly member: Member;
  pid: number;
  child?: ChildProcess;
  poll?: NodeJS.Timeout;
  restarts: number;
  startedAt: number;
}

const MAX_BACKOFF_MS = 5000;
/** How long a master must have run for `RoleAdvisor.restartAtOnce` to skip the back-off. */
const AT_ONCE_AFTER_MS = 1000;

/**
 * Runs the processes of one deployment like a kubelet runs a pod's containers: starts them, restarts
 * any that exits (with a growing back-off, reset after a stable minute), and stops them on request.
 * Processes left running by a supervisor that died are adopted, not restarted: their data survives.
 */
export class Supervisor {
  readonly #d: LocalDeployment;
  readonly #log: (line: string) => void;
  readonly #advisor: RoleAdvisor;
  readonly #procs = new Map<string, Managed>();
  #stopping = false;
  // The children are unref'd (they must outlive a crash of this process), so this holds the
  // supervising process open until stop().
  #keepAlive?: NodeJS.Timeout;

  constructor(d: LocalDeployment, log: (line: string) => void, advisor: RoleAdvisor) {
    this.#d = d;
    this.#log = log;
    this.#advisor = advisor;
  }

  /**
   * Writes fresh configs and starts every process: `bootstrapMaster` as master, the other nodes
   * replicating from it. A master that is not one of our nodes (a migration's outside master) makes
   * every node a replica of it.
   */
  bootstrap(bootstrapMaster: Address): void {
    const files = filesOf(this.#d.stateDir);
    for (const m of members(this.#d)) {
      privateDir(files.dirOf(m.id));
      if (m.kind === 'node') {
        this.#prepareDataDir(m);
        const replicaOf = m.host === bootstrapMaster.host && m.port === bootstrapMaster.port ? undefined : addressOf(bootstrapMaster);
        writePrivateFile(files.configOf(m.id), renderRedisConf(this.#d, m, replicaOf));
      } else {
        rmSync(files.configOf(m.id), { force: true });
        writePrivateFile(files.configOf(m.id), renderSentinelConf(this.#d, m, addressOf(bootstrapMaster)));
      }
    }
    for (const m of members(this.#d)) this.#spawn(m, 0);
    this.#record();
    this.#keepAlive ??= setInterval(() => {}, 60_000);
  }

  /** Takes over processes that still run (by pid) and starts the ones that do not. */
  async adopt(live: Map<string, number>): Promise<void> {
    for (const m of members(this.#d)) {
      const pid = live.get(m.id);
      if (pid) {
        const managed: Managed = { member: m, pid, restarts: 0, startedAt: Date.now() };
        managed.poll = setInterval(() => {
          if (!isAlive(managed.pid)) this.#exited(managed, 'exited while adopted');
        }, 100);
        this.#procs.set(m.id, managed);
        this.#log(`adopted ${m.id} (pid ${pid})`);
      } else {
        await this.#restart(m, 0);
      }
    }
    this.#record();
    this.#keepAlive ??= setInterval(() => {}, 60_000);
  }

  /** Pids of the managed processes, by member id. */
  pids(): Map<string, number> {
    return new Map([...this.#procs].map(([id, p]) => [id, p.pid]));
  }

  /** Stops Sentinels first (so none starts a failover while nodes go down), then the nodes. */
  async stop(): Promise<void> {
    this.#stopping = true;
    clearInterval(this.#keepAlive);
    const procs = [...this.#procs.values()];
    for (const p of procs) if (p.poll) clearInterval(p.poll);
    for (const kind of ['sentinel', 'node'] as const) {
      await Promise.all(procs.filter((p) => p.member.kind === kind).map((p) => terminate(p.pid)));
    }
    this.#procs.clear();
    rmSync(filesOf(this.#d.stateDir).runtime, { force: true });
  }

  #spawn(m: Member, restarts: number): void {
    const files = filesOf(this.#d.stateDir);
    const binary = m.kind === 'node' ? this.#d.binaries.redisServer : this.#d.binaries.redisSentinel;
    // Output before Redis opens its logfile (config errors) lands in the same log, through a file
    // descriptor rather than a pipe, so the process keeps running if this supervisor dies.
    const out = openSync(files.logOf(m.id), 'a', 0o600);
    // `ip netns exec` enters the namespace and then execs the binary in place: the pid stays Redis's.
    const [command, args] = m.netns ? ['ip', ['netns', 'exec', m.netns, binary, files.configOf(m.id)]] : [binary, [files.configOf(m.id)]];
    const child = spawn(command, args, {
      cwd: files.dirOf(m.id),
      env: childEnv(),
      stdio: ['ignore', out, out],
      detached: true,
    });
    closeSync(out);
    const managed: Managed = { member: m, pid: child.pid ?? -1, child, restarts, startedAt: Date.now() };
    this.#procs.set(m.id, managed);
    child.once('error', (err) => this.#log(`${m.id} could not start: ${err.message}`));
    child.once('exit', (code, signal) => this.#exited(managed, signal ? `killed by ${signal}` : `exited with code ${code}`));
    child.unref();
  }

  #exited(managed: Managed, how: string): void {
    if (this.#stopping || this.#procs.get(managed.member.id) !== managed) return;
    if (managed.poll) clearInterval(managed.poll);
    const stableMs = Date.now() - managed.startedAt;
    const restarts = stableMs > 60_000 ? 0 : managed.restarts + 1;
    // The master restarts at once only if it had run a while: one that dies as it starts (a bad file,
    // a port taken) backs off like any other, whether or not a failover can move the role.
    const atOnce = stableMs >= AT_ONCE_AFTER_MS && this.#advisor.restartAtOnce(managed.member);
    const delay = restarts === 0 || atOnce ? 0 : Math.min(MAX_BACKOFF_MS, 100 * 2 ** (restarts - 1));
    this.#log(`${managed.member.id} (pid ${managed.pid}) ${how}; restarting in ${delay} ms`);
    this.#advisor.exited(managed.member);
    setTimeout(() => {
      if (!this.#stopping) this.#restart(managed.member, restarts).catch((err: Error) => this.#log(`restart of ${managed.member.id} failed: ${err.message}`));
    }, delay);
  }

  /**
   * A node restarts with the role the chooser gives it (never blindly as master: an empty master would
   * wipe its replicas). A Sentinel restarts from its own config file, which it keeps up to date.
   */
  async #restart(m: Member, restarts: number): Promise<void> {
    const files = filesOf(this.#d.stateDir);
    privateDir(files.dirOf(m.id));
    if (m.kind === 'node') {
      this.#prepareDataDir(m);
      const replicaOf = await this.#advisor.replicaOfFor(m);
      writePrivateFile(files.configOf(m.id), renderRedisConf(this.#d, m, replicaOf));
      this.#log(`starting ${m.id} as ${replicaOf ? `replica of ${addressKey(replicaOf)}` : 'master'}`);
    } else if (!existsSync(files.configOf(m.id))) {
      const master = await this.#advisor.currentMaster();
      writePrivateFile(files.configOf(m.id), renderSentinelConf(this.#d, m, master));
    }
    if (this.#stopping) return;
    this.#spawn(m, restarts);
    this.#record();
    setTimeout(() => this.#advisor.restarted(m), 100);
  }

  /**
   * Creates a node's data directory. With persistence off it also removes any snapshot or AOF found
   * there (left by a crash, an older version or a run with persistence on): Redis would load it at
   * start, bringing back keys deleted since and serving an old dataset as if it were current.
   */
  #prepareDataDir(m: Member): void {
    const dir = filesOf(this.#d.stateDir).dataOf(m.id);
    privateDir(dir);
    if (this.#d.spec.persistence.enabled) return;
    const removed = removeRedisDataFiles(dir);
    if (removed.length > 0) this.#log(`${m.id}: persistence is off; removed ${removed.join(', ')} from ${dir} before starting it`);
  }

  #record(): void {
    const record: RuntimeRecord = {
      supervisorPid: process.pid,
      startedAt: new Date().toISOString(),
      members: Object.fromEntries(
        [...this.#procs].map(([id, p]) => [id, { pid: p.pid, startedAt: new Date(p.startedAt).toISOString(), restarts: p.restarts }]),
      ),
    };
    writeJson(filesOf(this.#d.stateDir).runtime, record);
  }
}
