#!/usr/bin/python3
"""Golden values for lib/eval (metrics_test.ts, cluster_test.ts), computed with scikit-learn.

Run with Debian's python3-sklearn (`/usr/bin/python3 scripts/golden_sklearn.py`); it rewrites
lib/eval/testdata/golden.json with the fixed seeded inputs and scikit-learn's outputs, so the
TypeScript tests read the same data and need no Python at test time.
"""
import json
import os
import subprocess
import warnings

import numpy as np
import sklearn
from sklearn.decomposition import PCA
from sklearn.manifold import trustworthiness
from sklearn.metrics import (
    accuracy_score,
    balanced_accuracy_score,
    calinski_harabasz_score,
    confusion_matrix,
    davies_bouldin_score,
    f1_score,
    precision_recall_fscore_support,
)

warnings.filterwarnings("ignore")  # zero_division and "y_pred contains classes not in y_true"
OUT = os.path.join(os.path.dirname(__file__), "..", "lib", "eval", "testdata", "golden.json")


def ece(probs, labels, bins=15):
    """Guo et al. 2017 ECE, bins ((m-1)/M, m/M], written independently of lib/eval/metrics.ts."""
    conf = probs.max(axis=1)
    pred = probs.argmax(axis=1)
    b = np.clip(np.ceil(conf * bins).astype(int) - 1, 0, bins - 1)
    total = 0.0
    for m in range(bins):
        sel = b == m
        if sel.any():
            total += sel.mean() * abs((pred[sel] == labels[sel]).mean() - conf[sel].mean())
    return float(total)


def classification_case(name, y_true, y_pred, num_classes, probs=None):
    labels = list(range(num_classes))
    p, r, f, s = precision_recall_fscore_support(
        y_true, y_pred, labels=labels, average=None, zero_division=0
    )
    case = {
        "name": name,
        "numClasses": num_classes,
        "labels": [int(v) for v in y_true],
        "preds": [int(v) for v in y_pred],
        "accuracy": accuracy_score(y_true, y_pred),
        "confusionMatrix": confusion_matrix(y_true, y_pred, labels=labels).tolist(),
        "macroF1": f1_score(y_true, y_pred, average="macro"),
        "macroF1AllClasses": f1_score(y_true, y_pred, labels=labels, average="macro"),
        "balancedAccuracy": balanced_accuracy_score(y_true, y_pred),
        "precision": p.tolist(),
        "recall": r.tolist(),
        "f1": f.tolist(),
        "support": s.tolist(),
    }
    if probs is not None:
        case["probs"] = probs.tolist()
        case["ece15"] = ece(probs, y_true)
        case["distributionStd"] = probs.std(axis=1).tolist()  # population std (ddof=0)
    return case


def cluster_case(name, x, labels):
    return {
        "name": name,
        "x": x.tolist(),
        "labels": [int(v) for v in labels],
        "daviesBouldin": davies_bouldin_score(x, labels),
        "calinskiHarabasz": calinski_harabasz_score(x, labels),
    }


def main():
    rng = np.random.default_rng(20240607)
    cls = []

    # A: 7 classes, 200 samples, predictions from noisy softmax distributions.
    n, c = 200, 7
    y = rng.integers(0, c, n)
    logits = rng.normal(0, 1.5, (n, c))
    logits[np.arange(n), y] += 1.5
    probs = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    cls.append(classification_case("random7", y, probs.argmax(axis=1), c, probs))

    # B: class 2 never predicted, class 4 absent from y_true, class 5 in neither.
    n, c = 120, 6
    y = rng.choice([0, 1, 2, 3], n)
    pred = np.where(rng.random(n) < 0.6, y, rng.choice([0, 1, 3, 4], n))
    pred[pred == 2] = 4
    cls.append(classification_case("edge-missing-classes", y, pred, c))

    # C: perfect predictions, 3 classes.
    y = rng.integers(0, 3, 30)
    cls.append(classification_case("perfect3", y, y.copy(), 3))

    clu = []
    # Gaussian blobs, non-contiguous labels {0, 3, 7, 9}.
    centers = rng.normal(0, 4, (4, 16))
    lab = rng.choice([0, 3, 7, 9], 300)
    idx = np.searchsorted([0, 3, 7, 9], lab)
    x = centers[idx] + rng.normal(0, 1.0, (300, 16))
    clu.append(cluster_case("blobs16", x, lab))
    # Overlapping clusters with an offset far from the origin (cancellation check).
    lab = rng.integers(0, 5, 150)
    x = 1000.0 + rng.normal(0, 1, (150, 64)) + 0.3 * lab[:, None]
    clu.append(cluster_case("offset64", x, lab))
    # A singleton cluster (zero intra distance) among others.
    lab = np.array([0] * 10 + [1] * 10 + [2])
    x = rng.normal(0, 1, (21, 5))
    x[:10] += 3
    clu.append(cluster_case("singleton", x, lab))
    # Two clusters with identical centroids (centroid distance 0 → ∞ in DB).
    # Integer points symmetric about 0, so both centroids are exactly 0 in any summation order.
    a, b = rng.integers(-3, 4, (4, 3)), rng.integers(-5, 6, (4, 3))
    x = np.concatenate([a, -a, b, -b, rng.normal(5, 1, (8, 3))]).astype(float)
    lab = np.array([0] * 8 + [1] * 8 + [2] * 8)
    clu.append(cluster_case("same-centroid", x, lab))

    # Embedding quality and PCA (lib/eval/neighbors.ts, lib/eval/pca.ts).
    x = rng.normal(0, 1, (60, 6)) * np.array([3, 2, 1.5, 1, 0.5, 0.2])
    y2 = x[:, :2] + rng.normal(0, 0.5, (60, 2))
    tw = {
        "x": x.tolist(),
        "y": y2.tolist(),
        "k5": trustworthiness(x, y2, n_neighbors=5),
        "k10": trustworthiness(x, y2, n_neighbors=10),
    }
    p = PCA(n_components=4, svd_solver="full").fit(x)
    pc = {
        "x": x.tolist(),
        "k": 4,
        "explainedVariance": p.explained_variance_.tolist(),
        "components": p.components_.tolist(),
    }

    doc = {
        "generator": "scripts/golden_sklearn.py",
        "sklearn": sklearn.__version__,
        "numpy": np.__version__,
        "classification": cls,
        "cluster": clu,
        "trustworthiness": tw,
        "pca": pc,
    }
    with open(OUT, "w") as f:
        json.dump(doc, f)
        f.write("\n")
    # Keep the file as `deno fmt` writes it, so `deno fmt --check` passes.
    deno = os.path.join(os.path.dirname(__file__), "..", "node_modules", ".bin", "deno")
    if os.path.exists(deno):
        subprocess.run([deno, "fmt", "--quiet", OUT], check=True)
    print(f"wrote {os.path.normpath(OUT)}")


if __name__ == "__main__":
    main()
