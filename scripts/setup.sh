#!/usr/bin/env bash
# Installs everything grefel needs on a fresh Debian machine with Node.js and npm (run as root, or
# with sudo available): Debian packages, then Deno and the npm packages pinned in package-lock.json.
# Idempotent: it installs only what is missing.
#
# Usage: scripts/setup.sh [--bench]
#   --bench  also the PyTorch reference of `deno task bench` (bench/torch_grefel.py,
#            bench/ab_torch.ts); without these the bench skips its PyTorch settings and says why.
set -euo pipefail
cd "$(dirname "$0")/.."

BENCH=0
for arg in "$@"; do
  case "$arg" in
    --bench) BENCH=1 ;;
    *)
      echo "usage: scripts/setup.sh [--bench]" >&2
      exit 2
      ;;
  esac
done

# Debian packages:
#   mesa-vulkan-drivers  software Vulkan (lavapipe): a real WebGPU adapter for Deno without a GPU
#   jupyter-nbconvert    Jupyter (jupyter CLI, nbformat) for the notebooks in notebooks/
#   python3-nbclient     headless notebook execution (scripts/run_notebooks.py, Debian's python3)
#   jupyter-notebook     the classic Notebook front end (scripts/notebook.sh; Debian has no JupyterLab)
#   jupyter-nbformat     `jupyter trust`, to show a committed notebook's interactive figures
#   chromium             headless browser for SVG/PNG figure export (lib/notebook/export.ts) and
#                        the browser test of the notebooks (lib/notebook/notebooks_ui_test.ts)
#   fonts-liberation     fonts for the text in exported figures
DEB_PACKAGES=(mesa-vulkan-drivers jupyter-nbconvert python3-nbclient jupyter-notebook jupyter-nbformat
  chromium fonts-liberation)
# With --bench:
#   python3-torch         PyTorch (CPU) for /usr/bin/python3: the reference training step
#   libgoogle-perftools4  tcmalloc, preloaded into the PyTorch settings that use it
#   libopenblas0-pthread  OpenBLAS as the libblas.so.3 alternative Debian's torch calls; without it
#                         the reference BLAS makes PyTorch's step several times slower
if [ "$BENCH" -eq 1 ]; then
  DEB_PACKAGES+=(python3-torch libgoogle-perftools4 libopenblas0-pthread)
fi
missing=()
for p in "${DEB_PACKAGES[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  echo "setup: installing Debian packages: ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# Deno (npm package "deno") and the npm packages, exactly as locked.
if [ ! -x node_modules/.bin/deno ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "setup: npm ci"
  npm ci --no-audit --no-fund --loglevel=error
fi
node_modules/.bin/deno --version | head -1

# The Deno Jupyter kernel, pointing at this checkout's deno (--force: a checkout elsewhere, as in
# CI, repoints it). Written under $XDG_DATA_HOME/jupyter/kernels/deno (default ~/.local/share).
node_modules/.bin/deno jupyter --install --force >/dev/null 2>&1 ||
  echo "setup: warning: deno jupyter --install failed; notebook tests will be skipped"
