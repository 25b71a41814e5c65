#!/usr/bin/env bash
# Totals benchmark (bench/README.md, "Totals"): loads a synthetic ledger of 1M and 10M events straight into
# database files with the app's own schema, starts the Release API on each (127.0.0.1 only), and times
# GET /totals and the annual report against a plain GROUP BY scan of the same file.
#   TALLY_BENCH_SIZES="1000000 10000000"   event counts to run (default both)
#   TALLY_BENCH_PORT=5280                   loopback port of the API
#   TALLY_BENCH_RELOAD=1                    rebuild database files that already exist in bench/out
#   TALLY_BENCH_ONLY=reports                only the cases whose name contains this text
set -euo pipefail
cd "$(dirname "$0")/.."
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
sizes=${TALLY_BENCH_SIZES:-"1000000 10000000"}
port=${TALLY_BENCH_PORT:-5280}
key=tly_bench-admin-key-0123456789abcdefghijklmnopqrstuv
out=bench/out
mkdir -p "$out"

dotnet build -c Release Api -v q -nologo >/dev/null
dotnet build -c Release bench/TotalsBench -v q -nologo >/dev/null
bench="dotnet bench/TotalsBench/bin/Release/net10.0/TotalsBench.dll"

server=""
stop_server() { if [ -n "$server" ]; then kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; server=""; fi; }
trap stop_server EXIT

for n in $sizes; do
  db="$out/totals-$n.db"
  if [ ! -f "$db" ] || [ "${TALLY_BENCH_RELOAD:-0}" = 1 ]; then
    echo "== loading $n events into $db"
    $bench load "$db" "$n" 1
  fi
  echo "== $n events: API on 127.0.0.1:$port"
  ConnectionStrings__Tally="Data Source=$PWD/$db" Tally__BootstrapAdminKey="$key" Logging__LogLevel__Default=Warning \
    dotnet Api/bin/Release/net10.0/Tally.Api.dll --urls "http://127.0.0.1:$port" >"$out/server-$n.log" 2>&1 &
  server=$!
  $bench measure "http://127.0.0.1:$port" "$key" "$db" "$(uname -n)" | tee "$out/results-$n.md"
  stop_server
done
