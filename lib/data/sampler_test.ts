import { assert } from "../testing.ts";
import { epochIndices, type SamplerItem } from "./sampler.ts";
import { injectLabelNoise, withLabelNoise } from "./noise.ts";
import { Rng, seedOf } from "./rng.ts";

/** Imbalanced items: class c has ~ (c+1)² · 5 samples spread over `groups` groups; class 3 empty. */
function items(groups: number): SamplerItem[] {
  const out: SamplerItem[] = [];
  const r = new Rng(1);
  for (let c = 0; c < 5; c++) {
    if (c === 3) continue;
    for (let i = 0; i < (c + 1) ** 2 * 5; i++) {
      out.push({ label: c, group: groups ? `g${r.int(groups)}` : undefined });
    }
  }
  return out;
}

Deno.test("refine: class-balanced epoch of B x C (present classes), deterministic, with replacement", () => {
  const xs = items(0);
  const opts = { mode: "refine" as const, perGroup: 512, perClass: 40 };
  const e = epochIndices(xs, 5, opts, 7, 0);
  assert.equal(e.length, 40 * 4); // class 3 has no images: left out
  const counts = [0, 0, 0, 0, 0];
  for (const i of e) counts[xs[i].label]++;
  assert.deepEqual(counts, [40, 40, 40, 0, 40]);
  // class 0 has 5 images < B: all present, then repeats
  const c0 = new Set(e.filter((i) => xs[i].label === 0));
  assert.equal(c0.size, 5);
  // class 4 has 125 >= B: no repeats
  const c4 = e.filter((i) => xs[i].label === 4);
  assert.equal(new Set(c4).size, 40);
  assert.deepEqual(epochIndices(xs, 5, opts, 7, 0), e);
  assert.notDeepEqual(epochIndices(xs, 5, opts, 7, 1), e);
  assert.notDeepEqual(epochIndices(xs, 5, opts, 8, 0), e);
});

Deno.test("refine with groups: at most N_pg per group drawn first, then balanced", () => {
  const xs = items(3);
  const opts = { mode: "refine" as const, perGroup: 20, perClass: 30 };
  for (let epoch = 0; epoch < 3; epoch++) {
    const e = epochIndices(xs, 5, opts, 0, epoch);
    assert.equal(e.length, 30 * 4);
    const distinctPerGroup = new Map<string, Set<number>>();
    for (const i of e) {
      const g = xs[i].group!;
      if (!distinctPerGroup.has(g)) distinctPerGroup.set(g, new Set());
      distinctPerGroup.get(g)!.add(i);
    }
    for (const [, s] of distinctPerGroup) assert.ok(s.size <= 20, `group drew ${s.size} > N_pg`);
  }
});

Deno.test("shuffle mode: every sample exactly once", () => {
  const xs = items(2);
  const e = epochIndices(xs, 5, { mode: "shuffle", perGroup: 1, perClass: 1 }, 3, 4);
  assert.deepEqual([...e].sort((a, b) => a - b), xs.map((_, i) => i));
  assert.notDeepEqual(e, xs.map((_, i) => i));
});

Deno.test("label noise: exact rate, always a different class, seeded, never test", () => {
  const n = 1000;
  const samples = Array.from({ length: n }, (_, i) => ({ label: i % 7, split: "train" }));
  for (const rate of [0, 0.1, 0.3, 1]) {
    const { labels, flipped } = injectLabelNoise(samples, 7, rate, 5);
    assert.equal(flipped.length, Math.round(rate * n));
    const changed = labels.map((l, i) => (l !== samples[i].label ? i : -1)).filter((i) => i >= 0);
    assert.deepEqual(changed, flipped);
    assert.ok(labels.every((l) => l >= 0 && l < 7));
  }
  const a = injectLabelNoise(samples, 7, 0.2, 5);
  assert.deepEqual(injectLabelNoise(samples, 7, 0.2, 5), a);
  assert.notDeepEqual(injectLabelNoise(samples, 7, 0.2, 6).flipped, a.flipped);
  // flips spread over the other classes
  const targets = new Set(a.flipped.filter((i) => samples[i].label === 0).map((i) => a.labels[i]));
  assert.equal(targets.size, 6);
  const noisy = withLabelNoise(samples, 7, 0.2, 5);
  assert.deepEqual(noisy.samples.map((s) => s.label), a.labels);
  assert.equal(samples[a.flipped[0]].label, a.flipped[0] % 7, "input not mutated");
  assert.throws(
    () => injectLabelNoise([...samples, { label: 0, split: "test" }], 7, 0.1, 0),
    /refusing to add label noise to the test split/,
  );
  assert.throws(() => injectLabelNoise(samples, 7, 1.5, 0), /\[0, 1\]/);
});

Deno.test("refine: the epochs recorded runs were trained on (pinned values of seedOf and the draw)", () => {
  assert.equal(seedOf(7, 0, 0x5a3), 1858738719);
  assert.equal(seedOf(0, 1, 2), 2557332020);
  const labels = [0, 0, 0, 0, 0, 1, 2, 2, 1, 0, 2, 0];
  const e = epochIndices(
    labels.map((label) => ({ label })),
    3,
    {
      mode: "refine",
      perGroup: 512,
      perClass: 6,
    },
    7,
    0,
  );
  assert.deepEqual(e, [2, 10, 8, 11, 8, 7, 3, 4, 1, 0, 5, 8, 7, 8, 6, 6, 7, 5]);
});
