/**
 * Checking input against a field table from schema.ts: types, ranges, patterns, unknown keys, and the
 * table's static defaults. Rules that span fields live in resolve.ts.
 */
import type { Field, ListField, ObjectField, StringField, StringMapField } from './schema.ts';
import { closeNames } from './suggest.ts';

/** The result of checking input against a field table: defaults applied to absent fields. */
export interface Checked {
  /** The input with static defaults applied; invalid fields are left out. Undefined when not a mapping. */
  readonly value: Record<string, unknown> | undefined;
  /** One-line messages; per mapping, unknown keys first, then the fields in table order. */
  readonly problems: string[];
  /** Paths (`sentinel.profile`) that were given but invalid, so cross-field rules can skip them. */
  readonly invalid: Set<string>;
}

/**
 * Checks `input` (a root mapping) against an object field table. `null` counts as absent, as an empty
 * YAML value (`auth:`) gives null. Unknown keys are problems, with a suggestion when one is close.
 */
export function checkFields(schema: ObjectField, input: unknown): Checked {
  const problems: string[] = [];
  const invalid = new Set<string>();
  const report = (path: string, message: string): void => {
    problems.push(`${path}: ${message}`);
    invalid.add(path);
  };
  if (!isMapping(input)) {
    problems.push(`spec: must be a mapping (got ${describe(input)})`);
    return { value: undefined, problems, invalid };
  }
  return { value: checkObject(schema, input, '', report), problems, invalid };
}

type Report = (path: string, message: string) => void;

function checkObject(schema: ObjectField, input: unknown, prefix: string, report: Report): Record<string, unknown> | undefined {
  if (!isMapping(input)) {
    report(prefix, `must be a mapping (got ${describe(input)})`);
    return undefined;
  }
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(input)) {
    if (!Object.hasOwn(schema.fields, key)) {
      const near = closeNames(key, Object.keys(schema.fields));
      report(join(prefix, key), near.length ? `unknown field (did you mean ${near.join(' or ')}?)` : 'unknown field');
    }
  }
  for (const [key, field] of Object.entries(schema.fields)) {
    const path = join(prefix, key);
    const given = Object.hasOwn(input, key) ? input[key] : undefined;
    if (given === undefined || given === null) {
      if (schema.required?.includes(key)) report(path, 'must be set');
      else if (field.kind === 'object') out[key] = checkObject(field, {}, path, report);
      else if ('default' in field && field.default !== undefined) out[key] = field.default;
      continue;
    }
    const checked = checkValue(field, given, path, report);
    if (checked !== undefined) out[key] = checked;
  }
  return out;
}

/** The checked value, or undefined after reporting why it is wrong. */
function checkValue(field: Field, given: unknown, path: string, report: Report): unknown {
  const reject = (message: string): undefined => {
    report(path, message);
    return undefined;
  };
  switch (field.kind) {
    case 'object':
      return checkObject(field, given, path, report);
    case 'integer':
      if (typeof given !== 'number') return reject(`must be an integer (got ${describe(given)})`);
      // NaN, infinities, fractions and out-of-range numbers all get the range rule.
      if (!Number.isInteger(given) || given < field.min || given > field.max)
        return reject(`must be an integer between ${field.min} and ${field.max} (got ${describe(given)})`);
      return given;
    case 'boolean':
      if (typeof given !== 'boolean') return reject(`must be true or false (got ${describe(given)})`);
      return given;
    case 'enum':
      if (typeof given !== 'string' || !field.values.includes(given))
        return reject(`must be one of ${field.values.join(', ')} (got ${describe(given)})`);
      return given;
    case 'string':
      return checkString(field, given, path, report);
    case 'stringMap':
      return checkStringMap(field, given, path, report);
    case 'list':
      return checkList(field, given, path, report);
  }
}

function checkList(field: ListField, given: unknown, path: string, report: Report): string[] | undefined {
  if (!Array.isArray(given)) {
    report(path, `must be a list (got ${describe(given)})`);
    return undefined;
  }
  if (given.length > field.maxItems) {
    report(path, `must have at most ${field.maxItems} entries (got ${given.length})`);
    return undefined;
  }
  const out: string[] = [];
  let ok = true;
  given.forEach((item, i) => {
    const checked = checkString(field.items, item, `${path}[${i}]`, (p, m) => {
      ok = false;
      report(p, m);
    });
    if (checked !== undefined) out.push(checked);
  });
  return ok ? out : undefined;
}

function checkString(field: StringField, given: unknown, path: string, report: Report): string | undefined {
  if (typeof given !== 'string') {
    // A mistyped secret (a number, say) is still a secret: name its type only.
    const got = field.secret ? kindOf(given) : describe(given);
    report(path, `must be a string (got ${got})`);
    return undefined;
  }
  const got = field.secret ? '' : ` (got ${describe(given)})`;
  const length = [...given].length;
  if (field.pattern !== undefined && !new RegExp(field.pattern).test(given)) {
    report(path, `${field.rule ?? `must match ${field.pattern}`}${got}`);
  } else if (field.minLength !== undefined && length < field.minLength) {
    report(path, `must be at least ${field.minLength} characters (got ${length})`);
  } else if (field.maxLength !== undefined && length > field.maxLength) {
    report(path, `must be at most ${field.maxLength} characters (got ${length})`);
  } else {
    return given;
  }
  return undefined;
}

function checkStringMap(field: StringMapField, given: unknown, path: string, report: Report): Record<string, string> | undefined {
  if (!isMapping(given)) {
    report(path, `must be a mapping (got ${describe(given)})`);
    return undefined;
  }
  const out: Record<string, string> = {};
  const spelledAs = new Map<string, string>();
  let ok = true;
  const fail = (entryPath: string, message: string): void => {
    report(entryPath, message);
    ok = false;
  };
  for (const [rawKey, raw] of Object.entries(given)) {
    const key = field.normalizeKey(rawKey);
    const entryPath = join(path, key);
    const earlier = spelledAs.get(key);
    if (earlier !== undefined) {
      fail(entryPath, `given more than once (as ${showKey(earlier)} and ${showKey(rawKey)})`);
      continue;
    }
    spelledAs.set(key, rawKey);
    let text: string;
    if (typeof raw === 'string') text = raw;
    else if (typeof raw === 'number' && Number.isFinite(raw)) text = String(raw);
    else if (typeof raw === 'boolean') {
      fail(entryPath, `must be a string or a number (got ${raw}; Redis wants yes or no)`);
      continue;
    } else {
      fail(entryPath, `must be a string or a number (got ${describe(raw)})`);
      continue;
    }
    const keyProblem = field.checkEntry(key, text);
    if (keyProblem !== undefined) fail(entryPath, keyProblem);
    else if (/[\x00-\x1f\x7f]/.test(text)) fail(entryPath, 'must not contain newlines or control characters');
    else if (text.length > field.maxValueLength)
      fail(entryPath, `must be at most ${field.maxValueLength} characters (got ${text.length})`);
    else out[key] = text;
  }
  return ok ? out : undefined;
}

/** A value as shown in messages: strings quoted (and cut when long), collections named. */
export function describe(value: unknown): string {
  if (typeof value === 'string') {
    const chars = [...value];
    return chars.length > 60 ? `${JSON.stringify(chars.slice(0, 40).join(''))}... (${chars.length} characters)` : JSON.stringify(value);
  }
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return kindOf(value);
}

/** A value's kind with an article, never its content: `a list`, `a number`. */
export function kindOf(value: unknown): string {
  if (value === null || value === undefined) return 'nothing';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a mapping';
  if (typeof value === 'string') return 'a string';
  if (typeof value === 'number') return 'a number';
  if (typeof value === 'boolean') return 'a boolean';
  return `a ${typeof value}`;
}

function isMapping(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A field path for messages. Odd keys are quoted and cut, so a message stays one short line. */
function join(prefix: string, key: string): string {
  return prefix === '' ? showKey(key) : `${prefix}.${showKey(key)}`;
}

function showKey(key: string): string {
  return /^[A-Za-z0-9_-]{1,64}$/.test(key) ? key : describe(key);
}
