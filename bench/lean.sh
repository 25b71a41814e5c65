#!/usr/bin/env bash
# Issue 13's figures, each beside its naive baseline in the same run, A B A B ($RUNS rounds), the load average beside each:
#   1. single durable POST /events (wrk -c$CONNECTIONS, $DURATION s) vs the naive minimal API (Bench naive-server:
#      one INSERT per request, synchronous=NORMAL, no auth or validation)
#   2. $ROWS events via POST /events/batch (10,000 per request, 2 connections) vs the naive raw insert (Bench
#      naive-insert: integer key, unique (source, external_id), (metric, day); 10,000 rows a transaction; FULL) of the
#      same rows; database bytes per event after PRAGMA wal_checkpoint(TRUNCATE), both sides
#   3. a $ROWS-row CSV import vs the naive raw insert of the same rows; bytes per event likewise
#   4. a $XLSX_ROWS-row XLSX import vs the naive raw insert of the same rows
# After the rounds, on the last round's CSV ledger ($ROWS-row import + one single POST, server restarted):
#   5. GET /events/{id}/proof median of $PROOFS for the single POST's event and for event ROWS/2 of the import
#   6. GET /audit/verify, $RUNS times, time and server RSS (before -> peak)
# Then on a fresh ledger:
#   7. single POSTs at $SINGLES_RATE/s (Bench singles, open loop) while a $ROWS-row CSV import runs: p99, 5xx
# Results: bench/out/lean-<time>/summary.md (per-run figures, wrk outputs, server logs; the databases are deleted).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
RUNS=${RUNS:-2} ROWS=${ROWS:-1000000} XLSX_ROWS=${XLSX_ROWS:-$(( ROWS < 100000 ? ROWS : 100000 ))}
DURATION=${DURATION:-10} CONNECTIONS=${CONNECTIONS:-32} PROOFS=${PROOFS:-50} SINGLES_RATE=${SINGLES_RATE:-20}
PORT=5780 NAIVE_PORT=5781 URL=http://127.0.0.1:5780
OUT=$ROOT/bench/out/lean-$(date -u +%Y%m%dT%H%M%SZ)
mkdir -p "$OUT"
. "$ROOT/bench/lib.sh"

SERVER_PID=
cleanup() { [ -n "$SERVER_PID" ] && stop "$SERVER_PID"; rm -f "$OUT"/*.db "$OUT"/*.db-wal "$OUT"/*.db-shm "$OUT"/events.*; }
trap cleanup EXIT

need_wrk
echo "== build (Release)"
bench_build
python3 "$ROOT/bench/make_import_files.py" csv "$ROWS" "$OUT/events.csv" hedong
python3 "$ROOT/bench/make_import_files.py" xlsx "$XLSX_ROWS" "$OUT/events.xlsx" hedong
echo "uptime at start: $(uptime)" | tee "$OUT/uptime.txt"

naive() { # naive <db> <run> [--csv file]: prints "rows/s bytes"
  local line; line=$(dotnet "$BENCH_DLL" naive-insert --db "$1" --rows "${ROWS_OF:-$ROWS}" --per 10000 --run "$2" "${@:3}")
  echo "$line" >>"$OUT/naive.log"
  echo "$(echo "$line" | field rows_per_s) $(echo "$line" | field db_bytes)"
}
import_rate() { # import_rate <rows> <file> <content type> <query>: prints rows/s, from the POST to succeeded
  local seconds; seconds=$(timed import_file "$URL" "$KEY" "$2" "$3" "$4")
  awk -v r="$1" -v s="$seconds" 'BEGIN { printf "%.0f\n", r / s }'
}
XLSX_TYPE=application/vnd.openxmlformats-officedocument.spreadsheetml.sheet
: >"$OUT/runs.tsv"
for run in $(seq "$RUNS"); do
  echo "== round $run of $RUNS"
  start_tally "$OUT/single.db" $PORT
  single=$(post_load "tally-$run" "$URL" /api/v1/events "$KEY"); stop "$SERVER_PID"; SERVER_PID=
  dotnet "$BENCH_DLL" naive-server --db "$OUT/naive-server.db" --urls "http://127.0.0.1:$NAIVE_PORT" >"$OUT/naive-server.log" 2>&1 &
  SERVER_PID=$!; wait_ready $NAIVE_PORT
  naive_single=$(post_load "naive-$run" "http://127.0.0.1:$NAIVE_PORT" /events none); stop "$SERVER_PID"; SERVER_PID=
  printf 'single\t%s\t%s\t%s\t%s\n' "$run" "$single" "$naive_single" "$(load_average)" | tee -a "$OUT/runs.tsv"

  start_tally "$OUT/batch.db" $PORT
  line=$(dotnet "$BENCH_DLL" batch --url "$URL" --key "$KEY" --rows "$ROWS" --per 10000 --connections 2 --run "run$run" --pid "$SERVER_PID")
  echo "$line" >>"$OUT/batch.log"; stop "$SERVER_PID"; SERVER_PID=
  read -r naive_rate naive_bytes < <(naive "$OUT/naive-batch.db" "run$run")
  printf 'batch\t%s\t%s\t%s\t%s\n' "$run" "$(echo "$line" | field rows_per_s)" "$naive_rate" "$(load_average)" | tee -a "$OUT/runs.tsv"
  printf 'bytes-batch\t%s\t%s\t%s\t%s\n' "$run" "$(db_bytes "$OUT/batch.db")" "$naive_bytes" "$(load_average)" | tee -a "$OUT/runs.tsv"

  start_tally "$OUT/csv.db" $PORT
  single_id=$(curl -sf -X POST "$URL/api/v1/events" -H "Authorization: Bearer $KEY" -H 'Content-Type: application/json' \
    -d '{"metric":"notices.issued","occurredOn":"2024-05-01","quantity":3,"orgUnit":"hedong","note":"单条"}' | jq -r .id)
  csv=$(import_rate "$ROWS" "$OUT/events.csv" text/csv "name=bench"); stop "$SERVER_PID"; SERVER_PID=
  grep -h "Import imp_" "$OUT/csv.db.log" | tail -2 | sed "s/^/round $run: /" >>"$OUT/import-phases.log" || true
  read -r naive_rate naive_bytes < <(naive "$OUT/naive-csv.db" csv --csv "$OUT/events.csv")
  printf 'csv\t%s\t%s\t%s\t%s\n' "$run" "$csv" "$naive_rate" "$(load_average)" | tee -a "$OUT/runs.tsv"
  printf 'bytes-csv\t%s\t%s\t%s\t%s\n' "$run" "$(db_bytes "$OUT/csv.db")" "$naive_bytes" "$(load_average)" | tee -a "$OUT/runs.tsv"

  start_tally "$OUT/xlsx.db" $PORT
  xlsx=$(import_rate "$XLSX_ROWS" "$OUT/events.xlsx" $XLSX_TYPE "sheet=%E6%95%B0%E6%8D%AE"); stop "$SERVER_PID"; SERVER_PID=
  grep -h "Import imp_" "$OUT/xlsx.db.log" | tail -2 | sed "s/^/round $run (xlsx): /" >>"$OUT/import-phases.log" || true
  read -r naive_rate _ < <(ROWS_OF=$XLSX_ROWS naive "$OUT/naive-xlsx.db" xlsx --csv "$OUT/events.csv")
  printf 'xlsx\t%s\t%s\t%s\t%s\n' "$run" "$xlsx" "$naive_rate" "$(load_average)" | tee -a "$OUT/runs.tsv"
done
{ echo "tally batch ledger ($ROWS events):"; db_breakdown "$OUT/batch.db"; echo "naive table, same rows:"; db_breakdown "$OUT/naive-batch.db"; } >"$OUT/db-breakdown.txt"
rm -f "$OUT"/batch.db* "$OUT"/naive-*.db* "$OUT"/xlsx.db* "$OUT"/single.db*

echo "== proofs and verification over the last round's CSV ledger"
KEEP_DB=1 start_tally "$OUT/csv.db" $PORT
middle=$(sqlite3 "$OUT/csv.db" "SELECT id FROM events WHERE external_id = 'bench-$((ROWS / 2))'")
proof_single=$(proof_median "$URL" "$single_id" 2>>"$OUT/proof-check.txt")
proof_import=$(proof_median "$URL" "$middle" 2>>"$OUT/proof-check.txt")
printf 'proof\t-\t%s\t%s\t%s\n' "$proof_single" "$proof_import" "$(load_average)" | tee -a "$OUT/runs.tsv"
for run in $(seq "$RUNS"); do
  printf 'verify\t%s\t%s\t%s\n' "$run" "$(verify_once "$URL" "$SERVER_PID" 2>>"$OUT/verify-answers.txt" | tr ' ' '\t')" "$(load_average)" | tee -a "$OUT/runs.tsv"
done
stop "$SERVER_PID"; SERVER_PID=; rm -f "$OUT"/csv.db*

echo "== single POSTs at $SINGLES_RATE/s while a $ROWS-row import runs"
start_tally "$OUT/beside.db" $PORT
rm -f "$OUT/stop"
dotnet "$BENCH_DLL" singles --url "$URL" --key "$KEY" --rate "$SINGLES_RATE" --connections 4 --stop-file "$OUT/stop" >"$OUT/singles.log" &
singles_pid=$!
sleep 3  # the client's own start, and a few answers before the import
beside=$(import_rate "$ROWS" "$OUT/events.csv" text/csv "name=beside")
touch "$OUT/stop"; wait $singles_pid
stop "$SERVER_PID"; SERVER_PID=
grep -h "Import imp_" "$OUT/beside.db.log" | sed "s/^/beside singles: /" >>"$OUT/import-phases.log" || true
line=$(cat "$OUT/singles.log")
printf 'beside\t-\t%s\t%s\t%s\t%s\t%s\n' "$(echo "$line" | field p99_ms)" "$(echo "$line" | field status_5xx)" \
  "$(echo "$line" | field other_failures)" "$beside" "$(load_average)" | tee -a "$OUT/runs.tsv"
echo "uptime at end: $(uptime)" | tee -a "$OUT/uptime.txt"

# The summary: medians over the rounds; each row's load averages are those printed after its figures (1, 5, 15 min).
col() { awk -F'\t' -v k="$1" -v c="$2" '$1 == k { print $c }' "$OUT/runs.tsv"; }
loads() { awk -F'\t' -v k="$1" -v c="$2" '$1 == k { split($c, l, " "); printf "%s%s", (n++ ? ", " : ""), l[1] }' "$OUT/runs.tsv"; }
per_event() { awk -v b="$1" -v n="$2" 'BEGIN { printf "%.0f", b / n }'; }
s_t=$(col single 3 | median); s_n=$(col single 4 | median)
b_t=$(col batch 3 | median); b_n=$(col batch 4 | median)
c_t=$(col csv 3 | median); c_n=$(col csv 4 | median)
x_t=$(col xlsx 3 | median); x_n=$(col xlsx 4 | median)
bb_t=$(per_event "$(col bytes-batch 3 | tail -1)" "$ROWS"); bb_n=$(per_event "$(col bytes-batch 4 | tail -1)" "$ROWS")
bc_t=$(per_event "$(col bytes-csv 3 | tail -1)" "$((ROWS + 1))"); bc_n=$(per_event "$(col bytes-csv 4 | tail -1)" "$ROWS")
{
  echo "# Issue 13 benchmark $(basename "$OUT")"
  echo
  echo "$(nproc) cores. RUNS=$RUNS ROWS=$ROWS XLSX_ROWS=$XLSX_ROWS DURATION=${DURATION}s CONNECTIONS=$CONNECTIONS PROOFS=$PROOFS SINGLES_RATE=$SINGLES_RATE"
  cat "$OUT/uptime.txt"
  echo
  echo "| figure | Tally | naive baseline | ratio | target | 1-min load after each round |"
  echo "|---|---|---|---|---|---|"
  echo "| single durable POST /events, req/s (median of $RUNS), vs naive minimal API (NORMAL) | $s_t | $s_n | $(ratio "$s_t" "$s_n") | >= 1.0 | $(loads single 5) |"
  echo "| $ROWS events via POST /events/batch (10k/request, 2 conn.), rows/s, vs naive raw insert | $b_t | $b_n | $(ratio "$b_t" "$b_n") | >= 0.5 | $(loads batch 5) |"
  echo "| CSV import, $ROWS rows, rows/s (POST to succeeded), vs naive raw insert of the same rows | $c_t | $c_n | $(ratio "$c_t" "$c_n") | >= 100,000 and >= 0.5 | $(loads csv 5) |"
  echo "| XLSX import, $XLSX_ROWS rows, rows/s (POST to succeeded), vs naive raw insert of the same rows | $x_t | $x_n | $(ratio "$x_t" "$x_n") | >= 30,000 | $(loads xlsx 5) |"
  echo "| bytes per stored event after checkpoint, batch ledger ($ROWS events), vs naive table | $bb_t | $bb_n | $(ratio "$bb_t" "$bb_n") | <= 2.0 | $(loads bytes-batch 5) |"
  echo "| bytes per stored event after checkpoint, CSV-import ledger, vs naive table | $bc_t | $bc_n | $(ratio "$bc_t" "$bc_n") | <= 2.0 | $(loads bytes-csv 5) |"
  echo "| single POSTs at $SINGLES_RATE/s during a $ROWS-row import: p99 ms, 5xx (other failures) | $(col beside 3) ms, $(col beside 4) 5xx ($(col beside 5)) | | | < 1,000 ms, 0 5xx | $(loads beside 7) |"
  echo "| (that import's own rate beside the singles, rows/s) | $(col beside 6) | | | | |"
  echo "| GET /events/{id}/proof median of $PROOFS, single POST / event $((ROWS / 2)) of the import, ms | $(col proof 3) / $(col proof 4) | | | < 50 | $(loads proof 5) |"
  echo "| GET /audit/verify over $((ROWS + 1)) events, s (each run) | $(col verify 3 | paste -sd' ') | | | 16-22 s or less | $(loads verify 6) |"
  echo "| server RSS during verify, MiB (before -> peak, each run) | $(awk -F'\t' '$1 == "verify" { printf "%s%s -> %s", (n++ ? "; " : ""), $4, $5 }' "$OUT/runs.tsv") | | | flat | |"
  echo
  echo "Per run (runs.tsv: figure, round, Tally, naive, ..., load average):"; sed 's/^/    /' "$OUT/runs.tsv"
  echo "Import passes (server log):"; sed 's/^/    /' "$OUT/import-phases.log" 2>/dev/null || true
  echo "Database breakdown (dbstat):"; sed 's/^/    /' "$OUT/db-breakdown.txt"
  echo "Singles beside the import:"; sed 's/^/    /' "$OUT/singles.log"
} >"$OUT/summary.md"
cat "$OUT/summary.md"
