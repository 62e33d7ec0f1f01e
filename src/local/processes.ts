import { readFileSync, readlinkSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';

/** True when `pid` is a live process (not a zombie). */
export function isAlive(pid: number | undefined): boolean {
  if (!pid || pid <= 0) return false;
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

/**
 * True when `pid` is alive and runs inside `dir` (Redis changes into its `dir`, which is always below
 * the member's own folder). Guards against acting on a recycled pid after a crash or reboot.
 */
export function isProcessIn(pid: number | undefined, dir: string): boolean {
  if (!isAlive(pid)) return false;
  try {
    const cwd = readlinkSync(`/proc/${pid}/cwd`);
    return cwd === dir || cwd.startsWith(`${dir}/`);
  } catch {
    return false;
  }
}

/** Waits until `pid` is gone; false when it is still alive after `timeoutMs`. */
export async function waitForExit(pid: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (isAlive(pid)) {
    if (Date.now() > deadline) return false;
    await sleep(25);
  }
  return true;
}

/** SIGTERM, then SIGKILL after `graceMs`. Resolves once the process is gone. */
export async function terminate(pid: number, graceMs = 5000): Promise<void> {
  try {
    process.kill(pid, 'SIGTERM');
  } catch {
    return;
  }
  if (await waitForExit(pid, graceMs)) return;
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    return;
  }
  await waitForExit(pid, 5000);
}

/** Environment variables that may carry a password: never passed on to the processes we start. */
export const SECRET_ENV_VARS = ['REDIS_HA_PASSWORD', 'REDIS_HA_SENTINEL_PASSWORD', 'REDIS_HA_SOURCE_PASSWORD', 'REDIS_HA_SOURCE_SENTINEL_PASSWORD', 'REDISCLI_AUTH', 'VALKEYCLI_AUTH'] as const;

/** This process's environment without the secret-carrying variables, for child processes. */
export function childEnv(env: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  const out = { ...env };
  for (const name of SECRET_ENV_VARS) delete out[name];
  return out;
}
