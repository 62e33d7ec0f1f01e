// The commands the README's first Kubernetes section ("Kubernetes: the short path") shows, in one place: the
// tests that run them build their commands from these lines (commandArgs), and test/readme-kubernetes.test.ts
// checks that the section shows exactly these lines and that each test named here builds a command from its
// line. What a test changes in a line is passed to commandArgs by name at the test (a path, the namespace, the
// load balancers' addresses), and what it adds is written next to the call, so the difference is in sight.

export interface ReadmeCommand {
  /** The line as the README shows it (without its trailing comment). */
  readonly line: string;
  /** The test file that runs it. */
  readonly runBy: string;
}

export const README_K8S = {
  helmInstall: { line: 'helm install redis-ha-operator charts/redis-ha-operator --wait', runBy: 'test/helm-chart.test.ts' },
  renderResource: { line: 'npx redis-ha render --from-bitnami examples/bitnami-values.yaml --namespace cache --as-resource | kubectl apply -f -', runBy: 'test/e2e-brief.test.ts' },
  renderPlain: { line: 'npx redis-ha render --from-bitnami examples/bitnami-values.yaml --namespace cache | kubectl apply -f -', runBy: 'test/e2e-brief.test.ts' },
  password: { line: "export REDISCLI_AUTH=$(kubectl get secret -n cache redis -o jsonpath='{.data.redis-password}' | base64 -d)", runBy: 'test/e2e-brief.test.ts' },
  write: { line: 'redis-cli -h "$MASTER_LB" SET greeting hello', runBy: 'test/e2e-brief.test.ts' },
  read: { line: 'redis-cli -h "$REPLICAS_LB" GET greeting', runBy: 'test/e2e-brief.test.ts' },
  replication: { line: 'redis-cli -h "$MASTER_LB" INFO replication', runBy: 'test/e2e-brief.test.ts' },
  sentinelMaster: { line: 'redis-cli -h "$SENTINEL_LB" -p 26379 SENTINEL get-master-addr-by-name mymaster', runBy: 'test/e2e-brief.test.ts' },
  sentinelGroup: { line: 'redis-cli -h "$SENTINEL_LB" -p 26379 SENTINEL master mymaster', runBy: 'test/e2e-brief.test.ts' },
} as const satisfies Record<string, ReadmeCommand>;

/**
 * The words of a shell command line as sh splits them, for the simple lines above: split on unquoted blanks,
 * quotes removed (also inside a word: jsonpath='{...}' is one word). No expansion: "$MASTER_LB" is the word
 * $MASTER_LB.
 */
export function shellWords(line: string): string[] {
  const words: string[] = [];
  let word: string | undefined;
  let quote: '"' | "'" | undefined;
  for (const c of line) {
    if (quote) {
      if (c === quote) quote = undefined;
      else word = (word ?? '') + c;
    } else if (c === '"' || c === "'") {
      quote = c;
      word ??= '';
    } else if (c === ' ' || c === '\t') {
      if (word !== undefined) words.push(word);
      word = undefined;
    } else {
      word = (word ?? '') + c;
    }
  }
  if (quote) throw new Error(`unterminated ${quote} in: ${line}`);
  if (word !== undefined) words.push(word);
  return words;
}

/**
 * The stages of the line's pipeline, each as its words; a line `X=$(...)` is the pipeline inside the
 * command substitution.
 */
export function pipelineStages(line: string): string[][] {
  const sub = /^export \w+=\$\((.*)\)$/.exec(line);
  const pipeline = sub ? sub[1]! : line;
  return pipeline.split(' | ').map((stage) => shellWords(stage.trim()));
}

/**
 * The arguments the line gives `program` (`npx redis-ha` counts as `redis-ha`), each word found in `replace`
 * replaced by its value. Throws when no stage of the line runs `program`.
 */
export function commandArgs(c: ReadmeCommand, program: string, replace: Record<string, string> = {}): string[] {
  for (const stage of pipelineStages(c.line)) {
    const words = stage[0] === 'npx' ? stage.slice(1) : stage;
    if (words[0] === program) return words.slice(1).map((w) => replace[w] ?? w);
  }
  throw new Error(`no stage of the README line runs ${program}: ${c.line}`);
}

/** A line as the README check compares it: blanks collapsed, a trailing `# comment` dropped. */
export function normalizeLine(line: string): string {
  let quote: string | undefined;
  let out = '';
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (quote) {
      if (c === quote) quote = undefined;
    } else if (c === '"' || c === "'") {
      quote = c;
    } else if (c === '#' && (i === 0 || /\s/.test(line[i - 1]!))) {
      break;
    }
    out += c;
  }
  return out.replace(/\s+/g, ' ').trim();
}
