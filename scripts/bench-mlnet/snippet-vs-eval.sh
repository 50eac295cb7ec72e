#!/usr/bin/env bash
# The README's ML.NET snippet (Fit, Transform, Evaluate, EvaluateVerification) on the packed Xcos.ML package, from a
# console project outside the repository, against `xcos eval` on the same pairs, in one run: eval, snippet, eval.
# Prints each side's seconds, the ratio, and whether the decisions agree (the snippet's PredictedLabel against
# eval's cosine at the snippet's fitted threshold).
# With XCOS_BASELINE=DIR (the bin/Release/net10.0 folder of another build, e.g. main's), that build's `xcos eval`
# runs first and last too (baseline, eval, snippet, eval, baseline), for the speed-up of eval itself.
# Usage: scripts/bench-mlnet/snippet-vs-eval.sh [PAIRS.tsv (default ../shared/dev-faces/pairs.tsv)] [WORK folder]
# Needs XCOS_MODELS (fr_detect, fr_landmark, fr_feature). Run it niced on a shared machine: nice -n 5 ...
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
pairs=$(realpath "${1:-$repo/../shared/dev-faces/pairs.tsv}")
work=${2:-$(mktemp -d -t xcos-snippet-XXXXXX)}
mkdir -p "$work"
version=0.0.0-bench.$(date -u +%Y%m%d%H%M%S).$$
skia=$(sed -n 's/.*"SkiaSharp.NativeAssets.Linux.NoDependencies" Version="\([^"]*\)".*/\1/p' "$repo/Directory.Packages.props")

dotnet build "$repo/src/Xcos.Cli" -c Release -v q -nologo >/dev/null
dotnet pack "$repo/src/Xcos.ML" -c Release --no-build -o "$work/feed" -p:PackageVersion="$version" -v q -nologo >/dev/null
rm -rf "$work/snippet" && cp -r "$repo/scripts/bench-mlnet/snippet" "$work/snippet"
printf '<configuration><packageSources><add key="xcos-packed" value="%s" /></packageSources></configuration>\n' "$work/feed" > "$work/snippet/nuget.config"
dotnet build "$work/snippet/snippet.csproj" -c Release -v q -nologo -p:XcosVersion="$version" -p:SkiaSharpVersion="$skia" > "$work/snippet-build.log" || { tail -20 "$work/snippet-build.log"; exit 1; }

# A copy, so a rebuild of the tree during the run changes neither side.
rm -rf "$work/xcos-bin" && cp -r "$repo/src/Xcos.Cli/bin/Release/net10.0" "$work/xcos-bin"
xcos="$work/xcos-bin/xcos"
run_eval() {
    local s e
    s=$(date +%s.%N)
    "${2:-$xcos}" eval --pairs "$pairs" --scores "$work/eval$1.tsv" --json > "$work/eval$1.json"
    e=$(date +%s.%N)
    echo "$e - $s" | bc > "$work/eval$1.seconds"
}
if [ -n "${XCOS_BASELINE:-}" ]; then
    rm -rf "$work/baseline-bin" && cp -r "$XCOS_BASELINE" "$work/baseline-bin"
    run_eval _base1 "$work/baseline-bin/xcos"
fi
run_eval 1
s=$(date +%s.%N)
echo "$s" > "$work/snippet.start"
(cd "$work" && dotnet snippet/bin/Release/net10.0/snippet.dll "$pairs" "$work/snippet.tsv" > "$work/snippet.json")
e=$(date +%s.%N)
echo "$e - $s" | bc > "$work/snippet.seconds"
run_eval 2
if [ -n "${XCOS_BASELINE:-}" ]; then run_eval _base2 "$work/baseline-bin/xcos"; fi

python3 - "$work" <<'PY'
import csv, json, sys
w = sys.argv[1]
sec = lambda n: float(open(f"{w}/{n}.seconds").read())
e1, e2, sn = sec("eval1"), sec("eval2"), sec("snippet")
snippet = json.loads(open(f"{w}/snippet.json").read())
# the snippet from its process start to the end of its four steps (EvaluateVerification)
steps = snippet["end_unix"] - float(open(f"{w}/snippet.start").read())
ev = list(csv.DictReader(open(f"{w}/eval1.tsv"), delimiter="\t"))
sp = list(csv.DictReader(open(f"{w}/snippet.tsv"), delimiter="\t"))
assert len(ev) == len(sp), (len(ev), len(sp))
t = float(sp[0]["cosine"]) - float(sp[0]["score"])
differ = [i for i, (a, b) in enumerate(zip(ev, sp)) if (float(a["cosine"]) > t) != (b["predicted"] == "1")]
dcos = max(abs(float(a["cosine"]) - float(b["cosine"])) for a, b in zip(ev, sp))
import os
base = {}
if os.path.exists(f"{w}/eval_base1.seconds"):
    b1, b2 = sec("eval_base1"), sec("eval_base2")
    bv = list(csv.DictReader(open(f"{w}/eval_base1.tsv"), delimiter="\t"))
    base = {"baseline_eval_s": [round(b1, 2), round(b2, 2)], "speedup_eval_vs_baseline": round((b1 + b2) / (e1 + e2), 3),
            "baseline_max_cosine_difference": max(abs(float(a["cosine"]) - float(b["cosine"])) for a, b in zip(ev, bv)),
            "baseline_metrics": json.loads(open(f"{w}/eval_base1.json").read())}
print(json.dumps({**base, "eval_s": [round(e1, 2), round(e2, 2)], "snippet_process_s": round(sn, 2), "snippet_start_to_end_of_steps_s": round(steps, 2),
                  "snippet": snippet,
                  "ratio_snippet_to_mean_eval": round(steps / ((e1 + e2) / 2), 3),
                  "threshold": t, "decisions_differing": len(differ), "max_cosine_difference": dcos,
                  "eval_metrics": json.loads(open(f"{w}/eval1.json").read())}, indent=1))
PY
