import { UsageError } from '../errors.ts';
import { intFlag, parse, portBaseOf } from '../options.ts';
import type { TimingProfile } from '../../spec/types.ts';

export const BENCH_HELP = `Usage: redis-ha bench <failover|switchover|proxy|footprint> [options] [--json]

Each benchmark brings up its own deployment and removes it afterwards, and prints one JSON object.

  failover [--trials N] [--profile fast|default|both] [--port-base P]
      SIGKILL of the master under a steady write load, seen by an ioredis Sentinel client and by a
      client of the master endpoint: write unavailability p50/p95/max, how long after the Sentinels'
      switch the endpoint followed, acknowledged writes lost, failed failovers, split brains.
      Each kill comes 8 s after the failover before it. Each trial is followed by the baseline: the
      same kill with the supervisor frozen (SIGSTOP: no controller, no restart) and Sentinel's own INFO
      period (10 s) put back, at a random moment of it: plain Sentinel as the Sentinel client sees it,
      and the ratio of the two p50s. Port base 7800 by default.
  failover --k8s NAME [-n NAMESPACE] [--kubeconfig FILE] [--trials N] [--blocked] [--kill]
      On a cluster: N force deletes (grace 0) of the master pod of the running RedisHA NAME, each
      timed until a write through its -master Service succeeds on the new master (default 5 trials,
      Ready again before each), with the operator's crash rule on and, interleaved, off (annotation
      redis-ha.io/crash-failover: "off": the baseline). --blocked adds both again with every node
      cordoned during the trial, so the replacement pod cannot start; --kill adds both with the
      master's redis-server SIGKILLed instead (a crash: no preStop hook). Needs the ClusterIPs
      reachable from here, as on a cluster's node, (--blocked) the right to patch nodes and (--kill)
      root on the pod's node.
  switchover [--trials N] [--profile fast|default] [--port-base P]
      N planned switchovers (default 10) under a Sentinel client and a master-endpoint client: the
      write pause, when the Sentinels agreed, what each client saw, acknowledged writes lost.
      Port base 7860 by default.
  proxy [--runs N] [--requests N] [--clients N] [--idle N] [--workers N] [--port-base P] [--tls] [--streams]
      redis-benchmark (SET/GET, -c 50, -P 1 and -P 16) against the master directly, through our
      master endpoint and through HAProxy (tcp mode, role:master check), interleaved, medians of N
      runs (default 3), with the ratios; then N idle connections (default 10000), and up to 5,000
      that spoke once (so bound to the master), each count on a fresh pair of proxies (ports
      P+28, P+29), and the proxies' RSS.
      Needs redis-tools and haproxy. Port base 7830 by default. --tls adds a second deployment that
      serves TLS only (ports P+30..P+59) and measures the same three over TLS in the same interleaved
      runs (our endpoint and HAProxy pass TLS through): tlsCost is TLS over plaintext for each.
      cpuUsPerRequest is the CPU each proxy's processes spent per request. --streams adds our
      endpoint on the streams data path (REDIS_HA_DATAPATH=streams) to compare the data paths.
      'up' is the master endpoint inside the deployment's own supervisor, what 'redis-ha up' serves.
  footprint [--runs N] [--port-base P]
      N times (default 5): 'up --detach' timed from the shell to its healthy return; then a
      deployment with one 'redis-ha proxy' worker and HAProxy in front of it, idle for 10 s, and the
      resident memory of its supervisor, its master's redis-server (the baseline), the proxy worker,
      HAProxy and a bare Node.js; medians. Needs haproxy. Port base 7900 by default.`;

export async function benchCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parse(
    'bench',
    argv,
    {
      help: { type: 'boolean', short: 'h' },
      json: { type: 'boolean' },
      trials: { type: 'string' },
      profile: { type: 'string' },
      'port-base': { type: 'string' },
      runs: { type: 'string' },
      requests: { type: 'string' },
      clients: { type: 'string' },
      idle: { type: 'string' },
      workers: { type: 'string' },
      k8s: { type: 'string' },
      namespace: { type: 'string', short: 'n' },
      kubeconfig: { type: 'string' },
      tls: { type: 'boolean' },
      streams: { type: 'boolean' },
      blocked: { type: 'boolean' },
      kill: { type: 'boolean' },
    },
    true,
  );
  if (values.help) {
    console.log(BENCH_HELP);
    return 0;
  }
  const result = await runBenchmark(positionals[0], values);
  console.log(values.json ? JSON.stringify(result) : JSON.stringify(result, null, 2));
  return 0;
}

type BenchValues = Partial<Record<'trials' | 'profile' | 'port-base' | 'runs' | 'requests' | 'clients' | 'idle' | 'workers' | 'k8s' | 'namespace' | 'kubeconfig', string>> & { tls?: boolean; streams?: boolean; blocked?: boolean; kill?: boolean };

/** Runs the benchmark `name` asks for with the flags given and returns its JSON-ready result. */
async function runBenchmark(name: string | undefined, values: BenchValues): Promise<unknown> {
  const log = (line: string) => process.stderr.write(`${line}\n`);
  const portBase = (fallback: number) => (values['port-base'] ? portBaseOf(values['port-base']) : fallback);
  if (name === 'proxy') {
    const { benchProxy } = await import('../../../bench/proxy.ts');
    return benchProxy({
      runs: intFlag('runs', values.runs, 1, 100) ?? 3,
      requests: intFlag('requests', values.requests, 1000, 100_000_000) ?? 100_000,
      clients: intFlag('clients', values.clients, 1, 10_000) ?? 50,
      idle: intFlag('idle', values.idle, 0, 50_000) ?? 10_000,
      workers: intFlag('workers', values.workers, 1, 64),
      portBase: portBase(7830),
      tls: values.tls ?? false,
      streams: values.streams ?? false,
      log,
    });
  }
  if (name === 'footprint') {
    const { benchFootprint } = await import('../../../bench/footprint.ts');
    return benchFootprint({ runs: intFlag('runs', values.runs, 1, 100) ?? 5, idleMs: 10_000, portBase: portBase(7900), log });
  }
  if (name === 'switchover') {
    const profile = values.profile ?? 'default';
    if (profile !== 'fast' && profile !== 'default') throw new UsageError(`--profile: must be fast or default (got "${profile}")`);
    const { benchSwitchover } = await import('../../../bench/switchover.ts');
    return benchSwitchover({ trials: intFlag('trials', values.trials, 1, 1000) ?? 10, profile, portBase: portBase(7860), log });
  }
  if (values.blocked && values.k8s === undefined) throw new UsageError('--blocked: only with bench failover --k8s NAME (it cordons the nodes of that cluster)');
  if (values.kill && values.k8s === undefined) throw new UsageError('--kill: only with bench failover --k8s NAME (it kills the master pod\'s redis-server)');
  if (values.k8s !== undefined) {
    if (name !== 'failover') throw new UsageError(`bench: --k8s is only for 'bench failover' (got '${name ?? ''}')`);
    if (!/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/.test(values.k8s)) throw new UsageError(`--k8s: must be the name of a RedisHA resource (got "${values.k8s}")`);
    const { benchK8sFailover } = await import('../../../bench/k8s.ts');
    const { contextNamespace, loadKubeConfig } = await import('../../kubernetes/client.ts');
    const kc = loadKubeConfig(values.kubeconfig);
    return benchK8sFailover({
      kubeconfig: kc,
      namespace: values.namespace ?? contextNamespace(kc),
      name: values.k8s,
      trials: intFlag('trials', values.trials, 1, 1000) ?? 5,
      blocked: values.blocked === true,
      kill: values.kill === true,
      log,
    });
  }
  if (name !== 'failover') throw new UsageError(`bench: unknown benchmark '${name ?? ''}'; available: failover, switchover, proxy`);
  const profile = values.profile ?? 'both';
  if (!['fast', 'default', 'both'].includes(profile)) throw new UsageError(`--profile: must be one of fast, default, both (got "${profile}")`);
  const profiles: TimingProfile[] = profile === 'both' ? ['fast', 'default'] : [profile as TimingProfile];
  const { benchFailover } = await import('../../../bench/failover.ts');
  return benchFailover({ trials: intFlag('trials', values.trials, 1, 1000) ?? 20, profiles, portBase: portBase(7800), log });
}
