import { join } from "node:path";
import { assert } from "../testing.ts";
import {
  type CheckpointState,
  loadCheckpoint,
  type NamedArray,
  readCheckpointState,
  saveCheckpoint,
} from "./checkpoint.ts";

const state: CheckpointState = {
  runId: "r".repeat(10),
  configHash: "h".repeat(64),
  datasetFingerprint: "fp",
  epoch: 2,
  step: 8,
  rng: { seed: 0, epoch: 2, step: 8 },
  best: null,
  sinceBest: 0,
  anchorInit: null,
  log: [],
};
const weights: NamedArray[] = [
  { name: "head/w", shape: [2, 2], dtype: "float32", data: Float32Array.from([1, 2, 3, 4]) },
];
const optimizer: NamedArray[] = [
  { name: "iter", shape: [], dtype: "int32", data: Int32Array.from([8]) },
];

async function withCheckpoint(fn: (dir: string, weightsPath: string) => Promise<void>) {
  const dir = await Deno.makeTempDir();
  try {
    await saveCheckpoint(dir, state, weights, optimizer);
    const manifest = JSON.parse(await Deno.readTextFile(join(dir, "checkpoint.json")));
    await fn(dir, join(dir, manifest.weightsFile));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("checkpoint: the weights file's SHA-256 is recorded and checked on load", async () => {
  await withCheckpoint(async (dir, weightsPath) => {
    const manifest = JSON.parse(await Deno.readTextFile(join(dir, "checkpoint.json")));
    assert.match(manifest.weightsSha256, /^[0-9a-f]{64}$/);
    assert.deepEqual(Array.from((await loadCheckpoint(dir))!.weights[0].data), [1, 2, 3, 4]);
    // One flipped byte, same size: the checksum catches it and the error names the file.
    const bytes = await Deno.readFile(weightsPath);
    bytes[5] ^= 0x01;
    await Deno.writeFile(weightsPath, bytes);
    await assert.rejects(() => loadCheckpoint(dir), (e: Error) => {
      assert.ok(e.message.includes(weightsPath), e.message);
      assert.match(e.message, /is corrupt: its SHA-256 is [0-9a-f]{16}…, checkpoint\.json records/);
      return true;
    });
    // The state alone does not read the weights.
    assert.equal((await readCheckpointState(dir))!.epoch, 2);
  });
});

Deno.test("checkpoint: one written before checksums were recorded still loads", async () => {
  await withCheckpoint(async (dir) => {
    const path = join(dir, "checkpoint.json");
    const manifest = JSON.parse(await Deno.readTextFile(path));
    delete manifest.weightsSha256;
    await Deno.writeTextFile(path, JSON.stringify(manifest));
    const back = (await loadCheckpoint(dir))!;
    assert.equal(back.state.epoch, 2);
    assert.equal("weightsSha256" in back.state, false);
    assert.deepEqual(Array.from(back.weights[0].data), [1, 2, 3, 4]);
    assert.equal(back.optimizer[0].data[0], 8);
  });
});
