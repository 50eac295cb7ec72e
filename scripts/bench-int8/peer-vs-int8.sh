#!/usr/bin/env bash
# One run of the embedding comparison with the PyTorch peer: the peer, then `xcos bench --only embed` (TorchSharp,
# ONNX fp32, ONNX int8), then the peer again, 2 threads, with the load average before each step. Prints each step's
# JSON line and the int8 / fp32 ratios to the peers' mean. With BASELINE (another build's xcos, e.g. main's), that
# build's bench runs first after the first peer, so both builds are compared in the same run.
# usage: scripts/bench-int8/peer-vs-int8.sh [SECONDS=20] [XCOS=src/Xcos.Cli/bin/Release/net10.0/xcos] [BASELINE]
set -euo pipefail
seconds="${1:-20}"
xcos="${2:-src/Xcos.Cli/bin/Release/net10.0/xcos}"
baseline="${3:-}"
peer_dir="$(cd "$(dirname "$0")/../../../shared/peer" && pwd)"
load() { echo "load average: $(cut -d' ' -f1-3 /proc/loadavg) at $(date -u +%H:%M:%S)"; }
load
p1=$(nice -n 5 /usr/bin/python3 "$peer_dir/bench_torch.py" --threads 2 --seconds "$seconds" --only embed | tail -1)
echo "peer 1: $p1"
load
base='{}'
if [ -n "$baseline" ]; then
  base=$(nice -n 5 "$baseline" bench --threads 2 --seconds "$seconds" --only embed --json 2>/dev/null | tr -d '\n')
  echo "baseline: $base"
  load
fi
ours=$(nice -n 5 "$xcos" bench --threads 2 --seconds "$seconds" --only embed --json 2>/dev/null | tr -d '\n')
echo "ours:   $ours"
load
p2=$(nice -n 5 /usr/bin/python3 "$peer_dir/bench_torch.py" --threads 2 --seconds "$seconds" --only embed | tail -1)
echo "peer 2: $p2"
load
/usr/bin/python3 - "$p1" "$ours" "$p2" "$base" <<'PY'
import json, sys
p1, ours, p2, base = (json.loads(a) for a in sys.argv[1:])
peer = (p1["embed_images_per_s"] + p2["embed_images_per_s"]) / 2
for name, r in (("baseline", base), ("ours", ours)):
    for key in ("embed_images_per_s", "embed_images_per_s_onnx", "embed_images_per_s_onnx_int8"):
        if key in r:
            print(f"{name} {key}: {r[key]:.2f} images/s = {r[key] / peer:.2f}x the peers' mean {peer:.2f} ({p1['embed_images_per_s']:.2f} / {p2['embed_images_per_s']:.2f})")
PY
