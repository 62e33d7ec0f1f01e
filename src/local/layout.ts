import { homedir } from 'node:os';
import { join } from 'node:path';

/** Fixed offsets from `--port-base`: one deployment owns the 30 ports starting there. */
export const PORT_OFFSETS = { node: 0, sentinel: 10, masterEndpoint: 20, replicaEndpoint: 21, http: 22 } as const;
export const PORTS_PER_DEPLOYMENT = 30;
export const DEFAULT_PORT_BASE = 6400;
export const DEFAULT_NAME = 'local';
/** Local deployments listen on loopback only. */
export const LOCAL_HOST = '127.0.0.1';

/**
 * Where deployments keep their files: `$REDIS_HA_HOME`, else `$XDG_STATE_HOME/redis-ha`,
 * else `~/.local/state/redis-ha`. One directory per deployment name below it.
 */
export function stateRoot(env: NodeJS.ProcessEnv = process.env): string {
  if (env.REDIS_HA_HOME) return env.REDIS_HA_HOME;
  const xdg = env.XDG_STATE_HOME || join(homedir(), '.local', 'state');
  return join(xdg, 'redis-ha');
}

export function stateDirFor(name: string, env: NodeJS.ProcessEnv = process.env): string {
  return join(stateRoot(env), name);
}

/** The files of one deployment, all below its state directory. */
export function filesOf(stateDir: string) {
  return {
    deployment: join(stateDir, 'deployment.json'),
    runtime: join(stateDir, 'runtime.json'),
    memory: join(stateDir, 'memory.json'),
    /** What `redis-ha migrate` recorded about the outside deployment it moves in (no secrets). */
    migration: join(stateDir, 'migration.json'),
    supervisorLog: join(stateDir, 'supervisor.log'),
    /** Where the supervisor serves the dashboard and /metrics (`{ pid, url }`), while it does. */
    http: join(stateDir, 'http.json'),
    dirOf: (member: string) => join(stateDir, member),
    configOf: (member: string) => join(stateDir, member, member.startsWith('sentinel') ? 'sentinel.conf' : 'redis.conf'),
    logOf: (member: string) => join(stateDir, member, `${member}.log`),
    dataOf: (member: string) => join(stateDir, member, 'data'),
  };
}
