#!/usr/bin/env bash
# Copies the redistributable part of ../shared/corpus (files whose license
# column in MANIFEST.tsv is Apache-2.0, MIT, BSD, CC0 or DRL) into
# fixtures/corpus, with their MANIFEST.tsv lines, so that tests run from a
# fresh clone. GPL, AGPL and loghub's research-only files are never copied:
# tests read them from ../shared/corpus and skip, saying so, without it.
# NOTICE (beside the copy) credits each source; re-run after the shared
# corpus changes, and check `git status`.
#
# It then copies the part of the SigmaHQ snapshot (../shared/sigma,
# DRL-1.1) that the tests read into fixtures/sigma: see the second half.
#
# Usage: scripts/vendor-corpus.sh [CORPUS_SRC] [SIGMA_SRC]
set -euo pipefail
cd "$(dirname "$0")/.."
src="${1:-../shared/corpus}"
sigma_src="${2:-../shared/sigma}"
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

# --- The SigmaHQ snapshot -------------------------------------------------
# fixtures/sigma sits beside fixtures/corpus as ../shared/sigma sits beside
# ../shared/corpus, and outside it on purpose: tests that walk the corpus
# for every .evtx must not pick up the regression recordings.
# What the tests read (casework/hunt sigma_*_test.go, settings_test.go,
# cmd/jejak rules_fetch_test.go), and nothing else:
#   - LICENSE (DRL-1.1), README.md and SOURCE (the commit);
#   - rules/windows, every file (the prefilter test, the benchmark and
#     'rules list' load the whole folder; 'rules fetch' zips its builtin/);
#   - regression_data: each info.yml and the EVTX it names (the JSON
#     renderings beside them are left out: no test reads them);
#   - from the other rule folders, only the rules a regression info.yml
#     names by id (TestSigmaHQRegression looks each id up).
# SHA256SUMS lists every copied file with the SHA-256 of its source; the
# copy is checked against it.
sdst=fixtures/sigma
export LC_ALL=C
list="$(mktemp)"
trap 'rm -f "$list"' EXIT
(
  cd "$sigma_src"
  printf '%s\n' LICENSE README.md SOURCE
  find rules/windows -type f
  find regression_data -type f \( -name info.yml -o -name '*.evtx' \)
  # The rule ids of the regression folders: the "- id:" lines under
  # rule_metadata. Their rules outside rules/windows are copied too.
  ids="$(find regression_data -name info.yml -exec awk '/^rule_metadata:/{m=1;next} m&&/^[^ ]/{m=0} m&&$1=="-"&&$2=="id:"{print $3}' {} + | sort -u)"
  for id in $ids; do
    f="$(grep -rlE --include='*.yml' "^id: $id[[:space:]]*$" rules* | sort | head -1)"
    if [ -z "$f" ]; then
      echo "vendor-corpus.sh: rule $id of regression_data not found in $sigma_src" >&2
      exit 1
    fi
    case "$f" in rules/windows/*) ;; *) printf '%s\n' "$f" ;; esac
  done
) | sort -u > "$list"
rm -rf "$sdst" && mkdir -p "$sdst"
(cd "$sigma_src" && xargs -d '\n' sha256sum < "$list") > "$sdst/SHA256SUMS"
while IFS= read -r f; do
  mkdir -p "$sdst/$(dirname "$f")"
  cp -p "$sigma_src/$f" "$sdst/$f"
done < "$list"
(cd "$sdst" && sha256sum -c --quiet SHA256SUMS)
echo "vendor-corpus.sh: $(wc -l < "$list") SigmaHQ files copied to $sdst ($(du -sb "$sdst" | cut -f1) bytes)" >&2
