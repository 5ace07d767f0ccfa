/**
 * Display helpers for grefel's Deno-kernel notebooks: MIME bundles for plotly figures and danfojs
 * tables. No model logic lives here.
 *
 * - plotly.js does not import under Deno (it needs a DOM), so a figure is shown by emitting
 *   plotly's MIME type `application/vnd.plotly.v1+json` (its `{data, layout, config}` JSON), which
 *   JupyterLab (with the plotly renderer) and VS Code render interactively. The bundle can also
 *   carry a PNG of the same figure (from {@linkcode exportFigure}), which front ends without the
 *   plotly renderer, such as GitHub's notebook view, show instead.
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

/**
 * The MIME bundle of a plotly figure: `application/vnd.plotly.v1+json` (the figure as JSON; the
 * renderer draws it with the plotly.js it ships), optionally `image/png`, and `text/plain`.
 * Returned as a {@linkcode Displayable}, so a cell ending in `plotlyBundle(fig)` shows the figure.
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
  const bundle: MimeBundle = {
    [PLOTLY_MIME]: json,
    "text/plain": opts.text ??
      `plotly figure${title ? ` "${title}"` : ""}: ${types.length} trace(s) (${types.join(", ")})`,
  };
  if (opts.png) bundle["image/png"] = base64(opts.png);
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
export function toDataFrame(rows: readonly Row[] | dfd.DataFrame): dfd.DataFrame {
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
  table: readonly Row[] | dfd.DataFrame,
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
  table: readonly Row[] | dfd.DataFrame,
  opts: TableOptions = {},
): Promise<void> {
  await show(tableBundle(table, opts));
}
