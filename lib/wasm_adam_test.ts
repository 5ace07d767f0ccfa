import * as tf from "@tensorflow/tfjs";
import { assert } from "./testing.ts";
import { selectBackend } from "./backend.ts";
import { mulberry32 } from "./random.ts";
import { createAdam, setWasmAdam, WasmAdamOptimizer } from "./wasm_adam.ts";

/** The gradient map as `applyGradients` is typed. */
type Grads = Parameters<tf.AdamOptimizer["applyGradients"]>[0];

/** Seeded normal-ish values (sum of uniforms), scaled. */
function values(n: number, rand: () => number, scale: number): Float32Array {
  return Float32Array.from({ length: n }, () => (rand() + rand() + rand() - 1.5) * scale);
}

/** Bit patterns of a tensor's values. */
async function bits(t: tf.Tensor): Promise<Uint32Array> {
  return new Uint32Array(((await t.data()) as Float32Array).slice().buffer);
}

/** Index of the first differing bit pattern, or −1. */
function firstDiff(a: Uint32Array, b: Uint32Array): number {
  if (a.length !== b.length) return 0;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return i;
  return -1;
}

/**
 * Trains two copies of the same weights for `steps` steps on the same gradients, one with tfjs'
 * Adam and one with `fused`, and asserts that weights and moments are bit-identical after each.
 */
async function compareWithTfjs(
  fused: WasmAdamOptimizer,
  shapes: number[][],
  steps: number,
  share = false,
): Promise<WasmAdamOptimizer["lastStep"][]> {
  const rand = mulberry32(11);
  const init = shapes.map((s) => values(s.reduce((x, y) => x * y, 1), rand, 0.5));
  const ref = init.map((d, i) => tf.variable(tf.tensor(d, shapes[i]), true, `ref${i}_${share}`));
  // With `share`, each fused weight starts as a tensor that stays alive and shares its storage;
  // the update must leave that tensor as it was.
  const kept = init.map((d, i) => tf.tensor(d, shapes[i]));
  const own = kept.map((t, i) =>
    share ? tf.variable(t, true, `own${i}_s`) : tf.variable(t.clone())
  );
  if (!share) tf.dispose(kept);
  const tfAdam = tf.train.adam(3e-3, 0.9, 0.999);
  const log: WasmAdamOptimizer["lastStep"][] = [];
  try {
    for (let step = 0; step < steps; step++) {
      if (step === 2) {
        // A learning-rate change between steps, as the schedule does.
        for (const o of [tfAdam, fused]) {
          (o as unknown as { learningRate: number }).learningRate = 1e-3;
        }
      }
      const g = shapes.map((s) => values(s.reduce((x, y) => x * y, 1), rand, step === 1 ? 0 : 2));
      const gRef: tf.NamedTensorMap = {}, gOwn: tf.NamedTensorMap = {};
      g.forEach((d, i) => {
        gRef[ref[i].name] = tf.tensor(d, shapes[i]);
        gOwn[own[i].name] = tf.tensor(d, shapes[i]);
      });
      tfAdam.applyGradients(gRef as unknown as Grads);
      fused.applyGradients(gOwn as unknown as Grads);
      log.push(fused.lastStep);
      tf.dispose([...Object.values(gRef), ...Object.values(gOwn)]);
      for (let i = 0; i < shapes.length; i++) {
        const d = firstDiff(await bits(ref[i]), await bits(own[i]));
        assert.equal(d, -1, `step ${step}, weight ${i} [${shapes[i]}]: differs at ${d}`);
      }
      const wr = await tfAdam.getWeights(), wo = await fused.getWeights();
      assert.equal(wo.length, wr.length);
      for (let k = 1; k < wr.length; k++) {
        const d = firstDiff(await bits(wr[k].tensor), await bits(wo[k].tensor));
        assert.equal(d, -1, `step ${step}, ${wo[k].name}: differs at ${d}`);
      }
      tf.dispose([wr[0].tensor, wo[0].tensor]); // the iteration scalars are fresh
    }
    if (share) {
      for (let i = 0; i < kept.length; i++) {
        const d = firstDiff(await bits(kept[i]), new Uint32Array(init[i].slice().buffer));
        assert.equal(d, -1, `the tensor sharing weight ${i}'s storage was changed at ${d}`);
      }
    }
  } finally {
    tf.dispose([...ref, ...own, ...(share ? kept : [])]);
    tfAdam.dispose();
  }
  return log;
}

// Sizes around the 4-value SIMD step (tails of 1–3) and a larger weight.
const SHAPES = [[1], [3], [4], [7], [2, 5], [64, 33], [1000]];

Deno.test("wasm adam: weights and moments are bit-identical to tfjs' Adam", async () => {
  await selectBackend("wasm");
  setWasmAdam(true);
  const fused = createAdam(3e-3, 0.9, 0.999);
  await compareWithTfjs(fused, SHAPES, 5);
  assert.deepEqual(fused.lastStep, { fused: SHAPES.length, fallback: 0 });
  fused.dispose();
});

Deno.test("wasm adam: a tensor sharing a weight's storage is untouched", async () => {
  await selectBackend("wasm");
  setWasmAdam(true);
  const fused = createAdam(3e-3, 0.9, 0.999);
  const log = await compareWithTfjs(fused, SHAPES.slice(0, 3), 3, true);
  assert.deepEqual(log[0], { fused: 3, fallback: 0 });
  fused.dispose();
});

Deno.test("wasm adam: products with an updated weight use its new values", async () => {
  // tfjs-wasm caches XNNPACK's packed right operand by tensor id: an update written into the
  // weight's own storage would leave the product multiplying with the old values.
  await selectBackend("wasm");
  setWasmAdam(true);
  const rand = mulberry32(5);
  const x = tf.tensor2d(values(300 * 24, rand, 1), [300, 24]); // tall: XNNPACK's path
  const w = tf.variable(tf.tensor2d(values(24 * 16, rand, 1), [24, 16]));
  const opt = createAdam(0.1);
  try {
    for (let step = 0; step < 3; step++) {
      tf.tidy(() => tf.matMul(x, w)).dispose(); // packs (and caches) w
      const g = tf.tensor2d(values(24 * 16, rand, 1), [24, 16]);
      opt.applyGradients({ [w.name]: g } as unknown as Grads);
      g.dispose();
      const [got, want] = tf.tidy(() => [tf.matMul(x, w), tf.matMul(x, w.clone())]);
      assert.equal(firstDiff(await bits(got), await bits(want)), -1, `step ${step}`);
      tf.dispose([got, want]);
    }
    assert.deepEqual(opt.lastStep, { fused: 1, fallback: 0 });
  } finally {
    tf.dispose([x, w]);
    opt.dispose();
  }
});

Deno.test("wasm adam: switched off, it is tfjs' Adam", async () => {
  await selectBackend("wasm");
  setWasmAdam(false);
  try {
    const fused = createAdam(3e-3, 0.9, 0.999);
    await compareWithTfjs(fused, SHAPES.slice(0, 2), 2);
    assert.equal(fused.lastStep.fused, 0);
    fused.dispose();
  } finally {
    setWasmAdam(true);
  }
});

Deno.test("wasm adam: a step leaves no tensors behind and its state round-trips", async () => {
  await selectBackend("wasm");
  setWasmAdam(true);
  const v = tf.variable(tf.ones([5, 3]));
  const opt = createAdam(1e-2);
  const step = () => {
    const g = tf.fill([5, 3], 0.5);
    opt.applyGradients({ [v.name]: g } as unknown as Grads);
    g.dispose();
  };
  step(); // creates the two moments
  const before = tf.memory().numTensors;
  for (let i = 0; i < 3; i++) step();
  assert.equal(tf.memory().numTensors, before, "tensors leaked by a step");
  // The state is tfjs': a fresh tfjs Adam given it continues identically.
  const w = await opt.getWeights();
  const other = tf.train.adam(1e-2);
  const v2 = tf.variable(v.clone());
  await other.setWeights(w.map((x) => ({ ...x, name: x.name.replace(v.name, v2.name) })));
  const g = tf.fill([5, 3], -0.25);
  opt.applyGradients({ [v.name]: g } as unknown as Grads);
  other.applyGradients({ [v2.name]: g } as unknown as Grads);
  assert.equal(firstDiff(await bits(v), await bits(v2)), -1);
  tf.dispose([v, v2, g, w[0].tensor]);
  opt.dispose();
  other.dispose();
});

Deno.test("lrScale: a scaled weight moves by the scale times the unscaled step; the others exactly as tfjs' Adam (wasm and cpu)", async () => {
  for (const backend of ["wasm", "cpu"]) {
    await selectBackend(backend);
    const rand = mulberry32(9);
    const a0 = values(37, rand, 1), b0 = values(21, rand, 1);
    const ga = values(37, rand, 0.1), gb = values(21, rand, 0.1);
    const run = async (scale: number | null) => {
      const a = tf.variable(tf.tensor(a0), true, `a_${backend}_${scale}`);
      const b = tf.variable(tf.tensor(b0), true, `b_${backend}_${scale}`);
      const opt = createAdam(1e-2);
      if (scale !== null) opt.lrScale.set(a.name, scale);
      for (let step = 0; step < 3; step++) {
        const g = { [a.name]: tf.tensor(ga), [b.name]: tf.tensor(gb) };
        opt.applyGradients(g as unknown as Grads);
        tf.dispose(Object.values(g));
      }
      const out = { a: (await a.data()) as Float32Array, b: await bits(b) };
      tf.dispose([a, b]);
      opt.dispose();
      return out;
    };
    const plain = await run(null), scaled = await run(0.1), one = await run(1);
    assert.equal(firstDiff(scaled.b, plain.b), -1, `${backend}: unscaled weight as tfjs' Adam`);
    const u32 = (x: Float32Array) => new Uint32Array(x.slice().buffer);
    assert.equal(firstDiff(u32(one.a), u32(plain.a)), -1, `${backend}: scale 1 is no scale`);
    for (let i = 0; i < a0.length; i++) {
      const dPlain = plain.a[i] - a0[i], dScaled = scaled.a[i] - a0[i];
      assert.ok(
        Math.abs(dScaled - 0.1 * dPlain) <= 1e-6 + 1e-3 * Math.abs(dPlain),
        `${backend} element ${i}: ${dScaled} vs 0.1 × ${dPlain}`,
      );
    }
  }
});
