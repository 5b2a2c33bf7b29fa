#!/usr/bin/env bash
# Benchmark: audio enhancements of issue 7 (release build). Speech denoise: kino's
# `--audio-stage denoise` (RNNoise) and `denoise:engine=deepfilternet` (DeepFilterNet3, its model
# from scripts/models.sh) beside FFmpeg's afftdn (best of three settings) and arnndn (the
# same RNNoise model, converted from the nnnoiseless crate) on the same noisy clip (the shared speech
# recording looped to MINUTES, plus pink noise with a slow ±6 dB swing and brown-noise gusts, at 0, 5
# and 10 dB SNR); every output AAC 64k, SNR against the clean speech after alignment. Then audio
# sync: a 44.1 kHz recorder take 1.3 s late against the video's own sound; offset error and the time
# sync adds to a render. Usage: bash bench/audio.sh [MINUTES]   (default 10)
set -euo pipefail
cd "$(dirname "$0")/.."
KINO_BENCH_MINUTES=${1:-10} cargo test -q --release -p kino-tests --test audio bench_audio -- --ignored --nocapture --test-threads 1 2>&1 \
  | grep -v "^running\|^test \|^$\|test result\|^\.$"
