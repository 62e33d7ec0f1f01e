// Issue 19: "The README's Kubernetes section starts with `helm install` of the operator, then a RedisHA, then
// Grafana/Prometheus wiring. Every shown command is run by a test." Offline: the README's first Kubernetes
// section shows exactly the command lines of README_K8S (test/readme-kubernetes.ts), in that order of steps, and
// every test file README_K8S names builds a command from the line it is named for (commandArgs of that entry).
// That those tests pass is their own business (on the test bed).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { README_K8S, commandArgs, normalizeLine, pipelineStages } from './readme-kubernetes.ts';

const REPO = join(import.meta.dirname, '..');
const readme = readFileSync(join(REPO, 'README.md'), 'utf8').split('\n');

/** The first `## Kubernetes...` section: its heading and lines, up to the next `## ` heading. */
function firstKubernetesSection(): { heading: string; lines: string[] } {
  const start = readme.findIndex((l) => /^## Kubernetes/.test(l));
  assert.ok(start >= 0, 'the README has a Kubernetes section');
  const end = readme.findIndex((l, i) => i > start && /^## /.test(l));
  return { heading: readme[start]!, lines: readme.slice(start + 1, end < 0 ? undefined : end) };
}

/** The command lines of the section's ```sh blocks: continuations joined, comments and blank lines dropped. */
function shownCommands(lines: string[]): string[] {
  const commands: string[] = [];
  let fence: string | undefined;
  let pending = '';
  for (const l of lines) {
    const open = /^```(\S*)$/.exec(l);
    if (open && fence === undefined) {
      assert.ok(['sh', 'yaml'].includes(open[1]!), `a code block of the first Kubernetes section is \`\`\`sh or \`\`\`yaml (got \`\`\`${open[1]})`);
      fence = open[1];
      continue;
    }
    if (l === '```' && fence !== undefined) {
      assert.equal(pending, '', 'no continuation line left open');
      fence = undefined;
      continue;
    }
    if (fence !== 'sh') continue;
    const joined = pending + l;
    if (/\\\s*$/.test(joined)) {
      pending = joined.replace(/\\\s*$/, ' ');
      continue;
    }
    pending = '';
    const command = normalizeLine(joined);
    if (command) commands.push(command);
  }
  assert.equal(fence, undefined, 'every code block is closed');
  return commands;
}

test('the first Kubernetes section shows exactly the commands of README_K8S', () => {
  const { lines } = firstKubernetesSection();
  const shown = shownCommands(lines);
  const expected = Object.values(README_K8S).map((c) => normalizeLine(c.line));
  assert.deepEqual([...shown].sort(), [...expected].sort());
  assert.equal(new Set(shown).size, shown.length, 'each command is shown once');
});

test('it starts with helm install of the operator, then a RedisHA from the brief\'s values file, then the Prometheus and Grafana wiring', () => {
  const { heading, lines } = firstKubernetesSection();
  const at = (what: string, pattern: RegExp) => {
    const i = lines.findIndex((l) => pattern.test(l));
    assert.ok(i >= 0, `${heading} has ${what}`);
    return i;
  };
  const shown = shownCommands(lines);
  assert.equal(shown[0], normalizeLine(README_K8S.helmInstall.line), 'the first command is helm install');
  const values = at("the brief's values file", /examples\/bitnami-values\.yaml/);
  const helm = at('helm install', /^helm install /);
  const resource = at('the RedisHA', /--as-resource \| kubectl apply/);
  const plain = at('the plain manifests beside it', /^npx redis-ha render --from-bitnami \S+ --namespace \S+ \| kubectl apply/);
  const checks = at("the brief's checks from outside", /SENTINEL get-master-addr-by-name/);
  const monitoring = at('a Prometheus and Grafana step', /^### .*Prometheus/);
  assert.ok(values < resource && helm < resource && resource < checks && plain < checks && checks < monitoring, 'in that order');
  for (const word of ['ServiceMonitor', 'PrometheusRule', 'grafana_dashboard']) at(word, new RegExp(word));
});

/** The section's ```yaml blocks, parsed. */
function shownYaml(lines: string[]): unknown[] {
  const blocks: unknown[] = [];
  for (let i = 0; i < lines.length; i++) {
    if (lines[i] !== '```yaml') continue;
    const end = lines.indexOf('```', i + 1);
    blocks.push(parse(lines.slice(i + 1, end).join('\n')));
    i = end;
  }
  return blocks;
}

/** a with b laid over it, maps merged key by key. */
function merge(a: unknown, b: unknown): unknown {
  if (typeof a !== 'object' || a === null || typeof b !== 'object' || b === null || Array.isArray(a) || Array.isArray(b)) return b;
  const out: Record<string, unknown> = { ...(a as Record<string, unknown>) };
  for (const [k, v] of Object.entries(b)) out[k] = merge(out[k], v);
  return out;
}

test("the Prometheus step's values block, with the brief's values file, labels the ServiceMonitor and the PrometheusRule; the dashboard field adds the Grafana ConfigMap", () => {
  const { lines } = firstKubernetesSection();
  const [block, ...others] = shownYaml(lines);
  assert.equal(others.length, 0, 'one values block');
  const dir = mkdtempSync(join(tmpdir(), 'redis-ha-readme-'));
  try {
    const values = join(dir, 'values.yaml');
    writeFileSync(values, stringify(merge(parse(readFileSync(join(REPO, 'examples/bitnami-values.yaml'), 'utf8')), block)));
    const spec = join(dir, 'dashboard.yaml');
    writeFileSync(spec, 'metrics: {dashboard: {enabled: true}}\n');
    const args = commandArgs(README_K8S.renderPlain, 'redis-ha', { 'examples/bitnami-values.yaml': values });
    const list = JSON.parse(execFileSync(process.execPath, [join(REPO, 'bin/redis-ha.js'), ...args, '-f', spec, '-o', 'json'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] })) as {
      items: { kind: string; metadata: { name: string; namespace: string; labels: Record<string, string> } }[];
    };
    const one = (kind: string, name: string) => {
      const found = list.items.filter((o) => o.kind === kind && o.metadata.name === name);
      assert.equal(found.length, 1, `one ${kind} ${name}`);
      return found[0]!.metadata;
    };
    for (const kind of ['ServiceMonitor', 'PrometheusRule']) {
      const m = one(kind, 'redis-metrics');
      assert.equal(m.namespace, 'monitoring', `the ${kind} is in monitoring`);
      assert.equal(m.labels.release, 'kube-prometheus-stack', `the ${kind} carries the label the README's block gives`);
    }
    const dashboard = one('ConfigMap', 'redis-dashboard');
    assert.equal(dashboard.namespace, 'cache');
    assert.equal(dashboard.labels.grafana_dashboard, '1');
    assert.ok(lines.some((l) => l.includes('`metrics.dashboard.enabled: true`')), 'the section names the field this test sets');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('each README_K8S command is built, in the test named for it, from its line', () => {
  for (const [key, c] of Object.entries(README_K8S)) {
    const source = readFileSync(join(REPO, c.runBy), 'utf8');
    assert.match(source, /from '\.\/readme-kubernetes\.ts'/, `${c.runBy} imports README_K8S`);
    assert.match(source, new RegExp(`commandArgs\\(README_K8S\\.${key}\\b`), `${c.runBy} builds a command from README_K8S.${key}`);
  }
});

test('commandArgs and pipelineStages read the lines as sh would', () => {
  assert.deepEqual(pipelineStages(README_K8S.password.line), [
    ['kubectl', 'get', 'secret', '-n', 'cache', 'redis', '-o', 'jsonpath={.data.redis-password}'],
    ['base64', '-d'],
  ]);
  assert.deepEqual(commandArgs(README_K8S.write, 'redis-cli', { $MASTER_LB: '10.0.0.1' }), ['-h', '10.0.0.1', 'SET', 'greeting', 'hello']);
  assert.deepEqual(commandArgs(README_K8S.renderResource, 'redis-ha'), ['render', '--from-bitnami', 'examples/bitnami-values.yaml', '--namespace', 'cache', '--as-resource']);
  assert.deepEqual(commandArgs(README_K8S.renderResource, 'kubectl'), ['apply', '-f', '-']);
  assert.throws(() => commandArgs(README_K8S.write, 'kubectl'), /no stage/);
  assert.equal(normalizeLine('helm  install x   # a comment'), 'helm install x');
  assert.equal(normalizeLine("echo 'a # b'  # c"), "echo 'a # b'");
});
