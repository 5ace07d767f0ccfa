import { join } from "node:path";
import { assert } from "../../lib/testing.ts";
import { experimentConfig } from "../../lib/notebook/runs.ts";
import { runDir } from "../../lib/train/run.ts";
import { PROGRESS_END, PROGRESS_START, replaceSection } from "./progress.ts";
import { cli } from "./test_cli.ts";

/** A finished quick-profile run of `variant`/`seed`: right on the images `right(i)` says. */
async function writeRun(
  root: string,
  experiment: string,
  variant: string,
  seed: number,
  right: (i: number) => boolean,
) {
  const c = experimentConfig(experiment, variant, { seed, profile: "quick" });
  const dir = runDir({ ...c, train: { ...c.train, resultsDir: root } });
  await Deno.mkdir(dir, { recursive: true });
  const lines = ["id,label,primary,final,primary_a,primary_b,final_a,final_b"];
  let ok = 0;
  for (let i = 0; i < 100; i++) {
    const label = i % 2, pred = right(i) ? label : 1 - label;
    if (right(i)) ok++;
    const p = pred === 0 ? "0.9,0.1" : "0.1,0.9";
    lines.push(`i${i},${label},${pred},${pred},${p},${p}`);
  }
  await Deno.writeTextFile(join(dir, "predictions.csv"), lines.join("\n") + "\n");
  await Deno.writeTextFile(
    join(dir, "metrics.json"),
    JSON.stringify({ evaluation: { final: { accuracy: ok / 100 } } }),
  );
}

Deno.test("progress: cells and runs per table, claim verdicts, README section rewritten", async () => {
  const root = await Deno.makeTempDir({ prefix: "grefel-progress-" });
  try {
    // Table 2's headline cells at 5 seeds: both right everywhere, none on the first 60 images.
    for (let s = 0; s < 5; s++) {
      await writeRun(root, "table2-rb", "none", s, (i) => i < 60);
      await writeRun(root, "table2-rb", "both", s, () => true);
    }
    await writeRun(root, "table6-anchors", "K=0", 0, () => true);
    const readme = join(root, "README.md");
    await Deno.writeTextFile(readme, `# x\n\n${PROGRESS_START}\nold\n${PROGRESS_END}\n\ntail\n`);
    const r = await cli(["progress", "--results", root, "--readme-file", readme]);
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /\| Table 2 \| `table2-rb` \| 2 \/ 4 \| 10 \/ 16 \|/);
    assert.match(r.out, /\| RB study, required grid .* \| `rb-dynamics` \| 0 \/ 8 \| 0 \/ 24 \|/);
    assert.match(r.out, /RB study cells missing seeds .*`training=paper,head=dropout-0` 0/);
    assert.match(r.out, /\| Table 6 \| `table6-anchors` \| 0 \/ 7 \| 1 \/ 25 \|/);
    assert.match(
      r.out,
      /\| Table 3 \| `table3-loss` \| 1 \/ 5 \| 3 \/ 15 \|/,
      "all = Table 2 both",
    );
    assert.match(
      r.out,
      /- Table 2: RB \(both\) improves accuracy over no RB: holds \(both − none: \+40\.00 points/,
    );
    assert.match(r.out, /- Table 2: Anchors alone improve over no RB: pending \(anchors 0 of 3/);
    const text = await Deno.readTextFile(readme);
    assert.ok(text.startsWith(`# x\n\n${PROGRESS_START}\nConverged ablations`));
    assert.ok(text.endsWith(`${PROGRESS_END}\n\ntail\n`));
    assert.doesNotMatch(text, /\nold\n/);
    // Rewriting again gives the same file (the section is replaced, not appended).
    assert.equal((await cli(["progress", "--results", root, "--readme-file", readme])).code, 0);
    assert.equal(await Deno.readTextFile(readme), text);
    assert.equal((await cli(["progress", "--profile", "huge", "--results", root])).code, 2);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("replaceSection: refuses a README without the markers", () => {
  assert.throws(() => replaceSection("no markers", "x"), /no <!-- ablation-progress:start -->/);
  assert.equal(
    replaceSection(`a${PROGRESS_START}b${PROGRESS_END}c`, "S"),
    `a${PROGRESS_START}\nS\n${PROGRESS_END}c`,
  );
});
