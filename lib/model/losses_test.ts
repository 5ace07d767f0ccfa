import * as tf from "@tensorflow/tfjs";
import { assert, assertClose, assertNoLeak } from "../testing.ts";
import { anchorLoss, centerLoss, classLoss, smoothLabels } from "./losses.ts";

await tf.setBackend("cpu");

Deno.test("label smoothing: y = (1 − s/100)·onehot + s/100/C; bad input named", async () => {
  const y = smoothLabels([0, 2], 4, 20);
  await assertClose(y, [[0.85, 0.05, 0.05, 0.05], [0.05, 0.05, 0.85, 0.05]], 1e-6);
  const y0 = smoothLabels(new Int32Array([1]), 3, 0);
  await assertClose(y0, [[0, 1, 0]], 0);
  tf.dispose([y, y0]);
  assert.throws(() => smoothLabels([3], 3, 11), /label 3 at index 0 not in 0\.\.2/);
  assert.throws(() => smoothLabels([0], 3, 120), /smoothing term 120/);
});

Deno.test("eq. 20: L_cls by hand, log clamped at 0", async () => {
  await assertNoLeak(async () => {
    const final = tf.tensor2d([[0.7, 0.2, 0.1], [0.1, 0.6, 0.3]]);
    const target = tf.tensor2d([[1, 0, 0], [0.1, 0.8, 0.1]]);
    const l = tf.tidy(() => classLoss(final, target));
    const byHand =
      (-Math.log(0.7) - (0.1 * Math.log(0.1) + 0.8 * Math.log(0.6) + 0.1 * Math.log(0.3))) / 2;
    await assertClose(l, [byHand], 1e-5);
    const z = tf.tidy(() => classLoss(tf.tensor2d([[0, 1]]), tf.tensor2d([[1, 0]]), 1e-7));
    await assertClose(z, [-Math.log(1e-7)], 1e-3);
    tf.dispose([final, target, l, z]);
  });
});

Deno.test("eq. 21: anchor loss over pairs of different classes only, paper and bounded", async () => {
  await assertNoLeak(async () => {
    // C = 2, K = 2, D = 2. Same-class pairs are far apart but must not count.
    const a = tf.tensor3d([[[0, 0], [10, 0]], [[0, 1], [10, 1]]]);
    // different-class squared distances: (0,0)-(0,1)=1, (0,0)-(10,1)=101, (10,0)-(0,1)=101, (10,0)-(10,1)=1
    const paper = tf.tidy(() => anchorLoss(a, "paper"));
    await assertClose(paper, [-(1 + 101 + 101 + 1) / 4 / 2], 1e-4);
    const bounded = tf.tidy(() => anchorLoss(a, "bounded", 2));
    await assertClose(bounded, [-(0.5 + 2 + 2 + 0.5) / 4], 1e-5);
    tf.dispose([a, paper, bounded]);
  });
});

Deno.test("eq. 22: center loss = min over the label's anchors of ‖e − a‖²/D by hand", async () => {
  await assertNoLeak(async () => {
    const a = tf.tensor3d([[[1, 0], [3, 0]], [[0, 1], [0, 0.5]]]);
    const e = tf.tensor2d([[0, 0], [2, 0]]);
    const target = tf.tensor2d([[0.1, 0.9], [0.95, 0.05]]); // labels 1, 0 (argmax)
    const l = tf.tidy(() => centerLoss(e, a, target));
    await assertClose(l, [(0.25 / 2 + 1 / 2) / 2], 1e-6);
    tf.dispose([a, e, target, l]);
  });
});

Deno.test("losses: gradients are finite and reach anchors and embeddings", async () => {
  const a = tf.variable(tf.tensor3d([[[1, 0], [3, 0]], [[0, 1], [0, 0.5]]]));
  const e = tf.variable(tf.tensor2d([[0, 0], [2, 0]]));
  const target = tf.tensor2d([[0, 1], [1, 0]]);
  const { grads } = tf.variableGrads(
    () =>
      tf.add(anchorLoss(a as tf.Tensor3D), centerLoss(e as tf.Tensor2D, a as tf.Tensor3D, target)),
    [a, e],
  );
  for (const g of Object.values(grads)) {
    const v = await g.data();
    assert.ok(v.every(Number.isFinite) && v.some((x) => x !== 0));
  }
  tf.dispose([a, e, target, ...Object.values(grads)]);
});
