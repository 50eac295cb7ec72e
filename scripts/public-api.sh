#!/usr/bin/env bash
# Rebuilds PublicAPI.Shipped.txt of src/Xcos.ML and src/Xcos.ML.Torch from the code as it is, and empties
# PublicAPI.Unshipped.txt (Microsoft.CodeAnalysis.PublicApiAnalyzers; the rule is in docs/development.md).
# usage: scripts/public-api.sh            rewrite both libraries' files, then check that RS0016/RS0017 are clean
#        scripts/public-api.sh --check    only the check: fails when the files and the code differ
# How: with both files reduced to their header, every public symbol is an RS0016 warning whose message quotes the
# symbol's line exactly as the analyzer's fix would write it (generated code included, which `dotnet format` skips);
# those lines, sorted, become PublicAPI.Shipped.txt. The build then runs again with RS0016/RS0017 as errors.
set -euo pipefail
cd "$(dirname "$0")/.."
libs=(Xcos.ML Xcos.ML.Torch)
header='#nullable enable'

check() {
  # --no-incremental: warnings are only reported by a compile that runs
  dotnet build src/Xcos.ML.Torch -c Release --no-incremental -tl:off -p:TreatWarningsAsErrors=false \
    -warnaserror:RS0016,RS0017,RS0036,RS0037 "$@"
}

if [ "${1:-}" = "--check" ]; then check; exit; fi

for lib in "${libs[@]}"; do
  printf '%s\n' "$header" > "src/$lib/PublicAPI.Shipped.txt"
  printf '%s\n' "$header" > "src/$lib/PublicAPI.Unshipped.txt"
done
log=$(mktemp)
trap 'rm -f "$log"' EXIT
dotnet build src/Xcos.ML.Torch -c Release --no-incremental -tl:off -p:TreatWarningsAsErrors=false > "$log" 2>&1 \
  || { tail -40 "$log" >&2; echo "error: the build failed; PublicAPI files left with their header only" >&2; exit 1; }
for lib in "${libs[@]}"; do
  file="src/$lib/PublicAPI.Shipped.txt"
  # "...: warning RS0016: Symbol '<line>' is not part of the declared public API (<help>) [<project>]"
  lines=$(grep -F "warning RS0016:" "$log" | grep -F "/src/$lib/$lib.csproj]" \
    | sed -E "s/.*warning RS0016: Symbol '(.*)' is not part of the declared public API.*/\1/" | LC_ALL=C sort -u)
  [ -n "$lines" ] || { echo "error: no RS0016 warning for $lib: is Microsoft.CodeAnalysis.PublicApiAnalyzers referenced?" >&2; exit 1; }
  { printf '%s\n' "$header"; printf '%s\n' "$lines"; } > "$file"
  # a type's line is its name alone: no "->" (members have one) and no "(" (methods, constructors)
  echo "$file: $(($(wc -l < "$file") - 1)) lines, $(grep -v -- '->' "$file" | grep -vc '[(#]') public types (nested ones included)"
done
check > "$log" 2>&1 || { grep -E "error RS00" "$log" | sort -u | head -20 >&2; echo "error: the rewritten PublicAPI files do not match the code (above)" >&2; exit 1; }
echo "RS0016/RS0017 clean"
