/**
 * The catalogue: adversarial inputs to the CLI, each of which must end in a clear error (non-zero
 * exit and a message naming the problem), a listed skip, or a correct result; none silently, and
 * nothing finished lost. Runs in this process through `main` (test_cli.ts), on tiny synthetic data
 * and tiny folders, with a pooling "extractor" registered for the test so that no pretrained
 * network runs.
 */
import * as tf from "@tensorflow/tfjs";
import { join } from "node:path";
import { assert } from "../../lib/testing.ts";
import { registerExtractor } from "../../lib/extractors/registry.ts";
import type { FeatureMaps } from "../../lib/extractors/types.ts";
import { encodePng } from "../../lib/data/image.ts";
import { loadSynthetic } from "../../lib/data/synthetic.ts";
import { messyFolder } from "../../lib/data/test_fixtures.ts";
import { acquireLock } from "../../lib/lock.ts";
import { LOCK_HELD_EXIT } from "../../lib/args.ts";
import { cli } from "./test_cli.ts";

// Six 7×7×3 maps from a 14×14 input by average pooling: cheap, deterministic, and label-bearing
// for the synthetic faces.
registerExtractor("catalogue-pool", () =>
  Promise.resolve({
    name: "catalogue-pool",
    version: 1,
    inputSize: 14,
    landmarkShape: [[7, 3], [7, 3], [7, 3]],
    imageShape: [[7, 3], [7, 3], [7, 3]],
    extract(b: tf.Tensor4D): FeatureMaps {
      const [p, q, r] = tf.tidy(() => {
        const p = tf.avgPool(b, 2, 2, "valid") as tf.Tensor4D;
        return [p, tf.sub(1, p) as tf.Tensor4D, tf.square(p) as tf.Tensor4D];
      });
      return { landmark: [p, q, r], image: [r.clone(), p.clone(), q.clone()] };
    },
    dispose() {},
  }));

const TOY = [
  "model.extractor=catalogue-pool",
  "model.landmarkShape=[[7,3],[7,3],[7,3]]",
  "model.imageShape=[[7,3],[7,3],[7,3]]",
  "train.epochs=1",
  "train.batchSize=16",
  "train.cacheWorkers=0",
  "train.progress=off",
  "data.sampler.perClass=4",
  "data.faceCrop=off",
];
const SYNTH = [
  "data.synthetic.train=48",
  "data.synthetic.valid=16",
  "data.synthetic.test=24",
  "data.synthetic.identities=8",
];
const sets = (xs: string[]) => xs.flatMap((s) => ["--set", s]);

/** `n` synthetic faces per class folder (3 classes), PNG. */
async function faceFolder(root: string, n = 10): Promise<void> {
  const ds = loadSynthetic({ size: 24, train: 8 * n, valid: 0, test: 1, identities: 6 });
  const count = new Map<number, number>();
  for (const s of ds.samples) {
    const k = count.get(s.label) ?? 0;
    if (s.label > 2 || k >= n) continue;
    count.set(s.label, k + 1);
    await Deno.mkdir(join(root, `c${s.label}`), { recursive: true });
    await Deno.writeFile(join(root, `c${s.label}`, `${k}.png`), encodePng(await ds.loadImage(s)));
  }
}

/** Feature-cache folders (not the scan cache) under `dir`. */
function featureCaches(dir: string): string[] {
  try {
    return [...Deno.readDirSync(dir)].filter((e) => e.isDirectory && e.name !== "scan")
      .map((e) => e.name).sort();
  } catch {
    return [];
  }
}

/** The one run directory under `<results>/<experiment>`. */
function onlyRun(results: string, experiment: string): string {
  const runs = [...Deno.readDirSync(join(results, experiment))].filter((e) => e.isDirectory);
  assert.equal(runs.length, 1, `one run in ${experiment}`);
  return join(results, experiment, runs[0].name);
}

Deno.test("catalogue: empty option values are errors naming the option, in every command", async () => {
  const cases: [string[], RegExp][] = [
    [["train", "--data-root", ""], /--data-root: empty value/],
    [["train", "--data", ""], /--data: empty value/],
    [["train", "--results", ""], /--results: empty value/],
    [["train", "--set", ""], /--set: empty value/],
    [["train", "--config", " "], /--config: empty value/],
    [["train", "--experiment", ""], /--experiment: empty value/],
    [["train", "--seed", ""], /--seed: empty value/],
    [["sweep", "table2-rb", "--results", "", "--dry-run"], /--results: empty value/],
    [["sweep", "", "--dry-run"], /argument 1 is empty/],
    [["data", "--data-root", ""], /--data-root: empty value/],
    [["eval", "--run", ""], /--run: empty value/],
    [["eval", "--run", "x", "--data-root", ""], /--data-root: empty value/],
    [["cluster-scores", "--embeddings", ""], /--embeddings: empty value/],
    [["summary", "--config", ""], /--config: empty value/],
    [["run-index", ""], /argument 1 is empty/],
    [["baseline", "--model", ""], /--model: empty value/],
    [["demo", "--results", ""], /--results: empty value/],
    [["adopt", "rb-dynamics", "--from", ""], /--from: empty value/],
  ];
  for (const [args, re] of cases) {
    const r = await cli(args);
    assert.equal(r.code, 2, `${JSON.stringify(args)}: ${r.err}`);
    assert.match(r.err, re, JSON.stringify(args));
  }
  // An empty value through --set or a config value: named, not the default.
  for (const s of ["data.root=", "train.resultsDir= "]) {
    const r = await cli(["train", "--set", s]);
    assert.equal(r.code, 1, s);
    assert.match(r.err, new RegExp(`empty value for ${s.split("=")[0].replace(".", "\\.")}`), s);
  }
  const r = await cli(["train", "--set", 'data={"root":""}']);
  assert.equal(r.code, 1);
  assert.match(r.err, /data\.root: .*empty path/);
});

Deno.test("catalogue: relative paths resolve against the caller's directory (INIT_CWD)", async () => {
  const tmp = await Deno.makeTempDir({ prefix: "grefel-cat-cwd-" });
  const saved = Deno.env.get("INIT_CWD");
  try {
    Deno.env.set("INIT_CWD", tmp);
    const r = await cli(["data", "--data", "folder", "--data-root", "my photos", "--json"]);
    assert.equal(r.code, 1);
    assert.match(r.err, new RegExp(`${join(tmp, "my photos").replace(/[/.]/g, "\\$&")}`));
    assert.match(r.err, /does not exist/);
    await faceFolder(join(tmp, "my photos"), 4);
    const ok = await cli([
      "data",
      "--data",
      "folder",
      "--data-root",
      "my photos",
      "--results",
      "out",
      ...sets(["data.faceCrop=off"]),
      "--out",
      "report.json",
      "--json",
    ]);
    assert.equal(ok.code, 0, ok.err);
    assert.deepEqual(JSON.parse(ok.out).classNames, ["c0", "c1", "c2"]);
    assert.ok((await Deno.stat(join(tmp, "report.json"))).isFile, "--out relative to INIT_CWD");
    assert.ok((await Deno.stat(join(tmp, "out", "cache", "scan"))).isDirectory, "--results too");
  } finally {
    if (saved === undefined) Deno.env.delete("INIT_CWD");
    else Deno.env.set("INIT_CWD", saved);
    await Deno.remove(tmp, { recursive: true });
  }
});

Deno.test("catalogue: bad data, bad config values and a batch too large fail before extraction", async () => {
  const tmp = await Deno.makeTempDir({ prefix: "grefel-cat-pre-" });
  try {
    const res = join(tmp, "r");
    const base = ["train", "--config", "tiny", "--results", res, "--backend", "cpu"];
    const cases: [string[], RegExp][] = [
      // model.classes against the data's classes
      [
        [...sets([...TOY, ...SYNTH, "model.classes=5"])],
        /model\.classes is 5 but data set synthetic has 8 classes .*--set model\.classes=8/,
      ],
      // bad config values name the key
      [sets(["train.lr=-1"]), /train\.lr: /],
      [sets(["train.epochs=many"]), /train\.epochs: /],
      [sets(["data.dataset=imagenet"]), /data\.dataset: /],
      // odd paths
      [["--data", "folder", "--data-root", join(tmp, "nowhere")], /nowhere .*does not exist/],
      [["--data", "folder", "--data-root", import.meta.filename!], /is not a directory/],
    ];
    for (const [args, re] of cases) {
      const r = await cli([...base, ...args]);
      assert.equal(r.code, 1, `${JSON.stringify(args)}: ${r.err}`);
      assert.match(r.err, re, JSON.stringify(args));
      assert.doesNotMatch(r.out, /test accuracy/);
    }
    // Too many unusable files: the run stops naming them.
    const messy = join(tmp, "messy");
    await messyFolder(messy);
    let r = await cli([...base, "--data", "folder", "--data-root", messy, ...sets(TOY)]);
    assert.equal(r.code, 1);
    assert.match(r.err, /cannot be used .*above data\.maxSkippedFraction = 0\.05.*nothing was/s);
    // A batch larger than wasm's memory: named with the largest that fits.
    r = await cli([
      ...base.slice(0, -2),
      "--backend",
      "wasm",
      ...sets([...TOY, ...SYNTH, "train.batchSize=2000000"]),
    ]);
    assert.equal(r.code, 1);
    assert.match(
      r.err,
      /train\.batchSize=2000000 does not fit in the wasm backend's memory.*the largest batch that fits is \d+/,
    );
    assert.deepEqual(featureCaches(join(res, "cache")), [], "nothing was extracted");
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});

Deno.test("catalogue: runs that cannot lie — results, NaN, other roots, other configs, locks", async () => {
  const tmp = await Deno.makeTempDir({ prefix: "grefel-cat-run-" });
  try {
    const res = join(tmp, "r");
    const train = (...args: string[]) =>
      cli([
        "train",
        "--config",
        "tiny",
        "--results",
        res,
        "--backend",
        "cpu",
        "--no-figures",
        ...args,
      ]);

    // A correct result on folder data with an empty class folder and a stray file (listed).
    const rootA = join(tmp, "root A");
    await faceFolder(rootA);
    await Deno.mkdir(join(rootA, "c3"));
    await Deno.writeTextFile(join(rootA, "c0", "notes.txt"), "not an image");
    const folder = (root: string, exp: string) => [
      "--data",
      "folder",
      "--data-root",
      root,
      ...sets([...TOY, "data.maxSkippedFraction=0.2", `train.experiment=${exp}`]),
    ];
    let r = await train(...folder(rootA, "a"));
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /^trained .* test accuracy 0\.\d{4}/);
    assert.match(
      r.err,
      /skipped 2 item\(s\): 1 empty class folder: not used as a class; 1 unsupported/,
    );
    const dirA = onlyRun(res, "a");
    const skipped = JSON.parse(await Deno.readTextFile(join(dirA, "skipped.json")));
    assert.equal(skipped.total, 2);
    assert.deepEqual(
      skipped.items.map((s: { item: string }) => s.item.replace(rootA, "A")).sort(),
      ["A/c0/notes.txt", "c3"],
    );
    const metrics = JSON.parse(await Deno.readTextFile(join(dirA, "metrics.json")));
    assert.ok(Number.isFinite(metrics.accuracy));

    // cluster-scores reads the run's own embeddings.csv.
    r = await cli(["cluster-scores", "--run", dirA, "--json"]);
    assert.equal(r.code, 0, r.err);
    assert.ok(Number.isFinite(JSON.parse(r.out).daviesBouldin));

    // A copy of the folder at another root, other pixels, the same file names (the same
    // fingerprint, the same run id): refused before extraction, and the sweep says so.
    const rootB = join(tmp, "root B");
    await faceFolder(rootB);
    for (const c of ["c0", "c1", "c2"]) {
      await Deno.rename(join(rootB, c, "0.png"), join(rootB, c, "tmp.png"));
      await Deno.rename(join(rootB, c, "1.png"), join(rootB, c, "0.png"));
      await Deno.rename(join(rootB, c, "tmp.png"), join(rootB, c, "1.png"));
    }
    await Deno.mkdir(join(rootB, "c3"));
    await Deno.writeTextFile(join(rootB, "c0", "notes.txt"), "not an image");
    const cachesA = featureCaches(join(res, "cache"));
    r = await train(...folder(rootB, "a"));
    assert.equal(r.code, 1);
    assert.match(
      r.err,
      /was trained on the data at .*root A, this run reads .*root B \(data\.root\)/,
    );
    assert.deepEqual(featureCaches(join(res, "cache")), cachesA, "refused before extraction");
    // Root B in its own experiment: its own feature caches; root A's stay whole.
    const shardsA = cachesA.map((c) => [...Deno.readDirSync(join(res, "cache", c))].length);
    r = await train(...folder(rootB, "b"));
    assert.equal(r.code, 0, r.err);
    const caches = featureCaches(join(res, "cache"));
    assert.equal(caches.filter((c) => c.startsWith("folder-train-")).length, 2, caches.join());
    assert.deepEqual(
      cachesA.map((c) => [...Deno.readDirSync(join(res, "cache", c))].length),
      shardsA,
      "root A's shards survive root B's build",
    );

    // NaN: a learning rate that blows the weights up ends in an error, never in a result.
    r = await train(...sets([...TOY, ...SYNTH, "train.lr=1e7", "train.experiment=nan"]));
    assert.equal(r.code, 1);
    assert.match(r.err, /NaN|non-finite/);
    assert.doesNotMatch(r.out, /test accuracy/);
    assert.ok(!await exists(join(onlyRun(res, "nan"), "metrics.json")));

    // A run directory recorded for another config is refused, before extraction.
    const cfgPath = join(dirA, "config.json");
    const text = await Deno.readTextFile(cfgPath);
    const rec = JSON.parse(text);
    await Deno.writeTextFile(cfgPath, JSON.stringify({ ...rec, configHash: "0".repeat(64) }));
    r = await train(...folder(rootA, "a"));
    assert.equal(r.code, 1);
    assert.match(r.err, /describes another config \(hash 0000000000, this run [0-9a-f]{10}\)/);
    await Deno.writeTextFile(cfgPath, text);

    // Concurrent runs: while another process trains the run, --force is refused by its lock,
    // and the finished run is untouched.
    const lock = await acquireLock(`${dirA}.lock`, { purpose: "catalogue" });
    try {
      r = await train(...folder(rootA, "a"), "--force");
      assert.equal(r.code, LOCK_HELD_EXIT, "a lock refusal has its own exit code");
      assert.match(r.err, /lock/i);
    } finally {
      await lock.release();
    }
    assert.ok(await exists(join(dirA, "metrics.json")), "nothing finished is lost");
    // Started again, the finished run is skipped with its result.
    r = await train(...folder(rootA, "a"));
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /^skipped .* test accuracy 0\.\d{4}/);
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});

Deno.test("catalogue: label files — repeated rows and blank votes are listed skips", async () => {
  const tmp = await Deno.makeTempDir({ prefix: "grefel-cat-labels-" });
  try {
    const faces = loadSynthetic({ size: 48, train: 1, valid: 0, test: 1 });
    const png = encodePng(await faces.loadImage(faces.samples[0]));
    const rows: Record<string, string[]> = {
      FER2013Train: [
        'a.png,"(0, 0, 48, 48)",8,2,0,0,0,0,0,0,0,0',
        'a.png,"(0, 0, 48, 48)",8,2,0,0,0,0,0,0,0,0',
        'b.png,"(0, 0, 48, 48)",0,8,,0,0,0,0,0,0,0',
        'c.png,"(0, 0, 48, 48)",0,9,0,0,0,0,0,0,0,1',
      ],
      FER2013Valid: ['d.png,"(0, 0, 48, 48)",0,0,10,0,0,0,0,0,0,0'],
      FER2013Test: ['e.png,"(0, 0, 48, 48)",0,10,0,0,0,0,0,0,0,0'],
    };
    for (const [folder, lines] of Object.entries(rows)) {
      await Deno.mkdir(join(tmp, folder));
      await Deno.writeTextFile(join(tmp, folder, "label.csv"), lines.join("\n") + "\n");
      for (const l of lines) await Deno.writeFile(join(tmp, folder, l.split(",")[0]), png);
    }
    const r = await cli([
      "data",
      "--data",
      "ferplus",
      "--data-root",
      tmp,
      "--results",
      join(tmp, "r"),
      "--json",
    ]);
    assert.equal(r.code, 0, r.err);
    const rep = JSON.parse(r.out);
    assert.equal(rep.splits.train.total, 2);
    assert.deepEqual(rep.skipped.byReason, { "blank vote field": 1, "duplicate entry": 1 });
    assert.match(
      rep.skipped.items.map((s: { reason: string }) => s.reason).join("|"),
      /blank vote field\(s\) in column\(s\) 5/,
    );
    // An empty class in the training split is a warning before any training.
    assert.match(rep.warnings.join("|"), /split "train" has no image of class\(es\) .*"surprise"/);
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch {
    return false;
  }
}
