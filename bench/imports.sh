#!/usr/bin/env bash
# Import and Excel-export benchmarks (bench/README.md, "Imports"), against a Release server on 127.0.0.1:5482:
#   1. a $ROWS-row CSV import (UTF-8, Chinese headers): dry run, then the real run (rows/s from POST to the end)
#   2. a $XLSX_ROWS-row XLSX import into a fresh database
#   3. the $ROWS events exported as XLSX
# Server RSS is sampled every 0.2 s; growth = peak during the step minus RSS just before it. Results: bench/out/imports-<time>/.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
ROWS=${ROWS:-1000000}
XLSX_ROWS=${XLSX_ROWS:-100000}
PORT=5482
URL=http://127.0.0.1:$PORT
ADMIN_KEY=tly_bench-admin-key-0123456789abcdefghijklmnopqrstu
OUT=$ROOT/bench/out/imports-$(date -u +%Y%m%dT%H%M%SZ)
mkdir -p "$OUT"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1

dotnet build -c Release Api/Api.csproj -v q -nologo >/dev/null
TALLY_DLL=$ROOT/Api/bin/Release/net10.0/Tally.Api.dll
SERVER_PID=
cleanup() { [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null || true; rm -f "$OUT"/*.db*; }
trap cleanup EXIT

start() {
  [ -n "$SERVER_PID" ] && { kill "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null || true; }
  rm -f "$OUT/$1.db"*
  ConnectionStrings__Tally="Data Source=$OUT/$1.db" Tally__BootstrapAdminKey=$ADMIN_KEY \
    Tally__Limits__LongRequestTimeout=01:00:00 Logging__LogLevel__Default=Warning ASPNETCORE_ENVIRONMENT=Production \
    env "Logging__LogLevel__Tally.Api.Features.Imports=Information" dotnet "$TALLY_DLL" --urls "$URL" >"$OUT/$1.log" 2>&1 &
  SERVER_PID=$!
  for _ in $(seq 150); do curl -sf "$URL/health/ready" >/dev/null && break; sleep 0.2; done
  KEY=$(curl -sf -X POST "$URL/api/v1/api-keys" -H "Authorization: Bearer $ADMIN_KEY" -H 'Content-Type: application/json' \
    -d '{"name":"bench","source":"bench","scopes":["events:write","events:read"]}' | jq -r .key)
}

rss_kib() { awk '/VmRSS/ {print $2}' "/proc/$SERVER_PID/status"; }

# measure <label> <rows> <command...>: runs the command while sampling RSS; prints a result line
measure() {
  local label=$1 rows=$2; shift 2
  local before peak start end
  before=$(rss_kib); peak=$before
  start=$(date +%s.%N)
  "$@" &
  local job=$!
  while kill -0 "$job" 2>/dev/null; do
    local now; now=$(rss_kib); [ "$now" -gt "$peak" ] && peak=$now
    sleep 0.2
  done
  wait "$job"
  end=$(date +%s.%N)
  awk -v l="$label" -v r="$rows" -v s="$start" -v e="$end" -v b="$before" -v p="$peak" 'BEGIN {
    printf "| %s | %d | %.1f s | %.0f rows/s | %.0f MB | %.0f MB |\n", l, r, e - s, r / (e - s), b / 1024, (p - b) / 1024 }' \
    | tee -a "$OUT/summary.md"
}

# import_file <file> <content type> <query>: POST then poll until it ends; fails unless it succeeded
import_file() {
  local id status
  id=$(curl -sf -X POST "$URL/api/v1/imports?$3" -H "Authorization: Bearer $KEY" -H "Content-Type: $2" \
    --data-binary "@$1" | jq -r .id)
  while :; do
    status=$(curl -sf "$URL/api/v1/imports/$id" -H "Authorization: Bearer $KEY")
    case $(jq -r .status <<<"$status") in succeeded) echo "$status" >"$OUT/last-import.json"; return 0 ;;
      failed) echo "$status" | head -c 2000 >&2; return 1 ;; esac
    sleep 0.2
  done
}

python3 bench/make_import_files.py csv "$ROWS" "$OUT/events.csv" hedong
python3 bench/make_import_files.py xlsx "$XLSX_ROWS" "$OUT/events.xlsx" hedong
echo "| step | rows | time | rows/s | RSS before | RSS growth |" | tee "$OUT/summary.md"
echo "|---|---|---|---|---|---|" | tee -a "$OUT/summary.md"

start csv
measure "CSV import, dry run" "$ROWS" import_file "$OUT/events.csv" text/csv "dryRun=true"
measure "CSV import" "$ROWS" import_file "$OUT/events.csv" text/csv ""
measure "XLSX export" "$ROWS" curl -sf "$URL/api/v1/events/export?format=xlsx" -H "Authorization: Bearer $KEY" -o "$OUT/export.xlsx"
start xlsx
measure "XLSX import" "$XLSX_ROWS" import_file "$OUT/events.xlsx" \
  application/vnd.openxmlformats-officedocument.spreadsheetml.sheet "sheet=%E6%95%B0%E6%8D%AE"
rm -f "$OUT"/events.csv "$OUT"/events.xlsx "$OUT"/export.xlsx
