#!/usr/bin/env bash
# Commits each finished run of an experiment as it finishes (config.json, log.jsonl, metrics.json,
# predictions.csv and, for runs with a weight average, predictions-raw.csv; checkpoints and
# embeddings stay out), so a sweep that outlives the session loses
# nothing it computed. Runs until killed; checks every INTERVAL seconds (default 60).
#
#   bash scripts/commit_runs.sh EXPERIMENT[,EXPERIMENT...] [INTERVAL] [SNAPSHOT]
#
# Every SNAPSHOT seconds (default 1800; 0: never) it also refreshes the checkpoint archives of the
# unfinished runs (scripts/checkpoint_snapshots.sh save, not committed: they are large), so that the
# archives a session commits at its end, or leaves behind when it ends abruptly, are recent.
#
# Only the run's own files are committed (`git add -f`, past .gitignore rules written for the
# short runs, then `git commit -- PATHS`), so other staged work is left
# alone; a commit that finds the index locked is retried on the next pass.
set -uo pipefail
cd "$(dirname "$0")/.."
exps=${1:?usage: commit_runs.sh EXPERIMENT[,EXPERIMENT...] [INTERVAL]}
interval=${2:-60}
snapshot=${3:-1800}
last_snapshot=$(date +%s)
IFS=, read -r -a explist <<< "$exps"
while true; do
  for exp in "${explist[@]}"; do
  for m in results/"$exp"/*/metrics.json; do
    [ -f "$m" ] || continue
    d=$(dirname "$m")
    if git ls-files --error-unmatch "$m" >/dev/null 2>&1 && git diff --quiet -- "$d"; then
      continue
    fi
    files=()
    for f in config.json log.jsonl metrics.json predictions.csv predictions-raw.csv; do
      [ -f "$d/$f" ] && files+=("$d/$f")
    done
    variant=$(python3 -c "import json,sys; c=json.load(open('$d/config.json')); print(c.get('variant', ''), 'seed', c.get('seed'))" 2>/dev/null)
    git add -f -- "${files[@]}" 2>/dev/null &&
      git commit -q -m "results/$exp: run $(basename "$d") finished ($variant)" -- "${files[@]}" &&
      echo "$(date -u +%FT%TZ) committed $d ($variant)"
  done
  done
  if [ "$snapshot" -gt 0 ] && [ $(($(date +%s) - last_snapshot)) -ge "$snapshot" ]; then
    for exp in "${explist[@]}"; do bash scripts/checkpoint_snapshots.sh save "$exp"; done
    last_snapshot=$(date +%s)
  fi
  sleep "$interval"
done
