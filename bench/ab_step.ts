/**
 * Benchmark (not a test): an interleaved A/B of the training step in ONE process, for a shared
 * machine whose load drifts. A is an older copy of the model code (`--old DIR`, a tree holding
 * `lib/`, e.g. `git archive <rev> lib | tar -x -C .scratch/old`) on tfjs' own wasm Identity
 * kernel; B is this tree's model code and kernels. Steps alternate A B A B … on the same
 * inputs, so both see the same load; the paired ratio B/A is the result. Each variant has its own
 * weights and Adam state. A step is model_speed.ts's: variableGrads of forward + loss, a read-back,
 * Adam's update.
 *
 * Usage (prints one JSON line):
 *   deno run -A bench/ab_step.ts --old .scratch/old [--config compact] [--batch 64]
 *     [--warmup 2] [--rounds 6] [--same-kernels]   (A on this tree's kernels too)
 *
 * @module
 */
import { parseArgs } from "node:util";
import process from "node:process";
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";
import * as tf from "@tensorflow/tfjs";
import { createAdam } from "../lib/wasm_adam.ts";
import { selectBackend } from "../lib/backend.ts";
import { patchWasmIdentity, unpatchWasmIdentity } from "../lib/wasm_matmul.ts";
import { presetConfig } from "../lib/config.ts";
import * as current from "../lib/model/mod.ts";
import { median, randomInputs } from "./model_speed.ts";

type ModelModule = typeof current;

/** Seconds of one step: wall clock, and CPU time of this process (robust to other load). */
interface StepTime {
  wall: number;
  cpu: number;
}

/** One variant's training step, ready to run. */
function makeStep(m: ModelModule, config: string, batch: number): () => Promise<StepTime> {
  const cfg = presetConfig(config).model;
  // Both variants take weights from this tree's initGrefel (the parameter set is the same) so that
  // their variable names stay unique in the one engine.
  const params = current.initGrefel(cfg, 0);
  const vars = m.trainableVariables(params);
  const inputs = randomInputs(cfg, batch);
  const labels = Int32Array.from({ length: batch }, (_, i) => i % cfg.classes);
  const target = m.smoothLabels(labels, cfg.classes, cfg.loss.labelSmoothing);
  const opt = createAdam(3e-4);
  let it = 0;
  return async () => {
    const t = performance.now(), c = process.cpuUsage();
    const { grads, value } = tf.variableGrads(() => {
      const out = m.grefelForward(params, inputs, cfg, { training: true, seed: it++ });
      return m.grefelLoss(params, out, target, cfg).total;
    }, vars);
    await value.data();
    value.dispose();
    opt.applyGradients(grads as unknown as Parameters<typeof opt.applyGradients>[0]);
    tf.dispose(Object.values(grads));
    const s = tf.tidy(() => tf.sum(vars[vars.length - 1]));
    await s.data();
    s.dispose();
    const cpu = process.cpuUsage(c);
    return { wall: (performance.now() - t) / 1000, cpu: (cpu.user + cpu.system) / 1e6 };
  };
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      old: { type: "string" },
      config: { type: "string", default: "compact" },
      batch: { type: "string", default: "64" },
      warmup: { type: "string", default: "2" },
      rounds: { type: "string", default: "6" },
      "same-kernels": { type: "boolean", default: false },
    },
  });
  if (!values.old) throw new Error("--old DIR is required");
  await selectBackend("wasm");
  const oldModel = await import(
    pathToFileURL(resolve(values.old, "lib/model/mod.ts")).href
  ) as ModelModule;
  const batch = Number(values.batch);
  const a = makeStep(oldModel, values.config!, batch);
  const b = makeStep(current, values.config!, batch);
  const runA = () => (values["same-kernels"] ? patchWasmIdentity() : unpatchWasmIdentity(), a());
  const runB = () => (patchWasmIdentity(), b());
  for (let i = 0; i < Number(values.warmup); i++) await runA(), await runB();
  const ta: StepTime[] = [], tb: StepTime[] = [], loads: number[] = [];
  for (let i = 0; i < Number(values.rounds); i++) {
    loads.push(Number(Deno.readTextFileSync("/proc/loadavg").split(" ")[0]));
    ta.push(await runA());
    tb.push(await runB());
  }
  const summary = (k: keyof StepTime) => ({
    old: ta.map((x) => +x[k].toFixed(3)),
    new: tb.map((x) => +x[k].toFixed(3)),
    oldMedian: +median(ta.map((x) => x[k])).toFixed(3),
    newMedian: +median(tb.map((x) => x[k])).toFixed(3),
    pairedRatioMedian: +median(ta.map((x, i) => tb[i][k] / x[k])).toFixed(3),
  });
  console.log(JSON.stringify({
    config: values.config,
    batch,
    wallSeconds: summary("wall"),
    cpuSeconds: summary("cpu"),
    load: loads,
  }));
}
