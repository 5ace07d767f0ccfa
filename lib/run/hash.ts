/**
 * Hashing for run folders: canonical JSON (sorted keys), SHA-256, config paths left out of a
 * hash, and the data set fingerprint a run records.
 *
 * @module
 */
import { createHash } from "node:crypto";

/** JSON with object keys sorted recursively (arrays keep their order). */
export function canonicalJson(value: unknown): string {
  const norm = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(norm);
    if (v && typeof v === "object") {
      const out: Record<string, unknown> = {};
      for (const k of Object.keys(v as object).sort()) {
        const x = (v as Record<string, unknown>)[k];
        if (x !== undefined) out[k] = norm(x);
      }
      return out;
    }
    return v;
  };
  return JSON.stringify(norm(value));
}

/** Hex SHA-256 of a string (as UTF-8) or of bytes. */
export function sha256(data: string | Uint8Array): string {
  return createHash("sha256").update(data).digest("hex");
}

/** A deep copy of `config` without the dotted paths in `excluded`. */
export function withoutPaths(config: unknown, excluded: readonly string[]): unknown {
  const copy = structuredClone(config) as Record<string, unknown>;
  for (const path of excluded) {
    const parts = path.split(".");
    let node: Record<string, unknown> | undefined = copy;
    for (let i = 0; i < parts.length - 1 && node; i++) {
      const next: unknown = node[parts[i]];
      node = next && typeof next === "object" ? next as Record<string, unknown> : undefined;
    }
    if (node) delete node[parts[parts.length - 1]];
  }
  return copy;
}

/** A sample as far as the fingerprint is concerned. */
export interface FingerprintSample {
  /** Sample id. */
  id: string;
  /** Split. */
  split?: string;
  /** Class index. */
  label: number;
}

/**
 * Data set fingerprint: SHA-256 (first 16 hex digits) of the sorted `split \t id \t label` lines,
 * so it changes when a sample, a label (e.g. injected label noise) or a split assignment changes,
 * and not when the loader lists samples in another order.
 */
export function datasetFingerprint(samples: readonly FingerprintSample[]): string {
  const lines = samples.map((s) => `${s.split ?? ""}\t${s.id}\t${s.label}`).sort();
  return sha256(lines.join("\n")).slice(0, 16);
}
