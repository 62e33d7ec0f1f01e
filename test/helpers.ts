import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, readlinkSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { isPortFree } from '../src/local/ports.ts';
import { withConnection, type TlsFiles } from '../src/redis/connect.ts';
import { readRuntime } from '../src/local/supervisor.ts';
import { parseAddress as parseHostPort } from '../src/redis/address.ts';

export const BIN = fileURLToPath(new URL('../bin/redis-ha.js', import.meta.url));

export interface CliResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** A private REDIS_HA_HOME per test file, so files can run in parallel without seeing each other. */
export function testHome(): string {
  return mkdtempSync(join(tmpdir(), 'redis-ha-test-'));
}

/** Runs the real CLI (`node bin/redis-ha.js ...`) as a user would, with REDIS_HA_HOME set. */
export function runCli(home: string, args: string[], env: NodeJS.ProcessEnv = {}, timeoutMs = 60_000, whileRunning?: (child: ChildProcess) => Promise<void>): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { env: { ...process.env, REDIS_HA_HOME: home, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    // A failure of what runs beside it (a signal it sends, say) fails the call; the command is killed.
    whileRunning?.(child).catch((err: unknown) => {
      child.kill('SIGKILL');
      reject(err);
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`redis-ha ${args.join(' ')} did not finish within ${timeoutMs} ms; stderr: ${stderr}`));
    }, timeoutMs);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? -1, stdout, stderr });
    });
  });
}

/** Pids of every process whose working directory is below `dir` (Redis runs in its data dir). */
export function processesUnder(dir: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const cwd = readlinkSync(`/proc/${entry}/cwd`);
      if (cwd === dir || cwd.startsWith(`${dir}/`)) pids.push(Number(entry));
    } catch {
      // gone meanwhile, or not ours to read
    }
  }
  return pids;
}

/** Ports in [from, from+count) that something listens on (loopback). */
export async function listeningPorts(from: number, count: number): Promise<number[]> {
  const busy: number[] = [];
  for (let p = from; p < from + count; p++) if (!(await isPortFree('127.0.0.1', p))) busy.push(p);
  return busy;
}

/** Polls `probe` until it returns a value (not undefined) or the deadline passes. */
export async function eventually<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await probe();
      if (v !== undefined) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await sleep(100);
  }
}

/** `status --json` of a deployment, parsed. */
export async function statusOf<T>(home: string, name: string): Promise<T> {
  return JSON.parse((await runCli(home, ['status', '--json', '--name', name])).stdout) as T;
}

/** `password [--sentinel]` of a deployment; fails the test when the command does. */
export async function passwordOf(home: string, name: string, sentinel = false): Promise<string> {
  const r = await runCli(home, ['password', '--name', name, ...(sentinel ? ['--sentinel'] : [])]);
  if (r.code !== 0) throw new Error(`redis-ha password failed: ${r.stderr}`);
  return r.stdout.trim();
}

/** `"host:port"` (as status --json writes endpoints) → an address; throws when it is not one. */
export function parseAddress(s: string): { host: string; port: number } {
  const a = parseHostPort(s);
  if (!a) throw new Error(`"${s}" is not host:port`);
  return a;
}

/** Which node a connection to `at` reaches (through an endpoint, say): the `tcp_port` that node reports. */
export async function reachedPort(at: { host: string; port: number }, password: string, tls?: TlsFiles): Promise<number> {
  const info = (await withConnection({ ...at, password, tls }, (c) => c.info('server'))) as string;
  return Number(/tcp_port:(\d+)/.exec(info)?.[1]);
}

/**
 * The secret-hygiene scan of a running local deployment: no secret (by value; `secrets` maps what it
 * is to the value) in any process's argv, in the environment of `pids`, in a log, or in the output of
 * `status`, `status --json` and `logs`; the state directory and every file holding a secret (or
 * matching `alsoSecret`) are private. Returns how many files it scanned.
 */
export async function assertSecretsKept(o: {
  home: string;
  name: string;
  stateDir: string;
  pids: readonly number[];
  secrets: ReadonlyMap<string, string>;
  alsoSecret?: RegExp;
}): Promise<number> {
  const found = (text: string) => [...o.secrets].filter(([, secret]) => text.includes(secret)).map(([what]) => what);
  for (const pid of readdirSync('/proc').filter((e) => /^\d+$/.test(e))) {
    let argv = '';
    try {
      argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    } catch {
      continue; // gone meanwhile
    }
    assert.deepEqual(found(argv), [], `pid ${pid} (${argv.replace(/\0/g, ' ').slice(0, 80)}) has a secret in its argv`);
  }
  for (const pid of o.pids) assert.deepEqual(found(readFileSync(`/proc/${pid}/environ`, 'utf8')), [], `pid ${pid} has a secret in its environment`);

  let files = 0;
  const walk = (dir: string): void => {
    assert.equal(statSync(dir).mode & 0o077, 0, `${dir} is private`);
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) {
        walk(path);
        continue;
      }
      files++;
      const text = readFileSync(path, 'latin1');
      if (entry.name.endsWith('.log')) assert.deepEqual(found(text), [], `${path} (a log) holds a secret`);
      if (found(text).length > 0 || o.alsoSecret?.test(text)) assert.equal(statSync(path).mode & 0o077, 0, `${path} holds a secret and is readable by others`);
    }
  };
  walk(o.stateDir);

  for (const args of [['status', '--json'], ['status'], ['logs', '--lines', '1000']]) {
    const r = await runCli(o.home, [...args, '--name', o.name]);
    assert.deepEqual(found(r.stdout + r.stderr), [], `redis-ha ${args.join(' ')} prints a secret`);
  }
  return files;
}

/** The pid of a member (`node-0`, `sentinel-1`, ...) or of `supervisor`, from the deployment's runtime.json. */
export function pidOf(stateDir: string, member: string): number {
  const runtime = readRuntime(stateDir);
  if (!runtime) throw new Error(`no runtime.json in ${stateDir}: is the deployment running?`);
  return member === 'supervisor' ? runtime.supervisorPid : (runtime.members[member]?.pid ?? -1);
}

/**
 * The latest an isolated master refuses writes (NOREPLICAS), in ms after its replicas were cut off, with
 * `min-replicas-max-lag` of `maxLagS` seconds. Redis counts a replica's lag in whole seconds of its clock
 * since the replica's last acknowledgement (sent every second, so at most 1 s before the cut), a replica
 * is good while that lag is at most max-lag, and Redis recounts its good replicas once a second (the
 * replication cron). So the count drops at most max-lag + 1 s after the cut, and the recount can add a
 * second: max-lag + 2 s. (It can come as early as max-lag - 1 s.)
 */
export function refusalDeadlineMs(maxLagS: number): number {
  return (maxLagS + 2) * 1000;
}
