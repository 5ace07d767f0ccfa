import { assert } from "../testing.ts";
import { classCounts, DatasetError, exists, REPO_ROOT } from "./common.ts";
import { encodePng } from "./image.ts";
import { FERPLUS_CLASSES, FERPLUS_DEFAULT, ferPlusLabel, loadFerPlus } from "./ferplus.ts";
import { gradient } from "./test_fixtures.ts";
import { join, resolve } from "node:path";

Deno.test("ferPlusLabel follows the FER+ majority rule", () => {
  // 6 of 10 votes neutral: majority
  assert.deepEqual(ferPlusLabel([6, 0, 0, 1, 3, 0, 0, 0, 0, 0], "majority"), { label: 0 });
  // single votes are outliers: 4 anger vs 3 sad + 1 + 1 + 1 -> after removal 4 of 7 > half
  assert.deepEqual(ferPlusLabel([0, 1, 1, 3, 4, 0, 0, 0, 1, 0], "majority"), { label: 4 });
  // tie 4/4 (plus 2): no majority
  const tie = ferPlusLabel([4, 4, 2, 0, 0, 0, 0, 0, 0, 0], "majority");
  assert.equal(tie.label, null);
  // exactly half is not a majority
  assert.equal(ferPlusLabel([5, 5, 0, 0, 0, 0, 0, 0, 0, 0], "majority").label, null);
  // majority unknown / NF dropped
  assert.match(
    (ferPlusLabel([2, 0, 0, 0, 0, 0, 0, 0, 8, 0], "majority") as { reason: string }).reason,
    /unknown/,
  );
  assert.match(
    (ferPlusLabel([0, 0, 0, 0, 0, 0, 0, 0, 0, 10], "majority") as { reason: string }).reason,
    /NF/,
  );
  // plurality keeps the tie's first class, in FER+ order
  assert.deepEqual(ferPlusLabel([4, 4, 2, 0, 0, 0, 0, 0, 0, 0], "plurality"), { label: 0 });
  assert.equal(ferPlusLabel([1, 0, 0, 0, 0, 0, 0, 0, 9, 0], "plurality").label, null);
});

async function fixture(): Promise<string> {
  const root = await Deno.makeTempDir({ prefix: "ferplus_" });
  const png = encodePng(gradient(48, 48, 1));
  const rows: Record<string, string[]> = {
    FER2013Train: [
      'a.png,"(0, 0, 48, 48)",6,0,0,1,3,0,0,0,0,0',
      'b.png,"(0, 0, 48, 48)",0,9,0,0,0,0,0,0,1,0',
      'c.png,"(0, 0, 48, 48)",4,4,2,0,0,0,0,0,0,0', // no majority
      'missing.png,"(0, 0, 48, 48)",10,0,0,0,0,0,0,0,0,0', // no file
      'd.png,"(0, 0, 48, 48)",1,2', // too few columns
      'e.png,"(0, 0, 48, 48)",x,0,0,0,0,0,0,0,0,0', // not a number
      'f.png,"(0, 0, 48, 48)",0,0,0,0,0,0,0,10,0,0',
      'a.png,"(0, 0, 48, 48)",6,0,0,1,3,0,0,0,0,0', // a repeated row: listed, the first used
      'i.png,"(0, 0, 48, 48)",6,,0,1,3,0,0,0,0,0', // a blank vote is not a 0
      'j.png,"(0, 0, 48, 48)",10,0,0,0,0,0,0,0,0,0',
      'j.png,"(0, 0, 48, 48)",0,10,0,0,0,0,0,0,0,0', // the same image, two labels: neither used
    ],
    FER2013Valid: ['g.png,"(0, 0, 48, 48)",0,0,8,0,0,0,0,0,0,2'],
    FER2013Test: ['h.png,"(0, 0, 48, 48)",0,0,0,0,0,0,0,0,0,10'],
  };
  for (const [folder, lines] of Object.entries(rows)) {
    await Deno.mkdir(join(root, folder));
    await Deno.writeTextFile(join(root, folder, "label.csv"), lines.join("\n") + "\n");
    for (const line of lines) {
      const name = line.split(",")[0];
      if (name !== "missing.png") await Deno.writeFile(join(root, folder, name), png);
    }
  }
  return root;
}

Deno.test("loadFerPlus: labels, soft votes, skipped rows counted and listed", async () => {
  const root = await fixture();
  try {
    const ds = await loadFerPlus(root);
    assert.deepEqual(ds.classNames, [...FERPLUS_CLASSES]);
    const byId = Object.fromEntries(ds.samples.map((s) => [s.id, s]));
    assert.deepEqual(Object.keys(byId).sort(), [
      "FER2013Train/a.png",
      "FER2013Train/b.png",
      "FER2013Train/f.png",
      "FER2013Valid/g.png",
    ]);
    assert.equal(byId["FER2013Train/a.png"].label, 0);
    assert.equal(byId["FER2013Train/f.png"].label, 7);
    assert.equal(byId["FER2013Valid/g.png"].split, "valid");
    const soft = byId["FER2013Train/a.png"].soft!;
    assert.equal(soft.length, 8);
    assert.ok(Math.abs(soft.reduce((a, b) => a + b) - 1) < 1e-9);
    assert.ok(Math.abs(soft[4] - 0.3) < 1e-9);
    const reasons = Object.fromEntries(ds.skipped.map((s) => [s.item, s.reason]));
    assert.equal(ds.skipped.length, 8, JSON.stringify(ds.skipped));
    assert.match(reasons["FER2013Train/label.csv row 9"], /blank vote field\(s\) in column\(s\) 4/);
    const dup = ds.skipped.filter((s) => s.item === "FER2013Train/a.png");
    assert.equal(dup.length, 1);
    assert.match(
      dup[0].reason,
      /duplicate entry \(listed 2 times, same label\): the first is used/,
    );
    assert.match(
      reasons["FER2013Train/j.png"],
      /conflicting duplicate entries \(listed 2 times: train neutral; train happiness\): none/,
    );
    assert.match(reasons["FER2013Train/c.png"], /no majority/);
    assert.match(reasons["FER2013Train/missing.png"], /missing/);
    assert.match(reasons["FER2013Train/label.csv row 5"], /12 columns/);
    assert.match(reasons["FER2013Train/label.csv row 6"], /not non-negative numbers/);
    assert.match(reasons["FER2013Test/h.png"], /NF/);
    const img = await ds.loadImage(byId["FER2013Train/b.png"]);
    assert.equal(img.width, 48);
    assert.equal(img.channels, 1);
    const onlyTest = await loadFerPlus(root, { splits: ["test"] });
    assert.equal(onlyTest.samples.length, 0);
    await assert.rejects(loadFerPlus(root, { splits: ["dev"] }), /unknown FER\+ split "dev"/);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("loadFerPlus: missing path, missing or malformed label file are clear errors", async () => {
  await assert.rejects(
    loadFerPlus("/nonexistent/ferplus"),
    (e: unknown) =>
      e instanceof DatasetError && /\/nonexistent\/ferplus.*does not exist/.test(e.message),
  );
  const root = await fixture();
  try {
    await Deno.remove(join(root, "FER2013Valid", "label.csv"));
    await assert.rejects(loadFerPlus(root), /FER2013Valid\/label\.csv not found/);
    await Deno.writeTextFile(join(root, "FER2013Valid", "label.csv"), 'a.png,"(0, 0\n');
    await assert.rejects(loadFerPlus(root), /malformed FER\+ label file .*FER2013Valid/);
    await Deno.remove(join(root, "FER2013Test"), { recursive: true });
    await assert.rejects(loadFerPlus(root, { splits: ["test"] }), /FER2013Test not found/);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

const realRoot = Deno.env.get("GREFEL_FERPLUS") ?? resolve(REPO_ROOT, FERPLUS_DEFAULT);
const haveReal = await exists(join(realRoot, "FER2013Test", "label.csv"));
if (!haveReal) console.warn(`ferplus_test: FER+ not found at ${realRoot}; real-data test skipped`);

Deno.test({
  name: "FER+ real data: counts per split and class (reads label.csv and a few images)",
  ignore: !haveReal,
  fn: async () => {
    const ds = await loadFerPlus(realRoot);
    const plural = await loadFerPlus(realRoot, { labelMode: "plurality" });
    const counts = classCounts(ds);
    const pcounts = classCounts(plural);
    console.log("split      " + FERPLUS_CLASSES.map((c) => c.slice(0, 8).padStart(9)).join(""));
    for (const split of ["train", "valid", "test"]) {
      console.log(
        `${split.padEnd(6)} maj ` + counts[split].map((n) => String(n).padStart(9)).join(""),
      );
      console.log(
        `${split.padEnd(6)} plu ` + pcounts[split].map((n) => String(n).padStart(9)).join(""),
      );
    }
    console.log(`skipped: majority ${ds.skipped.length}, plurality ${plural.skipped.length}`);
    // every label.csv row is either a sample or a listed skip, in both modes
    let rows = 0;
    for (const f of ["FER2013Train", "FER2013Valid", "FER2013Test"]) {
      rows += (await Deno.readTextFile(join(realRoot, f, "label.csv"))).trim().split("\n").length;
    }
    assert.equal(ds.samples.length + ds.skipped.length, rows);
    assert.equal(plural.samples.length + plural.skipped.length, rows);
    // majority is stricter than plurality, and it keeps the large majority of images
    for (const split of ["train", "valid", "test"]) {
      for (let c = 0; c < 8; c++) assert.ok(counts[split][c] <= pcounts[split][c]);
    }
    assert.ok(ds.samples.length > 0.8 * rows);
    // class imbalance as documented: neutral is the largest class, contempt/disgust tiny
    assert.ok(counts.test[0] > 10 * counts.test[5]);
    for (const s of ds.samples.filter((s) => s.split === "test").slice(0, 3)) {
      const img = await ds.loadImage(s);
      assert.equal(img.width, 48);
      assert.equal(img.height, 48);
      assert.equal(img.channels, 1);
    }
  },
});
