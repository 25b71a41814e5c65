#!/usr/bin/env bash
# PostgreSQL benchmarks (bench/README.md, "PostgreSQL (issue 14)"): each measurement beside its baseline in the same
# run, alternating (A B A B), medians of $RUNS runs, the load average recorded.
#   1. single POST /events: Tally on PostgreSQL vs the naive app (a bare minimal API, one autocommit INSERT … ON CONFLICT
#      DO NOTHING per request into a plain table with a bigserial key and a unique (source, external_id)); wrk
#   2. $ROWS events through POST /events/batch (10,000 per request) vs COPY of the same rows into the naive table
#   3. two Tally processes vs one on one database, single POSTs through nginx (bench/nginx-tally.conf, Debian's nginx),
#      with the CPU each process used
#   4. yearly totals (GET /totals?year=2024) over the $ROWS events of run 2 vs the GROUP BY over the naive table
#   5. peak RSS (VmHWM) of every server process
# The server is $TALLY_BENCH_POSTGRES (an Npgsql connection string of a role that may create databases) or a throwaway
# one from .ci/postgres. Every side gets a fresh database. Servers listen on 127.0.0.1 only and stop on exit.
#   RUNS=3 DURATION=10 CONNECTIONS=32 ROWS=1000000 bash bench/postgres.sh
#   RUNS=1 DURATION=3 ROWS=20000 bash bench/postgres.sh          # a smoke run
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
RUNS=${RUNS:-3}
DURATION=${DURATION:-10}
CONNECTIONS=${CONNECTIONS:-32}
ROWS=${ROWS:-1000000}
OUT=$ROOT/bench/out/pg-$(date -u +%Y%m%dT%H%M%SZ)
mkdir -p "$OUT"
. "$ROOT/bench/lib.sh"
need_wrk
command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || { apt-get update -qq >/dev/null && apt-get install -y -qq nginx >/dev/null; }
NGINX=$(command -v nginx || echo /usr/sbin/nginx)

PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  [ -f "$OUT/nginx/nginx.pid" ] && kill "$(cat "$OUT/nginx/nginx.pid")" 2>/dev/null || true
  [ -n "${OWN_PG:-}" ] && tally_pg_stop
  return 0
}
trap cleanup EXIT

if [ -z "${TALLY_BENCH_POSTGRES:-}" ]; then
  . "$ROOT/.ci/postgres"
  tally_pg_start
  OWN_PG=1
  TALLY_BENCH_POSTGRES=$TALLY_TEST_POSTGRES
fi
PSQL_BIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
conninfo() { # conninfo <npgsql string>: libpq's form
  tr ';' '\n' <<<"$1" | awk -F= 'tolower($1)=="host"{h=$2} tolower($1)=="port"{p=$2} tolower($1)=="username"{u=$2} tolower($1)=="password"{w=$2} tolower($1)=="database"{d=$2} END{printf "host=%s port=%s user=%s password=%s dbname=%s", h, p, u, w, d}'
}
# fresh_db <name>: a new empty database; prints its Npgsql connection string
fresh_db() {
  "$PSQL_BIN/psql" -q "$(conninfo "$TALLY_BENCH_POSTGRES")" -c "DROP DATABASE IF EXISTS $1" -c "CREATE DATABASE $1" >/dev/null
  sed -E "s/Database=[^;]*/Database=$1/" <<<"$TALLY_BENCH_POSTGRES"
}
drop_db() { "$PSQL_BIN/psql" -q "$(conninfo "$TALLY_BENCH_POSTGRES")" -c "DROP DATABASE IF EXISTS $1" >/dev/null; }
hwm() { awk '/VmHWM/ { printf "%.0f", $2 / 1024 }' "/proc/$1/status" 2>/dev/null || echo "?"; }
cpu_ticks() { # cpu_ticks <pid...>: utime+stime of the processes (clock ticks)
  local sum=0 pid
  for pid in "$@"; do
    [ -r "/proc/$pid/stat" ] && sum=$((sum + $(awk '{print $14 + $15}' "/proc/$pid/stat")))
  done
  echo $sum
}
postgres_pids() { pgrep -u postgres -d ' ' postgres || true; }

echo "== build (Release)"
bench_build

# start_tally_pg <connection string> <port> <log>: sets SERVER_PID; KEY as in lib.sh's start_tally
start_tally_pg() {
  ConnectionStrings__Tally="$1" Tally__BootstrapAdminKey=$ADMIN_KEY \
    Tally__RateLimit__PermitsPerSecond=100000000 Tally__RateLimit__Burst=100000000 \
    Tally__Limits__LongRequestTimeout=01:00:00 Logging__LogLevel__Default=Warning ASPNETCORE_ENVIRONMENT=Production \
    dotnet "$TALLY_DLL" --urls "http://127.0.0.1:$2" >>"$3" 2>&1 &
  SERVER_PID=$!
  PIDS+=("$SERVER_PID")
  wait_ready "$2"
  KEY=$(curl -sf -X POST "http://127.0.0.1:$2/api/v1/api-keys" -H "Authorization: Bearer $ADMIN_KEY" \
    -H 'Content-Type: application/json' \
    -d "{\"name\":\"bench-$RANDOM\",\"source\":\"bench\",\"scopes\":[\"events:write\",\"events:read\",\"totals:read\"]}" | jq -r .key)
}
start_naive() { # start_naive <connection string> <port>: sets SERVER_PID
  dotnet "$BENCH_DLL" pg-naive-server --conn "$1" --urls "http://127.0.0.1:$2" >>"$OUT/naive.log" 2>&1 &
  SERVER_PID=$!
  PIDS+=("$SERVER_PID")
  wait_ready "$2"
}
median() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

echo "== 1. single POSTs: $RUNS runs of ${DURATION}s, wrk -c$CONNECTIONS" | tee "$OUT/summary.md"
: >"$OUT/single.tsv"
for run in $(seq "$RUNS"); do
  db=$(fresh_db bench_tally_single); start_tally_pg "$db" 5380 "$OUT/tally-single.log"
  tally=$(post_load "tally-$run" http://127.0.0.1:5380 /api/v1/events "$KEY"); tally_mb=$(hwm "$SERVER_PID")
  stop "$SERVER_PID"
  db=$(fresh_db bench_naive_single); start_naive "$db" 5381
  naive=$(post_load "naive-$run" http://127.0.0.1:5381 /events none); naive_mb=$(hwm "$SERVER_PID")
  stop "$SERVER_PID"
  printf '%s\t%s\t%s\t%s\t%s\n' "$run" "$tally" "$naive" "$tally_mb" "$naive_mb" | tee -a "$OUT/single.tsv"
done

echo "== 2. $ROWS events by batch vs COPY: $RUNS runs"
: >"$OUT/batch.tsv"
for run in $(seq "$RUNS"); do
  db=$(fresh_db bench_tally_batch); start_tally_pg "$db" 5380 "$OUT/tally-batch.log"
  line=$(dotnet "$BENCH_DLL" batch --url http://127.0.0.1:5380 --key "$KEY" --rows "$ROWS" --pid "$SERVER_PID" --run "b$run")
  echo "$line" >>"$OUT/batch.txt"
  tally=$(sed -E 's/.*rows_per_s=([0-9]+).*/\1/' <<<"$line"); peak=$(sed -E 's/.*rss_peak_mb=([0-9]+).*/\1/' <<<"$line")
  if [ "$run" -lt "$RUNS" ]; then stop "$SERVER_PID"; else TOTALS_PID=$SERVER_PID; TOTALS_KEY=$KEY; fi
  naive_db=$(fresh_db bench_naive_copy)
  line=$(dotnet "$BENCH_DLL" pg-copy --conn "$naive_db" --rows "$ROWS"); echo "$line" >>"$OUT/batch.txt"
  copy=$(sed -E 's/.*rows_per_s=([0-9]+).*/\1/' <<<"$line")
  printf '%s\t%s\t%s\t%s\n' "$run" "$tally" "$copy" "$peak" | tee -a "$OUT/batch.tsv"
done

echo "== 4. yearly totals over the $ROWS events of the last batch run vs GROUP BY over the naive table"
: >"$OUT/totals.txt"
for _ in $(seq 3); do curl -sf -o /dev/null "http://127.0.0.1:5380/api/v1/totals?year=2024" -H "Authorization: Bearer $TOTALS_KEY"; done
for _ in $(seq 200); do
  curl -sf -o /dev/null -w '%{time_total}\n' "http://127.0.0.1:5380/api/v1/totals?year=2024" -H "Authorization: Bearer $TOTALS_KEY" >>"$OUT/totals.txt"
done
totals_ms=$(awk '{ print $1 * 1000 }' "$OUT/totals.txt" | median)
curl -sf "http://127.0.0.1:5380/api/v1/totals?year=2024" -H "Authorization: Bearer $TOTALS_KEY" >"$OUT/totals-answer.json"
stop "$TOTALS_PID"
scan=$(dotnet "$BENCH_DLL" pg-scan --conn "$naive_db" --runs 50); echo "$scan" >>"$OUT/batch.txt"
scan_ms=$(sed -E 's/.*median_ms=([0-9.]+).*/\1/' <<<"$scan")
drop_db bench_tally_batch; drop_db bench_naive_copy; drop_db bench_tally_single; drop_db bench_naive_single

echo "== 3. one Tally process vs two on one database, through nginx: $RUNS runs of ${DURATION}s"
mkdir -p "$OUT/nginx"
# nginx_conf <listen port> <upstream ports...>: bench/nginx-tally.conf with this run's ports and paths
nginx_conf() {
  local listen=$1; shift
  local servers=""
  for port in "$@"; do servers+="    server 127.0.0.1:$port max_fails=2 fail_timeout=5s;\n"; done
  sed -e "s|@LISTEN@|127.0.0.1:$listen|" -e "s|@SERVERS@|$servers|" -e "s|@PREFIX@|$OUT/nginx|g" "$ROOT/bench/nginx-tally.conf"
}
{ nginx_conf 5390 5391; } >"$OUT/nginx/one.conf"
{ nginx_conf 5392 5391 5393; } >"$OUT/nginx/two.conf"
# one nginx serving both listeners: the proxy's cost is the same both ways
{ echo "pid $OUT/nginx/nginx.pid; error_log $OUT/nginx/error.log; worker_processes 1; events { worker_connections 1024; }";
  echo "http { access_log off; client_body_temp_path $OUT/nginx/body; proxy_temp_path $OUT/nginx/proxy;";
  echo "  fastcgi_temp_path $OUT/nginx/fastcgi; uwsgi_temp_path $OUT/nginx/uwsgi; scgi_temp_path $OUT/nginx/scgi;";
  echo "  include $OUT/nginx/one-body.conf; include $OUT/nginx/two-body.conf; }"; } >"$OUT/nginx/nginx.conf"
sed -e 's/upstream tally/upstream tally_one/' -e 's|proxy_pass http://tally;|proxy_pass http://tally_one;|' "$OUT/nginx/one.conf" >"$OUT/nginx/one-body.conf"
sed -e 's/upstream tally/upstream tally_two/' -e 's|proxy_pass http://tally;|proxy_pass http://tally_two;|' "$OUT/nginx/two.conf" >"$OUT/nginx/two-body.conf"
"$NGINX" -t -c "$OUT/nginx/nginx.conf" -p "$OUT/nginx" >"$OUT/nginx/test.log" 2>&1 || { cat "$OUT/nginx/test.log"; exit 1; }
"$NGINX" -c "$OUT/nginx/nginx.conf" -p "$OUT/nginx"
sleep 0.5
db=$(fresh_db bench_tally_two)
start_tally_pg "$db" 5391 "$OUT/tally-a.log"; A=$SERVER_PID; TWO_KEY=$KEY
start_tally_pg "$db" 5393 "$OUT/tally-b.log"; B=$SERVER_PID
wait_ready 5390; wait_ready 5392
: >"$OUT/two.tsv"
for run in $(seq "$RUNS"); do
  for side in one two; do
    port=5390; [ $side = two ] && port=5392
    pg=$(postgres_pids); ng=$(pgrep -d ' ' nginx || true)
    a0=$(cpu_ticks $A); b0=$(cpu_ticks $B); p0=$(cpu_ticks $pg); n0=$(cpu_ticks $ng)
    rps=$(post_load "$side-$run" "http://127.0.0.1:$port" /api/v1/events "$TWO_KEY")
    a1=$(cpu_ticks $A); b1=$(cpu_ticks $B); p1=$(cpu_ticks $(postgres_pids)); n1=$(cpu_ticks $ng)
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$run" "$side" "$rps" $((a1 - a0)) $((b1 - b0)) $((p1 - p0)) $((n1 - n0)) | tee -a "$OUT/two.tsv"
  done
done
two_a_mb=$(hwm $A); two_b_mb=$(hwm $B)
curl -sf "http://127.0.0.1:5391/api/v1/audit/verify" -H "Authorization: Bearer $ADMIN_KEY" | jq -c '{valid, entries}' >"$OUT/two-verify.json"
stop $A; stop $B
drop_db bench_tally_two

load=$(cut -d' ' -f1-3 /proc/loadavg)
col() { awk -F'\t' -v c="$1" '{ print $c }' "$2" | median; }
s_t=$(col 2 "$OUT/single.tsv"); s_n=$(col 3 "$OUT/single.tsv")
b_t=$(col 2 "$OUT/batch.tsv"); b_c=$(col 3 "$OUT/batch.tsv")
one=$(awk -F'\t' '$2 == "one" { print $3 }' "$OUT/two.tsv" | median); two=$(awk -F'\t' '$2 == "two" { print $3 }' "$OUT/two.tsv" | median)
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
{
  echo
  echo "Run $(basename "$OUT") (RUNS=$RUNS DURATION=$DURATION CONNECTIONS=$CONNECTIONS ROWS=$ROWS), $(nproc) cores, load average at the end $load"
  echo
  echo "| measurement | Tally | baseline | ratio | target |"
  echo "|---|---|---|---|---|"
  echo "| single POST /events on PostgreSQL, req/s vs the naive one-INSERT app | $s_t | $s_n | $(ratio "$s_t" "$s_n") | >= 1.0 |"
  echo "| $ROWS events by POST /events/batch, rows/s vs COPY into the naive table | $b_t | $b_c | $(ratio "$b_t" "$b_c") | >= 0.5 |"
  echo "| two Tally processes vs one through nginx, req/s | $two | $one | $(ratio "$two" "$one") | measured |"
  echo "| yearly totals (a row per metric) over $ROWS events, median ms vs GROUP BY over the naive table | $totals_ms | $scan_ms | | <= 10 ms |"
  echo "| peak RSS, MB: Tally singles / naive singles / Tally batch / two processes A, B | $(col 4 "$OUT/single.tsv") / $(col 5 "$OUT/single.tsv") / $(col 4 "$OUT/batch.tsv") / $two_a_mb, $two_b_mb | | | |"
  echo
  echo "Per run (single.tsv: run, Tally, naive, Tally MB, naive MB; batch.tsv: run, Tally rows/s, COPY rows/s, Tally MB;"
  echo "two.tsv: run, side, req/s, CPU ticks of process A, of B, of all postgres, of nginx):"
  echo; echo '```'; cat "$OUT/single.tsv" "$OUT/batch.tsv" "$OUT/two.tsv"; echo '```'
  echo "Audit verify after the two-process runs: $(cat "$OUT/two-verify.json")"
} | tee -a "$OUT/summary.md"
