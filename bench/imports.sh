#!/usr/bin/env bash
# Import and Excel-export benchmarks (bench/README.md, "Imports"), against a Release server on 127.0.0.1:5482:
#   1. a $ROWS-row CSV import (UTF-8, Chinese headers): dry run, then the real run (rows/s from POST to the end)
#   2. a $XLSX_ROWS-row XLSX import into a fresh database
#   3. the $ROWS events exported as XLSX
#   4. the baseline, in the same run: bench/Bench raw-insert (one prepared insert, same schema, synchronous=FULL) over
#      $ROWS and $XLSX_ROWS rows, without and with one audit row per event (--audit 1), and each import's ratio to it
# Server RSS is sampled every 0.2 s; growth = peak during the step minus RSS just before it. Results: bench/out/imports-<time>/.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
ROWS=${ROWS:-1000000}
XLSX_ROWS=${XLSX_ROWS:-100000}
PORT=5482
URL=http://127.0.0.1:$PORT
OUT=$ROOT/bench/out/imports-$(date -u +%Y%m%dT%H%M%SZ)
mkdir -p "$OUT"
. "$ROOT/bench/lib.sh"
bench_build
SERVER_PID=
cleanup() { [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null || true; rm -f "$OUT"/*.db "$OUT"/*.db-wal "$OUT"/*.db-shm; }
trap cleanup EXIT

start() { # start <label>: a server over a fresh $OUT/<label>.db, the previous one stopped
  [ -n "$SERVER_PID" ] && stop "$SERVER_PID"
  start_tally "$OUT/$1.db" $PORT
}

# measure <label> <rows> <command...>: runs the command while sampling RSS; prints a result line
measure() {
  local label=$1 rows=$2; shift 2
  local before peak start end
  before=$(rss_kib "$SERVER_PID"); peak=$before
  start=$(date +%s.%N)
  "$@" &
  local job=$!
  while kill -0 "$job" 2>/dev/null; do
    local now; now=$(rss_kib "$SERVER_PID"); [ "$now" -gt "$peak" ] && peak=$now
    sleep 0.2
  done
  wait "$job"
  end=$(date +%s.%N)
  awk -v l="$label" -v r="$rows" -v s="$start" -v e="$end" -v b="$before" -v p="$peak" 'BEGIN {
    printf "| %s | %d | %.1f s | %.0f rows/s | %.0f MB | %.0f MB |\n", l, r, e - s, r / (e - s), b / 1024, (p - b) / 1024 }' \
    | tee -a "$OUT/summary.md"
  awk -v l="$label" -v r="$rows" -v s="$start" -v e="$end" 'BEGIN { printf "%s\t%d\t%.0f\n", l, r, r / (e - s) }' >>"$OUT/rates.tsv"
}

# raw <rows> <audit 0|1>: the in-process raw insert into a fresh database; prints its rows/s
raw() {
  rm -f "$OUT/raw.db"*
  dotnet "$BENCH_DLL" raw-insert --db "$OUT/raw.db" --migrations "$ROOT/migrations" --rows "$1" --per 10000 --run imp \
    --audit "$2" | tee -a "$OUT/raw.log" | field rows_per_s
}

python3 bench/make_import_files.py csv "$ROWS" "$OUT/events.csv" hedong
python3 bench/make_import_files.py xlsx "$XLSX_ROWS" "$OUT/events.xlsx" hedong
echo "load average at start: $(uptime | sed 's/.*load average: //')" | tee "$OUT/load.txt"
: >"$OUT/rates.tsv"
echo "| step | rows | time | rows/s | RSS before | RSS growth |" | tee "$OUT/summary.md"
echo "|---|---|---|---|---|---|" | tee -a "$OUT/summary.md"

start csv
measure "CSV import, dry run" "$ROWS" import_file "$URL" "$KEY" "$OUT/events.csv" text/csv "dryRun=true"
measure "CSV import" "$ROWS" import_file "$URL" "$KEY" "$OUT/events.csv" text/csv ""
measure "XLSX export" "$ROWS" curl -sf "$URL/api/v1/events/export?format=xlsx" -H "Authorization: Bearer $KEY" -o "$OUT/export.xlsx"
start xlsx
measure "XLSX import" "$XLSX_ROWS" import_file "$URL" "$KEY" "$OUT/events.xlsx" \
  application/vnd.openxmlformats-officedocument.spreadsheetml.sheet "sheet=%E6%95%B0%E6%8D%AE"
kill "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null || true; SERVER_PID=
rm -f "$OUT"/events.csv "$OUT"/events.xlsx "$OUT"/export.xlsx

raw_big=$(raw "$ROWS" 0)
raw_big_audit=$(raw "$ROWS" 1)
raw_small=$(raw "$XLSX_ROWS" 0)
raw_small_audit=$(raw "$XLSX_ROWS" 1)
echo "load average at end: $(uptime | sed 's/.*load average: //')" | tee -a "$OUT/load.txt"
{
  echo
  echo "| step | rows/s | raw insert rows/s | raw insert + audit rows/s | ratio to raw + audit |"
  echo "|---|---|---|---|---|"
  while IFS=$'\t' read -r label rows rate; do
    case $label in *import*) ;; *) continue ;; esac
    if [ "$rows" = "$XLSX_ROWS" ] && [ "$rows" != "$ROWS" ]; then base=$raw_small; audit=$raw_small_audit; else base=$raw_big; audit=$raw_big_audit; fi
    awk -v l="$label" -v r="$rate" -v b="$base" -v a="$audit" 'BEGIN { printf "| %s | %.0f | %.0f | %.0f | %.2f |\n", l, r, b, a, r / a }'
  done <"$OUT/rates.tsv"
} | tee -a "$OUT/summary.md"
