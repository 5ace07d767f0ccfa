import { assert, assertClose } from "../../lib/testing.ts";
import { clusterScores } from "../../lib/eval/cluster.ts";
import { clusterScoresFromFiles, parseEmbeddingsCsv, parseLabelsCsv } from "./cluster_scores.ts";
import { cli } from "./test_cli.ts";

const golden = JSON.parse(
  await Deno.readTextFile(new URL("../../lib/eval/testdata/golden.json", import.meta.url)),
) as {
  cluster: {
    name: string;
    x: number[][];
    labels: number[];
    daviesBouldin: number;
    calinskiHarabasz: number;
  }[];
};

async function writeTemp(e: string, l: string): Promise<{ dir: string; e: string; l: string }> {
  const dir = await Deno.makeTempDir({ prefix: "grefel-cluster-" });
  await Deno.writeTextFile(`${dir}/E.csv`, e);
  await Deno.writeTextFile(`${dir}/L.csv`, l);
  return { dir, e: `${dir}/E.csv`, l: `${dir}/L.csv` };
}

Deno.test("cluster-scores end to end: deno task grefel … --json matches scikit-learn", async () => {
  const g = golden.cluster.find((c) => c.name === "blobs16")!;
  const f = await writeTemp(
    g.x.map((r) => r.join(",")).join("\n") + "\n",
    g.labels.join("\n") + "\n",
  );
  try {
    const deno = Deno.execPath();
    const out = await new Deno.Command(deno, {
      args: [
        "run",
        "-A",
        "cli/grefel.ts",
        "cluster-scores",
        "--embeddings",
        f.e,
        "--labels",
        f.l,
        "--json",
      ],
      cwd: new URL("../../", import.meta.url),
      stdout: "piped",
      stderr: "piped",
    }).output();
    const stderr = new TextDecoder().decode(out.stderr);
    assert.equal(out.code, 0, stderr);
    const j = JSON.parse(new TextDecoder().decode(out.stdout));
    assert.deepEqual(Object.keys(j), ["daviesBouldin", "calinskiHarabasz"]);
    await assertClose(j.daviesBouldin, g.daviesBouldin, 0, 1e-6);
    await assertClose(j.calinskiHarabasz, g.calinskiHarabasz, 0, 1e-6);

    // a bad file: the process exits 1 and names the problem
    await Deno.writeTextFile(f.l, "0\n1\n");
    const bad = await new Deno.Command(deno, {
      args: ["run", "-A", "cli/grefel.ts", "cluster-scores", "--embeddings", f.e, "--labels", f.l],
      cwd: new URL("../../", import.meta.url),
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.equal(bad.code, 1);
    assert.match(new TextDecoder().decode(bad.stderr), /row count mismatch: .*300 rows, .*has 2/);
  } finally {
    await Deno.remove(f.dir, { recursive: true });
  }
});

Deno.test("cluster-scores: in-process run over files with spaces and CRLF", async () => {
  const f = await writeTemp("0, 0\r\n0,1\r\n5,5\r\n5, 6\r\n", "1\r\n1\r\n2\r\n2\r\n");
  try {
    const s = await clusterScoresFromFiles(f.e, f.l);
    const ref = clusterScores([[0, 0], [0, 1], [5, 5], [5, 6]], [1, 1, 2, 2]);
    assert.equal(s.daviesBouldin, ref.daviesBouldin);
    assert.equal(s.calinskiHarabasz, ref.calinskiHarabasz);
    assert.equal(s.n, 4);
    assert.equal(s.dim, 2);
  } finally {
    await Deno.remove(f.dir, { recursive: true });
  }
});

Deno.test("cluster-scores: every bad input names the problem", async () => {
  assert.throws(
    () => parseEmbeddingsCsv("1,2\n3,4\n5\n", "E.csv"),
    /E\.csv line 3: ragged row: 1 values, expected 2/,
  );
  assert.throws(
    () => parseEmbeddingsCsv("1,2\n3,x\n", "E.csv"),
    /E\.csv line 2, column 2: not a number: "x"/,
  );
  assert.throws(() => parseEmbeddingsCsv("1,2\nNaN,4\n", "E.csv"), /E\.csv line 2, column 1: NaN/);
  assert.throws(() => parseEmbeddingsCsv("1,Infinity\n", "E.csv"), /line 1, column 2: not finite/);
  assert.throws(() => parseEmbeddingsCsv("1,\n", "E.csv"), /line 1, column 2: empty value/);
  assert.throws(() => parseEmbeddingsCsv("", "E.csv"), /E\.csv: no rows/);
  assert.throws(
    () => parseLabelsCsv("0\n1.5\n", "L.csv"),
    /L\.csv line 2: label is not an integer/,
  );
  assert.throws(
    () => parseLabelsCsv("0\n1,2\n", "L.csv"),
    /L\.csv line 2: expected one label, got 2/,
  );
  const one = await writeTemp("0,0\n1,1\n2,2\n", "3\n3\n3\n");
  try {
    await assert.rejects(() => clusterScoresFromFiles(one.e, one.l), /fewer than 2 clusters/);
    await assert.rejects(
      () => clusterScoresFromFiles(one.e, `${one.dir}/missing.csv`),
      /cannot read/,
    );
    await Deno.writeTextFile(one.l, "0\n1\n2\n");
    await assert.rejects(() => clusterScoresFromFiles(one.e, one.l), /number of clusters is 3/);
  } finally {
    await Deno.remove(one.dir, { recursive: true });
  }
});

Deno.test("cluster-scores reads a run's embeddings.csv: header, id and label columns", async () => {
  const g = golden.cluster.find((c) => c.name === "blobs16")!;
  const head = ["id", "label", ...g.x[0].map((_, j) => `e${j}`)].join(",");
  const rows = g.x.map((r, i) => [`FER2013Test/img${i}.png`, g.labels[i], ...r].join(","));
  const t = parseEmbeddingsCsv([head, ...rows].join("\n") + "\n", "embeddings.csv");
  assert.equal(t.n, g.x.length);
  assert.equal(t.dim, g.x[0].length);
  assert.deepEqual([...t.labels!], g.labels);
  assert.equal(t.ids![1], "FER2013Test/img1.png");
  const preds = ["id,label,primary,final", ...g.labels.map((l, i) => `img${i},${l},0,1`)];
  assert.deepEqual([...parseLabelsCsv(preds.join("\n"), "predictions.csv")], g.labels);
  const dir = await Deno.makeTempDir({ prefix: "grefel-cluster-run-" });
  try {
    await Deno.writeTextFile(`${dir}/embeddings.csv`, [head, ...rows].join("\n") + "\n");
    const s = await clusterScoresFromFiles(`${dir}/embeddings.csv`);
    await assertClose(s.daviesBouldin, g.daviesBouldin, 0, 1e-6);
    await assertClose(s.calinskiHarabasz, g.calinskiHarabasz, 0, 1e-6);
    const r = await cli(["cluster-scores", "--run", dir, "--json"]);
    assert.equal(r.code, 0, r.err);
    await assertClose(JSON.parse(r.out).daviesBouldin, g.daviesBouldin, 0, 1e-6);
    // Without a label column and without --labels: an error that says what to pass.
    await Deno.writeTextFile(`${dir}/plain.csv`, g.x.map((x) => x.join(",")).join("\n"));
    await assert.rejects(clusterScoresFromFiles(`${dir}/plain.csv`), /no "label" column.*--labels/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
  // A mistyped number on the first row is no header: it is named.
  assert.throws(
    () => parseEmbeddingsCsv("0.1x,2\n3,4\n"),
    /line 1, column 1: not a number: "0.1x"/,
  );
  assert.throws(
    () => parseLabelsCsv("id,primary\na,1\n", "p.csv"),
    /p\.csv: the header .* no "label"/,
  );
});
