import { execFileSync } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';
import { UserError } from '../errors.ts';

export interface Binaries {
  readonly redisServer: string;
  readonly redisSentinel: string;
}

const INSTALL_HINT = 'install it (Debian: apt-get install redis-server redis-sentinel redis-tools)';

function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function onPath(command: string, env: NodeJS.ProcessEnv): string | undefined {
  for (const dir of (env.PATH ?? '').split(delimiter)) {
    if (dir && isExecutable(join(dir, command))) return join(dir, command);
  }
  return undefined;
}

function locate(command: string, explicit: string | undefined, envVar: string, env: NodeJS.ProcessEnv): string {
  const given = explicit ?? env[envVar];
  if (given) {
    if (!isExecutable(given)) throw new UserError(`${command} not found at ${given} (from ${explicit ? 'the flag' : envVar}); fix the path or ${INSTALL_HINT}`);
    return given;
  }
  const found = onPath(command, env);
  if (!found) throw new UserError(`${command} not found on PATH; ${INSTALL_HINT}, or pass its path with --${command} or ${envVar}`);
  return found;
}

/** Finds the Redis binaries: flag, then environment variable, then PATH. */
export function findBinaries(flags: { redisServer?: string; redisSentinel?: string } = {}, env: NodeJS.ProcessEnv = process.env): Binaries {
  return {
    redisServer: locate('redis-server', flags.redisServer, 'REDIS_HA_REDIS_SERVER', env),
    redisSentinel: locate('redis-sentinel', flags.redisSentinel, 'REDIS_HA_REDIS_SENTINEL', env),
  };
}

/** The version `redis-server --version` reports (`v=7.0.15` → `7.0.15`). */
export function redisServerVersion(redisServer: string): string {
  const out = execFileSync(redisServer, ['--version'], { encoding: 'utf8', timeout: 10_000 });
  const v = /v=(\d+\.\d+(?:\.\d+)?)/.exec(out)?.[1];
  if (!v) throw new UserError(`could not read the version of ${redisServer} (it printed: ${out.trim().slice(0, 80)})`);
  return v;
}
