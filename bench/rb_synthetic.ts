/**
 * A controlled experiment on reliability balancing (not a test): the project's own head,
 * corrections, confidences and losses (`grefelFromEmbedding`, `grefelLoss`) trained on a synthetic
 * embedding task, so the training variants can be compared in seconds instead of FER+ hours.
 *
 * The task: C class means drawn N(0, I) in D dimensions; a sample is its class mean plus
 * N(0, σ²) noise (σ sets the difficulty), and a share of the training labels is flipped at random
 * (label noise, which corrections are meant to absorb). The embedding e = LayerNorm(W·x + b) is
 * trained with the rest (as the fusion ViT's output is in the model). Anchors start at the class
 * means of the untrained embeddings (the project's default). Each configuration is trained for a
 * fixed number of steps with Adam and evaluated on a clean held-out set: accuracy of l, t_g, t_a
 * and L_final, what RB changes / fixes / breaks (McNemar), median c_l and w_l.
 *
 * Usage:
 *   deno run -A bench/rb_synthetic.ts [--steps 600] [--seeds 3] [--sigma 1.6] [--noise 0.2]
 *     [--variants paper,aux-primary,...] [--heads bn-dropout-0.5,dropout-0] [--out FILE.json]
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { parseArgs } from "node:util";
import { dirname } from "node:path";
import { parseModelConfig } from "../lib/model/config.ts";
import {
  grefelFromEmbedding,
  grefelLoss,
  initAnchorsFromEmbeddings,
  initGrefel,
  smoothLabels,
} from "../lib/model/mod.ts";
import { layerNorm, linear } from "../lib/model/layers.ts";
import { flattenParams } from "../lib/model/params.ts";
import { type BranchDistributions, branchReport } from "../lib/eval/branches.ts";
import { mulberry32 } from "../lib/train/schedule.ts";
import { selectBackend } from "../lib/backend.ts";

const { values } = parseArgs({
  options: {
    steps: { type: "string", default: "600" },
    seeds: { type: "string", default: "3" },
    classes: { type: "string", default: "8" },
    dim: { type: "string", default: "64" },
    sigma: { type: "string", default: "4" },
    noise: { type: "string", default: "0.2" },
    train: { type: "string", default: "4000" },
    test: { type: "string", default: "4000" },
    lr: { type: "string", default: "0.001" },
    "steps-per-epoch": { type: "string", default: "50" },
    variants: {
      type: "string",
      default:
        "paper,trust-ramp,aux-primary,aux-branches,detach-confidence,aux-primary+detach-confidence,aux-branches+detach-confidence",
    },
    heads: { type: "string", default: "dropout-bn-0.5,bn-dropout-0.5,dropout-0" },
    backend: { type: "string", default: "wasm" },
    out: { type: "string" },
  },
});

const C = Number(values.classes), D = Number(values.dim), B = 64;
const STEPS = Number(values.steps), SPE = Number(values["steps-per-epoch"]);

/** Standard normal draws from a seeded uniform generator (Box–Muller). */
function normals(rng: () => number, n: number): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i += 2) {
    const u = Math.max(rng(), 1e-12), v = rng();
    const r = Math.sqrt(-2 * Math.log(u));
    out[i] = r * Math.cos(2 * Math.PI * v);
    if (i + 1 < n) out[i + 1] = r * Math.sin(2 * Math.PI * v);
  }
  return out;
}

interface Split {
  x: Float32Array;
  y: Int32Array;
  clean: Int32Array;
}

/** The synthetic task for one seed: class means, a noisy-label training set, a clean test set. */
function makeTask(seed: number): { train: Split; test: Split } {
  const rng = mulberry32(seed * 9973 + 17);
  const means = normals(rng, C * D);
  const sigma = Number(values.sigma), flip = Number(values.noise);
  const split = (n: number, noisy: boolean): Split => {
    const x = new Float32Array(n * D), y = new Int32Array(n), clean = new Int32Array(n);
    const z = normals(rng, n * D);
    for (let i = 0; i < n; i++) {
      const c = i % C;
      clean[i] = c;
      y[i] = noisy && rng() < flip ? Math.floor(rng() * C) : c;
      for (let j = 0; j < D; j++) x[i * D + j] = means[c * D + j] + sigma * z[i * D + j];
    }
    return { x, y, clean };
  };
  return { train: split(Number(values.train), true), test: split(Number(values.test), false) };
}

/** Head spec `dropout-bn-0.5` → order and rate; `dropout-0` → no dropout. */
function headOf(spec: string): { order: "dropout-bn" | "bn-dropout"; dropout: number } {
  const m = spec.match(/^(dropout-bn|bn-dropout|dropout)-([\d.]+)$/);
  if (!m) throw new Error(`--heads: "${spec}" is not ORDER-RATE (dropout-bn-0.5, dropout-0)`);
  return { order: m[1] === "bn-dropout" ? "bn-dropout" : "dropout-bn", dropout: Number(m[2]) };
}

interface Result {
  variant: string;
  head: string;
  seed: number;
  seconds: number;
  accuracy: Record<string, number | null>;
  changed: number;
  fixed: number;
  broken: number;
  mcnemarP: number;
  medianPrimaryConfidence: number | null;
  medianPrimaryWeight: number | null;
}

async function runOne(variant: string, head: string, seed: number): Promise<Result> {
  const t0 = performance.now();
  const cfg = parseModelConfig({
    classes: C,
    embedDim: D,
    head: { hidden: [64, 64], ...headOf(head) },
    rb: { training: variant, anchorsPerClass: 10, attentionTokens: 4, attentionHeads: 2 },
  });
  const { train, test } = makeTask(seed);
  const params = initGrefel(cfg, seed + 1);
  const wrng = mulberry32(seed + 5);
  const proj = {
    w: tf.variable(tf.tensor2d(normals(wrng, D * D).map((v) => v / Math.sqrt(D)), [D, D])),
    b: tf.variable(tf.zeros([D])),
  };
  const norm = { gamma: tf.variable(tf.ones([D])), beta: tf.variable(tf.zeros([D])) };
  const embed = (x: tf.Tensor2D) => layerNorm(norm, linear(proj, x)) as tf.Tensor2D;
  const used = [...flattenParams(params).entries()]
    .filter(([k]) => k.startsWith("head/") || k.startsWith("rb/"))
    .map(([, v]) => v)
    .filter((v) => v.trainable);
  const vars = [...used, proj.w, proj.b, norm.gamma, norm.beta];
  // Anchors at the class means of the untrained embeddings of 512 class-balanced samples.
  const n0 = Math.min(512, train.y.length);
  const e0 = tf.tidy(() => embed(tf.tensor2d(train.x.subarray(0, n0 * D), [n0, D])));
  await initAnchorsFromEmbeddings(params, e0, Array.from(train.y.subarray(0, n0)), seed);
  e0.dispose();
  const opt = tf.train.adam(Number(values.lr));
  const rng = mulberry32(seed * 31 + 7);
  const n = train.y.length;
  for (let s = 0; s < STEPS; s++) {
    const idx = Int32Array.from({ length: B }, () => Math.floor(rng() * n));
    const xb = new Float32Array(B * D), yb = new Int32Array(B);
    idx.forEach((i, r) => {
      xb.set(train.x.subarray(i * D, (i + 1) * D), r * D);
      yb[r] = train.y[i];
    });
    const cost = opt.minimize(
      () => {
        const o = grefelFromEmbedding(params, embed(tf.tensor2d(xb, [B, D])), cfg, {
          training: true,
          seed: seed * 100003 + s,
        });
        const target = smoothLabels(yb, C, cfg.loss.labelSmoothing);
        return grefelLoss(params, o, target, cfg, { progress: s / SPE }).total;
      },
      true,
      vars,
    );
    cost?.dispose();
  }
  // Held-out evaluation in evaluation mode.
  const nt = test.y.length;
  const outs = tf.tidy(() => {
    const o = grefelFromEmbedding(params, embed(tf.tensor2d(test.x, [nt, D])), cfg, {
      training: false,
    });
    return [o.primary, o.geometric, o.attentive, o.correction, o.final] as tf.Tensor2D[];
  });
  const [primary, geometric, attentive, correction, final] = await Promise.all(
    outs.map((t) => (t ? t.data() as Promise<Float32Array> : Promise.resolve(null))),
  );
  tf.dispose(outs.filter(Boolean));
  const d: BranchDistributions = {
    primary: primary!,
    geometric,
    attentive,
    correction,
    final: final!,
  };
  const r = branchReport(test.clean, d, C, cfg.rb.entropyEpsilon);
  for (const v of vars) v.dispose();
  for (const v of flattenParams(params).values()) if (!v.isDisposed) v.dispose();
  opt.dispose();
  return {
    variant,
    head,
    seed,
    seconds: (performance.now() - t0) / 1000,
    accuracy: r.accuracy,
    changed: r.changes.changed,
    fixed: r.changes.fixed,
    broken: r.changes.broken,
    mcnemarP: r.changes.mcnemar.p,
    medianPrimaryConfidence: r.confidence.primary?.median ?? null,
    medianPrimaryWeight: r.primaryWeight?.median ?? null,
  };
}

if (import.meta.main) {
  await selectBackend(values.backend);
  const results: Result[] = [];
  const pct = (x: number | null) => (x === null ? "   -  " : (100 * x).toFixed(1).padStart(6));
  console.log(
    `C=${C} D=${D} σ=${values.sigma} label noise ${values.noise} steps ${STEPS} ` +
      `(${SPE} per epoch) lr ${values.lr}, clean test set of ${values.test}`,
  );
  console.log(
    "variant                             head            seed  l      t_g    t_a    L_final changed fixed broken  p        c_l   w_l",
  );
  for (const head of values.heads!.split(",")) {
    for (const variant of values.variants!.split(",")) {
      for (let seed = 0; seed < Number(values.seeds); seed++) {
        const r = await runOne(variant, head, seed);
        results.push(r);
        const a = r.accuracy;
        console.log(
          `${variant.padEnd(35)} ${head.padEnd(15)} ${String(seed).padStart(4)} ` +
            `${pct(a.primary)} ${pct(a.geometric)} ${pct(a.attentive)} ${pct(a.final)}  ` +
            `${String(r.changed).padStart(6)} ${String(r.fixed).padStart(5)} ` +
            `${String(r.broken).padStart(6)}  ${r.mcnemarP.toExponential(1).padStart(7)}  ` +
            `${(r.medianPrimaryConfidence ?? NaN).toFixed(2)}  ${
              (r.medianPrimaryWeight ?? NaN).toFixed(2)
            }`,
        );
      }
    }
  }
  if (values.out) {
    await Deno.mkdir(dirname(values.out), { recursive: true });
    await Deno.writeTextFile(
      values.out,
      JSON.stringify({ date: new Date().toISOString(), args: values, results }, null, 2) + "\n",
    );
  }
}
