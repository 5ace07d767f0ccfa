import * as tf from "@tensorflow/tfjs";
import { assert, assertClose, assertNoLeak } from "../testing.ts";
import { selectBackend } from "../backend.ts";
import { disposeParams, flattenParams, grefelEmbedding, initGrefel } from "./mod.ts";
import { linear } from "./layers.ts";
import { leaf, sub } from "./params.ts";
import { recalibrateHeadBatchNorm } from "./recalibrate.ts";
import { disposeInputs, microConfig, randomInputs } from "./test_fixtures.ts";

await selectBackend("cpu");

Deno.test("recalibrateHeadBatchNorm: bn0 stats = average of per-batch stats, dropout off", async () => {
  const cfg = microConfig({ head: { hidden: [8, 8], dropout: 0.5 } });
  const params = initGrefel(cfg, 3);
  const batches = [randomInputs(cfg, 6, 11), randomInputs(cfg, 6, 12), randomInputs(cfg, 6, 13)];
  try {
    // Expected bn0 statistics by hand: relu(fc0(e)) per batch, mean and unbiased variance,
    // averaged over the batches (no dropout).
    const expected = tf.tidy(() => {
      const means: tf.Tensor[] = [], vars: tf.Tensor[] = [];
      for (const x of batches) {
        const h = tf.relu(linear(sub(sub(params, "head"), "fc0"), grefelEmbedding(params, x, cfg)));
        const m = tf.moments(h, 0);
        means.push(m.mean);
        vars.push(tf.mul(m.variance, 6 / 5));
      }
      return [tf.mean(tf.stack(means), 0), tf.mean(tf.stack(vars), 0)].map((t) => tf.keep(t));
    });
    const before = flattenParams(params);
    const trainable = [...before].filter(([k]) => !k.includes("running"));
    const snapshot = await Promise.all(trainable.map(([, v]) => v.data()));
    const report = await assertNoLeak(() =>
      recalibrateHeadBatchNorm(params, cfg, (i) => batches[i] ?? null)
    );
    assert.deepEqual(report, { batches: 3, samples: 18 });
    const bn0 = sub(sub(params, "head"), "bn0");
    assertClose(await leaf(bn0, "runningMean").data(), await expected[0].data(), 1e-5);
    assertClose(await leaf(bn0, "runningVar").data(), await expected[1].data(), 1e-4);
    // Trainable weights untouched.
    const after = await Promise.all(trainable.map(([, v]) => v.data()));
    after.forEach((a, i) => assert.deepEqual(a, snapshot[i], `${trainable[i][0]} changed`));
    // Deterministic although the config has dropout 0.5: a second pass gives the same stats.
    await recalibrateHeadBatchNorm(params, cfg, (i) => batches[i] ?? null);
    assertClose(await leaf(bn0, "runningMean").data(), await expected[0].data(), 1e-5);
    tf.dispose(expected);
  } finally {
    batches.forEach(disposeInputs);
    disposeParams(params);
  }
});

Deno.test("recalibrateHeadBatchNorm: no batches is an error", async () => {
  const cfg = microConfig();
  const params = initGrefel(cfg, 0);
  try {
    await assert.rejects(() => recalibrateHeadBatchNorm(params, cfg, () => null), /no batches/);
  } finally {
    disposeParams(params);
  }
});
