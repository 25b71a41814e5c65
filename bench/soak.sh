#!/usr/bin/env bash
# Soak (bench/README.md, "Reliability"): MINUTES of mixed load paced at RATE requests/s against a Release server on
# 127.0.0.1:5583: single writes, batches of 100, upserts of running counts, listings, NDJSON exports, and totals when
# the route exists. Passes with no 5xx and RSS growth under 10% after the two-minute warm-up; prints p99 per minute.
# Usage: bench/soak.sh [MINUTES] [RATE]. Output: bench/out/soak-<time>/soak.md.
set -euo pipefail
cd "$(dirname "$0")/.."
MINUTES=${1:-10}
RATE=${2:-200}
OUT=$(pwd)/bench/out/soak-$(date -u +%Y%m%dT%H%M%SZ)
mkdir -p "$OUT"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
dotnet build -c Release Api/Api.csproj -v q -nologo >/dev/null
dotnet build -c Release bench/Reliability/Reliability.csproj -v q -nologo >/dev/null
echo "== soak: $MINUTES min at $RATE req/s, out $OUT"
dotnet bench/Reliability/bin/Release/net10.0/Tally.Reliability.dll soak \
  "$(pwd)/Api/bin/Release/net10.0/Tally.Api.dll" 5583 "$MINUTES" "$RATE" "$OUT"
