#!/usr/bin/env bash
# Issue 18's read figures (bench/README.md, "asOf (issue 18)"): for each size, a synthetic ledger recorded over
# 2020-01-01..2025-01-10 (bench/TotalsBench load: recorded_at growing with seq, 0.5% voided 1 h-60 d later, the as-of
# rollups at three levels built by GROUP BYs, digest limbs left to the server) in bench/out/asof-<n>.db, kept between
# runs; the Release API started on it (the first start after a load fills the kept digests: timed); then every case of
# bench/TotalsBench measure, "now" and asOf, each beside a plain GROUP BY over the same file and compared row for row.
#   SIZES="1000000 10000000"   event counts (default both)
#   RELOAD=1                   rebuild the database files even if they exist
#   BACKFILL=1                 on a kept file, zero the digest limbs and mark them pending, so the start times the backfill again
#   ONLY=asOf                  only the cases whose name contains this text (TALLY_BENCH_ONLY)
#   PORT=5880                  loopback port of the API
# Results: bench/out/asof-<time>/summary.md (and results-<n>.md, server-<n>.log, load-<n>.log).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
SIZES=${SIZES:-"1000000 10000000"} PORT=${PORT:-5880}
OUT=$ROOT/bench/out/asof-$(date -u +%Y%m%dT%H%M%SZ)
mkdir -p "$OUT"
. "$ROOT/bench/lib.sh"

SERVER_PID=
cleanup() { if [ -n "$SERVER_PID" ]; then stop "$SERVER_PID"; fi; }
trap cleanup EXIT

echo "== build (Release)"
dotnet build -c Release "$ROOT/Api/Api.csproj" -v q -nologo >/dev/null
dotnet build -c Release "$ROOT/bench/TotalsBench/TotalsBench.csproj" -v q -nologo >/dev/null
TALLY_DLL=$ROOT/Api/bin/Release/net10.0/Tally.Api.dll
TOTALS_DLL=$ROOT/bench/TotalsBench/bin/Release/net10.0/TotalsBench.dll
echo "uptime at start: $(uptime)" | tee "$OUT/uptime.txt"
{
  echo "# asOf benchmark (issue 18) $(basename "$OUT")"
  echo
  echo "$(nproc) cores; $(git -C "$ROOT" log -1 --format='%h %s' | cut -c1-100)"
  [ -z "$(git -C "$ROOT" status --porcelain -- Api bench migrations)" ] || echo "(uncommitted changes under Api/, bench/ or migrations/)"
  echo
} >"$OUT/summary.md"

for n in $SIZES; do
  db=$ROOT/bench/out/asof-$n.db
  loaded="kept from an earlier run"
  if [ ! -f "$db" ] || [ "${RELOAD:-0}" = 1 ]; then
    echo "== loading $n events into $db"
    # Into a side file, renamed when complete: an interrupted load never leaves a file that looks loaded.
    rm -f "$db" "$db-wal" "$db-shm"
    seconds=$(timed dotnet "$TOTALS_DLL" load "$db.loading" "$n" 1 2> >(tee "$OUT/load-$n.log" >&2))
    [ ! -e "$db.loading-wal" ] || sqlite3 "$db.loading" "PRAGMA wal_checkpoint(TRUNCATE);" >/dev/null
    rm -f "$db.loading-wal" "$db.loading-shm"
    mv "$db.loading" "$db"
    loaded="loaded in $seconds s (load average after: $(load_average))"
  elif [ "${BACKFILL:-0}" = 1 ]; then
    echo "== zeroing the digest limbs of $db (BACKFILL=1)"
    sqlite3 "$db" "BEGIN;
      UPDATE asof_unit_month_rollups SET d0 = 0, d1 = 0, d2 = 0, d3 = 0, d4 = 0, d5 = 0, d6 = 0, d7 = 0;
      UPDATE asof_unit_day_rollups SET d0 = 0, d1 = 0, d2 = 0, d3 = 0, d4 = 0, d5 = 0, d6 = 0, d7 = 0;
      UPDATE asof_unit_hour_rollups SET d0 = 0, d1 = 0, d2 = 0, d3 = 0, d4 = 0, d5 = 0, d6 = 0, d7 = 0;
      INSERT OR IGNORE INTO asof_digest_pending (one) VALUES (1); COMMIT;"
  fi
  pending=$(sqlite3 "$db" "SELECT count(*) FROM asof_digest_pending")
  echo "== $n events: API on 127.0.0.1:$PORT (digests pending: $pending)"
  started=$(date +%s.%N)
  ConnectionStrings__Tally="Data Source=$db" Tally__BootstrapAdminKey=$ADMIN_KEY \
    Tally__RateLimit__PermitsPerSecond=100000000 Tally__RateLimit__Burst=100000000 \
    Tally__Limits__LongRequestTimeout=01:00:00 Logging__LogLevel__Default=Warning ASPNETCORE_ENVIRONMENT=Production \
    env "Logging__LogLevel__Tally.Api.Ledger=Information" \
    dotnet "$TALLY_DLL" --urls "http://127.0.0.1:$PORT" >"$OUT/server-$n.log" 2>&1 &
  SERVER_PID=$!
  # The writer fills the digests before the server listens: wait up to an hour.
  until curl -sf "http://127.0.0.1:$PORT/health/ready" >/dev/null; do
    kill -0 "$SERVER_PID" 2>/dev/null || { echo "the server exited, see $OUT/server-$n.log" >&2; tail -20 "$OUT/server-$n.log" >&2; exit 1; }
    awk -v s="$started" -v e="$(date +%s.%N)" 'BEGIN { exit !(e - s > 3600) }' && { echo "not ready after an hour" >&2; exit 1; }
    sleep 0.2
  done
  start_seconds=$(awk -v s="$started" -v e="$(date +%s.%N)" 'BEGIN { printf "%.1f", e - s }')
  backfill=$(grep -h "kept digests" "$OUT/server-$n.log" | tail -1 | sed 's/^ *//' || true)
  echo "   ready after $start_seconds s${backfill:+ ($backfill)}; load average $(load_average)"
  rc=0
  TALLY_BENCH_ONLY=${ONLY:-} dotnet "$TOTALS_DLL" measure "http://127.0.0.1:$PORT" "$ADMIN_KEY" "$db" "$(uname -n)" \
    | tee "$OUT/results-$n.md" || rc=$?
  stop "$SERVER_PID"; SERVER_PID=
  {
    echo "## $n events"
    echo
    echo "- database: $(basename "$db"), $loaded; $(du -m "$db" | cut -f1) MB"
    if [ "$pending" = 1 ]; then
      echo "- first start (kept digest backfill): ready after $start_seconds s; server log: ${backfill:-(no backfill line)}"
    else
      echo "- start: ready after $start_seconds s (digests filled in an earlier run: RELOAD=1 or BACKFILL=1 to time the backfill)"
    fi
    echo
    cat "$OUT/results-$n.md"
    [ "$rc" = 0 ] || echo "**Some answers differ from the scan (see DIFFERENT above).**"
    echo
  } >>"$OUT/summary.md"
done
echo "uptime at end: $(uptime)" | tee -a "$OUT/uptime.txt"
sed 's/^/    /' "$OUT/uptime.txt" >>"$OUT/summary.md"
echo "== summary: $OUT/summary.md"
