import { join } from "node:path";
import { assert } from "../testing.ts";
import {
  listNotebooks,
  locate,
  NO_TYPECHECK_TAG,
  notebookModule,
  typecheckNotebook,
} from "./typecheck.ts";
import { REPO_ROOT } from "./profile.ts";

const nb = (cells: { cell_type: string; source: string | string[]; tags?: string[] }[]) => ({
  cells: cells.map(({ tags, ...c }) => ({ ...c, metadata: tags ? { tags } : {} })),
});

Deno.test("notebookModule: code cells in order, markdown and no-typecheck cells left out", () => {
  const mod = notebookModule(nb([
    { cell_type: "markdown", source: "# title" },
    { cell_type: "code", source: ["const a = 1;\n", "const b = a + 1;"] },
    { cell_type: "code", source: "%magic", tags: [NO_TYPECHECK_TAG] },
    { cell_type: "code", source: "b" },
  ]));
  assert.deepEqual(mod.cells.map((c) => c.index), [1, 3]);
  const lines = mod.source.split("\n");
  assert.equal(lines[mod.cells[0].firstLine - 1], "const a = 1;");
  assert.equal(lines[mod.cells[1].firstLine - 1], "b");
  assert.ok(!mod.source.includes("%magic"));
  assert.ok(mod.source.trimEnd().endsWith("export {};"));
  assert.deepEqual(locate(mod, mod.cells[0].firstLine + 1), { cell: 1, line: 2 });
  assert.deepEqual(locate(mod, mod.cells[1].firstLine), { cell: 3, line: 1 });
  assert.throws(() => notebookModule({}), /not a notebook/);
});

Deno.test("typecheckNotebook: a type error is reported at its notebook cell and line", async () => {
  const dir = await Deno.makeTempDir({ prefix: "grefel-tc-" });
  try {
    const path = join(dir, "bad.ipynb");
    await Deno.writeTextFile(
      path,
      JSON.stringify(nb([
        { cell_type: "code", source: "const ok: number = 1;" },
        { cell_type: "markdown", source: "text" },
        { cell_type: "code", source: "console.log(ok);\nconst n: number = 'x';" },
      ])),
    );
    const r = await typecheckNotebook(path);
    assert.equal(r.ok, false);
    assert.match(r.output, /TS2322/);
    assert.match(r.output, /bad\.ipynb cell 2 line 2:7/);
    // the temporary module is gone
    assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name), ["bad.ipynb"]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("committed notebooks import the library only through mod.ts files", async () => {
  const notebooks = await listNotebooks([join(REPO_ROOT, "notebooks")]);
  assert.ok(notebooks.length > 0, "no notebooks found");
  let imports = 0;
  for (const nb of notebooks) {
    const { source } = notebookModule(JSON.parse(await Deno.readTextFile(nb)));
    for (const m of source.matchAll(/from\s+"(\.\.\/lib\/[^"]+)"/g)) {
      imports++;
      assert.match(m[1], /(^|\/)mod\.ts$/, `${nb} imports ${m[1]}`);
    }
  }
  assert.ok(imports >= notebooks.length, `only ${imports} library imports found`);
});
