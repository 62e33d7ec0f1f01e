import { mkdirSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** Creates a directory readable only by its owner. */
export function privateDir(path: string): void {
  mkdirSync(path, { recursive: true, mode: 0o700 });
}

/** Writes a file atomically (temp + rename) with mode 0600: it may hold secrets, and readers never see half of it. */
export function writePrivateFile(path: string, content: string): void {
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, content, { mode: 0o600 });
  renameSync(tmp, path);
}

export function writeJson(path: string, value: unknown): void {
  writePrivateFile(path, `${JSON.stringify(value, null, 2)}\n`);
}

/** Reads JSON, or undefined when the file does not exist. */
export function readJson<T>(path: string): T | undefined {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  return JSON.parse(text) as T;
}

/**
 * What Redis writes into its `dir`: the snapshot, the temp files of a save or of a full sync loaded
 * through the disk, and the AOF (a directory since Redis 7, one file before).
 */
export function isRedisDataFile(name: string): boolean {
  return name === 'dump.rdb' || name === 'appendonly.aof' || name === 'appendonlydir' || /^temp-.*\.(rdb|aof)$/.test(name);
}

/** Removes the Redis data files in `dir` (persistence off: nothing may be loaded at start) and returns their names. */
export function removeRedisDataFiles(dir: string): string[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  const found = names.filter(isRedisDataFile).sort();
  for (const name of found) rmSync(join(dir, name), { recursive: true, force: true });
  return found;
}
