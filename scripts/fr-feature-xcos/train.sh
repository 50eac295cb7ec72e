#!/usr/bin/env bash
# Reproduces data/fr_feature_xcos: fr_feature's tail (conv_4 on) fine-tuned with the learned xCos head and occluders
# drawn each step, on 12 celeb-faces people; the last 4 by name choose the epoch and the xCos threshold; dev-faces
# (aligned by the project's detector) is reported. The run folder stays outside the repository.
# usage: scripts/fr-feature-xcos/train.sh RUN_DIR [EPOCHS]   (needs XCOS_MODELS with fr_feature.onnx, or `xcos models fetch`)
set -euo pipefail
run="${1:?usage: train.sh RUN_DIR [EPOCHS]}"
epochs="${2:-6}"
repo="$(cd "$(dirname "$0")/../.." && pwd)"
shared="${XCOS_SHARED:-$repo/../shared}"
mkdir -p "$run"
# Adam throughout: the tail at 1e-4 (it starts trained), the new grid layer and attention at 1e-3; the xCos MSE
# weighed 5 (its values are a tenth of the distillation's); the attention starts exactly uniform (the shipped run's)
cat > "$run/recipe.json" <<JSON
{ "PairsPerEpoch": 1280, "SettingsPairs": 200, "Epochs": $epochs, "BatchSize": 16, "Seed": 0, "XcosWeight": 5,
  "Backbone": { "Kind": "Adam", "LearningRate": 1e-4, "WeightDecay": 0 },
  "GridLayer": { "Kind": "Adam", "LearningRate": 1e-3, "WeightDecay": 4e-5 },
  "Attention": { "Kind": "Adam", "LearningRate": 1e-3, "WeightDecay": 4e-5 }, "AttentionStartScale": 0 }
JSON
dotnet build "$repo/src/Xcos.Cli" -c Release -o "$run/bin" >/dev/null
dotnet "$run/bin/xcos.dll" train --mode occlusion --from conv_4 --losses distill,xcos,verify \
  --data "$shared/celeb-faces" --report "$shared/dev-faces" --config "$run/recipe.json" --threads 2 --out "$run/train" --force
# the committed files: everything but the assembled backbone (it holds fr_feature's weights)
mkdir -p "$repo/data/fr_feature_xcos"
cp "$run/train/fr_feature_xcos/"{descriptor.json,learned_head.onnx,fine_tuned_tail.bin,record.json} "$repo/data/fr_feature_xcos/"
