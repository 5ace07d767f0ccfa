import { assert } from "../testing.ts";
import {
  formatDifference,
  pairedDifference,
  pairedMeanDifference,
  pairedStatisticDifference,
  verdict,
} from "./paired.ts";

const ones = (n: number) => new Uint8Array(n).fill(1);
const zeros = (n: number) => new Uint8Array(n);

Deno.test("paired difference: identical arms give exactly 0 [0, 0]", () => {
  const a = [Uint8Array.from([1, 0, 1, 1]), Uint8Array.from([0, 0, 1, 1])];
  const r = pairedDifference(a, a.map((x) => x.slice()));
  assert.equal(r.difference, 0);
  assert.deepEqual(r.interval, [0, 0]);
  assert.equal(verdict(r), "not resolved");
});

Deno.test("paired difference: A always right, B always wrong is +1 with no spread", () => {
  const r = pairedDifference([ones(50), ones(50)], [zeros(50), zeros(50)]);
  assert.equal(r.difference, 1);
  assert.deepEqual(r.interval, [1, 1]);
  assert.equal(verdict(r, 1), "holds");
  assert.equal(verdict(r, -1), "is contradicted");
});

Deno.test("paired difference, one seed: the bootstrap SE matches the analytic SE of a paired proportion", () => {
  // n = 400 images: b = 60 where only A is right, c = 20 where only B is right.
  const n = 400, b = 60, c = 20;
  const A = new Uint8Array(n), B = new Uint8Array(n);
  for (let i = 0; i < b; i++) A[i] = 1;
  for (let i = b; i < b + c; i++) B[i] = 1;
  for (let i = b + c; i < 200; i++) A[i] = B[i] = 1;
  const r = pairedDifference([A], [B], { replicates: 4000, seed: 3 });
  assert.ok(Math.abs(r.difference - (b - c) / n) < 1e-12);
  // Var(mean of d) with d ∈ {−1, 0, 1}: (E[d²] − E[d]²) / n
  const ed = (b - c) / n, ed2 = (b + c) / n;
  const se = Math.sqrt((ed2 - ed * ed) / n);
  assert.ok(Math.abs(r.standardError - se) / se < 0.08, `bootstrap ${r.standardError} vs ${se}`);
  assert.ok(Math.abs(r.interval[0] - (ed - 1.96 * se)) < 0.012, `lower ${r.interval[0]}`);
  assert.ok(Math.abs(r.detectable - 2.8 * r.standardError) < 1e-12);
  assert.equal(verdict(r), "holds");
  assert.match(formatDifference(r, "holds"), /^\+10\.00 points \[\d/);
});

Deno.test("paired difference: seeds that disagree widen the interval beyond the image noise", () => {
  const n = 2000;
  const mk = (k: number) => Uint8Array.from({ length: n }, (_, i) => (i < k ? 1 : 0));
  const B = [mk(1000), mk(1000), mk(1000)];
  const same = pairedDifference([mk(1040), mk(1040), mk(1040)], B, { seed: 1 });
  const spread = pairedDifference([mk(1000), mk(1040), mk(1080)], B, { seed: 1 });
  assert.ok(Math.abs(same.difference - spread.difference) < 1e-12);
  assert.ok(spread.standardError > 1.5 * same.standardError);
  assert.throws(() => pairedDifference([mk(3)], [mk(3), mk(3)]), /1 and 2 seeds/);
  assert.throws(
    () => pairedDifference([mk(3)], [Uint8Array.from([1])]),
    /arm B seed 0 has 1 images/,
  );
});

Deno.test("paired mean difference: a shift with noise is resolved, noise alone is not; SE ≈ sd/√n", () => {
  let s = 1;
  const rnd = () => ((s = (s * 16807) % 2147483647) / 2147483647) - 0.5; // uniform, sd ≈ 0.289
  const n = 3000;
  const b = Float64Array.from({ length: n }, () => rnd());
  const shifted = Float64Array.from(b, (x) => x - 0.05 + 0.2 * rnd());
  const d = pairedMeanDifference(shifted, b, { seed: 3 });
  assert.ok(Math.abs(d.difference + 0.05) < 0.01, `${d.difference}`);
  assert.ok(d.interval[0] <= d.difference && d.difference <= d.interval[1]);
  assert.equal(verdict(d, -1), "holds"); // a is lower than b
  assert.equal(verdict(d, 1), "is contradicted");
  const sd = 0.2 / Math.sqrt(12);
  assert.ok(
    Math.abs(d.standardError - sd / Math.sqrt(n)) < 0.2 * sd / Math.sqrt(n),
    `${d.standardError}`,
  );
  const noise = Float64Array.from(b, (x) => x + 0.2 * rnd());
  assert.equal(verdict(pairedMeanDifference(noise, b, { seed: 3 })), "not resolved");
  assert.deepEqual(pairedMeanDifference(b, b).interval, [0, 0]);
  assert.deepEqual(pairedMeanDifference(shifted, b, { seed: 3 }), d, "deterministic by seed");
  assert.throws(() => pairedMeanDifference([1, 2], [1]), /2 items against 1/);
  assert.throws(() => pairedMeanDifference([], []), /no items/);
  assert.throws(() => pairedMeanDifference([NaN], [0]), /not finite/);
});

Deno.test("paired statistic difference: with accuracy as the statistic it is pairedDifference exactly", () => {
  const rand = (seed: number) => {
    let s = seed >>> 0;
    return () => ((s = (s * 1664525 + 1013904223) >>> 0) / 2 ** 32);
  };
  const r = rand(5);
  const runs = (p: number) =>
    Array.from({ length: 3 }, () => Uint8Array.from({ length: 200 }, () => (r() < p ? 1 : 0)));
  const a = runs(0.7), b = runs(0.6);
  const want = pairedDifference(a, b, { replicates: 300, seed: 4 });
  const acc = (x: Uint8Array, idx: Int32Array | null) => {
    if (!idx) return x.reduce((t, v) => t + v, 0) / x.length;
    let t = 0;
    for (const i of idx) t += x[i];
    return t / idx.length;
  };
  const got = pairedStatisticDifference(
    3,
    200,
    (arm, k, idx) => acc(arm === "a" ? a[k] : b[k], idx),
    { replicates: 300, seed: 4 },
  );
  assert.ok(Math.abs(got.difference - want.difference) < 1e-12);
  assert.ok(
    Math.abs(got.interval[0] - want.interval[0]) < 1e-12,
    `${got.interval} ${want.interval}`,
  );
  assert.ok(Math.abs(got.interval[1] - want.interval[1]) < 1e-12);
  assert.ok(Math.abs(got.standardError - want.standardError) < 1e-12);
  assert.ok(Math.abs(got.value.a - want.accuracy.a) < 1e-12);
  assert.throws(() => pairedStatisticDifference(0, 10, () => 0), /need ≥ 1/);
  assert.throws(() => pairedStatisticDifference(1, 10, () => NaN), /arm a seed 0 gave NaN/);
});
