#!/usr/bin/env bash
# Runs the reliability-balancing study (experiments/rb-dynamics.json) in the order that decides it
# soonest, as a sequence of resumable sweeps: each skips finished runs and resumes interrupted ones,
# so the queue can be killed and started again at any point.
#
#   bash scripts/study_queue.sh [PARALLEL]      (default 2 child processes at once)
#
# 1. seeds 0–2 of the provisional default (aux-primary, dropout → BN 0.5) and of the literal
#    paper variant with the same head (the paired baseline);
# 2. seeds 0–2 of the most accurate cell (aux-primary, BN → dropout 0.5);
# 3. seed 0 of every other cell, in the experiment's order;
# 4. seeds 1–2 of every cell.
set -euo pipefail
cd "$(dirname "$0")/.."
parallel=${1:-2}
sweep() { node_modules/.bin/deno task grefel sweep --experiment rb-dynamics --parallel "$parallel" "$@"; }
sweep --seeds 3 --variant training=aux-primary,head=dropout-bn-0.5 --variant training=paper,head=dropout-bn-0.5
sweep --seeds 3 --variant training=aux-primary,head=bn-dropout-0.5
sweep --seeds 1
sweep --seeds 3
