import { join } from "node:path";
import { assert } from "../../lib/testing.ts";
import { encodePng } from "../../lib/data/image.ts";
import { loadSynthetic } from "../../lib/data/synthetic.ts";
import { cli } from "./test_cli.ts";

/** A folder with FER2013-style class names (happy, angry, neutral, sad) of synthetic faces. */
async function fer2013StyleFolder(root: string): Promise<number> {
  const syn = loadSynthetic({ seed: 3, size: 48, train: 200, valid: 0, test: 1, identities: 10 });
  // FER+ order: 0 neutral, 1 happiness, 3 sadness, 4 anger
  const names: Record<number, string> = { 0: "neutral", 1: "happy", 3: "sad", 4: "angry" };
  const per = new Map<number, number>();
  let n = 0;
  for (const s of syn.samples) {
    const name = names[s.label];
    if (!name || (per.get(s.label) ?? 0) >= 5) continue;
    per.set(s.label, (per.get(s.label) ?? 0) + 1);
    await Deno.mkdir(join(root, name), { recursive: true });
    await Deno.writeFile(join(root, name, `${n++}.png`), encodePng(await syn.loadImage(s)));
  }
  return n;
}

Deno.test("baseline and eval on another data set, classes mapped by synonym", async () => {
  const tmp = await Deno.makeTempDir({ prefix: "grefel-cross-" });
  try {
    const root = join(tmp, "fer2013ish");
    const n = await fer2013StyleFolder(root);
    const b = await cli([
      "baseline",
      "--model",
      "faceapi-expression",
      "--data",
      "folder",
      "--data-root",
      root,
      "--set",
      "data.faceCrop=off",
      "--set",
      "data.testFraction=0.4",
      "--results",
      join(tmp, "r"),
      "--backend",
      "wasm",
      "--json",
    ]);
    assert.equal(b.code, 0, b.err);
    const rep = JSON.parse(b.out);
    assert.equal(rep.dataset, "folder");
    assert.equal(rep.images, 8, "2 of 5 per class");
    assert.equal(rep.classMapping.happy, "happy");
    assert.equal(rep.classMapping.angry, "angry");
    assert.equal(rep.classMapping.surprised, null);
    assert.deepEqual(rep.unpredictable, []);
    assert.equal(rep.all.n, 8);

    // Train on synthetic (FER+ classes), evaluate on the FER2013-named folder.
    const sets = [
      "data.dataset=synthetic",
      "data.synthetic.train=48",
      "data.synthetic.valid=8",
      "data.synthetic.test=8",
      "data.synthetic.identities=8",
      "data.sampler.perClass=4",
      "train.epochs=1",
      "train.batchSize=16",
      "train.cacheWorkers=0",
      "train.progress=off",
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
    const dir = join(tmp, "default", [...Deno.readDirSync(join(tmp, "default"))][0].name);
    const e = await cli([
      "eval",
      "--run",
      dir,
      "--data",
      "folder",
      "--data-root",
      root,
      "--set",
      "data.faceCrop=off",
      "--split",
      "train",
      "--backend",
      "wasm",
    ]);
    assert.equal(e.code, 0, e.err);
    assert.match(e.out, /test samples of folder/);
    const out = JSON.parse(await Deno.readTextFile(join(dir, "eval-best-on-folder.json")));
    assert.equal(out.evaluatedOn.trainedOn, "synthetic");
    assert.equal(out.evaluatedOn.split, "train");
    assert.equal(out.evaluation.final.confusionMatrix.length, 8, "FER+ label space");
    const total = out.data.splits.train.total;
    assert.equal(out.evaluation.numSamples, total);
    assert.ok(total > 0 && total < n);
    assert.equal(out.data.splits.train.perClass.happiness > 0, true, "happy → happiness");
    assert.equal(out.data.splits.train.perClass.contempt, 0);
    const bad = await cli(["eval", "--run", dir, "--set", "train.epochs=2"]);
    assert.equal(bad.code, 2);
    assert.match(bad.err, /--set takes data\.\* fields only/);
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});
