#!/usr/bin/env bash
# EVTX end to end against the Rust evtx crate, in one run (issue 15):
# builds a case of 40 EVTX files (~106k records) from the shared corpus,
# runs `jejak analyze` and `jejak hunt` (built-in rules) on it, then the
# peer over the same files, and prints CPU seconds per 100k records for
# each and jejak's ratio to the peer.
#
# The peer: `evtx_dump -o jsonl` (the Rust crate's own tool) when it is
# installed; `cargo install evtx` needs the crates registry, which is not
# always reachable, so otherwise pip's `evtx` module (PyEvtxParser, the
# same crate's Python binding) stands in: records_json() over every file
# in ONE python process (one interpreter start, not 40). The output says
# which peer ran.
#
#   bash scripts/bench-evtx.sh [--copies N] [--keep DIR]
#
# --keep DIR builds in DIR and leaves the files, the binary and the case
# there (to profile them afterwards).
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
corpus="${JEJAK_CORPUS:-$repo/../shared/corpus}"
copies=20 keep=""
while (($#)); do
	case "$1" in
	--copies) copies="$2"; shift 2 ;;
	--keep) keep="$2"; shift 2 ;;
	*) echo "usage: $0 [--copies N] [--keep DIR]" >&2; exit 2 ;;
	esac
done

work="${keep:-$(mktemp -d)}"
mkdir -p "$work"
[[ -n "$keep" ]] || trap 'rm -rf "$work"' EXIT

# Two real logs of different shape, alternating: security.evtx (2,261
# records, Security auditing) and sample-with-irregular-bool-values.evtx
# (3,028 records, many providers and templates). 20 copies of each is
# 40 files and 105,780 records, the size issue 15 measured.
srcs=("$corpus/logs/windows/security.evtx" "$corpus/logs/windows/sample-with-irregular-bool-values.evtx")
for s in "${srcs[@]}"; do [[ -r "$s" ]] || { echo "bench-evtx.sh: $s not found" >&2; exit 1; }; done
d="$work/evtx"
rm -rf "$d" && mkdir -p "$d"
for i in $(seq -w 1 "$copies"); do
	cp "${srcs[0]}" "$d/security-$i.evtx"
	cp "${srcs[1]}" "$d/irregular-$i.evtx"
done

jejak="$work/jejak"
(cd "$repo" && go build -o "$jejak" ./cmd/jejak)

# timed OUT CMD...: sets T_WALL and T_CPU (user+sys seconds).
timed() {
	local out="$1" tf="$work/time.out"
	shift
	/usr/bin/time -f '%e %U %S %M' -o "$tf" "$@" >"$out" 2>"$out.err" || {
		rc=$?
		((rc == 3)) || { echo "bench-evtx.sh: $* exited $rc" >&2; tail -5 "$out.err" >&2; }
	}
	read -r T_WALL u s T_RSS < <(tail -n 1 "$tf")
	T_CPU="$(awk -v a="$u" -v b="$s" 'BEGIN { printf "%.2f", a + b }')"
	T_RSS=$((T_RSS / 1024))
}
per100k() { awk -v c="$1" -v n="$2" 'BEGIN { printf "%.2f", (n > 0 ? c * 100000 / n : 0) }'; }
row() { printf '%-34s %8s %8s %7s %12s  %s\n' "$@"; }

echo "# $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg); jejak $(cd "$repo" && git describe --always --dirty)"
row tool "wall s" "CPU s" "RSS MB" "CPU-s/100k" "throughput"

rm -rf "$work/case"
timed "$work/analyze.json" "$jejak" analyze -q --json --out "$work/case" "$d"
ev="$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["events"])' "$work/analyze.json" 2>/dev/null || echo 0)"
a_cpu=$T_CPU
row "jejak analyze" "$T_WALL" "$T_CPU" "$T_RSS" "$(per100k "$T_CPU" "$ev")" "$ev events, $(awk -v n="$ev" -v c="$T_CPU" 'BEGIN{printf "%.0f", n/c}') events/CPU-s"

timed "$work/hunt.out" "$jejak" hunt -q "$work/case" --after 2000-01-01
h_cpu=$T_CPU
row "jejak hunt (built-in rules)" "$T_WALL" "$T_CPU" "$T_RSS" "$(per100k "$T_CPU" "$ev")" \
	"$(awk -v n="$ev" -v w="$T_WALL" -v c="$T_CPU" 'BEGIN{printf "%.0f events/s, %.0f events/CPU-s", n/w, n/c}')"

if command -v evtx_dump >/dev/null; then
	peer="evtx_dump -o jsonl (Rust evtx crate)"
	timed "$work/dump.jsonl" bash -c 'for f; do evtx_dump -o jsonl "$f"; done' _ "$d"/*.evtx
	recs="$(grep -c '^{' "$work/dump.jsonl" || true)"
elif python3 -c 'import evtx' 2>/dev/null; then
	peer="pip evtx records_json() (the Rust crate's Python binding, standing in for evtx_dump)"
	timed "$work/dump.out" python3 -c '
import sys, evtx
n = 0
for f in sys.argv[1:]:
    for r in evtx.PyEvtxParser(f).records_json():
        n += 1
print(n)' "$d"/*.evtx
	recs="$(tail -n 1 "$work/dump.out")"
else
	echo "# no evtx_dump and no python evtx module: peer row left out"
	exit 0
fi
p_cpu=$T_CPU
row "peer" "$T_WALL" "$T_CPU" "$T_RSS" "$(per100k "$T_CPU" "$recs")" "$recs records; $peer"
awk -v a="$a_cpu" -v h="$h_cpu" -v p="$p_cpu" -v ev="$ev" -v r="$recs" 'BEGIN {
	pa = a * 100000 / ev; ph = h * 100000 / ev; pp = p * 100000 / r
	printf "# CPU per record, jejak / peer: analyze %.2fx (target <= 3x), analyze+hunt %.2fx\n", pa / pp, (pa + ph) / pp }'
