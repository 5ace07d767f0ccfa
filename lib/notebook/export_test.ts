import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { assert } from "../testing.ts";
import { plotlyHtml, plotlyInlineScript } from "./display.ts";
import {
  carriesPlotly,
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

Deno.test("carriesPlotly: the kernel's first figure carries plotly.js, and so does its rerun", () => {
  assert.equal(carriesPlotly("first"), true);
  assert.equal(carriesPlotly("second"), false);
  assert.equal(carriesPlotly("first"), true, "the first figure's cell was run again");
});

Deno.test({
  name: "plotlyHtml in Chromium: one output loads plotly.js for all; without it the PNG stays",
  ignore: !hasChromium,
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const dir = await Deno.makeTempDir({ prefix: "grefel-html-test-" });
    const ex = new FigureExporter();
    try {
      const script = await plotlyInlineScript(await Deno.readTextFile(PLOTLY_JS_PATH));
      const png =
        "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==";
      const page = await ex.newPage();
      // The second figure's script runs before plotly.js is decoded: it must wait for it.
      const both = plotlyHtml(fig, { png, id: "a", plotlyScript: script }) +
        plotlyHtml({ ...fig, data: [{ ...fig.data[0], y: [9, 9, 9] }] }, { png, id: "b" });
      await Deno.writeTextFile(join(dir, "both.html"), `<!DOCTYPE html><body>${both}</body>`);
      await page.goto(pathToFileURL(join(dir, "both.html")).href);
      await page.waitForFunction(
        () =>
          [...document.querySelectorAll(".grefel-plotly")].every((e) =>
            e.getAttribute("data-grefel-plotly") !== "waiting"
          ),
        null,
        { timeout: 60_000 },
      );
      const states = await page.$$eval(
        ".grefel-plotly",
        (els) =>
          els.map((e) => [e.getAttribute("data-grefel-plotly"), e.querySelectorAll("img").length]),
      );
      assert.deepEqual(states, [["live", 0], ["live", 0]], "both drawn, their PNGs removed");
      assert.equal(await page.locator("#b .js-plotly-plot").count(), 1);
      // Alone, without the output that carries plotly.js: the PNG stays, with a note.
      const alone = plotlyHtml(fig, { png, id: "c", waitSeconds: 0.3 });
      await Deno.writeTextFile(join(dir, "alone.html"), `<!DOCTYPE html><body>${alone}</body>`);
      await page.goto(pathToFileURL(join(dir, "alone.html")).href);
      await page.waitForSelector('#c[data-grefel-plotly="no-plotly"]', { timeout: 10_000 });
      assert.equal(await page.locator("#c img.grefel-plotly-png").count(), 1);
      assert.match((await page.locator("#c").textContent()) ?? "", /plotly\.js is not loaded/);
      await page.close();
    } finally {
      await ex.close();
      await Deno.remove(dir, { recursive: true });
    }
  },
});
