#!/usr/bin/env bash
# Fetches the real face models (npm package faceplugin-face-recognition-js@0.0.1, MIT) into $1.
# Same steps as `xcos models fetch`; used by CI, which has no built CLI yet when it starts.
set -euo pipefail
dest="${1:?usage: fetch-models.sh DEST}"
pkg="faceplugin-face-recognition-js@0.0.1"
if [ -f "$dest/fr_feature.onnx" ] && [ -f "$dest/fr_detect.onnx" ] && [ -f "$dest/fr_landmark.onnx" ]; then exit 0; fi
command -v npm >/dev/null || { echo "npm is missing: install Node.js and npm (Debian: apt-get install -y npm)" >&2; exit 1; }
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
( cd "$tmp" && npm pack --silent "$pkg" >/dev/null && tar -xzf ./*.tgz )
mkdir -p "$dest"
for m in fr_detect fr_landmark fr_feature; do cp "$tmp/package/model/$m.onnx" "$dest/"; done
cp -r "$tmp"/package/lib "$dest"/lib
ls "$dest"
