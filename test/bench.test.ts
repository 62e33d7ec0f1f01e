import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { eventually, processesUnder, runCli, testHome } from './helpers.ts';
import { stateDirFor } from '../src/local/layout.ts';
import { readRuntime } from '../src/local/supervisor.ts';
import { NODE_FLAGS } from '../src/root.ts';

// The benchmarks are not timed tests: this only runs each once, briefly, on real processes and checks
// that it prints one JSON object with its figures (numbers, no failed failover, no write lost).
const home = testHome();

/** The one JSON object a benchmark printed, and its progress lines (stderr) for an assertion's message. */
async function bench(args: string[]): Promise<Record<string, any>> {
  const r = await runCli(home, ['bench', ...args, '--json'], {}, 300_000);
  assert.equal(r.code, 0, r.stderr);
  const lines = r.stdout.trim().split('\n');
  assert.equal(lines.length, 1, 'one JSON object on one line');
  return Object.defineProperty(JSON.parse(lines[0]), 'progress', { value: r.stderr });
}

describe('benchmarks run and print JSON', () => {
  test('bench failover --trials 2 --profile fast', async () => {
    const r = await bench(['failover', '--trials', '2', '--profile', 'fast']);
    const fast = r.results.fast;
    assert.equal(fast.trials, 2);
    assert.equal(fast.failedFailovers, 0, fast.notConverged.join('; '));
    assert.equal(typeof fast.repeatedFailovers, 'number');
    assert.equal(typeof fast.sentinelClient.unavailableMs.p50, 'number');
    assert.equal(typeof fast.masterEndpoint.afterSentinelSwitchMs.p50, 'number');
    assert.equal(fast.splitBrain.roundsWithTwoWritableMasters, 0);
    // Where the time went: every step of Sentinel's failover was announced in both trials, each after the one before.
    for (const step of ['toStart', 'toPromotionSent', 'toPromotionSeen', 'toMajoritySwitch', 'toEverySwitched']) {
      assert.equal(fast.phasesMs[step].samples, 2, `${step}: ${JSON.stringify(fast.phasesMs)}; ${r.progress}`);
      assert.ok(fast.phasesMs[step].p50 >= 0, step);
    }
    // When the Sentinel clients ask first switched, in both trials.
    assert.equal(fast.firstListedSentinelSwitchedMs.samples, 2, JSON.stringify(fast.firstListedSentinelSwitchedMs));
    // The baseline, interleaved: plain Sentinel (the supervisor frozen) fails over too, and the ratio is its own.
    assert.equal(fast.plainSentinel.trials, 2);
    assert.equal(fast.plainSentinel.failedFailovers, 0);
    assert.equal(typeof fast.plainSentinel.sentinelClient.unavailableMs.p50, 'number');
    assert.equal(fast.sentinelClientP50OverPlainSentinel, Math.round((fast.sentinelClient.unavailableMs.p50 / fast.plainSentinel.sentinelClient.unavailableMs.p50) * 100) / 100);
  });

  test('bench failover interrupted while its baseline has the supervisor frozen: the deployment is removed, one line, exit 1', async () => {
    const stateDir = stateDirFor('bench-failover-fast', { REDIS_HA_HOME: home });
    /** The process's state letter in /proc (T: stopped), or undefined when it is gone. */
    const stateOf = (pid: number) => {
      try {
        return readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.[0];
      } catch {
        return undefined;
      }
    };
    let supervisor = 0;
    const r = await runCli(home, ['bench', 'failover', '--trials', '1', '--profile', 'fast', '--json'], {}, 180_000, async (child) => {
      supervisor = await eventually('the supervisor frozen for the plain-Sentinel baseline', 150_000, async () => {
        const pid = readRuntime(stateDir)?.supervisorPid;
        return pid !== undefined && stateOf(pid) === 'T' ? pid : undefined;
      });
      child.kill('SIGINT');
    });
    assert.equal(r.code, 1, r.stderr);
    assert.equal(r.stdout, '', 'no JSON from an interrupted run');
    assert.equal(r.stderr.trim().split('\n').at(-1), "redis-ha: bench interrupted (SIGINT): removed its deployment 'bench-failover-fast'");
    // Gone, or exited and not yet reaped by whoever inherited it (Z: a CI run caught it between the two).
    assert.ok(stateOf(supervisor) === undefined || stateOf(supervisor) === 'Z', `the supervisor ${supervisor} is gone (state ${stateOf(supervisor)})`);
    assert.deepEqual(processesUnder(stateDir), [], 'no Redis or Sentinel process left');
  });

  test('bench switchover --trials 2', async () => {
    const r = await bench(['switchover', '--trials', '2', '--profile', 'fast']);
    assert.equal(r.trials, 2);
    assert.ok(r.writePauseMs.p50 > 0);
    assert.equal(r.sentinelClient.acknowledgedWritesLost, 0);
    assert.equal(r.masterEndpoint.acknowledgedWritesLost, 0);
    // Where the time went: each step of Sentinel's failover, from the switchover's start.
    for (const step of ['toStart', 'toPromotionSent', 'toPromotionSeen', 'toMajoritySwitch', 'toEverySwitched']) {
      assert.equal(r.phasesMs[step].samples, 2, `${step}: ${JSON.stringify(r.phasesMs)}`);
    }
  });

  test('bench proxy --streams --runs 1 (direct, ours on both data paths, HAProxy; CPU per request)', async () => {
    const r = await bench(['proxy', '--streams', '--runs', '1', '--requests', '5000', '--idle', '200']);
    for (const depth of ['P1', 'P16', 'oneClient']) {
      for (const target of ['direct', 'ours', 'haproxy', 'up', 'oursStreams']) assert.ok(r.results[depth][target].opsPerSec > 0, `${depth} ${target}`);
      for (const target of ['ours', 'haproxy', 'up', 'oursStreams']) assert.ok(r.results[depth][target].cpuUsPerRequest > 0, `${depth} ${target} CPU per request`);
      assert.equal(r.results[depth].direct.cpuUsPerRequest, undefined, 'no proxy, no proxy CPU');
      for (const ratio of ['oursOverHaproxy', 'upOverHaproxy', 'cpuOursOverHaproxy', 'cpuUpOverHaproxy', 'oursOverOursStreams']) assert.equal(typeof r.results[depth][ratio], 'number', `${depth} ${ratio}`);
    }
    assert.equal(r.idleConnections.ours.connections, 200);
    assert.equal(r.idleConnections.oursBound.connections, 200, 'connections that spoke, bound to the master');
    assert.equal(r.idleConnections.haproxyBound.connections, 200);
  });

  test('bench footprint --runs 1: up --detach timed, and the memory of the supervisor, redis-server, a proxy worker, HAProxy and bare Node', async () => {
    const r = await bench(['footprint', '--runs', '1']);
    assert.equal(r.runs, 1);
    assert.deepEqual(r.nodeFlags, [...NODE_FLAGS]);
    assert.ok(r.upDetachWallMs.p50 > 0);
    for (const name of ['supervisor', 'redisServer', 'proxyWorker', 'haproxy', 'bareNode']) {
      const m = r.memory[name];
      assert.ok(m.rssMiB > 0 && m.anonymousMiB > 0 && m.anonymousMiB <= m.rssMiB, `${name}: ${JSON.stringify(m)}`);
    }
    // Our processes carry our code on top of Node itself.
    assert.ok(r.memory.supervisor.rssMiB > r.memory.bareNode.rssMiB, JSON.stringify(r.memory));
    for (const ratio of ['supervisorOverRedisServer', 'proxyWorkerOverHaproxy', 'supervisorOverBareNode']) assert.equal(typeof r.ratios[ratio], 'number', ratio);
  });

  test('bench proxy --tls --runs 1: the same three over TLS, and the cost of TLS', async () => {
    const r = await bench(['proxy', '--tls', '--runs', '1', '--requests', '2000', '--idle', '0']);
    for (const depth of ['P1', 'P16']) {
      for (const target of ['direct', 'ours', 'haproxy', 'directTls', 'oursTls', 'haproxyTls']) assert.ok(r.results[depth][target].opsPerSec > 0, `${depth} ${target}`);
      for (const target of ['direct', 'ours', 'haproxy']) assert.equal(typeof r.results[depth].tlsCost[target].opsPerSecRatio, 'number', `${depth} ${target}`);
    }
  });
});
