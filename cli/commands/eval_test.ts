import { join } from "node:path";
import { assert } from "../../lib/testing.ts";
import { cli } from "./test_cli.ts";

const readJson = async (path: string) => JSON.parse(await Deno.readTextFile(path));

Deno.test("eval: re-evaluation reproduces the run's test metrics; --recalibrate-bn writes its own file", async () => {
  const tmp = await Deno.makeTempDir({ prefix: "grefel-eval-" });
  try {
    const sets = [
      "data.dataset=synthetic",
      "data.synthetic.train=48",
      "data.synthetic.valid=16",
      "data.synthetic.test=24",
      "data.synthetic.identities=8",
      "data.sampler.perClass=4",
      "train.epochs=2",
      "train.batchSize=16",
      "train.cacheWorkers=0",
      "train.progress=off",
      "model.head.dropout=0.5",
    ].flatMap((s) => ["--set", s]);
    const t = await cli([
      "train",
      "--config",
      "tiny",
      ...sets,
      "--results",
      tmp,
      "--backend",
      "wasm",
      "--no-figures",
    ]);
    assert.equal(t.code, 0, t.err);
    const runs = [...Deno.readDirSync(join(tmp, "default"))];
    assert.equal(runs.length, 1, "one run directory");
    const dir = join(tmp, "default", runs[0].name);
    const metrics = await readJson(join(dir, "metrics.json"));

    const e = await cli(["eval", "--run", dir, "--backend", "wasm", "--no-figures", "--json"]);
    assert.equal(e.code, 0, e.err);
    const again = await readJson(join(dir, "eval-best.json"));
    for (const k of ["primary", "final"] as const) {
      assert.equal(again.evaluation[k].accuracy, metrics.evaluation[k].accuracy, k);
      assert.deepEqual(
        again.evaluation[k].confusionMatrix,
        metrics.evaluation[k].confusionMatrix,
        k,
      );
    }
    assert.equal(again.recalibration, null);

    const r = await cli(["eval", "--run", dir, "--backend", "wasm", "--recalibrate-bn", "20"]);
    assert.equal(r.code, 0, r.err);
    const recal = await readJson(join(dir, "eval-best-bnrecal.json"));
    assert.deepEqual(
      { samples: recal.recalibration.samples, batches: recal.recalibration.batches },
      { samples: 20, batches: 2 },
    );
    assert.equal(recal.evaluation.numSamples, metrics.evaluation.numSamples);
    assert.match(r.err, /recalibrated the head's batch norms on 20 training samples \(balanced\)/);
    assert.equal(recal.recalibration.sampling, "balanced");
    const nat = await cli([
      "eval",
      ...["--run", dir, "--backend", "wasm", "--recalibrate-bn", "20"],
      ...["--recalibrate-sampling", "natural"],
    ]);
    assert.equal(nat.code, 0, nat.err);
    const natural = await readJson(join(dir, "eval-best-bnrecal-natural.json"));
    assert.equal(natural.recalibration.sampling, "natural");
    const badSampling = await cli(["eval", "--run", dir, "--recalibrate-sampling", "prior"]);
    assert.equal(badSampling.code, 2);
    assert.match(badSampling.err, /--recalibrate-sampling must be balanced or natural/);

    // Test-time flip: the centre view reproduces the run's test accuracy; the average is scored.
    const f = await cli(["eval", "--run", dir, "--backend", "wasm", "--tta", "flip"]);
    assert.equal(f.code, 0, f.err);
    const tta = await readJson(join(dir, "eval-best-tta.json"));
    assert.equal(tta.tta.test.centre.final, metrics.accuracy);
    assert.equal(tta.evaluation.final.accuracy, tta.tta.test.averaged.final);
    assert.ok(tta.tta.valid, "validation scored too");
    for (const v of ["centre", "mirrored", "averaged"]) {
      assert.ok(tta.tta.valid[v].final >= 0 && tta.tta.valid[v].final <= 1, v);
    }
    const rows = (await Deno.readTextFile(join(dir, "predictions-tta.csv"))).trim().split("\n");
    assert.equal(rows.length, 1 + metrics.evaluation.numSamples);
    assert.match(f.out, /flip TTA, test: L_final centre/);
    const badTta = await cli(["eval", "--run", dir, "--tta", "mirror"]);
    assert.equal(badTta.code, 2);
    assert.match(badTta.err, /--tta must be none or flip/);
    const ttaOther = await cli(["eval", "--run", dir, "--tta", "flip", "--data", "synthetic"]);
    assert.equal(ttaOther.code, 2);
    assert.match(ttaOther.err, /does not combine with --data/);

    // Class-prior correction: the plain scores are the run's; the corrected test prediction is
    // the plain one moved from the sampler's prior to the training split's, row by row.
    const pr = await cli(["eval", "--run", dir, "--backend", "wasm", "--prior", "train"]);
    assert.equal(pr.code, 0, pr.err);
    const prior = await readJson(join(dir, "eval-best-prior.json"));
    assert.equal(prior.prior.target, "train");
    assert.equal(prior.prior.test.plain.final, metrics.accuracy);
    assert.equal(prior.prior.test.plain.primary, metrics.primaryAccuracy);
    assert.equal(prior.evaluation.final.accuracy, prior.prior.test.corrected.final);
    assert.ok(prior.prior.valid, "validation scored too");
    for (const k of ["targetPrior", "samplerPrior"]) {
      const sum = prior.prior[k].reduce((a: number, b: number) => a + b, 0);
      assert.ok(Math.abs(sum - 1) < 1e-9, `${k} sums to ${sum}`);
    }
    const csv = async (f: string) =>
      (await Deno.readTextFile(join(dir, f))).trim().split("\n").map((l) => l.split(","));
    const [head, ...plainRows] = await csv("predictions.csv");
    const [, ...priorRows] = await csv("predictions-prior.csv");
    assert.equal(priorRows.length, plainRows.length);
    const cols = head.flatMap((h, i) => (h.startsWith("final_") ? [i] : []));
    const { adjustPrior } = await import("../../lib/eval/prior.ts");
    for (let i = 0; i < plainRows.length; i++) {
      const moved = adjustPrior(
        Float32Array.from(cols, (c) => Number(plainRows[i][c])),
        cols.length,
        prior.prior.samplerPrior,
        prior.prior.targetPrior,
      );
      cols.forEach((c, k) =>
        assert.ok(Math.abs(Number(priorRows[i][c]) - moved[k]) < 2e-5, `${i}`)
      );
    }
    assert.match(pr.out, /prior correction, test: L_final/);
    const both = await cli([
      "eval",
      "--run",
      dir,
      "--backend",
      "wasm",
      "--tta",
      "flip",
      "--prior",
      "train",
    ]);
    assert.equal(both.code, 0, both.err);
    const tp = await readJson(join(dir, "eval-best-tta-prior.json"));
    assert.equal(
      tp.prior.test.plain.final,
      tta.tta.test.averaged.final,
      "corrects the flip average",
    );
    assert.ok((await Deno.stat(join(dir, "predictions-tta-prior.csv"))).isFile);
    const badPrior = await cli(["eval", "--run", dir, "--prior", "test"]);
    assert.equal(badPrior.code, 2);
    assert.match(badPrior.err, /--prior must be none or train/);

    const bad = await cli(["eval", "--run", dir, "--recalibrate-bn", "2.5"]);
    assert.equal(bad.code, 2);
    assert.match(bad.err, /--recalibrate-bn must be a whole number of samples, got "2.5"/);
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});
