/**
 * Test helpers shared by the `*_test.ts` files. `jsr:@std/assert` cannot be reached here, so the
 * tests use `node:assert/strict` and these few additions for numeric comparisons and leak checks.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import assert from "node:assert/strict";

/** Flattens nested number arrays. */
function flat(x: unknown): number[] {
  if (typeof x === "number") return [x];
  if (ArrayBuffer.isView(x)) return Array.from(x as unknown as ArrayLike<number>);
  if (Array.isArray(x)) return x.flatMap(flat);
  throw new Error(`not numeric: ${typeof x}`);
}

/**
 * Asserts that `actual` and `expected` (numbers, arrays, typed arrays, or tensors) agree elementwise
 * within `atol + rtol·|expected|`, naming the first element that does not.
 */
export async function assertClose(
  actual: unknown,
  expected: unknown,
  atol = 1e-5,
  rtol = 0,
  msg = "",
): Promise<void> {
  const a = actual instanceof tf.Tensor ? Array.from(await actual.data()) : flat(actual);
  const e = expected instanceof tf.Tensor ? Array.from(await expected.data()) : flat(expected);
  assert.equal(a.length, e.length, `${msg} length ${a.length} != ${e.length}`);
  for (let i = 0; i < a.length; i++) {
    const tol = atol + rtol * Math.abs(e[i]);
    if (!(Math.abs(a[i] - e[i]) <= tol)) {
      assert.fail(`${msg} element ${i}: ${a[i]} vs ${e[i]} (tolerance ${tol})`);
    }
  }
}

/** Runs `fn` and asserts that the number of live tensors is the same before and after. */
export async function assertNoLeak<T>(fn: () => T | Promise<T>, msg = ""): Promise<T> {
  const before = tf.memory().numTensors;
  const out = await fn();
  const after = tf.memory().numTensors;
  assert.equal(after, before, `${msg} leaked ${after - before} tensors`);
  return out;
}

export { assert };
