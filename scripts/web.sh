#!/usr/bin/env bash
# Builds the browser editor (web/, crate kino-web) into web/dist, which the node serves at `/`.
# Installs its tools first, skipping what is already there: the wasm32 target, Trunk 0.21.14 and
# wasm-bindgen-cli at the exact version Cargo.lock pins (a mismatch breaks the generated JS glue).
# `--tools-only` installs the tools and stops (the set-up calls it that way).
set -euo pipefail
cd "$(dirname "$0")/.."

TRUNK_VERSION=0.21.14
# The wasm-bindgen version in Cargo.lock is the one the CLI must match.
WB_VERSION=$(awk '/^name = "wasm-bindgen"$/{getline; gsub(/version = |"/, ""); print; exit}' Cargo.lock)
if [ -z "$WB_VERSION" ]; then
  echo "web: wasm-bindgen not found in Cargo.lock" >&2
  exit 1
fi

if ! rustup target list --installed 2>/dev/null | grep -qx wasm32-unknown-unknown; then
  echo "web: adding the wasm32-unknown-unknown target"
  rustup target add wasm32-unknown-unknown
fi
if ! trunk --version 2>/dev/null | grep -qx "trunk $TRUNK_VERSION"; then
  echo "web: installing trunk $TRUNK_VERSION (compiles for a few minutes, once)"
  cargo install -q --locked trunk --version "$TRUNK_VERSION"
fi
if ! wasm-bindgen --version 2>/dev/null | grep -q "^wasm-bindgen $WB_VERSION\b"; then
  echo "web: installing wasm-bindgen-cli $WB_VERSION (compiles for a few minutes, once)"
  # Not --locked: its lock file names a crate version the registry mirror lacks.
  cargo install -q wasm-bindgen-cli --version "$WB_VERSION"
fi
if [ "${1:-}" = "--tools-only" ]; then exit 0; fi

# Trunk runs offline (Trunk.toml): it must find every crate already fetched.
cargo fetch -q
trunk build --release --config Trunk.toml
echo "web: bundle in web/dist"
