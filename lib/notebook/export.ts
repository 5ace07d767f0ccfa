/**
 * Exports plotly figures to files: `<dir>/<name>.html` (standalone: no CDN, plotly.js from the
 * pinned npm package `plotly.js-dist-min`), `<name>.svg` and `<name>.png`.
 *
 * SVG and PNG come from plotly's own `Plotly.toImage` running in Debian's `chromium`, driven
 * headless by the pinned npm `playwright-core` (`executablePath` /usr/bin/chromium or
 * `GREFEL_CHROMIUM`; playwright's own browser download is not used, as nothing outside the
 * registries can be fetched here). One browser (one page with plotly.js loaded once) serves every
 * figure of a notebook: launch costs seconds, a figure then 0.1–0.6 s
 * (loading plotly.js into the page takes 1–8 s depending on load). Close it at the end with
 * {@linkcode closeFigureExporter} (or `await exporter.close()`), or the kernel keeps it running.
 *
 * The HTML references `plotly-<version>.min.js`, copied once into the same folder, instead of
 * inlining its 4.8 MB into every figure; pass `inlinePlotly: true` for a single self-contained file.
 *
 * @module
 */
import { chromium } from "playwright-core";
import type * as playwright from "playwright-core";

/** A playwright browser page (`playwright.Page`). */
export type Page = playwright.Page;

type BrowserContext = playwright.BrowserContext;
import { isAbsolute, join, relative } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { writeFileAtomic } from "../run/atomic.ts";
import {
  figureTitle,
  JUPYTER_DISPLAY,
  type MimeBundle,
  plotlyBundle,
  type PlotlyFigure,
  plotlyInlineScript,
  scriptJson,
  show,
} from "./display.ts";
import { figuresDir, REPO_ROOT } from "./profile.ts";

/** The pinned plotly.js bundle (npm `plotly.js-dist-min`). */
export const PLOTLY_JS_PATH: string = fileURLToPath(
  new URL("../../node_modules/plotly.js-dist-min/plotly.min.js", import.meta.url),
);

/** The plotly.js version of {@linkcode PLOTLY_JS_PATH}. */
export async function plotlyVersion(): Promise<string> {
  const pkg = JSON.parse(
    await Deno.readTextFile(PLOTLY_JS_PATH.replace(/plotly\.min\.js$/, "package.json")),
  );
  return String(pkg.version);
}

/** Chromium flags: headless, no sandbox (root in containers), and no network or background work. */
export const CHROMIUM_ARGS: readonly string[] = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

/** The Chromium binary: `GREFEL_CHROMIUM`, else Debian's /usr/bin/chromium. */
export function chromiumPath(): string {
  try {
    const p = Deno.env.get("GREFEL_CHROMIUM");
    if (p) return p;
  } catch { /* no env permission: use the default */ }
  return "/usr/bin/chromium";
}

/** A file format {@linkcode FigureExporter.export} can write. */
export type FigureFormat = "html" | "svg" | "png";

/** Options of {@linkcode FigureExporter.export}. */
export interface ExportOptions {
  /** Output folder (default {@linkcode figuresDir}: `<results>/figures`). */
  dir?: string;
  /** Formats to write (default all three). */
  formats?: readonly FigureFormat[];
  /** Image width in CSS pixels (default `layout.width` or 800). */
  width?: number;
  /** Image height in CSS pixels (default `layout.height` or 500). */
  height?: number;
  /** PNG pixel ratio (default 2, for print). */
  scale?: number;
  /** Inline plotly.js into the HTML instead of referencing a copy beside it (default false). */
  inlinePlotly?: boolean;
}

/** The files written for one figure (absolute paths), and the PNG bytes when one was made. */
export interface ExportedFigure {
  /** Standalone HTML page. */
  html?: string;
  /** SVG file. */
  svg?: string;
  /** PNG file. */
  png?: string;
  /** The PNG's bytes (for embedding in the notebook's MIME bundle). */
  pngBytes?: Uint8Array;
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

/** Checks a figure name: letters, digits, `.`, `_`, `-` (it becomes a file name). */
function checkName(name: string): void {
  if (!NAME.test(name)) {
    throw new Error(
      `figure name "${name}" must be letters, digits, ".", "_" or "-" (it becomes a file name)`,
    );
  }
}

/** Escapes text for HTML. */
function escapeHtml(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

/**
 * A standalone HTML page drawing `fig` with plotly.js, loaded from `plotly.src` (a relative path)
 * or inlined from `plotly.inline` (the library's source). No network access is needed to view it.
 */
export function figureHtml(
  fig: PlotlyFigure,
  plotly: { src: string } | { inline: string },
): string {
  const title = escapeHtml(figureTitle(fig) ?? "grefel figure");
  const lib = "inline" in plotly
    ? `<script>${plotly.inline.replace(/<\/script/gi, "<\\/script")}</script>`
    : `<script src="${escapeHtml(plotly.src)}"></script>`;
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>${title}</title>
${lib}
</head>
<body>
<div id="figure" style="width:100%;height:90vh"></div>
<script>
const fig = ${scriptJson({ data: fig.data, layout: fig.layout ?? {}, config: fig.config ?? {} })};
Plotly.newPlot("figure", fig.data, fig.layout, Object.assign({ responsive: true }, fig.config));
</script>
</body>
</html>
`;
}

/** Decodes a `data:` URL as returned by `Plotly.toImage` (base64 or percent-encoded). */
function decodeDataUrl(url: string): Uint8Array {
  const comma = url.indexOf(",");
  if (!url.startsWith("data:") || comma < 0) throw new Error("not a data: URL");
  const meta = url.slice(5, comma), payload = url.slice(comma + 1);
  if (meta.endsWith(";base64")) return Uint8Array.from(atob(payload), (c) => c.charCodeAt(0));
  return new TextEncoder().encode(decodeURIComponent(payload));
}

/** Renders plotly figures to HTML, SVG and PNG with one headless Chromium. */
export class FigureExporter {
  #context: BrowserContext | null = null;
  #page: Page | null = null;
  #userDataDir: string | null = null;
  #starting: Promise<Page> | null = null;

  /** Starts the browser now (otherwise the first SVG/PNG export does). */
  static async launch(): Promise<FigureExporter> {
    const e = new FigureExporter();
    await e.#pageReady();
    return e;
  }

  /** True while a browser is running. */
  get running(): boolean {
    return this.#context !== null;
  }

  #pageReady(): Promise<Page> {
    if (this.#page) return Promise.resolve(this.#page);
    this.#starting ??= this.#start().finally(() => (this.#starting = null));
    return this.#starting;
  }

  async #start(): Promise<Page> {
    const exe = chromiumPath();
    try {
      await Deno.stat(exe);
    } catch {
      throw new Error(
        `Chromium not found at ${exe}: install Debian's chromium (scripts/setup.sh does) or set ` +
          `GREFEL_CHROMIUM; HTML export works without it, SVG/PNG do not`,
      );
    }
    // A fresh, empty profile for every browser, removed on close.
    this.#userDataDir = await Deno.makeTempDir({ prefix: "grefel-chromium-" });
    this.#context = await chromium.launchPersistentContext(this.#userDataDir, {
      executablePath: exe,
      headless: true,
      args: [...CHROMIUM_ARGS],
      offline: true,
    });
    const page = this.#context.pages()[0] ?? await this.#context.newPage();
    // Load plotly.js from its file: 3× faster than page.addScriptTag, which sends the 4.8 MB
    // source over the DevTools protocol (measured 7 s vs 22 s on the contended 2-core machine).
    const blank = join(this.#userDataDir, "grefel-export.html");
    await Deno.writeTextFile(
      blank,
      `<!DOCTYPE html><html><head><meta charset="utf-8">` +
        `<script src="${pathToFileURL(PLOTLY_JS_PATH).href}"></script></head><body></body></html>`,
    );
    await page.goto(pathToFileURL(blank).href);
    // deno-lint-ignore no-explicit-any
    await page.waitForFunction(() => (globalThis as any).Plotly !== undefined);
    this.#page = page;
    return page;
  }

  /**
   * Writes `fig` as `<dir>/<name>.html|.svg|.png` (the formats asked for) and returns the paths.
   * @throws Error on a bad name, a missing Chromium (SVG/PNG only), or a figure plotly rejects.
   */
  async export(fig: PlotlyFigure, name: string, opts: ExportOptions = {}): Promise<ExportedFigure> {
    checkName(name);
    plotlyBundle(fig); // validates the figure and that it is plain JSON
    const dir = opts.dir ?? figuresDir();
    const formats = opts.formats ?? ["html", "svg", "png"];
    const out: ExportedFigure = {};
    await Deno.mkdir(dir, { recursive: true });
    if (formats.includes("html")) {
      out.html = join(dir, `${name}.html`);
      let plotly: { src: string } | { inline: string };
      if (opts.inlinePlotly) {
        plotly = { inline: await Deno.readTextFile(PLOTLY_JS_PATH) };
      } else {
        const lib = `plotly-${await plotlyVersion()}.min.js`;
        try {
          await Deno.stat(join(dir, lib));
        } catch {
          await writeFileAtomic(join(dir, lib), await Deno.readFile(PLOTLY_JS_PATH));
        }
        plotly = { src: lib };
      }
      await writeFileAtomic(out.html, figureHtml(fig, plotly));
    }
    const images = formats.filter((f) => f === "svg" || f === "png");
    if (images.length) {
      const page = await this.#pageReady();
      const layout = fig.layout ?? {};
      const width = opts.width ?? (typeof layout.width === "number" ? layout.width : 800);
      const height = opts.height ?? (typeof layout.height === "number" ? layout.height : 500);
      const urls = await page.evaluate(
        async ({ fig, images, width, height, scale }) => {
          // deno-lint-ignore no-explicit-any
          const P = (globalThis as any).Plotly;
          const div = document.createElement("div");
          document.body.appendChild(div);
          try {
            await P.newPlot(div, fig.data, fig.layout ?? {}, { staticPlot: true });
            const res: Record<string, string> = {};
            for (const format of images) {
              res[format] = await P.toImage(div, {
                format,
                width,
                height,
                scale: format === "png" ? scale : 1,
              });
            }
            return res;
          } finally {
            P.purge(div);
            div.remove();
          }
        },
        { fig: JSON.parse(JSON.stringify(fig)), images, width, height, scale: opts.scale ?? 2 },
      );
      for (const f of images) {
        const bytes = decodeDataUrl(urls[f]);
        const path = join(dir, `${name}.${f}`);
        await writeFileAtomic(path, bytes);
        out[f] = path;
        if (f === "png") out.pngBytes = bytes;
      }
    }
    return out;
  }

  /** A new page in the exporter's browser (e.g. to check an exported HTML file); close it after. */
  async newPage(): Promise<Page> {
    await this.#pageReady();
    return await this.#context!.newPage();
  }

  /** Closes the browser and removes its profile folder; the exporter can be used again after. */
  async close(): Promise<void> {
    await this.#starting?.catch(() => {});
    const ctx = this.#context, dir = this.#userDataDir;
    this.#context = null;
    this.#page = null;
    this.#userDataDir = null;
    if (ctx) await ctx.close();
    if (dir) await Deno.remove(dir, { recursive: true }).catch(() => {});
  }

  /** `await using exporter = await FigureExporter.launch()` closes it at the end of the scope. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}

let shared: FigureExporter | null = null;

/**
 * Exports a figure with the notebook's shared {@linkcode FigureExporter} (one browser per kernel,
 * started on first use). Call {@linkcode closeFigureExporter} in the notebook's last cell.
 */
export function exportFigure(
  fig: PlotlyFigure,
  name: string,
  opts: ExportOptions = {},
): Promise<ExportedFigure> {
  shared ??= new FigureExporter();
  return shared.export(fig, name, opts);
}

/** Closes the shared exporter's browser, if one was started. */
export async function closeFigureExporter(): Promise<void> {
  const s = shared;
  shared = null;
  await s?.close();
}

/** The script inlining the pinned plotly.js ({@linkcode plotlyInlineScript}), made once per kernel. */
let plotlyScript: Promise<string> | null = null;

/** The name of the figure whose output carries plotly.js in this kernel, once one was shown. */
let plotlyCarrier: string | null = null;

/**
 * Whether the output of figure `name` must carry plotly.js: the kernel's first figure does, and
 * so does that same figure shown again (its cell rerun replaces the output that carried it).
 * Outputs are drawn in order when a saved notebook is opened, so the first figure's copy serves
 * the figures after it. Exported for tests.
 */
export function carriesPlotly(name: string): boolean {
  plotlyCarrier ??= name;
  return plotlyCarrier === name;
}

/** The files {@linkcode showFigure} wrote: absolute paths, shown relative to the repository. */
export type ShownFigure = Omit<ExportedFigure, "pngBytes"> & {
  /** What a cell ending in `await showFigure(...)` shows: one path per line. */
  [JUPYTER_DISPLAY](): MimeBundle;
};

/** A path relative to the repository root when it lies inside it, else as it is. */
function repoRelative(path: string): string {
  const r = relative(REPO_ROOT, path);
  return r.startsWith("..") || isAbsolute(r) ? path : r;
}

/**
 * Exports `fig` under `name` (HTML, SVG, PNG) and shows it: plotly's MIME bundle, a
 * self-contained interactive `text/html` rendering (the kernel's first figure inlines the pinned
 * plotly.js, once per notebook) and the PNG, so that every front end shows the figure, interactive
 * wherever scripts run (see `display.ts`). Returns the files' absolute paths; shown as a cell's
 * result they read relative to the repository, so saved notebooks carry no machine's paths.
 */
export async function showFigure(
  fig: PlotlyFigure,
  name: string,
  opts: ExportOptions = {},
): Promise<ShownFigure> {
  const { pngBytes, ...paths } = await exportFigure(fig, name, opts);
  let script: string | undefined;
  if (carriesPlotly(name)) {
    plotlyScript ??= Deno.readTextFile(PLOTLY_JS_PATH).then(plotlyInlineScript);
    script = await plotlyScript;
  }
  await show(plotlyBundle(fig, { png: pngBytes, plotlyScript: script }));
  // Paths only (a cell ending in `await showFigure(...)` shows them, not bytes), as text.
  const text = Object.values(paths).map(repoRelative).join("\n");
  return Object.assign(paths, { [JUPYTER_DISPLAY]: () => ({ "text/plain": text }) });
}
