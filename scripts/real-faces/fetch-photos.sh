#!/usr/bin/env bash
# Fetches real photographs for calibrating and evaluating the real-face pipeline into DEST (never committed).
#  - npm @vladmandic/face-api@1.7.15 (MIT): demo/sample1..6.jpg, group photos, about 20 faces, no identity labels.
#  - Debian opencv-doc (OpenCV sample data): the photos of people among examples/data: messi5.jpg, the stereo pair
#    left06.jpg/right06.jpg (one person, two cameras) and basketball1.png/basketball2.png (two frames of one scene).
#    Found by running the detector over all 91 images there and checking each hit by eye (baboon.jpg and ml.png
#    also fire the detector but show a monkey and a robot).
# Only the ordinary clients are used (npm pack, apt-get download); nothing is installed system-wide.
set -euo pipefail
dest="${1:?usage: fetch-photos.sh DEST}"
mkdir -p "$dest"
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
command -v npm >/dev/null || { echo "npm is missing: install Node.js and npm (Debian: apt-get install -y npm)" >&2; exit 1; }
( cd "$tmp" && npm pack --silent @vladmandic/face-api@1.7.15 >/dev/null && tar -xzf ./*.tgz package/demo )
for i in 1 2 3 4 5 6; do cp "$tmp/package/demo/sample$i.jpg" "$dest/faceapi_sample$i.jpg"; done
if command -v apt-get >/dev/null; then
  ( cd "$tmp" && apt-get download opencv-doc >/dev/null 2>&1 && dpkg-deb -x opencv-doc_*.deb ocv ) || echo "opencv-doc not available from apt; using the face-api photos only" >&2
  if [ -d "$tmp/ocv" ]; then
    for n in messi5.jpg left06.jpg right06.jpg basketball1.png basketball2.png; do
      f=$(find "$tmp/ocv" -name "$n" | head -1); [ -n "$f" ] && cp "$f" "$dest/opencv_$n"
    done
  fi
fi
ls -l "$dest"
