/**
 * Executes every notebook in notebooks/ headlessly in the `smoke` profile through
 * scripts/run_notebooks.py and checks their outputs, type-checks their code, and tests the runner
 * itself (no output lost after the kernel's idle message, failing cells reported, profile passed).
 *
 * Skips, saying why, where Jupyter (Debian's python3-nbclient) or the Deno kernelspec is missing;
 * scripts/setup.sh installs both.
 */
import { join } from "node:path";
import { assert } from "../testing.ts";
import { REPO_ROOT } from "./profile.ts";
import { listNotebooks, typecheckNotebook } from "./typecheck.ts";

const PYTHON = "/usr/bin/python3";
const RUNNER = join(REPO_ROOT, "scripts", "run_notebooks.py");
const NOTEBOOKS = join(REPO_ROOT, "notebooks");

/** Why the notebook tests cannot run here, or null when they can. */
async function missingJupyter(): Promise<string | null> {
  try {
    const r = await new Deno.Command(PYTHON, {
      args: [
        "-c",
        "import nbclient; from jupyter_client.kernelspec import KernelSpecManager as K; " +
        "K().get_kernel_spec('deno')",
      ],
      stdout: "null",
      stderr: "piped",
    }).output();
    if (r.success) return null;
    const err = new TextDecoder().decode(r.stderr).trim().split("\n").at(-1);
    return `Jupyter or the Deno kernel is missing (${err}); run scripts/setup.sh`;
  } catch (e) {
    return `${PYTHON} not runnable (${(e as Error).message}); run scripts/setup.sh`;
  }
}

const missing = await missingJupyter();
if (missing) console.warn(`notebooks_test: SKIPPED: ${missing}`);

interface Output {
  output_type: string;
  name?: string;
  text?: string | string[];
  data?: Record<string, unknown>;
  ename?: string;
}
interface Cell {
  cell_type: string;
  source: string | string[];
  execution_count?: number | null;
  metadata?: Record<string, unknown>;
  outputs?: Output[];
}
interface Notebook {
  cells: Cell[];
  metadata: {
    grefel?: { expects?: { tables?: number; figures?: string[] }; profile?: string; ok?: boolean };
  };
}

const join_ = (t: string | string[] | undefined) => (Array.isArray(t) ? t.join("") : t ?? "");

/** Runs the runner; returns its exit code and combined output. */
async function runNotebooks(args: string[], env: Record<string, string> = {}) {
  const r = await new Deno.Command(PYTHON, {
    args: [RUNNER, ...args],
    cwd: REPO_ROOT,
    env,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(r.stdout) + new TextDecoder().decode(r.stderr);
  return { code: r.code, text };
}

function codeCell(source: string): Cell {
  return { cell_type: "code", source, metadata: {}, execution_count: null, outputs: [] };
}

Deno.test({
  name: "run_notebooks: keeps every output after idle, passes the profile, reports a failing cell",
  ignore: missing !== null,
  fn: async () => {
    const dir = await Deno.makeTempDir({ prefix: "grefel-nbrun-" });
    try {
      const cells = [0, 1, 2].map((c) =>
        codeCell(
          `for (let i = 0; i < 40; i++) console.log("c${c} line " + i);\n` +
            `await Deno.jupyter.display({ "text/plain": "disp${c}" }, { raw: true });\n` +
            `console.error("c${c} err " + Deno.env.get("GREFEL_PROFILE"));\n"result${c}"`,
        )
      );
      cells.push(codeCell('const x: number = 1;\nthrow new Error("boom-" + x);'));
      cells.push(codeCell('console.log("never");'));
      const nb = {
        cells,
        metadata: { kernelspec: { name: "deno", display_name: "Deno", language: "typescript" } },
        nbformat: 4,
        nbformat_minor: 5,
      };
      const src = join(dir, "src");
      await Deno.mkdir(src);
      await Deno.writeTextFile(join(src, "t.ipynb"), JSON.stringify(nb));
      const out = join(dir, "out");
      const r = await runNotebooks(["--profile", "quick", "--output-dir", out, src]);
      assert.equal(r.code, 1, r.text);
      assert.match(r.text, /FAILED .*t\.ipynb: cell 3 failed: Error: boom-1/, r.text);
      assert.match(r.text, /0 passed, 1 failed/);
      const done: Notebook = JSON.parse(await Deno.readTextFile(join(out, "t.ipynb")));
      for (const c of [0, 1, 2]) {
        const outs = done.cells[c].outputs ?? [];
        const stdout = outs.filter((o) => o.name === "stdout").map((o) => join_(o.text)).join("");
        const lines = stdout.split("\n").filter((l) => l.startsWith(`c${c} line`));
        assert.equal(lines.length, 40, `cell ${c}: ${lines.length} of 40 lines`);
        const stderr = outs.filter((o) => o.name === "stderr").map((o) => join_(o.text)).join("");
        assert.equal(stderr.trim(), `c${c} err quick`);
        assert.deepEqual(
          outs.filter((o) => o.data).map((o) => join_(o.data!["text/plain"] as string[])),
          [`disp${c}`, `"result${c}"`],
        );
      }
      assert.equal(done.cells[3].outputs?.[0].ename, "Error");
      assert.equal(done.cells[4].execution_count, null, "cells after a failure do not run");
      assert.equal(done.metadata.grefel?.profile, "quick");
      assert.equal(done.metadata.grefel?.ok, false);
      // A bad profile is refused before any kernel starts.
      const bad = await runNotebooks(["--profile", "huge", src]);
      assert.equal(bad.code, 2);
      assert.match(bad.text, /--profile must be one of smoke, short, quick, full/);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

/**
 * Asserts that every figure output carries the interactive `text/html` rendering beside plotly's
 * JSON and the PNG, with the PNG inside it, and that exactly the first one inlines plotly.js.
 */
function assertFigureRenderings(name: string, plots: Output[]): void {
  plots.forEach((o, i) => {
    const html = join_(o.data!["text/html"] as string | string[]);
    assert.match(html, /class="grefel-plotly"/, `${name}: figure ${i} has no text/html rendering`);
    assert.ok(o.data!["image/png"], `${name}: figure ${i} has no PNG`);
    assert.ok(html.includes("data:image/png;base64,"), `${name}: figure ${i}: no PNG in its HTML`);
    assert.equal(
      html.includes("DecompressionStream"),
      i === 0,
      `${name}: figure ${i} ${i === 0 ? "does not carry" : "carries"} plotly.js`,
    );
  });
}

Deno.test("committed notebooks: each figure as plotly JSON, interactive HTML and PNG", async () => {
  for (const path of await listNotebooks([NOTEBOOKS])) {
    const text = await Deno.readTextFile(path);
    const nb: Notebook = JSON.parse(text);
    const name = path.split("/").at(-1)!;
    const outputs = nb.cells.flatMap((c) => c.outputs ?? []);
    const plots = outputs.filter((o) => o.data?.["application/vnd.plotly.v1+json"]);
    assert.ok(plots.length >= (nb.metadata.grefel?.expects?.figures ?? []).length, name);
    assertFigureRenderings(name, plots);
    const outputText = JSON.stringify(outputs);
    assert.doesNotMatch(
      outputText,
      /\/(work|root|home|tmp)\//,
      `${name}: a machine path in outputs`,
    );
  }
});

Deno.test("notebooks type-check (deno check of their code cells)", async () => {
  const notebooks = await listNotebooks([NOTEBOOKS]);
  assert.ok(notebooks.length > 0, "no notebooks found");
  for (const nb of notebooks) {
    const r = await typecheckNotebook(nb);
    assert.ok(r.ok, `${nb} has type errors:\n${r.output}`);
  }
});

Deno.test({
  name: "every notebook runs in the smoke profile with its tables and figure files",
  ignore: missing !== null,
  fn: async () => {
    const dir = await Deno.makeTempDir({ prefix: "grefel-notebooks-" });
    try {
      const results = join(dir, "results"), out = join(dir, "executed");
      const t0 = performance.now();
      const r = await runNotebooks(["--profile", "smoke", "--output-dir", out, NOTEBOOKS], {
        GREFEL_RESULTS: results,
      });
      console.log(`notebooks ran in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
      assert.equal(r.code, 0, `a notebook failed:\n${r.text}`);
      for (const path of await listNotebooks([NOTEBOOKS])) {
        const name = path.split("/").at(-1)!;
        const nb: Notebook = JSON.parse(await Deno.readTextFile(join(out, name)));
        const expects = nb.metadata.grefel?.expects;
        assert.ok(expects, `${name}: metadata.grefel.expects {tables, figures} is missing`);
        assert.equal(nb.metadata.grefel?.profile, "smoke");
        const outputs = nb.cells.flatMap((c) => c.outputs ?? []);
        nb.cells.forEach((c, i) => {
          if (c.cell_type !== "code" || !join_(c.source).trim()) return;
          assert.notEqual(c.execution_count ?? null, null, `${name} cell ${i} did not run`);
        });
        assert.ok(!outputs.some((o) => o.output_type === "error"), `${name}: an error output`);
        const tables = outputs.filter((o) =>
          join_(o.data?.["text/html"] as string[]).includes("<table")
        );
        assert.ok(
          tables.length >= (expects.tables ?? 0),
          `${name}: ${tables.length} tables shown, ${expects.tables} expected`,
        );
        const plots = outputs.filter((o) => o.data?.["application/vnd.plotly.v1+json"]);
        assert.ok(
          plots.length >= (expects.figures ?? []).length,
          `${name}: ${plots.length} plotly figures shown, ${expects.figures?.length} expected`,
        );
        assertFigureRenderings(name, plots);
        for (const fig of expects.figures ?? []) {
          for (const ext of ["html", "svg", "png"]) {
            const file = join(results, "figures", "smoke", `${fig}.${ext}`);
            const size = await Deno.stat(file).then((s) => s.size, () => 0);
            assert.ok(size > 0, `${name}: figure file ${file} missing or empty`);
          }
        }
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
