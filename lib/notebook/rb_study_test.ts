import { join } from "node:path";
import { assert } from "../testing.ts";
import { branchReport } from "../eval/branches.ts";
import {
  chooseDefault,
  pairedAgainst,
  rbByClass,
  rbByClassRows,
  rbEffect,
  rbRole,
  readStudy,
  studyGrid,
  type StudyMetrics,
  studyProgress,
  type StudyRow,
  studyRows,
  type StudyRun,
  type SyntheticResult,
  syntheticRows,
  testCriteria,
  validationCriteria,
} from "./rb_study.ts";

const C = 2;
/** Writes one fake run: `primaryRight`/`finalRight` say which test images each head gets right. */
async function fakeRun(
  root: string,
  id: string,
  variant: string,
  seed: number,
  primaryRight: number[],
  finalRight: number[],
  val: { fixed: number; broken: number },
) {
  const d = join(root, id);
  await Deno.mkdir(d, { recursive: true });
  const labels = Int32Array.from(primaryRight, (_, i) => i % 2);
  const dist = (right: number[]) =>
    Float32Array.from(
      [...labels].flatMap((
        y,
        i,
      ) => (right[i] ? (y === 0 ? [0.8, 0.2] : [0.2, 0.8]) : (y === 0 ? [0.3, 0.7] : [0.7, 0.3]))),
    );
  const primary = dist(primaryRight), final = dist(finalRight);
  const rb = branchReport(labels, {
    primary,
    geometric: null,
    attentive: null,
    correction: final,
    final,
  }, C);
  await Deno.writeTextFile(join(d, "config.json"), JSON.stringify({ runId: id, variant, seed }));
  const valReport = { ...rb, changes: { ...rb.changes, changed: val.fixed + val.broken, ...val } };
  await Deno.writeTextFile(
    join(d, "log.jsonl"),
    JSON.stringify({ epoch: 1, val: valReport }) + "\n",
  );
  const acc = (r: number[]) => r.reduce((a, b) => a + b, 0) / r.length;
  await Deno.writeTextFile(
    join(d, "metrics.json"),
    JSON.stringify({
      accuracy: acc(finalRight),
      primaryAccuracy: acc(primaryRight),
      best: { metric: "valAccuracy", value: acc(finalRight), epoch: 1 },
      stopped: { reason: "early-stop", epoch: 6, bestEpoch: 1, patience: 5 },
      rb,
      epochs: 6,
    }),
  );
  const rows = ["id,label,primary,final,primary_a,primary_b,final_a,final_b"];
  labels.forEach((y, i) =>
    rows.push(
      `s${i},${y},0,0,${primary[2 * i]},${primary[2 * i + 1]},${final[2 * i]},${final[2 * i + 1]}`,
    )
  );
  await Deno.writeTextFile(join(d, "predictions.csv"), rows.join("\n") + "\n");
}

Deno.test("rb study: rows per variant, the default rule, and paired differences", async () => {
  const root = await Deno.makeTempDir();
  try {
    // `paper`: RB sidelined (no changes on validation), L_final = l.
    await fakeRun(root, "p0", "paper", 0, [1, 1, 1, 0, 0, 0], [1, 1, 1, 0, 0, 0], {
      fixed: 0,
      broken: 0,
    });
    await fakeRun(root, "p1", "paper", 1, [1, 1, 0, 0, 0, 0], [1, 1, 0, 0, 0, 0], {
      fixed: 0,
      broken: 0,
    });
    // `aux`: RB active (fixes > breaks), better L_final.
    await fakeRun(root, "a0", "aux", 0, [1, 1, 1, 0, 0, 0], [1, 1, 1, 1, 1, 0], {
      fixed: 3,
      broken: 1,
    });
    await fakeRun(root, "a1", "aux", 1, [1, 1, 0, 0, 0, 0], [1, 1, 1, 1, 0, 0], {
      fixed: 2,
      broken: 1,
    });
    // `worse`: RB active but lower validation accuracy.
    await fakeRun(root, "w0", "worse", 0, [1, 0, 0, 0, 0, 0], [1, 1, 0, 0, 0, 0], {
      fixed: 1,
      broken: 0,
    });
    await Deno.mkdir(join(root, "running"));
    await Deno.writeTextFile(
      join(root, "running", "config.json"),
      JSON.stringify({ variant: "aux", seed: 2 }),
    );
    const runs = await readStudy(root);
    assert.equal(runs.length, 6);
    const rows = studyRows(runs);
    const aux = rows.find((r) => r.variant === "aux")!;
    assert.equal(aux.seeds, 2);
    assert.equal(aux.running, 1);
    assert.ok(Math.abs(aux.testFinal.mean - 0.75) < 1e-9);
    assert.ok(Math.abs(aux.changed.mean - 1 / 3) < 1e-9); // 2 of 6 changed in each seed
    assert.equal(rows.find((r) => r.variant === "paper")!.rbActive, false);
    assert.equal(chooseDefault(rows, { rule: "rb-active" })!.variant, "aux");
    // Its primary head is 33 points behind L_final: the criteria rule admits none of these.
    assert.equal(chooseDefault(rows, { runs }), null);
    const d = pairedAgainst(runs, "aux", "paper")!;
    assert.equal(d.seeds, 2);
    assert.ok(Math.abs(d.difference - 1 / 3) < 1e-9);
    assert.equal(pairedAgainst(runs, "worse", "nothing"), null);
    // Within a variant: L_final − primary over its seeds (paper: L_final = l on every image).
    const none = rbEffect(runs, "paper")!;
    assert.equal(none.seeds, 2);
    assert.equal(none.difference, 0);
    assert.deepEqual(none.interval, [0, 0]);
    assert.equal(rbEffect(runs, "nothing"), null);
    const fixes = rbEffect(runs, "aux")!; // +2 of 6 images in each seed
    assert.ok(Math.abs(fixes.difference - 1 / 3) < 1e-9);
    assert.ok(fixes.interval[0] >= 0 && fixes.interval[1] > 0.3);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("rb study: a running run shows where it stands", async () => {
  const root = await Deno.makeTempDir();
  try {
    const d = join(root, "r1");
    await Deno.mkdir(d);
    await Deno.writeTextFile(join(d, "config.json"), JSON.stringify({ variant: "v", seed: 2 }));
    const val = {
      accuracy: { primary: 0.5, geometric: null, attentive: null, correction: 0.6, final: 0.625 },
      changes: { fixed: 7, broken: 3, changed: 12 },
    };
    await Deno.writeTextFile(
      join(d, "log.jsonl"),
      [{ epoch: 1, val }, { epoch: 2, val: null }].map((e) => JSON.stringify(e)).join("\n"),
    );
    const [row] = studyRows(await readStudy(root));
    assert.equal(row.seeds, 0);
    assert.equal(row.running, 1);
    assert.deepEqual(row.progress, ["s2 ep 1: val 62.5% (primary 50.0%, RB +7/−3)"]);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("rb study: synthetic results aggregate per variant × head", () => {
  const r = (variant: string, seed: number, l: number, f: number): SyntheticResult => ({
    variant,
    head: "dropout-0",
    seed,
    accuracy: { primary: l, geometric: null, attentive: 0.5, correction: 0.5, final: f },
    changed: 10 + seed,
    fixed: 6,
    broken: 4,
    mcnemarP: 0.75,
    medianPrimaryConfidence: 0.2 + 0.1 * seed,
  });
  const rows = syntheticRows([r("a", 0, 0.6, 0.7), r("a", 1, 0.8, 0.9), r("b", 0, 0.5, 0.5)]);
  assert.equal(rows.length, 2);
  assert.equal(rows[0].variant, "a");
  assert.equal(rows[0].seeds, "2");
  assert.match(rows[0]["l %"], /^70\.00 ± 14\.1/);
  assert.equal(rows[0]["t_g %"], "off");
  assert.equal(rows[0]["changed / fixed / broken"], "11 / 6 / 4");
  assert.equal(rows[0]["median c_l"], "0.25");
});

Deno.test("rb study: the criteria rule admits only RB that corrects a working head", async () => {
  const root = await Deno.makeTempDir();
  const right = (n: number, k: number) => Array.from({ length: n }, (_, i) => (i < k ? 1 : 0));
  try {
    // Dead head: the correction replaced it (primary 40%, L_final 85%), highest validation score.
    await fakeRun(root, "d0", "dead-head", 0, right(100, 40), right(100, 85), {
      fixed: 45,
      broken: 0,
    });
    // Inert: RB changes 1 in 100.
    await fakeRun(root, "i0", "inert", 0, right(100, 80), right(100, 81), { fixed: 1, broken: 0 });
    // Balanced: primary 80%, L_final 82%, 4 changes (3 fixed, 1 broken).
    const primary = right(100, 80), final = right(100, 80);
    final[80] = final[81] = final[82] = 1;
    final[0] = 0;
    await fakeRun(root, "b0", "balanced", 0, primary, final, { fixed: 3, broken: 1 });
    const runs = await readStudy(root);
    const rows = studyRows(runs);
    const of = (v: string) => validationCriteria(runs.filter((r) => r.variant === v));
    assert.deepEqual(of("dead-head").map((c) => c.met), [false, true, true, false]);
    assert.deepEqual(of("inert").map((c) => c.met), [true, false, true, true]);
    assert.deepEqual(of("balanced").map((c) => c.met), [true, true, true, true]);
    assert.match(of("balanced")[0].evidence, /L_final 82\.00%, primary 80\.00%/);
    assert.equal(chooseDefault(rows, { rule: "rb-active" })!.variant, "dead-head");
    assert.equal(chooseDefault(rows, { runs })!.variant, "balanced");
    assert.throws(() => chooseDefault(rows), /needs the study's runs/);
    // On the test split (the same fake predictions): all five checks for the balanced variant.
    const t = testCriteria(rows.find((r) => r.variant === "balanced")!);
    assert.deepEqual(t.map((c) => c.met).slice(0, 4), [true, true, true, true]);
    assert.equal(t.length, 5);
    assert.deepEqual(testCriteria(rows.find((r) => r.variant === "dead-head")!)[0].met, false);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("studyProgress: finished seeds of the required grid, the cells still short, extras apart", () => {
  const run = (variant: string, seed: number, finished = true): StudyRun => ({
    dir: `x/${variant}/${seed}`,
    runId: `${variant}-${seed}`,
    variant,
    seed,
    log: [],
    metrics: finished ? ({ accuracy: 0.5 } as StudyMetrics) : null,
  });
  const grid = { trainings: ["paper", "aux"], heads: ["d0"], seeds: 2 };
  const p = studyProgress([
    run("training=paper,head=d0", 0),
    run("training=paper,head=d0", 1),
    run("training=paper,head=d0", 2), // beyond the required seeds: not counted
    run("training=aux,head=d0", 0),
    run("training=aux,head=d0", 1, false), // still training
    run("training=aux,head=bn", 0), // not a grid cell
  ], grid);
  assert.deepEqual(p, {
    cellsDone: 1,
    cellsTotal: 2,
    runsDone: 3,
    runsRequired: 4,
    missing: [{ variant: "training=aux,head=d0", seeds: 1 }],
    extraRuns: 1,
  });
  assert.equal(studyProgress([]).runsRequired, 24, "the study's grid: 4 variants × 2 heads × 3");
});

Deno.test("rbByClass: per true class, accuracies, fixes, breaks and the paired effect", async () => {
  const root = await Deno.makeTempDir();
  try {
    // Labels alternate a, b. Class a (images 0, 2, 4, 6): RB fixes two a-images in each seed.
    // Class b (1, 3, 5, 7): RB breaks image 1 in seed 0 only.
    await fakeRun(root, "r0", "v", 0, [1, 1, 0, 1, 0, 1, 1, 1], [1, 0, 1, 1, 1, 1, 1, 1], {
      fixed: 0,
      broken: 0,
    });
    await fakeRun(root, "r1", "v", 1, [1, 1, 0, 1, 0, 1, 1, 1], [1, 1, 1, 1, 1, 1, 1, 1], {
      fixed: 0,
      broken: 0,
    });
    await fakeRun(root, "x", "other", 0, [0, 0, 0, 0, 0, 0, 0, 0], [0, 0, 0, 0, 0, 0, 0, 0], {
      fixed: 0,
      broken: 0,
    });
    const runs = await readStudy(root);
    const [a, b] = rbByClass(runs, "v");
    assert.equal(a.className, "a");
    assert.equal(a.images, 4);
    assert.equal(a.primary, 0.5); // 2 of 4 right in each seed
    assert.equal(a.final, 1);
    assert.equal(a.fixed, 2);
    assert.equal(a.broken, 0);
    assert.equal(a.effect.difference, 0.5);
    assert.equal(a.effect.seeds, 2);
    assert.equal(b.images, 4);
    assert.equal(b.primary, 1);
    assert.equal(b.final, 7 / 8); // 3 of 4 in seed 0, 4 of 4 in seed 1
    assert.equal(b.fixed, 0);
    assert.equal(b.broken, 0.5);
    assert.equal(b.effect.difference, -1 / 8);
    assert.deepEqual(rbByClass(runs, "missing"), []);
    const rows = rbByClassRows([a, b]);
    assert.equal(rows[0]["fixed / broken (mean per seed)"], "2.0 / 0.0");
    assert.match(String(rows[0]["L_final − primary (95% CI)"]), /^\+50\.00 points/);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

/** A study row with every field neutral except those given (means of one seed). */
function row(over: Partial<Record<"final" | "primary" | "changed" | "cl", number>>): StudyRow {
  const one = (mean: number) => ({ mean, std: NaN, n: 1 });
  return {
    variant: "v",
    seeds: 1,
    running: 0,
    valFinal: one(0.8),
    testFinal: one(over.final ?? 0.8),
    testPrimary: one(over.primary ?? 0.8),
    changed: one(over.changed ?? 0),
    fixed: 0,
    broken: 0,
    mcnemarP: [1],
    medianCl: one(over.cl ?? 0.7),
    stdPrimary: one(0.2),
    stdFinal: one(0.2),
    stops: [],
    rbActive: false,
    progress: [],
  };
}

Deno.test("rbRole: a switched-off head is replaced, a quiet RB is idle, the effect decides the rest", () => {
  const effect = (lo: number, hi: number) => ({
    seeds: 3,
    images: 100,
    difference: (lo + hi) / 2,
    interval: [lo, hi] as [number, number],
    standardError: 0.01,
    detectable: 0.03,
    replicates: 2000,
    accuracy: { a: 0.8, b: 0.78 },
  });
  // Median c_l 0.01 and the head 20 points behind: replaced, whatever the effect says.
  assert.equal(
    rbRole(row({ final: 0.76, primary: 0.56, cl: 0.01, changed: 0.3 }), effect(0.1, 0.3)),
    "replaces",
  );
  // A low c_l alone, with the head level with L_final, is not a switched-off head.
  assert.equal(rbRole(row({ cl: 0.01, changed: 0.001 }), effect(0, 0)), "idle");
  assert.equal(rbRole(row({ changed: 0.019 }), effect(0.001, 0.002)), "idle");
  assert.equal(
    rbRole(row({ final: 0.76, primary: 0.745, changed: 0.06 }), effect(0.003, 0.026)),
    "corrects",
  );
  assert.equal(rbRole(row({ changed: 0.06 }), effect(-0.01, 0.02)), "not resolved");
  assert.equal(rbRole(row({ changed: 0.06 }), effect(-0.03, -0.01)), "harms");
  assert.equal(rbRole(row({ changed: 0.06 }), null), "not resolved");
});

Deno.test("studyGrid: one row per training variant, one column per head, empty cells say so", async () => {
  const root = await Deno.makeTempDir();
  try {
    // `paper` with head h1: RB fixes 2 of 6 images in each seed; `aux` with h1: L_final = l.
    for (const seed of [0, 1]) {
      await fakeRun(root, `p${seed}`, "training=paper,head=h1", seed, [1, 1, 0, 0, 0, 0], [
        1,
        1,
        1,
        1,
        0,
        0,
      ], {
        fixed: 2,
        broken: 0,
      });
      await fakeRun(root, `a${seed}`, "training=aux,head=h1", seed, [1, 1, 1, 0, 0, 0], [
        1,
        1,
        1,
        0,
        0,
        0,
      ], {
        fixed: 0,
        broken: 0,
      });
    }
    const runs = await readStudy(root);
    const grid = studyGrid(studyRows(runs), runs, {
      trainings: ["paper", "aux"],
      heads: ["h1", "h2"],
    });
    assert.deepEqual(grid.map((g) => g.training), ["paper", "aux"]);
    assert.deepEqual(Object.keys(grid[0]), ["training", "h1", "h2"]);
    // The fake distributions (0.8 / 0.2) give c_l well below 0.2, and the head is 33 points
    // behind L_final: a replaced head, not a corrected one.
    const cl = studyRows(runs).find((r) => r.variant === "training=paper,head=h1")!.medianCl.mean;
    assert.ok(cl < 0.2, `median c_l ${cl}`);
    assert.match(
      grid[0].h1,
      /^66\.67 ± 0\.00% · primary 33\.33 ± 0\.00% · changed 33\.33 ± 0\.00% · replaces \(2 seeds\)$/,
    );
    assert.match(grid[1].h1, /· changed 0\.00 ± 0\.00% · idle \(2 seeds\)$/);
    assert.equal(grid[0].h2, "no finished run");
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});
