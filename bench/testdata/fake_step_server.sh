#!/bin/sh
# A stand-in step server for bench/ab_torch_test.ts (protocol: bench/step_protocol.ts).
# Usage: sh fake_step_server.sh WALL [MODE] [N] [THREADS]
#   Answers every {"steps": k} with k steps of WALL seconds (CPU: half of it), without sleeping.
#   MODE: ok (default); exit (fails before ready); crash (exits on command N+1);
#   hang (never answers command N+1); linger (does not exit when its input ends).
#   It prints a non-protocol line first, as libraries do.
wall=$1
mode=${2:-ok}
n=${3:-0}
threads=${4:-1}
echo "a library warning on stdout"
if [ "$mode" = exit ]; then
  echo "fake start failure" >&2
  exit 3
fi
echo "{\"ready\": {\"kind\": \"fake\", \"pid\": $$, \"threads\": $threads, \"tcmalloc\": false}}"
answered=0
while IFS= read -r line; do
  if [ "$answered" -ge "$n" ]; then
    if [ "$mode" = crash ]; then
      echo "fake crash" >&2
      exit 4
    fi
    # exec: the sleep replaces this shell, so killing the server's pid stops it.
    if [ "$mode" = hang ]; then exec sleep 600; fi
  fi
  k=$(echo "$line" | sed -n 's/.*"steps": *\([0-9][0-9]*\).*/\1/p')
  cpu=$(echo "$wall" | awk '{ print $1 / 2 }')
  w=$wall
  c=$cpu
  i=1
  while [ "$i" -lt "$k" ]; do
    w="$w, $wall"
    c="$c, $cpu"
    i=$((i + 1))
  done
  echo "{\"wall\": [$w], \"cpu\": [$c]}"
  answered=$((answered + 1))
done
if [ "$mode" = linger ]; then exec sleep 600; fi
