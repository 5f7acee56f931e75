import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import YAML from 'yaml';
import { Metrics } from '../../src/metrics/metrics.ts';

const dashboard = JSON.parse(fs.readFileSync(new URL('../../dashboards/gcache-advisor.json', import.meta.url), 'utf8'));

const PROMQL_WORDS = new Set([
  'sum',
  'by',
  'without',
  'rate',
  'increase',
  'irate',
  'histogram_quantile',
  'time',
  'le',
  'max',
  'min',
  'avg',
  'count',
  'on',
  'ignoring',
  'group_left',
  'label_values',
  'and',
  'or',
  'unless',
  'offset',
]);

function queriedMetrics(): Set<string> {
  const exprs: string[] = [];
  const walk = (panels: Array<{ targets?: Array<{ expr: string }>; panels?: unknown[] }>) => {
    for (const p of panels) {
      for (const t of p.targets ?? []) exprs.push(t.expr);
      if (p.panels) walk(p.panels as never);
    }
  };
  walk(dashboard.panels);
  for (const v of dashboard.templating.list) if (v.type === 'query') exprs.push(v.query.query);
  const names = new Set<string>();
  for (const expr of exprs) {
    // Drop label matchers and strings, then take identifiers that are not PromQL words or label names.
    const bare = expr
      .replace(/\{[^}]*\}/g, '')
      .replace(/"[^"]*"/g, '')
      .replace(/\[[^\]]*\]/g, '')
      .replace(/by \([^)]*\)/g, '');
    for (const m of bare.matchAll(/[a-zA-Z_:][a-zA-Z0-9_:]*/g)) {
      if (!PROMQL_WORDS.has(m[0]) && !/^\d/.test(m[0]) && m[0] !== 'cluster' && m[0] !== 'node') names.add(m[0]);
    }
  }
  return names;
}

test('every metric the dashboard queries is one the daemon exports', async () => {
  const metrics = new Metrics('test');
  const exported = new Set<string>();
  for (const m of await metrics.registry.getMetricsAsJSON()) {
    exported.add(m.name);
    if (String(m.type) === 'histogram') for (const s of ['_bucket', '_sum', '_count']) exported.add(m.name + s);
  }
  const queried = queriedMetrics();
  assert.ok(queried.size >= 10, `found ${[...queried].join(', ')}`);
  for (const name of queried) assert.ok(exported.has(name), `dashboard queries ${name}, which is not exported`);
});

test('the dashboard is provisionable: a datasource variable, no __inputs, cluster and node variables', () => {
  assert.equal(dashboard.__inputs, undefined);
  const vars = Object.fromEntries(dashboard.templating.list.map((v: { name: string }) => [v.name, v]));
  assert.equal(vars.datasource.type, 'datasource');
  assert.equal(vars.datasource.query, 'prometheus');
  assert.ok(vars.cluster && vars.node);
  const datasources = new Set<string>();
  const walk = (panels: Array<{ datasource?: { uid: string }; panels?: unknown[] }>) => {
    for (const p of panels) {
      if (p.datasource) datasources.add(p.datasource.uid);
      if (p.panels) walk(p.panels as never);
    }
  };
  walk(dashboard.panels);
  assert.deepEqual([...datasources], ['${datasource}']);
  const titles = dashboard.panels.map((p: { title: string }) => p.title).join('\n');
  for (const topic of [/window/i, /IST budget/i, /rate/i, /recommended/i, /alerts/i, /Sample/i]) assert.match(titles, topic);
  const provisioning = YAML.parse(fs.readFileSync(new URL('../../dashboards/provisioning/dashboards.yaml', import.meta.url), 'utf8'));
  assert.equal(provisioning.providers[0].type, 'file');
});
