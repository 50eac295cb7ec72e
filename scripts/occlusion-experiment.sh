#!/usr/bin/env bash
# The masked-face experiment of docs/occlusion.md on synthetic identities: train xCos on clean faces and on clean +
# 25 %-masked faces, then measure the 10-fold accuracy of xCos and of the cosine as 0/10/25/40/50 % of face 2 is masked.
#   MODE full: MobileFaceNet xCos from scratch (the demo recipe); needs a quiet machine (hours on a loaded 2-core one).
#   MODE head: the xCos head (grid layer + attention) on the frozen real face model fr_feature, trained by MSE to that
#              model's cosine; its maps are computed once, so it fits a loaded 2-core machine (about 20 min).
# Usage: scripts/occlusion-experiment.sh [WORK_DIR] [EPOCHS] [full|head]  (after `dotnet build src/Xcos.Cli -c Release`;
#        head mode needs the face models: `xcos models fetch` or XCOS_MODELS)
set -euo pipefail
cd "$(dirname "$0")/.."
work=${1:-/tmp/xcos-occlusion}
epochs=${2:-4}
mode=${3:-full}
case "$mode" in full|head) ;; *) echo "mode '$mode': expected full or head" >&2; exit 2 ;; esac
# XCOS_DLL: a copy of the CLI build, so rebuilding the tree during a run cannot swap assemblies under it
xcos() { dotnet "${XCOS_DLL:-src/Xcos.Cli/bin/Release/net10.0/xcos.dll}" "$@"; }
rm -rf "$work" && mkdir -p "$work" docs/occlusion
xcos synth --out "$work/data" --identities 120 --images-per-identity 8 --val-fraction 0.2 --val-pairs 400 --seed 1 >/dev/null
# clean + masked copies; not "$work/mixed", which is the mixed run's output folder
cp -r "$work/data/train" "$work/mixed_data"
xcos mask --data "$work/data/train" --out "$work/mixed_data" --fraction 0.25 --seed 7 >/dev/null
for run in clean mixed; do
  echo "$(date -u +%T) training $run ($mode)" >&2
  data="$work/data/train"; [ "$run" = mixed ] && data="$work/mixed_data"
  if [ "$mode" = full ]; then
    xcos train --config configs/demo_train_config.json --data "$data" --val "$work/data/val_pairs.tsv" --out "$work/$run" \
      --epochs "$epochs" --threads 2 --seed 1 > "$work/$run.json"
  else
    xcos train --mode head --onnx-model fr_feature --data "$data" --val "$work/data/val_pairs.tsv" --out "$work/$run" \
      --epochs "$epochs" --threads 2 --seed 1 > "$work/$run.json"
  fi
done
echo "$(date -u +%T) occlusion" >&2
models=(--checkpoint "$work/clean/best.pth" "$work/mixed/best.pth")
[ "$mode" = head ] && models=(--learned-head "$work/clean/learned_head.onnx" "$work/mixed/learned_head.onnx")
xcos occlusion --pairs "$work/data/val_pairs.tsv" "${models[@]}" \
  --name "trained clean" "trained with masks" --levels 0,0.1,0.25,0.4,0.5 --seed 3 --threads 2 \
  --plot docs/occlusion/occlusion.png > docs/occlusion/occlusion.json
echo "$(date -u +%T) done" >&2
cat docs/occlusion/occlusion.json
