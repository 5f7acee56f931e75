/**
 * Two runs recorded on a real 3-node sandbox (gcache.size 16M, 2 s sampling, the truth every
 * 250 ms; `npm run accuracy -- --load stationary|bursty --record FILE`), replayed through the
 * daemon's own analysis with past data only, and scored against the forward truth: the targets
 * the README states for the IST forecast and the countdown.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import zlib from 'node:zlib';
import { evaluateRecording, formatEvaluation, type Evaluation, type Recording } from '../../tools/sandbox/forecast-evaluation.ts';

function evaluate(name: string): Evaluation {
  const recording = JSON.parse(zlib.gunzipSync(fs.readFileSync(new URL(`../fixtures/${name}`, import.meta.url))).toString('utf8')) as Recording;
  return evaluateRecording(recording);
}

const stationary = evaluate('ist-stationary.json.gz');
const bursty = evaluate('ist-bursty.json.gz');

test('the byte budget: median error within 2% of the bytes really written until IST was lost, on both loads', (t) => {
  t.diagnostic(`stationary\n${formatEvaluation(stationary)}\n\nbursty\n${formatEvaluation(bursty)}`);
  for (const e of [stationary, bursty]) {
    assert.ok(e.bytes && e.bytes.n >= 100, `${e.bytes?.n} checkpoints`);
    assert.ok(e.bytes.medianError <= 0.02, `median error ${e.bytes.medianError}`);
  }
});

test('a stationary load: safe is optimistic by more than 10% at no more than 5% of checkpoints with a median safe/truth of at least 0.7, and likely is within 20%', () => {
  const { safe, likely, current, pessimistic } = stationary.time;
  assert.ok(safe && safe.n >= 1000, `${safe?.n} checkpoints`);
  assert.ok(safe.optimistic <= 0.05, `safe optimistic by >10% at ${safe.optimistic} of checkpoints`);
  assert.ok(safe.medianRatio >= 0.7, `median safe/truth ${safe.medianRatio}`);
  // Closer to the truth than the pessimistic rate, and optimistic less often.
  assert.ok(
    pessimistic && safe.optimistic < pessimistic.optimistic && safe.medianRatio > pessimistic.medianRatio,
    `safe ${JSON.stringify(safe)}, pessimistic ${JSON.stringify(pessimistic)}`,
  );
  assert.ok(likely && likely.medianError <= 0.2, `likely median error ${likely?.medianError}`);
  assert.ok(current && likely.medianError < current.medianError, `likely ${likely.medianError}, current ${current?.medianError}`);
});

test('a bursty load: safe is optimistic at no more than 10% of checkpoints, with a median safe/truth of at least 0.35', () => {
  const { safe } = bursty.time;
  assert.ok(safe && safe.n >= 100, `${safe?.n} checkpoints`);
  assert.ok(safe.optimistic <= 0.1, `safe optimistic by >10% at ${safe.optimistic} of checkpoints`);
  assert.ok(safe.medianRatio >= 0.35, `median safe/truth ${safe.medianRatio}`);
});

test('the countdown of a node made to vanish reaches zero within 3% of the bytes written when the last donor evicted S+1', () => {
  const checked = [...stationary.countdown, ...bursty.countdown].filter((c) => c.byteError !== null);
  assert.ok(checked.length >= 6, `${checked.length} countdowns reached zero`);
  for (const c of checked) {
    assert.ok(Math.abs(c.byteError!) <= 0.03, `countdown from ${c.leftAt}: ${JSON.stringify(c)}`);
    // Said "IST lost" within one sampling interval (2 s) of the truth.
    assert.ok(c.lateSeconds !== null && Math.abs(c.lateSeconds) <= 2, `countdown from ${c.leftAt}: ${JSON.stringify(c)}`);
  }
});
