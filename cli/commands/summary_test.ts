import { assert } from "../../lib/testing.ts";
import { presetConfig } from "../../lib/config.ts";
import { summaryCommand, summaryReport, TABLE2 } from "./summary.ts";

async function runJson(args: string[]): Promise<Record<string, unknown>> {
  const lines: string[] = [];
  const orig = console.log;
  console.log = (...a: unknown[]) => lines.push(a.join(" "));
  try {
    assert.equal(await summaryCommand.run(args), 0);
  } finally {
    console.log = orig;
  }
  return JSON.parse(lines.join("\n"));
}

Deno.test("summary --config paper --json is within 2% of Table 2 (with and without RB)", async () => {
  const r = await runJson(["--config", "paper", "--json"]) as unknown as ReturnType<
    typeof summaryReport
  >;
  const within = (x: number, target: number) => Math.abs(x - target) / target <= 0.02;
  assert.ok(within(r.params, TABLE2.withRB.params), `params ${r.params}`);
  assert.ok(within(r.flops, TABLE2.withRB.flops), `flops ${r.flops}`);
  assert.ok(within(r.withoutRB.params, TABLE2.withoutRB.params), `params ${r.withoutRB.params}`);
  assert.ok(within(r.withoutRB.flops, TABLE2.withoutRB.flops), `flops ${r.withoutRB.flops}`);
  assert.ok(r.extractors !== null && r.params === r.trainableParams + r.extractors.params);
  assert.ok(r.rb.params > 0.15e6 && r.rb.params < 0.3e6, `RB adds ${r.rb.params}`);
});

Deno.test("summary: other configs, --set overrides, bad config named", async () => {
  const r = await runJson(["--config", "compact", "--json", "--set", "model.rb.anchorsPerClass=0"]);
  assert.equal(r.extractors, null);
  assert.equal(r.params, r.trainableParams);
  const full = summaryReport("compact", presetConfig("compact").model);
  const c = presetConfig("compact").model;
  assert.equal(full.params - (r.params as number), c.classes * 10 * c.embedDim);
  await assert.rejects(
    () => summaryCommand.run(["--config", "compact", "--set", "model.embedDim=66"]),
    /model\.embedDim/,
  );
});
