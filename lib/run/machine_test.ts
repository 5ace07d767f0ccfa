import { assert } from "../testing.ts";
import { machineLabel } from "./machine.ts";

Deno.test("machineLabel: the CPU model and the core count, the same on every call", () => {
  const label = machineLabel();
  assert.match(label, new RegExp(` ×${navigator.hardwareConcurrency}$`));
  assert.ok(
    label.length > ` ×${navigator.hardwareConcurrency}`.length,
    "a model or an architecture",
  );
  assert.equal(machineLabel(), label);
});
