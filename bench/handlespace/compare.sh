#!/usr/bin/env bash
# Runs RSPLIB's hsbench and Poolgate's handlespace bench interleaved, REPEAT times, on the
# same CPU core, and prints one side-by-side table (medians) with RSPLIB's tomd.sh.
#
#   bench/handlespace/compare.sh                       # N = 100, 10 000, 100 000; 3 pairs
#   REPEAT=5 bench/handlespace/compare.sh --pes 10000   # other hsbench options pass through
#   RSPLIB_HS=/path/to/rsplib-hs OUT=/tmp/cmp.jsonl bench/handlespace/compare.sh
#
# RSPLIB_HS is shared/bench/rsplib-hs (its run.sh apt-get installs librsplib3 and builds).
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
RSPLIB_HS="${RSPLIB_HS:-$ROOT/../shared/bench/rsplib-hs}"
REPEAT="${REPEAT:-3}"
OUT="${OUT:-$(mktemp -t handlespace-compare.XXXXXX.jsonl)}"
args=("$@")
[ "${#args[@]}" -gt 0 ] || args=(--pes 100,10000,100000)
CPU="$(taskset -cp $$ | sed 's/.*: //' | tr ',' '\n' | sed 's/.*-//' | sort -n | tail -1)"
: > "$OUT"
for k in $(seq 1 "$REPEAT"); do
   echo "compare.sh: pair $k/$REPEAT on CPU $CPU, load $(cut -d' ' -f1-3 /proc/loadavg)" >&2
   "$RSPLIB_HS/run.sh" --cpu "$CPU" "${args[@]}" >> "$OUT"
   taskset -c "$CPU" deno run --v8-flags=--expose-gc --allow-all "$ROOT/bench/handlespace_bench.ts" \
      "${args[@]}" >> "$OUT"
done
echo "compare.sh: raw JSON lines in $OUT" >&2
"$RSPLIB_HS/tomd.sh" "$OUT"
