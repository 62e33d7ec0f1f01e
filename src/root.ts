import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The project's root (where package.json is), found upward from this module: the same from the
 * TypeScript sources (`src/`) and from the compiled build (`dist/src/`).
 */
function projectRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) {
    const up = dirname(dir);
    if (up === dir) throw new Error(`no package.json above ${fileURLToPath(import.meta.url)}`);
    dir = up;
  }
  return dir;
}

export const PROJECT_ROOT = projectRoot();
/** The CLI's entry point, which child processes (the supervisor, proxy workers) are started with. */
export const CLI_BIN = join(PROJECT_ROOT, 'bin', 'redis-ha.js');
