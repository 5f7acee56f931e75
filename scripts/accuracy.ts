/**
 * `npm run accuracy`: how close each figure is to the truth, on a real sandbox cluster under a
 * varying multi-writer load. The truth comes from a separate record of every node's
 * wsrep_last_committed and wsrep_local_cached_downto taken every 150 ms:
 * - the true window at t: t minus the commit time of the oldest cached seqno;
 * - the true IST budget at t: how long until no other node could have served a node that left
 *   at t (its S+1 evicted everywhere, or inside Galera's safety gap).
 *
 *   npm run accuracy [-- --duration 10m --interval 10s --gcache-size 16M --load profile|stationary|bursty
 *                        --seed 1 --rates 25-150 --writers 1,2,3 --record FILE]
 *   npm run accuracy -- --replay FILE     (scores a recorded run again, offline)
 *
 * `--writers` chooses the nodes that take the load; the others are the nodes under test (a node
 * that writes would stop writing when it leaves, which the forward truth cannot know).
 */
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { quantile } from 'simple-statistics';
import { GaleraSandbox, sleep } from '../tools/sandbox/galera-sandbox.js';
import { prepareSysbench, SysbenchRun } from '../tools/sandbox/workload.js';
import { TruthRecorder } from '../tools/sandbox/truth-recorder.js';
import { LOAD_SHAPES, loadPhases, type LoadShape } from '../tools/sandbox/load-shapes.js';
import { evaluateRecording, formatEvaluation, type Recording, type TruthRow } from '../tools/sandbox/forecast-evaluation.js';
import { parseConfig } from '../src/config/load.js';
import { Store } from '../src/store/store.js';
import { Sampler } from '../src/sampler/sampler.js';
import { Analyzer } from '../src/pipeline/analyzer.js';
import { createLogger } from '../src/log/logger.js';
import { parseDuration } from '../src/units/parse.js';

const { values } = parseArgs({
  options: {
    duration: { type: 'string', default: '10m' },
    interval: { type: 'string', default: '10s' },
    'gcache-size': { type: 'string', default: '16M' },
    'base-port': { type: 'string', default: '26300' },
    phase: { type: 'string', default: '60s' },
    load: { type: 'string', default: 'profile' },
    seed: { type: 'string', default: '1' },
    rates: { type: 'string', default: '25-150' },
    writers: { type: 'string' },
    'truth-every': { type: 'string', default: '150' },
    record: { type: 'string' },
    replay: { type: 'string' },
  },
});
if (values.replay) {
  // Scores a recorded run again, offline: `npm run accuracy -- --replay FILE`.
  const recording = JSON.parse(fs.readFileSync(values.replay, 'utf8')) as Recording;
  console.log(`${values.replay}: ${recording.load?.shape ?? 'profile'} load, ${recording.intervalMs / 1000} s sampling`);
  console.log(formatEvaluation(evaluateRecording(recording)));
  process.exit(0);
}
const durationMs = parseDuration(values.duration!) * 1000;
const intervalMs = parseDuration(values.interval!) * 1000;
const phaseMs = parseDuration(values.phase!) * 1000;
if (!LOAD_SHAPES.includes(values.load as LoadShape)) throw new Error(`--load must be one of ${LOAD_SHAPES.join(', ')}, not ${values.load}`);
const shape = values.load as LoadShape;
// The truth is recorded a little past the run, so the last checkpoints' budgets can be checked.
const tailMs = Math.min(180_000, durationMs / 3);
const rates = /^(\d+)-(\d+)$/.exec(values.rates!);
if (!rates || Number(rates[1]) <= 0 || Number(rates[2]) < Number(rates[1])) throw new Error(`--rates must be LOW-HIGH tx/s per writer (e.g. 25-150), not ${values.rates}`);
const phases = loadPhases(shape, durationMs + tailMs, { seed: Number(values.seed), profilePhaseMs: phaseMs, stationaryRates: [Number(rates[1]), Number(rates[2])] });
const writers = (values.writers ?? (shape === 'profile' ? '1,2,3' : '2,3')).split(',').map(Number);

type Figure = 'measured' | 'estimated_short_classic' | 'estimated_short' | 'estimated_long_classic' | 'estimated_long' | 'ist_budget' | 'ist_budget_pessimistic';
interface Checkpoint {
  t: number;
  node: string;
  index: number;
  figures: Partial<Record<Figure, number>>;
}

const sandbox = await GaleraSandbox.create({ nodes: 3, basePort: Number(values['base-port']), gcacheSize: values['gcache-size'] });
const loads: SysbenchRun[] = [];
try {
  console.log(`starting a 3-node sandbox (gcache.size=${values['gcache-size']})...`);
  await sandbox.start();
  await sandbox.query(1, "CREATE USER 'gcache_advisor'@'127.0.0.1' IDENTIFIED BY 'accuracy-pw'");
  await prepareSysbench(sandbox, { tables: 4, tableSize: 2000 });
  const config = parseConfig(
    `clusters:
  - name: accuracy
    connection: { user: gcache_advisor, passwordEnv: PW }
    nodes:
${sandbox.nodes.map((n) => `      - { name: ${n.name}, host: 127.0.0.1, port: ${n.sqlPort} }`).join('\n')}
storage: { path: ${path.join(sandbox.root, 'accuracy.db')} }
horizons: { short: 5m, long: 24h }
`,
    'accuracy',
    { PW: 'accuracy-pw' },
  );
  const log = createLogger({ level: 'error' });
  const store = new Store(config.storage.path);
  const sampler = new Sampler(config, store, log);
  const analyzer = new Analyzer(config, store, log);
  const truth = new TruthRecorder(sandbox, Number(values['truth-every']));
  truth.start();

  const checkpoints: Checkpoint[] = [];
  const started = Date.now();
  let phase = -1;
  const phaseStarts = phases.map((_, i) => phases.slice(0, i).reduce((sum, p) => sum + p.ms, 0));
  const phaseAt = (elapsed: number) => phaseStarts.findLastIndex((s) => s <= elapsed);
  const followLoad = () => {
    const p = phaseAt(Date.now() - started);
    if (p === phase) return;
    phase = p;
    const old = loads.splice(0);
    void Promise.all(old.map((l) => l.stop()));
    for (const w of writers) loads.push(new SysbenchRun(sandbox, w, { rate: phases[p]!.rate, threads: 2, tables: 4, tableSize: 2000 }));
  };
  console.log(`${shape} sysbench load on node(s) ${writers.join(', ')} (${phases.length} phases), sampling every ${values.interval} for ${values.duration}...`);
  const tail = setInterval(followLoad, 250);
  while (Date.now() - started < durationMs) {
    followLoad();
    const cycleStart = Date.now();
    const result = await sampler.runCycle();
    if (result) {
      store.recordCycle(result.outcomes);
      const [analysis] = analyzer.onCycle(result).analyses;
      for (const n of analysis!.nodes) {
        const figures: Checkpoint['figures'] = {};
        const put = (k: Figure, v: number | null | undefined) => {
          if (typeof v === 'number' && Number.isFinite(v)) figures[k] = v;
        };
        put('measured', n.measured.measuredSeconds);
        put('estimated_short_classic', n.estimated.short.classicSeconds);
        put('estimated_short', n.estimated.short.bestSeconds);
        put('estimated_long_classic', n.estimated.long.classicSeconds);
        put('estimated_long', n.estimated.long.bestSeconds);
        put('ist_budget', n.istBudget.current?.seconds);
        put('ist_budget_pessimistic', n.istBudget.pessimistic?.seconds);
        checkpoints.push({ t: n.computedAt, node: n.node, index: Number(n.node.replace('node', '')), figures });
      }
    }
    await sleep(Math.max(0, intervalMs - (Date.now() - cycleStart)));
  }
  // Keep the load and the truth going a little longer, so that budgets taken near the end can
  // still be checked against what happened after them.
  console.log('recording the truth a little longer for the last IST budgets...');
  await sleep(tailMs);
  clearInterval(tail);
  await Promise.all(loads.splice(0).map((l) => l.stop()));
  await truth.stop();
  await sampler.stop();

  const truthOf = (c: Checkpoint, figure: Figure): number | null =>
    figure.startsWith('ist_budget') ? truth.trueIstBudgetSeconds(c.index, c.t) : truth.trueWindowSeconds(c.index, c.t);
  const rows: string[] = [];
  const figures: Figure[] = ['measured', 'estimated_short_classic', 'estimated_short', 'estimated_long_classic', 'estimated_long', 'ist_budget', 'ist_budget_pessimistic'];
  // Compare only once every figure is defined (the ring has wrapped): the same checkpoints for all.
  const usable = checkpoints.filter((c) => c.figures.measured !== undefined);
  for (const figure of figures) {
    const rel: number[] = [];
    let optimistic = 0;
    for (const c of usable) {
      const value = c.figures[figure];
      const expected = truthOf(c, figure);
      if (value === undefined || expected === null || expected <= 0) continue;
      rel.push(Math.abs(value - expected) / expected);
      if (value > expected * 1.1) optimistic++;
    }
    if (rel.length === 0) {
      rows.push(`${figure.padEnd(24)} ${'0'.padStart(6)}   (no checkpoint with a known truth)`);
      continue;
    }
    rows.push(
      `${figure.padEnd(24)} ${String(rel.length).padStart(6)} ${pct(quantile(rel, 0.5))} ${pct(quantile(rel, 0.9))} ${pct(Math.max(...rel))} ${pct(optimistic / rel.length)}`,
    );
  }
  console.log(`\n${usable.length} checkpoints (node × cycle) with a wrapped ring, ${values.duration} run, ${values.interval} interval, gcache.size=${values['gcache-size']}`);
  console.log(`${'figure'.padEnd(24)} ${'n'.padStart(6)} ${'median'.padStart(7)} ${'p90'.padStart(7)} ${'max'.padStart(7)} ${'>10% optimistic'.padStart(16)}`);
  for (const r of rows) console.log(r);

  {
    const nodes = Object.fromEntries(
      sandbox.nodes.map((n) => [n.name, store.samples('accuracy', n.name, 0, Date.now()).map((s) => ({ takenAt: s.takenAt, epoch: s.epoch, status: s.status }))]),
    );
    const settings = Object.fromEntries(sandbox.nodes.map((n) => [n.name, store.latestSettings('accuracy', n.name)]));
    const truthAt = usable.map((c) => ({ t: c.t, node: c.node, window: truth.trueWindowSeconds(c.index, c.t), istBudget: truth.trueIstBudgetSeconds(c.index, c.t) }));
    // The raw high-frequency record too ([t, last_committed, cached_downto, bytes] per point),
    // so that forecasts can be replayed offline against the forward truth.
    const truthRecords = Object.fromEntries(sandbox.nodes.map((n) => [n.name, (truth.records.get(n.index) ?? []).map((p): TruthRow => [p.t, p.lastCommitted, p.downto, p.bytes])]));
    const recording = {
      recordedWith: `scripts/accuracy.ts ${process.argv.slice(2).join(' ')}`,
      intervalMs,
      load: { shape, phases, writers },
      settings,
      nodes,
      truth: truthAt,
      truthRecords,
    };
    if (values.record) {
      fs.writeFileSync(values.record, JSON.stringify(recording) + '\n');
      console.log(`recorded samples and truth to ${values.record}`);
    }
    console.log('\nIST figures against the forward truth (replayed with past data only):');
    console.log(formatEvaluation(evaluateRecording(recording)));
  }
  store.close();
} finally {
  await Promise.all(loads.map((l) => l.stop()));
  await sandbox.destroy();
}

function pct(x: number): string {
  return `${(x * 100).toFixed(1)}%`.padStart(7);
}
