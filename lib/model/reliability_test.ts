import * as tf from "@tensorflow/tfjs";
import { assert, assertClose, assertNoLeak } from "../testing.ts";
import {
  anchorDistances,
  anchorSimilarity,
  attentiveCorrection,
  confidence,
  confidenceMix,
  geometricCorrection,
  normalizedEntropy,
} from "./reliability.ts";
import { buildParams, Plan } from "./params.ts";
import { planAttentiveCorrection } from "./reliability.ts";
import type { ParamTree } from "./types.ts";

await tf.setBackend("cpu");

/** H(p) by hand: −Σ p ln p / ln C. */
function entropyByHand(p: number[]): number {
  return -p.reduce((s, x) => s + (x > 0 ? x * Math.log(x) : 0), 0) / Math.log(p.length);
}

Deno.test("eqs. 10–11: normalised entropy and confidence by hand", async () => {
  await assertNoLeak(async () => {
    const rows = [[0.5, 0.25, 0.25], [0.7, 0.2, 0.1], [1 / 3, 1 / 3, 1 / 3], [1, 0, 0]];
    const p = tf.tensor2d(rows);
    const [h, c] = tf.tidy(() => [normalizedEntropy(p), confidence(p)]);
    await assertClose(h, rows.map(entropyByHand), 1e-5);
    await assertClose(c, rows.map((r) => 1 - entropyByHand(r)), 1e-5);
    // uniform → H = 1, Cf = 0; one-hot → H = 0, Cf = 1
    const cv = await c.data();
    assert.ok(Math.abs(cv[2]) < 1e-5 && Math.abs(cv[3] - 1) < 1e-6);
    tf.dispose([p, h, c]);
  });
});

Deno.test("eqs. 13–15: distances, similarity and t_g by hand", async () => {
  await assertNoLeak(async () => {
    // C = 2, K = 2, D = 2; e = (0, 0)
    const e = tf.tensor2d([[0, 0]]);
    const anchors = tf.tensor3d([[[1, 0], [0, 3]], [[0, 2], [3, 4]]]);
    const d = tf.tidy(() => anchorDistances(e, anchors));
    await assertClose(d, [[[1, 3], [2, 5]]], 1e-5);
    for (const delta of [1, 2]) {
      const ex = [1, 3, 2, 5].map((x) => Math.exp(-x / delta));
      const z = ex.reduce((a, b) => a + b);
      const s = tf.tidy(() => anchorSimilarity(d, delta));
      await assertClose(s, ex.map((x) => x / z), 1e-6);
      const tg = tf.tidy(() => geometricCorrection(d, delta));
      await assertClose(tg, [[(ex[0] + ex[1]) / z, (ex[2] + ex[3]) / z]], 1e-6);
      tf.dispose([s, tg]);
    }
    tf.dispose([e, anchors, d]);
  });
});

Deno.test("eqs. 18–19: confidence-weighted mix by hand; guarded for uniform inputs", async () => {
  await assertNoLeak(async () => {
    const a = [0.7, 0.2, 0.1];
    const b = [0.2, 0.5, 0.3];
    const ca = 1 - entropyByHand(a);
    const cb = 1 - entropyByHand(b);
    const m = tf.tidy(() => confidenceMix(tf.tensor2d([a]), tf.tensor2d([b])));
    await assertClose(m, [a.map((x, i) => (ca * x + cb * b[i]) / (ca + cb))], 1e-5);
    // two uniform distributions: 0/0 guarded → their mean, no NaN
    const u = tf.tensor2d([[1 / 3, 1 / 3, 1 / 3]]);
    const mu = tf.tidy(() => confidenceMix(u, u));
    await assertClose(mu, [[1 / 3, 1 / 3, 1 / 3]], 1e-6);
    // one-hot with uniform: the one-hot gets all the weight
    const oh = tf.tensor2d([[0, 1, 0]]);
    const mo = tf.tidy(() => confidenceMix(oh, u));
    await assertClose(mo, [[0, 1, 0]], 1e-5);
    tf.dispose([m, u, mu, oh, mo]);
  });
});

Deno.test("distributions sum to 1, confidences in [0, 1], no NaN for uniform/one-hot/extreme", async () => {
  tf.engine().startScope();
  const rows = [[1, 0, 0, 0], [0.25, 0.25, 0.25, 0.25], [1e-30, 1 - 1e-30, 0, 0], [
    0.4,
    0.3,
    0.2,
    0.1,
  ]];
  const p = tf.tensor2d(rows);
  const c = await confidence(p).data();
  for (const x of c) assert.ok(x >= 0 && x <= 1 && Number.isFinite(x), `confidence ${x}`);
  for (const q of rows) {
    const mix = await confidenceMix(p, tf.tensor2d(rows.map(() => q))).array();
    for (const r of mix) {
      assert.ok(r.every(Number.isFinite));
      assert.ok(Math.abs(r.reduce((s, x) => s + x, 0) - 1) < 1e-5);
    }
  }
  // the gradient through the confidences is finite at one-hot and uniform inputs
  const g = tf.grad((x: tf.Tensor) =>
    tf.sum(confidenceMix(tf.softmax(x) as tf.Tensor2D, tf.tensor2d([[1, 0, 0, 0]])))
  )(tf.tensor2d([[0, 0, 0, 0], [50, -50, 0, 0]]));
  assert.ok((await g.data()).every(Number.isFinite));
  tf.engine().endScope();
});

Deno.test("eqs. 16–17: t_a of a sample does not depend on the rest of the batch", async () => {
  const plan = new Plan();
  planAttentiveCorrection(plan, 8, 2, 3);
  const p = buildParams(plan, 3);
  const batch = (other: number[]) => tf.tensor2d([[1, -2, 0.5, 3, 0, 1, -1, 2], other]);
  await assertNoLeak(async () => {
    const rb = p.rb as ParamTree;
    const t1 = tf.tidy(() => attentiveCorrection(rb, batch([0, 0, 0, 0, 0, 0, 0, 0]), 2, 2));
    const t2 = tf.tidy(() => attentiveCorrection(rb, batch([5, -3, 2, 9, 1, 1, 4, -7]), 2, 2));
    const [r1, r2] = [await t1.array(), await t2.array()];
    await assertClose(r1[0], r2[0], 1e-7);
    assert.ok(Math.abs(r1[1][0] - r2[1][0]) > 0 || Math.abs(r1[1][1] - r2[1][1]) > 0);
    for (const r of [...r1, ...r2]) assert.ok(Math.abs(r.reduce((a, b) => a + b) - 1) < 1e-5);
    tf.dispose([t1, t2]);
  });
});
