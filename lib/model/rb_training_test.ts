import * as tf from "@tensorflow/tfjs";
import { assert, assertClose, assertNoLeak } from "../testing.ts";
import { CONFIDENCE_GUARD, confidenceMix } from "./reliability.ts";
import { classLoss, grefelLoss, trustAt } from "./losses.ts";
import { parseModelConfig, rbTrainingProblem, rbTrainingSwitches } from "./config.ts";
import { grefelForward, initGrefel } from "./grefel.ts";
import { flattenParams, trainableVariables } from "./params.ts";
import { disposeInputs, microConfig, randomInputs } from "./test_fixtures.ts";
import { leaf, sub } from "./params.ts";

await tf.setBackend("cpu");

const EPS = 1e-8;

/** Normalised entropy by hand, with ε inside the log (eq. 11). */
function entropy(p: number[]): number {
  return -p.reduce((s, x) => s + x * Math.log(x + EPS), 0) / Math.log(p.length);
}

function softmax(z: number[]): number[] {
  const m = Math.max(...z);
  const e = z.map((x) => Math.exp(x - m));
  const s = e.reduce((a, b) => a + b, 0);
  return e.map((x) => x / s);
}

/**
 * ∂L_cls/∂z of the literal variant by hand, for l = softmax(z), a fixed correction t and
 * L_cls = −log L_final,y (eq. 19–20): split into the path through l's share and the path through
 * its confidence c_l, whose factor is ∂L_final,y/∂c_l = c_t·(l_y − t_y)/S².
 */
function gradByHand(z: number[], t: number[], y: number) {
  const C = z.length;
  const l = softmax(z);
  const g = CONFIDENCE_GUARD / 2;
  const a = 1 - entropy(l) + g, b = 1 - entropy(t) + g, S = a + b;
  const F = (a * l[y] + b * t[y]) / S;
  const dFda = b * (l[y] - t[y]) / (S * S); // the formula of the winner-take-all argument
  const dl = (j: number, k: number) => l[j] * ((j === k ? 1 : 0) - l[k]);
  const dHdl = (j: number) => -(Math.log(l[j] + EPS) + l[j] / (l[j] + EPS)) / Math.log(C);
  const share: number[] = [], conf: number[] = [];
  for (let k = 0; k < C; k++) {
    let dH = 0;
    for (let j = 0; j < C; j++) dH += dHdl(j) * dl(j, k);
    share.push(-(a / S) * dl(y, k) / F);
    conf.push(-dFda * -dH / F);
  }
  return { share, conf, total: share.map((s, k) => s + conf[k]), dLdcl: -dFda / F };
}

function lossOf(z: tf.Tensor2D, t: tf.Tensor2D, y: number, detach: boolean): tf.Scalar {
  const final = confidenceMix(tf.softmax(z), t, EPS, detach);
  return classLoss(final, tf.oneHot([y], z.shape[1]).toFloat() as tf.Tensor2D, 1e-12);
}

Deno.test("paper variant: L_cls's gradient into the head's logits equals the hand formula", async () => {
  await assertNoLeak(async () => {
    const zv = [0.3, -0.2, 0.1], tv = [0.2, 0.7, 0.1], y = 1; // t ahead of l on the true class
    const hand = gradByHand(zv, tv, y);
    const z = tf.tensor2d([zv]), t = tf.tensor2d([tv]);
    const g = tf.grad((x: tf.Tensor) => lossOf(x as tf.Tensor2D, t, y, false))(z);
    await assertClose(g, hand.total, 1e-5);
    // With stop-gradient confidences only the share path is left: the difference is the
    // confidence path, ∝ c_t·(l_y − t_y)/S².
    const gd = tf.grad((x: tf.Tensor) => lossOf(x as tf.Tensor2D, t, y, true))(z);
    await assertClose(gd, hand.share, 1e-5);
    // t_y > l_y: ∂L/∂c_l > 0, so gradient descent lowers the primary head's confidence.
    assert.ok(hand.dLdcl > 0, `∂L/∂c_l = ${hand.dLdcl}`);
    tf.dispose([z, t, g, gd]);
  });
});

Deno.test("rb.training: names are validated, combinations parse, paper combines with nothing", () => {
  assert.equal(rbTrainingProblem("paper"), null);
  assert.equal(rbTrainingProblem("aux-primary+detach-confidence"), null);
  assert.deepEqual(
    [...rbTrainingSwitches("trust-ramp+aux-primary")].sort(),
    ["aux-primary", "trust-ramp"],
  );
  assert.equal(rbTrainingSwitches("paper").size, 0);
  assert.match(rbTrainingProblem("aux")!, /unknown training variant "aux".*known: paper/);
  assert.match(rbTrainingProblem("paper+aux-primary")!, /combines with nothing/);
  assert.match(rbTrainingProblem("aux-primary+aux-primary")!, /twice/);
  assert.throws(
    () => parseModelConfig({ rb: { training: "detach" } }),
    /model\.rb\.training: unknown training variant "detach"/,
  );
  assert.throws(() => parseModelConfig({ head: { order: "bn-first" } }), /model\.head\.order/);
});

Deno.test("trust ramp: τ rises linearly to 1 over rb.trustRampEpochs and stays", () => {
  assert.equal(trustAt(0, 10), 0);
  assert.equal(trustAt(2.5, 10), 0.25);
  assert.equal(trustAt(10, 10), 1);
  assert.equal(trustAt(40, 10), 1);
});

/** Squared norm of the gradient of grefelLoss into `head/out/w` with the head made uniform. */
async function headGradAtUniform(training: string, progress?: number): Promise<number> {
  const cfg = microConfig({ rb: { training }, head: { hidden: [8, 8], dropout: 0 } });
  const params = initGrefel(cfg, 3);
  const out = leaf(sub(sub(params, "head"), "out"), "w") as tf.Variable;
  const outB = leaf(sub(sub(params, "head"), "out"), "b") as tf.Variable;
  out.assign(tf.zerosLike(out)); // logits 0 → l exactly uniform, c_l = 0
  outB.assign(tf.zerosLike(outB));
  const x = randomInputs(cfg, 6, 5);
  const target = tf.tidy(() =>
    tf.oneHot(tf.tensor1d([0, 1, 2, 0, 1, 2], "int32"), 3).toFloat() as tf.Tensor2D
  );
  const { grads, value } = tf.variableGrads(() => {
    const o = grefelForward(params, x, cfg, { training: true, seed: 1 });
    return grefelLoss(params, o, target, cfg, { progress }).total;
  }, trainableVariables(params));
  const g = grads[out.name];
  const n = (await tf.sum(tf.square(g)).data())[0];
  tf.dispose([...Object.values(grads), value, target]);
  disposeInputs(x);
  for (const v of flattenParams(params).values()) v.dispose();
  return n;
}

Deno.test("at a uniform primary head the literal variant gives it no gradient; aux-primary and trust-ramp do", async () => {
  const paper = await headGradAtUniform("paper");
  const aux = await headGradAtUniform("aux-primary");
  const ramp = await headGradAtUniform("trust-ramp", 0);
  const detach = await headGradAtUniform("detach-confidence");
  assert.ok(aux > 1e-4, `aux-primary ‖∇‖² = ${aux}`);
  assert.ok(ramp > 1e-4, `trust-ramp ‖∇‖² = ${ramp}`);
  // The literal variant reaches l only through its weight c_l / (c_l + c_t), and c_l = 0 at a
  // uniform l (what is left is the 1e-6 guard over the corrections' small initial confidence).
  assert.ok(paper < 1e-3 * aux, `paper ‖∇‖² = ${paper} vs aux ${aux}`);
  assert.ok(detach < 1e-3 * aux, `detach-confidence ‖∇‖² = ${detach} vs aux ${aux}`);
});

Deno.test("trust ramp at τ = 0 trains L_cls on l alone and switches L_a, L_c off; at τ = 1 it is the paper's loss", async () => {
  await assertNoLeak(() => {
    const cfg = microConfig({ rb: { training: "trust-ramp", trustRampEpochs: 4 } });
    const paperCfg = microConfig({ rb: { training: "paper" } });
    const params = initGrefel(cfg, 2);
    const x = randomInputs(cfg, 4, 2);
    const target = tf.tidy(() =>
      tf.oneHot(tf.tensor1d([0, 1, 2, 1], "int32"), 3).toFloat() as tf.Tensor2D
    );
    const vals = tf.tidy(() => {
      const o = grefelForward(params, x, cfg, { training: false });
      const start = grefelLoss(params, o, target, cfg, { progress: 0 });
      const end = grefelLoss(params, o, target, cfg, { progress: 4 });
      const paper = grefelLoss(params, o, target, paperCfg);
      const onPrimary = classLoss(o.primary, target, cfg.loss.logClamp);
      return [start.total, onPrimary, end.total, paper.total].map((t) => t.arraySync() as number);
    });
    assert.ok(Math.abs(vals[0] - vals[1]) < 1e-6, `τ=0: ${vals[0]} vs L_cls(l) ${vals[1]}`);
    assert.ok(Math.abs(vals[2] - vals[3]) < 1e-6, `τ=1: ${vals[2]} vs paper ${vals[3]}`);
    tf.dispose(target);
    disposeInputs(x);
    for (const v of flattenParams(params).values()) v.dispose();
  });
});

Deno.test("head order: dropout-bn and bn-dropout agree in evaluation mode and differ in training", async () => {
  const a = microConfig({ head: { hidden: [8, 8], dropout: 0.5, order: "dropout-bn" } });
  const b = microConfig({ head: { hidden: [8, 8], dropout: 0.5, order: "bn-dropout" } });
  const params = initGrefel(a, 4);
  const x = randomInputs(a, 5, 9);
  const run = (cfg: typeof a, training: boolean) =>
    tf.tidy(() => grefelForward(params, x, cfg, { training, seed: 7, updateStats: false }).primary);
  const [ea, eb, ta, tb] = [run(a, false), run(b, false), run(a, true), run(b, true)];
  await assertClose(ea, Array.from(await eb.data()), 1e-6);
  const diff = (await tf.max(tf.abs(tf.sub(ta, tb))).data())[0];
  assert.ok(diff > 1e-4, `training-mode outputs differ by ${diff}`);
  tf.dispose([ea, eb, ta, tb]);
  disposeInputs(x);
  for (const v of flattenParams(params).values()) v.dispose();
});

Deno.test("aux-branches adds L_cls of l, t_g and t_a; it does not combine with aux-primary", async () => {
  assert.match(rbTrainingProblem("aux-primary+aux-branches")!, /does not combine/);
  assert.equal(rbTrainingProblem("aux-branches+detach-confidence"), null);
  await assertNoLeak(() => {
    const cfg = microConfig({ rb: { training: "aux-branches", auxWeight: 0.5 } });
    const paperCfg = microConfig({ rb: { training: "paper" } });
    const params = initGrefel(cfg, 4);
    const x = randomInputs(cfg, 4, 3);
    const target = tf.tidy(() =>
      tf.oneHot(tf.tensor1d([0, 1, 2, 1], "int32"), 3).toFloat() as tf.Tensor2D
    );
    const v = tf.tidy(() => {
      const o = grefelForward(params, x, cfg, { training: false });
      const mine = grefelLoss(params, o, target, cfg);
      const paper = grefelLoss(params, o, target, paperCfg);
      const byHand = [o.primary, o.geometric!, o.attentive!]
        .map((p) => classLoss(p, target, cfg.loss.logClamp).arraySync() as number)
        .reduce((a, b) => a + b, 0);
      return {
        aux: mine.aux.arraySync() as number,
        total: mine.total.arraySync() as number,
        paper: paper.total.arraySync() as number,
        byHand,
      };
    });
    assert.ok(Math.abs(v.aux - v.byHand) < 1e-5, `aux ${v.aux} vs by hand ${v.byHand}`);
    assert.ok(
      Math.abs(v.total - (v.paper + 0.5 * v.byHand)) < 1e-5,
      `total ${v.total} vs paper + λ_aux·aux ${v.paper + 0.5 * v.byHand}`,
    );
    tf.dispose(target);
    disposeInputs(x);
    for (const p of flattenParams(params).values()) p.dispose();
  });
});
