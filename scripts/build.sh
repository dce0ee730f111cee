#!/usr/bin/env bash
# Builds release binaries of jejak into dist/: linux, windows and darwin on
# amd64 and arm64, statically linked (pure Go, CGO off), each stamped with
# the version, commit and build date 'jejak version' prints, and a
# SHA256SUMS file beside them.
#
#   bash scripts/build.sh [VERSION]      (default: git describe, else 0.1.0-dev)
set -euo pipefail
cd "$(dirname "$0")/.."

version="${1:-$(git describe --tags --always --dirty 2>/dev/null || echo 0.1.0-dev)}"
commit="$(git rev-parse HEAD 2>/dev/null || echo unknown)"
if [ -n "$(git status --porcelain 2>/dev/null)" ]; then commit="$commit-modified"; fi
# The commit's own time, not the clock: the same commit builds the same
# bytes (-trimpath drops the builder's paths).
date="$(git show -s --format=%cI HEAD 2>/dev/null || echo unknown)"
ldflags="-s -w -X main.version=$version -X main.commit=$commit -X main.buildDate=$date"

rm -rf dist && mkdir -p dist
for target in linux/amd64 linux/arm64 windows/amd64 windows/arm64 darwin/amd64 darwin/arm64; do
  os="${target%/*}" arch="${target#*/}"
  out="dist/jejak-$version-$os-$arch"
  [ "$os" = windows ] && out="$out.exe"
  echo "build.sh: $out" >&2
  CGO_ENABLED=0 GOOS="$os" GOARCH="$arch" go build -trimpath -buildvcs=false -ldflags "$ldflags" -o "$out" ./cmd/jejak
done
(cd dist && sha256sum jejak-* > SHA256SUMS)
echo "build.sh: dist/SHA256SUMS" >&2
