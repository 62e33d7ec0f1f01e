import { parseArgs, type ParseArgsConfig } from 'node:util';
import { UsageError } from './errors.ts';
import { SPEC_SCHEMA } from '../spec/index.ts';
import type { StringField } from '../spec/schema.ts';
import { DEFAULT_NAME, DEFAULT_PORT_BASE } from '../local/layout.ts';

type Options = NonNullable<ParseArgsConfig['options']>;

/** Flags every command that addresses a local deployment takes. */
export const NAME_OPTIONS = {
  name: { type: 'string', short: 'n' },
  help: { type: 'boolean', short: 'h' },
} as const satisfies Options;

/**
 * Parses argv strictly: an unknown flag or a missing value is a UsageError with one clear line,
 * not node's own multi-line message.
 */
export function parse<O extends Options>(command: string, argv: string[], options: O, allowPositionals = false) {
  try {
    return parseArgs({ args: argv, options, allowPositionals, strict: true });
  } catch (err) {
    const msg = (err as Error).message.split('\n')[0].replace(/\. To specify.*$/, '');
    throw new UsageError(`${command}: ${msg}; see 'redis-ha ${command} --help'`);
  }
}

/** A flag that must be a whole number in a range, e.g. `--port-base`. */
export function intFlag(flag: string, raw: string | undefined, min: number, max: number): number | undefined {
  if (raw === undefined) return undefined;
  if (!/^-?\d+$/.test(raw)) throw new UsageError(`--${flag}: must be a whole number (got "${raw}")`);
  const n = Number(raw);
  if (n < min || n > max) throw new UsageError(`--${flag}: must be between ${min} and ${max} (got ${n})`);
  return n;
}

/** `--name`, checked by the spec's own rule for `name` (one rule, one message). */
export function nameOf(values: { name?: string }): string {
  const name = values.name ?? DEFAULT_NAME;
  const rule = SPEC_SCHEMA.fields.name as StringField;
  if (!new RegExp(rule.pattern as string).test(name)) throw new UsageError(`--name: ${rule.rule} (got "${name}")`);
  return name;
}

export function portBaseOf(raw: string | undefined): number {
  return intFlag('port-base', raw, 1024, 65535 - 30) ?? DEFAULT_PORT_BASE;
}
