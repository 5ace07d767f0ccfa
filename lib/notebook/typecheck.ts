/**
 * Type-checks notebooks: the Deno kernel runs cells without type-checking them, so this extracts a
 * notebook's code cells, in order, into one TypeScript module beside the notebook (so relative
 * imports like `../lib/notebook/mod.ts` and the project's deno.json apply unchanged), runs
 * `deno check` on it, and maps each diagnostic back to "<notebook> cell N line L".
 *
 * Conventions this imposes on notebooks (all also good for top-to-bottom reruns): a name is
 * declared in one cell only; cells are plain TypeScript (the Deno kernel has no magics). A cell
 * tagged `no-typecheck` is left out.
 *
 * CLI: `deno run -A lib/notebook/typecheck.ts [notebooks or folders…]` (default `notebooks/`);
 * exit 1 when any notebook has type errors.
 *
 * @module
 */
import { basename, dirname, join, resolve } from "node:path";
import { REPO_ROOT } from "./profile.ts";

/** A notebook's code as one module, and where each cell starts in it. */
export interface NotebookModule {
  /** The module source. */
  source: string;
  /** For each code cell taken: its index among all cells and its first line (1-based). */
  cells: { index: number; firstLine: number }[];
}

/** The parts of an .ipynb file this needs. */
interface Ipynb {
  cells: { cell_type: string; source: string | string[]; metadata?: { tags?: string[] } }[];
}

/** The tag that leaves a cell out of the type check. */
export const NO_TYPECHECK_TAG = "no-typecheck";

/**
 * Joins the code cells of a notebook (parsed .ipynb JSON) into one module. Each cell is preceded
 * by a `// cell N` marker line; `export {};` at the end makes it a module (top-level await).
 * @throws Error when the JSON is not a notebook.
 */
export function notebookModule(nb: unknown): NotebookModule {
  const cells = (nb as Ipynb)?.cells;
  if (!Array.isArray(cells)) throw new Error("not a notebook: no `cells` array");
  const lines: string[] = [];
  const taken: NotebookModule["cells"] = [];
  cells.forEach((cell, index) => {
    if (cell.cell_type !== "code") return;
    if (cell.metadata?.tags?.includes(NO_TYPECHECK_TAG)) return;
    const src = Array.isArray(cell.source) ? cell.source.join("") : String(cell.source ?? "");
    lines.push(`// cell ${index}`);
    taken.push({ index, firstLine: lines.length + 1 });
    lines.push(...src.split("\n"), "");
  });
  lines.push("export {};", "");
  return { source: lines.join("\n"), cells: taken };
}

/** Maps a line of the module to "cell N line L". */
export function locate(mod: NotebookModule, line: number): { cell: number; line: number } | null {
  let found: NotebookModule["cells"][number] | null = null;
  for (const c of mod.cells) if (c.firstLine <= line) found = c;
  return found ? { cell: found.index, line: line - found.firstLine + 1 } : null;
}

/** The outcome of checking one notebook. */
export interface TypecheckResult {
  /** The notebook. */
  notebook: string;
  /** True when `deno check` passed. */
  ok: boolean;
  /** deno check's output, with module positions rewritten to notebook cells. */
  output: string;
}

/** Runs `deno check` on one notebook's code (see the module doc). */
export async function typecheckNotebook(path: string): Promise<TypecheckResult> {
  const nbPath = resolve(path);
  const mod = notebookModule(JSON.parse(await Deno.readTextFile(nbPath)));
  const name = basename(nbPath).replace(/\.ipynb$/, "");
  const tmp = join(dirname(nbPath), `.typecheck-${name}-${Deno.pid}.ts`);
  await Deno.writeTextFile(tmp, mod.source);
  try {
    const res = await new Deno.Command(Deno.execPath(), {
      args: ["check", "--quiet", tmp],
      cwd: REPO_ROOT,
      env: { NO_COLOR: "1" },
      stdout: "piped",
      stderr: "piped",
    }).output();
    const raw = new TextDecoder().decode(res.stdout) + new TextDecoder().decode(res.stderr);
    const escaped = tmp.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
    const output = raw.replace(
      new RegExp(`(?:file://)?${escaped}:(\\d+):(\\d+)`, "g"),
      (_, l, c) => {
        const at = locate(mod, Number(l));
        return at ? `${path} cell ${at.cell} line ${at.line}:${c}` : `${path}:${l}:${c}`;
      },
    );
    return { notebook: path, ok: res.success, output: output.trim() };
  } finally {
    await Deno.remove(tmp).catch(() => {});
  }
}

/** The .ipynb files of the given paths (folders expanded, sorted). */
export async function listNotebooks(paths: readonly string[]): Promise<string[]> {
  const out: string[] = [];
  for (const p of paths) {
    const st = await Deno.stat(p);
    if (st.isDirectory) {
      const found: string[] = [];
      for await (const e of Deno.readDir(p)) {
        if (e.isFile && e.name.endsWith(".ipynb")) found.push(join(p, e.name));
      }
      out.push(...found.sort());
    } else out.push(p);
  }
  return out;
}

if (import.meta.main) {
  const paths = Deno.args.length ? Deno.args : [join(REPO_ROOT, "notebooks")];
  let failed = 0;
  for (const nb of await listNotebooks(paths)) {
    const r = await typecheckNotebook(nb);
    console.log(`${r.ok ? "ok" : "FAILED"} ${nb}${r.ok ? "" : "\n" + r.output}`);
    if (!r.ok) failed++;
  }
  Deno.exit(failed ? 1 : 0);
}
