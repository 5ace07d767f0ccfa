import * as dfd from "danfojs";
import * as tf from "@tensorflow/tfjs";
import { assert } from "../testing.ts";
import {
  formatCell,
  JUPYTER_DISPLAY,
  PLOTLY_MIME,
  plotlyBundle,
  plotlyHtml,
  plotlyInlineScript,
  show,
  tableBundle,
  toDataFrame,
} from "./display.ts";
import { byProfile, figuresDir, notebookProfile, REPO_ROOT, resultsDir } from "./profile.ts";

Deno.test("danfojs shares the project's tfjs (one kernel registry)", () => {
  // deno-lint-ignore no-explicit-any
  assert.equal((dfd as any).tensorflow.version.tfjs, tf.version.tfjs);
});

Deno.test("plotlyBundle: plotly MIME JSON, text fallback, optional PNG, displayable", () => {
  const fig = {
    data: [{ type: "bar", x: ["a", "b"], y: [1, NaN] }],
    layout: { title: { text: "Accuracy" } },
  };
  const b = plotlyBundle(fig);
  const json = b[PLOTLY_MIME] as { data: { y: unknown[] }[]; layout: unknown; config: unknown };
  assert.deepEqual(json.data[0].y, [1, null], "NaN becomes a gap (null) in JSON");
  assert.deepEqual(json.layout, { title: { text: "Accuracy" } });
  assert.match(String(b["text/plain"]), /"Accuracy".*1 trace.*bar/);
  assert.equal(b["image/png"], undefined);
  assert.match(String(b["text/html"]), /class="grefel-plotly"/);
  assert.deepEqual(b[JUPYTER_DISPLAY](), {
    [PLOTLY_MIME]: json,
    "text/html": b["text/html"],
    "text/plain": b["text/plain"],
  });
  const withPng = plotlyBundle(fig, { png: new Uint8Array([137, 80, 78, 71]) });
  assert.equal(withPng["image/png"], btoa("\x89PNG"));
  // The HTML carries the same PNG, for front ends that strip its scripts.
  assert.ok(
    String(withPng["text/html"]).includes(`src="data:image/png;base64,${btoa("\x89PNG")}"`),
  );
  assert.deepEqual(Object.keys(plotlyBundle(fig, { html: false })), [PLOTLY_MIME, "text/plain"]);
  const carrier = plotlyBundle(fig, { plotlyScript: "<script>/* lib */</script>\n" });
  assert.ok(String(carrier["text/html"]).startsWith("<script>/* lib */</script>\n<div"));
  assert.throws(() => plotlyBundle({} as never), /data/);
});

Deno.test("plotlyHtml: script-safe figure JSON, PNG fallback, no network, unique ids", () => {
  const fig = {
    data: [{ type: "scatter", x: [1], y: [2], text: ["a</script><b>"] }],
    layout: { title: { text: "t-SNE <br>with <i>RB</i>" }, width: 640 },
  };
  const html = plotlyHtml(fig, { png: "iVBORw0KGgo=", id: "fig-1" });
  // Only the drawing script's own tag closes: the figure's "</script>" is escaped in its JSON.
  assert.equal((html.match(/<\/script>/g) ?? []).length, 1);
  assert.ok(html.includes("a\\u003c/script>\\u003cb>"));
  assert.match(html, /<div id="fig-1" class="grefel-plotly" data-grefel-plotly="waiting"/);
  assert.match(html, /<img class="grefel-plotly-png" alt="t-SNE with RB" width="640"/);
  assert.doesNotMatch(html, /https?:\/\//);
  // The JSON in the script is the figure, unchanged.
  const json = html.match(/fig = (\{.*\}), tries/)![1];
  assert.deepEqual(JSON.parse(json), { ...fig, config: {} });
  assert.notEqual(
    plotlyHtml(fig).match(/id="([^"]+)"/)![1],
    plotlyHtml(fig).match(/id="([^"]+)"/)![1],
  );
  assert.match(plotlyHtml(fig), /needs JavaScript/, "without a PNG the fallback is a note");
  assert.throws(() => plotlyHtml(fig, { id: 'x" onload="alert(1)' }), /bad element id/);
});

Deno.test("plotlyInlineScript: carries the source gzip-compressed, loads nothing", async () => {
  const source = "window.Plotly = { newPlot() {} }; // " + "x".repeat(10_000);
  const script = await plotlyInlineScript(source);
  assert.ok(script.length < 2_000, `${script.length} characters for 10 kB of source`);
  assert.doesNotMatch(script, /https?:\/\/|src=/);
  const payload = script.match(/atob\("([A-Za-z0-9+/=]+)"\)/)![1];
  const bytes = Uint8Array.from(atob(payload), (c) => c.charCodeAt(0));
  const text = new Blob([bytes]).stream().pipeThrough(new DecompressionStream("gzip"));
  assert.equal(await new Response(text).text(), source);
});

Deno.test("tableBundle: HTML and aligned text from rows or a DataFrame, escaped, rounded", () => {
  const rows = [
    { setup: "none", acc: 0.81234567, params: 12 },
    { setup: "<anchors>", acc: 0.8, params: 1200 },
  ];
  const b = tableBundle(rows, { caption: "Table 2", digits: 3 });
  const html = String(b["text/html"]);
  assert.match(html, /<caption>Table 2<\/caption>/);
  assert.match(html, /&lt;anchors&gt;/);
  assert.match(html, /0\.812/);
  assert.doesNotMatch(html, /0\.8123/);
  assert.equal((html.match(/<tr>/g) ?? []).length, 3, "header + 2 rows");
  const lines = String(b["text/plain"]).split("\n");
  assert.equal(lines[0], "Table 2");
  assert.match(lines[1], /^setup\s+acc\s+params$/);
  // numbers are right-aligned: all lines of the body end at the same column
  assert.equal(lines[3].length, lines[4].length);
  assert.ok(lines[4].endsWith(" 1200"));
  // same table from a DataFrame; the non-default index is shown
  const df = new dfd.DataFrame({ a: [1, 2, 3] }, { index: ["x", "y", "z"] });
  const t = tableBundle(df, { maxRows: 2 });
  assert.match(String(t["text/html"]), /<td style="text-align:left">y<\/td>/);
  assert.match(String(t["text/plain"]), /1 more row/);
  assert.throws(() => toDataFrame([]), /non-empty/);
  assert.throws(() => toDataFrame([{ a: 1 }, { a: 2, b: 3 }]), /row 1.*b/);
});

Deno.test("formatCell: integers, rounding, gaps", () => {
  assert.equal(formatCell(3), "3");
  assert.equal(formatCell(1 / 3, 2), "0.33");
  assert.equal(formatCell(NaN), "");
  assert.equal(formatCell(null), "");
  assert.equal(formatCell(Infinity), "Infinity");
  assert.equal(formatCell({ k: 1 }), '{"k":1}');
});

Deno.test("show prints the text part outside the kernel", async () => {
  const logged: unknown[] = [];
  const orig = console.log;
  console.log = (...a: unknown[]) => logged.push(...a);
  try {
    await show(tableBundle([{ a: 1 }]));
  } finally {
    console.log = orig;
  }
  assert.equal(logged.length, 1);
  assert.match(String(logged[0]), /^a\n-\n1$/);
});

Deno.test("profile and paths follow GREFEL_PROFILE and GREFEL_RESULTS", () => {
  const old = { p: Deno.env.get("GREFEL_PROFILE"), r: Deno.env.get("GREFEL_RESULTS") };
  try {
    Deno.env.delete("GREFEL_PROFILE");
    Deno.env.delete("GREFEL_RESULTS");
    assert.equal(notebookProfile(), "smoke");
    assert.equal(resultsDir(), `${REPO_ROOT}/results/tmp/smoke`, "smoke runs stay out of results/");
    assert.equal(figuresDir(), `${REPO_ROOT}/results/tmp/smoke/figures/smoke`);
    Deno.env.set("GREFEL_PROFILE", "quick");
    assert.equal(resultsDir(), `${REPO_ROOT}/results`);
    assert.equal(
      figuresDir(),
      `${REPO_ROOT}/results/figures`,
      "quick writes the committed figures",
    );
    assert.equal(byProfile({ smoke: 1, quick: 2, full: 3 }), 2);
    Deno.env.set("GREFEL_PROFILE", "short");
    assert.equal(notebookProfile(), "short");
    assert.equal(byProfile({ smoke: 1, quick: 2, full: 3 }), 2, "short falls back to quick");
    assert.equal(byProfile({ smoke: 1, short: 4, quick: 2, full: 3 }), 4);
    assert.equal(figuresDir(), `${REPO_ROOT}/results/figures/short`);
    Deno.env.set("GREFEL_RESULTS", "/tmp/x");
    assert.equal(figuresDir(), "/tmp/x/figures/short");
    Deno.env.set("GREFEL_PROFILE", "quick");
    assert.equal(figuresDir(), "/tmp/x/figures");
    Deno.env.set("GREFEL_PROFILE", "huge");
    assert.throws(() => notebookProfile(), /GREFEL_PROFILE.*"huge"/);
  } finally {
    for (const [k, v] of [["GREFEL_PROFILE", old.p], ["GREFEL_RESULTS", old.r]] as const) {
      if (v === undefined) Deno.env.delete(k);
      else Deno.env.set(k, v);
    }
  }
});
