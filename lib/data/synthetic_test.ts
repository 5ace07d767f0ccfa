import { assert } from "../testing.ts";
import { classCounts } from "./common.ts";
import { apportion, loadSynthetic, SYNTHETIC_CLASS_PROPORTIONS } from "./synthetic.ts";
import { FERPLUS_CLASSES } from "./ferplus.ts";

Deno.test("synthetic: deterministic in the seed, different across seeds", async () => {
  const a = loadSynthetic({ seed: 3, train: 40, valid: 8, test: 8, size: 32 });
  const b = loadSynthetic({ seed: 3, train: 40, valid: 8, test: 8, size: 32 });
  const c = loadSynthetic({ seed: 4, train: 40, valid: 8, test: 8, size: 32 });
  assert.deepEqual(a.samples, b.samples);
  const ia = await a.loadImage(a.samples[5]);
  const ib = await b.loadImage(b.samples[5]);
  assert.deepEqual(ia.data, ib.data);
  assert.equal(ia.width, 32);
  assert.equal(ia.channels, 3);
  const ic = await c.loadImage(c.samples[5]);
  assert.notDeepEqual(ia.data, ic.data);
  // the image depends on the true label only: relabelling (label noise) does not change pixels
  const flipped = { ...a.samples[5], label: (a.samples[5].label + 1) % 8 };
  assert.deepEqual((await a.loadImage(flipped)).data, ia.data);
});

Deno.test("synthetic: FER+ classes, skewed proportions, identity-disjoint splits", () => {
  const ds = loadSynthetic({ train: 1000, valid: 200, test: 200, identities: 30 });
  assert.deepEqual(ds.classNames, [...FERPLUS_CLASSES]);
  for (const n of [5, 7, 1000]) {
    assert.equal(apportion(n, SYNTHETIC_CLASS_PROPORTIONS).reduce((a, b) => a + b), n);
  }
  const counts = classCounts(ds);
  assert.deepEqual(counts.train, apportion(1000, SYNTHETIC_CLASS_PROPORTIONS));
  assert.ok(counts.train[0] > 5 * counts.train[7], "neutral ≫ contempt");
  const ids = (split: string) =>
    new Set(ds.samples.filter((s) => s.split === split).map((s) => s.group));
  const [tr, va, te] = [ids("train"), ids("valid"), ids("test")];
  for (const g of va) assert.ok(!tr.has(g) && !te.has(g));
  for (const g of te) assert.ok(!tr.has(g));
  assert.ok(tr.size > 10);
  const only = loadSynthetic({ train: 10, valid: 5, test: 5, splits: ["test"] });
  assert.deepEqual(only.samples.map((s) => s.split), new Array(5).fill("test"));
});

Deno.test("synthetic: expression classes differ in geometry (class means separate)", async () => {
  // Clean prototypes (difficulty 0) still vary in identity, background and lighting; the
  // difference of class-mean images must exceed the spread of same-class means.
  const ds = loadSynthetic({ train: 240, valid: 0, test: 0, size: 24, channels: 1, difficulty: 0 });
  const D = 24 * 24;
  const mean = (label: number, half: number) => {
    const m = new Float64Array(D);
    const xs = ds.samples.filter((s) => s.label === label).filter((_, i) => i % 2 === half);
    return Promise.all(xs.map((s) => ds.loadImage(s))).then((imgs) => {
      for (const im of imgs) for (let i = 0; i < D; i++) m[i] += im.data[i] / imgs.length;
      return m;
    });
  };
  const dist = (a: Float64Array, b: Float64Array) =>
    Math.sqrt(a.reduce((s, v, i) => s + (v - b[i]) ** 2, 0));
  const n0 = await mean(0, 0), n1 = await mean(0, 1), h0 = await mean(1, 0), s0 = await mean(2, 0);
  assert.ok(dist(n0, h0) > 0 && dist(n0, s0) > 0);
  assert.ok(dist(n0, s0) > dist(n0, n1), `surprise vs neutral ${dist(n0, s0)} <= ${dist(n0, n1)}`);
});
