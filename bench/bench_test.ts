import { assert } from "../lib/testing.ts";
import { renderMarkdown, runBench } from "./run.ts";
import { rotate } from "./ab_torch.ts";

Deno.test("bench/run.ts runs on the tiny size and writes the expected JSON", async () => {
  const dir = await Deno.makeTempDir({ prefix: "grefel-bench-" });
  try {
    const md = `${dir}/BENCHMARKS.md`;
    await runBench({ tiny: true, outDir: dir, md });
    const doc = JSON.parse(await Deno.readTextFile(`${dir}/bench.json`));
    for (const k of ["cpu", "cores", "memoryGB", "deno", "tfjs", "torch"]) {
      assert.ok(k in doc.machine, `machine.${k}`);
    }
    assert.ok(doc.machine.cores >= 1);
    assert.ok(Array.isArray(doc.model) && doc.model.length >= 3);
    for (const r of doc.model) {
      assert.ok(!r.error, `model cell failed: ${r.error}`);
      assert.ok(r.medianSeconds > 0 && r.imagesPerSecond > 0, "timings");
      assert.ok(r.peakRssBytes > 0 && r.tfMemory.numBytes > 0, "memory");
      assert.equal(r.backendInfo.backend, r.backend);
      assert.ok(r.backendInfo.versions.tfjs);
    }
    const wasm = doc.model.find((r: { backend: string }) => r.backend === "wasm");
    assert.equal(wasm.patchedMatMul, true);
    const prof = JSON.parse(await Deno.readTextFile(`${dir}/profiles.json`));
    assert.ok(prof.profiles.length >= 1 && prof.profiles[0].kernels > 0);
    assert.ok(prof.profiles[0].byName.some((k: { name: string }) => k.name === "BatchMatMul"));
    assert.ok(doc.cluster.medianMilliseconds >= 0);
    assert.ok("ratioWasmOverTorch1" in doc.acceptance);
    // PyTorch is optional on a CI machine; when present its parameter count matched.
    const t = doc.torch[0];
    if (doc.machine.torch) {
      assert.ok(!t.error, `torch failed: ${t.error}`);
      assert.equal(t.trainableParams, t.expectedParams);
      assert.ok(doc.acceptance.ratioWasmOverTorch1 > 0);
    }
    // The interleaved comparison ran its rounds; without PyTorch its settings say why they skipped.
    const ab = doc.abTorch;
    assert.equal(ab.error, undefined);
    assert.equal(ab.perRound.length, 2);
    assert.deepEqual(ab.perRound[1].order, rotate(ab.perRound[0].order, 1));
    const saved = JSON.parse(await Deno.readTextFile(`${dir}/ab_torch.json`));
    assert.deepEqual(saved.perRound, ab.perRound);
    if (doc.machine.torch) {
      assert.ok(ab.settings.length >= 2, `settings: ${JSON.stringify(ab.skipped)}`);
      for (const s of ab.settings) assert.ok(s.wallRatio.median > 0, s.name);
      const tc = ab.servers.find((s: { name: string }) => s.name === "torch-1t-tcmalloc");
      if (tc) assert.equal(tc.ready.tcmalloc, true);
      assert.equal(doc.acceptance.method, "interleaved");
    } else {
      assert.equal(ab.skipped.length, 4);
      for (const s of ab.skipped) assert.match(s.reason, /setup\.sh --bench/);
    }
    const text = await Deno.readTextFile(md);
    assert.match(text, /## tfjs-wasm against PyTorch, interleaved/);
    assert.match(text, /## Training step/);
    assert.match(text, /\| tiny \|/);
    // The Markdown renders again from the JSON alone, identically.
    const again = `${dir}/again.md`;
    await renderMarkdown(dir, again);
    assert.equal(await Deno.readTextFile(again), text);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
