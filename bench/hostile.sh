#!/usr/bin/env bash
# Hostile load (bench/README.md, "Hostile load"; issue 17): for SECONDS, a Release server on 127.0.0.1:5584 with the
# shipped rate limits takes a flood of bad-key requests, requests with arbitrary methods, hostile import files (dry runs:
# a far column, a 50-million-character shared string, rows reaching XFD, a 20 MB NDJSON line, 100k CSV columns, garbage)
# and expensive asOf totals and reports from one read key, while a probe measures /health/live, /health/ready and one
# single POST every 250 ms (median, p99, max) and the server's RSS is sampled (start, peak, end).
# The server's GC heap is capped at HEAP_LIMIT_MB (default 2048) so a runaway import fails inside it, not the machine.
# Usage: bench/hostile.sh [SECONDS]. Output: bench/out/hostile-<time>/hostile.md and the server's log.
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_TO_RUN=${1:-60}
OUT=$(pwd)/bench/out/hostile-$(date -u +%Y%m%dT%H%M%SZ)
mkdir -p "$OUT"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
dotnet build -c Release Api/Api.csproj -v q -nologo >/dev/null
dotnet build -c Release bench/Reliability/Reliability.csproj -v q -nologo >/dev/null
echo "== hostile: $SECONDS_TO_RUN s, out $OUT"
dotnet bench/Reliability/bin/Release/net10.0/Tally.Reliability.dll hostile \
  "$(pwd)/Api/bin/Release/net10.0/Tally.Api.dll" 5584 "$SECONDS_TO_RUN" "$OUT"
rm -f "$OUT"/hostile.db "$OUT"/hostile.db-wal "$OUT"/hostile.db-shm
