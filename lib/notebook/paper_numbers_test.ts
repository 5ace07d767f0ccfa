import { assert } from "../testing.ts";
import { loadExperiment } from "../train/experiments.ts";
import {
  FIG5,
  FIG9,
  K_VALUES,
  NOISE_VALUES,
  SMOOTHING_VALUES,
  TABLE2,
  TABLE3,
  TABLE4,
  TABLE5,
  TABLE6,
  table6Accuracy,
  TABLE7,
  table7Cell,
  TABLE8,
  table8Cell,
} from "./paper_numbers.ts";

const variants = (name: string) => [...loadExperiment(name).variants.keys()].sort();

Deno.test("paper numbers: every table cites its source and keys match the experiments' variants", () => {
  for (const t of [TABLE2, TABLE3, TABLE4, TABLE5, TABLE6, TABLE7, TABLE8, FIG5, FIG9]) {
    assert.match(t.citation, /^GReFEL, .*(Table \d|Fig\. \d)/);
  }
  assert.deepEqual(Object.keys(TABLE2.cells).sort(), variants("table2-rb"));
  assert.deepEqual(Object.keys(TABLE3.cells).sort(), variants("table3-loss"));
  assert.deepEqual(Object.keys(TABLE4.cells).sort(), variants("table4-lambda"));
  assert.deepEqual(Object.keys(TABLE5.cells).sort(), variants("table5-augment-noise"));
  assert.deepEqual(
    Object.keys(TABLE6.cells).sort(),
    variants("table6-anchors").map((v) => v.slice(2)).sort(),
  );
  // Tables 7 and 8: K × noise and K × smoothing grids, as the experiments define them.
  assert.equal(variants("table7-anchors-noise").length, K_VALUES.length * NOISE_VALUES.length);
  assert.ok(variants("table7-anchors-noise").includes("K=10,noise=50"));
  assert.equal(
    variants("table8-anchors-smoothing").length,
    K_VALUES.length * SMOOTHING_VALUES.length,
  );
  assert.ok(variants("table8-anchors-smoothing").includes("K=10,smoothing=11"));
});

Deno.test("paper numbers: grid shapes, ranges and the paper's own cross-table consistency", () => {
  assert.equal(TABLE7.cells.length, K_VALUES.length);
  assert.ok(TABLE7.cells.every((r) => r.length === NOISE_VALUES.length));
  assert.equal(TABLE8.cells.length, K_VALUES.length);
  assert.ok(TABLE8.cells.every((r) => r.length === SMOOTHING_VALUES.length));
  const all = [
    ...TABLE7.cells.flat(),
    ...TABLE8.cells.flat(),
    ...Object.values(TABLE4.cells),
    ...Object.values(TABLE5.cells),
    ...Object.values(TABLE2.cells).map((r) => r.accuracy),
  ];
  assert.ok(all.every((v) => v > 20 && v < 100), "accuracies are percentages");
  assert.ok(Object.values(TABLE2.cells).every((r) => r.f1 > 0 && r.f1 < 1));
  // Table 7's noise-0 column is Table 8's smoothing-0 column, and both start at Table 6's K=0
  // (the reason experiments 6–7 set label smoothing 0).
  assert.deepEqual(TABLE7.cells.map((r) => r[0]), TABLE8.cells.map((r) => r[0]));
  assert.equal(table6Accuracy("0"), TABLE7.cells[0][0]);
  assert.equal(table6Accuracy("1"), table7Cell(1, 0));
  assert.equal(table6Accuracy("4"), table7Cell(4, 0));
  assert.equal(table7Cell(10, 50), 34.3);
  assert.equal(table8Cell(10, 11), 72.48);
  assert.equal(table8Cell(3, 12), undefined);
  // The best cells the text quotes: 72.48 (Tables 2–5, Table 8 at K=10, s=11).
  assert.equal(TABLE2.cells.both.accuracy, TABLE4.cells.default);
  assert.equal(TABLE3.cells.all?.accuracy, TABLE5.cells.augment);
  assert.equal(Math.max(...TABLE8.cells.flat()), 72.48);
  assert.ok(FIG9.cells.finalStd < FIG9.cells.primaryStd);
  assert.ok(FIG5.cells.GReFEL.db < FIG5.cells.SCN.db && FIG5.cells.GReFEL.ch > FIG5.cells.SCN.ch);
});
