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
# 3. the study's required grid — every training variant (paper, trust-ramp, aux-primary,
#    detach-confidence) × head dropout {0, 0.5 in the paper's order} — seed 0 of the cells not yet
#    started, then seeds 1–2 of all eight;
# 4. seed 0 of every other cell (the other head order, aux-branches, the combinations), in the
#    experiment's order; 5. seeds 1–2 of every cell.
set -euo pipefail
cd "$(dirname "$0")/.."
parallel=${1:-2}
sweep() { node_modules/.bin/deno task grefel sweep --experiment rb-dynamics --parallel "$parallel" "$@"; }
sweep --seeds 3 --variant training=aux-primary,head=dropout-bn-0.5 --variant training=paper,head=dropout-bn-0.5
sweep --seeds 3 --variant training=aux-primary,head=bn-dropout-0.5
required=()
for t in paper trust-ramp aux-primary detach-confidence; do
  for h in dropout-0 dropout-bn-0.5; do required+=(--variant "training=$t,head=$h"); done
done
sweep --seeds 1 "${required[@]}"
sweep --seeds 3 "${required[@]}"
sweep --seeds 1
sweep --seeds 3
