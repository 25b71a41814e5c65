# Helpers shared by the bench drivers (source it: `. bench/lib.sh`). Expects ROOT (the repository) and OUT (the run's
# folder); servers listen on 127.0.0.1 only.
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
ADMIN_KEY=${ADMIN_KEY:-tly_bench-admin-key-0123456789abcdefghijklmnopqrstu}

# bench_build: Release builds of the API and bench/Bench; sets TALLY_DLL and BENCH_DLL
bench_build() {
  dotnet build -c Release "$ROOT/Api/Api.csproj" -v q -nologo >/dev/null
  dotnet build -c Release "$ROOT/bench/Bench/Bench.csproj" -v q -nologo >/dev/null
  TALLY_DLL=$ROOT/Api/bin/Release/net10.0/Tally.Api.dll
  BENCH_DLL=$ROOT/bench/Bench/bin/Release/net10.0/Tally.Bench.dll
}

need_wrk() {
  command -v wrk >/dev/null 2>&1 || { apt-get update -qq >/dev/null && apt-get install -y -qq wrk >/dev/null; }
}

wait_ready() { # wait_ready <port>
  for _ in $(seq 300); do
    curl -sf "http://127.0.0.1:$1/health/ready" >/dev/null && return 0
    sleep 0.2
  done
  echo "server on port $1 did not become ready" >&2
  return 1
}

stop() { # stop <pid>
  kill "$1" 2>/dev/null || true
  wait "$1" 2>/dev/null || true
}

# start_tally <database file> <port>: a Release server over a fresh database, rate limit out of the way, long requests
# allowed an hour, the import passes logged (KEEP_DB=1: over the file as it is); sets SERVER_PID and KEY (an
# events:write + events:read key, source bench)
start_tally() {
  [ "${KEEP_DB:-0}" = 1 ] || rm -f "$1" "$1-wal" "$1-shm" "$1.log"
  ConnectionStrings__Tally="Data Source=$1" Tally__BootstrapAdminKey=$ADMIN_KEY \
    Tally__RateLimit__PermitsPerSecond=100000000 Tally__RateLimit__Burst=100000000 \
    Tally__Limits__LongRequestTimeout=01:00:00 Logging__LogLevel__Default=Warning ASPNETCORE_ENVIRONMENT=Production \
    env "Logging__LogLevel__Tally.Api.Features.Imports=Information" \
    dotnet "$TALLY_DLL" --urls "http://127.0.0.1:$2" >>"$1.log" 2>&1 &
  SERVER_PID=$!
  wait_ready "$2"
  KEY=$(curl -sf -X POST "http://127.0.0.1:$2/api/v1/api-keys" -H "Authorization: Bearer $ADMIN_KEY" \
    -H 'Content-Type: application/json' \
    -d '{"name":"bench","source":"bench","scopes":["events:write","events:read"]}' | jq -r .key)
}

# post_load <label> <url> <path> <key|none>: a 3 s warm-up, then $DURATION s of wrk -c$CONNECTIONS; prints requests/s
# (POST_KEYS=spread: each request in another as-of key, see bench/post.lua)
post_load() {
  wrk -t1 -c"$CONNECTIONS" -d3s -s "$ROOT/bench/post.lua" "$2" -- "$3" "$4" "${POST_KEYS:-one}" >/dev/null
  wrk -t1 -c"$CONNECTIONS" -d"${DURATION}s" --latency -s "$ROOT/bench/post.lua" "$2" -- "$3" "$4" "${POST_KEYS:-one}" >"$OUT/wrk-$1.txt"
  if grep -q "Non-2xx" "$OUT/wrk-$1.txt"; then
    echo "$1: non-2xx responses, see $OUT/wrk-$1.txt" >&2
    return 1
  fi
  awk '/Requests\/sec/ { print $2 }' "$OUT/wrk-$1.txt"
}

# import_file <url> <key> <file> <content type> <query>: POST then poll until it ends; fails unless it succeeded
import_file() {
  local id status
  id=$(curl -sf -X POST "$1/api/v1/imports?$5" -H "Authorization: Bearer $2" -H "Content-Type: $4" \
    --data-binary "@$3" | jq -r .id)
  while :; do
    status=$(curl -sf "$1/api/v1/imports/$id" -H "Authorization: Bearer $2")
    case $(jq -r .status <<<"$status") in succeeded) echo "$status" >"$OUT/last-import.json"; return 0 ;;
      failed) echo "$status" | head -c 2000 >&2; return 1 ;; esac
    sleep 0.2
  done
}

# timed <command...>: runs it, prints the seconds it took
timed() {
  local start; start=$(date +%s.%N)
  "$@" >&2
  awk -v s="$start" -v e="$(date +%s.%N)" 'BEGIN { printf "%.2f\n", e - s }'
}

# db_bytes <database file>: PRAGMA wal_checkpoint(TRUNCATE) (the server stopped), then the bytes of the file and its WAL
db_bytes() {
  sqlite3 "$1" "PRAGMA wal_checkpoint(TRUNCATE);" >/dev/null
  stat -c %s "$1" "$1-wal" 2>/dev/null | awk '{ s += $1 } END { print s }'
}

# db_breakdown <database file>: MB per table and index (dbstat), largest first
db_breakdown() {
  sqlite3 -separator ' ' "$1" "SELECT name, round(sum(pgsize) / 1048576.0, 1) || ' MB' FROM dbstat GROUP BY name ORDER BY sum(pgsize) DESC LIMIT 12;"
}

rss_kib() { awk '/VmRSS/ { print $2 }' "/proc/$1/status"; }
load_average() { cut -d' ' -f1-3 /proc/loadavg; }
median() { sort -g | awk '{ a[NR] = $1 } END { print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
field() { sed -n "s/.*$1=\([0-9.]*\).*/\1/p"; }

# proof_median <url> <event id>: checks the proof once with bench/check_proof.py (to stderr), then prints the median of
# $PROOFS sequential requests in ms
proof_median() {
  curl -sf "$1/api/v1/events/$2/proof" -H "Authorization: Bearer $ADMIN_KEY" | python3 "$ROOT/bench/check_proof.py" >&2
  for _ in $(seq "$PROOFS"); do
    curl -sf -o /dev/null -w '%{time_total}\n' "$1/api/v1/events/$2/proof" -H "Authorization: Bearer $ADMIN_KEY"
  done | median | awk '{ printf "%.1f\n", $1 * 1000 }'
}

# verify_once <url> <server pid>: GET /audit/verify with the server's RSS sampled every 0.1 s; prints
# "<seconds> <RSS before MiB> <peak MiB>" (the answer's start goes to stderr)
verify_once() {
  local before peak started rss curl_pid
  before=$(rss_kib "$2"); peak=$before; started=$(date +%s.%N)
  curl -sf "$1/api/v1/audit/verify" -H "Authorization: Bearer $ADMIN_KEY" -o "$OUT/verify.json" &
  curl_pid=$!
  while kill -0 $curl_pid 2>/dev/null; do
    rss=$(rss_kib "$2"); [ "$rss" -gt "$peak" ] && peak=$rss; sleep 0.1
  done
  wait $curl_pid
  cut -c1-120 "$OUT/verify.json" >&2; echo >&2
  awk -v s="$started" -v e="$(date +%s.%N)" -v b="$before" -v p="$peak" 'BEGIN { printf "%.2f %d %d\n", e - s, b / 1024, p / 1024 }'
}
