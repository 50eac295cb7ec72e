#!/usr/bin/env bash
# The ablation of data/fr_feature_xcos: the shipped recipe (anchored head, tail from conv_4, distill + xcos + verify)
# against one change at a time, each for the same epochs and seed. Writes RUN_DIR/ablation.md: the settings people's
# AUC per occluder at each run's best epoch and dev-faces' (the report people) beside the original cosine.
# usage: scripts/fr-feature-xcos/ablation.sh RUN_DIR [EPOCHS]   (needs XCOS_MODELS with fr_feature.onnx)
set -euo pipefail
run="${1:?usage: ablation.sh RUN_DIR [EPOCHS]}"
epochs="${2:-3}"
repo="$(cd "$(dirname "$0")/../.." && pwd)"
shared="${XCOS_SHARED:-$repo/../shared}"
mkdir -p "$run"
[ -f "$run/bin/xcos.dll" ] || dotnet build "$repo/src/Xcos.Cli" -c Release -o "$run/bin" >/dev/null
recipe() { # $1: extra JSON members
  cat <<JSON
{ "PairsPerEpoch": 1280, "SettingsPairs": 200, "Epochs": $epochs, "BatchSize": 16, "Seed": 0, "XcosWeight": 5,
  "Backbone": { "Kind": "Adam", "LearningRate": 1e-4, "WeightDecay": 0 },
  "GridLayer": { "Kind": "Adam", "LearningRate": 1e-3, "WeightDecay": 4e-5 },
  "Attention": { "Kind": "Adam", "LearningRate": 1e-3, "WeightDecay": 4e-5 }, "AttentionStartScale": 0$1 }
JSON
}
variant() { # name, --from, --losses, extra recipe members
  local name="$1" from="$2" losses="$3" extra="${4:-}"
  [ -f "$run/$name/out.json" ] && return 0
  mkdir -p "$run/$name"
  recipe "$extra" > "$run/$name/recipe.json"
  echo "$(date -u +%T) $name" >&2
  dotnet "$run/bin/xcos.dll" train --mode occlusion --from "$from" --losses "$losses" --data "$shared/celeb-faces" \
    --report "$shared/dev-faces" --config "$run/$name/recipe.json" --threads 2 --out "$run/$name/train" --force \
    > "$run/$name/out.json.tmp" 2> "$run/$name/err.log"
  mv "$run/$name/out.json.tmp" "$run/$name/out.json"
}
variant shipped conv_4 distill,xcos,verify
variant from-conv_45 conv_45 distill,xcos,verify
variant from-conv_5 conv_5 distill,xcos,verify
variant no-distill conv_4 xcos,verify
variant no-xcos-mse conv_4 distill,verify
variant no-verify conv_4 distill,xcos
variant paper-patch-cosine conv_4 distill,xcos,verify ', "HeadForm": "PatchCosine"'
variant sampled-pairs-only conv_4 distill,xcos,verify ', "AllPairs": false'
variant attention-start-0.01-temp-0.1 conv_4 distill,xcos,verify ', "AttentionStartScale": 0.01, "Temperature": 0.1'
variant rank-term conv_4 distill,xcos,verify ', "RankWeight": 1'
{
  echo "| run | settings clean | mask | sunglasses | block | dev-faces clean | mask | sunglasses | block |"
  echo "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"
  first=1
  for d in "$run"/*/out.json; do
    name=$(basename "$(dirname "$d")")
    if [ $first = 1 ]; then
      jq -r '"| original cosine | " + ([.settings[].CosineAuc | . * 10000 | round / 10000 | tostring] | join(" | ")) + " | " + ([.report[].CosineAuc | . * 10000 | round / 10000 | tostring] | join(" | ")) + " |"' "$d"
      first=0
    fi
    jq -r --arg n "$name" '"| " + $n + " (xCos) | " + ([.settings[].XcosAuc | . * 10000 | round / 10000 | tostring] | join(" | ")) + " | " + ([.report[].XcosAuc | . * 10000 | round / 10000 | tostring] | join(" | ")) + " |"' "$d"
  done
} > "$run/ablation.md"
cat "$run/ablation.md"
