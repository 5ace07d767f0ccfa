import { assert } from "../testing.ts";
import { join } from "node:path";
import { presetConfig } from "../config.ts";
import { planData } from "../train/prepare.ts";
import { assignStratifiedSplits, classCounts } from "./common.ts";
import { loadDataset } from "./datasets.ts";
import { mapClasses } from "./classes.ts";
import { FERPLUS_CLASSES } from "./ferplus.ts";
import { FER2013_CLASSES, loadFer2013 } from "./fer2013.ts";
import { scanDataset } from "./scan.ts";
import { encodePng } from "./image.ts";
import { gradient, messyFolder } from "./test_fixtures.ts";
import type { DatasetSample, LoadedDataset } from "./types.ts";

async function withDir(fn: (dir: string) => Promise<void>) {
  const dir = await Deno.makeTempDir({ prefix: "grefel-pipeline-" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

const folderConfig = (root: string, results: string, data: Record<string, unknown> = {}) =>
  presetConfig("tiny", {
    data: { dataset: "folder", root, faceCrop: "off", ...data },
    train: { resultsDir: results },
  });

Deno.test("messy folder: every format read, every bad file skipped and listed with its reason", () =>
  withDir(async (dir) => {
    const root = join(dir, "data"), results = join(dir, "results");
    const fx = await messyFolder(root);
    const lines: string[] = [];
    const plan = await planData(folderConfig(root, results, { maxSkippedFraction: 0.5 }), {
      print: (l) => lines.push(l),
    });
    const r = plan.report;
    assert.deepEqual(r.classNames, ["happy", "neutral", "sad"], "PGM-only folder is a class");
    const total = (c: string) => Object.values(r.splits).reduce((n, s) => n + s.perClass[c], 0);
    for (const [c, n] of Object.entries(fx.good)) assert.equal(total(c), n, c);
    for (const [file, re] of fx.bad) {
      const it = r.skipped.items.find((s) => s.item.endsWith(file));
      assert.ok(it, `${file} listed`);
      assert.match(it.reason, re, file);
      assert.equal(it.kind, "file", file);
    }
    assert.ok(
      r.skipped.items.some((s) => s.item === "angry" && /empty class folder.*\.txt/.test(s.reason)),
      "text-only folder listed as an empty class with what it holds",
    );
    assert.equal(r.skipped.files, fx.bad.length);
    assert.equal(r.scan!.images, 26, "every file with an image extension decoded once");
    assert.equal(r.scan!.failed, 4);
    assert.equal(r.skippedFileFraction, 5 / 27);
    assert.equal(plan.config.model.classes, 3, "model.classes follows the data");
    assert.ok(lines.some((l) => /model\.classes follows the data set: 3/.test(l)));
    // Stratified: every class in every split.
    for (const sp of ["train", "valid", "test"]) {
      for (const c of r.classNames) assert.ok(r.splits[sp].perClass[c] > 0, `${sp} ${c}`);
    }

    // A second scan answers from the cache; the default fraction stops the run before extraction.
    await assert.rejects(
      () => planData(folderConfig(root, results), { print: () => {} }),
      /5 image file\(s\) of data set folder cannot be used \(18\.5%, above data\.maxSkippedFraction = 0\.05\); nothing was extracted[\s\S]*corrupt\.png/,
    );
    const again = await planData(folderConfig(root, results, { maxSkippedFraction: 0.5 }), {
      print: () => {},
    });
    assert.equal(again.report.scan!.cached, 26, "every image answered from the scan cache");
    assert.equal(r.scan!.cached, 0);
    assert.deepEqual(again.report.splits, r.splits);

    // An explicit model.classes that differs is an error saying what to set.
    await assert.rejects(
      () =>
        planData(
          presetConfig("tiny", {
            model: { classes: 7 },
            data: { dataset: "folder", root, faceCrop: "off" },
            train: { resultsDir: results },
          }),
          { print: () => {} },
        ),
      /model\.classes is 7 but data set folder has 3 classes \(happy, neutral, sad\): leave model\.classes unset .* --set model\.classes=3/,
    );
  }));

Deno.test("splits: stratified per class without groups; whole groups, every class, with groups", () => {
  const mk = (n: number[], groups = 0): DatasetSample[] =>
    n.flatMap((k, label) =>
      Array.from({ length: k }, (_, i) => ({
        id: `c${label}/${i}`,
        split: "",
        label,
        ...(groups ? { group: `g${i % groups}` } : {}),
      }))
    );
  const a = mk([10, 20, 30, 3]);
  assignStratifiedSplits(a, { valid: 0.1, test: 0.2 }, 0, true);
  const counts = (s: DatasetSample[], split: string, n = 4) =>
    Array.from({ length: n }, (_, c) => s.filter((x) => x.split === split && x.label === c).length);
  assert.deepEqual(counts(a, "test"), [2, 4, 6, 1]);
  assert.deepEqual(counts(a, "valid"), [1, 2, 3, 1]);
  assert.deepEqual(counts(a, "train"), [7, 14, 21, 1]);
  const b = mk([10, 20, 30, 3]);
  assignStratifiedSplits(b, { valid: 0.1, test: 0.2 }, 1, true);
  assert.notDeepEqual(b.map((s) => s.split), a.map((s) => s.split), "the seed matters");

  const g = mk([40, 60, 80], 20);
  assignStratifiedSplits(g, { valid: 0.15, test: 0.25 }, 3, true);
  const splitOf = new Map<string, string>();
  for (const s of g) {
    assert.ok(!splitOf.has(s.group!) || splitOf.get(s.group!) === s.split, "group in one split");
    splitOf.set(s.group!, s.split);
  }
  for (const sp of ["train", "valid", "test"]) {
    const c = counts(g, sp, 3);
    assert.ok(c.every((x) => x > 0), `${sp} has every class: ${c}`);
  }
  const test = g.filter((s) => s.split === "test").length / g.length;
  assert.ok(Math.abs(test - 0.25) < 0.08, `test fraction ${test}`);
});

Deno.test("folders: groups from a sub-folder level or a file-name pattern; split settings", () =>
  withDir(async (dir) => {
    const png = encodePng(gradient(4, 4, 1));
    for (const c of ["a", "b"]) {
      for (let s = 0; s < 6; s++) {
        for (let i = 0; i < 3; i++) {
          await Deno.mkdir(join(dir, "lv", c, `subj${s}`), { recursive: true });
          await Deno.writeFile(join(dir, "lv", c, `subj${s}`, `${i}.png`), png);
          await Deno.mkdir(join(dir, "re", c), { recursive: true });
          await Deno.writeFile(join(dir, "re", c, `S${s}_${i}.png`), png);
        }
      }
    }
    const lv = await loadDataset("folder", join(dir, "lv"), { groupLevel: 1 });
    assert.equal(lv.samples.length, 36);
    assert.deepEqual(new Set(lv.samples.map((s) => s.group)).size, 6);
    const re = await loadDataset("folder", join(dir, "re"), {
      groupPattern: "^(S\\d+)_",
      testFraction: 0.34,
      validFraction: 0.17,
    });
    assert.deepEqual([...new Set(re.samples.map((s) => s.group))].sort(), [
      "S0",
      "S1",
      "S2",
      "S3",
      "S4",
      "S5",
    ]);
    for (const sp of ["train", "valid", "test"]) {
      const groups = new Set(re.samples.filter((s) => s.split === sp).map((s) => s.group));
      assert.ok(groups.size >= 1, sp);
      for (const other of ["train", "valid", "test"].filter((o) => o !== sp)) {
        assert.ok(
          re.samples.filter((s) => s.split === other).every((s) => !groups.has(s.group)),
          "subject-independent",
        );
      }
    }
    await assert.rejects(
      loadDataset("folder", join(dir, "re"), { groupPattern: "(" }),
      /data\.groupPattern "\("/,
    );
    await assert.rejects(
      loadDataset("folder", join(dir, "re"), { testFraction: 0.6, validFraction: 0.5 }),
      /valid \+ test < 1/,
    );
  }));

Deno.test("class mapping: FER2013 in FER+ order by synonyms, renames, drops, errors", async () => {
  const ds: LoadedDataset = {
    name: "x",
    classNames: [...FER2013_CLASSES],
    samples: FER2013_CLASSES.map((_, i) => ({
      id: `s${i}`,
      split: "test",
      label: i,
      soft: FER2013_CLASSES.map((_, j) => (j === i ? 1 : 0)),
    })),
    skipped: [],
    loadImage: () => Promise.reject(new Error("unused")),
  };
  const m = mapClasses(ds, { classNames: FERPLUS_CLASSES });
  assert.deepEqual(m.classNames, [...FERPLUS_CLASSES]);
  const byId = new Map(m.samples.map((s) => [s.id, s]));
  // angry -> anger (4), happy -> happiness (1), neutral -> neutral (0)
  assert.equal(byId.get("s0")!.label, 4);
  assert.equal(byId.get("s3")!.label, 1);
  assert.equal(byId.get("s6")!.label, 0);
  assert.equal(byId.get("s3")!.soft![1], 1);
  const dropped = mapClasses(ds, { classMap: { disgust: null, angry: "anger" } });
  assert.equal(dropped.classNames.length, 6);
  assert.equal(dropped.classNames[0], "anger");
  assert.equal(dropped.samples.length, 6);
  assert.match(dropped.skipped[0].reason, /dropped: data\.classMap maps the class to null/);
  assert.throws(
    () => mapClasses(ds, { classNames: ["neutral", "happiness"] }),
    /class\(es\) "angry", "disgust", "fear", "sad", "surprise" of data set x match none of data\.classNames .*data\.classMap/,
  );
  assert.throws(() => mapClasses(ds, { classMap: { Angry: "x" } }), /data\.classMap names "Angry"/);
  assert.equal(mapClasses(ds, {}), ds);

  // FER2013: a pixel value out of range names the value.
  const dir = await Deno.makeTempDir();
  try {
    const px = (v: number) => Array(2304).fill(v).join(" ");
    await Deno.writeTextFile(
      join(dir, "fer2013.csv"),
      `emotion,pixels,Usage\n0,${px(3)},Training\n1,${px(256)},Training\n`,
    );
    const f = await loadFer2013(dir);
    assert.equal(f.samples.length, 1);
    assert.match(f.skipped[0].reason, /pixels: value 1 is "256", not an integer in 0–255/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("scan: in-memory sets are not decoded; the report counts splits", async () => {
  const ds = await loadDataset("synthetic", null, {
    synthetic: { train: 16, valid: 4, test: 8, identities: 4 },
  });
  const r = await scanDataset(ds, { cacheDir: "/nonexistent" });
  assert.equal(r.stats.images, 0);
  assert.equal(r.dataset.samples.length, 28);
  assert.deepEqual(classCounts(r.dataset).test.reduce((a, b) => a + b, 0), 8);
});
