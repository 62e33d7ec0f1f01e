/** Reading a spec file: YAML (or JSON, which is YAML), defensively, with one-line errors. */
import { closeSync, openSync, readSync } from 'node:fs';
import { isScalar, parseAllDocuments } from 'yaml';
import { SpecError } from './resolve.ts';
import { kindOf } from './check.ts';

/** Spec files larger than this are refused before parsing. */
export const MAX_SPEC_FILE_BYTES = 1024 * 1024;
/** Alias expansions allowed while building the value; a billion-laughs file needs far more. */
export const MAX_YAML_ALIASES = 100;

/**
 * Reads and parses the YAML spec file at `path` and returns its top-level mapping, not yet validated
 * (pass it to `resolveSpec`). Refuses files over 1 MiB, more than one document, YAML errors and
 * warnings (duplicate keys, unknown tags), alias bombs and non-mapping top levels. Throws `SpecError`
 * whose message starts with `path` as given, e.g. `spec.yaml: not valid YAML at line 3: ...`.
 */
export function loadSpecFile(path: string): unknown {
  const fail = (problem: string): never => {
    throw new SpecError([`${path}: ${problem}`]);
  };
  return parseSpecText(readBounded(path, fail), path);
}

/**
 * Parses spec text (what `loadSpecFile` read from `source`) into its top-level mapping, not yet
 * validated. Throws `SpecError` whose message starts with `source`, and nothing else, whatever the text.
 */
export function parseSpecText(text: string, source: string): unknown {
  const fail = (problem: string): never => {
    throw new SpecError([`${source}: ${problem}`]);
  };
  if (text.length > MAX_SPEC_FILE_BYTES) return fail('too large (over 1 MiB); a spec is a few lines');

  let parsed;
  try {
    parsed = parseAllDocuments(text, { prettyErrors: true, uniqueKeys: true });
  } catch (error) {
    return fail(`not valid YAML: ${yamlMessage(firstLine(error))}`);
  }
  // A stray `---` before or after the spec makes an empty document; only real ones count.
  const docs = Array.isArray(parsed) ? parsed.filter((d) => d.errors.length > 0 || !isBlank(d.contents)) : [];
  if (docs.length === 0) return fail('top level must be a mapping (got an empty file)');
  if (docs.length > 1) return fail(`must hold one YAML document (found ${docs.length})`);
  const doc = docs[0]!;
  const problem = doc.errors[0] ?? doc.warnings[0];
  if (problem !== undefined) {
    const line = problem.linePos?.[0].line;
    const message = problem.message.split(/ at line \d+, column \d+:|\n/)[0]!;
    return fail(`not valid YAML${line !== undefined ? ` at line ${line}` : ''}: ${yamlMessage(message)}`);
  }

  let value: unknown;
  try {
    value = doc.toJS({ maxAliasCount: MAX_YAML_ALIASES });
  } catch (error) {
    if (error instanceof ReferenceError && /alias/i.test(error.message))
      return fail(`too many YAML alias expansions (limit ${MAX_YAML_ALIASES}); write the values out instead`);
    return fail(`not valid YAML: ${yamlMessage(firstLine(error))}`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    return fail(`top level must be a mapping (got ${kindOf(value)})`);
  return value;
}

function isBlank(contents: unknown): boolean {
  return contents === null || (isScalar(contents) && contents.value === null && contents.source === '');
}

/** The file's text, reading at most one byte past the limit, so pipes and huge files cost nothing. */
function readBounded(path: string, fail: (problem: string) => never): string {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (error) {
    return fail(describeFsError(error));
  }
  const buffer = Buffer.alloc(MAX_SPEC_FILE_BYTES + 1);
  let length = 0;
  try {
    while (length < buffer.length) {
      const n = readSync(fd, buffer, length, buffer.length - length, null);
      if (n === 0) break;
      length += n;
    }
  } catch (error) {
    return fail(describeFsError(error));
  } finally {
    closeSync(fd);
  }
  if (length > MAX_SPEC_FILE_BYTES) return fail('too large (over 1 MiB); a spec is a few lines');
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(buffer.subarray(0, length));
  } catch {
    return fail('not UTF-8 text');
  }
}

function describeFsError(error: unknown): string {
  const code = (error as NodeJS.ErrnoException).code;
  if (code === 'ENOENT') return 'file not found';
  if (code === 'EACCES' || code === 'EPERM') return 'permission denied';
  if (code === 'EISDIR') return 'is a directory, not a file';
  return `cannot read: ${firstLine(error)}`;
}

/** The parser's message, except that running out of stack is said plainly. */
function yamlMessage(message: string): string {
  return /call stack/i.test(message) ? 'nested too deeply' : message;
}

function firstLine(error: unknown): string {
  return (error instanceof Error ? error.message : String(error)).split('\n')[0]!;
}
