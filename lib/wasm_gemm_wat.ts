/**
 * The text (WAT) of a small WebAssembly SIMD module that multiplies float32 matrices in place in
 * tfjs-backend-wasm's heap, without packing either operand (see lib/wasm_gemm.ts for why).
 *
 * Exported function `gemm(a, b, c, M, K, N, sam, sak, batch, sA, sB, sC, scratch)`, all i32:
 * for each of `batch` items, `C (M×N, row-major) = A·B` where element (m, k) of A is the float at
 * byte address `a + m·sam + k·sak` (so a row-major `[M, K]` has sam = 4K, sak = 4; a row-major
 * `[K, M]` read as its transpose has sam = 4, sak = 4M) and B is row-major `[K, N]`. After each
 * item, a, b and c advance by sA, sB and sC bytes (0 broadcasts an operand over the batch).
 * `scratch` is a buffer of at least {@linkcode GEMM_SCRATCH_BYTES} in the same memory.
 *
 * Exported function `sumRows(b, c, K, N)`: `c[n] = Σ_k b[k·N + n]` (the sum over the leading axes
 * of a row-major `[K, N]`), rows added in increasing k.
 *
 * Exported function `softmaxGrad(y, dy, dx, rows, n)`: the gradient of a last-axis softmax from its
 * output y and the output's gradient dy (see {@linkcode softmaxGradWat}).
 *
 * Exported function `adam(p, g, m, v, po, mo, vo, n, b1, c1, b2, c2, d1, d2, eps, nlr)` (pointers
 * and n i32, the rest f32): one Adam update of n values from weight p, gradient g and moments m, v
 * into po, mo, vo, with tfjs' `AdamOptimizer` operations in tfjs' order, each rounded to float32
 * (see {@linkcode adamWat}).
 *
 * The product runs as outer products over k, in register tiles of 4 rows × 8 columns of C (eight
 * 4-lane accumulators, B's row segment loaded as two vectors, A's four values splatted), with
 * 4×4, 1×8, 1×4 and 1×1 tiles for the edges (4-row tiles load A's four values as one vector when
 * they are adjacent, as in a transposed A), k in blocks of {@linkcode GEMM_KC} and columns in
 * panels of {@linkcode GEMM_NC}, so that a block of B stays in cache while every row block of C
 * passes over it. When B is wider than one panel, each panel's block is first copied into the
 * scratch buffer (contiguous rows: fewer cache lines and pages per k). Each C element is the sum
 * over k in increasing order (blocks accumulate into C), with separate multiply and add (no fused
 * multiply-add), so the result does not depend on the machine.
 *
 * Written as a generator so that the five tile kernels come from one description; the module is
 * assembled by scripts/build_gemm_wasm.ts (with the `wabt` package) into lib/wasm_gemm_binary.ts.
 *
 * @module
 */

/**
 * Rows of C per register tile (4 or 6). 6 × 8 (twelve accumulators) measured slower than 4 × 8 on
 * the training step's products here (V8 spills registers), so 4.
 */
export const GEMM_MR = 4;

/** Rows of k per block: a 512-row block of a 64-wide A and B is 128 KB each. */
export const GEMM_KC = 512;

/** Columns of C (and B) per panel: a k block of a 64-column panel of B is 128 KB. */
export const GEMM_NC = 64;

/** Bytes of the scratch buffer the kernel needs (one k block of one panel of B). */
export const GEMM_SCRATCH_BYTES: number = GEMM_KC * GEMM_NC * 4;

/**
 * One tile kernel: C[mr × 4·nv] += A[mr × kc]·B[kc × 4·nv] (nv 4-lane vectors per row; nv = 0
 * means a single scalar column).
 */
function tile(mr: number, nv: number, contiguous = false): string {
  const name = (nv === 0 ? `$k${mr}x1` : `$k${mr}x${4 * nv}`) + (contiguous ? "c" : "");
  const rows = Array.from({ length: mr }, (_, i) => i);
  const vecs = Array.from({ length: Math.max(nv, 1) }, (_, j) => j);
  const ty = nv === 0 ? "f32" : "v128";
  const acc = (i: number, j: number) => `$c${i}_${j}`;
  const locals = [
    ...rows.flatMap((i) => vecs.map((j) => `(local ${acc(i, j)} ${ty})`)),
    ...vecs.map((j) => `(local $b${j} ${ty})`),
    `(local $av ${ty})`,
    ...(contiguous ? ["(local $a4 v128)"] : []),
    ...(contiguous && mr > 4 ? ["(local $a8 v128)"] : []),
    ...rows.slice(1).map((i) => `(local $pc${i} i32)`),
  ];
  const rowPtr = (i: number) => (i === 0 ? "(local.get $pc)" : `(local.get $pc${i})`);
  const load = (ptr: string, j: number) =>
    nv === 0 ? `(f32.load ${ptr})` : `(v128.load offset=${16 * j} align=4 ${ptr})`;
  const store = (ptr: string, j: number, v: string) =>
    nv === 0 ? `(f32.store ${ptr} ${v})` : `(v128.store offset=${16 * j} align=4 ${ptr} ${v})`;
  const lane = (i: number) => Array.from({ length: 16 }, (_, j) => 4 * i + (j % 4)).join(" ");
  const aElem = (i: number) => {
    // Rows 4 and 5 come from a second vector loaded at row 2 (its lanes 2 and 3).
    if (contiguous) {
      return i < 4
        ? `(i8x16.shuffle ${lane(i)} (local.get $a4) (local.get $a4))`
        : `(i8x16.shuffle ${lane(i - 2)} (local.get $a8) (local.get $a8))`;
    }
    const addr = i === 0
      ? "(local.get $pa)"
      : `(i32.add (local.get $pa) (i32.mul (local.get $sam) (i32.const ${i})))`;
    return nv === 0 ? `(f32.load ${addr})` : `(f32x4.splat (f32.load ${addr}))`;
  };
  const add = nv === 0 ? "f32.add" : "f32x4.add";
  const mul = nv === 0 ? "f32.mul" : "f32x4.mul";
  return `
  (func ${name} (param $pa i32) (param $pb i32) (param $pc i32) (param $kc i32)
      (param $sam i32) (param $sak i32) (param $ldb i32) (param $ldc i32)
    ${locals.join(" ")}
    ${
    rows.slice(1).map((i) => `(local.set $pc${i} (i32.add ${rowPtr(i - 1)} (local.get $ldc)))`)
      .join("\n    ")
  }
    ${
    rows.flatMap((i) => vecs.map((j) => `(local.set ${acc(i, j)} ${load(rowPtr(i), j)})`)).join(
      "\n    ",
    )
  }
    (block $done
      (br_if $done (i32.eqz (local.get $kc)))
      (loop $k
        ${vecs.map((j) => `(local.set $b${j} ${load("(local.get $pb)", j)})`).join("\n        ")}
        ${contiguous ? "(local.set $a4 (v128.load align=4 (local.get $pa)))" : ""}
        ${
    contiguous && mr > 4 ? "(local.set $a8 (v128.load offset=8 align=4 (local.get $pa)))" : ""
  }
        ${
    rows.map((i) =>
      `(local.set $av ${aElem(i)})\n        ` +
      vecs.map((j) =>
        `(local.set ${acc(i, j)} (${add} (local.get ${
          acc(i, j)
        }) (${mul} (local.get $av) (local.get $b${j}))))`
      ).join("\n        ")
    ).join("\n        ")
  }
        (local.set $pa (i32.add (local.get $pa) (local.get $sak)))
        (local.set $pb (i32.add (local.get $pb) (local.get $ldb)))
        (local.set $kc (i32.sub (local.get $kc) (i32.const 1)))
        (br_if $k (local.get $kc))))
    ${
    rows.flatMap((i) => vecs.map((j) => store(rowPtr(i), j, `(local.get ${acc(i, j)})`))).join(
      "\n    ",
    )
  })`;
}

/** A call of a tile kernel at row m, column n of the current k block. */
function call(name: string, m: string, n: string): string {
  return `(call ${name}
          (i32.add (local.get $pak) (i32.mul ${m} (local.get $sam)))
          (i32.add (local.get $pbp) (i32.shl ${n} (i32.const 2)))
          (i32.add (local.get $c) (i32.shl (i32.add (i32.mul ${m} (local.get $N)) ${n}) (i32.const 2)))
          (local.get $kc) (local.get $sam) (local.get $sak) (local.get $ldbp) (local.get $ldc))`;
}

/**
 * The columns [$n0, $n1) of one row block: tiles of 8, then one of 4, then single columns.
 * `suffix` picks the tile kernels that load A's four values as one vector.
 */
function columns(mr: number, suffix: string): string {
  const m = "(local.get $m)";
  const singles = mr > 1
    ? Array.from(
      { length: mr },
      (_, i) => call("$k1x1", `(i32.add ${m} (i32.const ${i}))`, "(local.get $n)"),
    )
      .join("\n          ")
    : call("$k1x1", m, "(local.get $n)");
  const sfx = mr > 1 ? suffix : "";
  return `(local.set $n (local.get $n0))
        (block $n8done (loop $n8
          (br_if $n8done (i32.gt_u (i32.add (local.get $n) (i32.const 8)) (local.get $n1)))
          ${call(`$k${mr}x8${sfx}`, m, "(local.get $n)")}
          (local.set $n (i32.add (local.get $n) (i32.const 8)))
          (br $n8)))
        (if (i32.le_u (i32.add (local.get $n) (i32.const 4)) (local.get $n1)) (then
          ${call(`$k${mr}x4${sfx}`, m, "(local.get $n)")}
          (local.set $n (i32.add (local.get $n) (i32.const 4)))))
        (block $n1done (loop $n1
          (br_if $n1done (i32.ge_u (local.get $n) (local.get $n1)))
          ${singles}
          (local.set $n (i32.add (local.get $n) (i32.const 1)))
          (br $n1)))`;
}

/** All row blocks of the current k block and column panel. */
function rowBlocks(suffix: string): string {
  return `(local.set $m (i32.const 0))
        (block $m4done (loop $m4
          (br_if $m4done (i32.gt_u (i32.add (local.get $m) (i32.const ${GEMM_MR})) (local.get $M)))
          ${columns(GEMM_MR, suffix)}
          (local.set $m (i32.add (local.get $m) (i32.const ${GEMM_MR})))
          (br $m4)))
        (block $m1done (loop $m1
          (br_if $m1done (i32.ge_u (local.get $m) (local.get $M)))
          ${columns(1, suffix)}
          (local.set $m (i32.add (local.get $m) (i32.const 1)))
          (br $m1)))`;
}

/**
 * `macc(d, a, b, n)`: d[i] += a[i] · b[i] for i < n (float32, separate multiply and add, four
 * lanes at a time, then the tail one by one): the inner loop over channels of the depthwise
 * convolution gradients (lib/wasm_conv_grad.ts), where the channel multiplier is 1 and each
 * channel's values are adjacent in NHWC.
 */
export function maccWat(): string {
  const step = (v: boolean) => {
    const t = v ? "f32x4" : "f32", ld = v ? "v128.load align=4" : "f32.load";
    const st = v ? "v128.store align=4" : "f32.store", w = v ? 16 : 4;
    return `(${st} (local.get $d) (${t}.add (${ld} (local.get $d))
          (${t}.mul (${ld} (local.get $a)) (${ld} (local.get $b)))))
        (local.set $d (i32.add (local.get $d) (i32.const ${w})))
        (local.set $a (i32.add (local.get $a) (i32.const ${w})))
        (local.set $b (i32.add (local.get $b) (i32.const ${w})))
        (local.set $n (i32.sub (local.get $n) (i32.const ${v ? 4 : 1})))`;
  };
  return `(func (export "macc") (param $d i32) (param $a i32) (param $b i32) (param $n i32)
    (block $vdone (loop $vec
      (br_if $vdone (i32.lt_s (local.get $n) (i32.const 4)))
        ${step(true)}
        (br $vec)))
    (block $sdone (loop $scalar
      (br_if $sdone (i32.le_s (local.get $n) (i32.const 0)))
        ${step(false)}
        (br $scalar))))`;
}

/**
 * `softmaxGrad(y, dy, dx, rows, n)`: the gradient of a softmax over the last axis, per row of n
 * values, `dx = y·dy − y·Σ(y·dy)` (tfjs' composite gradient, in one pass over each row's inputs
 * and one over its outputs instead of four kernels). The row sum adds four lanes at a time, then
 * the lanes, then the tail, so it rounds differently from tfjs' `Sum` (within float tolerance).
 * dx may alias dy.
 */
export function softmaxGradWat(): string {
  return `(func (export "softmaxGrad") (param $y i32) (param $dy i32) (param $dx i32)
      (param $rows i32) (param $n i32)
    (local $i i32) (local $acc v128) (local $s f32) (local $sv v128) (local $bytes i32)
    (local.set $bytes (i32.shl (local.get $n) (i32.const 2)))
    (block $rdone (loop $row
      (br_if $rdone (i32.eqz (local.get $rows)))
      ;; s = Σ y·dy over the row
      (local.set $acc (v128.const f32x4 0 0 0 0))
      (local.set $i (i32.const 0))
      (block $vdone (loop $vec
        (br_if $vdone (i32.gt_u (i32.add (local.get $i) (i32.const 16)) (local.get $bytes)))
        (local.set $acc (f32x4.add (local.get $acc)
          (f32x4.mul (v128.load align=4 (i32.add (local.get $y) (local.get $i)))
            (v128.load align=4 (i32.add (local.get $dy) (local.get $i))))))
        (local.set $i (i32.add (local.get $i) (i32.const 16)))
        (br $vec)))
      (local.set $s (f32.add
        (f32.add (f32x4.extract_lane 0 (local.get $acc)) (f32x4.extract_lane 1 (local.get $acc)))
        (f32.add (f32x4.extract_lane 2 (local.get $acc)) (f32x4.extract_lane 3 (local.get $acc)))))
      (block $sdone (loop $scalar
        (br_if $sdone (i32.ge_u (local.get $i) (local.get $bytes)))
        (local.set $s (f32.add (local.get $s)
          (f32.mul (f32.load (i32.add (local.get $y) (local.get $i)))
            (f32.load (i32.add (local.get $dy) (local.get $i))))))
        (local.set $i (i32.add (local.get $i) (i32.const 4)))
        (br $scalar)))
      ;; dx = y·dy − s·y
      (local.set $sv (f32x4.splat (local.get $s)))
      (local.set $i (i32.const 0))
      (block $v2done (loop $vec2
        (br_if $v2done (i32.gt_u (i32.add (local.get $i) (i32.const 16)) (local.get $bytes)))
        (v128.store align=4 (i32.add (local.get $dx) (local.get $i))
          (f32x4.sub
            (f32x4.mul (v128.load align=4 (i32.add (local.get $dy) (local.get $i)))
              (v128.load align=4 (i32.add (local.get $y) (local.get $i))))
            (f32x4.mul (local.get $sv) (v128.load align=4 (i32.add (local.get $y) (local.get $i))))))
        (local.set $i (i32.add (local.get $i) (i32.const 16)))
        (br $vec2)))
      (block $s2done (loop $scalar2
        (br_if $s2done (i32.ge_u (local.get $i) (local.get $bytes)))
        (f32.store (i32.add (local.get $dx) (local.get $i))
          (f32.sub
            (f32.mul (f32.load (i32.add (local.get $dy) (local.get $i)))
              (f32.load (i32.add (local.get $y) (local.get $i))))
            (f32.mul (local.get $s) (f32.load (i32.add (local.get $y) (local.get $i))))))
        (local.set $i (i32.add (local.get $i) (i32.const 4)))
        (br $scalar2)))
      (local.set $y (i32.add (local.get $y) (local.get $bytes)))
      (local.set $dy (i32.add (local.get $dy) (local.get $bytes)))
      (local.set $dx (i32.add (local.get $dx) (local.get $bytes)))
      (local.set $rows (i32.sub (local.get $rows) (i32.const 1)))
      (br $row))))`;
}

/**
 * The `adam` function. Per value, exactly the float32 operations of tfjs 4.22's
 * `AdamOptimizer.applyGradients` (`m' = m·β₁ + g·c₁`, `v' = v·β₂ + (g·g)·c₂`,
 * `p' = ((m'/d₁) / (√(v'/d₂) + ε))·(−lr) + p`, with c = 1 − β and d = 1 − β^t rounded to float32 by
 * the caller), so the update is bit-identical to tfjs'. Four values per SIMD step, then one at a
 * time; lane-wise `f32x4` multiply, add, divide and square root round exactly as the scalar ones.
 * Outputs may alias inputs element by element (each value is read before it is written).
 */
export function adamWat(): string {
  const body = (v: boolean) => {
    const t = v ? "f32x4" : "f32";
    const ld = (ptr: string) =>
      v ? `(v128.load align=4 (local.get ${ptr}))` : `(f32.load (local.get ${ptr}))`;
    const st = (ptr: string, x: string) =>
      v ? `(v128.store align=4 (local.get ${ptr}) ${x})` : `(f32.store (local.get ${ptr}) ${x})`;
    const k = (name: string) => v ? `(f32x4.splat (local.get ${name}))` : `(local.get ${name})`;
    const g = v ? "$gv" : "$gs";
    const m = v ? "$mv" : "$ms";
    const w = v ? "$vv" : "$vs";
    return `(local.set ${g} ${ld("$g")})
        (local.set ${m} (${t}.add (${t}.mul ${ld("$m")} ${k("$b1")}) (${t}.mul (local.get ${g}) ${
      k("$c1")
    })))
        (local.set ${w} (${t}.add (${t}.mul ${ld("$v")} ${k("$b2")})
          (${t}.mul (${t}.mul (local.get ${g}) (local.get ${g})) ${k("$c2")})))
        ${st("$mo", `(local.get ${m})`)}
        ${st("$vo", `(local.get ${w})`)}
        ${
      st(
        "$po",
        `(${t}.add (${t}.mul (${t}.div (${t}.div (local.get ${m}) ${k("$d1")})
          (${t}.add (${t}.sqrt (${t}.div (local.get ${w}) ${k("$d2")})) ${k("$eps")})) ${k("$nlr")})
          ${ld("$p")})`,
      )
    }`;
  };
  const advance = (bytes: number) =>
    ["$p", "$g", "$m", "$v", "$po", "$mo", "$vo"].map((r) =>
      `(local.set ${r} (i32.add (local.get ${r}) (i32.const ${bytes})))`
    ).join("\n        ");
  return `(func (export "adam") (param $p i32) (param $g i32) (param $m i32) (param $v i32)
      (param $po i32) (param $mo i32) (param $vo i32) (param $n i32) (param $b1 f32) (param $c1 f32) (param $b2 f32) (param $c2 f32)
      (param $d1 f32) (param $d2 f32) (param $eps f32) (param $nlr f32)
    (local $gv v128) (local $mv v128) (local $vv v128) (local $gs f32) (local $ms f32) (local $vs f32)
    (block $vdone (loop $vec
      (br_if $vdone (i32.lt_u (local.get $n) (i32.const 4)))
        ${body(true)}
        ${advance(16)}
        (local.set $n (i32.sub (local.get $n) (i32.const 4)))
        (br $vec)))
    (block $sdone (loop $scalar
      (br_if $sdone (i32.eqz (local.get $n)))
        ${body(false)}
        ${advance(4)}
        (local.set $n (i32.sub (local.get $n) (i32.const 1)))
        (br $scalar))))`;
}

/** The whole module's text (see the module doc). */
export function gemmWat(): string {
  return `(module
  (import "env" "memory" (memory 0))
  ${tile(GEMM_MR, 2)}
  ${tile(GEMM_MR, 1)}
  ${tile(GEMM_MR, 2, true)}
  ${tile(GEMM_MR, 1, true)}
  ${tile(1, 2)}
  ${tile(1, 1)}
  ${tile(1, 0)}
  (func (export "gemm") (param $a i32) (param $b i32) (param $c i32)
      (param $M i32) (param $K i32) (param $N i32) (param $sam i32) (param $sak i32)
      (param $batch i32) (param $sA i32) (param $sB i32) (param $sC i32) (param $scratch i32)
    (local $ldb i32) (local $ldc i32) (local $k0 i32) (local $kc i32) (local $pak i32)
    (local $pbk i32) (local $m i32) (local $n i32) (local $n0 i32) (local $n1 i32)
    (local $pbp i32) (local $ldbp i32) (local $r i32)
    (local.set $ldb (i32.shl (local.get $N) (i32.const 2)))
    (local.set $ldc (local.get $ldb))
    (block $bdone (loop $items
      (br_if $bdone (i32.eqz (local.get $batch)))
      (memory.fill (local.get $c) (i32.const 0) (i32.mul (i32.mul (local.get $M) (local.get $N)) (i32.const 4)))
      (local.set $k0 (i32.const 0))
      (block $kdone (loop $kblocks
        (br_if $kdone (i32.ge_u (local.get $k0) (local.get $K)))
        (local.set $kc (i32.sub (local.get $K) (local.get $k0)))
        (if (i32.gt_u (local.get $kc) (i32.const ${GEMM_KC})) (then (local.set $kc (i32.const ${GEMM_KC}))))
        (local.set $pak (i32.add (local.get $a) (i32.mul (local.get $k0) (local.get $sak))))
        (local.set $pbk (i32.add (local.get $b) (i32.mul (local.get $k0) (local.get $ldb))))
        (local.set $n0 (i32.const 0))
        (block $pdone (loop $panels
          (br_if $pdone (i32.ge_u (local.get $n0) (local.get $N)))
          (local.set $n1 (i32.add (local.get $n0) (i32.const ${GEMM_NC})))
          (if (i32.gt_u (local.get $n1) (local.get $N)) (then (local.set $n1 (local.get $N))))
          (local.set $pbp (local.get $pbk))
          (local.set $ldbp (local.get $ldb))
          (if (i32.gt_u (local.get $N) (i32.const ${GEMM_NC})) (then
            ;; copy the panel's rows into the scratch buffer, contiguous; column n of the panel
            ;; is then at $pbp + 4n (with $pbp = scratch - 4·n0, wrapping, as n ≥ n0)
            (local.set $ldbp (i32.shl (i32.sub (local.get $n1) (local.get $n0)) (i32.const 2)))
            (local.set $r (i32.const 0))
            (block $cdone (loop $copy
              (br_if $cdone (i32.ge_u (local.get $r) (local.get $kc)))
              (memory.copy
                (i32.add (local.get $scratch) (i32.mul (local.get $r) (local.get $ldbp)))
                (i32.add (i32.add (local.get $pbk) (i32.mul (local.get $r) (local.get $ldb)))
                  (i32.shl (local.get $n0) (i32.const 2)))
                (local.get $ldbp))
              (local.set $r (i32.add (local.get $r) (i32.const 1)))
              (br $copy)))
            (local.set $pbp (i32.sub (local.get $scratch) (i32.shl (local.get $n0) (i32.const 2))))))
          (if (i32.eq (local.get $sam) (i32.const 4))
            (then ${rowBlocks("c")})
            (else ${rowBlocks("")}))
          (local.set $n0 (local.get $n1))
          (br $panels)))
        (local.set $k0 (i32.add (local.get $k0) (local.get $kc)))
        (br $kblocks)))
      (local.set $a (i32.add (local.get $a) (local.get $sA)))
      (local.set $b (i32.add (local.get $b) (local.get $sB)))
      (local.set $c (i32.add (local.get $c) (local.get $sC)))
      (local.set $batch (i32.sub (local.get $batch) (i32.const 1)))
      (br $items))))
  (func (export "sumRows") (param $b i32) (param $c i32) (param $K i32) (param $N i32)
    (local $n i32) (local $pb i32) (local $pc i32)
    (memory.fill (local.get $c) (i32.const 0) (i32.shl (local.get $N) (i32.const 2)))
    (block $kdone (loop $rows
      (br_if $kdone (i32.eqz (local.get $K)))
      (local.set $n (i32.const 0))
      (local.set $pb (local.get $b))
      (local.set $pc (local.get $c))
      (block $vdone (loop $vec
        (br_if $vdone (i32.gt_u (i32.add (local.get $n) (i32.const 4)) (local.get $N)))
        (v128.store align=4 (local.get $pc)
          (f32x4.add (v128.load align=4 (local.get $pc)) (v128.load align=4 (local.get $pb))))
        (local.set $pb (i32.add (local.get $pb) (i32.const 16)))
        (local.set $pc (i32.add (local.get $pc) (i32.const 16)))
        (local.set $n (i32.add (local.get $n) (i32.const 4)))
        (br $vec)))
      (block $sdone (loop $scalar
        (br_if $sdone (i32.ge_u (local.get $n) (local.get $N)))
        (f32.store (local.get $pc) (f32.add (f32.load (local.get $pc)) (f32.load (local.get $pb))))
        (local.set $pb (i32.add (local.get $pb) (i32.const 4)))
        (local.set $pc (i32.add (local.get $pc) (i32.const 4)))
        (local.set $n (i32.add (local.get $n) (i32.const 1)))
        (br $scalar)))
      (local.set $b (i32.add (local.get $b) (i32.shl (local.get $N) (i32.const 2))))
      (local.set $K (i32.sub (local.get $K) (i32.const 1)))
      (br $rows))))
  ${adamWat()}
  ${maccWat()}
  ${softmaxGradWat()}
)
`;
}
