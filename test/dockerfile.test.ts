// The Dockerfile, built and run. No container registry is reachable here, so scripts/build-image.sh
// first makes the two base images the Dockerfile names from host files (scripts/image-bases.sh), then
// builds the Dockerfile as it is with podman (Debian's) on the project's own storage (scripts/podman,
// /var/cache/redis-ha/podman). The image is then run as the operator's Deployment runs it: its own user,
// a read-only root filesystem with nothing writable mounted, and here no network at all.
// Under CI a missing podman (or not being root) fails the tests; elsewhere it skips them.
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { REDIS_HA_IMAGE } from '../src/spec/images.ts';
import { eventually } from './helpers.ts';
import { REPO, redisHa } from './testbed-kube.ts';

const exec = promisify(execFile);
const PODMAN = join(REPO, 'scripts/podman');
const DISTROLESS = 'gcr.io/distroless/nodejs24-debian12:nonroot';

const missing =
  spawnSync('podman', ['--version']).status !== 0
    ? 'podman is not installed (Debian: apt-get install podman; .ci/run installs it)'
    : process.getuid?.() !== 0
      ? 'the image is built with rootful podman: run as root'
      : undefined;
if (missing && process.env.CI) {
  test('the Dockerfile is built under CI', () => assert.fail(missing));
}

async function podman(args: string[], timeout = 120_000): Promise<string> {
  const { stdout } = await exec(PODMAN, args, { maxBuffer: 64 << 20, timeout });
  return stdout;
}
/** The image's Node, run as the image's user on a read-only root filesystem, with no network. */
async function nodeInImage(script: string): Promise<string> {
  return podman(['run', '--rm', '--network', 'none', '--read-only', '--read-only-tmpfs=false', '--entrypoint', '/nodejs/bin/node', REDIS_HA_IMAGE, '-e', script]);
}

describe('the Dockerfile', { skip: missing ?? false }, () => {
  before(async () => {
    try {
      await exec('bash', [join(REPO, 'scripts/build-image.sh'), REDIS_HA_IMAGE], { maxBuffer: 64 << 20, timeout: 1_800_000 });
    } catch (err) {
      const e = err as { stdout?: string; stderr?: string; message: string };
      throw new Error(`scripts/build-image.sh failed: ${e.message}\n${e.stdout ?? ''}\n${e.stderr ?? ''}`);
    }
  });

  test('the image runs as 65532 from /app: Node 24 on bin/redis-ha.js, the operator by default, port 8080', async () => {
    const [image] = JSON.parse(await podman(['image', 'inspect', REDIS_HA_IMAGE])) as Array<{
      Config: { User: string; WorkingDir: string; Entrypoint: string[]; Cmd: string[]; Env: string[]; ExposedPorts: Record<string, unknown> };
      RootFS: { Layers: string[] };
    }>;
    assert.equal(image!.Config.User, '65532:65532');
    assert.equal(image!.Config.WorkingDir, '/app');
    assert.deepEqual(image!.Config.Entrypoint, ['/nodejs/bin/node', 'bin/redis-ha.js']);
    assert.deepEqual(image!.Config.Cmd, ['operator']);
    assert.ok(image!.Config.Env.includes('NODE_ENV=production'), image!.Config.Env.join(' '));
    assert.deepEqual(Object.keys(image!.Config.ExposedPorts), ['8080/tcp']);
    // Built on the runtime base the Dockerfile names (here the stand-in of scripts/image-bases.sh).
    const [base] = JSON.parse(await podman(['image', 'inspect', DISTROLESS])) as Array<{ RootFS: { Layers: string[] } }>;
    assert.deepEqual(image!.RootFS.Layers.slice(0, base!.RootFS.Layers.length), base!.RootFS.Layers);
    assert.equal((await nodeInImage('console.log(process.version)')).trim().split('.')[0], 'v24');
  });

  test('/app holds bin, src without tests, package.json and the production dependencies alone', async () => {
    const listing = JSON.parse(
      await nodeInImage(`
        const fs = require('node:fs');
        const walk = (dir) => fs.readdirSync(dir, { recursive: true }).map(String);
        console.log(JSON.stringify({
          app: fs.readdirSync('/app').sort(),
          src: walk('/app/src'),
          bin: fs.readdirSync('/app/bin').sort(),
          manifests: walk('/app/node_modules').filter((p) => p.endsWith('/package.json')),
        }));`),
    ) as { app: string[]; src: string[]; bin: string[]; manifests: string[] };
    assert.deepEqual(listing.app, ['bin', 'node_modules', 'package.json', 'src']);
    assert.deepEqual(listing.bin, ['kubectl-redisha.js', 'load.js', 'redis-ha.js']);
    assert.deepEqual(listing.src.filter((p) => p.endsWith('.test.ts') || p.split('/').includes('testdata')), []);
    assert.ok(listing.src.includes('cli/main.ts'), 'src/cli/main.ts is in the image');

    // Exactly the lockfile's production packages, less the npm `node` package (the image's Node runs it).
    const lock = JSON.parse(readFileSync(join(REPO, 'package-lock.json'), 'utf8')) as { packages: Record<string, { dev?: boolean; optional?: boolean }> };
    const production = Object.entries(lock.packages)
      .filter(([path, p]) => path.startsWith('node_modules/') && !p.dev && !p.optional)
      .map(([path]) => path)
      .filter((path) => path !== 'node_modules/node');
    // A package is a directory with a package.json where the lockfile would name one (not a package's
    // own subdirectory with a package.json of its own).
    const inImage = listing.manifests
      .map((p) => `node_modules/${p.slice(0, -'/package.json'.length)}`)
      .filter((p) => /^node_modules\/(@[^/]+\/)?[^/]+(\/node_modules\/(@[^/]+\/)?[^/]+)*$/.test(p));
    assert.deepEqual(inImage.filter((path) => !production.includes(path)), [], 'packages in the image that production does not need');
    assert.deepEqual(production.filter((path) => !inImage.includes(path)), [], 'production packages missing from the image');
    for (const dev of ['typescript', 'fast-check', 'playwright-core', 'ajv', 'redis']) {
      assert.ok(!inImage.includes(`node_modules/${dev}`), `${dev} (a dev dependency) is in the image`);
    }
  });

  test('the image prints the same install manifests as this clone', async () => {
    const args = ['operator', 'manifests', '--image', REDIS_HA_IMAGE];
    const inImage = await podman(['run', '--rm', '--network', 'none', '--read-only', '--read-only-tmpfs=false', REDIS_HA_IMAGE, ...args]);
    assert.equal(inImage, await redisHa(args));
  });

  test('the operator starts in the image as 65532 on a read-only root, serves /healthz and /readyz, and stops on SIGTERM', async () => {
    // A kubeconfig whose API server is not there (the container has no network): the operator starts,
    // stands by for its Lease and says why, as one whose API server is down would.
    const dir = mkdtempSync(join(tmpdir(), 'redis-ha-dockerfile-'));
    chmodSync(dir, 0o755);
    writeFileSync(
      join(dir, 'config'),
      'apiVersion: v1\nkind: Config\nclusters: [{name: c, cluster: {server: "https://127.0.0.1:6443"}}]\nusers: [{name: u, user: {token: t}}]\ncontexts: [{name: x, context: {cluster: c, user: u}}]\ncurrent-context: x\n',
      { mode: 0o644 },
    );
    const name = `redis-ha-dockerfile-test-${process.pid}`;
    try {
      // The Deployment's arguments (operator manifests).
      await podman(['run', '-d', '--name', name, '--network', 'none', '--read-only', '--read-only-tmpfs=false', '-v', `${dir}:/kube:ro`, REDIS_HA_IMAGE, 'operator', '--kubeconfig', '/kube/config', '--http', '0.0.0.0:8080', '--lease-namespace', 'redis-ha-system', '--lease-name', 'redis-ha-operator']);
      const inside = (script: string) => podman(['exec', name, '/nodejs/bin/node', '-e', script]);
      const get = (path: string) => inside(`fetch('http://127.0.0.1:8080${path}').then(async (r) => console.log(r.status, (await r.text()).trim()))`);
      assert.equal((await eventually('/healthz in the container', 60_000, () => get('/healthz'))).trim(), '200 ok');
      assert.equal((await get('/readyz')).trim(), '200 ready: standby');

      const proc1 = await inside(`const fs = require('node:fs'); console.log(JSON.stringify({ status: fs.readFileSync('/proc/1/status', 'utf8'), cmdline: fs.readFileSync('/proc/1/cmdline', 'utf8').split('\\0').filter(Boolean) }))`);
      const { status, cmdline } = JSON.parse(proc1) as { status: string; cmdline: string[] };
      assert.match(status, /^Uid:\t65532\t65532\t65532\t65532$/m);
      assert.match(status, /^Gid:\t65532\t65532\t65532\t65532$/m);
      assert.deepEqual(cmdline.slice(0, 3), ['/nodejs/bin/node', 'bin/redis-ha.js', 'operator']);
      // Read-only everywhere, /tmp included: the operator above writes nothing.
      const writes = await inside(`const fs = require('node:fs'); console.log(['/app/x', '/tmp/x', '/home/nonroot/x'].map((f) => { try { fs.writeFileSync(f, ''); return f + ' written'; } catch (e) { return f + ' ' + e.code; } }).join(', '))`);
      assert.equal(writes.trim(), '/app/x EROFS, /tmp/x EROFS, /home/nonroot/x EROFS');

      const lease = await eventually('the Lease attempt in the log', 60_000, async () => {
        const { stdout, stderr } = await exec(PODMAN, ['logs', name]);
        return /Lease redis-ha-system\/redis-ha-operator: .*ECONNREFUSED 127\.0\.0\.1:6443/.test(stdout + stderr) ? stdout + stderr : undefined;
      });
      assert.match(lease, /redis-ha operator \S+ started; serving http:\/\/0\.0\.0\.0:8080\/healthz/);

      await podman(['stop', '-t', '30', name]);
      assert.equal((await podman(['inspect', name, '--format', '{{.State.ExitCode}}'])).trim(), '0');
      const { stdout, stderr } = await exec(PODMAN, ['logs', name]);
      assert.match(stdout + stderr, /Shutting down: SIGTERM\n.*Stopped/);
    } finally {
      await exec(PODMAN, ['rm', '-f', '--time', '0', name]).catch(() => undefined);
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
