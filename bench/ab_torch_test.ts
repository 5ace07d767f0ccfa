import assert from "node:assert/strict";
import { join } from "node:path";
import {
  abTorchPlan,
  bootstrapMedianInterval,
  orderStatisticInterval,
  rotate,
  runInterleaved,
  type ServerSpec,
  summarizeRatios,
} from "./ab_torch.ts";
import { serveSteps } from "./step_protocol.ts";

const FAKE = join(new URL(".", import.meta.url).pathname, "testdata/fake_step_server.sh");

/** A fake step server answering `wall` seconds per step (see testdata/fake_step_server.sh). */
function fake(
  name: string,
  wall: number,
  o: Partial<ServerSpec> & { mode?: string; after?: number } = {},
): ServerSpec {
  const { mode = "ok", after = 0, ...rest } = o;
  const threads = rest.threads ?? 1;
  return {
    name,
    kind: name === "wasm" ? "tfjs" : "torch",
    threads,
    batch: 64,
    cmd: "sh",
    args: [FAKE, `${wall}`, mode, `${after}`, `${threads}`],
    ...rest,
  };
}

/** Whether a process is still there (a reaped child has no /proc entry, a zombie still has). */
function alive(pid: number): boolean {
  try {
    Deno.statSync(`/proc/${pid}`);
    return true;
  } catch {
    return false;
  }
}

Deno.test("rotate: each round starts one server later", () => {
  assert.deepEqual(rotate(["a", "b", "c"], 0), ["a", "b", "c"]);
  assert.deepEqual(rotate(["a", "b", "c"], 1), ["b", "c", "a"]);
  assert.deepEqual(rotate(["a", "b", "c"], 5), ["c", "a", "b"]);
  assert.deepEqual(rotate([], 3), []);
});

Deno.test("orderStatisticInterval: exact binomial coverage, null when n is too small", () => {
  assert.equal(orderStatisticInterval([1, 2, 3, 4, 5]), null); // [min, max] covers 1 − 2/32
  const six = orderStatisticInterval([6, 1, 5, 2, 4, 3])!;
  assert.deepEqual([six.lo, six.hi], [1, 6]);
  assert.ok(Math.abs(six.coverage - (1 - 2 / 64)) < 1e-12);
  // n = 10: j = 2 covers 1 − 2·11/1024 ≈ 0.979; j = 3 only 1 − 2·56/1024 ≈ 0.891.
  const ten = orderStatisticInterval([10, 9, 8, 7, 6, 5, 4, 3, 2, 1])!;
  assert.deepEqual([ten.lo, ten.hi], [2, 9]);
  assert.ok(Math.abs(ten.coverage - (1 - 22 / 1024)) < 1e-12);
});

Deno.test("bootstrapMedianInterval: seeded, inside the range, around the median", () => {
  const v = [1.1, 1.4, 1.2, 1.9, 1.3, 1.25, 1.35];
  const a = bootstrapMedianInterval(v, { seed: 3 });
  assert.deepEqual(bootstrapMedianInterval(v, { seed: 3 }), a);
  assert.ok(a.lo >= 1.1 && a.hi <= 1.9 && a.lo <= 1.3 && a.hi >= 1.3, JSON.stringify(a));
  assert.ok(a.lo < a.hi);
  assert.deepEqual(bootstrapMedianInterval([2, 2, 2]), { lo: 2, hi: 2 });
});

Deno.test("summarizeRatios: median and intervals of the finite values", () => {
  const s = summarizeRatios([2, NaN, 1, 3, 4, 5, 6]);
  assert.equal(s.n, 6);
  assert.equal(s.median, 3.5);
  assert.deepEqual([s.min, s.max], [1, 6]);
  assert.deepEqual([s.orderStatistic95!.lo, s.orderStatistic95!.hi], [1, 6]);
  assert.ok(s.bootstrap95!.lo <= 3.5 && s.bootstrap95!.hi >= 3.5);
  const none = summarizeRatios([]);
  assert.equal(none.median, null);
  assert.equal(none.bootstrap95, null);
});

Deno.test("serveSteps: ready line, one answer per command, errors answered", async () => {
  const input = ReadableStream.from(
    ['{"steps": 2}\n', "\n", "junk\n", '{"steps": 0}\n', '{"steps": 1}'].map((s) =>
      new TextEncoder().encode(s)
    ),
  );
  const out: string[] = [];
  let calls = 0;
  await serveSteps(
    { kind: "x" },
    () => {
      calls++;
      return Promise.resolve({ wall: 0.5, cpu: 0.25 });
    },
    input,
    (l) => out.push(l),
  );
  const lines = out.map((l) => JSON.parse(l));
  assert.deepEqual(lines[0], { ready: { kind: "x" } });
  assert.deepEqual(lines[1], { wall: [0.5, 0.5], cpu: [0.25, 0.25] });
  assert.ok("error" in lines[2] && "error" in lines[3]);
  assert.deepEqual(lines[4], { wall: [0.5], cpu: [0.25] });
  assert.equal(lines.length, 5);
  assert.equal(calls, 3);
});

Deno.test("runInterleaved: rotated order, per-round ratios, fastest setting per thread count", async () => {
  const r = await runInterleaved([
    fake("wasm", 0.6),
    fake("t1", 0.3),
    fake("t1-half-batch", 0.3, { batch: 32 }),
    fake("t2", 0.2, { threads: 2 }),
    fake("wasm-2w", 0.45, { kind: "tfjs", threads: 2 }),
  ], { rounds: 6, steps: 2, reference: "wasm" });
  assert.equal(r.error, undefined);
  assert.deepEqual(r.skipped, []);
  assert.equal(r.perRound.length, 6);
  const names = ["wasm", "t1", "t1-half-batch", "t2", "wasm-2w"];
  r.perRound.forEach((round, i) => {
    assert.deepEqual(round.order, rotate(names, i));
    assert.deepEqual(round.times.t1.wall, [0.3, 0.3]);
  });
  const by = Object.fromEntries(r.settings.map((s) => [s.name, s]));
  const ratio = (n: string) => (by[n].wallRatio as { median: number }).median;
  assert.ok(Math.abs(ratio("t1") - 2) < 1e-9);
  assert.ok(Math.abs(ratio("t1-half-batch") - 1) < 1e-9); // per image: 0.3 s / 32 images
  assert.ok(Math.abs(ratio("t2") - 3) < 1e-9);
  assert.equal((by.t1.wallRatios as number[]).length, 6);
  const f = r.fastest as Record<string, { setting: string } | null>;
  assert.equal(f.overall!.setting, "t2");
  assert.equal(f.oneThread!.setting, "t1");
  assert.equal(f.twoThreads!.setting, "t2");
  // A second tfjs setting is not a PyTorch setting: it gets its own ratio against each of them.
  assert.ok(!by["wasm-2w"]);
  const other = r.otherTfjs as {
    name: string;
    against: { setting: string; wallRatio: { median: number } }[];
  }[];
  assert.deepEqual(other.map((o) => o.name), ["wasm-2w"]);
  const vsT1 = other[0].against.find((a) => a.setting === "t1")!;
  assert.ok(Math.abs(vsT1.wallRatio.median - 1.5) < 1e-9);
  assert.equal(other[0].against.length, 3);
  assert.equal(r.loadavgStart.length, 3);
  for (const s of r.servers) assert.ok(!alive(s.pid as number), `${s.name} still running`);
});

Deno.test("runInterleaved: missing prerequisites and failed starts are skipped with the reason", async () => {
  const r = await runInterleaved([
    fake("wasm", 0.6),
    fake("no-torch", 0.3, { skip: "no torch here" }),
    fake("dies", 0.3, { mode: "exit" }),
    { ...fake("absent", 0.3), cmd: "/nonexistent/python3" },
    fake("lies", 0.3, { verify: () => "libtcmalloc is not mapped into the process" }),
    fake("ok", 0.3),
  ], { rounds: 2, steps: 1, reference: "wasm" });
  assert.equal(r.error, undefined);
  const why = Object.fromEntries(r.skipped.map((s) => [s.name, s.reason]));
  assert.deepEqual(Object.keys(why).sort(), ["absent", "dies", "lies", "no-torch"]);
  assert.equal(why["no-torch"], "no torch here");
  assert.match(why.dies, /exited \(code 3\).*fake start failure/);
  assert.match(why.absent, /cannot start/);
  assert.match(why.lies, /libtcmalloc/);
  assert.deepEqual(r.settings.map((s) => s.name), ["ok"]);
  assert.deepEqual(r.perRound[1].order, ["ok", "wasm"]);
  for (const s of r.servers) assert.ok(!alive(s.pid as number));
});

Deno.test("runInterleaved: a server that hangs is killed, the others go on", async () => {
  const r = await runInterleaved([
    fake("wasm", 0.6),
    fake("hangs", 0.3, { mode: "hang", after: 1 }),
    fake("ok", 0.3),
  ], { rounds: 3, steps: 1, reference: "wasm", commandTimeoutSeconds: 1 });
  assert.equal(r.error, undefined);
  const hangs = r.settings.find((s) => s.name === "hangs")!;
  assert.match(String(hangs.error), /round 1: .*no answer in 1 s/);
  assert.equal((hangs.wallRatio as { n: number }).n, 1);
  assert.equal((r.settings.find((s) => s.name === "ok")!.wallRatio as { n: number }).n, 3);
  assert.deepEqual(r.perRound[2].order, ["ok", "wasm"]);
  for (const s of r.servers) assert.ok(!alive(s.pid as number), `${s.name} still running`);
});

Deno.test("runInterleaved: when the reference fails, every server is terminated", async () => {
  const r = await runInterleaved([
    fake("wasm", 0.6, { mode: "crash", after: 1 }),
    fake("a", 0.3),
    // Ignores the end of its input: closing it takes a kill after the grace period.
    fake("lingers", 0.3, { mode: "linger" }),
  ], { rounds: 4, steps: 1, reference: "wasm", closeGraceSeconds: 1 });
  // Round 1 runs a, lingers, then wasm, which crashes.
  assert.match(String(r.error), /reference setting failed in round 1: .*exited \(code 4\)/);
  assert.equal(r.perRound.length, 2);
  assert.deepEqual(Object.keys(r.perRound[1].times), ["a", "lingers"]);
  assert.equal(r.servers.length, 3);
  for (const s of r.servers) assert.ok(!alive(s.pid as number), `${s.name} still running`);
});

Deno.test("runInterleaved: no reference, no rounds", async () => {
  const r = await runInterleaved([
    fake("wasm", 0.6, { mode: "exit" }),
    fake("a", 0.3),
  ], { rounds: 3, steps: 1, reference: "wasm" });
  assert.match(String(r.error), /reference setting wasm did not start/);
  assert.equal(r.perRound.length, 0);
  for (const s of r.servers) assert.ok(!alive(s.pid as number));
});

Deno.test("abTorchPlan: four PyTorch settings, skipped with the missing prerequisite", async () => {
  const dir = await Deno.makeTempDir({ prefix: "grefel-abtorch-test-" });
  try {
    const o = { config: "tiny", batch: 4, warmup: 1, configFile: join(dir, "tiny.json") };
    const all = await abTorchPlan(o, { torch: null, tcmalloc: null });
    assert.deepEqual(all.map((s) => s.name), [
      "wasm",
      "wasm-2workers",
      "torch-1t-glibc",
      "torch-2t-glibc",
      "torch-1t-tcmalloc",
      "torch-2t-tcmalloc",
    ]);
    assert.ok(all.every((s) => !s.skip));
    const t2 = all.find((s) => s.name === "torch-2t-tcmalloc")!;
    assert.equal(t2.env!.OMP_NUM_THREADS, "2");
    assert.equal(t2.env!.OPENBLAS_NUM_THREADS, "2");
    assert.match(t2.env!.LD_PRELOAD, /libtcmalloc\.so\.4$/);
    assert.equal(t2.env!.OMP_WAIT_POLICY, "PASSIVE");
    assert.equal(all.find((s) => s.name === "torch-1t-glibc")!.env!.LD_PRELOAD, undefined);
    assert.equal(t2.verify!({ threads: 2, tcmalloc: true }), null);
    assert.match(t2.verify!({ threads: 2, tcmalloc: false })!, /libtcmalloc is not mapped/);
    assert.match(t2.verify!({ threads: 1, tcmalloc: true })!, /1 threads, not 2/);
    assert.ok(JSON.parse(await Deno.readTextFile(o.configFile)).embedDim > 0);

    const noTc = await abTorchPlan(o, { torch: null, tcmalloc: "no tcmalloc" });
    assert.deepEqual(noTc.filter((s) => s.skip).map((s) => s.name), [
      "torch-1t-tcmalloc",
      "torch-2t-tcmalloc",
    ]);
    const noTorch = await abTorchPlan(o, { torch: "no torch", tcmalloc: "no tcmalloc" });
    assert.deepEqual(noTorch.filter((s) => s.skip).map((s) => s.skip), Array(4).fill("no torch"));
    assert.equal(noTorch[0].skip, undefined);
    assert.equal(noTorch[1].skip, undefined);
    const dp = all.find((s) => s.name === "wasm-2workers")!;
    assert.ok(dp.args.join(" ").includes("--workers 2"));
    assert.equal(dp.verify!({ backend: "wasm", threads: 2 }), null);
    assert.match(dp.verify!({ backend: "wasm", threads: 1 })!, /not 2/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
