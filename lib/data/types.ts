/**
 * Types shared by the data loaders, the feature cache and training.
 * @module
 */

/** A decoded image, row-major, channels interleaved (HWC), 8-bit. */
export interface RawImage {
  /** Width in pixels. */
  width: number;
  /** Height in pixels. */
  height: number;
  /** 1 (grayscale) or 3 (RGB). */
  channels: 1 | 3;
  /** `width * height * channels` bytes. */
  data: Uint8Array;
}

/** One labelled sample of a data set; its pixels are read lazily by {@linkcode LoadedDataset.loadImage}. */
export interface DatasetSample {
  /** Stable id, unique within the data set (e.g. `FER2013Train/fer0000000.png`). */
  id: string;
  /** Split the sample belongs to (`train`, `valid`, `test`). */
  split: string;
  /** Class index into {@linkcode LoadedDataset.classNames}. */
  label: number;
  /** Soft label (e.g. FER+ vote distribution over the classes), summing to 1, when the set has one. */
  soft?: number[];
  /** Group id (video or subject) where the data set has groups; used by data refinement. */
  group?: string;
  /** Absolute path of the image file, when it is a file. */
  path?: string;
  /**
   * Face box `[x, y, width, height]` in pixels, when the data set gives one and the image is not
   * already cropped to it (AffectNet); `loadImage` returns the crop (clamped to the image).
   */
  box?: [number, number, number, number];
}

/** A sample the loader skipped, with the reason (counted and listed, never silently dropped). */
export interface SkippedItem {
  /** What was skipped (file name, row number...). */
  item: string;
  /** Why. */
  reason: string;
  /**
   * What kind of item: `"file"` for an image file that cannot be used (unreadable, corrupt,
   * unsupported), counted against `data.maxSkippedFraction`; `"face"` for an image in which no
   * face was detected; absent for rows, classes and other items.
   */
  kind?: "file" | "face";
}

/** A loaded data set: the samples of the requested splits and how to read their pixels. */
export interface LoadedDataset {
  /** Data set name (`ferplus`, `rafdb`, `synthetic`...). */
  name: string;
  /** Class names in the data set's own order. */
  classNames: string[];
  /** The samples. */
  samples: DatasetSample[];
  /** Items skipped while loading, with reasons. */
  skipped: SkippedItem[];
  /** Decodes one sample's image. @throws Error naming the file when it is corrupt. */
  loadImage(sample: DatasetSample): Promise<RawImage>;
  /**
   * For sets whose splits the loader assigns (folders, JAFFE, FERG-DB): assigns them again, in
   * place, to a subset of the samples (the ones left after unusable files are skipped), so that
   * the splits stay stratified. Absent for sets with their own splits.
   */
  reassignSplits?(samples: DatasetSample[]): void;
}
