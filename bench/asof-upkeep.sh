#!/usr/bin/env bash
# Issue 18's write target (bench/README.md, "asOf (issue 18)"): write throughput with the as-of upkeep within 10% of
# the same build without it. Builds the API twice from a temporary git worktree of HEAD: "on" as committed, "off" with
# bench/asof-upkeep-off.patch applied (Api/Ledger/AsOfChanges.cs and Rollups.cs skip only the as-of upkeep: the
# changes, their digest hashing, the group's upserts and fold, the asof_voids insert; everything else, the other
# rollups included, unchanged). Then $RUNS rounds, each on fresh databases, in the order on, off (A B A B): single
# durable POSTs (wrk -c$CONNECTIONS, a 3 s warm-up then $DURATION s, bench/post.lua; then "bench/post.lua spread",
# every POST in another as-of key) and $ROWS events via POST /events/batch (10,000 per request, 2 connections).
#   RUNS=3 DURATION=10 CONNECTIONS=32 ROWS=1000000 PORT=5980 REV=HEAD (the commit both builds come from)
# Results: bench/out/asof-upkeep-<time>/summary.md (runs.tsv, wrk outputs, server logs; databases deleted).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
REV=${REV:-HEAD} RUNS=${RUNS:-3} DURATION=${DURATION:-10} CONNECTIONS=${CONNECTIONS:-32} ROWS=${ROWS:-1000000} PORT=${PORT:-5980}
URL=http://127.0.0.1:$PORT
OUT=$ROOT/bench/out/asof-upkeep-$(date -u +%Y%m%dT%H%M%SZ)
PATCH=$ROOT/bench/asof-upkeep-off.patch
mkdir -p "$OUT"
. "$ROOT/bench/lib.sh"

TREE=$(mktemp -d /tmp/tally-asof-upkeep.XXXXXX)
SERVER_PID=
cleanup() {
  [ -n "$SERVER_PID" ] && stop "$SERVER_PID"
  git -C "$ROOT" worktree remove --force "$TREE" 2>/dev/null || rm -rf "$TREE"
  rm -f "$OUT"/*.db "$OUT"/*.db-wal "$OUT"/*.db-shm
}
trap cleanup EXIT

need_wrk
echo "== builds: $REV as committed (on) and with $(basename "$PATCH") (off)"
git -C "$ROOT" worktree add --detach -q "$TREE" "$REV"
[ -z "$(git -C "$ROOT" status --porcelain -- Api)" ] || echo "note: uncommitted changes under Api/ are in neither build (both are $REV)"
dotnet build -c Release "$TREE/Api/Api.csproj" -v q -nologo -o "$OUT/build-on" >/dev/null
if ! git -C "$TREE" apply --check "$PATCH" 2>"$OUT/patch-check.txt"; then
  echo "FAILED: $PATCH no longer applies to $REV's Api/Ledger/AsOfChanges.cs and Rollups.cs:" >&2
  cat "$OUT/patch-check.txt" >&2
  echo "Regenerate it against the new files (bench/README.md, \"asOf (issue 18)\")." >&2
  exit 1
fi
git -C "$TREE" apply "$PATCH"
dotnet build -c Release "$TREE/Api/Api.csproj" -v q -nologo -o "$OUT/build-off" >/dev/null
dotnet build -c Release "$ROOT/bench/Bench/Bench.csproj" -v q -nologo >/dev/null
BENCH_DLL=$ROOT/bench/Bench/bin/Release/net10.0/Tally.Bench.dll
echo "uptime at start: $(uptime)" | tee "$OUT/uptime.txt"

: >"$OUT/runs.tsv"
for run in $(seq "$RUNS"); do
  echo "== round $run of $RUNS"
  for build in on off; do
    TALLY_DLL=$OUT/build-$build/Tally.Api.dll
    start_tally "$OUT/single-$build.db" "$PORT"
    rate=$(post_load "$build-$run" "$URL" /api/v1/events "$KEY"); stop "$SERVER_PID"; SERVER_PID=
    printf 'single\t%s\t%s\t%s\t%s\n' "$run" "$build" "$rate" "$(load_average)" | tee -a "$OUT/runs.tsv"
  done
  # The same with every request in another as-of key (bench/post.lua spread): 120 keys, so the POSTs of a group rarely share a row.
  for build in on off; do
    TALLY_DLL=$OUT/build-$build/Tally.Api.dll
    start_tally "$OUT/single-$build.db" "$PORT"
    rate=$(POST_KEYS=spread post_load "spread-$build-$run" "$URL" /api/v1/events "$KEY"); stop "$SERVER_PID"; SERVER_PID=
    printf 'spread\t%s\t%s\t%s\t%s\n' "$run" "$build" "$rate" "$(load_average)" | tee -a "$OUT/runs.tsv"
  done
  for build in on off; do
    TALLY_DLL=$OUT/build-$build/Tally.Api.dll
    start_tally "$OUT/batch-$build.db" "$PORT"
    line=$(dotnet "$BENCH_DLL" batch --url "$URL" --key "$KEY" --rows "$ROWS" --per 10000 --connections 2 --run "run$run-$build" --pid "$SERVER_PID")
    echo "$build $line" >>"$OUT/batch.log"
    # The off build must really have skipped the upkeep, the on build kept it.
    table=$(sqlite3 "$OUT/batch-$build.db" "SELECT name FROM sqlite_master WHERE name IN ('asof_hour_rollups', 'asof_rollups')")
    asof=$(sqlite3 "$OUT/batch-$build.db" "SELECT count(*) FROM $table")
    stop "$SERVER_PID"; SERVER_PID=
    printf 'batch\t%s\t%s\t%s\t%s\t%s\n' "$run" "$build" "$(echo "$line" | field rows_per_s)" "$(load_average)" "$asof" | tee -a "$OUT/runs.tsv"
    if { [ "$build" = on ] && [ "$asof" = 0 ]; } || { [ "$build" = off ] && [ "$asof" != 0 ]; }; then
      echo "FAILED: the $build build left $asof $table rows" >&2
      exit 1
    fi
    rm -f "$OUT/batch-$build.db" "$OUT/batch-$build.db-wal" "$OUT/batch-$build.db-shm"
  done
  rm -f "$OUT"/single-*.db "$OUT"/single-*.db-wal "$OUT"/single-*.db-shm
done
echo "uptime at end: $(uptime)" | tee -a "$OUT/uptime.txt"

col() { awk -F'\t' -v k="$1" -v b="$2" '$1 == k && $3 == b { print $4 }' "$OUT/runs.tsv"; }
each() { col "$1" "$2" | paste -sd' ' | sed 's/ /, /g'; }
s_on=$(col single on | median); s_off=$(col single off | median)
p_on=$(col spread on | median); p_off=$(col spread off | median)
b_on=$(col batch on | median); b_off=$(col batch off | median)
{
  echo "# As-of upkeep: write throughput with and without it $(basename "$OUT")"
  echo
  echo "$(nproc) cores. RUNS=$RUNS DURATION=${DURATION}s CONNECTIONS=$CONNECTIONS ROWS=$ROWS; $REV = $(git -C "$ROOT" log -1 --format='%h %s' "$REV" | cut -c1-90)"
  cat "$OUT/uptime.txt"
  echo
  echo "| figure | with as-of upkeep (on) | without (off) | on / off | target | each round (on; off) |"
  echo "|---|---|---|---|---|---|"
  echo "| single durable POST /events, req/s (median of $RUNS) | $s_on | $s_off | $(ratio "$s_on" "$s_off") | >= 0.90 | $(each single on); $(each single off) |"
  echo "| the same, each POST in another as-of key (bench/post.lua spread), req/s | $p_on | $p_off | $(ratio "$p_on" "$p_off") | >= 0.90 | $(each spread on); $(each spread off) |"
  echo "| $ROWS events via POST /events/batch (10k/request, 2 conn.), rows/s (median of $RUNS) | $b_on | $b_off | $(ratio "$b_on" "$b_off") | >= 0.90 | $(each batch on); $(each batch off) |"
  echo
  echo "Per run (runs.tsv: figure, round, build, rate, load average[, as-of hour rows after the batches]):"
  sed 's/^/    /' "$OUT/runs.tsv"
} >"$OUT/summary.md"
cat "$OUT/summary.md"
