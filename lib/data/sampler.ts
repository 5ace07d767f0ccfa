/**
 * Data refinement (SPEC §5, paper §4.1): each epoch, draw N_pg images per group (video or
 * subject, where the data set has groups), then B images per class from that pool, giving a
 * class-balanced epoch of B × C images; or plain shuffling.
 *
 * Decisions (SPEC is silent):
 * - per group, N_pg images are drawn without replacement (all of a smaller group);
 * - per class, B images are drawn without replacement when the pool has at least B, otherwise
 *   with replacement (every pooled image first, then random repeats, so none is missed);
 * - a class absent from the group pool but present in the data falls back to all its images;
 *   a class with no images at all is left out (the epoch is then B × (classes present));
 * - the epoch order is shuffled; everything is a pure function of `(seed, epoch)`.
 * @module
 */
import { Rng, seedOf } from "./rng.ts";

/** Sampler settings (the `data.sampler` config section). */
export interface SamplerOptions {
  /** `"refine"`: group- and class-balanced (paper); `"shuffle"`: every sample once, shuffled. */
  mode: "refine" | "shuffle";
  /** N_pg: images drawn per group per epoch (paper 512). */
  perGroup: number;
  /** B: images drawn per class per epoch (paper 500). */
  perClass: number;
}

/** What the sampler needs of a sample. */
export interface SamplerItem {
  /** Class index. */
  label: number;
  /** Group (video / subject), where the data set has groups. */
  group?: string;
}

/**
 * Indices (into `items`) of one epoch's samples, in order.
 * @param items the training samples.
 * @param numClasses C.
 */
export function epochIndices(
  items: readonly SamplerItem[],
  numClasses: number,
  opts: SamplerOptions,
  seed: number,
  epoch: number,
): number[] {
  const r = new Rng(seedOf(seed, epoch, 0x5a3));
  const all = items.map((_, i) => i);
  if (opts.mode === "shuffle") return r.shuffle(all);
  // 1. N_pg per group (where there are groups)
  let pool = all;
  if (items.some((s) => s.group !== undefined)) {
    const groups = new Map<string, number[]>();
    for (const i of all) {
      const g = items[i].group ?? "";
      const list = groups.get(g);
      if (list) list.push(i);
      else groups.set(g, [i]);
    }
    pool = [];
    for (const g of [...groups.keys()].sort()) {
      const members = groups.get(g)!;
      if (members.length <= opts.perGroup) pool.push(...members);
      else pool.push(...r.shuffle(members.slice()).slice(0, opts.perGroup));
    }
  }
  // 2. B per class
  const byClass = (from: number[]) => {
    const out: number[][] = Array.from({ length: numClasses }, () => []);
    for (const i of from) {
      const l = items[i].label;
      if (l >= 0 && l < numClasses) out[l].push(i);
    }
    return out;
  };
  const pooled = byClass(pool);
  const full = pool === all ? pooled : byClass(all);
  const epochList: number[] = [];
  for (let c = 0; c < numClasses; c++) {
    const members = pooled[c].length > 0 ? pooled[c] : full[c];
    if (members.length === 0) continue;
    if (members.length >= opts.perClass) {
      epochList.push(...r.shuffle(members.slice()).slice(0, opts.perClass));
    } else {
      epochList.push(...members);
      for (let k = members.length; k < opts.perClass; k++) {
        epochList.push(members[r.int(members.length)]);
      }
    }
  }
  return r.shuffle(epochList);
}
