#!/usr/bin/env bash
# Copies the redistributable part of ../shared/corpus (files whose license
# column in MANIFEST.tsv is Apache-2.0, MIT, BSD, CC0 or DRL) into
# fixtures/corpus, with their MANIFEST.tsv lines, so that tests run from a
# fresh clone. GPL, AGPL and loghub's research-only files are never copied:
# tests read them from ../shared/corpus and skip, saying so, without it.
# NOTICE (beside the copy) credits each source; re-run after the shared
# corpus changes, and check `git status`.
set -euo pipefail
cd "$(dirname "$0")/.."
src="${1:-../shared/corpus}"
dst=fixtures/corpus
allowed='^(Apache-2\.0|MIT|MIT OR Apache-2\.0|MIT/Apache-2\.0|BSD-2-Clause|BSD-3-Clause|CC0-1\.0|DRL-1\.1)( \(Detection Rule License\))?$'
# NOTICE is written by hand (one credit per source project): kept.
notice="$(mktemp)"
if [ -f "$dst/NOTICE" ]; then cp -p "$dst/NOTICE" "$notice"; fi
rm -rf "$dst" && mkdir -p "$dst"
if [ -s "$notice" ]; then cp -p "$notice" "$dst/NOTICE"; fi
rm -f "$notice"
head -1 "$src/MANIFEST.tsv" > "$dst/MANIFEST.tsv"
n=0
while IFS=$'\t' read -r set path repo spath commit license rest; do
  [ "$set" = set ] && continue
  if [[ "$license" =~ $allowed ]]; then
    mkdir -p "$dst/$(dirname "$path")"
    cp -p "$src/$path" "$dst/$path"
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$set" "$path" "$repo" "$spath" "$commit" "$license" "$rest" >> "$dst/MANIFEST.tsv"
    n=$((n+1))
  fi
done < "$src/MANIFEST.tsv"
# The corpus's own description (written for this project, not a copied
# sample): some tests read it as plain text that no parser takes.
cp -p "$src/README.md" "$dst/README.md"
# A module of its own, so that `go vet ./...` and `go test ./...` leave the
# corpus alone: it holds a Go file (goexif's expected values) that is data.
printf 'module corpus\n\ngo 1.21\n' > "$dst/go.mod"
# The sha256 column is the 9th: every copy must match it.
awk -F'\t' 'NR>1{print $9"  "$2}' "$dst/MANIFEST.tsv" | (cd "$dst" && sha256sum -c --quiet)
echo "vendor-corpus.sh: $n files copied to $dst" >&2
