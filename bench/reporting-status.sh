#!/usr/bin/env bash
# Reporting status benchmark (bench/README.md, "Reporting status"): 3,000 reporting units with a year of monthly data
# for a two-metric monthly plan, loaded straight into a database file with the app's own schema (the app migrates
# it first), then the median of GET /reporting/status for one period beside a naive baseline: the same answer
# (metrics reported per unit, first and last recording) by a GROUP BY over a plain events table.
#   TALLY_BENCH_PORT=5290     loopback port of the API
#   TALLY_BENCH_RUNS=30       timed requests
set -euo pipefail
cd "$(dirname "$0")/.."
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
port=${TALLY_BENCH_PORT:-5290}
runs=${TALLY_BENCH_RUNS:-30}
key=tly_bench-admin-key-0123456789abcdefghijklmnopqrstuv
out=bench/out
mkdir -p "$out"
db="$PWD/$out/reporting-status.db"
rm -f "$db" "$db-wal" "$db-shm"

dotnet build -c Release Api -v q -nologo >/dev/null
server=""
start_server() {
  ConnectionStrings__Tally="Data Source=$db" Tally__BootstrapAdminKey="$key" Logging__LogLevel__Default=Warning \
    dotnet Api/bin/Release/net10.0/Tally.Api.dll --urls "http://127.0.0.1:$port" >"$out/reporting-server.log" 2>&1 &
  server=$!
  for _ in $(seq 1 300); do curl -sf "http://127.0.0.1:$port/health/ready" >/dev/null && return; sleep 0.2; done
  echo "server did not start" >&2; exit 1
}
stop_server() { if [ -n "$server" ]; then kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; server=""; fi; }
trap stop_server EXIT

start_server; stop_server   # migrations create the schema

echo "== loading 3,000 units, 12 months x 2 metrics of rollups, and the naive baseline's events"
sqlite3 "$db" <<'SQL'
PRAGMA journal_mode = WAL;
BEGIN;
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 3000)
INSERT INTO org_units (code, name, parent, position, created_at, updated_at)
SELECT printf('bench.u%04d', i), printf('街道%04d', i), 'hedong', 100 + i, '2025-01-01T00:00:00.0000000Z', '2025-01-01T00:00:00.0000000Z' FROM n;
INSERT INTO org_unit_closure (ancestor, descendant, depth)
SELECT code, code, 0 FROM org_units WHERE code LIKE 'bench.u%'
UNION ALL SELECT 'hedong', code, 1 FROM org_units WHERE code LIKE 'bench.u%'
UNION ALL SELECT 'tianjin', code, 2 FROM org_units WHERE code LIKE 'bench.u%';
-- Three events per unit, metric and month (some units skip a metric in some months), as a plain table for the baseline.
CREATE TABLE bench_events (metric TEXT, occurred_on TEXT, org_unit TEXT, quantity INTEGER, recorded_at TEXT);
WITH RECURSIVE m(k) AS (SELECT 1 UNION ALL SELECT k + 1 FROM m WHERE k < 12), e(j) AS (SELECT 1 UNION ALL SELECT j + 1 FROM e WHERE j < 3)
INSERT INTO bench_events
SELECT metric, printf('2025-%02d-%02d', k, 2 + j * 5), code, j, printf('2025-%02d-%02dT0%d:00:00.0000000Z', k, 3 + j * 5, j)
FROM org_units, m, e, (SELECT 'notices.issued' AS metric UNION ALL SELECT 'accounts.interviewed')
WHERE code LIKE 'bench.u%' AND NOT (metric = 'accounts.interviewed' AND (CAST(substr(code, 8) AS INTEGER) + k) % 7 = 0);
CREATE INDEX ix_bench_events ON bench_events(metric, occurred_on);
INSERT INTO monthly_unit_rollups (metric, month, org_unit, value, events)
SELECT metric, substr(occurred_on, 1, 7), org_unit, sum(quantity), count(*) FROM bench_events GROUP BY 1, 2, 3;
INSERT INTO unit_month_recordings (metric, month, org_unit, first_recorded_at, last_recorded_at)
SELECT metric, substr(occurred_on, 1, 7), org_unit, min(recorded_at), max(recorded_at) FROM bench_events GROUP BY 1, 2, 3;
INSERT INTO reporting_plans (code, name, metrics, frequency, reporters, due_days, starts_on, ends_on, created_at, updated_at)
SELECT 'bench-monthly', '月度报送', '["notices.issued","accounts.interviewed"]', 'month',
       '[' || group_concat('"' || code || '"', ',') || ']', 10, '2025-01-01', NULL, '2025-01-01T00:00:00.0000000Z', '2025-01-01T00:00:00.0000000Z'
FROM (SELECT code FROM org_units WHERE code LIKE 'bench.u%' ORDER BY code);
COMMIT;
SELECT 'events in the baseline table: ' || count(*) FROM bench_events;
SQL

start_server
url="http://127.0.0.1:$port/api/v1/reporting/status?plan=bench-monthly&period=2025-06"
(curl -sf "$url" -H "Authorization: Bearer $key" || true) | cut -c 1-300; echo
for _ in 1 2 3; do curl -sf -o /dev/null "$url" -H "Authorization: Bearer $key"; done   # warm-up
api=$(for _ in $(seq 1 "$runs"); do curl -sf -o /dev/null -w '%{time_total}\n' "$url" -H "Authorization: Bearer $key"; done \
  | sort -n | awk '{a[NR]=$1} END {printf "%.1f", a[int((NR+1)/2)] * 1000}')
stop_server

naive_sql="SELECT org_unit, count(DISTINCT metric), min(recorded_at), max(recorded_at) FROM bench_events
  WHERE metric IN ('notices.issued','accounts.interviewed') AND occurred_on BETWEEN '2025-06-01' AND '2025-06-30'
  GROUP BY org_unit;"
naive=$(for _ in $(seq 1 "$runs"); do
  s=$(date +%s%N); sqlite3 "$db" "$naive_sql" >/dev/null; e=$(date +%s%N); echo $(( (e - s) / 1000 ))
done | sort -n | awk '{a[NR]=$1} END {printf "%.1f", a[int((NR+1)/2)] / 1000}')

echo "| case | median (ms) |"
echo "|---|---|"
echo "| GET /reporting/status, 3,000 reporters, one month (HTTP, curl) | $api |"
echo "| naive GROUP BY over a plain events table (sqlite3 process, incl. its start) | $naive |"
echo "load: $(uptime)"
