#!/usr/bin/env bash
# Benchmark (not a test; CI never runs it): jejak next to the tools an
# examiner would otherwise use, on the same inputs, in the same run
# (issue 15). Per workload it prints jejak's wall time, CPU time (user+sys)
# and peak RSS next to each peer's, and the ratios.
#
#   scripts/bench.sh [--quick] [--plaso] [--no-analyze] [--only LIST] [--sizes "N ..."]
#                    [--logs-mb N] [--es-mb N] [--evtx-copies "N ..."]
#
#   --quick       small inputs: NTFS volumes of 5k and 30k files, 50 MB of
#                 syslog, 8 EVTX copies (a few minutes on two busy cores)
#   --plaso       also run plaso's log2timeline.py (installed with pip in a
#                 venv under the cache folder on first use: slow, and it needs
#                 the network); on the smallest NTFS volume and on 50 MB of
#                 the syslog, as plaso takes minutes where jejak takes seconds
#   --no-analyze  NTFS: only the MFT timeline, not the whole-image analyze
#   --only LIST   comma-separated workloads among ntfs, syslog, evtx, es
#   --sizes LIST  NTFS volume sizes in files (default "30000 100000 300000";
#                 1000000 works: its volume takes about 10 minutes to build)
#   --logs-mb N   MB of synthetic syslog for the syslog workload (default
#                 1024; 50 with --quick). 5120 is the issue's check: its
#                 input is written once (several minutes, 5 GB in the cache
#                 folder), and its case needs about 10 GB more under TMPDIR
#   --es-mb N     MB of the same syslog for the es workload (default 50)
#   --evtx-copies LIST  copies of security.evtx for the evtx workload, one
#                 run per number (default "40"; 8 with --quick). "40 1000"
#                 adds the many-files case: a time-ordered hunt reads every
#                 file's events interleaved, as a case of several Windows
#                 machines' winevt\Logs folders does.
#
# Workloads:
#   ntfs-mft N      jejak's MFT timeline (parsers/mft/internal/mftbench: open
#                   the volume with the NTFS walker, find $MFT, every entry's
#                   $STANDARD_INFORMATION and $FILE_NAME events finalized as
#                   ingest does, then dropped) against `fls -r -m /` (The
#                   Sleuth Kit's bodyfile: one line per entry and name).
#                   Target: entries/s >= fls's, peak RSS < 300 MB at any size.
#   ntfs-analyze N  `jejak analyze` of the whole image (register, hash, walk,
#                   sniff and parse every file, store) against fls -r -m;
#                   then the ingest pipeline alone (casework/ingest/internal/
#                   ingestbench: the same walk, recognition and parsing, the
#                   events dropped instead of stored), to tell its share.
#   syslog          `jejak analyze` then `jejak hunt` of a synthetic
#                   auth.log-style syslog (1 GB; 50 MB with --quick), with the
#                   store's size against the evidence's.
#   evtx            `jejak analyze` then `jejak hunt` of 40 copies of the
#                   corpus security.evtx (--evtx-copies) against
#                   evtx_dump -o jsonl (the Rust
#                   evtx crate, `cargo install evtx`; when cargo is missing,
#                   pip's evtx module, which is the same crate's Python binding,
#                   stands in for it and the table says so). Targets: analyze
#                   CPU <= 3x evtx_dump's, hunt >= 100k events/s and hunt
#                   wall <= 0.5x analyze's.
#   es              `jejak index` of two cases (the es-mb syslog; the EVTX
#                   copies) into a local Elasticsearch node, against the
#                   ceiling: the same requests sent with curl. Target:
#                   jejak's docs/s >= 0.9 of curl's.
#
# How the es ceiling is measured. `jejak index` runs once through
# bulkcapture (timeline/store/elastic/internal/bulkcapture), a loopback
# proxy that keeps every _bulk body jejak sends, byte for byte, and its query
# string (filter_path). The curl side then replays exactly those bodies: the
# same documents, action lines and _ids, cut into the same requests (jejak's
# 5 MiB flush size), with the same query string, the same number of requests
# in flight (xargs -P, jejak's --bulk-workers, 2), gzip'd only if jejak
# gzipped (never, to a loopback node). The node is warmed up with one
# unmeasured replay of those requests. Each run, jejak's or curl's, writes
# into a fresh index made from jejak's template (`jejak es template`: same
# settings, mappings and the node's default refresh interval, neither side
# sets another), and the clock covers the same requests on both sides:
# template and index creation, the bulk requests, then _refresh and _count
# (jejak's own end-of-run check). jejak's time also covers what curl does
# not do: starting, opening the case and reading every document back out of
# case.db (zstd), the custody entry. Bodies are read from files by curl (page
# cache: free), so the ceiling is the node's own speed on these requests.
# Runs alternate jejak, curl, curl, jejak (ABBA; twice without --quick), so
# that a change of load during the runs weighs on both sides alike, and each
# starts once the node is idle again; the ratio is jejak's docs/s over
# curl's, each from the sum of its runs. The node's CPU
# seconds per run are printed when the script started the node: equal node
# CPU with a slower jejak means jejak kept the node waiting.
#
# Every measured run holds the bench lock (flock on JEJAK_BENCH_LOCK,
# default /tmp/jejak-bench.lock; the capture and the runs of an es case
# hold it together), so that measurements of people sharing the machine never
# overlap. Do not wrap the script itself in flock on the same file: it
# would wait for itself (set JEJAK_BENCH_LOCK= to take no lock).
#
# NTFS volumes are made by the real tools: mkntfs on a sparse file, mounted
# with ntfs-3g (FUSE), files written by a Python generator (folders of 1000
# files of 0-199 bytes; every 50th file deleted, and one whole folder, so that
# deleted entries and deleted parents are in the MFT), unmounted. Inputs are
# kept in the cache folder and reused by later runs.
#
# Environment:
#   JEJAK_BENCH_CACHE  inputs and installed peers (default ~/.cache/jejak-bench)
#   JEJAK_BENCH_JEJAK  a jejak binary to measure instead of building the tree's
#   JEJAK_BENCH_CARGO  0: do not `cargo install evtx` (pip's evtx stands in)
#   JEJAK_BENCH_ES     es: URL of a node to use; when unset, a one-node cluster
#                      is started with scripts/elasticsearch.sh (heap
#                      JEJAK_ES_HEAP, default 1536m) on base port
#                      JEJAK_ES_BASE_PORT (default 9600: HTTP 9601, clear of
#                      the test node's 9200) and stopped at exit
#   JEJAK_BENCH_LOCK   the bench lock file (empty: none)
# Needs: go, python3, curl, flock, /usr/bin/time (Debian "time"); for es, Java
# 17+ and Maven (scripts/elasticsearch.sh); installs sleuthkit and ntfs-3g
# with apt-get when missing and run as root.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/.." && pwd)"
cache="${JEJAK_BENCH_CACHE:-$HOME/.cache/jejak-bench}"
corpus="$repo/../shared/corpus"

quick=0 plaso=0 analyze=1 only="ntfs,syslog,evtx,es" sizes="" logs_mb="" es_mb=50 evtx_list=""
while (($#)); do
	case "$1" in
	--quick) quick=1 ;;
	--plaso) plaso=1 ;;
	--no-analyze) analyze=0 ;;
	--only) only="$2"; shift ;;
	--sizes) sizes="$2"; shift ;;
	--logs-mb) logs_mb="$2"; shift ;;
	--es-mb) es_mb="$2"; shift ;;
	--evtx-copies) evtx_list="$2"; shift ;;
	-h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
	*) echo "bench.sh: unknown argument $1 (--help lists them)" >&2; exit 2 ;;
	esac
	shift
done
if ((quick)); then
	sizes="${sizes:-5000 30000}" syslog_mb="${logs_mb:-50}" evtx_list="${evtx_list:-8}" es_rounds=1
else
	sizes="${sizes:-30000 100000 300000}" syslog_mb="${logs_mb:-1024}" evtx_list="${evtx_list:-40}" es_rounds=2
fi
for v in "$syslog_mb" "$es_mb"; do
	[[ "$v" =~ ^[1-9][0-9]*$ ]] || { echo "bench.sh: --logs-mb and --es-mb take a positive number of MB, not '$v'" >&2; exit 2; }
done
for n in $sizes; do
	[[ "$n" =~ ^[1-9][0-9]*$ ]] || { echo "bench.sh: --sizes takes numbers of files, not '$n'" >&2; exit 2; }
done
for n in $evtx_list; do
	[[ "$n" =~ ^[1-9][0-9]*$ ]] || { echo "bench.sh: --evtx-copies takes numbers of copies, not '$n'" >&2; exit 2; }
done

lockfile="${JEJAK_BENCH_LOCK-/tmp/jejak-bench.lock}"
log() { echo "bench.sh: $*" >&2; }
die() { log "$*"; exit 1; }
wants() { [[ ",$only," == *",$1,"* ]]; }

# --- tools ---------------------------------------------------------------

apt_install() { # package...: only as root with apt, else say what is missing
	if [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null; then
		DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$@" >/dev/null || log "apt-get install $* failed"
	else
		log "missing: Debian packages $*"
	fi
}
command -v go >/dev/null || die "go is needed"
command -v python3 >/dev/null || die "python3 is needed"
[[ -z "$lockfile" ]] || command -v flock >/dev/null || die "flock is needed for the bench lock (Debian util-linux), or set JEJAK_BENCH_LOCK="
[[ -x /usr/bin/time ]] || apt_install time
[[ -x /usr/bin/time ]] || die "/usr/bin/time is needed (Debian package time)"
if wants ntfs; then
	command -v fls >/dev/null || apt_install sleuthkit
	command -v mkntfs >/dev/null && command -v ntfs-3g >/dev/null || apt_install ntfs-3g
	command -v fls >/dev/null || die "fls is needed (Debian package sleuthkit)"
fi

mkdir -p "$cache/bin" "$cache/inputs"
work="$(mktemp -d "${TMPDIR:-/tmp}/jejak-bench.XXXXXX")"
mounts=()
es_cache="" cap_pid=""
cleanup() {
	for m in "${mounts[@]}"; do umount "$m" 2>/dev/null || fusermount -u "$m" 2>/dev/null || true; done
	[[ -z "$cap_pid" ]] || kill "$cap_pid" 2>/dev/null || true
	[[ -z "$es_cache" ]] || JEJAK_CACHE="$es_cache" bash "$here/elasticsearch.sh" stop || true
	rm -rf "$work"
}
trap cleanup EXIT

jejak="${JEJAK_BENCH_JEJAK:-}"
if [[ -z "$jejak" ]]; then
	log "building jejak and mftbench"
	(cd "$repo" && go build -o "$work/jejak" ./cmd/jejak) || die "go build ./cmd/jejak failed"
	jejak="$work/jejak"
fi
if wants ntfs; then
	(cd "$repo" && go build -o "$work/mftbench" ./parsers/mft/internal/mftbench) || die "go build mftbench failed"
	(cd "$repo" && go build -o "$work/ingestbench" ./casework/ingest/internal/ingestbench) || die "go build ingestbench failed"
fi
if wants es; then
	command -v curl >/dev/null || die "curl is needed for the es workload"
	(cd "$repo" && go build -o "$work/bulkcapture" ./timeline/store/elastic/internal/bulkcapture) || die "go build bulkcapture failed"
fi

# evtx_dump: the Rust crate's own tool, else its Python binding.
evtx_peer="" evtx_note=""
if wants evtx; then
	if ! command -v evtx_dump >/dev/null && command -v cargo >/dev/null && [[ "${JEJAK_BENCH_CARGO:-1}" != 0 ]]; then
		log "cargo install evtx (once; takes a few minutes)"
		cargo install -q evtx --locked >/dev/null 2>&1 || log "cargo install evtx failed"
	fi
	export PATH="$PATH:$HOME/.cargo/bin"
	if command -v evtx_dump >/dev/null; then
		evtx_peer="evtx_dump" evtx_note="evtx_dump -o jsonl (Rust evtx $(evtx_dump --version 2>/dev/null | awk '{print $NF}'))"
	else
		if [[ ! -x "$cache/evtx-venv/bin/python" ]]; then
			python3 -m venv "$cache/evtx-venv" && "$cache/evtx-venv/bin/pip" install -q evtx >/dev/null 2>&1 ||
				log "pip install evtx failed"
		fi
		if "$cache/evtx-venv/bin/python" -c 'import evtx' 2>/dev/null; then
			evtx_peer="pyevtx" evtx_note="pip evtx (the Rust crate's Python binding), standing in for evtx_dump"
		fi
	fi
fi

# plaso, on request.
l2t=""
if ((plaso)); then
	if [[ ! -x "$cache/plaso-venv/bin/log2timeline" && ! -x "$cache/plaso-venv/bin/log2timeline.py" ]]; then
		log "pip install plaso into $cache/plaso-venv (once; slow)"
		python3 -m venv "$cache/plaso-venv" && "$cache/plaso-venv/bin/pip" install -q plaso >"$cache/plaso-install.log" 2>&1 ||
			log "pip install plaso failed: see $cache/plaso-install.log"
	fi
	# The entry point lost its .py in recent releases.
	for l in "$cache/plaso-venv/bin/log2timeline" "$cache/plaso-venv/bin/log2timeline.py"; do
		[[ -x "$l" ]] && l2t="$l" && break
	done
	[[ -n "$l2t" ]] || log "plaso unavailable: its rows are left out"
fi

# --- measuring -------------------------------------------------------------

# bench_lock / bench_unlock: hold the bench lock (see the top) around
# measured runs; nested calls hold it once. The lock is on an open file of
# this shell: flock -u releases it even if a child kept a copy of the file
# descriptor, and nothing started in the background is started while it is
# held (the node, the capture proxy), so none can keep it.
lock_depth=0 lock_fd=""
bench_lock() {
	[[ -n "$lockfile" ]] || return 0
	if ((lock_depth++ == 0)); then
		exec {lock_fd}>>"$lockfile"
		if ! flock -n "$lock_fd"; then
			log "waiting for the bench lock $lockfile (someone else is measuring)"
			flock "$lock_fd"
		fi
	fi
}
bench_unlock() {
	[[ -n "$lockfile" ]] || return 0
	if ((--lock_depth == 0)); then
		flock -u "$lock_fd"
		exec {lock_fd}>&-
	fi
}

# timed OUT CMD...: runs CMD with stdout to OUT, stderr to OUT.err, holding
# the bench lock; sets T_WALL, T_CPU (user+sys seconds), T_RSS (peak, MB)
# and T_RC.
timed() {
	local out="$1" tf="$work/time.$$"
	shift
	T_RC=0
	bench_lock
	/usr/bin/time -f '%e %U %S %M' -o "$tf" "$@" >"$out" 2>"$out.err" || T_RC=$?
	bench_unlock
	read -r T_WALL u s rss < <(tail -n 1 "$tf")
	T_CPU="$(awk -v a="$u" -v b="$s" 'BEGIN { printf "%.2f", a + b }')"
	T_RSS=$((rss / 1024))
}

row() { # workload tool throughput
	printf '%-22s %-30s %9.2f %9.2f %8d  %s\n' "$1" "$2" "$T_WALL" "$T_CPU" "$T_RSS" "$3"
	if ((T_RC != 0 && T_RC != 3)); then printf '%-22s   (exit status %d: see below)\n' "" "$T_RC"; tail -n 5 "$4.err" | sed 's/^/    /'; fi
}
# ratio WORKLOAD PEER jwall jcpu pwall pcpu [note]: jejak's time over the peer's.
ratio() {
	awk -v w="$1" -v p="$2" -v jw="$3" -v jc="$4" -v pw="$5" -v pc="$6" -v n="${7:-}" 'BEGIN {
		printf "%-22s   jejak / %s: wall %.2fx, CPU %.2fx%s\n", w, p, (pw > 0 ? jw / pw : 0), (pc > 0 ? jc / pc : 0), (n == "" ? "" : "  " n) }'
}
per() { awk -v n="$1" -v s="$2" -v u="$3" 'BEGIN { r = (s > 0 ? n / s : 0); printf (r < 100 ? "%.1f %s" : "%.0f %s"), r, u }'; }
# events_of FILE: the event count of an `analyze --json` output (0 when it has none).
events_of() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["events"])' "$1" 2>/dev/null || echo 0; }
load() { cut -d' ' -f1-3 /proc/loadavg; }

echo "# $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //'), $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo) RAM; load average $(load)"
echo "# jejak $(cd "$repo" && git describe --always --dirty 2>/dev/null || echo '?'), $(go version | awk '{print $3}'), fls $(fls -V 2>/dev/null | awk '{print $NF}')"
printf '%-22s %-30s %9s %9s %8s  %s\n' workload tool "wall s" "CPU s" "RSS MB" throughput

# --- NTFS --------------------------------------------------------------------

# ntfs_image N: a volume of N files made by mkntfs and ntfs-3g (see the top).
ntfs_image() {
	local n="$1" img="$cache/inputs/ntfs-$1.img"
	if [[ -s "$img" && -e "$img.done" ]]; then
		echo "$img"
		return
	fi
	[[ -e /dev/fuse ]] || { log "no /dev/fuse: cannot mount an NTFS volume with ntfs-3g here"; return 1; }
	log "building an NTFS volume of $n files (mkntfs, ntfs-3g)"
	rm -f "$img" "$img.done"
	truncate -s $(((n * 4 + 262144) * 1024)) "$img" # sparse; the files are resident in their MFT records
	mkntfs -F -Q -q -L bench "$img" >/dev/null 2>&1 || { log "mkntfs failed"; return 1; }
	local mnt="$work/mnt-$n"
	mkdir -p "$mnt"
	ntfs-3g "$img" "$mnt" || { log "ntfs-3g mount failed (FUSE not allowed here?)"; return 1; }
	mounts+=("$mnt")
	python3 - "$mnt" "$n" <<-'EOF'
		import os, shutil, sys
		root, n = sys.argv[1], int(sys.argv[2])
		per = 1000
		for i in range(n):
		    d = os.path.join(root, "dir%04d" % (i // per))
		    if i % per == 0:
		        os.mkdir(d)
		    with open(os.path.join(d, "file%07d.txt" % i), "w") as f:
		        f.write("x" * (i % 200))
		# Deleted files, and a deleted folder whose files are deleted too.
		for i in range(0, n, 50):
		    try:
		        os.unlink(os.path.join(root, "dir%04d" % (i // per), "file%07d.txt" % i))
		    except FileNotFoundError:
		        pass
		shutil.rmtree(os.path.join(root, "dir0001"), ignore_errors=True)
	EOF
	umount "$mnt"
	unset 'mounts[-1]'
	touch "$img.done"
	echo "$img"
}

if wants ntfs; then
	smallest=""
	for n in $sizes; do
		img="$(ntfs_image "$n")" || { log "NTFS workloads skipped"; break; }
		smallest="${smallest:-$img}"
		label="ntfs-mft $((n / 1000))k"
		echo "# $label: load $(load)"
		timed "$work/fls.body" fls -r -m / "$img"
		fw=$T_WALL fc=$T_CPU
		timed "$work/mft.out" "$work/mftbench" "$img"
		entries="$(sed -n 's/^mft: \([0-9]*\) entries.*/\1/p' "$work/mft.out")"
		events="$(sed -n 's/^mft: [0-9]* entries, \([0-9]*\) events.*/\1/p' "$work/mft.out")"
		jw=$T_WALL jc=$T_CPU
		row "$label" "jejak MFT timeline" "$(per "${entries:-0}" "$jw" entries/s), ${events:-?} events" "$work/mft.out"
		jT_WALL=$T_WALL jT_CPU=$T_CPU jT_RSS=$T_RSS jT_RC=$T_RC
		T_WALL=$fw T_CPU=$fc
		timed "$work/fls.body" fls -r -m / "$img" # again, after jejak: the load moves
		T_WALL="$(awk -v a="$fw" -v b="$T_WALL" 'BEGIN { print (a < b ? a : b) }')"
		T_CPU="$(awk -v a="$fc" -v b="$T_CPU" 'BEGIN { print (a < b ? a : b) }')"
		row "$label" "fls -r -m (best of 2)" "$(per "${entries:-0}" "$T_WALL" entries/s), $(wc -l <"$work/fls.body") lines" "$work/fls.body"
		ratio "$label" fls "$jw" "$jc" "$T_WALL" "$T_CPU" "(target: wall <= 1, RSS < 300 MB: $jT_RSS MB)"
		fls_w=$T_WALL fls_c=$T_CPU
		if ((analyze)); then
			label="ntfs-analyze $((n / 1000))k"
			rm -rf "$work/case-ntfs"
			timed "$work/analyze.out" "$jejak" analyze -q --json --out "$work/case-ntfs" "$img"
			ev="$(events_of "$work/analyze.out")"
			row "$label" "jejak analyze" "$(per "$ev" "$T_WALL" events/s), $ev events" "$work/analyze.out"
			ratio "$label" fls "$T_WALL" "$T_CPU" "$fls_w" "$fls_c" "(target: wall <= 3, RSS < 500 MB: $T_RSS MB)"
			rm -rf "$work/case-ntfs"
			# The same walk, recognition and parsing with the events
			# dropped instead of stored: what of analyze is the pipeline's
			# (no evidence hashes, store, indexes or checks after it).
			timed "$work/ingest.out" "$work/ingestbench" "$img"
			row "$label" "jejak ingest, no store" "$(sed -n 's/^ingest: \([0-9]*\) files seen.*/\1 files/p' "$work/ingest.out")" "$work/ingest.out"
			ratio "$label" fls "$T_WALL" "$T_CPU" "$fls_w" "$fls_c" "(ingest pipeline only)"
		fi
		rm -f "$work/fls.body"
	done
	if [[ -n "$l2t" && -n "$smallest" ]]; then
		label="ntfs-plaso $(basename "$smallest" .img)"
		timed "$work/l2t.out" "$l2t" --status_view none --unattended --logfile "$work/l2t-ntfs.log.gz" --storage_file "$work/ntfs.plaso" "$smallest"
		row "$label" "plaso log2timeline" "" "$work/l2t.out"
		rm -f "$work/ntfs.plaso"
	fi
fi

# --- syslog ---------------------------------------------------------------------

# A synthetic auth.log: sshd failures and logins from a mix of known and
# ever-new addresses, sudo, sessions, cron; one second apart, one year.
syslog_input() {
	local mb="$1" f="$cache/inputs/auth-$1mb.log"
	if [[ ! -s "$f" ]]; then
		log "writing $mb MB of synthetic auth.log"
		python3 - "$f.part" "$mb" <<-'EOF'
			import random, sys, time
			out, mb = sys.argv[1], int(sys.argv[2])
			rnd = random.Random(15)
			users = ["root", "admin", "kpu", "operator", "ubuntu", "backup"] + ["u%03d" % i for i in range(200)]
			known = ["10.%d.%d.%d" % (rnd.randrange(256), rnd.randrange(256), rnd.randrange(1, 255)) for _ in range(500)]
			t = time.mktime((2024, 1, 1, 0, 0, 0, 0, 0, -1))
			target, n, buf = mb << 20, 0, []
			with open(out, "w") as f:
			    i = 0
			    while n < target:
			        i += 1
			        ts = time.strftime("%b %e %H:%M:%S", time.localtime(t + i))
			        pid = 1000 + i % 30000
			        u = users[i % len(users)]
			        ip = known[i % 500] if i % 3 else "%d.%d.%d.%d" % (1 + i % 223, (i >> 8) % 256, (i >> 16) % 256, 1 + i % 254)
			        k = i % 10
			        if k < 4:
			            msg = "sshd[%d]: Failed password for %s from %s port %d ssh2" % (pid, u, ip, 1024 + i % 60000)
			        elif k < 6:
			            msg = "sshd[%d]: Invalid user %s from %s port %d" % (pid, u + "x", ip, 1024 + i % 60000)
			        elif k == 6:
			            msg = "sshd[%d]: Accepted publickey for %s from %s port %d ssh2: RSA SHA256:%032x" % (pid, u, ip, 1024 + i % 60000, i)
			        elif k == 7:
			            msg = "sshd[%d]: pam_unix(sshd:session): session opened for user %s by (uid=0)" % (pid, u)
			        elif k == 8:
			            msg = "sudo:   %s : TTY=pts/%d ; PWD=/home/%s ; USER=root ; COMMAND=/usr/bin/systemctl restart nginx" % (u, i % 8, u)
			        else:
			            msg = "CRON[%d]: pam_unix(cron:session): session closed for user root" % pid
			        line = "%s tabulasi-01 %s\n" % (ts, msg)
			        buf.append(line)
			        n += len(line)
			        if len(buf) >= 10000:
			            f.write("".join(buf))
			            buf = []
			    f.write("".join(buf))
		EOF
		mv "$f.part" "$f"
	fi
	echo "$f"
}

case_size() { du -sb "$1/case.db" 2>/dev/null | cut -f1; }

if wants syslog; then
	f="$(syslog_input "$syslog_mb")"
	d="$work/syslog"
	mkdir -p "$d"
	# A link, not a symbolic one: jejak registers a symlink as what it is.
	ln -f "$f" "$d/auth.log" 2>/dev/null || cp "$f" "$d/auth.log"
	bytes="$(stat -L -c %s "$f")"
	label="syslog $((bytes >> 20)) MB"
	echo "# $label: load $(load)"
	rm -rf "$work/case-syslog"
	timed "$work/syslog.out" "$jejak" analyze -q --json --out "$work/case-syslog" "$d/auth.log"
	aw=$T_WALL ac=$T_CPU
	ev="$(events_of "$work/syslog.out")"
	row "$label" "jejak analyze" "$(per "$((bytes >> 20))" "$T_WALL" MB/s), $ev events" "$work/syslog.out"
	awk -v w="$label" -v b="$bytes" -v t="$T_WALL" -v c="$T_CPU" 'BEGIN {
		printf "%-22s   analyze: %.1f MB/s wall, %.1f MB per CPU-s (target >= 60 MB/s end to end)\n", w, (t > 0 ? b / 1048576 / t : 0), (c > 0 ? b / 1048576 / c : 0) }'
	db="$(case_size "$work/case-syslog")"
	awk -v w="$label" -v db="${db:-0}" -v b="$bytes" 'BEGIN { printf "%-22s   store: case.db %.0f MB = %.2fx the evidence (target <= 2)\n", w, db / 1048576, db / b }'
	timed "$work/hunt.out" "$jejak" hunt -q "$work/case-syslog" --after 2024-06-01
	row "$label" "jejak hunt" "$(per "$ev" "$T_WALL" events/s)" "$work/hunt.out"
	awk -v w="$label" -v a="$aw" -v h="$T_WALL" 'BEGIN { printf "%-22s   hunt / analyze wall: %.2fx (target <= 0.5)\n", w, h / a }'
	rm -rf "$work/case-syslog"
	if [[ -n "$l2t" ]]; then
		head -c $((50 << 20)) "$f" >"$work/auth50.log"
		label="syslog 50 MB"
		rm -rf "$work/case-50"
		timed "$work/s50.out" "$jejak" analyze -q --json --out "$work/case-50" "$work/auth50.log"
		jw=$T_WALL jc=$T_CPU
		row "$label" "jejak analyze" "" "$work/s50.out"
		timed "$work/l2t.out" "$l2t" --status_view none --unattended --logfile "$work/l2t-s50.log.gz" --storage_file "$work/s50.plaso" "$work/auth50.log"
		row "$label" "plaso log2timeline" "" "$work/l2t.out"
		ratio "$label" plaso "$jw" "$jc" "$T_WALL" "$T_CPU"
		rm -rf "$work/case-50" "$work/s50.plaso" "$work/auth50.log"
	fi
fi

# --- EVTX ---------------------------------------------------------------------

if wants evtx; then
	src="$corpus/logs/windows/security.evtx"
	if [[ ! -r "$src" ]]; then
		log "$src not found: EVTX workload skipped"
	else
		for evtx_copies in $evtx_list; do
		d="$work/evtx"
		rm -rf "$d" && mkdir -p "$d"
		for i in $(seq -w 1 "$evtx_copies"); do cp "$src" "$d/security-$i.evtx"; done
		label="evtx ${evtx_copies} files"
		echo "# $label: load $(load)"
		rm -rf "$work/case-evtx"
		timed "$work/evtx.out" "$jejak" analyze -q --json --out "$work/case-evtx" "$d"
		jw=$T_WALL jc=$T_CPU
		ev="$(events_of "$work/evtx.out")"
		row "$label" "jejak analyze" "$(per "$ev" "$T_WALL" events/s), $ev events" "$work/evtx.out"
		timed "$work/hunt.out" "$jejak" hunt -q "$work/case-evtx" --after 2000-01-01
		row "$label" "jejak hunt" "$(per "$ev" "$T_WALL" events/s), $(per "$ev" "$T_CPU" "events/CPU-s")" "$work/hunt.out"
		awk -v w="$label" -v a="$jw" -v h="$T_WALL" -v n="$ev" 'BEGIN {
			printf "%-22s   hunt / analyze wall: %.2fx (target <= 0.5); hunt %.0f events/s (target >= 100000)\n", w, (a > 0 ? h / a : 0), (h > 0 ? n / h : 0) }'
		rm -rf "$work/case-evtx"
		case "$evtx_peer" in
		evtx_dump)
			timed "$work/dump.jsonl" bash -c 'for f; do evtx_dump -o jsonl "$f"; done' _ "$d"/*.evtx ;;
		pyevtx)
			timed "$work/dump.jsonl" "$cache/evtx-venv/bin/python" -c '
import sys, evtx
for f in sys.argv[1:]:
    for r in evtx.PyEvtxParser(f).records_json():
        sys.stdout.write(r["data"] + "\n")' "$d"/*.evtx ;;
		esac
		if [[ -n "$evtx_peer" ]]; then
			recs="$(grep -c '^{' "$work/dump.jsonl" || true)"
			row "$label" "$evtx_peer" "$(per "$recs" "$T_WALL" records/s), $recs records" "$work/dump.jsonl"
			ratio "$label" "$evtx_peer" "$jw" "$jc" "$T_WALL" "$T_CPU" "(analyze; target CPU <= 3x; peer: $evtx_note)"
			rm -f "$work/dump.jsonl"
		else
			log "no evtx_dump: EVTX peer row left out"
		fi
		rm -rf "$d"
		done
	fi
fi

# --- Elasticsearch ---------------------------------------------------------

# es_node: the node to index into (JEJAK_BENCH_ES, else one started here,
# with its own run state but the jars scripts/elasticsearch.sh has cached);
# sets ES and ES_PID (empty when the node is not ours: no node CPU column).
es_node() {
	ES="${JEJAK_BENCH_ES:-}" ES_PID=""
	if [[ -z "$ES" ]]; then
		es_cache="$work/es-node"
		mkdir -p "$es_cache/es"
		local shared="${JEJAK_CACHE:-$repo/.cache}/es" c
		if compgen -G "$shared/lib/.complete-*" >/dev/null; then
			ln -s "$shared/lib" "$es_cache/es/lib"
			for c in "$shared"/classes-*; do [[ -d "$c" ]] && ln -s "$c" "$es_cache/es/"; done
		fi
		log "starting an Elasticsearch node (scripts/elasticsearch.sh)"
		ES="$(JEJAK_CACHE="$es_cache" JEJAK_ES_BASE_PORT="${JEJAK_ES_BASE_PORT:-9600}" \
			JEJAK_ES_HEAP="${JEJAK_ES_HEAP:-1536m}" bash "$here/elasticsearch.sh" start)" || return 1
		ES_PID="$(cat "$es_cache/es/run/node.pid")"
	fi
	ES="${ES%/}"
	curl -sf -o /dev/null "$ES/_cluster/health" || { log "no Elasticsearch answers at $ES"; return 1; }
}

es_drop() { # index: the index and the template jejak names after it
	curl -s -o /dev/null -XDELETE "$ES/$1" || true
	curl -s -o /dev/null -XDELETE "$ES/_index_template/jejak-timeline-$1" || true
}
es_count() {
	curl -sf -o /dev/null -XPOST "$ES/$1/_refresh" &&
		curl -sf "$ES/$1/_count" | python3 -c 'import json,sys; print(json.load(sys.stdin)["count"])'
}
node_cpu() { # the node's CPU seconds so far (user+sys), when it is ours
	[[ -n "$ES_PID" && -r "/proc/$ES_PID/stat" ]] || { echo 0; return; }
	awk -v hz="$(getconf CLK_TCK)" '{ sub(/^.*\) /, ""); print ($12 + $13) / hz }' "/proc/$ES_PID/stat"
}

# node_quiet: wait (up to 20 s) until the node has finished what the last
# run left it (merges, deleting the dropped index), so that no run starts on
# a node still busy with another's work.
node_quiet() {
	if [[ -z "$ES_PID" ]]; then
		sleep 2
		return
	fi
	local i a b
	for ((i = 0; i < 20; i++)); do
		a="$(node_cpu)"
		sleep 1
		b="$(node_cpu)"
		awk -v a="$a" -v b="$b" 'BEGIN { exit !(b - a < 0.05) }' && return
	done
}

# The curl side of a run: the same requests as jejak's, timed as one
# command (see the top).
es_replay='set -euo pipefail
es=$1 idx=$2 dir=$3 workers=$4 tmpl=$5
query="$(cat "$dir/bulk.query")" enc=()
compgen -G "$dir/bulk-*.ndjson.gz" >/dev/null && enc=(-H "Content-Encoding: gzip")
curl -sf -o /dev/null -XPUT "$es/_index_template/jejak-timeline-$idx" -H "Content-Type: application/json" --data-binary @"$tmpl"
curl -sf -o /dev/null -XPUT "$es/$idx"
find "$dir" -name "bulk-*.ndjson*" -print0 | sort -z |
	xargs -0 -P "$workers" -I{} curl -s -XPOST "$es/$idx/_bulk?$query" -H "Content-Type: application/x-ndjson" "${enc[@]}" --data-binary @{} -o {}.out
curl -sf -o /dev/null -XPOST "$es/$idx/_refresh"
curl -sf "$es/$idx/_count"'

# es_case LABEL CASE EVENTS: capture, warm-up, the runs of one case and
# their ratio.
es_case() {
	local label="$1" case="$2" events="$3" workers=2 cap="$work/es-capture"
	rm -rf "$cap"
	mkdir -p "$cap"
	# Capture: jejak index once, through the proxy.
	"$work/bulkcapture" -upstream "$ES" -dir "$cap/bodies" >"$cap/url" 2>"$cap/err" &
	cap_pid=$!
	local i
	for ((i = 0; i < 100; i++)); do [[ -s "$cap/url" ]] && break; sleep 0.1; done
	if [[ ! -s "$cap/url" ]]; then
		log "bulkcapture did not start: $(cat "$cap/err")"
		return 1
	fi
	es_drop jejak-bench-capture
	# Not measured, but heavy: under the lock too, with the runs after it.
	bench_lock
	if ! "$jejak" index "$case" --es "$(head -n 1 "$cap/url")" --index jejak-bench-capture --bulk-workers "$workers" -q 2>"$cap/index.err"; then
		bench_unlock
		log "jejak index through bulkcapture failed: $(tail -n 3 "$cap/index.err")"
		return 1
	fi
	kill "$cap_pid" 2>/dev/null || true
	wait "$cap_pid" 2>/dev/null || true
	cap_pid=""
	es_drop jejak-bench-capture
	local nbodies
	nbodies="$(find "$cap/bodies" -name 'bulk-*' | wc -l)"
	# Warm-up, not measured: the same requests once more, straight to the
	# node. The capture alone left it cold: the first measured run of the
	# first case was the slowest of its four, with 15-20% more node CPU
	# (JIT), in three runs of the script out of three.
	node_quiet
	"$jejak" es template jejak-bench-warmup >"$cap/template.json"
	bash -c "$es_replay" _ "$ES" jejak-bench-warmup "$cap/bodies" "$workers" "$cap/template.json" >/dev/null 2>&1 || true
	rm -f "$cap"/bodies/*.out
	es_drop jejak-bench-warmup
	local jw=0 jc=0 cw=0 cc=0 run who idx n0 n1 n
	echo "# $label: $events events in $nbodies bulk requests of jejak's, $workers at a time; load $(load)"
	for ((run = 1; run <= 4 * es_rounds; run++)); do
		case $((run % 4)) in 1 | 0) who=jejak ;; *) who=curl ;; esac
		idx="jejak-bench-$who-$run"
		es_drop "$idx"
		node_quiet
		n0="$(node_cpu)"
		if [[ $who == jejak ]]; then
			timed "$work/es.out" "$jejak" index "$case" --es "$ES" --index "$idx" --bulk-workers "$workers" -q
		else
			"$jejak" es template "$idx" >"$cap/template.json"
			timed "$work/es.out" bash -c "$es_replay" _ "$ES" "$idx" "$cap/bodies" "$workers" "$cap/template.json"
		fi
		n1="$(node_cpu)"
		n="$(es_count "$idx" || echo '?')"
		if [[ $who == curl ]] && grep -L '"errors":false' "$cap"/bodies/*.out | grep -q .; then
			log "curl _bulk replay: some requests had errors, e.g. $(grep -L '"errors":false' "$cap"/bodies/*.out | head -n 1)"
			T_RC=1
		fi
		rm -f "$cap"/bodies/*.out
		[[ "$n" == "$events" ]] || { log "$who run $run: $n documents in $idx, want $events"; T_RC=1; }
		es_drop "$idx"
		local tool="jejak index" note=""
		[[ $who == curl ]] && tool="curl _bulk replay"
		[[ -n "$ES_PID" ]] && note="$(awk -v a="$n0" -v b="$n1" 'BEGIN { printf ", node %.1f CPU-s", b - a }')"
		row "$label" "$tool (run $run)" "$(per "$events" "$T_WALL" docs/s)$note" "$work/es.out"
		((T_RC == 0)) || { bench_unlock; return 1; }
		if [[ $who == jejak ]]; then
			jw="$(awk -v a="$jw" -v b="$T_WALL" 'BEGIN { print a + b }')" jc="$(awk -v a="$jc" -v b="$T_CPU" 'BEGIN { print a + b }')"
		else
			cw="$(awk -v a="$cw" -v b="$T_WALL" 'BEGIN { print a + b }')" cc="$(awk -v a="$cc" -v b="$T_CPU" 'BEGIN { print a + b }')"
		fi
	done
	bench_unlock
	awk -v w="$label" -v n="$events" -v k="$((2 * es_rounds))" -v jw="$jw" -v jc="$jc" -v cw="$cw" -v cc="$cc" 'BEGIN {
		printf "%-22s   jejak / curl _bulk: %.2fx the docs/s (jejak %.0f, curl %.0f docs/s over %d runs each; target >= 0.9); client CPU %.2f vs %.2f s per run\n",
			w, (jw > 0 ? cw / jw : 0), (jw > 0 ? k * n / jw : 0), (cw > 0 ? k * n / cw : 0), k, jc / k, cc / k }'
	rm -rf "$cap"
}

# es_analyzed LABEL INPUT: analyze INPUT into a case of its own, index it
# beside curl (es_case), remove the case.
es_analyzed() {
	local label="$1" input="$2" case="$work/case-es" ev
	rm -rf "$case"
	timed "$work/es-analyze.out" "$jejak" analyze -q --json --out "$case" "$input"
	ev="$(events_of "$work/es-analyze.out")"
	if ((T_RC != 0 && T_RC != 3)) || [[ "$ev" == 0 ]]; then
		log "analyze of $input failed (status $T_RC): $label skipped"
	else
		es_case "$label" "$case" "$ev" || log "$label failed"
	fi
	rm -rf "$case"
}

if wants es; then
	if ! es_node; then
		log "no Elasticsearch node: es workload skipped"
	else
		echo "# es: node $ES (Elasticsearch $(curl -s "$ES/_cat/nodes?h=version" | head -n 1)); load $(load)"
		# The syslog case, as the syslog workload makes it, at --es-mb.
		f="$(syslog_input "$es_mb")"
		d="$work/es-syslog"
		mkdir -p "$d"
		ln -f "$f" "$d/auth.log" 2>/dev/null || cp "$f" "$d/auth.log"
		es_analyzed "es syslog $es_mb MB" "$d/auth.log"
		rm -rf "$d"
		# The EVTX case: 40 copies, whatever --quick says (8 index in a second).
		src="$corpus/logs/windows/security.evtx"
		if [[ -r "$src" ]]; then
			d="$work/es-evtx"
			mkdir -p "$d"
			for i in $(seq -w 1 40); do cp "$src" "$d/security-$i.evtx"; done
			es_analyzed "es evtx 40 files" "$d"
			rm -rf "$d"
		fi
	fi
fi
echo "# done $(date -u '+%H:%M UTC'); load average $(load)"
