// Which build of the CLI a bin script runs: the compiled JavaScript in dist/ (`npm run build`, run by
// `npm ci` through `prepare`), when it was built after the last change to a source file; otherwise the
// TypeScript sources themselves, which Node 24 runs by stripping their types as it loads them. The
// compiled build starts in about a fifth of the time and its process is about 30 MB smaller (the
// stripper is never loaded); the sources are what a developer's edit takes effect in at once.
import { readdirSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';

const root = fileURLToPath(new URL('..', import.meta.url));

function builtAt() {
  try {
    return statSync(join(root, 'dist', '.built')).mtimeMs;
  } catch {
    return undefined;
  }
}

/**
 * Whether dist/ holds a build of the current sources: no .ts under src/ or bench/ changed since the
 * build began (its stamp is made before tsc runs and renamed to dist/.built once it succeeded).
 */
function distIsCurrent() {
  const built = builtAt();
  if (built === undefined) return false;
  for (const dir of ['src', 'bench']) {
    let files;
    try {
      files = readdirSync(join(root, dir), { recursive: true });
    } catch {
      continue; // not shipped (an image with the build only)
    }
    for (const file of files) {
      if (String(file).endsWith('.ts') && statSync(join(root, dir, String(file))).mtimeMs > built) return false;
    }
  }
  return true;
}

/** Imports `src/<path>.ts`, or its compiled `dist/src/<path>.js` when that is current. */
export function loadCli(path) {
  return distIsCurrent() ? import(join(root, 'dist', 'src', `${path}.js`)) : import(join(root, 'src', `${path}.ts`));
}
