/**
 * Helper of scripts/add_figure_html.py: reads a JSON array of `{figure, png, id, plotly}` from
 * stdin and writes the JSON array of their `text/html` renderings (`plotlyHtml` of
 * lib/notebook/display.ts, with the pinned plotly.js inlined where `plotly` is true) to stdout.
 *
 * @module
 */
import { type PlotlyFigure, plotlyHtml, plotlyInlineScript } from "../lib/notebook/display.ts";

/** The pinned plotly.js (lib/notebook/export.ts's PLOTLY_JS_PATH; that module loads playwright). */
const PLOTLY_JS = new URL("../node_modules/plotly.js-dist-min/plotly.min.js", import.meta.url);

/** One figure output to render. */
interface Request {
  figure: PlotlyFigure;
  png?: string;
  id: string;
  plotly: boolean;
}

if (import.meta.main) {
  const requests: Request[] = JSON.parse(await new Response(Deno.stdin.readable).text());
  const script = requests.some((r) => r.plotly)
    ? await plotlyInlineScript(await Deno.readTextFile(PLOTLY_JS))
    : undefined;
  const html = requests.map((r) =>
    plotlyHtml(r.figure, { png: r.png, id: r.id, plotlyScript: r.plotly ? script : undefined })
  );
  await Deno.stdout.write(new TextEncoder().encode(JSON.stringify(html)));
}
