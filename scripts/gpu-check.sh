#!/usr/bin/env bash
# The GPU path, checked on a machine with an NVIDIA GPU, in five pieces, each ending in one line "gpu-check PIECE: ...":
#   restore  build the CLI and the Torch tests with -p:XcosTorchBackend=cuda -p:XcosOnnxBackend=cuda (libtorch's and
#            ONNX Runtime's CUDA natives); where the libtorch ones do not restore, the ONNX Runtime one alone
#   parity   the tiny fixture network on CUDA against the CPU and the PyTorch fixture (CudaParityTests)
#   train    a few training steps on CUDA (CudaParityTests), then `xcos bench --only train --device cuda`
#   bench    `xcos bench --device cuda` (embed, head; ONNX Runtime through its CUDA execution provider) and the same on the CPU
#   onnx     the shipped ONNX face model (fr_feature) through the CUDA execution provider: `xcos bench --only face --device cuda`
# Figures go to $GPU_CHECK_OUT (default artifacts/gpu-check) as JSON. Without a GPU every piece says so and the script
# exits 0; it uses no outside command before it has found nvidia-smi, so an empty PATH reaches the last line too.
# The build it leaves in the tree is the CUDA one: `dotnet restore` (no properties) switches back to the CPU natives.
# usage: scripts/gpu-check.sh [SECONDS_PER_MEASUREMENT=10]
set -uo pipefail
here=${BASH_SOURCE[0]%/*}
[[ $here == "${BASH_SOURCE[0]}" ]] && here=.
cd "$here/.." || exit 1
seconds=${1:-10}
out=${GPU_CHECK_OUT:-artifacts/gpu-check}
pieces=(restore parity train bench onnx)

no_gpu=""
if ! command -v nvidia-smi >/dev/null 2>&1; then
    no_gpu="nvidia-smi not found"
elif ! gpus=$(nvidia-smi -L 2>/dev/null) || [[ $gpus != *"GPU "* ]]; then
    no_gpu="nvidia-smi lists no GPU"
fi
if [[ -n $no_gpu ]]; then
    for p in "${pieces[@]}"; do echo "gpu-check $p: skipped, no NVIDIA GPU ($no_gpu)"; done
    echo "gpu-check: no NVIDIA GPU on this machine ($no_gpu); nothing ran on CUDA."
    exit 0
fi

mkdir -p "$out"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader > "$out/gpu.txt" 2>&1
echo "gpu-check: $(head -1 "$out/gpu.txt")"
failed=0
fail() { echo "gpu-check $1: FAILED, $2"; failed=1; }

# restore: libtorch and ONNX Runtime on CUDA; the ONNX Runtime build alone where libtorch's CUDA natives are not served
torch_cuda=0; onnx_cuda=0
if dotnet build src/Xcos.Cli -c Release -nologo -v q -p:XcosTorchBackend=cuda -p:XcosOnnxBackend=cuda > "$out/restore.log" 2>&1 \
    && dotnet build tests/Xcos.ML.Torch.Tests -c Release -nologo -v q -p:XcosTorchBackend=cuda -p:XcosOnnxBackend=cuda >> "$out/restore.log" 2>&1; then
    torch_cuda=1; onnx_cuda=1
    echo "gpu-check restore: libtorch and ONNX Runtime CUDA builds restored and built"
elif dotnet build src/Xcos.Cli -c Release -nologo -v q -p:XcosOnnxBackend=cuda > "$out/restore-onnx.log" 2>&1; then
    onnx_cuda=1
    fail restore "libtorch's CUDA natives did not restore (see $out/restore.log: $(grep -m1 -o 'error NU[0-9]*: [^[]*' "$out/restore.log")); ONNX Runtime's CUDA build did"
else
    fail restore "neither CUDA build restored (see $out/restore.log and $out/restore-onnx.log)"
fi
xcos=src/Xcos.Cli/bin/Release/net10.0/xcos

# parity and a few training steps: the CUDA tests must run, not be skipped
if [[ $torch_cuda == 1 ]]; then
    dotnet test tests/Xcos.ML.Torch.Tests -c Release --no-build -p:XcosTorchBackend=cuda -p:XcosOnnxBackend=cuda \
        --filter "FullyQualifiedName~CudaParityTests" --logger "trx;LogFileName=cuda-parity.trx" --results-directory "$out" > "$out/parity.log" 2>&1
    rc=$?
    summary=$(grep -E '(Passed|Failed)!' "$out/parity.log" | tail -1)
    if [[ $rc != 0 ]]; then fail parity "$summary (see $out/parity.log)"
    elif grep -q 'Skipped:     0' <<< "$summary"; then echo "gpu-check parity: the fixture network on CUDA matches the CPU and the PyTorch fixture ($summary)"
    else fail parity "the CUDA tests were skipped: libtorch sees no CUDA device ($summary)"
    fi
    if [[ $rc == 0 ]] && "$xcos" bench --only train --device cuda --seconds "$seconds" --json > "$out/train_cuda.json" 2> "$out/train.log"; then
        echo "gpu-check train: steps on CUDA pass (CudaParityTests); $(grep -o '"train_pairs_per_s": *[0-9.]*' "$out/train_cuda.json")"
    else fail train "see $out/parity.log and $out/train.log"
    fi
    if "$xcos" bench --only embed,head --device cuda --seconds "$seconds" --json > "$out/bench_cuda.json" 2> "$out/bench.log" \
        && "$xcos" bench --only embed,head --device cpu --threads "$(nproc)" --seconds "$seconds" --json > "$out/bench_cpu.json" 2>> "$out/bench.log"; then
        echo "gpu-check bench: $out/bench_cuda.json against $out/bench_cpu.json"
    else fail bench "see $out/bench.log"
    fi
else
    for p in parity train bench; do echo "gpu-check $p: skipped, no libtorch CUDA build (see the restore line)"; done
fi

# the ONNX face model on ONNX Runtime's CUDA execution provider
models=${XCOS_MODELS:-$HOME/.local/share/xcos/models}
if [[ $onnx_cuda != 1 ]]; then
    echo "gpu-check onnx: skipped, no ONNX Runtime CUDA build (see the restore line)"
elif [[ ! -f $models/fr_feature.onnx ]]; then
    echo "gpu-check onnx: skipped, no fr_feature.onnx in $models (scripts/fetch-models.sh, or set XCOS_MODELS)"
elif "$xcos" bench --only face --device cuda --models-dir "$models" --seconds "$seconds" --json > "$out/face_cuda.json" 2> "$out/onnx.log" \
    && "$xcos" bench --only face --device cpu --threads "$(nproc)" --models-dir "$models" --seconds "$seconds" --json > "$out/face_cpu.json" 2>> "$out/onnx.log"; then
    echo "gpu-check onnx: fr_feature on CUDAExecutionProvider $(grep -o '"face_images_per_s_onnx": *[0-9.]*' "$out/face_cuda.json"), on the CPU $(grep -o '[0-9.]*$' <<< "$(grep -o '"face_images_per_s_onnx": *[0-9.]*' "$out/face_cpu.json")") images/s"
else fail onnx "see $out/onnx.log"
fi

if [[ $failed == 0 ]]; then echo "gpu-check: all pieces passed on the GPU; figures in $out"
else echo "gpu-check: some pieces failed on the GPU (lines above); logs in $out"
fi
exit $failed
