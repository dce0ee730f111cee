#!/usr/bin/env bash
# Benchmark (not a test): how fast `jejak index` pushes a large, realistic case
# into a local Elasticsearch node, side by side with the ceiling: the same
# events as plain `_bulk` create requests (same _ids, same chunk size)
# replayed with curl, in the same run, on the same node, once as gzip'd
# bodies and once as they are. The ceiling is the faster of the two; the
# chunks are made before the clock starts, so curl pays for neither reading
# the case nor compressing.
#
#   scripts/bench-es.sh [RUNS]        (default 3 runs)
#
# Prints, per run, events/s for jejak and for both curl replays, the ratio of
# jejak to the ceiling (the target is >= 0.8) and jejak's peak RSS, then the
# median ratio. jejak runs with its defaults (for a loopback node: no gzip).
#
# Environment:
#   JEJAK_BENCH_ES      URL of a node to use; when unset a one-node cluster is
#                       started on JEJAK_ES_BASE_PORT (default 9600 here: HTTP
#                       9601, transport 9701, clear of the test script's node
#                       on 9200, whose transport takes 9301+) and stopped at exit
#   JEJAK_BENCH_COPIES  copies of the corpus auth.log (7,125 events each; default
#                       140, about 1M events)
#   JEJAK_BENCH_DIR     work folder (default: a temp folder, removed at exit)
#   JEJAK_BENCH_WORKERS parallel curl uploads (default 2, jejak's bulk workers)
#   JEJAK_BENCH_FLUSH   bytes per bulk request for curl (default 5 MiB, jejak's)
#   JEJAK_BENCH_JEJAK   a jejak binary to measure instead of building the tree's
#                       (to compare builds: same JEJAK_BENCH_DIR, one run each)
# Needs: go, python3, curl, /usr/bin/time (Debian package "time").
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/.." && pwd)"
runs="${1:-3}"
copies="${JEJAK_BENCH_COPIES:-140}"
workers="${JEJAK_BENCH_WORKERS:-2}"
flush="${JEJAK_BENCH_FLUSH:-$((5 << 20))}"
corpus="$repo/../shared/corpus/more/linux/auth/elastic_examples_auth.log"

log() { echo "bench-es.sh: $*" >&2; }
die() { log "$*"; exit 1; }

for tool in go python3 curl /usr/bin/time; do
	command -v "$tool" >/dev/null || die "$tool is needed (Debian: golang, python3, curl, time)"
done
[[ -r "$corpus" ]] || die "corpus file $corpus not found"
[[ "$runs" =~ ^[1-9][0-9]*$ ]] || die "RUNS must be a positive number, not '$runs'"

work="${JEJAK_BENCH_DIR:-}"
own_work=0
if [[ -z "$work" ]]; then
	work="$(mktemp -d "${TMPDIR:-/tmp}/jejak-bench.XXXXXX")"
	own_work=1
fi
mkdir -p "$work"

# A node of our own, with its own run state (pid file, data folder) but the
# shared jar cache, so it can run while the test script's node runs.
es_cache=""
cleanup() {
	if [[ -n "$es_cache" ]]; then
		JEJAK_CACHE="$es_cache" bash "$here/elasticsearch.sh" stop || true
		rm -rf "$es_cache"
	fi
	if ((own_work)); then rm -rf "$work"; fi
}
trap cleanup EXIT

es="${JEJAK_BENCH_ES:-}"
if [[ -z "$es" ]]; then
	es_cache="$(mktemp -d "${TMPDIR:-/tmp}/jejak-bench-es.XXXXXX")"
	mkdir -p "$es_cache/es"
	shared="${JEJAK_CACHE:-$repo/.cache}/es"
	if compgen -G "$shared/lib/.complete-*" >/dev/null; then
		ln -s "$shared/lib" "$es_cache/es/lib"
		for c in "$shared"/classes-*; do [[ -d "$c" ]] && ln -s "$c" "$es_cache/es/"; done
	fi
	es="$(JEJAK_CACHE="$es_cache" JEJAK_ES_BASE_PORT="${JEJAK_ES_BASE_PORT:-9600}" \
		JEJAK_ES_HEAP="${JEJAK_ES_HEAP:-1536m}" bash "$here/elasticsearch.sh" start)"
fi
es="${es%/}"
curl -sf -o /dev/null "$es/_cluster/health" || die "no Elasticsearch answers at $es"

jejak="${JEJAK_BENCH_JEJAK:-}"
if [[ -z "$jejak" ]]; then
	log "building jejak"
	(cd "$repo" && go build -o "$work/jejak" ./cmd/jejak)
	jejak="$work/jejak"
fi

# Input: COPIES hosts' auth.log, each the corpus file with its host renamed
# and its clock shifted by one hour per copy, so every event is distinct.
if [[ ! -f "$work/case/case.db" ]]; then
	log "generating $copies copies of $(basename "$corpus")"
	python3 - "$corpus" "$work/gen" "$copies" <<'EOF'
import datetime, os, sys
src, out, copies = sys.argv[1], sys.argv[2], int(sys.argv[3])
with open(src, encoding="utf-8", errors="surrogateescape") as f:
    lines = f.read().splitlines()
for k in range(copies):
    d = os.path.join(out, "host%03d" % k)
    os.makedirs(d, exist_ok=True)
    shift = datetime.timedelta(hours=k)
    host = "ip-10-77-%d-%d" % (20 + k // 250, k % 250 + 1)
    with open(os.path.join(d, "auth.log"), "w", encoding="utf-8", errors="surrogateescape") as f:
        for ln in lines:
            ts = datetime.datetime.strptime("2024 " + ln[:15], "%Y %b %d %H:%M:%S") + shift
            f.write(ts.strftime("%b ") + "%2d" % ts.day + ts.strftime(" %H:%M:%S"))
            f.write(ln[15:].replace("ip-10-77-20-248", host, 1) + "\n")
EOF
	rm -rf "$work/case"
	"$jejak" case init "$work/case" --examiner bench --tz UTC >/dev/null
	"$jejak" evidence add "$work/case" "$work/gen" >/dev/null
	log "ingesting"
	/usr/bin/time -f "bench-es.sh: ingest %e s, peak RSS %M KiB" -o "$work/ingest.time" "$jejak" ingest "$work/case" -q >/dev/null 2>"$work/ingest.err" ||
		die "jejak ingest failed: $(cat "$work/ingest.err")"
	cat "$work/ingest.time" >&2
fi

# The ceiling's input: the case's events, exported as jejak stores them, as
# `_bulk` create chunks of FLUSH bytes, each also gzip'd. The action lines name no
# index: each replay posts to its own fresh index's _bulk endpoint.
if [[ ! -f "$work/chunks/.complete" ]]; then
	log "exporting the case as _bulk chunks of $flush bytes"
	rm -rf "$work/chunks"
	"$jejak" export "$work/case" --format jsonl -o "$work/events.jsonl" 2>/dev/null
	python3 - "$work/events.jsonl" "$work/chunks" "$flush" <<'EOF'
import gzip, json, os, sys
src, outdir, flush = sys.argv[1], sys.argv[2], int(sys.argv[3])
os.makedirs(outdir, exist_ok=True)
buf, size, n, events = [], 0, 0, 0
def emit():
    global buf, size, n
    if buf:
        body = "".join(buf).encode("utf-8", "surrogateescape")
        with open(os.path.join(outdir, "%06d.ndjson" % n), "wb") as f:
            f.write(body)
        with gzip.open(os.path.join(outdir, "%06d.ndjson.gz" % n), "wb") as f:
            f.write(body)
        n += 1
    buf, size = [], 0
for line in open(src, encoding="utf-8", errors="surrogateescape"):
    line = line.rstrip("\n")
    if line:
        rec = '{"create":{"_id":"%s"}}\n%s\n' % (json.loads(line)["jejak"]["id"], line)
        if size + len(rec) > flush:
            emit()
        buf.append(rec)
        size += len(rec)
        events += 1
emit()
with open(os.path.join(outdir, ".events"), "w") as f:
    f.write("%d\n" % events)
EOF
	rm -f "$work/events.jsonl"
	touch "$work/chunks/.complete"
fi
events="$(cat "$work/chunks/.events")"
[[ "$events" =~ ^[0-9]+$ ]] || die "cannot tell how many events the case holds"
log "$events events, $(find "$work/chunks" -name '*.gz' | wc -l) bulk chunks"

drop() {
	curl -s -o /dev/null -XDELETE "$es/$1" || true
	curl -s -o /dev/null -XDELETE "$es/_index_template/$1" || true
}

count() {
	curl -sf -o /dev/null -XPOST "$es/$1/_refresh"
	curl -sf "$es/$1/_count" | python3 -c 'import json,sys; print(json.load(sys.stdin)["count"])'
}

now() { date +%s.%N; }

# jejak index into a fresh index: wall time and peak RSS of the process.
run_jejak() {
	local idx="$1" t0 t1 rss
	drop "$idx"
	t0="$(now)"
	/usr/bin/time -f "%M" -o "$work/time.out" "$jejak" index "$work/case" --es "$es" --index "$idx" 2>"$work/index.err" ||
		die "jejak index failed: $(cat "$work/index.err")"
	t1="$(now)"
	rss="$(tail -n 1 "$work/time.out")"
	local n
	n="$(count "$idx")"
	[[ "$n" == "$events" ]] || die "jejak index: $n documents in $idx, want $events"
	drop "$idx"
	echo "$(python3 -c "print(round($events/($t1-$t0)))") $rss"
}

# The same documents with curl, WORKERS uploads at a time, into a fresh
# index made from jejak's template; refresh and count are timed too, as
# jejak's final count check is. KIND is gz or plain.
run_curl() {
	local idx="$1" kind="$2" limit="${3:-0}" t0 t1 ext=".ndjson.gz" enc=(-H 'content-encoding: gzip')
	if [[ "$kind" == plain ]]; then ext=".ndjson" enc=(); fi
	drop "$idx"
	"$jejak" es template "$idx" | curl -sf -o /dev/null -XPUT "$es/_index_template/$idx" \
		-H 'content-type: application/json' --data-binary @-
	curl -sf -o /dev/null -XPUT "$es/$idx"
	t0="$(now)"
	find "$work/chunks" -name "*$ext" -print0 | sort -z | { if ((limit)); then head -z -n "$limit"; else cat; fi; } |
		xargs -0 -P "$workers" -I{} curl -s -XPOST "$es/$idx/_bulk?filter_path=errors" \
			-H 'content-type: application/x-ndjson' "${enc[@]}" --data-binary @{} -o "{}.$idx.out"
	local n
	n="$(count "$idx")"
	t1="$(now)"
	if grep -L '"errors":false' "$work"/chunks/*."$idx".out | grep -q .; then
		die "curl replay: some bulk requests had errors"
	fi
	rm -f "$work"/chunks/*."$idx".out
	((limit)) || [[ "$n" == "$events" ]] || die "curl replay: $n documents in $idx, want $events"
	drop "$idx"
	python3 -c "print(round($events/($t1-$t0)))"
}

# Warm the node's JIT so the first measured run is not penalised.
log "warming up"
run_curl jejak-bench-warmup gz 20 >/dev/null
run_curl jejak-bench-warmup plain 20 >/dev/null

printf '%-4s %12s %14s %16s %7s %14s\n' run jejak_ev/s curl_gz_ev/s curl_plain_ev/s ratio jejak_rss_MiB
ratios=()
for ((r = 1; r <= runs; r++)); do
	# Rotate which goes first, so none always meets a freshly merged node.
	case $((r % 3)) in
	1)
		jr="$(run_jejak "jejak-bench-j$r")"
		cg="$(run_curl "jejak-bench-g$r" gz)"
		cp="$(run_curl "jejak-bench-p$r" plain)"
		;;
	2)
		cg="$(run_curl "jejak-bench-g$r" gz)"
		cp="$(run_curl "jejak-bench-p$r" plain)"
		jr="$(run_jejak "jejak-bench-j$r")"
		;;
	0)
		cp="$(run_curl "jejak-bench-p$r" plain)"
		jr="$(run_jejak "jejak-bench-j$r")"
		cg="$(run_curl "jejak-bench-g$r" gz)"
		;;
	esac
	read -r jv rss <<<"$jr"
	ratio="$(python3 -c "print(f'{$jv/max($cg, $cp):.2f}')")"
	ratios+=("$ratio")
	printf '%-4s %12s %14s %16s %7s %14s\n' "$r" "$jv" "$cg" "$cp" "$ratio" "$((rss / 1024))"
done
median="$(printf '%s\n' "${ratios[@]}" | sort -n | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}')"
echo "median ratio jejak/curl: $median over $runs runs, $events events (target >= 0.8)"
