import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { eventually, pidOf, runCli, statusOf, testHome } from './helpers.ts';

// The dashboard in a real browser (Debian's chromium, driven by playwright-core) against real
// processes: it must show what `status --json` says, switch over from the page, and show a failover
// after the master is SIGKILLed. Screenshots go to test-artifacts/ (gitignored) for a person to look at.
const PORT_BASE = 8000;
const NAME = 'dash';
const CHROMIUM = '/usr/bin/chromium';
const ARTIFACTS = fileURLToPath(new URL('../test-artifacts/', import.meta.url));
const home = testHome();

interface Status {
  healthy: boolean;
  master: { host: string; port: number } | null;
  nodes: { id: string; host: string; port: number; role: string }[];
  endpoints: { dashboard?: string; metrics?: string };
}

const status = () => statusOf<Status>(home, NAME);
const masterId = (s: Status) => s.nodes.find((n) => s.master && n.port === s.master.port)?.id;

/** Waits until `status --json` is healthy with a master other than `not`; returns its id. */
async function healthyMaster(not?: string): Promise<string> {
  return eventually(`a healthy topology with a master other than ${not}`, 60_000, async () => {
    const s = await status();
    const id = masterId(s);
    return s.healthy && id && id !== not ? id : undefined;
  });
}

/** The node id the page shows as master, once it is `id`. */
async function pageShowsMaster(page: Page, id: string): Promise<void> {
  await page.locator(`#master[data-node="${id}"]`).waitFor({ timeout: 60_000 });
  await page.locator(`#diagram g.node.master[data-node="${id}"]`).waitFor({ timeout: 10_000 });
}

describe('dashboard in a real browser', { skip: existsSync(CHROMIUM) || process.env.CI ? false : `${CHROMIUM} is not installed (apt-get install chromium)` }, () => {
  let context: BrowserContext;
  let page: Page;
  let url = '';
  const profile = mkdtempSync(join(tmpdir(), 'redis-ha-chromium-'));
  const pageErrors: string[] = [];

  before(async () => {
    const up = await runCli(home, ['up', '--detach', '--name', NAME, '--port-base', String(PORT_BASE), '--profile', 'fast']);
    assert.equal(up.code, 0, `up failed: ${up.stderr}`);
    url = /dashboard\s+(http:\/\/\S+)/.exec(up.stdout)?.[1] ?? '';
    assert.equal(url, `http://127.0.0.1:${PORT_BASE + 22}/`, `up prints the dashboard URL: ${up.stdout}`);
    mkdirSync(ARTIFACTS, { recursive: true });
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
      viewport: { width: 1280, height: 1100 },
    });
    page = await context.newPage();
    page.on('pageerror', (err) => pageErrors.push(err.message));
    page.on('console', (m) => {
      if (m.type() === 'error') pageErrors.push(m.text());
    });
  });

  after(async () => {
    await context?.close();
    rmSync(profile, { recursive: true, force: true });
    await runCli(home, ['down', '--name', NAME]);
  });

  test('status --json names the dashboard and metrics URLs', async () => {
    const s = await status();
    assert.equal(s.endpoints.dashboard, url);
    assert.equal(s.endpoints.metrics, `${url}metrics`);
  });

  test('the page shows the master, the replicas and each Sentinel as status --json does', async () => {
    const master = await healthyMaster();
    await page.goto(url);
    await pageShowsMaster(page, master);
    await page.locator('#health.healthy').waitFor();
    const s = await status();
    const replicas = s.nodes.filter((n) => n.role === 'replica').map((n) => n.id).sort();
    const shownReplicas = await page.locator('#nodes .card[data-role="replica"]').evaluateAll((els) => els.map((e) => (e as HTMLElement).dataset.node).sort());
    assert.deepEqual(shownReplicas, replicas);
    const sees = await page.locator('#sentinels .card').evaluateAll((els) => els.map((e) => (e as HTMLElement).dataset.sees));
    assert.deepEqual(sees, [master, master, master], 'each Sentinel is shown with the master it sees');
    assert.match(await page.locator(`#nodes .card[data-node="${master}"]`).innerText(), /memory\s+\d/);
    await page.screenshot({ path: join(ARTIFACTS, 'dashboard-1-healthy.png'), fullPage: true });
    assert.deepEqual(pageErrors, []);
  });

  test('a switchover from the page changes the master shown', async () => {
    const before = await healthyMaster();
    await page.locator('#switchover').click();
    await page.locator('#confirm[open]').waitFor();
    await page.screenshot({ path: join(ARTIFACTS, 'dashboard-2-confirm.png') });
    await page.locator('#confirm-switchover').click();
    await page.locator('#switch-result', { hasText: /switched master/ }).waitFor({ timeout: 60_000 });
    const after = await healthyMaster(before);
    await pageShowsMaster(page, after);
    assert.match(await page.locator('#timeline').innerText(), new RegExp(`master ${before} → ${after}`));
    await page.screenshot({ path: join(ARTIFACTS, 'dashboard-3-after-switchover.png'), fullPage: true });
  });

  test('after the master is SIGKILLed the page shows the failover', async () => {
    const killed = await healthyMaster();
    // With data on the replicas the brain has Sentinel promote one (an empty deployment would just get
    // its restarted master back, which is right but not a failover).
    assert.equal((await runCli(home, ['cli', '--name', NAME, 'SET', 'dash:key', 'v'])).code, 0);
    await eventually('every node holding the key', 10_000, async () => {
      const s = await statusOf<{ nodes: { figures?: { keys?: number } }[] }>(home, NAME);
      return s.nodes.every((n) => (n.figures?.keys ?? 0) >= 1) ? true : undefined;
    });
    process.kill(pidOf(join(home, NAME), killed), 'SIGKILL');
    // Sentinel fails over away from the killed node. A Sentinel that has not switched yet can then turn
    // the promoted replica back into a replica of the restarted node (Sentinel 7.0's +convert-to-slave
    // on a stale view of both), and the controller has Sentinel fail over once more, sometimes back to
    // the killed node, which has resynced by then (seen in CI). The page must show the failover away
    // from it, then whichever master the deployment settles on, every other node a replica.
    await page.locator('#timeline li[data-kind="failover"]', { hasText: `master ${killed} → ` }).waitFor({ timeout: 60_000 });
    const now = await healthyMaster();
    await pageShowsMaster(page, now);
    const others = (await status()).nodes.map((n) => n.id).filter((id) => id !== now);
    assert.equal(others.length, 2);
    for (const id of others) await page.locator(`#nodes .card[data-node="${id}"][data-role="replica"]`).waitFor({ timeout: 30_000 });
    await page.screenshot({ path: join(ARTIFACTS, 'dashboard-4-after-sigkill.png'), fullPage: true });
    assert.deepEqual(pageErrors, []);
  });
});
