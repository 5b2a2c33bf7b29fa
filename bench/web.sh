#!/usr/bin/env bash
# The editor's figures (BENCHMARKS.md "Browser editor"): wasm bundle size (gzip -9), time to
# interactive and before/after latency of a 1080p frame per stage in headless Chromium.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/web.sh >/dev/null
for f in web/dist/*.wasm web/dist/*.js; do
  printf '%s: %s bytes, gzip -9 %s bytes\n' "$(basename "$f")" "$(stat -c %s "$f")" "$(gzip -9 -c "$f" | wc -c)"
done
cargo test -q -p kino-tests --test web -- --ignored --nocapture bench_editor 2>&1 | grep -E '^(time to|preview)'
