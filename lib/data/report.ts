/**
 * What the loader sees, as data: per-split, per-class counts, skipped items with their reasons,
 * the face-detection rate, and warnings (an empty class in a split, few faces found, images that
 * look like face crops already). Built before any feature extraction; printed by
 * `grefel data`, and written to every run directory as `data.json`.
 * @module
 */
import { DatasetError } from "./common.ts";
import type { ScanStats } from "./scan.ts";
import type { DatasetSample, SkippedItem } from "./types.ts";

/** The data report. */
export interface DataReport {
  /** Data-set name. */
  dataset: string;
  /** Class names in label order. */
  classNames: string[];
  /** Per split: total and per-class counts (every class listed, 0 included). */
  splits: Record<string, { total: number; perClass: Record<string, number> }>;
  /** Skipped items. */
  skipped: {
    /** All skipped items. */
    total: number;
    /** Image files that cannot be used (unreadable, corrupt, unsupported). */
    files: number;
    /** Images without a detected face. */
    noFace: number;
    /** Counts by reason (details in parentheses dropped). */
    byReason: Record<string, number>;
    /** Every item: what and why. */
    items: SkippedItem[];
  };
  /** Unusable image files over all image files looked at (compared with data.maxSkippedFraction). */
  skippedFileFraction: number;
  /** The scan's statistics (image sides, decode failures, faces); null without a scan. */
  scan: ScanStats | null;
  /** Face pre-processing key (detector, score, margin, side, alignment); null when off. */
  faces: string | null;
  /** Things a user should look at. */
  warnings: string[];
}

/** A reason without its details (the part in parentheses), for counting. */
export function reasonKey(reason: string): string {
  return reason.replace(/\s*\(.*$/s, "").trim();
}

/** Builds the report of `samples` (already split) and what was skipped. */
export function buildDataReport(args: {
  dataset: string;
  classNames: string[];
  samples: readonly DatasetSample[];
  skipped: readonly SkippedItem[];
  scan: ScanStats | null;
  faces: string | null;
  /** Splits to report even when empty (train, valid, test). */
  splitNames?: readonly string[];
}): DataReport {
  const { classNames } = args;
  const splits: DataReport["splits"] = {};
  const names = [...new Set([...(args.splitNames ?? []), ...args.samples.map((s) => s.split)])];
  for (const n of names) {
    splits[n] = { total: 0, perClass: Object.fromEntries(classNames.map((c) => [c, 0])) };
  }
  for (const s of args.samples) {
    splits[s.split].total++;
    splits[s.split].perClass[classNames[s.label]]++;
  }
  const byReason: Record<string, number> = {};
  for (const it of args.skipped) {
    const k = reasonKey(it.reason);
    byReason[k] = (byReason[k] ?? 0) + 1;
  }
  const files = args.skipped.filter((s) => s.kind === "file").length;
  const noFace = args.skipped.filter((s) => s.kind === "face").length;
  // Image files looked at: those the scan decoded, plus files the loader refused by type.
  const refused =
    args.skipped.filter((s) => s.kind === "file" && s.reason.startsWith("unsupported file type"))
      .length;
  const looked = (args.scan ? args.scan.images : args.samples.length) + refused;
  const warnings: string[] = [];
  for (const [n, sp] of Object.entries(splits)) {
    if (sp.total === 0) continue;
    const empty = classNames.filter((c) => sp.perClass[c] === 0);
    if (empty.length) {
      warnings.push(
        `split "${n}" has no image of class(es) ${empty.map((e) => `"${e}"`).join(", ")}` +
          ` (its per-class scores will be undefined)`,
      );
    }
  }
  const f = args.scan?.faces;
  if (f && f.searched > 0 && f.rate < 0.5) {
    warnings.push(
      `a face was detected in only ${(100 * f.rate).toFixed(1)}% of the images; are they faces? ` +
        `(data.faceMinScore lowers the bar)`,
    );
  }
  if (f && f.medianFaceFraction !== null && f.medianFaceFraction > 0.75) {
    warnings.push(
      `detected faces fill most of each image (median ${f.medianFaceFraction.toFixed(2)} of the ` +
        `shorter side): the images look like face crops already; --set data.faceCrop=off skips ` +
        `detection`,
    );
  }
  if (!args.faces && args.scan?.sides && args.scan.sides.median > 320) {
    warnings.push(
      `images are ${args.scan.sides.median} px on the shorter side (median) and face cropping is ` +
        `off: unless they are face crops, set data.faceCrop=on`,
    );
  }
  return {
    dataset: args.dataset,
    classNames: [...classNames],
    splits,
    skipped: { total: args.skipped.length, files, noFace, byReason, items: [...args.skipped] },
    skippedFileFraction: looked > 0 ? files / looked : 0,
    scan: args.scan,
    faces: args.faces,
    warnings,
  };
}

/**
 * Stops a run whose share of unusable image files exceeds `max` (`data.maxSkippedFraction`).
 * @throws DatasetError listing the first skipped files and saying what to set.
 */
export function checkSkippedFraction(report: DataReport, max: number): void {
  if (report.skippedFileFraction <= max) return;
  const files = report.skipped.items.filter((s) => s.kind === "file");
  const first = files.slice(0, 5).map((s) => `\n  ${s.item}: ${s.reason}`).join("");
  throw new DatasetError(
    `${files.length} image file(s) of data set ${report.dataset} cannot be used ` +
      `(${(100 * report.skippedFileFraction).toFixed(1)}%, above data.maxSkippedFraction = ` +
      `${max}); nothing was extracted. First ones:${first}\n` +
      `Fix or remove them, see all with \`deno task grefel data\`, or raise ` +
      `--set data.maxSkippedFraction=…`,
  );
}

/** The report as text lines (what `grefel data` prints). */
export function formatDataReport(r: DataReport, maxItems = 20): string[] {
  const lines: string[] = [];
  const w = Math.max(8, ...r.classNames.map((c) => c.length));
  const splits = Object.keys(r.splits);
  lines.push(`data set ${r.dataset}: ${r.classNames.length} classes`);
  lines.push(
    `  ${"class".padEnd(w)} ${splits.map((s) => s.padStart(8)).join(" ")}`,
  );
  for (const c of r.classNames) {
    lines.push(
      `  ${c.padEnd(w)} ${
        splits.map((s) => String(r.splits[s].perClass[c]).padStart(8)).join(" ")
      }`,
    );
  }
  lines.push(
    `  ${"total".padEnd(w)} ${splits.map((s) => String(r.splits[s].total).padStart(8)).join(" ")}`,
  );
  if (r.scan) {
    const s = r.scan;
    lines.push(
      `images scanned: ${s.images} (${s.cached} from the scan cache), ${s.failed} undecodable` +
        (s.sides
          ? `; shorter side min ${s.sides.min}, median ${s.sides.median}, max ${s.sides.max} px`
          : ""),
    );
    if (s.faces) {
      lines.push(
        `faces: found in ${s.faces.found} of ${s.faces.searched} images ` +
          `(${(100 * s.faces.rate).toFixed(1)}%)` +
          (s.faces.medianFaceFraction !== null
            ? `, median face side ${s.faces.medianFaceFraction.toFixed(2)} of the image`
            : ""),
      );
    }
  }
  if (!r.faces) lines.push("face cropping: off");
  lines.push(
    `skipped: ${r.skipped.total} item(s), ${r.skipped.files} unusable file(s) ` +
      `(${(100 * r.skippedFileFraction).toFixed(1)}%), ${r.skipped.noFace} without a face`,
  );
  for (const [k, n] of Object.entries(r.skipped.byReason).sort((a, b) => b[1] - a[1])) {
    lines.push(`  ${String(n).padStart(6)}  ${k}`);
  }
  for (const it of r.skipped.items.slice(0, maxItems)) lines.push(`  ${it.item}: ${it.reason}`);
  if (r.skipped.items.length > maxItems) {
    lines.push(`  … ${r.skipped.items.length - maxItems} more (--json lists all)`);
  }
  for (const wl of r.warnings) lines.push(`warning: ${wl}`);
  return lines;
}
