/**
 * Standalone SVG figures of a run: confusion matrices (paper Fig. 4) and a 2-D embedding scatter
 * (paper Fig. 5). Written by hand because each is a few rectangles, circles and labels: a plotting
 * library (vega, d3 + jsdom) would add megabytes of dependencies for no gain. The files open in
 * any browser and embed in Markdown.
 *
 * @module
 */

/** Escapes text for SVG/XML. */
function esc(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(
    /"/g,
    "&quot;",
  );
}

/** Ten distinguishable colours (Tableau 10), cycled for more classes. */
export const PALETTE = [
  "#4e79a7",
  "#f28e2b",
  "#e15759",
  "#76b7b2",
  "#59a14f",
  "#edc948",
  "#b07aa1",
  "#ff9da7",
  "#9c755f",
  "#bab0ac",
];

/** White → blue colour ramp for a value in [0, 1]. */
function blue(v: number): string {
  const t = Math.max(0, Math.min(1, v));
  const mix = (a: number, b: number) => Math.round(a + (b - a) * t);
  return `rgb(${mix(247, 8)},${mix(251, 48)},${mix(255, 107)})`;
}

/**
 * A confusion matrix as SVG: rows are true classes, columns predicted classes; each cell shows the
 * count and the row percentage, shaded by the row-normalised value (so per-class recall is the
 * diagonal's shade).
 * @throws Error when the matrix is not C×C for the C class names.
 */
export function confusionMatrixSvg(
  matrix: readonly (readonly number[])[],
  classNames: readonly string[],
  title: string,
): string {
  const c = classNames.length;
  if (matrix.length !== c || matrix.some((r) => r.length !== c)) {
    throw new Error(`confusion matrix must be ${c}×${c} for ${c} class names`);
  }
  const cell = 56, left = 110, top = 60, right = 20, bottom = 70;
  const w = left + c * cell + right, h = top + c * cell + bottom;
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${h}" ` +
    `viewBox="0 0 ${w} ${h}" font-family="sans-serif">`,
    `<rect width="${w}" height="${h}" fill="white"/>`,
    `<text x="${w / 2}" y="24" text-anchor="middle" font-size="15" font-weight="bold">${
      esc(title)
    }</text>`,
  ];
  const total = matrix.flat().reduce((s, x) => s + x, 0);
  const correct = matrix.reduce((s, r, i) => s + r[i], 0);
  out.push(
    `<text x="${w / 2}" y="42" text-anchor="middle" font-size="11" fill="#555">accuracy ${
      total ? (100 * correct / total).toFixed(2) : "n/a"
    }% (${correct}/${total})</text>`,
  );
  for (let i = 0; i < c; i++) {
    const rowSum = matrix[i].reduce((s, x) => s + x, 0);
    for (let j = 0; j < c; j++) {
      const v = rowSum ? matrix[i][j] / rowSum : 0;
      const x = left + j * cell, y = top + i * cell;
      out.push(
        `<rect x="${x}" y="${y}" width="${cell}" height="${cell}" fill="${blue(v)}" ` +
          `stroke="#ddd"><title>true ${esc(classNames[i])}, predicted ${esc(classNames[j])}: ` +
          `${matrix[i][j]}</title></rect>`,
      );
      const fg = v > 0.5 ? "white" : "#222";
      out.push(
        `<text x="${x + cell / 2}" y="${y + cell / 2 - 2}" text-anchor="middle" font-size="12" ` +
          `fill="${fg}">${matrix[i][j]}</text>`,
        `<text x="${x + cell / 2}" y="${y + cell / 2 + 12}" text-anchor="middle" font-size="9" ` +
          `fill="${fg}">${(100 * v).toFixed(0)}%</text>`,
      );
    }
    out.push(
      `<text x="${left - 6}" y="${top + i * cell + cell / 2 + 4}" text-anchor="end" ` +
        `font-size="11">${esc(classNames[i])}</text>`,
    );
  }
  for (let j = 0; j < c; j++) {
    const x = left + j * cell + cell / 2, y = top + c * cell + 8;
    out.push(
      `<text x="${x}" y="${y}" text-anchor="end" font-size="11" ` +
        `transform="rotate(-40 ${x} ${y})">${esc(classNames[j])}</text>`,
    );
  }
  out.push(
    `<text x="14" y="${top + (c * cell) / 2}" font-size="12" text-anchor="middle" ` +
      `transform="rotate(-90 14 ${top + (c * cell) / 2})">true class</text>`,
    `<text x="${left + (c * cell) / 2}" y="${h - 6}" font-size="12" text-anchor="middle">` +
      `predicted class</text>`,
    "</svg>",
  );
  return out.join("\n") + "\n";
}

/**
 * A 2-D scatter of embeddings (e.g. t-SNE) coloured by class, with a legend and an optional
 * subtitle (e.g. the Davies–Bouldin and Calinski–Harabasz scores).
 * @throws Error when points and labels differ in length or a label is out of range.
 */
export function scatterSvg(
  points: readonly (readonly number[])[],
  labels: readonly number[],
  classNames: readonly string[],
  title: string,
  subtitle = "",
): string {
  if (points.length !== labels.length) {
    throw new Error(`scatter: ${points.length} points but ${labels.length} labels`);
  }
  const bad = labels.findIndex((l) => !(l >= 0 && l < classNames.length));
  if (bad >= 0) throw new Error(`scatter: label ${labels[bad]} at row ${bad} out of range`);
  const size = 480, left = 20, top = 56, legendW = 130;
  const w = left + size + legendW, h = top + size + 20;
  let [x0, x1, y0, y1] = [Infinity, -Infinity, Infinity, -Infinity];
  for (const [x, y] of points) {
    x0 = Math.min(x0, x), x1 = Math.max(x1, x), y0 = Math.min(y0, y), y1 = Math.max(y1, y);
  }
  const sx = (x: number) => left + 8 + ((x - x0) / ((x1 - x0) || 1)) * (size - 16);
  const sy = (y: number) => top + 8 + (1 - (y - y0) / ((y1 - y0) || 1)) * (size - 16);
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${h}" ` +
    `viewBox="0 0 ${w} ${h}" font-family="sans-serif">`,
    `<rect width="${w}" height="${h}" fill="white"/>`,
    `<text x="${left + size / 2}" y="24" text-anchor="middle" font-size="15" ` +
    `font-weight="bold">${esc(title)}</text>`,
    `<text x="${left + size / 2}" y="42" text-anchor="middle" font-size="11" fill="#555">${
      esc(subtitle)
    }</text>`,
    `<rect x="${left}" y="${top}" width="${size}" height="${size}" fill="none" stroke="#ccc"/>`,
  ];
  points.forEach(([x, y], i) => {
    out.push(
      `<circle cx="${sx(x).toFixed(1)}" cy="${sy(y).toFixed(1)}" r="2.6" fill="${
        PALETTE[labels[i] % PALETTE.length]
      }" fill-opacity="0.75"/>`,
    );
  });
  classNames.forEach((name, k) => {
    const y = top + 12 + k * 18;
    out.push(
      `<circle cx="${left + size + 16}" cy="${y}" r="5" fill="${PALETTE[k % PALETTE.length]}"/>`,
      `<text x="${left + size + 26}" y="${y + 4}" font-size="11">${esc(name)}</text>`,
    );
  });
  out.push("</svg>");
  return out.join("\n") + "\n";
}
