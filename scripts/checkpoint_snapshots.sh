#!/usr/bin/env bash
# Keeps the checkpoints of an experiment's unfinished runs in the repository, so a long study
# resumes on a machine that does not have this one's results folder (checkpoints are not committed
# with the runs: they are rewritten every epoch).
#
#   bash scripts/checkpoint_snapshots.sh save EXPERIMENT     # results/EXPERIMENT-checkpoints/<id>.tar
#   bash scripts/checkpoint_snapshots.sh restore EXPERIMENT  # unpacks where a run lacks checkpoints
#
# `save` archives checkpoints/ of every run without metrics.json, checks that each archived
# checkpoint.json names a weights file that is in the archive (a run may write a new checkpoint
# while it is archived; then it tries again), and removes the archives of runs that have finished.
# `restore` never overwrites a checkpoint that exists.
set -euo pipefail
cd "$(dirname "$0")/.."
mode=${1:?usage: checkpoint_snapshots.sh save|restore EXPERIMENT}
exp=${2:?usage: checkpoint_snapshots.sh save|restore EXPERIMENT}
store="results/${exp}-checkpoints"

consistent() { # ARCHIVE: every checkpoint.json in it names a weights file that is in it
  python3 - "$1" <<'EOF'
import json, sys, tarfile
with tarfile.open(sys.argv[1]) as t:
    names = set(t.getnames())
    for n in names:
        if n.endswith("/checkpoint.json"):
            w = json.load(t.extractfile(n))["weightsFile"]
            if n.rsplit("/", 1)[0] + "/" + w not in names:
                sys.exit(1)
EOF
}

case "$mode" in
save)
  mkdir -p "$store"
  for d in results/"$exp"/*/; do
    d=${d%/}
    id=$(basename "$d")
    if [ -f "$d/metrics.json" ]; then
      rm -f "$store/$id.tar"
      continue
    fi
    [ -f "$d/checkpoints/last/checkpoint.json" ] || continue
    for attempt in 1 2 3 4 5; do
      tar -cf "$store/$id.tar.tmp" -C "$d" checkpoints
      if consistent "$store/$id.tar.tmp"; then
        mv "$store/$id.tar.tmp" "$store/$id.tar"
        echo "saved $d/checkpoints -> $store/$id.tar"
        break
      fi
      rm -f "$store/$id.tar.tmp"
      sleep 5
    done
  done
  ;;
restore)
  [ -d "$store" ] || exit 0
  for a in "$store"/*.tar; do
    [ -f "$a" ] || continue
    id=$(basename "$a" .tar)
    d="results/$exp/$id"
    if [ -f "$d/metrics.json" ] || [ -e "$d/checkpoints/last/checkpoint.json" ]; then
      continue
    fi
    mkdir -p "$d"
    tar -xf "$a" -C "$d"
    echo "restored $d/checkpoints from $a"
  done
  ;;
*)
  echo "usage: checkpoint_snapshots.sh save|restore EXPERIMENT" >&2
  exit 2
  ;;
esac
