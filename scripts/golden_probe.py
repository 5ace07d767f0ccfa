#!/usr/bin/python3
"""Golden values for lib/eval/probe_test.ts, computed with scikit-learn.

Run with Debian's python3-sklearn (`/usr/bin/python3 scripts/golden_probe.py`); it rewrites
lib/eval/testdata/probe_golden.json with seeded synthetic features and what scikit-learn's
StandardScaler + LogisticRegression(multinomial, lbfgs, tight tolerance) gives for them, so the
TypeScript test needs no Python.
"""
import json
import os
import warnings

import numpy as np
import sklearn
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler

warnings.filterwarnings("ignore")
OUT = os.path.join(os.path.dirname(__file__), "..", "lib", "eval", "testdata", "probe_golden.json")

rng = np.random.default_rng(7)
K, D, N_TRAIN, N_TEST = 4, 6, 160, 60
centres = rng.normal(0, 1.0, (K, D))
scales = rng.uniform(0.5, 3.0, D)  # unequal feature scales: standardisation matters


def draw(n):
    y = rng.integers(0, K, n)
    x = (centres[y] + rng.normal(0, 1.3, (n, D))) * scales + rng.normal(0, 2, D)
    return x.astype(np.float32), y


xtr, ytr = draw(N_TRAIN)
xte, yte = draw(N_TEST)
cases = []
for c in [0.01, 0.3, 10.0]:
    sc = StandardScaler().fit(xtr)
    lr = LogisticRegression(C=c, solver="lbfgs", tol=1e-10, max_iter=100000)
    lr.fit(sc.transform(xtr.astype(np.float64)), ytr)
    proba = lr.predict_proba(sc.transform(xte.astype(np.float64)))
    cases.append({
        "C": c,
        "coef": lr.coef_.T.ravel().tolist(),  # [D, K] row-major, as the probe stores W
        "intercept": lr.intercept_.tolist(),
        "testProba": proba.ravel().tolist(),
        "testAccuracy": float((proba.argmax(1) == yte).mean()),
    })

json.dump({
    "sklearn": sklearn.__version__,
    "numClasses": K,
    "dims": D,
    "trainX": xtr.ravel().tolist(),
    "trainY": ytr.tolist(),
    "testX": xte.ravel().tolist(),
    "testY": yte.tolist(),
    "scalerMean": StandardScaler().fit(xtr).mean_.tolist(),
    "scalerScale": StandardScaler().fit(xtr).scale_.tolist(),
    "cases": cases,
}, open(OUT, "w"), indent=None)
print("wrote", OUT)
