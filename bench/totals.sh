#!/usr/bin/env bash
# Totals benchmark (bench/README.md, "Totals"): loads a synthetic ledger of 1M and 10M events straight into
# database files with the app's own schema, starts the Release API on each (127.0.0.1 only), and times
# GET /totals and the annual report against a plain GROUP BY scan of the same file.
#   TALLY_BENCH_SIZES="1000000 10000000"   event counts to run (default both)
#   TALLY_BENCH_PORT=5280                   loopback port of the API
#   TALLY_BENCH_RELOAD=1                    rebuild database files that already exist in bench/out
#   TALLY_BENCH_ONLY=reports                only the cases whose name contains this text
#   TALLY_BENCH_STORE=postgres              serve and scan PostgreSQL (issue 14): each file's ledger is copied into a
#                                           fresh database totals_<n> of TALLY_BENCH_POSTGRES (an Npgsql connection
#                                           string), or of a throwaway server started by .ci/postgres when it is unset;
#                                           on a server of your own a database that already holds the ledger is kept
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
own_pg=""
cleanup() { stop_server; if [ -n "$own_pg" ]; then tally_pg_stop; fi; }
trap cleanup EXIT
store=${TALLY_BENCH_STORE:-sqlite}
if [ "$store" = postgres ] && [ -z "${TALLY_BENCH_POSTGRES:-}" ]; then
  . .ci/postgres
  tally_pg_start
  own_pg=1
  TALLY_BENCH_POSTGRES=$TALLY_TEST_POSTGRES
fi

for n in $sizes; do
  db="$out/totals-$n.db"
  if [ ! -f "$db" ] || [ "${TALLY_BENCH_RELOAD:-0}" = 1 ]; then
    echo "== loading $n events into $db"
    $bench load "$db" "$n" 1
  fi
  served="Data Source=$PWD/$db"
  scanned=$db
  if [ "$store" = postgres ]; then
    served=$(sed -E "s/Database=[^;]*/Database=totals_$n/" <<<"$TALLY_BENCH_POSTGRES")
    scanned=$served
    echo "== copying $db into PostgreSQL database totals_$n"
    if [ "${TALLY_BENCH_RELOAD:-0}" = 1 ]; then $bench copy-postgres "$db" "$served"; else $bench copy-postgres "$db" "$served" --reuse; fi
  fi
  echo "== $n events on $store: API on 127.0.0.1:$port"
  ConnectionStrings__Tally="$served" Tally__BootstrapAdminKey="$key" Logging__LogLevel__Default=Warning \
    dotnet Api/bin/Release/net10.0/Tally.Api.dll --urls "http://127.0.0.1:$port" >"$out/server-$store-$n.log" 2>&1 &
  server=$!
  $bench measure "http://127.0.0.1:$port" "$key" "$scanned" "$(uname -n) $store" | tee "$out/results-$store-$n.md"
  stop_server
done
