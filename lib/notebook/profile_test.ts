import { join } from "node:path";
import { assert } from "../testing.ts";
import { REPO_ROOT, resultsDir, resultsDirFor } from "./profile.ts";

/** Runs `f` with environment variables set (undefined: removed), restoring them after. */
function withEnv(vars: Record<string, string | undefined>, f: () => void): void {
  const saved = Object.fromEntries(Object.keys(vars).map((k) => [k, Deno.env.get(k)]));
  const set = (k: string, v: string | undefined) =>
    v === undefined ? Deno.env.delete(k) : Deno.env.set(k, v);
  try {
    for (const [k, v] of Object.entries(vars)) set(k, v);
    f();
  } finally {
    for (const [k, v] of Object.entries(saved)) set(k, v);
  }
}

Deno.test("resultsDirFor: a profile's runs, whatever the notebooks' current profile", () => {
  withEnv({ GREFEL_PROFILE: "smoke", GREFEL_RESULTS: undefined }, () => {
    assert.equal(resultsDir(), join(REPO_ROOT, "results/tmp/smoke"));
    assert.equal(resultsDirFor("quick"), join(REPO_ROOT, "results"));
    assert.equal(resultsDirFor("full"), join(REPO_ROOT, "results"));
    assert.equal(resultsDirFor("smoke"), join(REPO_ROOT, "results/tmp/smoke"));
  });
  withEnv({ GREFEL_PROFILE: "quick", GREFEL_RESULTS: "elsewhere" }, () => {
    assert.equal(resultsDir(), join(REPO_ROOT, "elsewhere"));
    assert.equal(resultsDirFor("smoke"), join(REPO_ROOT, "elsewhere"));
  });
});
