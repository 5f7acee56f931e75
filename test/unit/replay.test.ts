/**
 * Replays samples recorded from a real sandbox run (`npm run accuracy -- --record`) through the
 * pure cluster analysis, checkpoint by checkpoint, with only the history known at that moment,
 * and compares the measured window with the truth recorded alongside.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { analyzeCluster } from '../../src/analysis/cluster-analysis.ts';
import { recordedInputs } from '../support/away-replay.ts';
import type { StoredSample } from '../../src/store/store.ts';

const run = JSON.parse(fs.readFileSync(new URL('../fixtures/window-run.json', import.meta.url), 'utf8')) as {
  intervalMs: number;
  settings: Record<string, { sizeBytes: number; pageSizeBytes: number; recover: boolean; sstDonor: string }>;
  nodes: Record<string, Array<Pick<StoredSample, 'takenAt' | 'epoch' | 'status'>>>;
  truth: Array<{ t: number; node: string; window: number | null; istBudget: number | null }>;
};

const inputAt = (t: number) => recordedInputs(t);

test('replayed real samples: the measured window is within one sampling interval of the truth', () => {
  const checked: number[] = [];
  for (const c of run.truth) {
    if (c.window === null) continue;
    const analysis = analyzeCluster({ cluster: 'c', now: c.t, targetWindowSeconds: 3600, shortHorizonSeconds: 300, longHorizonSeconds: 86400, nodes: inputAt(c.t) });
    const n = analysis.nodes.find((x) => x.node === c.node)!;
    if (n.measured.measuredSeconds === null) continue;
    const error = Math.abs(n.measured.measuredSeconds - c.window);
    assert.ok(error <= run.intervalMs / 1000, `${c.node} at ${c.t}: measured ${n.measured.measuredSeconds}, truth ${c.window}`);
    checked.push(error);
  }
  assert.ok(checked.length >= 50, `${checked.length} checkpoints`);
});

test('replayed real samples: the IST budget lands near the true budget where the truth is known', () => {
  const ratios: number[] = [];
  for (const c of run.truth) {
    if (c.istBudget === null || c.istBudget <= 0) continue;
    const analysis = analyzeCluster({ cluster: 'c', now: c.t, targetWindowSeconds: 3600, shortHorizonSeconds: 300, longHorizonSeconds: 86400, nodes: inputAt(c.t) });
    const budget = analysis.nodes.find((x) => x.node === c.node)!.istBudget.current?.seconds;
    if (budget == null) continue;
    ratios.push(budget / c.istBudget);
  }
  assert.ok(ratios.length >= 20, `${ratios.length} checkpoints`);
  ratios.sort((a, b) => a - b);
  const median = ratios[Math.floor(ratios.length / 2)]!;
  // The budget assumes the current rate holds; under a load that changes 8x every 30 s it can't
  // be exact, but it must be centred on the truth.
  assert.ok(median > 0.6 && median < 1.4, `median predicted/true ratio ${median}`);
});
