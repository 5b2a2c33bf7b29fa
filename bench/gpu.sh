#!/usr/bin/env bash
# Benchmark: the GPU path (kino-gpu over Vulkan) on a bare GPU machine, where nothing is installed but
# the driver and nothing can be fetched. Two steps:
#   bash bench/gpu.sh pack        here: builds gpu_bench (no FFmpeg, no ONNX Runtime; raw RGB in and
#                                 out), and puts it, the Vulkan loader and the fast/span ONNX files in
#                                 gpu-bench/ (about 12 MB; a folder git ignores, so carry it).
#   bash bench/gpu.sh run [DIR]   there: ms/frame for fast ×4 and span ×4 at 640×360 and 1920×1080
#                                 (whole frames), fp16 and fp32, median of REPEAT (10) runs.
# Without a Vulkan ICD file for the NVIDIA driver (containers often mount only its compute
# libraries), `run` writes one for libGLX_nvidia.so.0 when that library is present.
set -euo pipefail
cd "$(dirname "$0")/.."
case "${1:-}" in
pack)
  cargo build -q --release -p kino-gpu --example gpu_bench
  rm -rf gpu-bench && mkdir -p gpu-bench/lib gpu-bench/models
  strip -o gpu-bench/gpu_bench target/release/examples/gpu_bench
  cp -L "$(ldconfig -p | awk '/libvulkan.so.1 .*x86-64/ {print $NF; exit}')" gpu-bench/lib/libvulkan.so.1
  cp models/realesr-animevideov3-x4.onnx models/span-x4.onnx gpu-bench/models/
  cp bench/gpu.sh gpu-bench/
  du -sh gpu-bench
  ;;
run)
  DIR=${2:-gpu-bench}
  DIR=$(cd "$DIR" && pwd)
  export LD_LIBRARY_PATH="$DIR/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  ICDS=$(ls /usr/share/vulkan/icd.d/*.json /etc/vulkan/icd.d/*.json 2>/dev/null || true)
  if [ -z "${VK_ICD_FILENAMES:-}" ] && [ -z "$ICDS" ]; then
    NV=$( (ldconfig -p 2>/dev/null | awk '/libGLX_nvidia.so.0/ {print $NF; exit}') || true)
    [ -n "$NV" ] || NV=$(find / -name 'libGLX_nvidia.so.0' 2>/dev/null | head -1 || true)
    if [ -n "$NV" ]; then
      printf '{"file_format_version":"1.0.0","ICD":{"library_path":"%s","api_version":"1.3.0"}}\n' "$NV" >"$DIR/nvidia_icd.json"
      export VK_ICD_FILENAMES="$DIR/nvidia_icd.json"
      echo "gpu.sh: no Vulkan ICD file; wrote one for $NV"
    else
      echo "gpu.sh: no Vulkan ICD file and no libGLX_nvidia.so.0: this machine's driver has no Vulkan" >&2
    fi
  fi
  # Whole 1080p frames ×4 hold ~2.5 GB of tensors: above the node's default bound (it tiles).
  export KINO_GPU_MEMORY_MB=${KINO_GPU_MEMORY_MB:-32768}
  REPEAT=${REPEAT:-10}
  command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader || true
  for model in realesr-animevideov3-x4 span-x4; do
    for size in "640 360" "1920 1080"; do
      for precision in fp16 fp32; do
        echo "== $model $size $precision"
        KINO_GPU_PRECISION=$precision "$DIR/gpu_bench" "$DIR/models/$model.onnx" $size "$REPEAT" || echo "(failed)"
      done
    done
  done
  ;;
*)
  echo "usage: bash bench/gpu.sh pack | run [DIR]" >&2
  exit 2
  ;;
esac
