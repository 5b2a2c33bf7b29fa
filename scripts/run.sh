#!/usr/bin/env bash
# Installs everything, builds the browser editor (web/dist) and kino-node in release mode and runs
# it: by default the node serving the editor and the API on 127.0.0.1:8080 with its SQLite store in
# ./data (the README's run command). Any arguments replace that, e.g.
# `bash scripts/run.sh render in.mp4 -o out.mp4`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/web.sh
cargo build -q --release -p kino-node
if [ $# -eq 0 ]; then set -- serve --listen "${KINO_LISTEN:-127.0.0.1:8080}" --data-dir "${KINO_DATA_DIR:-data}"; fi
exec ./target/release/kino-node "$@"
