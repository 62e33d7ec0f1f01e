import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';

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
