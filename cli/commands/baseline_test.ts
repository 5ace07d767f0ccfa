import { resolve } from "node:path";
import { assert } from "../../lib/testing.ts";
import { exists, join, REPO_ROOT } from "../../lib/data/common.ts";
import { FERPLUS_DEFAULT } from "../../lib/data/ferplus.ts";
import { baselineCommand } from "./baseline.ts";

/** Runs the command with console output captured. */
async function run(args: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [], err: string[] = [];
  const [log, error] = [console.log, console.error];
  console.log = (...a: unknown[]) => out.push(a.join(" "));
  console.error = (...a: unknown[]) => err.push(a.join(" "));
  try {
    const code = await baselineCommand.run(args);
    return { code, out: out.join("\n"), err: err.join("\n") };
  } finally {
    [console.log, console.error] = [log, error];
  }
}

Deno.test("baseline: bad arguments are named errors (exit 2)", async () => {
  for (
    const [args, re] of [
      [["--data", "ferplus"], /--model is required/],
      [["--model", "vgg"], /unknown model "vgg".*faceapi-expression/],
      [["--model", "faceapi-expression", "--data", "imagenet"], /unknown data "imagenet"/],
      [["--model", "faceapi-expression", "--label-mode", "soft"], /--label-mode/],
      [["--model", "faceapi-expression", "--limit", "0"], /--limit must be a positive integer/],
    ] as const
  ) {
    const r = await run([...args]);
    assert.equal(r.code, 2, args.join(" "));
    assert.match(r.err, re);
  }
  await assert.rejects(() => baselineCommand.run(["--model", "faceapi-expression", "--bogus"]));
});

const realRoot = Deno.env.get("GREFEL_FERPLUS") ?? resolve(REPO_ROOT, FERPLUS_DEFAULT);
const haveReal = await exists(join(realRoot, "FER2013Test", "label.csv"));
if (!haveReal) console.warn(`baseline_test: FER+ not found at ${realRoot}; real-data test skipped`);

Deno.test({
  name: "baseline --limit 16 --json --out writes the report it prints",
  ignore: !haveReal,
  async fn() {
    const dir = await Deno.makeTempDir();
    try {
      const out = join(dir, "sub", "r.json");
      const r = await run([
        "--model=faceapi-expression",
        "--data-root",
        realRoot,
        "--limit",
        "16",
        "--backend",
        "wasm",
        "--json",
        "--out",
        out,
      ]);
      assert.equal(r.code, 0, r.err);
      const printed = JSON.parse(r.out), written = JSON.parse(await Deno.readTextFile(out));
      assert.deepEqual(printed, written);
      assert.equal(written.images, 16);
      assert.equal(written.backendInfo.backend, "wasm");
      assert.deepEqual(Object.keys(written.results).sort(), ["majority", "plurality"]);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
