import * as tf from "@tensorflow/tfjs";
import { assert, assertClose, assertNoLeak } from "../testing.ts";
import { selectBackend } from "../backend.ts";
import { presetConfig } from "../config.ts";
import { runId } from "../train/run.ts";
import { faceFeatureTrunk } from "../extractors/face_landmark68.ts";
import { loadWeightMap, npmFile } from "../extractors/weights.ts";
import {
  disposeParams,
  finetuneForward,
  flattenParams,
  grefelForward,
  grefelLoss,
  initGrefel,
  landmarkStreamShape,
  loadFinetuneWeights,
  parseModelConfig,
  smoothLabels,
  trainableVariables,
} from "./mod.ts";
import { summarizeModel } from "./summary.ts";
import { disposeInputs, microConfig, randomInputs } from "./test_fixtures.ts";

/** The micro model with the fine-tuned landmark block at its third scale (14×14×128 → 7×7×256). */
function microFinetune() {
  return microConfig({
    finetune: "landmark-dense3",
    landmarkShape: [[8, 4], [4, 4], [4, 128]],
    landmarkConv: [null, null, { channels: 4, kernel: 1, stride: 1 }],
  });
}

Deno.test("finetune: config geometry, validation and run ids", () => {
  const cfg = presetConfig("compact-ft");
  assert.equal(cfg.model.finetune, "landmark-dense3");
  assert.deepEqual(landmarkStreamShape(cfg.model, 2), [7, 256]);
  assert.deepEqual(landmarkStreamShape(cfg.model, 1), [7, 128]);
  // The block needs a 128-channel input map.
  assert.throws(
    () => parseModelConfig({ ...cfg.model, landmarkShape: [[7, 64], [7, 128], [14, 64]] }),
    /model\.landmarkShape\.2: finetune "landmark-dense3" reads a 128-channel map/,
  );
  assert.throws(() => parseModelConfig({ finetune: "dense9" }), /model\.finetune/);
  // `none` is the value every run before the option had: it leaves run ids as they were.
  const compact = presetConfig("compact");
  assert.equal(compact.model.finetune, "none");
  const without = structuredClone(compact) as unknown as { model: Record<string, unknown> };
  delete without.model.finetune;
  assert.equal(runId(compact), runId(without as never));
  assert.notEqual(
    runId(compact),
    runId({ ...compact, model: { ...compact.model, finetune: "landmark-dense3" } }),
  );
  // The block's learning-rate scale needs a block; at its default 1 it leaves run ids as they were.
  assert.throws(
    () => presetConfig("compact", { train: { finetuneLrScale: 0.1 } }),
    /train\.finetuneLrScale: scales the fine-tuned block's learning rate, but model\.finetune is "none"/,
  );
  const scaled = presetConfig("compact-ft", { train: { finetuneLrScale: 0.1 } });
  assert.notEqual(runId(scaled), runId(cfg));
  const noScale = structuredClone(cfg) as unknown as { train: Record<string, unknown> };
  delete noScale.train.finetuneLrScale;
  assert.equal(runId(cfg), runId(noScale as never));
  // The summary counts the block: dense3 has 238,464 weights (4 separable convs + biases).
  const s = summarizeModel(cfg.model);
  assert.equal(s.breakdown.finetune.params, 238464);
  assert.equal(summarizeModel(compact.model).breakdown.finetune.params, 0);
});

Deno.test("finetune: with face-api's weights the block reproduces the frozen landmark trunk", async () => {
  await selectBackend("cpu");
  const cfg = presetConfig("compact-ft").model;
  const params = initGrefel(cfg, 0);
  const w = await loadWeightMap(
    await npmFile("@vladmandic/face-api", "model/face_landmark_68_model-weights_manifest.json"),
  );
  try {
    await loadFinetuneWeights(params, cfg);
    const x = tf.randomUniform([2, 112, 112, 3], 0, 1, "float32", 3) as tf.Tensor4D;
    await assertNoLeak(async () => {
      const [got, want] = tf.tidy(() => {
        const [, , d2, d3] = faceFeatureTrunk(x, w);
        return [finetuneForward(params, d2, cfg), d3.clone()];
      });
      assert.deepEqual(got.shape, [2, 7, 7, 256]);
      await assertClose(got, want, 1e-4, 1e-4, "dense3");
      tf.dispose([got, want]);
    });
    x.dispose();
  } finally {
    tf.dispose(Object.values(w));
    disposeParams(params);
  }
});

Deno.test("finetune: gradients reach the block on wasm and on cpu, and agree", async () => {
  const cfg = microFinetune();
  const grads: Map<string, Float32Array>[] = [];
  for (const backend of ["cpu", "wasm"]) {
    await selectBackend(backend);
    const params = initGrefel(cfg, 1);
    const inputs = randomInputs(cfg, 3, 2);
    const labels = Int32Array.from([0, 1, 2]);
    const target = smoothLabels(labels, cfg.classes, 0);
    const vars = trainableVariables(params);
    const names = new Map([...flattenParams(params)].map(([p, v]) => [v.name, p]));
    const got = await assertNoLeak(async () => {
      const { grads: g, value } = tf.variableGrads(() => {
        const out = grefelForward(params, inputs, cfg, { training: false });
        return grefelLoss(params, out, target, cfg).total;
      }, vars);
      const m = new Map<string, Float32Array>();
      for (const [name, t] of Object.entries(g)) {
        const p = names.get(name)!;
        if (p.startsWith("finetune/")) m.set(p, (await t.data()) as Float32Array);
      }
      tf.dispose([value, ...Object.values(g)]);
      return m;
    }, backend);
    assert.equal(got.size, 12, "4 convolutions × (depthwise, pointwise, bias)");
    for (const [p, g] of got) {
      assert.ok(g.every(Number.isFinite), `${p} finite`);
      assert.ok(g.some((v) => v !== 0), `${p} has a non-zero gradient`);
    }
    grads.push(got);
    disposeInputs(inputs);
    target.dispose();
    disposeParams(params);
  }
  for (const [p, g] of grads[0]) await assertClose(grads[1].get(p)!, g, 1e-4, 1e-3, p);
});
