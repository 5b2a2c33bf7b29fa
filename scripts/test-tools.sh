#!/usr/bin/env bash
# Reference tools the tests and benchmarks compare against, from PyPI into .venv-tools (pinned):
# PySceneDetect (scene cuts), openapi-spec-validator (the node's OpenAPI document), OpenTimelineIO with its CMX 3600 and FCP XML adapters (reads the cut lists
# Kino exports). auto-editor is not here: its only release on PyPI downloads a binary from GitHub.
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=.venv-tools
STAMP=$VENV/.kino-tools-4
if [ -f "$STAMP" ]; then exit 0; fi
. scripts/python-venv.sh
need_python_venv test-tools
echo "test-tools: installing scenedetect, opentimelineio, openapi-spec-validator into $VENV"
rm -rf "$VENV"
python3 -m venv "$VENV"
PIP=("$VENV/bin/pip" install -q --disable-pip-version-check)
# scenedetect asks for the GUI build of OpenCV (needs libGL); the headless build serves it the same.
"${PIP[@]}" opencv-python-headless==5.0.0.93 numpy==2.4.6 click==8.3.1 platformdirs==4.5.0 tqdm==4.67.1 \
  opentimelineio==0.18.1 otio-cmx3600-adapter==1.0.0 otio-fcpx-xml-adapter==1.0.0 \
  openapi-spec-validator==0.9.0
"${PIP[@]}" --no-deps scenedetect==0.7.2
touch "$STAMP"
