import { assert } from "../../lib/testing.ts";
import { cli } from "./test_cli.ts";

Deno.test("train/sweep: unknown experiment, variant, config key or flag are errors naming them", async () => {
  let r = await cli(["train", "--experiment", "table99", "--variant", "x"]);
  assert.equal(r.code, 1);
  assert.match(r.err, /unknown experiment "table99" \(known: .*table2-rb/);
  r = await cli(["train", "--experiment", "table2-rb", "--variant", "bogus"]);
  assert.equal(r.code, 1);
  assert.match(r.err, /unknown variant "bogus" of experiment table2-rb/);
  r = await cli(["train", "--experiment", "table2-rb"]);
  assert.equal(r.code, 2);
  assert.match(r.err, /--experiment needs --variant \(one of: none, anchors, mhsa, both\)/);
  r = await cli(["train", "--set", "train.epochz=3"]);
  assert.equal(r.code, 1);
  assert.match(r.err, /train\.epochz: unknown key/);
  r = await cli(["train", "--config", "huge"]);
  assert.equal(r.code, 1);
  assert.match(r.err, /unknown preset "huge"/);
  r = await cli(["train", "--bogus"]);
  assert.equal(r.code, 1);
  assert.match(r.err, /bogus/);
  r = await cli(["sweep", "--experiment", "nope"]);
  assert.equal(r.code, 1);
  assert.match(r.err, /unknown experiment "nope"/);
  r = await cli(["eval"]);
  assert.equal(r.code, 2);
  const tmp = await Deno.makeTempDir();
  try {
    r = await cli(["eval", "--run", tmp]);
    assert.equal(r.code, 1);
    assert.match(r.err, /is not a run directory \(no config\.json\)/);
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});

Deno.test("sweep --dry-run lists variants × seeds with their status", async () => {
  const tmp = await Deno.makeTempDir();
  try {
    const r = await cli([
      "sweep",
      "--experiment",
      "table2-rb",
      "--seeds",
      "2",
      "--results",
      tmp,
      "--dry-run",
    ]);
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /table2-rb: 8 runs \(0 finished, 0 interrupted, 8 new\), 2 in parallel/);
    assert.match(r.out, /none seed 1 {2}new {2}.*table2-rb\/[0-9a-f]{10}/);
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});
