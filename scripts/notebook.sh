#!/usr/bin/env bash
# Opens grefel's notebooks in Jupyter's classic Notebook (Debian's jupyter-notebook, installed by
# scripts/setup.sh): `jupyter notebook notebooks/` run as `jupyter-notebook` (Debian's, also when a
# pyenv or venv `jupyter` comes first on PATH), plus --allow-root when run as root (the Notebook
# refuses root without it). Extra arguments go to `jupyter notebook` (--no-browser,
# --port=8889, ...). The profile comes from the environment: GREFEL_PROFILE=quick scripts/notebook.sh
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v jupyter-notebook >/dev/null 2>&1; then
  echo "notebook.sh: jupyter-notebook is missing; run scripts/setup.sh" >&2
  exit 2
fi
root=()
[ "$(id -u)" -eq 0 ] && root=(--allow-root)
# exec: the server runs as this process (same pid), so stopping this stops the server.
exec jupyter-notebook --notebook-dir="$PWD/notebooks" "${root[@]}" "$@"
