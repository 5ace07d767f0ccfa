/**
 * The pre-processing scan, run once over a data set before any feature extraction: every image
 * file is decoded (so a corrupt, truncated, empty or unsupported file is found here, skipped and
 * listed with its reason, instead of stopping a run part-way through extraction), and, with face
 * cropping on, a face detector runs on every image; images without a face are skipped and listed,
 * the others are served as aligned face crops (lib/data/faces.ts).
 *
 * **Cache.** Results are stored in `<cacheDir>/scan/<dataset>-<key>.json`, one entry per image
 * keyed by its **content hash** (SHA-1 of the file bytes, or of the decoded pixels for in-memory
 * data sets), like the feature cache; `key` hashes the detector (name, version) and its minimum
 * score. An entry holds the image size, or the decode error, and the chosen face (box, score,
 * keypoints). Decision: the crops themselves are not stored: a crop is a deterministic function of
 * the image, the stored detection and the crop settings (margin, side, alignment), re-rendered in
 * about a millisecond, while storing the pixels would cost tens of kB per image; the expensive
 * part, detection, is what the cache saves. The index is written atomically, also every 500 new
 * entries, so an interrupted scan resumes.
 *
 * In-memory data sets (FER2013 rows, synthetic faces) cannot have unreadable files and are only
 * scanned when faces are detected.
 * @module
 */
import cliProgress from "cli-progress";
import { createHash } from "node:crypto";
import { join } from "node:path";
import process from "node:process";
import type { FaceDetection, FaceDetector } from "../extractors/blazeface.ts";
import { decodeImage, ImageDecodeError } from "./image.ts";
import { alignedFaceCrop, type FaceCropParams, pickFace } from "./faces.ts";
import type { DatasetSample, LoadedDataset, RawImage, SkippedItem } from "./types.ts";
import { writeFileAtomic } from "../run/atomic.ts";

/** Version of the scan index format; part of the key. */
export const SCAN_FORMAT = 1;

/** Face detection settings of a scan. */
export interface FaceScanOptions {
  /** The detector (loaded by the caller, who disposes it). */
  detector: FaceDetector;
  /** Smallest detection score that counts as a face. */
  minScore: number;
  /** How the chosen face is cropped. */
  crop: FaceCropParams;
}

/** Options of {@linkcode scanDataset}. */
export interface ScanOptions {
  /** Parent directory of the scan index (default `results/cache`). */
  cacheDir?: string;
  /** Detect and crop faces (default: no). */
  faces?: FaceScanOptions | null;
  /** Progress bar on stderr (default false). */
  progress?: boolean;
}

/** One image's scan result. */
export interface ScanEntry {
  /** Width, height, channels of the decoded image (absent when it failed). */
  size?: [number, number, number];
  /** Why it could not be decoded. */
  error?: string;
  /** The chosen face; null when none was found; absent when faces were not searched. */
  face?: FaceDetection | null;
}

/** What a scan found. */
export interface ScanStats {
  /** Images looked at. */
  images: number;
  /** Of them, answered from the cache. */
  cached: number;
  /** Images that failed to decode. */
  failed: number;
  /** Face statistics (null when faces were not searched). */
  faces: {
    /** Images searched (the decodable ones). */
    searched: number;
    /** Images with a face. */
    found: number;
    /** found / searched. */
    rate: number;
    /** Median of the face box side over the image's shorter side (1 ≈ already a face crop). */
    medianFaceFraction: number | null;
  } | null;
  /** Smallest, median and largest image side (shorter side), over decoded images. */
  sides: { min: number; median: number; max: number } | null;
}

/** What {@linkcode scanDataset} returns. */
export interface ScanResult {
  /** The usable samples; with faces, `loadImage` returns the aligned crop. */
  dataset: LoadedDataset;
  /** Files skipped by the scan (`kind` `"file"`: undecodable, `"face"`: no face). */
  skipped: SkippedItem[];
  /** Counts. */
  stats: ScanStats;
  /** Key of the face pre-processing (detector, score, crop settings); null without faces. */
  facesKey: string | null;
}

function sha1(data: Uint8Array): string {
  return createHash("sha1").update(data).digest("hex");
}

const median = (xs: number[]) => {
  if (!xs.length) return null;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
};

/**
 * Scans `ds` (see the module doc): decodes every file-backed image, detects faces when asked, and
 * returns the usable samples with what was skipped and why.
 */
export async function scanDataset(ds: LoadedDataset, opts: ScanOptions = {}): Promise<ScanResult> {
  const faces = opts.faces ?? null;
  const params = {
    format: SCAN_FORMAT,
    faces: faces
      ? { detector: faces.detector.name, version: faces.detector.version, minScore: faces.minScore }
      : null,
  };
  const key = createHash("sha256").update(JSON.stringify(params)).digest("hex").slice(0, 16);
  const facesKey = faces
    ? `faces:${faces.detector.name}/${faces.detector.version}:score=${faces.minScore}:` +
      `margin=${faces.crop.margin}:size=${faces.crop.size}:align=${faces.crop.align}`
    : null;
  const todo = faces ? ds.samples : ds.samples.filter((s) => s.path);
  const dir = join(opts.cacheDir ?? join("results", "cache"), "scan");
  const indexPath = join(dir, `${ds.name}-${key}.json`);
  let index: Record<string, ScanEntry> = {};
  if (todo.length) {
    await Deno.mkdir(dir, { recursive: true });
    try {
      const saved = JSON.parse(await Deno.readTextFile(indexPath));
      if (saved?.key === key && saved.entries) index = saved.entries;
    } catch { /* no index yet, or unreadable: rebuilt */ }
  }
  const save = () => writeFileAtomic(indexPath, JSON.stringify({ key, params, entries: index }));
  const bar = opts.progress && todo.length
    ? new cliProgress.SingleBar({
      format: `scan ${ds.name}${faces ? " + faces" : ""} [{bar}] {value}/{total} images | ` +
        `ETA {eta_formatted}`,
      noTTYOutput: true,
      notTTYSchedule: 15000,
      stream: process.stderr,
    }, cliProgress.Presets.shades_classic)
    : null;
  bar?.start(todo.length, 0);
  const skipped: SkippedItem[] = [];
  const keep = new Set<DatasetSample>(ds.samples.filter((s) => !faces && !s.path));
  const chosen = new Map<string, FaceDetection>();
  let cached = 0, failed = 0, searched = 0, found = 0, fresh = 0;
  const sides: number[] = [], fractions: number[] = [];
  try {
    for (const s of todo) {
      let bytes: Uint8Array | null = null;
      let hash: string;
      let readError: string | null = null;
      let img: RawImage | null = null;
      if (s.path) {
        try {
          bytes = await Deno.readFile(s.path);
          hash = sha1(bytes);
        } catch (e) {
          readError = e instanceof Deno.errors.NotFound ? "file not found" : String(e);
          hash = `unreadable:${s.path}`;
        }
      } else {
        img = await ds.loadImage(s);
        hash = createHash("sha1").update(`${img.width}x${img.height}x${img.channels}:`)
          .update(img.data).digest("hex");
      }
      let entry = readError ? { error: readError } : index[hash];
      if (entry && !readError) cached++;
      if (!entry) {
        entry = {};
        try {
          if (!img) {
            img = s.box ? await ds.loadImage(s) : await decodeImage(bytes!, s.path!);
          }
          entry.size = [img.width, img.height, img.channels];
          if (faces) {
            const dets = await faces.detector.detect(img, { minScore: faces.minScore });
            entry.face = pickFace(dets);
          }
        } catch (e) {
          entry = {
            error: e instanceof ImageDecodeError
              ? e.reason
              : e instanceof Error
              ? e.message
              : String(e),
          };
        }
        if (!readError) {
          index[hash] = entry;
          if (++fresh % 500 === 0) await save();
        }
      }
      bar?.increment(1);
      if (entry.error) {
        failed++;
        skipped.push({ item: s.path ?? s.id, reason: entry.error, kind: "file" });
        continue;
      }
      sides.push(Math.min(entry.size![0], entry.size![1]));
      if (faces) {
        searched++;
        if (!entry.face) {
          skipped.push({
            item: s.path ?? s.id,
            reason: `no face detected (score ≥ ${faces.minScore})`,
            kind: "face",
          });
          continue;
        }
        found++;
        chosen.set(s.id, entry.face);
        fractions.push(
          Math.max(entry.face.box[2], entry.face.box[3]) / Math.min(entry.size![0], entry.size![1]),
        );
      }
      keep.add(s);
    }
    if (fresh) await save();
  } finally {
    bar?.stop();
  }
  let samples = ds.samples.filter((s) => keep.has(s));
  if (ds.reassignSplits && samples.length < ds.samples.length) {
    // Splits assigned by the loader are assigned again over the usable samples only.
    samples = samples.map((s) => ({ ...s }));
    ds.reassignSplits(samples);
  }
  const loadImage = faces
    ? async (sample: DatasetSample): Promise<RawImage> => {
      const face = chosen.get(sample.id);
      const img = await ds.loadImage(sample);
      return face ? alignedFaceCrop(img, face, faces.crop) : img;
    }
    : ds.loadImage;
  const sorted = [...sides].sort((a, b) => a - b);
  return {
    dataset: {
      ...ds,
      samples,
      skipped: [...ds.skipped, ...skipped],
      loadImage,
      reassignSplits: undefined,
    },
    skipped,
    facesKey,
    stats: {
      images: todo.length,
      cached,
      failed,
      faces: faces
        ? {
          searched,
          found,
          rate: searched ? found / searched : 0,
          medianFaceFraction: median(fractions),
        }
        : null,
      sides: sorted.length
        ? { min: sorted[0], median: sorted[Math.floor(sorted.length / 2)], max: sorted.at(-1)! }
        : null,
    },
  };
}
