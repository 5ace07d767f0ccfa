/**
 * The GReFEL paper's numbers for the cells the notebooks reproduce, transcribed from
 * /work/shared/paper/grefel.txt (the paper's text: Tables 2–8, Figs. 5 and 9). All on Aff-Wild2
 * (the notebooks train on FER+, so they compare trends, not absolute values). Accuracies in
 * percent, as printed; F1 as a fraction, as printed. Keys match the variant names of
 * experiments/*.json so a notebook looks a cell up by its variant.
 *
 * @module
 */

/** A table of the paper: where it comes from and its cells. */
export interface PaperTable<T> {
  /** Where the numbers are printed (table/figure, section, data set). */
  citation: string;
  /** The cells, keyed by experiment variant (or grid coordinate). */
  cells: T;
}

/** Table 2's row: accuracy (%), F1, parameters (millions), FLOPs (giga). */
export interface RbSetupRow {
  /** Test accuracy, %. */
  accuracy: number;
  /** F1 score. */
  f1: number;
  /** Parameters, millions. */
  paramsM: number;
  /** FLOPs, G. */
  flopsG: number;
}

/** Table 2: reliability-balancing setups (variants of experiments/table2-rb.json). */
export const TABLE2: PaperTable<Record<"none" | "anchors" | "mhsa" | "both", RbSetupRow>> = {
  citation: "GReFEL, §4.3, Table 2 (Reliability Balancing Setups), Aff-Wild2",
  cells: {
    none: { accuracy: 68.15, f1: 0.632, paramsM: 43.6, flopsG: 8.32 },
    anchors: { accuracy: 70.36, f1: 0.678, paramsM: 43.74, flopsG: 8.36 },
    mhsa: { accuracy: 69.05, f1: 0.657, paramsM: 43.8, flopsG: 8.43 },
    both: { accuracy: 72.48, f1: 0.731, paramsM: 43.84, flopsG: 8.51 },
  },
};

/** Table 3: loss setups; `null` = "Not Converge" (variants of experiments/table3-loss.json). */
export const TABLE3: PaperTable<
  Record<"cls" | "a" | "c" | "cls+a" | "all", { accuracy: number; f1: number } | null>
> = {
  citation: "GReFEL, §4.3, Table 3 (Loss Setups), Aff-Wild2; L_c alone: 'Not Converge'",
  cells: {
    cls: { accuracy: 68.15, f1: 0.682 },
    a: { accuracy: 67.96, f1: 0.68 },
    c: null,
    "cls+a": { accuracy: 68.87, f1: 0.692 },
    all: { accuracy: 72.48, f1: 0.731 },
  },
};

/** Table 4: accuracy (%) per λ (variants of experiments/table4-lambda.json; λ = 1 is `default`). */
export const TABLE4: PaperTable<Record<string, number>> = {
  citation: "GReFEL, supplementary §6.1, Table 4 (varying λ, others at 1.0), Aff-Wild2",
  cells: {
    default: 72.48,
    "lambda_cls=0.1": 35.67,
    "lambda_cls=0.5": 57.45,
    "lambda_a=0.1": 68.18,
    "lambda_a=0.5": 69.85,
    "lambda_c=0.1": 69.07,
    "lambda_c=0.5": 71.02,
  },
};

/** Table 5: GReFEL's accuracy (%) with/without augmentation and 10%/0% label noise. */
export const TABLE5:
  & PaperTable<Record<"augment" | "no-augment" | "noise=10" | "noise=0", number>>
  & {
    /** The baselines the paper prints beside GReFEL (same columns). */
    baselines: Record<
      string,
      Partial<Record<"augment" | "no-augment" | "noise=10" | "noise=0", number>>
    >;
  } = {
    citation:
      "GReFEL, supplementary §6.3, Table 5 (with/without augmentation and noise), Aff-Wild2",
    cells: { augment: 72.48, "no-augment": 70.34, "noise=10": 70.55, "noise=0": 72.48 },
    baselines: {
      "POSTER++": { augment: 69.18, "no-augment": 66.45 },
      EAC: { "noise=10": 63.54, "noise=0": 64.92 },
    },
  };

/** Table 6 as printed: accuracy at K = 0, then the gain (percentage points) of each K over it. */
export const TABLE6: PaperTable<Record<"0" | "1" | "4" | "6" | "8" | "10" | "20", number>> & {
  /** Accuracy (%) at K = 0. */
  base: number;
} = {
  citation: "GReFEL, supplementary §6.4, Table 6 (number of anchors K), Aff-Wild2; " +
    "printed as K=0 accuracy and gains over it",
  base: 68.92,
  cells: { "0": 0, "1": 1.82, "4": 2.19, "6": 2.26, "8": 2.29, "10": 2.29, "20": 0.51 },
};

/** K = 0..10, the rows of Tables 7 and 8. */
export const K_VALUES: readonly number[] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
/** Label-noise columns of Table 7 (%). */
export const NOISE_VALUES: readonly number[] = [0, 5, 10, 15, 20, 25, 30, 35, 40, 50];
/** Label-smoothing columns of Table 8 (s, ε = s/100). */
export const SMOOTHING_VALUES: readonly number[] = [0, 5, 10, 11, 15, 18, 20, 25, 30, 35, 40, 50];

/** Table 7: accuracy (%), rows K = 0..10, columns {@linkcode NOISE_VALUES}. */
export const TABLE7: PaperTable<number[][]> = {
  citation: "GReFEL, supplementary §6.5, Table 7 (K for different noise vs. accuracy), Aff-Wild2",
  cells: [
    [68.92, 68.41, 67.7, 63.69, 54.99, 50.36, 41.18, 36.94, 34.12, 30.92],
    [70.74, 70.52, 70.02, 66.51, 59.81, 51.18, 44.0, 37.76, 35.94, 33.79],
    [70.95, 70.61, 70.23, 66.72, 60.02, 51.39, 44.21, 37.97, 36.15, 34.0],
    [71.03, 70.64, 70.31, 66.8, 60.1, 51.47, 44.29, 38.05, 36.23, 34.08],
    [71.11, 70.65, 70.39, 66.88, 60.18, 51.55, 44.37, 38.13, 36.31, 34.16],
    [71.16, 70.7, 70.44, 66.93, 60.23, 51.6, 44.42, 38.18, 36.36, 34.21],
    [71.18, 70.71, 70.46, 66.95, 60.25, 51.62, 44.44, 38.2, 36.38, 34.23],
    [71.21, 70.71, 70.49, 66.98, 60.28, 51.65, 44.47, 38.23, 36.41, 34.26],
    [71.24, 70.72, 70.52, 67.01, 60.31, 51.66, 44.49, 38.26, 36.43, 34.29],
    [71.24, 70.73, 70.52, 67.01, 60.32, 51.68, 44.5, 38.26, 36.44, 34.29],
    [71.25, 70.73, 70.53, 67.02, 60.33, 51.69, 44.51, 38.27, 36.45, 34.3],
  ],
};

/** Table 8: accuracy (%), rows K = 0..10, columns {@linkcode SMOOTHING_VALUES}. */
export const TABLE8: PaperTable<number[][]> = {
  citation: "GReFEL, supplementary §6.5, Table 8 (K for different label smoothing terms vs. " +
    "accuracy), Aff-Wild2",
  cells: [
    [68.92, 69.16, 69.18, 69.18, 69.03, 68.64, 67.5, 64.27, 61.75, 59.34, 55.83, 50.88],
    [70.74, 71.38, 71.94, 71.97, 71.46, 70.68, 70.62, 67.59, 63.07, 60.66, 56.15, 51.2],
    [70.95, 71.59, 72.15, 72.18, 71.67, 70.89, 70.83, 67.8, 63.28, 60.87, 56.36, 51.41],
    [71.03, 71.67, 72.23, 72.26, 71.75, 70.97, 70.91, 67.88, 63.36, 60.95, 56.44, 51.49],
    [71.11, 71.75, 72.31, 72.34, 71.83, 71.05, 70.99, 67.96, 63.44, 61.03, 56.52, 51.57],
    [71.16, 71.8, 72.36, 72.39, 71.88, 71.1, 71.04, 67.01, 63.49, 61.08, 56.57, 51.62],
    [71.18, 71.82, 72.38, 72.41, 71.9, 71.12, 71.06, 67.03, 63.51, 61.1, 56.59, 51.64],
    [71.21, 71.85, 72.41, 72.44, 71.93, 71.15, 71.09, 67.06, 63.54, 61.13, 56.62, 51.67],
    [71.24, 71.86, 72.44, 72.47, 71.96, 71.18, 71.12, 67.09, 63.57, 61.16, 56.65, 51.7],
    [71.24, 71.88, 72.44, 72.47, 71.96, 71.18, 71.12, 67.09, 63.57, 61.16, 56.65, 51.7],
    [71.25, 71.89, 72.45, 72.48, 71.97, 71.19, 71.13, 67.1, 63.58, 61.17, 56.66, 51.71],
  ],
};

/** Fig. 5's cluster scores of the t-SNE'd embeddings (Davies–Bouldin ↓, Calinski–Harabasz ↑). */
export const FIG5: PaperTable<Record<"GReFEL" | "LA-Net" | "SCN", { db: number; ch: number }>> = {
  citation: "GReFEL, §4.2 'Feature Extraction and Clustering' and Fig. 5, Aff-Wild2 (8 classes)",
  cells: {
    GReFEL: { db: 1.969, ch: 1227.8 },
    "LA-Net": { db: 1.99, ch: 1199.5 },
    SCN: { db: 2.534, ch: 915.2 },
  },
};

/**
 * Fig. 9's summary of the primary (PD) vs final (L_final; the paper's "corrected", CD)
 * distributions of its sample images.
 */
export const FIG9: PaperTable<{
  /** Std of the primary distributions. */
  primaryStd: number;
  /** Std of the final distributions. */
  finalStd: number;
  /** Largest final probability across the samples. */
  finalMax: number;
  /** Smallest final probability across the samples. */
  finalMin: number;
}> = {
  citation: "GReFEL, supplementary §7 (Explaining Reliability Balancing) and Fig. 9, Aff-Wild2",
  cells: { primaryStd: 0.1316, finalStd: 0.0881, finalMax: 0.5429, finalMin: 0.0059 },
};

/** Table 6's accuracy (%) at K: base + printed gain. */
export function table6Accuracy(k: keyof typeof TABLE6.cells): number {
  return Math.round((TABLE6.base + TABLE6.cells[k]) * 100) / 100;
}

/** Table 7's cell at (K, noise %), or undefined when the paper has no such cell. */
export function table7Cell(k: number, noise: number): number | undefined {
  const j = NOISE_VALUES.indexOf(noise);
  return j < 0 ? undefined : TABLE7.cells[K_VALUES.indexOf(k)]?.[j];
}

/** Table 8's cell at (K, smoothing s), or undefined when the paper has no such cell. */
export function table8Cell(k: number, s: number): number | undefined {
  const j = SMOOTHING_VALUES.indexOf(s);
  return j < 0 ? undefined : TABLE8.cells[K_VALUES.indexOf(k)]?.[j];
}
