#!/usr/bin/env bash
# Ledger benchmarks (bench/README.md): each measurement beside its baseline, in the same run, medians of $RUNS runs.
#   1. single POST /events (synchronous=FULL, group commit) vs a bare minimal API, one transaction per request,
#      at synchronous=NORMAL and at FULL (wrk, $CONNECTIONS connections, $DURATION s per run)
#   2. $ROWS events through POST /events/batch (10,000 per request) vs a raw in-process insert of the same rows
#   3. export of those $ROWS events as NDJSON and as CSV (rows/s, server RSS growth during the stream)
# Servers listen on 127.0.0.1:5180-5182 only and are stopped on exit. Results: bench/out/<time>/summary.md.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)

RUNS=${RUNS:-3}
DURATION=${DURATION:-10}
CONNECTIONS=${CONNECTIONS:-32}
ROWS=${ROWS:-1000000}
PER_REQUEST=10000
PORT_TALLY=5180
PORT_NORMAL=5181
PORT_FULL=5182
OUT=$ROOT/bench/out/$(date -u +%Y%m%dT%H%M%SZ)
mkdir -p "$OUT"
. "$ROOT/bench/lib.sh"
need_wrk

echo "== build (Release)"
bench_build

PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
}
trap cleanup EXIT

# start_baseline <NORMAL|FULL> <port>: sets SERVER_PID
start_baseline() {
  dotnet "$BENCH_DLL" baseline --db "$OUT/baseline-$1.db" --migrations "$ROOT/migrations" --sync "$1" \
    --urls "http://127.0.0.1:$2" >"$OUT/baseline-$1.log" 2>&1 &
  SERVER_PID=$!
  PIDS+=("$SERVER_PID")
  wait_ready "$2"
}

echo "== 1. single POSTs: $RUNS runs of ${DURATION}s, wrk -c$CONNECTIONS"
: >"$OUT/single.tsv"
for run in $(seq "$RUNS"); do
  start_tally "$OUT/tally-single.db" $PORT_TALLY; PIDS+=("$SERVER_PID")
  tally=$(post_load "tally-$run" "http://127.0.0.1:$PORT_TALLY" /api/v1/events "$KEY")
  stop "$SERVER_PID"
  start_baseline NORMAL $PORT_NORMAL
  normal=$(post_load "normal-$run" "http://127.0.0.1:$PORT_NORMAL" /events none)
  stop "$SERVER_PID"
  start_baseline FULL $PORT_FULL
  full=$(post_load "full-$run" "http://127.0.0.1:$PORT_FULL" /events none)
  stop "$SERVER_PID"
  printf '%s\t%s\t%s\n' "$tally" "$normal" "$full" | tee -a "$OUT/single.tsv"
done
single_tally=$(cut -f1 "$OUT/single.tsv" | median)
single_normal=$(cut -f2 "$OUT/single.tsv" | median)
single_full=$(cut -f3 "$OUT/single.tsv" | median)

echo "== 2. $ROWS events in batches of $PER_REQUEST: $RUNS runs"
: >"$OUT/batch.tsv"
for run in $(seq "$RUNS"); do
  start_tally "$OUT/tally-batch.db" $PORT_TALLY; PIDS+=("$SERVER_PID")
  line=$(dotnet "$BENCH_DLL" batch --url "http://127.0.0.1:$PORT_TALLY" --key "$KEY" --rows "$ROWS" --per $PER_REQUEST \
    --connections 2 --run "run$run" --pid "$SERVER_PID")
  echo "$line" >>"$OUT/batch.log"
  hwm=$(awk '/VmHWM/ { printf "%.0f", $2 / 1024 }' "/proc/$SERVER_PID/status")
  if [ "$run" -lt "$RUNS" ]; then stop "$SERVER_PID"; fi
  raw=$(dotnet "$BENCH_DLL" raw-insert --db "$OUT/raw.db" --migrations "$ROOT/migrations" --rows "$ROWS" --per $PER_REQUEST \
    --run "run$run")
  echo "$raw" >>"$OUT/batch.log"
  # For reference, not the target: the raw insert plus one audit row per event, as the ledger must write.
  raw_audit=$(dotnet "$BENCH_DLL" raw-insert --db "$OUT/raw.db" --migrations "$ROOT/migrations" --rows "$ROWS" \
    --per $PER_REQUEST --run "run$run" --audit 1)
  echo "$raw_audit" >>"$OUT/batch.log"
  printf '%s\t%s\t%s\t%s\n' "$(echo "$line" | field rows_per_s)" "$(echo "$raw" | field rows_per_s)" "$hwm" \
    "$(echo "$raw_audit" | field rows_per_s)" | tee -a "$OUT/batch.tsv"
done
batch_tally=$(cut -f1 "$OUT/batch.tsv" | median)
batch_raw=$(cut -f2 "$OUT/batch.tsv" | median)
batch_rss=$(cut -f3 "$OUT/batch.tsv" | sort -g | tail -1)
batch_raw_audit=$(cut -f4 "$OUT/batch.tsv" | median)

echo "== 3. export of the last run's $ROWS events: $RUNS runs per format"
: >"$OUT/export.tsv"
for format in ndjson csv; do  # warm-up (JIT), not measured: about 5% of the rows
  dotnet "$BENCH_DLL" export --url "http://127.0.0.1:$PORT_TALLY" --key "$KEY" --format $format \
    --query "status=all&from=2024-01-01&to=2024-01-20" >>"$OUT/export.log"
done
for run in $(seq "$RUNS"); do
  for format in ndjson csv; do
    line=$(dotnet "$BENCH_DLL" export --url "http://127.0.0.1:$PORT_TALLY" --key "$KEY" --format $format --pid "$SERVER_PID")
    echo "$line" >>"$OUT/export.log"
    printf '%s\t%s\t%s\t%s\n' "$format" "$(echo "$line" | field ' rows')" "$(echo "$line" | field rows_per_s)" \
      "$(echo "$line" | field rss_growth_mb)" | tee -a "$OUT/export.tsv"
  done
done
stop "$SERVER_PID"
export_ndjson=$(awk '$1 == "ndjson" { print $3 }' "$OUT/export.tsv" | median)
export_csv=$(awk '$1 == "csv" { print $3 }' "$OUT/export.tsv" | median)
growth_ndjson=$(awk '$1 == "ndjson" { print $4 }' "$OUT/export.tsv" | sort -g | tail -1)
growth_csv=$(awk '$1 == "csv" { print $4 }' "$OUT/export.tsv" | sort -g | tail -1)

{
  echo "# Ledger benchmark $(basename "$OUT")"
  echo
  echo "$(nproc) cores, load average at the end: $(cut -d' ' -f1-3 /proc/loadavg). RUNS=$RUNS DURATION=${DURATION}s CONNECTIONS=$CONNECTIONS ROWS=$ROWS"
  echo
  echo "| measurement | Tally | baseline | ratio | target |"
  echo "|---|---|---|---|---|"
  echo "| single POST /events, req/s (FULL, group commit) vs bare minimal API at NORMAL | $single_tally | $single_normal | $(ratio "$single_tally" "$single_normal") | >= 1.0 |"
  echo "| single POST /events, req/s vs bare minimal API at FULL | $single_tally | $single_full | $(ratio "$single_tally" "$single_full") | >= 3 |"
  echo "| $ROWS events via POST /events/batch, rows/s vs raw in-process insert | $batch_tally | $batch_raw | $(ratio "$batch_tally" "$batch_raw") | >= 0.5 |"
  echo "| (reference) same, vs raw insert + one audit row per event | $batch_tally | $batch_raw_audit | $(ratio "$batch_tally" "$batch_raw_audit") | |"
  echo "| server peak RSS during the batches (VmHWM), MB | $batch_rss | | | <= 400 |"
  echo "| export NDJSON, rows/s (max RSS growth MB) | $export_ndjson ($growth_ndjson) | | | >= 200,000 (< 50) |"
  echo "| export CSV, rows/s (max RSS growth MB) | $export_csv ($growth_csv) | | | >= 200,000 (< 50) |"
  echo
  echo "Per run (Tally, NORMAL, FULL req/s):"; sed 's/^/    /' "$OUT/single.tsv"
  echo "Per run (Tally rows/s, raw rows/s, Tally VmHWM MB, raw+audit rows/s):"; sed 's/^/    /' "$OUT/batch.tsv"
  echo "Per run (format, rows, rows/s, RSS growth MB):"; sed 's/^/    /' "$OUT/export.tsv"
} >"$OUT/summary.md"
cat "$OUT/summary.md"
rm -f "$OUT"/*.db "$OUT"/*.db-wal "$OUT"/*.db-shm  # gigabytes; the figures and logs stay
