#!/usr/bin/env bash
# Crash safety (bench/README.md, "Reliability"): a Release server on 127.0.0.1:5582 takes concurrent single and batch
# writes and is killed with SIGKILL at a random moment, ROUNDS times; after each restart every acknowledged event must
# be there, no batch torn, integrity_check ok, daily_rollups equal to the events, and GET /audit/verify valid.
# Usage: bench/crash.sh [ROUNDS] [SEED]. Output and the database: bench/out/crash-<time>/.
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${1:-8}
SEED=${2:-$RANDOM}
OUT=$(pwd)/bench/out/crash-$(date -u +%Y%m%dT%H%M%SZ)
mkdir -p "$OUT"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
dotnet build -c Release Api/Api.csproj -v q -nologo >/dev/null
dotnet build -c Release bench/Reliability/Reliability.csproj -v q -nologo >/dev/null
echo "== crash: $ROUNDS rounds, seed $SEED, out $OUT"
dotnet bench/Reliability/bin/Release/net10.0/Tally.Reliability.dll crash \
  "$(pwd)/Api/bin/Release/net10.0/Tally.Api.dll" 5582 "$ROUNDS" "$OUT" "$SEED" | tee "$OUT/crash.txt"
