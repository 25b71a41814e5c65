#!/usr/bin/env bash
# GET /events/{id}/proof and GET /audit/verify over a ledger of ROWS events (default 1,000,000) imported in one command,
# plus one single POST: the median of PROOFS sequential proof requests for each, each proof checked once by
# bench/check_proof.py; then /audit/verify timed RUNS times with the server's RSS sampled. With BASELINE=1 the same import
# and verify run first on main's code (git archive of main, built in a temp folder): the per-event form of before.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
ROWS=${ROWS:-1000000} PROOFS=${PROOFS:-50} RUNS=${RUNS:-3} PORT=${PORT:-5680}
OUT="$ROOT/bench/out/proof-$(date -u +%Y%m%dT%H%M%SZ)"; mkdir -p "$OUT"
URL="http://127.0.0.1:$PORT" ADMIN="tly_bench-admin-key-0123456789abcdefghijklmnopqrstuv"
echo "uptime at start: $(uptime)" | tee "$OUT/summary.md"
python3 "$ROOT/bench/make_import_files.py" csv "$ROWS" "$OUT/events.csv" hedong

serve() { # serve <dll> <db>
  ConnectionStrings__Tally="Data Source=$2" Tally__BootstrapAdminKey=$ADMIN Tally__RateLimit__PermitsPerSecond=100000 \
    Tally__RateLimit__Burst=100000 Logging__LogLevel__Default=Warning dotnet "$1" --urls "$URL" >"$2.log" 2>&1 &
  PID=$!
  for _ in $(seq 300); do curl -sf "$URL/health/ready" >/dev/null && return; sleep 0.2; done
  echo "server did not start" >&2; exit 1
}
stop() { kill "$PID"; wait "$PID" 2>/dev/null || true; }
import() {
  local started id status; started=$(date +%s.%N)
  id=$(curl -sf -X POST "$URL/api/v1/imports?name=bench" -H "Authorization: Bearer $ADMIN" -H "Content-Type: text/csv" \
    --data-binary @"$OUT/events.csv" | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
  while status=$(curl -sf "$URL/api/v1/imports/$id" -H "Authorization: Bearer $ADMIN" | python3 -c 'import json,sys; print(json.load(sys.stdin)["status"])'); \
    [ "$status" = queued ] || [ "$status" = running ]; do sleep 1; done
  echo "import of $ROWS rows: $status in $(echo "$(date +%s.%N) - $started" | bc) s" | tee -a "$OUT/summary.md"
}
verify() { # verify <label>
  for run in $(seq "$RUNS"); do
    local before peak=0 started body; before=$(awk '/VmRSS/ {print $2}' /proc/$PID/status)
    started=$(date +%s.%N)
    curl -sf "$URL/api/v1/audit/verify" -H "Authorization: Bearer $ADMIN" -o "$OUT/verify.json" &
    local curl_pid=$!
    while kill -0 $curl_pid 2>/dev/null; do
      rss=$(awk '/VmRSS/ {print $2}' /proc/$PID/status); [ "$rss" -gt "$peak" ] && peak=$rss; sleep 0.1
    done
    body=$(cut -c1-120 "$OUT/verify.json")
    echo "$1 verify #$run: $(echo "$(date +%s.%N) - $started" | bc) s, RSS $((before / 1024)) MiB -> peak $((peak / 1024)) MiB; $body" | tee -a "$OUT/summary.md"
  done
}
median() { sort -n | awk '{a[NR]=$1} END {print (NR % 2 ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2) * 1000 " ms"}'; }
proofs() { # proofs <label> <event id>
  curl -sf "$URL/api/v1/events/$2/proof" -H "Authorization: Bearer $ADMIN" | python3 "$ROOT/bench/check_proof.py" | tee -a "$OUT/summary.md"
  for _ in $(seq "$PROOFS"); do
    curl -sf -o /dev/null -w '%{time_total}\n' "$URL/api/v1/events/$2/proof" -H "Authorization: Bearer $ADMIN"
  done | median | sed "s/^/$1 proof median of $PROOFS: /" | tee -a "$OUT/summary.md"
}

if [ "${BASELINE:-0}" = 1 ]; then
  mkdir -p "$OUT/main" && git -C "$ROOT" archive main | tar -x -C "$OUT/main"
  dotnet build -c Release "$OUT/main/Api/Api.csproj" -v q -nologo >/dev/null
  serve "$OUT/main/Api/bin/Release/net10.0/Tally.Api.dll" "$OUT/main.db"
  import; verify "main (per-event entries)"; stop
  rm -rf "$OUT/main" "$OUT"/main.db*
fi

dotnet build -c Release "$ROOT/Api/Api.csproj" -v q -nologo >/dev/null
serve "$ROOT/Api/bin/Release/net10.0/Tally.Api.dll" "$OUT/tally.db"
single=$(curl -sf -X POST "$URL/api/v1/events" -H "Authorization: Bearer $ADMIN" -H 'Content-Type: application/json' \
  -d '{"metric":"notices.issued","occurredOn":"2024-05-01","quantity":3,"orgUnit":"hedong","note":"单条"}' \
  | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
import
middle=$(sqlite3 "$OUT/tally.db" "SELECT id FROM events WHERE source = (SELECT source FROM events WHERE external_id = 'bench-0') AND external_id = 'bench-$((ROWS / 2))'")
proofs "single POST" "$single"
proofs "event $((ROWS / 2)) of the $ROWS-row import" "$middle"
verify "merkle form"
stop
echo "uptime at end: $(uptime)" | tee -a "$OUT/summary.md"
rm -f "$OUT/events.csv" "$OUT"/tally.db*
