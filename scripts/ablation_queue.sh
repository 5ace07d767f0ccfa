#!/usr/bin/env bash
# Trains the converged ablations (lib/notebook/ablation.ts ABLATIONS) in the `quick` profile, as a
# sequence of resumable sweeps: each skips finished runs (wherever their run id already finished,
# e.g. the reliability-balancing study's runs of the default variant) and resumes interrupted ones,
# so the queue can be killed and started again at any point. Written, documented, not started by
# any test; one run takes 10–35 min on the 2-core machine (two at a time).
#
#   bash scripts/ablation_queue.sh [LANES]      (default 2: that many runs train at once)
#
# Each lane walks the whole sequence below with one run at a time; a run that another lane trains
# when its turn comes is refused (its lock is held) and the lane takes the next one, so no core
# idles while the last run of a sweep finishes. A run refused for another lock (a feature cache the
# other lane is building) is taken up by the second pass, which runs once both lanes are through.
#
# 1. the headline cells at 5 seeds: Table 2 none and both, Table 6 K = 0 and K = 10;
# 2. the same cells under the averaged recipe (AVERAGED_RECIPE in lib/notebook/runs.ts, the
#    tables "… (averaged recipe)"), 5 seeds, after carrying over (first, before any lane starts) the
#    averaging study's runs that are its Table 2 `both` cell (`grefel adopt`: they differ only in
#    the tables' warm-up);
# 3. every other cell at 3 seeds, table by table (Tables 2, 3, 4, 5, 6, then the sub-grids of 7, 8).
#
# Each sweep gets the quick profile's config, and the table's own overrides, as flags (profileFlags
# in lib/notebook/sweeps.ts), so its run ids are the notebooks'. `deno task grefel progress
# --readme` reports what has finished.
set -euo pipefail
cd "$(dirname "$0")/.."
lanes=${1:-2}
deno=node_modules/.bin/deno
# The sweep flags of one ablation table (by its ABLATIONS name): its config as --set flags
# (flags), its cells as --variant flags (variants).
flags() {
  $deno eval "import { ablationPlan } from './lib/notebook/ablation.ts';
import { profileFlags } from './lib/notebook/sweeps.ts';
for (const f of profileFlags('quick', ablationPlan('$1').extra ?? {})) console.log(f);"
}
variants() {
  $deno eval "import { ablationPlan } from './lib/notebook/ablation.ts';
for (const v of ablationPlan('$1').variants) console.log('--variant=' + v);"
}
sweep() { $deno task grefel sweep --parallel 1 "$@" || echo "queue: a sweep of $2 ended with failures"; }
# Adoption only reads finished runs and copies them; it refuses (and a lane then trains) a run that
# the warm-up would have stopped differently.
mapfile -t fs < <(flags "Table 2 (averaged recipe)")
mapfile -t vs < <(variants "Table 2 (averaged recipe)")
$deno task grefel adopt --experiment table2-rb --seeds 5 "${fs[@]}" "${vs[@]}" \
  --from results/averaging || true
lane() {
  mapfile -t quick < <(flags "Table 2")
  sweep --experiment table2-rb --seeds 5 "${quick[@]}" --variant none --variant both
  sweep --experiment table6-anchors --seeds 5 "${quick[@]}" --variant K=0 --variant K=10
  for t in "Table 2 (averaged recipe):table2-rb" "Table 6 (averaged recipe):table6-anchors"; do
    mapfile -t fs < <(flags "${t%%:*}")
    mapfile -t vs < <(variants "${t%%:*}")
    sweep --experiment "${t##*:}" --seeds 5 "${fs[@]}" "${vs[@]}"
  done
  for t in "Table 2:table2-rb" "Table 3:table3-loss" "Table 4:table4-lambda" \
    "Table 5 (augmentation):table5-augment-noise" "Table 5 (label noise):table5-augment-noise" \
    "Table 6:table6-anchors" "Table 7:table7-anchors-noise" "Table 8:table8-anchors-smoothing"; do
    mapfile -t fs < <(flags "${t%%:*}")
    mapfile -t vs < <(variants "${t%%:*}")
    sweep --experiment "${t##*:}" --seeds 3 "${fs[@]}" "${vs[@]}"
  done
}
for pass in 1 2; do
  pids=()
  for ((i = 1; i <= lanes; i++)); do
    # Staggered, so that the lanes' first children do not race for the same run's lock; a later
    # lane also waits (up to 30 min) while the first lane's sweep builds a feature cache, instead of
    # walking its sequence refusing every run that needs it.
    (
      sleep $((20 * (i - 1)))
      if [ "$i" -gt 1 ]; then
        for _ in $(seq 180); do
          compgen -G "results/cache/*.lock" >/dev/null || break
          sleep 10
        done
      fi
      lane 2>&1 | sed -u "s/^/[pass $pass lane $i] /"
    ) &
    pids+=($!)
  done
  wait "${pids[@]}"
done
