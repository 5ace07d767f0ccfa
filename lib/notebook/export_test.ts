import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { assert } from "../testing.ts";
import {
  chromiumPath,
  FigureExporter,
  figureHtml,
  PLOTLY_JS_PATH,
  plotlyVersion,
} from "./export.ts";

const fig = {
  data: [{ type: "bar", x: ["neutral", "happy", "sad"], y: [3, 5, 2], name: "count" }],
  layout: { title: { text: "Test </script> figure" }, width: 400, height: 300 },
};

Deno.test("figureHtml: no CDN, script-safe JSON, plotly referenced or inlined", () => {
  const ref = figureHtml(fig, { src: "plotly-x.min.js" });
  assert.match(ref, /<script src="plotly-x\.min\.js"><\/script>/);
  assert.doesNotMatch(ref, /https?:\/\//);
  // the title's "</script>" must not end the data script early
  assert.equal((ref.match(/<\/script>/g) ?? []).length, 2);
  const inl = figureHtml(fig, { inline: "var Plotly = 1; // </script>" });
  assert.match(inl, /var Plotly = 1; \/\/ <\\\/script>/);
});

let hasChromium = true;
try {
  await Deno.stat(chromiumPath());
} catch {
  hasChromium = false;
}

Deno.test({
  name: "FigureExporter: HTML, SVG and PNG files; the HTML renders offline in Chromium",
  ignore: !hasChromium,
  sanitizeResources: false, // the browser's pipes belong to playwright until close()
  sanitizeOps: false,
  fn: async () => {
    const dir = await Deno.makeTempDir({ prefix: "grefel-fig-test-" });
    const ex = new FigureExporter();
    try {
      await assert.rejects(() => ex.export(fig, "../evil", { dir }), /figure name/);
      const t0 = performance.now();
      const out = await ex.export(fig, "counts", { dir });
      const first = performance.now() - t0;
      const t1 = performance.now();
      const again = await ex.export(
        { ...fig, data: [{ ...fig.data[0], y: [1, 1, 9] }] },
        "counts2",
        { dir, formats: ["svg", "png"] },
      );
      const second = performance.now() - t1;
      console.log(
        `export: first ${first.toFixed(0)} ms (browser start), next ${second.toFixed(0)} ms`,
      );
      assert.equal(again.html, undefined);
      const svg = await Deno.readTextFile(out.svg!);
      assert.match(svg, /^<svg[^>]*width="400"/);
      assert.match(svg, /happy/);
      const png = await Deno.readFile(out.png!);
      assert.deepEqual([...png.subarray(1, 4)], [80, 78, 71]); // "PNG"
      // scale 2: 800 px wide (IHDR width, big-endian at byte 16)
      assert.equal(new DataView(png.buffer).getUint32(16), 800);
      assert.deepEqual(out.pngBytes, png);
      const lib = join(dir, `plotly-${await plotlyVersion()}.min.js`);
      assert.equal((await Deno.stat(lib)).size, (await Deno.stat(PLOTLY_JS_PATH)).size);
      // The standalone HTML draws the figure with the local plotly copy, with the network off.
      const page = await ex.newPage();
      await page.goto(pathToFileURL(out.html!).href);
      await page.waitForSelector(".main-svg", { timeout: 20_000 });
      assert.match(await page.content(), /neutral/);
      await page.close();
    } finally {
      await ex.close();
      await Deno.remove(dir, { recursive: true });
    }
    assert.equal(ex.running, false);
  },
});
