/**
 * Fixture tests of every loader layout (tiny images written to a temp dir).
 */
import { assert } from "../testing.ts";
import { join } from "node:path";
import { classCounts, DatasetError } from "./common.ts";
import { encodeJpeg, encodePng } from "./image.ts";
import { loadDataset } from "./datasets.ts";
import { gradient, tinyTiff } from "./test_fixtures.ts";

const PNG = encodePng(gradient(8, 8, 1));
const JPG = encodeJpeg(gradient(8, 8, 3));

async function write(root: string, rel: string, data: Uint8Array | string) {
  const path = join(root, rel);
  await Deno.mkdir(join(path, ".."), { recursive: true });
  if (typeof data === "string") await Deno.writeTextFile(path, data);
  else await Deno.writeFile(path, data);
}

async function withDir(fn: (dir: string) => Promise<void>) {
  const dir = await Deno.makeTempDir({ prefix: "grefel_data_" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("fer2013 csv, with and without FER+ votes", () =>
  withDir(async (dir) => {
    const pix = (v: number) => new Array(48 * 48).fill(v).join(" ");
    await write(
      dir,
      "fer2013.csv",
      [
        "emotion,pixels,Usage",
        `3,${pix(10)},Training`,
        `0,${pix(20)},PublicTest`,
        `6,${pix(30)},PrivateTest`,
        `9,${pix(40)},Training`, // unknown emotion code
        `2,1 2 3,Training`, // wrong pixel count
      ].join("\n"),
    );
    const ds = await loadDataset("fer2013", dir, { splits: ["train", "valid", "test"] });
    // no fer2013new.csv yet: FER2013 classes
    assert.equal(ds.classNames[0], "angry");
    assert.deepEqual(ds.samples.map((s) => [s.split, s.label]), [["train", 3], ["valid", 0], [
      "test",
      6,
    ]]);
    assert.equal(ds.skipped.length, 2);
    const img = await ds.loadImage(ds.samples[1]);
    assert.equal(img.width, 48);
    assert.equal(img.data[100], 20);
    await write(
      dir,
      "fer2013new.csv",
      [
        "Usage,Image name,neutral,happiness,surprise,sadness,anger,disgust,fear,contempt,unknown,NF",
        "Training,fer0000000.png,0,9,0,0,0,0,0,0,1,0",
        "PublicTest,,0,0,0,0,0,0,0,0,0,10",
        "PrivateTest,fer0000002.png,10,0,0,0,0,0,0,0,0,0",
        "Training,fer0000003.png,10,0,0,0,0,0,0,0,0,0",
        "Training,fer0000004.png,10,0,0,0,0,0,0,0,0,0",
      ].join("\n"),
    );
    const plus = await loadDataset("fer2013", dir);
    assert.equal(plus.classNames[1], "happiness");
    // with FER+ votes the FER2013 emotion column is not used (row 4 keeps its FER+ label)
    assert.deepEqual(plus.samples.map((s) => s.label), [1, 0, 0]);
    assert.ok(plus.skipped.some((s) => /removed by the FER\+ authors/.test(s.reason)));
    await write(dir, "fer2013new.csv", "Usage,Image name\nTraining,a\n");
    await assert.rejects(loadDataset("fer2013", dir), /has 1 rows but/);
    await write(dir, "fer2013.csv", "a,b\n1,2\n");
    await assert.rejects(loadDataset("fer2013", dir), /no "emotion" column/);
  }));

Deno.test("RAF-DB basic", () =>
  withDir(async (dir) => {
    await write(
      dir,
      "EmoLabel/list_patition_label.txt",
      "train_00001.jpg 5\ntrain_00002.jpg 1\ntest_0001.jpg 7\ntest_0002.jpg 9\ngarbage\ntrain_00003.jpg 2\n",
    );
    for (const n of ["train_00001", "train_00002", "test_0001", "test_0002"]) {
      await write(dir, `Image/aligned/${n}_aligned.jpg`, JPG);
    }
    const ds = await loadDataset("rafdb", dir);
    assert.deepEqual(ds.classNames.slice(0, 2), ["surprise", "fear"]);
    assert.deepEqual(ds.samples.map((s) => [s.id, s.split, s.label]), [
      ["rafdb/train_00001", "train", 4],
      ["rafdb/train_00002", "train", 0],
      ["rafdb/test_0001", "test", 6],
    ]);
    const reasons = ds.skipped.map((s) => s.reason).join("|");
    assert.match(reasons, /unknown label "9"/);
    assert.match(reasons, /malformed line/);
    assert.match(reasons, /image file missing/);
    const img = await ds.loadImage(ds.samples[0]);
    assert.equal(img.channels, 3);
    const v = await loadDataset("rafdb", dir, { validFromTrain: 0.5, splitSeed: 1 });
    assert.deepEqual(Object.keys(classCounts(v)).sort(), ["test", "train", "valid"]);
    await Deno.remove(join(dir, "EmoLabel"), { recursive: true });
    await assert.rejects(loadDataset("rafdb", dir), /list_patition_label\.txt not found/);
  }));

Deno.test("AffectNet: classes 0-7 kept, 8-10 skipped, face box cropped", () =>
  withDir(async (dir) => {
    const head =
      "subDirectory_filePath,face_x,face_y,face_width,face_height,facial_landmarks,expression,valence,arousal";
    await write(
      dir,
      "Manually_Annotated_file_lists/training.csv",
      [
        head,
        '1/a.jpg,2,1,4,5,"1;2",3,0.1,0.2',
        '1/b.jpg,0,0,8,8,"",9,0,0',
        '2/c.jpg,0,0,8,8,"",0,0,0',
      ]
        .join("\n"),
    );
    await write(dir, "Manually_Annotated_file_lists/validation.csv", '1/b.jpg,0,0,8,8,"",7,0,0\n');
    await write(dir, "Manually_Annotated_Images/1/a.jpg", JPG);
    await write(dir, "Manually_Annotated_Images/1/b.jpg", JPG);
    const ds = await loadDataset("affectnet", dir);
    assert.deepEqual(ds.samples.map((s) => [s.id, s.split, s.label]), [
      ["affectnet/1/a.jpg", "train", 3],
      ["affectnet/1/b.jpg", "test", 7],
    ]);
    assert.match(ds.skipped.map((s) => s.reason).join("|"), /expression 9 \(uncertain\)/);
    assert.match(ds.skipped.map((s) => s.reason).join("|"), /image file missing/);
    const img = await ds.loadImage(ds.samples[0]);
    assert.deepEqual([img.width, img.height], [4, 5]);
    await Deno.remove(join(dir, "Manually_Annotated_file_lists/validation.csv"));
    await assert.rejects(loadDataset("affectnet", dir), /validation\.csv not found/);
  }));

Deno.test("JAFFE: subject groups, TIFF, unknown codes skipped, subject-wise splits", () =>
  withDir(async (dir) => {
    const subjects = ["KA", "KL", "KM", "KR", "MK", "NA"];
    for (const s of subjects) {
      await write(dir, `${s}.AN1.${s.length}0.tiff`, tinyTiff(gradient(6, 6, 1)));
      await write(dir, `${s}.HA2.${s.length}1.png`, PNG);
    }
    await write(dir, "KA.XX1.99.tiff", tinyTiff(gradient(6, 6, 1)));
    await write(dir, "README.png", PNG);
    const ds = await loadDataset("jaffe", dir, { testFraction: 0.34, validFraction: 0.17 });
    assert.equal(ds.samples.length, 12);
    assert.equal(ds.skipped.length, 2);
    assert.match(ds.skipped.map((s) => s.reason).join("|"), /unknown expression code "XX"/);
    assert.equal(ds.classNames[ds.samples.find((s) => s.id.includes("AN1"))!.label], "anger");
    // every subject entirely in one split; all three splits used
    const splitOf = new Map<string, string>();
    for (const s of ds.samples) {
      assert.equal(splitOf.get(s.group!) ?? s.split, s.split);
      splitOf.set(s.group!, s.split);
    }
    assert.equal(new Set(splitOf.values()).size, 3);
    const again = await loadDataset("jaffe", dir, { testFraction: 0.34, validFraction: 0.17 });
    assert.deepEqual(again.samples.map((s) => s.split), ds.samples.map((s) => s.split));
    const img = await ds.loadImage(ds.samples.find((s) => s.path!.endsWith(".tiff"))!);
    assert.equal(img.width, 6);
  }));

Deno.test("FERG-DB: character groups, unknown and empty expression folders listed", () =>
  withDir(async (dir) => {
    for (const c of ["aia", "ray"]) {
      for (const e of ["joy", "anger"]) {
        for (let i = 0; i < 3; i++) await write(dir, `${c}/${c}_${e}/${c}_${e}_${i}.png`, PNG);
      }
    }
    await write(dir, "ray/ray_bored/ray_bored_1.png", PNG);
    await Deno.mkdir(join(dir, "aia/aia_fear"));
    const ds = await loadDataset("ferg", dir);
    assert.equal(ds.samples.length, 12);
    assert.deepEqual(new Set(ds.samples.map((s) => s.group)), new Set(["aia", "ray"]));
    assert.equal(ds.classNames[ds.samples.find((s) => s.id.includes("_joy_"))!.label], "joy");
    assert.match(ds.skipped.map((s) => `${s.item}: ${s.reason}`).join("|"), /ray_bored: not/);
    assert.match(ds.skipped.map((s) => `${s.item}: ${s.reason}`).join("|"), /aia_fear: empty/);
  }));

Deno.test("Aff-Wild2: per-video frames, -1 and missing frames counted, unknown class header", () =>
  withDir(async (dir) => {
    const ann = "Annotations/EXPR_Classification_Challenge";
    const header = "Neutral,Anger,Disgust,Fear,Happiness,Sadness,Surprise,Other";
    await write(dir, `${ann}/Train_Set/v1.txt`, `${header}\n0\n4\n-1\n-1\n7\n`);
    await write(dir, `${ann}/Validation_Set/v2.txt`, `${header}\n6\n`);
    for (const f of ["00001", "00002", "00003"]) {
      await write(dir, `cropped_aligned/v1/${f}.jpg`, JPG);
    }
    await write(dir, "cropped_aligned/v2/00001.jpg", JPG);
    const ds = await loadDataset("affwild2", dir);
    assert.deepEqual(ds.samples.map((s) => [s.id, s.split, s.label, s.group]), [
      ["affwild2/v1/00001.jpg", "train", 0, "v1"],
      ["affwild2/v1/00002.jpg", "train", 4, "v1"],
      ["affwild2/v2/00001.jpg", "test", 6, "v2"],
    ]);
    const items = ds.skipped.map((s) => `${s.item}: ${s.reason}`).join("|");
    assert.match(items, /v1 \(2 frames\): label -1/);
    assert.match(items, /v1 \(1 frames\): frame image missing/);
    await write(
      dir,
      `${ann}/Train_Set/v1.txt`,
      "Neutral,Joy,Disgust,Fear,Happiness,Sadness,Surprise,Other\n0\n",
    );
    await assert.rejects(loadDataset("affwild2", dir), /unknown class\(es\) "joy"/);
  }));

Deno.test("generic folders: split folders, inferred and explicit class names", () =>
  withDir(async (dir) => {
    for (const split of ["train", "val"]) {
      for (const c of ["happy", "sad"]) {
        for (let i = 0; i < 2; i++) await write(dir, `${split}/${c}/${i}.png`, PNG);
      }
    }
    await Deno.mkdir(join(dir, "train/angry"));
    const ds = await loadDataset("folder", dir);
    assert.deepEqual(ds.classNames, ["happy", "sad"]);
    assert.deepEqual(classCounts(ds), { train: [2, 2], valid: [2, 2] });
    assert.match(ds.skipped[0].reason, /empty class folder/);
    await assert.rejects(
      loadDataset("folder", dir, { classNames: ["sad", "happy"] }),
      /unknown class name\(s\) "angry"/,
    );
    await Deno.remove(join(dir, "train/angry"));
    const ex = await loadDataset("folder", dir, { classNames: ["sad", "happy"] });
    assert.equal(ex.samples.find((s) => s.id.includes("/happy/"))!.label, 1);
    await assert.rejects(
      loadDataset("folder", dir, { classNames: ["sad", "happy", "fear"] }),
      /empty class\(es\) "fear"/,
    );
  }));

Deno.test("registry: unknown kind, non-existent path", async () => {
  await assert.rejects(loadDataset("imagenet", null), /unknown data-set kind "imagenet"/);
  for (const kind of ["rafdb", "affectnet", "jaffe", "ferg", "affwild2", "folder", "fer2013"]) {
    await assert.rejects(
      loadDataset(kind, "/no/such/dir"),
      (e: unknown) => e instanceof DatasetError && e.message.includes("/no/such/dir"),
    );
  }
});
