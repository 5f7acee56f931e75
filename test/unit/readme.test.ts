/**
 * The README is the user's reference: it must name every rule variable, every exported metric
 * family and every config section, and its commands must exist. Checked like the dashboard.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { NODE_VARIABLES, CLUSTER_VARIABLES } from '../../src/rules/variables.ts';
import { Metrics } from '../../src/metrics/metrics.ts';
import { configSchema } from '../../src/config/schema.ts';

const readme = fs.readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
const section = (title: string) => {
  const start = readme.indexOf(`## ${title}`);
  assert.ok(start >= 0, `README has a "${title}" section`);
  const end = readme.indexOf('\n## ', start + 3);
  return readme.slice(start, end === -1 ? undefined : end);
};

test('the README names every rule variable, node and cluster', () => {
  const rules = section('Rules and alerts');
  const nodePart = rules.slice(rules.indexOf('Node rules can use'), rules.indexOf('cluster rules'));
  const clusterPart = rules.slice(rules.indexOf('cluster rules'));
  for (const name of Object.keys(NODE_VARIABLES)) assert.ok(nodePart.includes(`\`${name}\``), `node variable ${name} is documented`);
  for (const name of Object.keys(CLUSTER_VARIABLES)) assert.ok(clusterPart.includes(`\`${name}\``), `cluster variable ${name} is documented`);
});

test('the README lists every metric family the daemon exports (its own, not process_/nodejs_)', async () => {
  const metrics = section('Prometheus metrics');
  const families = (await new Metrics('test').registry.getMetricsAsJSON()).map((m) => m.name).filter((n) => !n.startsWith('process_') && !n.startsWith('nodejs_'));
  for (const name of families) assert.ok(metrics.includes(`\`${name}\``), `metric ${name} is documented`);
});

test('the README documents every config section', () => {
  const config = section('Configuration');
  for (const key of Object.keys(configSchema.shape)) assert.ok(new RegExp(`\`${key}[.\\[\`]`).test(config), `config section ${key} is documented`);
});

test('every npm run command the README mentions exists', () => {
  const scripts = JSON.parse(fs.readFileSync(new URL('../../package.json', import.meta.url), 'utf8')).scripts as Record<string, string>;
  for (const m of readme.matchAll(/npm run ([a-z:]+)/g)) assert.ok(m[1]! in scripts, `npm run ${m[1]} exists`);
});

test('the layout table names every folder of src/ and tools/, and src/daemon.ts', () => {
  const layout = section('Layout');
  const folders = (dir: string) =>
    fs
      .readdirSync(new URL(`../../${dir}/`, import.meta.url), { withFileTypes: true })
      .filter((e) => e.isDirectory())
      .map((e) => `${dir}/${e.name}`);
  for (const folder of [...folders('src'), ...folders('tools')]) assert.ok(layout.includes(`\`${folder}\``), `${folder} is in the layout table`);
  assert.ok(layout.includes('`src/daemon.ts`'));
});
