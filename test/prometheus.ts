/**
 * A strict parser of the Prometheus text exposition format (version 0.0.4), for tests: every line must
 * be a comment, a HELP/TYPE line or a well-formed sample, else it throws naming the line.
 */
export interface Sample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

export interface Exposition {
  readonly samples: readonly Sample[];
  /** Metric family → its TYPE (counter, gauge, histogram, summary, untyped). */
  readonly types: ReadonlyMap<string, string>;
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*/;

function parseValue(raw: string, line: string): number {
  if (raw === '+Inf') return Infinity;
  if (raw === '-Inf') return -Infinity;
  if (raw === 'NaN') return NaN;
  const n = Number(raw);
  if (raw === '' || !Number.isFinite(n)) throw new Error(`bad sample value in: ${line}`);
  return n;
}

function parseLabels(text: string, line: string): { labels: Record<string, string>; rest: string } {
  const labels: Record<string, string> = {};
  let i = 1; // after '{'
  for (;;) {
    while (text[i] === ' ' || text[i] === ',') i++;
    if (text[i] === '}') return { labels, rest: text.slice(i + 1) };
    const name = /^[a-zA-Z_][a-zA-Z0-9_]*/.exec(text.slice(i))?.[0];
    if (!name || text[i + name.length] !== '=' || text[i + name.length + 1] !== '"') throw new Error(`bad label in: ${line}`);
    i += name.length + 2;
    let value = '';
    for (;;) {
      const c = text[i];
      if (c === undefined) throw new Error(`unterminated label value in: ${line}`);
      i++;
      if (c === '"') break;
      if (c === '\\') {
        const e = text[i++];
        value += e === 'n' ? '\n' : e;
      } else value += c;
    }
    labels[name] = value;
  }
}

export function parsePrometheusText(text: string): Exposition {
  const samples: Sample[] = [];
  const types = new Map<string, string>();
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    if (line.startsWith('#')) {
      const m = /^# (HELP|TYPE) ([a-zA-Z_:][a-zA-Z0-9_:]*)(?: (.*))?$/.exec(line);
      if (m?.[1] === 'TYPE') {
        if (!['counter', 'gauge', 'histogram', 'summary', 'untyped'].includes(m[3] ?? '')) throw new Error(`bad TYPE line: ${line}`);
        if (types.has(m[2])) throw new Error(`TYPE given twice for ${m[2]}`);
        types.set(m[2], m[3]);
      }
      continue;
    }
    const name = NAME.exec(line)?.[0];
    if (!name) throw new Error(`bad sample line: ${line}`);
    let rest = line.slice(name.length);
    let labels: Record<string, string> = {};
    if (rest.startsWith('{')) ({ labels, rest } = parseLabels(rest, line));
    const [value, timestamp, extra] = rest.trim().split(/\s+/);
    if (extra !== undefined || (timestamp !== undefined && !/^-?\d+$/.test(timestamp))) throw new Error(`bad sample line: ${line}`);
    samples.push({ name, labels, value: parseValue(value ?? '', line) });
  }
  return { samples, types };
}

/** The samples of one metric whose labels include `match`. */
export function samplesOf(e: Exposition, name: string, match: Record<string, string> = {}): Sample[] {
  return e.samples.filter((s) => s.name === name && Object.entries(match).every(([k, v]) => s.labels[k] === v));
}

/** The single sample of `name` matching `match`; throws when there is none or more than one. */
export function valueOf(e: Exposition, name: string, match: Record<string, string> = {}): number {
  const found = samplesOf(e, name, match);
  if (found.length !== 1) throw new Error(`expected one sample of ${name} ${JSON.stringify(match)}, found ${found.length}`);
  return found[0].value;
}
