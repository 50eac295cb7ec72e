#!/usr/bin/env bash
# Load benchmark of `xcos serve` on loopback: N verify requests of dev-faces pairs at concurrency 1, 4, 16 and 64
# (each level also capped in seconds), then the in-process core at 4 threads for the ratio. Not a test; run it alone.
# usage: scripts/bench-serve.sh [N=2000] [CAP_SECONDS=150] [OUT=docs/results/server-bench.json]
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-2000}; cap=${2:-150}; out=${3:-docs/results/server-bench.json}
: "${XCOS_MODELS:?set XCOS_MODELS to the folder of xcos models fetch}"
dev=$(cd ../shared/dev-faces && pwd)
dotnet build src/Xcos.Cli -c Release -v q -nologo >/dev/null
nice -n 5 dotnet run scripts/bench-serve/BenchServe.cs -c Release -- "$dev" "$XCOS_MODELS" "$PWD/src/Xcos.Cli/bin/Release/net10.0/xcos.dll" "$n" "$cap" "$(realpath -m "$out")"
