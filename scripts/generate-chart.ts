// Writes charts/redis-ha-operator from src/kubernetes/manifests.ts (see src/kubernetes/chart.ts).
// Run after changing what the operator installs: node scripts/generate-chart.ts
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { CHART_DIR, chartFiles } from '../src/kubernetes/chart.ts';

const repo = join(import.meta.dirname, '..');
const { version } = JSON.parse(readFileSync(join(repo, 'package.json'), 'utf8')) as { version: string };
for (const [path, text] of Object.entries(chartFiles(version))) {
  const file = join(repo, CHART_DIR, path);
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, text);
  console.log(join(CHART_DIR, path));
}
