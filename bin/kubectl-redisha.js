#!/usr/bin/env node
// `kubectl redisha`: the kubectl plugin the package installs (kubectl finds kubectl-redisha on PATH).
const major = Number(process.versions.node.split('.')[0]);
if (major < 24) {
  process.stderr.write(`kubectl-redisha: needs Node.js 24 or newer (this is ${process.version}); install the package with npm, whose Node 24 runs it\n`);
  process.exit(1);
}
const { loadCli } = await import('./load.js');
const { main } = await loadCli('cli/kubectl-redisha');
process.exitCode = await main(process.argv.slice(2));
setTimeout(() => process.exit(), 5000).unref();
