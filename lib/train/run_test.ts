import { join } from "node:path";
import { assert } from "../testing.ts";
import { presetConfig, resolveConfig } from "../config.ts";
import { setWriteHook, WriteError, writeFileAtomic } from "../run/atomic.ts";
import { configHash, runId } from "./run.ts";
import {
  canonicalJson,
  checkCheckpointCompatible,
  type CheckpointState,
  datasetFingerprint,
  loadCheckpoint,
  type NamedArray,
  runStatus,
  saveCheckpoint,
} from "../run/mod.ts";
import { deriveSeed, learningRateAt, SEED_PURPOSE } from "./schedule.ts";

Deno.test("lr decays exponentially per epoch (paper: 3e-4 · 0.995^e)", () => {
  const t = resolveConfig({}).train;
  assert.equal(learningRateAt(t, 0), 3e-4);
  assert.ok(Math.abs(learningRateAt(t, 1) - 3e-4 * 0.995) < 1e-15);
  assert.ok(Math.abs(learningRateAt(t, 100) - 3e-4 * Math.pow(0.995, 100)) < 1e-15);
  // Strictly decreasing, ratio γ between consecutive epochs.
  for (let e = 0; e < 10; e++) {
    const r = learningRateAt(t, e + 1) / learningRateAt(t, e);
    assert.ok(Math.abs(r - 0.995) < 1e-12, `ratio at epoch ${e}: ${r}`);
  }
  assert.equal(learningRateAt({ lr: 1e-3, lrDecay: 1 }, 50), 1e-3);
});

Deno.test("deriveSeed: the seeds recorded runs were initialised and trained with", () => {
  // Pinned: weights, dropout and epoch order of every recorded run derive from these.
  assert.equal(deriveSeed(0, SEED_PURPOSE.init), 189908089);
  assert.equal(deriveSeed(3, SEED_PURPOSE.dropout, 2, 5), 1891378344);
  assert.equal(deriveSeed(0, SEED_PURPOSE.sampler, 0), 1375810114);
  assert.equal(deriveSeed(1, SEED_PURPOSE.anchors), 1214624467);
});

Deno.test("deriveSeed is deterministic and separates coordinates", () => {
  assert.equal(deriveSeed(7, 1, 2), deriveSeed(7, 1, 2));
  const seen = new Set<number>();
  for (let e = 0; e < 20; e++) for (let s = 0; s < 20; s++) seen.add(deriveSeed(0, e, s));
  assert.equal(seen.size, 400);
  assert.notEqual(deriveSeed(0, 1, 2), deriveSeed(0, 2, 1));
});

Deno.test("run id: stable across key order, ignores display fields, changes with results", () => {
  const a = presetConfig("tiny");
  const reordered = JSON.parse(canonicalJson(a));
  // Build the same config with keys inserted in reverse order.
  const rev = (v: unknown): unknown =>
    v && typeof v === "object" && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v).reverse().map(([k, x]) => [k, rev(x)]))
      : v;
  assert.equal(runId(resolveConfig(rev(reordered))), runId(a));
  assert.match(runId(a), /^[0-9a-f]{10}$/);
  // Fields that do not change results do not change the id.
  const display = presetConfig("tiny", {
    train: { progress: "off", parallel: 7, resultsDir: "/elsewhere", experiment: "x" },
  });
  assert.equal(runId(display), runId(a));
  assert.equal(runId(presetConfig("tiny", { data: { root: "/some/where" } })), runId(a));
  // Fields that change results do.
  assert.notEqual(runId(presetConfig("tiny", { seed: 1 })), runId(a));
  assert.notEqual(runId(presetConfig("tiny", { train: { lr: 1e-3 } })), runId(a));
  assert.equal(configHash(a).slice(0, 10), runId(a));
});

Deno.test("dataset fingerprint: order-independent, label-sensitive", () => {
  const s = [{ id: "a", split: "train", label: 0 }, { id: "b", split: "test", label: 1 }];
  assert.equal(datasetFingerprint(s), datasetFingerprint([s[1], s[0]]));
  assert.notEqual(datasetFingerprint(s), datasetFingerprint([s[0], { ...s[1], label: 2 }]));
  assert.notEqual(datasetFingerprint(s), datasetFingerprint([s[0], { ...s[1], split: "train" }]));
});

function state(epoch: number, hash = "h".repeat(64)): CheckpointState {
  return {
    runId: hash.slice(0, 10),
    configHash: hash,
    datasetFingerprint: "fp",
    epoch,
    step: epoch * 3,
    rng: { seed: 0, epoch, step: epoch * 3 },
    best: null,
    sinceBest: 0,
    anchorInit: null,
    log: [],
  };
}

const weights = (v: number): NamedArray[] => [
  { name: "head/w", shape: [2, 3], dtype: "float32", data: new Float32Array(6).fill(v) },
  { name: "head/b", shape: [3], dtype: "float32", data: new Float32Array([v, v + 1, v + 2]) },
];
const opt: NamedArray[] = [
  { name: "iter", shape: [], dtype: "int32", data: new Int32Array([5]) },
  { name: "head/w/m", shape: [2, 3], dtype: "float32", data: new Float32Array(6).fill(0.5) },
];

Deno.test("checkpoint round trip, and rejection of another config's checkpoint", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const ck = join(dir, "checkpoints", "last");
    await saveCheckpoint(ck, state(2), weights(1), opt);
    await saveCheckpoint(ck, state(3), weights(2), opt);
    const files = [...Deno.readDirSync(ck)].map((e) => e.name).sort();
    assert.equal(files.filter((f) => f.startsWith("weights-")).length, 1, files.join(","));
    assert.equal(files.filter((f) => f.includes(".tmp-")).length, 0);
    const back = (await loadCheckpoint(ck))!;
    assert.equal(back.state.epoch, 3);
    assert.deepEqual(Array.from(back.weights[1].data), [2, 3, 4]);
    assert.deepEqual(back.weights[0].shape, [2, 3]);
    assert.equal(back.optimizer[0].dtype, "int32");
    assert.equal(back.optimizer[0].data[0], 5);
    assert.equal(await runStatus(dir), "partial");

    const shapes = new Map<string, number[]>([["head/w", [2, 3]], ["head/b", [3]]]);
    checkCheckpointCompatible(
      back,
      { configHash: "h".repeat(64), datasetFingerprint: "fp" },
      shapes,
    );
    assert.throws(
      () =>
        checkCheckpointCompatible(
          back,
          { configHash: "z".repeat(64), datasetFingerprint: "fp" },
          new Map([["head/w", [2, 4]], ["rb/anchors", [8, 4]]]),
        ),
      (e: Error) => {
        assert.match(e.message, /from another config/);
        assert.match(e.message, /config hash hhhhhhhhhh .* zzzzzzzzzz/);
        assert.match(e.message, /weights not in the model: head\/b/);
        assert.match(e.message, /missing from the checkpoint: rb\/anchors/);
        assert.match(e.message, /head\/w \[2,3\] vs model \[2,4\]/);
        return true;
      },
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("full disk while writing: clear error, previous checkpoint intact, no temp files", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const ck = join(dir, "last");
    await saveCheckpoint(ck, state(1), weights(1), opt);
    for (const failOn of ["weights-", "checkpoint.json"]) {
      setWriteHook((path) => {
        if (path.includes(failOn)) {
          throw Object.assign(new Error("No space left on device (os error 28)"), {
            code: "ENOSPC",
          });
        }
      });
      try {
        await assert.rejects(() => saveCheckpoint(ck, state(2), weights(9), opt), (e: Error) => {
          assert.ok(e instanceof WriteError);
          assert.ok(e.diskFull);
          assert.match(e.message, /disk full while writing .*last/);
          return true;
        });
      } finally {
        setWriteHook(null);
      }
      const back = (await loadCheckpoint(ck))!;
      assert.equal(back.state.epoch, 1, `after failing on ${failOn}`);
      assert.deepEqual(Array.from(back.weights[1].data), [1, 2, 3]);
      const names = [...Deno.readDirSync(ck)].map((e) => e.name);
      assert.equal(names.filter((n) => n.includes(".tmp-")).length, 0, names.join(","));
    }
    // A plain file too.
    const f = join(dir, "metrics.json");
    await writeFileAtomic(f, "old");
    setWriteHook(() => {
      throw Object.assign(new Error("no space"), { code: "ENOSPC" });
    });
    try {
      await assert.rejects(() => writeFileAtomic(f, "new"), /disk full while writing/);
    } finally {
      setWriteHook(null);
    }
    assert.equal(await Deno.readTextFile(f), "old");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
