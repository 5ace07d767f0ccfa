import { join } from "node:path";
import { assert, assertClose } from "../testing.ts";
import type { EpochLog } from "../run/log.ts";
import {
  controlPairs,
  meanSuccessiveChange,
  noiseRows,
  pairedRows,
  priorRows,
  stopRuleRows,
  ttaRows,
  validationNoise,
  withinRunRows,
} from "./averaging.ts";
import type { StudyRun } from "./rb_study.ts";

Deno.test("controlPairs: each treated value against its group's control; no partner, no pair", () => {
  const variants = [
    "ema=0,head=bn-dropout-0.5",
    "ema=0.997,head=bn-dropout-0.5",
    "ema=0.99,head=bn-dropout-0.5",
    "ema=0.997,head=dropout-0", // no ema=0 partner
    "finetune=none,head=bn-dropout-0.5", // another factor
  ];
  assert.deepEqual(controlPairs(variants, "ema", "0"), [
    { group: "bn-dropout-0.5", treated: variants[1], control: variants[0] },
    { group: "bn-dropout-0.5", treated: variants[2], control: variants[0] },
  ]);
  assert.deepEqual(controlPairs(variants, "lr", "1"), []);
});

const log = (vals: (number | null)[], raw?: number[]): EpochLog[] =>
  vals.map((v, i) => ({
    epoch: i + 1,
    valAccuracy: v,
    ...(raw ? { valRawAccuracy: raw[i] } : {}),
  } as EpochLog));

Deno.test("validation noise: the mean absolute epoch-to-epoch change after the burn-in", () => {
  assert.equal(meanSuccessiveChange([0.5]), null);
  assertClose(meanSuccessiveChange([0.5, 0.7, 0.6])!, 0.15, 1e-12);
  // Epochs 1–2 are left out with afterEpoch 2; epoch 4 was not evaluated (null).
  const l = log([0.1, 0.9, 0.70, null, 0.74, 0.66], [0.7, 0.7, 0.6, 0.6, 0.8, 0.6]);
  assertClose(validationNoise(l, "valAccuracy", 2)!, (0.04 + 0.08) / 2, 1e-12);
  assertClose(validationNoise(l, "valRawAccuracy", 2)!, (0 + 0.2 + 0.2) / 3, 1e-12);
  assert.equal(validationNoise(log([0.5, 0.6]), "valAccuracy", 0), null, "too few epochs");
  assertClose(validationNoise(l.slice(0, 3), "valRawAccuracy", 0)!, 0.05, 1e-12);
});

Deno.test("noise rows and paired rows: stopping, selection gap, noise, and pairs not yet finished", () => {
  const run = (variant: string, seed: number, accuracy: number | null): StudyRun => ({
    dir: "/nonexistent",
    runId: `${variant}-${seed}`,
    variant,
    seed,
    log: log([0.5, 0.6, 0.7, 0.66, 0.72], [0.5, 0.6, 0.7, 0.6, 0.8]),
    metrics: accuracy === null ? null : {
      accuracy,
      primaryAccuracy: accuracy,
      best: { metric: "valAccuracy", value: 0.72, epoch: 5 },
      stopped: { reason: "early-stop", epoch: 5, bestEpoch: 5, patience: 2 },
      epochs: 5,
    } as StudyRun["metrics"],
  });
  const rows = noiseRows([run("ema=0.997,head=h", 0, 0.7), run("ema=0,head=h", 0, null)], 1);
  assert.equal(rows.length, 1, "unfinished runs are left out");
  assert.equal(rows[0].stopped, "early-stop@5 (best 5)");
  assert.equal(rows[0]["val − test (points)"], "2.00");
  assert.equal(
    rows[0]["|Δ val| per epoch after 1 (points)"],
    ((0.1 + 0.04 + 0.06) / 3 * 100).toFixed(2),
  );
  assert.equal(
    rows[0]["|Δ val| of the raw weights (points)"],
    ((0.1 + 0.1 + 0.2) / 3 * 100).toFixed(2),
  );
  const pairs = controlPairs(["ema=0,head=h", "ema=0.997,head=h"], "ema", "0");
  const table = pairedRows([run("ema=0.997,head=h", 0, 0.7), run("ema=0,head=h", 1, 0.6)], pairs, {
    group: "head",
    treated: "averaged",
    control: "single weights",
  });
  assert.deepEqual(Object.keys(table[0]), [
    "head",
    "averaged cell",
    "single weights: test L_final (seeds)",
    "averaged: test L_final (seeds)",
    "averaged − single weights (95% CI)",
  ]);
  assert.equal(table[0]["averaged cell"], "ema=0.997");
  assert.equal(table[0]["averaged − single weights (95% CI)"], "no seed finished in both arms yet");
});

Deno.test("withinRunRows: averaged against the same run's raw arm, paired on the same images", async () => {
  const root = await Deno.makeTempDir();
  try {
    // Two classes, four images with labels 0, 1, 0, 1; each file gives one L_final row per image.
    const csv = (finals: number[][]) =>
      "id,label,primary,final,primary_a,primary_b,final_a,final_b\n" +
      finals.map((f, i) => `i${i},${i % 2},0,0,0.5,0.5,${f[0]},${f[1]}`).join("\n") + "\n";
    const right = [[0.9, 0.1], [0.1, 0.9], [0.9, 0.1], [0.1, 0.9]];
    const runs: StudyRun[] = [];
    for (const seed of [0, 1]) {
      const dir = join(root, `s${seed}`);
      await Deno.mkdir(dir);
      // Averaged: all four right; raw: the first image wrong (seed 0) or the first two (seed 1).
      await Deno.writeTextFile(join(dir, "predictions.csv"), csv(right));
      const raw = right.map((r, i) => (i <= seed ? [r[1], r[0]] : r));
      await Deno.writeTextFile(join(dir, "predictions-raw.csv"), csv(raw));
      runs.push({
        dir,
        runId: `r${seed}`,
        variant: "ema=0.997,head=h",
        seed,
        log: [],
        metrics: {
          accuracy: 1,
          raw: { accuracy: seed === 0 ? 0.75 : 0.5 },
        } as unknown as StudyRun["metrics"],
      });
    }
    const rows = withinRunRows([...runs, { ...runs[0], variant: "ema=0,head=h", metrics: null }]);
    assert.equal(rows.length, 1);
    assert.equal(rows[0].seeds, "0, 1");
    assert.equal(rows[0]["averaged: test L_final"], "100.00 ± 0.00%");
    assert.equal(rows[0]["raw weights, own best epoch: test L_final"], "62.50 ± 17.68%");
    assert.match(rows[0]["averaged − raw weights, own best epoch (95% CI)"], /^\+37\.50 points/);
    // The same files as a flip comparison: predictions-tta.csv against predictions.csv.
    for (const r of runs) {
      await Deno.copyFile(join(r.dir, "predictions-raw.csv"), join(r.dir, "predictions.csv"));
      await Deno.writeTextFile(join(r.dir, "predictions-tta.csv"), csv(right));
      const tta = { valid: { centre: { final: 0.5 }, averaged: { final: 0.75 } } };
      await Deno.writeTextFile(join(r.dir, "eval-best-tta.json"), JSON.stringify({ tta }));
    }
    const t = ttaRows(runs);
    assert.match(t[0]["flip-averaged − centre view (95% CI)"], /^\+37\.50 points/);
    assert.equal(t[0]["valid: centre → flip-averaged"], "50.00% → 75.00%");
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("priorRows: the correction moves a hand-checked prediction; validation from eval-best-prior.json", async () => {
  const root = await Deno.makeTempDir();
  try {
    // Two classes; labels 0, 0, 0, 1; plain arg-max right on images 0 and 3. Trained under
    // (0.5, 0.5), moved to (0.8, 0.2): (0.4, 0.6) → (0.73, 0.27) and (0.45, 0.55) → (0.77, 0.23)
    // turn right, (0.3, 0.7) → (0.63, 0.37) turns wrong: 50% → 75%.
    const finals = [[0.9, 0.1], [0.4, 0.6], [0.45, 0.55], [0.3, 0.7]];
    const labels = [0, 0, 0, 1];
    const csv = "id,label,primary,final,primary_a,primary_b,final_a,final_b\n" +
      finals.map((f, i) => `i${i},${labels[i]},0,0,0.5,0.5,${f[0]},${f[1]}`).join("\n") + "\n";
    const runs: StudyRun[] = [];
    for (const seed of [0, 1]) {
      const dir = join(root, `s${seed}`);
      await Deno.mkdir(dir);
      await Deno.writeTextFile(join(dir, "predictions.csv"), csv);
      runs.push({
        dir,
        runId: `r${seed}`,
        variant: "v",
        seed,
        log: [],
        metrics: { accuracy: 0.5 } as unknown as StudyRun["metrics"],
      });
    }
    const prior = { valid: { plain: { final: 0.6 }, corrected: { final: 0.7 } } };
    await Deno.writeTextFile(join(root, "s0", "eval-best-prior.json"), JSON.stringify({ prior }));
    const rows = priorRows(runs, { samplerPrior: [0.5, 0.5], targetPrior: [0.8, 0.2] });
    assert.equal(rows.length, 1);
    assert.equal(rows[0]["plain: test L_final"], "50.00 ± 0.00%");
    assert.equal(rows[0]["prior-corrected: test L_final"], "75.00 ± 0.00%");
    assert.match(rows[0]["corrected − plain (95% CI)"], /^\+25\.00 points/);
    // balanced: plain recalls (1/3, 1) → 66.67%; corrected (1, 0) → 50.00%
    assert.equal(rows[0]["test balanced accuracy: plain → corrected"], "66.67% → 50.00%");
    assert.equal(rows[0]["valid: plain → corrected"], "60.00% → 70.00% (1 run)");
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("stopRuleRows: other rules replayed on a run's own log, with whether the weights are the same", async () => {
  const dir = await Deno.makeTempDir();
  try {
    // The run watched its raw curve with patience 3 and stopped at epoch 8 (raw best at 5);
    // its averaged curve peaked at epoch 4.
    const earlyStop = {
      enabled: true,
      patience: 3,
      minEpochs: 0,
      window: 1,
      minDelta: 0,
      watch: "raw",
    };
    await Deno.writeTextFile(
      join(dir, "config.json"),
      JSON.stringify({
        runId: "r",
        config: { train: { epochs: 20, selectMetric: "valAccuracy", earlyStop } },
      }),
    );
    const avg = [0.5, 0.6, 0.7, 0.8, 0.75, 0.74, 0.73, 0.72];
    const raw = [0.4, 0.5, 0.6, 0.62, 0.7, 0.6, 0.65, 0.66];
    const run: StudyRun = {
      dir,
      runId: "r",
      variant: "ema=0.997,stop=raw",
      seed: 1,
      log: log(avg, raw),
      metrics: {
        accuracy: 0.8123,
        primaryAccuracy: 0.8,
        best: { metric: "valAccuracy", value: 0.8, epoch: 4 },
        stopped: { reason: "early-stop", epoch: 8, bestEpoch: 4, patience: 3 },
        rb: {} as NonNullable<StudyRun["metrics"]>["rb"],
        epochs: 8,
      },
    };
    const rows = stopRuleRows([run, { ...run, metrics: null }], [
      { label: "own rule", earlyStop: {} },
      { label: "averaged, patience 2", earlyStop: { watch: "selected", patience: 2 } },
      {
        label: "averaged, patience 1, from 5",
        earlyStop: { watch: "selected", patience: 1, minEpochs: 5 },
      },
      { label: "raw, patience 1", earlyStop: { patience: 1 } },
      { label: "raw, patience 9", earlyStop: { patience: 9 } },
    ]);
    assert.equal(rows.length, 1, "a run in training has no row");
    const r = rows[0];
    assert.equal(r["as trained"], "8 epochs (early-stop), best 4");
    assert.equal(r["test L_final"], "81.23%");
    assert.equal(r["own rule"], "8 epochs, best 4: same weights");
    // Averaged curve: best at 4, two evaluations later (epoch 6) it stops.
    assert.equal(r["averaged, patience 2"], "6 epochs, best 4: same weights");
    assert.equal(r["averaged, patience 1, from 5"], "5 epochs, best 4: same weights");
    // Raw curve with patience 1: 0.62 at epoch 4 improves, 0.7 at 5 too, 0.6 at 6 stops it.
    assert.equal(r["raw, patience 1"], "6 epochs, best 4: same weights");
    assert.equal(r["raw, patience 9"], "needs > 8 epochs");
    // A rule that stops before the averaged peak selects other weights.
    const early = stopRuleRows([run], [{ label: "x", earlyStop: { patience: 0 } }])[0];
    assert.equal(early.x, "1 epochs, best 1: other weights (val 50.00%)");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
