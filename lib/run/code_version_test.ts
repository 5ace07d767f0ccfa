import { assert } from "../testing.ts";
import { codeLabel, codeVersion } from "./code_version.ts";

Deno.test("codeVersion: this checkout's commit, and a label that carries it", () => {
  const v = codeVersion();
  const head = new Deno.Command("git", {
    args: ["-C", new URL("../..", import.meta.url).pathname, "rev-parse", "HEAD"],
    stdout: "piped",
    stderr: "null",
  }).outputSync();
  if (!head.success) {
    assert.equal(v.commit, null, "outside git the commit is unknown");
    assert.equal(codeLabel(v), null);
    return;
  }
  assert.equal(v.commit, new TextDecoder().decode(head.stdout).trim());
  assert.equal(typeof v.dirty, "boolean");
  assert.match(codeLabel(v)!, /^[0-9a-f]{12}(\+dirty)?$/);
  assert.equal(codeLabel({ commit: "0123456789abcdef", dirty: true }), "0123456789ab+dirty");
  assert.equal(codeLabel({ commit: null, dirty: null }), null);
});
