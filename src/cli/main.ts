import { UserError } from '../errors.ts';
import { SpecError } from '../spec/index.ts';
import { UsageError } from './errors.ts';

const HELP = `Usage: redis-ha <command> [options]

Redis master-replica replication with Sentinel failover, on this machine or on Kubernetes.

Commands:
  up         start a local HA topology (1 master, 2 replicas, 3 Sentinels by default)
  down       stop it; no process or port is left behind
  status     roles, offsets, lag, links and each Sentinel's view (--json for programs)
  password   print the password (--sentinel: the Sentinels' password)
  cli        run one Redis command on the master found through Sentinel (--replica: on a replica)
  logs       show the logs of the supervisor, nodes and Sentinels
  bench      benchmarks: 'bench failover --json'
  failover   planned switchover to a caught-up replica (--to NODE), no acknowledged write lost
  migrate    take over a running Sentinel deployment (Bitnami's, or any) with no acknowledged write lost
  proxy      run the master/replicas endpoints on their own against any Sentinel set
  render     Kubernetes manifests from a spec (-f) or a Bitnami redis values file (--from-bitnami)
  operator   run the Kubernetes operator; 'operator manifests' prints what installs it

Run 'redis-ha <command> --help' for a command's options.`;

/** Each command's module is loaded only when it runs: a long-running `proxy` carries no renderer. */
const COMMANDS: Record<string, () => Promise<(argv: string[]) => Promise<number>>> = {
  up: () => import('./commands/up.ts').then((m) => m.upCommand),
  down: () => import('./commands/down.ts').then((m) => m.downCommand),
  status: () => import('./commands/status.ts').then((m) => m.statusCommand),
  password: () => import('./commands/password.ts').then((m) => m.passwordCommand),
  cli: () => import('./commands/cli.ts').then((m) => m.cliCommand),
  logs: () => import('./commands/logs.ts').then((m) => m.logsCommand),
  bench: () => import('./commands/bench.ts').then((m) => m.benchCommand),
  failover: () => import('./commands/failover.ts').then((m) => m.failoverCommand),
  migrate: () => import('./commands/migrate.ts').then((m) => m.migrateCommand),
  proxy: () => import('./commands/proxy.ts').then((m) => m.proxyCommand),
  render: () => import('./commands/render.ts').then((m) => m.renderCommand),
  operator: () => import('./commands/operator.ts').then((m) => m.operatorCommand),
  supervise: () => import('./commands/supervise.ts').then((m) => m.superviseCommand),
};

/** Exit codes: 0 ok, 1 failed or unhealthy, 2 bad input (usage or spec), 70 internal error. */
export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command === undefined || command === 'help' || command === '--help' || command === '-h') {
    console.log(HELP);
    return command === undefined ? 2 : 0;
  }
  const run = COMMANDS[command];
  if (!run) {
    console.error(`redis-ha: unknown command '${command}'; run 'redis-ha --help' for the list`);
    return 2;
  }
  try {
    return await (await run())(rest);
  } catch (err) {
    if (err instanceof UsageError || err instanceof SpecError) {
      console.error(`redis-ha: ${err.message}`);
      return 2;
    }
    if (err instanceof UserError) {
      console.error(`redis-ha: ${err.message}`);
      return 1;
    }
    console.error(`redis-ha: internal error: ${(err as Error)?.message ?? String(err)} (set REDIS_HA_DEBUG=1 for details; please report it)`);
    if (process.env.REDIS_HA_DEBUG) console.error(err);
    return 70;
  }
}
