import { assert } from "../testing.ts";
import { confusionMatrixSvg, scatterSvg } from "./figures.ts";

Deno.test("confusion-matrix SVG: one cell per entry, counts, accuracy, escaping, bad shape", () => {
  const svg = confusionMatrixSvg([[5, 1], [2, 2]], ["neutral", "a<b"], "T & t");
  assert.match(svg, /^<svg xmlns="http:\/\/www.w3.org\/2000\/svg"/);
  assert.equal(svg.match(/<title>true /g)!.length, 4);
  assert.match(svg, /accuracy 70\.00% \(7\/10\)/);
  assert.match(svg, /a&lt;b/);
  assert.match(svg, /T &amp; t/);
  assert.match(svg, />83%</); // 5/6 row-normalised
  assert.ok(svg.trim().endsWith("</svg>"));
  assert.throws(() => confusionMatrixSvg([[1, 2]], ["a", "b"], "x"), /must be 2×2/);
});

Deno.test("scatter SVG: one circle per point plus legend, label checks", () => {
  const svg = scatterSvg([[0, 0], [1, 1], [2, 0.5]], [0, 1, 1], ["x", "y"], "t", "DB 1.0");
  assert.equal(svg.match(/<circle /g)!.length, 3 + 2);
  assert.match(svg, /DB 1\.0/);
  assert.throws(() => scatterSvg([[0, 0]], [0, 1], ["x"], "t"), /1 points but 2 labels/);
  assert.throws(() => scatterSvg([[0, 0]], [3], ["x"], "t"), /label 3 at row 0 out of range/);
});
