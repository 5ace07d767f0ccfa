import { join } from "node:path";
import { assert } from "../../lib/testing.ts";
import { encodePng } from "../../lib/data/image.ts";
import { loadSynthetic } from "../../lib/data/synthetic.ts";
import { messyFolder } from "../../lib/data/test_fixtures.ts";
import { cli } from "./test_cli.ts";

Deno.test("data: counts per split and class, skipped files with reasons, without training", async () => {
  const tmp = await Deno.makeTempDir({ prefix: "grefel-data-" });
  try {
    const root = join(tmp, "photos");
    const fx = await messyFolder(root);
    const base = ["data", "--data", "folder", "--data-root", root, "--results", join(tmp, "r")];
    const j = await cli([...base, "--set", "data.faceCrop=off", "--json"]);
    assert.equal(j.code, 0, j.err);
    const r = JSON.parse(j.out);
    assert.deepEqual(r.classNames, ["happy", "neutral", "sad"]);
    assert.equal(r.modelClasses, 3);
    for (const [c, n] of Object.entries(fx.good)) {
      assert.equal(
        ["train", "valid", "test"].reduce((a, s) => a + r.splits[s].perClass[c], 0),
        n,
        c,
      );
    }
    assert.equal(r.skipped.files, fx.bad.length);
    for (const [file, re] of fx.bad) {
      const it = r.skipped.items.find((s: { item: string }) => s.item.endsWith(file));
      assert.match(it.reason, re, file);
    }
    assert.match(r.stopsRun, /above data\.maxSkippedFraction = 0\.05/);
    assert.equal(r.faces, null);

    const t = await cli([
      ...base,
      "--set",
      "data.faceCrop=off",
      "--set",
      "data.testFraction=0.5",
      "--set",
      'data.classNames=["sad","happy","neutral"]',
      "--items",
      "2",
    ]);
    assert.equal(t.code, 0, t.err);
    assert.match(t.out, /data set folder: 3 classes/);
    assert.match(t.out, /^ {2}sad +\d+ +\d+ +3$/m, "classes in the configured order, test half");
    assert.match(t.out, /corrupt or truncated PNG/);
    assert.match(t.out, /… 4 more \(--json lists all\)/);
    assert.match(t.out, /a training run would stop: 5 image file\(s\)/);

    const bad = await cli([...base, "--set", 'data.classNames=["joy","x"]']);
    assert.equal(bad.code, 1);
    assert.match(bad.err, /match none of data\.classNames \(joy, x\)/);
    const unknown = await cli([...base, "--set", "data.classNamez=1"]);
    assert.match(unknown.err, /data\.classNamez: unknown key/);
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});

Deno.test("train: a 4-class folder set trains without --set model.classes; data.json in the run", async () => {
  const tmp = await Deno.makeTempDir({ prefix: "grefel-4class-" });
  try {
    const root = join(tmp, "four");
    const syn = loadSynthetic({ size: 48, train: 120, valid: 0, test: 1, identities: 10 });
    const names = ["calm", "glad", "shocked", "blue"]; // synthetic classes 0-3
    const per = new Map<number, number>();
    for (const s of syn.samples) {
      if (s.label > 3 || (per.get(s.label) ?? 0) >= 8) continue;
      per.set(s.label, (per.get(s.label) ?? 0) + 1);
      await Deno.mkdir(join(root, names[s.label]), { recursive: true });
      await Deno.writeFile(
        join(root, names[s.label], `${s.id.replaceAll("/", "_")}.png`),
        encodePng(await syn.loadImage(s)),
      );
    }
    const sets = [
      "data.faceCrop=off",
      "data.sampler.perClass=4",
      "train.epochs=1",
      "train.batchSize=8",
      "train.cacheWorkers=0",
      "train.progress=off",
    ].flatMap((s) => ["--set", s]);
    const r = await cli([
      "train",
      "--config",
      "tiny",
      "--data",
      "folder",
      "--data-root",
      root,
      ...sets,
      "--results",
      tmp,
      "--backend",
      "wasm",
      "--no-figures",
    ]);
    assert.equal(r.code, 0, r.err);
    assert.match(r.err, /model\.classes follows the data set: 4 \(blue, calm, glad, shocked\)/);
    const runs = [...Deno.readDirSync(join(tmp, "default"))];
    const dir = join(tmp, "default", runs[0].name);
    const cfg = JSON.parse(await Deno.readTextFile(join(dir, "config.json")));
    assert.equal(cfg.config.model.classes, 4);
    const data = JSON.parse(await Deno.readTextFile(join(dir, "data.json")));
    assert.deepEqual(data.classNames, ["blue", "calm", "glad", "shocked"]);
    assert.equal(data.splits.test.total, 8, "stratified: 2 of 8 per class");
    assert.ok(await Deno.stat(join(dir, "metrics.json")));
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});
