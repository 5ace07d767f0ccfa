/**
 * Which machine a run's epoch trained on, for reading its wall seconds: runs move between machines
 * across sessions, and the same epoch costs up to twice as long on one CPU as on another.
 *
 * @module
 */

let cached: string | undefined;

/**
 * The CPU model (Linux `/proc/cpuinfo`'s first `model name`, else the architecture) and the core
 * count, e.g. `"AMD EPYC ×2"`. Read once per process.
 */
export function machineLabel(): string {
  if (cached !== undefined) return cached;
  let model: string | undefined;
  try {
    model = Deno.readTextFileSync("/proc/cpuinfo").match(/model name\s*:\s*(.*)/)?.[1]?.trim();
  } catch {
    // not Linux, or no permission: fall back to the architecture
  }
  cached = `${model || Deno.build.arch} ×${navigator.hardwareConcurrency}`;
  return cached;
}
