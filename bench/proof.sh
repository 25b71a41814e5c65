#!/usr/bin/env bash
# GET /events/{id}/proof and GET /audit/verify over a ledger of ROWS events (default 1,000,000) imported in one command,
# plus one single POST: the median of PROOFS sequential proof requests for each, each proof checked once by
# bench/check_proof.py; then /audit/verify timed RUNS times with the server's RSS sampled. With BASELINE=1 the same import
# and verify run first on main's code (git archive of main, built in a temp folder): the per-event form of before.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
ROWS=${ROWS:-1000000} PROOFS=${PROOFS:-50} RUNS=${RUNS:-3} PORT=${PORT:-5680}
OUT="$ROOT/bench/out/proof-$(date -u +%Y%m%dT%H%M%SZ)"; mkdir -p "$OUT"
URL="http://127.0.0.1:$PORT"
. "$ROOT/bench/lib.sh"
echo "uptime at start: $(uptime)" | tee "$OUT/summary.md"
python3 "$ROOT/bench/make_import_files.py" csv "$ROWS" "$OUT/events.csv" hedong

import() {
  echo "import of $ROWS rows: succeeded in $(timed import_file "$URL" "$ADMIN_KEY" "$OUT/events.csv" text/csv name=bench) s" | tee -a "$OUT/summary.md"
}
verify() { # verify <label>
  for run in $(seq "$RUNS"); do
    read -r seconds before peak < <(verify_once "$URL" "$SERVER_PID" 2>"$OUT/verify-answer.txt")
    echo "$1 verify #$run: $seconds s, RSS $before MiB -> peak $peak MiB; $(cat "$OUT/verify-answer.txt")" | tee -a "$OUT/summary.md"
  done
}
proofs() { # proofs <label> <event id>
  echo "$1 proof median of $PROOFS: $(proof_median "$URL" "$2" 2>>"$OUT/summary.md") ms" | tee -a "$OUT/summary.md"
}

if [ "${BASELINE:-0}" = 1 ]; then
  mkdir -p "$OUT/main" && git -C "$ROOT" archive main | tar -x -C "$OUT/main"
  dotnet build -c Release "$OUT/main/Api/Api.csproj" -v q -nologo >/dev/null
  TALLY_DLL="$OUT/main/Api/bin/Release/net10.0/Tally.Api.dll" start_tally "$OUT/main.db" "$PORT"
  import; verify "main (per-event entries)"; stop "$SERVER_PID"
  rm -rf "$OUT/main" "$OUT"/main.db*
fi

bench_build
start_tally "$OUT/tally.db" "$PORT"
single=$(curl -sf -X POST "$URL/api/v1/events" -H "Authorization: Bearer $ADMIN_KEY" -H 'Content-Type: application/json' \
  -d '{"metric":"notices.issued","occurredOn":"2024-05-01","quantity":3,"orgUnit":"hedong","note":"单条"}' \
  | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
import
middle=$(sqlite3 "$OUT/tally.db" "SELECT id FROM events WHERE source = (SELECT source FROM events WHERE external_id = 'bench-0') AND external_id = 'bench-$((ROWS / 2))'")
proofs "single POST" "$single"
proofs "event $((ROWS / 2)) of the $ROWS-row import" "$middle"
verify "merkle form"
stop "$SERVER_PID"
echo "uptime at end: $(uptime)" | tee -a "$OUT/summary.md"
rm -f "$OUT/events.csv" "$OUT"/tally.db*
