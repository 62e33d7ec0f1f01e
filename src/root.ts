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
/**
 * Node's flags for every process of ours (`bin/redis-ha.js`'s shebang carries the same, for commands run
 * through npx; the supervisor and proxy workers are started with them). V8's young generation is capped
 * at 1 MiB per semi-space instead of growing to 16 MiB: the supervisor went from 91 to 79 MiB RSS idle
 * and a proxy worker from 96 to 84 MiB after load, and in an interleaved A/B of two proxies (5 runs each,
 * 2026-12-05) throughput stayed within the noise (-P 1: 0.97 x, -P 16: 1.00 x). `bench footprint`
 * measures it.
 */
export const NODE_FLAGS: readonly string[] = ['--max-semi-space-size=1'];
