#!/usr/bin/env bash
# Dashboard load benchmark (bench/README.md, "Dashboard"): the page at / in Debian's Chromium against a Release server
# over an empty ledger (the baseline) and over EVENTS synthetic events (bench/TotalsBench's loader), 127.0.0.1 only.
# Usage: EVENTS=1000000 RELOADS=15 bench/dashboard.sh. Needs /usr/bin/chromium (apt-get install chromium fonts-noto-cjk).
set -euo pipefail
cd "$(dirname "$0")/.."
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
events=${EVENTS:-1000000}
reloads=${RELOADS:-15}
port=${TALLY_BENCH_PORT:-5680}
key=tly_bench-admin-key-0123456789abcdefghijklmnopqrstuv
out=bench/out/dashboard-$(date -u +%Y%m%dT%H%M%SZ)
mkdir -p "$out"

dotnet build -c Release Api -v q -nologo >/dev/null
dotnet build -c Release bench/TotalsBench -v q -nologo >/dev/null
dotnet build -c Release bench/DashboardBench -v q -nologo >/dev/null

db="bench/out/totals-$events.db"
if [ ! -f "$db" ]; then
  echo "== loading $events events into $db"
  dotnet bench/TotalsBench/bin/Release/net10.0/TotalsBench.dll load "$db" "$events" 1
fi
# The run writes one event and voids it: measure on a copy, keep the loaded file as it was.
cp "$db" "$out/ledger.db"

server=""
stop_server() { if [ -n "$server" ]; then kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; server=""; fi; }
trap stop_server EXIT

echo "| ledger | year shown | cards | first page after start ms | new session: page + key to figures ms | reload median ms | reload max ms | after a write ms | after a void ms | console errors |" | tee "$out/results.md"
echo "|---|---|---|---|---|---|---|---|---|---|" | tee -a "$out/results.md"
for side in empty "$events"; do
  file="$out/empty.db"; [ "$side" = empty ] || file="$out/ledger.db"
  ConnectionStrings__Tally="Data Source=$PWD/$file" Tally__BootstrapAdminKey="$key" Logging__LogLevel__Default=Warning \
    Tally__RateLimit__PermitsPerSecond=100000 Tally__RateLimit__Burst=100000 \
    dotnet Api/bin/Release/net10.0/Tally.Api.dll --urls "http://127.0.0.1:$port" --contentRoot "$PWD/Api" >"$out/server-$side.log" 2>&1 &
  server=$!
  for _ in $(seq 1 100); do curl -fs "http://127.0.0.1:$port/health/ready" >/dev/null && break; sleep 0.2; done
  if [ "$side" = empty ]; then
    # The baseline page shows the same year as the loaded ledger: one event puts 2024 on it.
    curl -fs -X POST "http://127.0.0.1:$port/api/v1/events" -H "Authorization: Bearer $key" -H 'Content-Type: application/json' \
      -d '{"metric":"notices.issued","occurredOn":"2024-01-02","quantity":1,"orgUnit":"hedong"}' >/dev/null
    label="empty (1 event)"
  else
    label="$(printf "%'d" "$events") events"
  fi
  dotnet bench/DashboardBench/bin/Release/net10.0/DashboardBench.dll "http://127.0.0.1:$port" "$key" "$label" "$reloads" \
    | tee -a "$out/results.md"
  stop_server
done
rm -f "$out"/*.db "$out"/*.db-*
echo "results: $out/results.md (load average: $(cut -d' ' -f1-3 /proc/loadavg))"
