/**
 * Display helpers for grefel's Deno-kernel notebooks: MIME bundles for plotly figures and danfojs
 * tables. No model logic lives here.
 *
 * - plotly.js does not import under Deno (it needs a DOM), so a figure is shown as a MIME bundle
 *   of three renderings, and each front end picks the best one it can show (front ends choose by
 *   their own ranking of MIME types, not by the bundle's key order):
 *   - `application/vnd.plotly.v1+json` (the figure's `{data, layout, config}` JSON): JupyterLab
 *     with the plotly extension and VS Code with its notebook renderers draw it with their plotly;
 *   - `text/html` ({@linkcode plotlyHtml}): a self-contained fragment that draws the figure with
 *     the pinned plotly.js (npm `plotly.js-dist-min`, inlined once per notebook by
 *     {@linkcode plotlyInlineScript}, never from a CDN). Classic Notebook, JupyterLab without the extension, VS Code without the renderers and
 *     nbviewer pick it over the PNG; it runs where the notebook is trusted (outputs made in the
 *     current session are). Where scripts do not run (an untrusted notebook, GitHub) the front
 *     end strips them and the fragment shows the PNG it carries instead;
 *   - `image/png` (from {@linkcode exportFigure}) and `text/plain`, for everything else.
 * - Tables are danfojs 1.1.2 DataFrames (`import * as dfd from "danfojs"`: the package's browser
 *   build loads under Deno; `danfojs-node` needs the native `@tensorflow/tfjs-node` and is not
 *   used; 1.2.0 depends on a package outside npm). package.json overrides danfojs' own
 *   `@tensorflow/tfjs` ^3 with the project's 4.22 so one tfjs instance (one kernel registry)
 *   serves both the model and the tables. A table is shown as `text/html` plus an aligned
 *   `text/plain`; both are rendered here rather than by danfo's `toString()` because that one
 *   cuts every cell at 17 characters and cannot round numbers.
 *
 * Outside `deno jupyter` (tests, scripts) {@linkcode show} prints the `text/plain` part.
 *
 * @module
 */
import * as dfd from "danfojs";

/** A danfojs DataFrame (`DataFrame`), as the table helpers take and return it. */
export type DataFrame = dfd.DataFrame;

/** A Jupyter MIME bundle: MIME type → data (string, or JSON for `+json` types). */
export type MimeBundle = Record<string, unknown>;

/** The symbol the Deno kernel looks for to render an object (`Deno.jupyter.$display`). */
export const JUPYTER_DISPLAY: unique symbol = Symbol.for("Jupyter.display");

/** An object the Deno kernel renders through its MIME bundle when it ends a cell. */
export interface Displayable {
  /** Returns the MIME bundle to show. */
  [JUPYTER_DISPLAY](): MimeBundle;
}

/** One plotly trace (`{type: "bar", x, y, ...}`); plotly's JSON schema, loosely typed. */
export type PlotlyTrace = Record<string, unknown>;

/** A plotly figure as JSON: what `Plotly.newPlot(div, data, layout, config)` takes. */
export interface PlotlyFigure {
  /** The traces. */
  data: PlotlyTrace[];
  /** Titles, axes, size, annotations… */
  layout?: Record<string, unknown>;
  /** Plot options (`responsive`, `displaylogo`…). */
  config?: Record<string, unknown>;
}

/** plotly's MIME type, rendered by JupyterLab's plotly extension and VS Code. */
export const PLOTLY_MIME = "application/vnd.plotly.v1+json";

/** Makes `bundle` render when the returned object is a cell's last expression. */
export function displayable(bundle: MimeBundle): Displayable & MimeBundle {
  return { ...bundle, [JUPYTER_DISPLAY]: () => bundle };
}

/** The `Deno.jupyter` namespace, or undefined outside `deno jupyter` (where its getter throws). */
function jupyter(): typeof Deno.jupyter | undefined {
  try {
    return Deno.jupyter;
  } catch {
    return undefined;
  }
}

/** True when running inside the Deno Jupyter kernel. */
export function inJupyter(): boolean {
  return jupyter() !== undefined;
}

/**
 * Shows a MIME bundle now (not only at the end of the cell): in the kernel through
 * `Deno.jupyter.display`, elsewhere by printing its `text/plain` part.
 */
export async function show(bundle: MimeBundle | Displayable): Promise<void> {
  const b = JUPYTER_DISPLAY in bundle ? (bundle as Displayable)[JUPYTER_DISPLAY]() : bundle;
  const j = jupyter();
  if (j) {
    await j.display(b as Deno.jupyter.MediaBundle, { raw: true });
  } else {
    console.log(String(b["text/plain"] ?? Object.keys(b).join(", ")));
  }
}

/** Options of {@linkcode plotlyBundle}. */
export interface PlotlyBundleOptions {
  /** A PNG of the figure (bytes, e.g. from {@linkcode exportFigure}) for front ends without plotly. */
  png?: Uint8Array;
  /** `text/plain` fallback; default: the title and the trace types. */
  text?: string;
  /** Add the `text/html` rendering of {@linkcode plotlyHtml} (default true). */
  html?: boolean;
  /**
   * The script that loads plotly.js into the page ({@linkcode plotlyInlineScript}), put before the
   * figure. One figure per page needs it (the first); the others find `window.Plotly` there.
   * Without it, the fragment waits for plotly.js from another output and otherwise keeps the PNG.
   */
  plotlyScript?: string;
}

/** Base64 of bytes (btoa over chunks, so large images do not overflow the argument list). */
function base64(bytes: Uint8Array): string {
  let s = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(s);
}

/** The figure's title, if its layout has one (`"..."` or `{text: "..."}`). */
export function figureTitle(fig: PlotlyFigure): string | undefined {
  const t = fig.layout?.title;
  if (typeof t === "string") return t;
  if (t && typeof t === "object" && typeof (t as { text?: unknown }).text === "string") {
    return (t as { text: string }).text;
  }
  return undefined;
}

/** Options of {@linkcode plotlyHtml}. */
export interface PlotlyHtmlOptions {
  /** The PNG (bytes or base64) shown until plotly draws, and where scripts do not run. */
  png?: Uint8Array | string;
  /** The script loading plotly.js (see {@linkcode PlotlyBundleOptions.plotlyScript}). */
  plotlyScript?: string;
  /** The element id (default: random, so that two outputs of one page never share one). */
  id?: string;
  /** Seconds to wait for `window.Plotly` before giving up and keeping the PNG (default 60). */
  waitSeconds?: number;
}

/** gzip-compresses bytes with the platform's CompressionStream. */
async function gzip(bytes: Uint8Array): Promise<Uint8Array> {
  const stream = new Blob([bytes as BlobPart]).stream().pipeThrough(new CompressionStream("gzip"));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

/**
 * A `<script>` that defines `window.Plotly` from plotly.js's `source` carried inside it,
 * gzip-compressed and base64-encoded (the pinned 4.8 MB bundle becomes 2.0 MB, which is what every
 * notebook with a figure stores once). In the page it decodes the payload with the browser's
 * `DecompressionStream` and runs it as an inline script, unless the page already has plotly.js or
 * another output is loading it. Nothing is fetched from the network.
 */
export async function plotlyInlineScript(source: string): Promise<string> {
  const payload = base64(await gzip(new TextEncoder().encode(source)));
  return `<script>
(function () {
  if (window.Plotly || window.grefelPlotlyLoading || typeof DecompressionStream === "undefined") return;
  window.grefelPlotlyLoading = true;
  var b = atob("${payload}");
  var bytes = new Uint8Array(b.length);
  for (var i = 0; i < b.length; i++) bytes[i] = b.charCodeAt(i);
  var text = new Blob([bytes]).stream().pipeThrough(new DecompressionStream("gzip"));
  new Response(text).text().then(function (src) {
    if (window.Plotly) return;
    var s = document.createElement("script");
    s.textContent = src;
    document.head.appendChild(s);
  }).finally(function () { window.grefelPlotlyLoading = false; });
})();
</script>
`;
}

/** JSON safe inside `<script>` (`<` escaped, so no `</script>` or `<!--` can end it early). */
export function scriptJson(value: unknown): string {
  return JSON.stringify(value).replace(/</g, "\\u003c").replace(/\u2028/g, "\\u2028").replace(
    /\u2029/g,
    "\\u2029",
  );
}

/** The pixel size a figure asks for (`layout.width`/`height`), else plotly's 700 × 450. */
function figureSize(fig: PlotlyFigure): { width: number; height: number } {
  const l = fig.layout ?? {};
  return {
    width: typeof l.width === "number" ? l.width : 700,
    height: typeof l.height === "number" ? l.height : 450,
  };
}

/**
 * A self-contained HTML fragment that draws `fig` interactively with plotly.js, for the
 * `text/html` part of a figure's MIME bundle. It holds the PNG as an `<img>` (what front ends that
 * strip scripts show), optionally the script that loads plotly.js into the page, and a
 * script that, once the fragment is in the page and `window.Plotly` exists, draws the figure and
 * removes the image. The script polls rather than drawing at once because classic Notebook runs an
 * output's scripts before it attaches the output to the page, and front ends may render outputs
 * out of order. When plotly.js never arrives (the output that carried it was cleared), the PNG
 * stays, with a note. The root element's `data-grefel-plotly` attribute says what happened
 * (`waiting`, `live`, `no-plotly`, `error`); tests read it.
 */
export function plotlyHtml(fig: PlotlyFigure, opts: PlotlyHtmlOptions = {}): string {
  const id = opts.id ?? `grefel-plotly-${crypto.randomUUID().slice(0, 13)}`;
  if (!/^[A-Za-z][A-Za-z0-9_-]*$/.test(id)) throw new Error(`plotlyHtml: bad element id "${id}"`);
  const { width, height } = figureSize(fig);
  const title = escapeHtml(
    figureTitle(fig)?.replace(/<[^>]*>/g, " ").replace(/\s+/g, " ").trim() ?? "plotly figure",
  );
  const png = typeof opts.png === "string" ? opts.png : opts.png ? base64(opts.png) : undefined;
  const picture = png
    ? `<img class="grefel-plotly-png" alt="${title}" width="${width}" ` +
      `style="max-width:100%;height:auto" src="data:image/png;base64,${png}">`
    : `<p class="grefel-plotly-png">${title}: interactive figure (needs JavaScript)</p>`;
  const lib = opts.plotlyScript ?? "";
  const json = scriptJson({ data: fig.data, layout: fig.layout ?? {}, config: fig.config ?? {} });
  const tries = Math.max(1, Math.round((opts.waitSeconds ?? 60) * 10));
  return `${lib}<div id="${id}" class="grefel-plotly" data-grefel-plotly="waiting" ` +
    `style="max-width:100%;min-height:${Math.min(height, 120)}px">${picture}</div>
<script>
(function () {
  var id = "${id}", fig = ${json}, tries = 0;
  function draw() {
    var root = document.getElementById(id), P = window.Plotly;
    if (!root || !P) {
      if (++tries < ${tries}) { setTimeout(draw, 100); return; }
      if (root) {
        root.setAttribute("data-grefel-plotly", "no-plotly");
        var note = document.createElement("p");
        note.textContent = "Static image: plotly.js is not loaded on this page (it comes with " +
          "the notebook's first figure; run that cell again for interactive figures).";
        root.appendChild(note);
      }
      return;
    }
    var div = document.createElement("div");
    div.className = "grefel-plotly-live";
    root.appendChild(div);
    P.newPlot(div, fig.data, fig.layout, Object.assign({ displaylogo: false }, fig.config)).then(
      function () {
        var img = root.querySelector(".grefel-plotly-png");
        if (img) img.remove();
        root.setAttribute("data-grefel-plotly", "live");
      },
      function (e) {
        div.remove();
        root.setAttribute("data-grefel-plotly", "error");
        root.title = String(e);
      },
    );
  }
  draw();
})();
</script>
`;
}

/**
 * The MIME bundle of a plotly figure: `application/vnd.plotly.v1+json` (the figure as JSON; the
 * renderer draws it with the plotly.js it ships), `text/html` ({@linkcode plotlyHtml}, unless
 * `html: false`), optionally `image/png`, and `text/plain` (see the module's notes on which front
 * end shows which). Returned as a {@linkcode Displayable}, so a cell ending in `plotlyBundle(fig)`
 * shows the figure.
 * @throws Error when `fig.data` is not an array, or the figure does not survive JSON (NaN and
 *   Infinity become null in JSON: plotly treats null as a gap, which is what they should mean).
 */
export function plotlyBundle(
  fig: PlotlyFigure,
  opts: PlotlyBundleOptions = {},
): Displayable & MimeBundle {
  if (!fig || !Array.isArray(fig.data)) {
    throw new Error("plotlyBundle: figure needs a `data` array of traces");
  }
  // Round-trip through JSON: the bundle must be plain JSON, as it is stored in the .ipynb.
  const json = JSON.parse(JSON.stringify({
    data: fig.data,
    layout: fig.layout ?? {},
    config: fig.config ?? {},
  }));
  const title = figureTitle(fig);
  const types = fig.data.map((t) => String(t.type ?? "scatter"));
  const png = opts.png ? base64(opts.png) : undefined;
  const bundle: MimeBundle = { [PLOTLY_MIME]: json };
  if (opts.html ?? true) {
    bundle["text/html"] = plotlyHtml(json, { png, plotlyScript: opts.plotlyScript });
  }
  if (png) bundle["image/png"] = png;
  bundle["text/plain"] = opts.text ??
    `plotly figure${title ? ` "${title}"` : ""}: ${types.length} trace(s) (${types.join(", ")})`;
  return displayable(bundle);
}

/** A table's rows: records with the same keys. */
export type Row = Record<string, unknown>;

/** Options of {@linkcode tableBundle}. */
export interface TableOptions {
  /** Caption shown above the table. */
  caption?: string;
  /** Significant decimals for non-integer numbers (default 4). */
  digits?: number;
  /** Show the index column (default: only when it is not 0..n-1). */
  index?: boolean;
  /** At most this many rows are shown (default 200); the rest are counted. */
  maxRows?: number;
}

/** Escapes text for HTML. */
function escapeHtml(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(
    /"/g,
    "&quot;",
  );
}

/** Formats one cell: integers as they are, other numbers to `digits` decimals, NaN/null as "". */
export function formatCell(v: unknown, digits = 4): string {
  if (v === null || v === undefined) return "";
  if (typeof v === "number") {
    if (Number.isNaN(v)) return "";
    if (Number.isInteger(v) || !Number.isFinite(v)) return String(v);
    return v.toFixed(digits);
  }
  if (typeof v === "boolean" || typeof v === "string") return String(v);
  return JSON.stringify(v);
}

/** Converts rows to a danfojs DataFrame (columns in the first row's key order). */
export function toDataFrame(rows: readonly Row[] | DataFrame): DataFrame {
  if (rows instanceof dfd.DataFrame) return rows;
  if (!Array.isArray(rows) || rows.length === 0) {
    throw new Error("toDataFrame: need a non-empty array of row objects (or a DataFrame)");
  }
  const columns = Object.keys(rows[0]);
  for (const [i, r] of rows.entries()) {
    const extra = Object.keys(r).filter((k) => !columns.includes(k));
    if (extra.length) throw new Error(`toDataFrame: row ${i} has unknown column(s) ${extra}`);
  }
  return new dfd.DataFrame(
    rows.map((r) => columns.map((c) => r[c] ?? null)) as never,
    { columns },
  );
}

/**
 * The MIME bundle of a table: `text/html` (a plain `<table>`, which JupyterLab, VS Code and
 * GitHub render) and an aligned `text/plain`. Accepts a danfojs DataFrame or an array of rows.
 * @throws Error on an empty row array or rows with columns the first row lacks.
 */
export function tableBundle(
  table: readonly Row[] | DataFrame,
  opts: TableOptions = {},
): Displayable & MimeBundle {
  const df = toDataFrame(table);
  const digits = opts.digits ?? 4;
  const maxRows = opts.maxRows ?? 200;
  const columns = df.columns.map(String);
  const index = (df.index as unknown[]).map(String);
  const showIndex = opts.index ?? index.some((v, i) => v !== String(i));
  const values = (df.values as unknown[][]).slice(0, maxRows);
  const cells = values.map((row) => row.map((v) => formatCell(v, digits)));
  const hidden = df.shape[0] - values.length;

  const head = (showIndex ? [""] : []).concat(columns);
  const body = cells.map((r, i) => (showIndex ? [index[i]] : []).concat(r));
  const numeric = columns.map((_, j) => values.every((r) => typeof r[j] === "number"));
  const align = (showIndex ? [false] : []).concat(numeric);

  const th = head.map((h) => `<th>${escapeHtml(h)}</th>`).join("");
  const trs = body.map((r) =>
    "<tr>" + r.map((c, j) =>
      `<td style="text-align:${align[j] ? "right" : "left"}">${escapeHtml(c)}</td>`
    ).join("") + "</tr>"
  );
  const html = `<table class="grefel-table">` +
    (opts.caption ? `<caption>${escapeHtml(opts.caption)}</caption>` : "") +
    `<thead><tr>${th}</tr></thead><tbody>${trs.join("")}</tbody></table>` +
    (hidden > 0 ? `<p>… ${hidden} more row(s)</p>` : "");

  const widths = head.map((h, j) => Math.max(h.length, ...body.map((r) => r[j].length)));
  const line = (r: string[]) =>
    r.map((c, j) => align[j] ? c.padStart(widths[j]) : c.padEnd(widths[j])).join("  ").trimEnd();
  const text = [
    ...(opts.caption ? [opts.caption] : []),
    line(head),
    widths.map((w) => "-".repeat(w)).join("  "),
    ...body.map(line),
    ...(hidden > 0 ? [`… ${hidden} more row(s)`] : []),
  ].join("\n");
  return displayable({ "text/html": html, "text/plain": text });
}

/**
 * Shows a table now (see {@linkcode tableBundle}). Returns nothing, so that a cell ending in
 * `await showTable(...)` does not also print the DataFrame's internals as its result.
 */
export async function showTable(
  table: readonly Row[] | DataFrame,
  opts: TableOptions = {},
): Promise<void> {
  await show(tableBundle(table, opts));
}
