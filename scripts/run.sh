#!/usr/bin/env bash
# Installs everything, builds kino-node in release mode and runs it with the given arguments
# (the README's run command).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
cargo build -q --release -p kino-node
if [ $# -eq 0 ]; then set -- --help; fi
exec ./target/release/kino-node "$@"
