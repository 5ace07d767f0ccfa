import { join } from "node:path";
import { assert } from "../testing.ts";
import { presetConfig } from "../config.ts";
import { loadCheckpoint, readLog } from "../run/mod.ts";
import { pretrainedFinetuneWeights } from "../model/mod.ts";
import { runTraining } from "./session.ts";

Deno.test({
  name:
    "a fine-tuning run end to end: pre-block cache at 14×14, pretrained start, the block trains",
  // Extracts 96 synthetic images with the real npm-shipped networks (≈ 15 s on one core).
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const tmp = await Deno.makeTempDir({ prefix: "grefel_finetune_run_" });
    try {
      const config = presetConfig("tiny", {
        model: {
          extractor: "npm-face-fast-pre3",
          landmarkShape: [[7, 64], [7, 128], [14, 128]],
          finetune: "landmark-dense3",
        },
        data: {
          dataset: "synthetic",
          synthetic: { train: 48, valid: 16, test: 32, identities: 8 },
          sampler: { perClass: 4 },
        },
        train: {
          epochs: 2,
          batchSize: 16,
          backend: "wasm",
          cacheWorkers: 0,
          progress: "off",
          resultsDir: tmp,
        },
      });
      const r = await runTraining(config, { figures: false, print: () => {} });
      const gentle = await runTraining(
        { ...config, train: { ...config.train, finetuneLrScale: 0.01 } },
        { figures: false, print: () => {} },
      );
      assert.equal(r.status, "trained");
      // The log reports the gradient reaching the block as its own part.
      for (const e of await readLog(r.dir)) {
        const g = e.gradNorm?.finetune;
        assert.ok(g !== undefined && Number.isFinite(g) && g > 0, `epoch ${e.epoch}: ${g}`);
      }
      assert.ok(Number.isFinite(r.metrics.accuracy));
      const caches = [...Deno.readDirSync(join(tmp, "cache"))].map((e) => e.name);
      const train = caches.find((n) => n.startsWith("synthetic-train-") && !n.endsWith(".lock"));
      assert.ok(train, `a training cache among ${caches}`);
      const index = JSON.parse(await Deno.readTextFile(join(tmp, "cache", train, "index.json")));
      assert.deepEqual(index.params.grid, [7, 7, 14, 7, 7, 7], "the pre-block map keeps its side");
      // The block started from face-api's weights and training moved it.
      const pretrained = await pretrainedFinetuneWeights(config.model);
      assert.equal(pretrained.size, 12);
      const change = async (dir: string) => {
        const ckpt = (await loadCheckpoint(join(dir, "checkpoints", "last")))!;
        const weights = new Map(ckpt.weights.map((w) => [w.name, w.data as Float32Array]));
        let moved = 0, d = 0, n = 0;
        for (const [path, start] of pretrained) {
          const now = weights.get(path);
          assert.ok(now, `checkpoint has ${path}`);
          let dw = 0;
          for (let i = 0; i < start.length; i++) {
            dw += (now[i] - start[i]) ** 2;
            n += start[i] ** 2;
          }
          if (dw > 0) moved++;
          d += dw;
        }
        return { moved, relative: Math.sqrt(d / n) };
      };
      const full = await change(r.dir), slow = await change(gentle.dir);
      assert.equal(full.moved, 12, "every block weight was updated");
      // A handful of Adam steps at lr 3e-4 stays near the pretrained start.
      assert.ok(full.relative > 0 && full.relative < 0.2, `relative change ${full.relative}`);
      // train.finetuneLrScale 0.01 moves the block about a hundredth as far (Adam's step is
      // proportional to the learning rate).
      assert.equal(slow.moved, 12);
      const ratio = slow.relative / full.relative;
      assert.ok(ratio > 0.003 && ratio < 0.03, `change ratio ${ratio}`);
    } finally {
      await Deno.remove(tmp, { recursive: true });
    }
  },
});
