#!/usr/bin/env -S node --max-semi-space-size=1
// Entry point. The project brings its own Node 24 (the `node` npm package); npx and npm scripts put it
// first on PATH. Under an older Node the TypeScript sources cannot load, so say so in one line. The
// shebang's flags are NODE_FLAGS (src/root.ts), with which the supervisor and proxy workers start too.
const major = Number(process.versions.node.split('.')[0]);
if (major < 24) {
  process.stderr.write(
    `redis-ha: needs Node.js 24 or newer (this is ${process.version}); run it through npx in the project (npm ci && npx redis-ha ...), which uses the Node 24 the project installs\n`,
  );
  process.exit(1);
}
const { loadCli } = await import('./load.js');
const { main } = await loadCli('cli/main');
process.exitCode = await main(process.argv.slice(2));
// Every command has finished its work when main resolves (the long-running ones resolve on shutdown),
// so the process normally ends here at once. Should a socket or timer be left open by mistake, it
// must not keep a finished command hanging: exit anyway after a grace period.
setTimeout(() => process.exit(), 5000).unref();
