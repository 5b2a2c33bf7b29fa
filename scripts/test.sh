#!/usr/bin/env bash
# The whole test suite (the README's test command; .ci/run calls it): set-up, format, lints, tests.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/test-tools.sh
cargo fmt --all -- --check
cargo clippy --workspace --all-targets -q -- -D warnings
cargo clippy -p kino-web --target wasm32-unknown-unknown -q -- -D warnings
# The editor bundle the browser tests load (tests/tests/web/).
bash scripts/web.sh
cargo build -q -p kino-node
cargo test --workspace --no-fail-fast
