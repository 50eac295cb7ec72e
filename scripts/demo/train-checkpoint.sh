#!/usr/bin/env bash
# Retrains the shipped demo checkpoint from scratch and replaces data/demo with the result:
# configs/demo_train_config.json (MobileFaceNet, 2 epochs = 114 steps of 32 pairs, seed 0, 1 thread) on the
# default synthetic identities (250, 8 images each, the last 25 held out, 400 held-out pairs).
# The number of steps is fixed, so the weights and the recorded accuracy do not depend on how busy the machine is;
# only the time does. data/demo is replaced only after a successful run.
set -euo pipefail
cd "$(dirname "$0")/../.."
out="${1:-$(mktemp -d)/xcos-demo-train}"
dotnet build src/Xcos.Cli -c Release -v q -nologo
dotnet src/Xcos.Cli/bin/Release/net10.0/xcos.dll demo --train --out "$out"
for f in xcos_demo.pth xcos_demo.json val_pairs.tsv; do
  cp "$out/checkpoint/$f" "data/demo/.$f.tmp" && mv "data/demo/.$f.tmp" "data/demo/$f"
done
echo "data/demo: xcos_demo.pth, xcos_demo.json, val_pairs.tsv replaced from $out/checkpoint"
