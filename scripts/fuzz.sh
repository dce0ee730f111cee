#!/usr/bin/env bash
# Fuzz every `func Fuzz*` target of the repository for a few seconds each
# (not a test; CI never runs it). Go runs one fuzz target per `go test`,
# so this compiles each package's test binary once (with -fuzz, for
# coverage instrumentation) and runs its targets
# one after another, then prints a line per target: executions, new
# inputs found, and PASS or FAIL.
#
#   scripts/fuzz.sh [-t SECONDS] [-m MINIMIZE] [-p WORKERS] [-c DIR] [--fresh]
#                   [PACKAGE_DIR_OR_TARGET_REGEX ...]
#
#   -t SECONDS   fuzzing time per target (default 10)
#   -m MINIMIZE  -fuzzminimizetime per new input (default 1s). Go minimises
#                every input that finds new coverage, for up to 60 s by
#                default, in steps that grow with the square of its length,
#                and does not count those executions: on inputs of a few
#                KiB that took a target's whole time (golang/go#48820)
#   -p WORKERS   fuzzing processes per target (-parallel; default 1: the
#                machine is shared, see docs/PERFORMANCE.md)
#   -c DIR       fuzz cache: the inputs found so far, kept from run to run
#                (default ~/.cache/jejak-fuzz; never Go's shared
#                $GOCACHE/fuzz)
#   --fresh      empty the fuzz cache of the selected targets first
#   ARGS         package folders (./parsers/evtx) and/or regexes matched
#                against "folder:Target" (evtx:FuzzDecode); default all
#
# Examples:
#   scripts/fuzz.sh                          # every target, 10 s each
#   scripts/fuzz.sh -t 60 ./parsers/evtx     # one package, a minute each
#   scripts/fuzz.sh -t 30 'FuzzWalk$'        # every FuzzWalk
#
# A failure: Go writes the failing input under the package's
# testdata/fuzz/TARGET/ (this script prints its path and the command that
# re-runs it, `go test -run=TARGET/NAME ./PKG`); commit it there once the
# bug is fixed, as a regression seed. Exit status: 0 when every target
# passed, 1 when one failed (or did not build), 2 on bad usage.
set -uo pipefail

secs=10
minimize=1s
workers=1
cache="${XDG_CACHE_HOME:-$HOME/.cache}/jejak-fuzz"
fresh=0
sel=()
usage() { sed -n '2,/^set -uo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'; }
while [ $# -gt 0 ]; do
	case "$1" in
	-h | --help) usage; exit 0 ;;
	-t) secs="${2:?-t needs seconds}"; shift 2 ;;
	-m) minimize="${2:?-m needs a duration}"; shift 2 ;;
	-p) workers="${2:?-p needs a number}"; shift 2 ;;
	-c) cache="${2:?-c needs a folder}"; shift 2 ;;
	--fresh) fresh=1; shift ;;
	-*) echo "fuzz.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
	*) sel+=("$1"); shift ;;
	esac
done
case "$secs" in '' | *[!0-9]*) echo "fuzz.sh: -t wants whole seconds, got $secs" >&2; exit 2 ;; esac
case "$workers" in '' | *[!0-9]* | 0) echo "fuzz.sh: -p wants a number of workers, got $workers" >&2; exit 2 ;; esac

root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root" || exit 2
mkdir -p "$cache" || exit 2
bins="$(mktemp -d "${TMPDIR:-/tmp}/jejak-fuzz-bin.XXXXXX")" || exit 2
trap 'rm -rf "$bins"' EXIT

# Every target, as "folder:Target", from the test files' declarations.
targets=()
while IFS= read -r line; do
	file="${line%%:*}"
	name="$(sed -E 's/^func (Fuzz[A-Za-z0-9_]*).*/\1/' <<<"${line#*:}")"
	targets+=("$(dirname "$file"):$name")
done < <(grep -rE --include='*_test.go' '^func Fuzz[A-Za-z0-9_]*\(f \*testing\.F\)' . | sed 's|^\./||' | sort)

selected() {
	[ ${#sel[@]} -eq 0 ] && return 0
	local s
	for s in "${sel[@]}"; do
		s="${s#./}"
		s="${s%/}"
		if [ "${1%%:*}" = "$s" ] || [[ "$1" =~ $s ]]; then
			return 0
		fi
	done
	return 1
}

fail=0
ran=0
results=()
for t in "${targets[@]}"; do
	selected "$t" || continue
	dir="${t%%:*}"
	name="${t#*:}"
	bin="$bins/$(tr / _ <<<"$dir").test"
	if [ ! -x "$bin" ]; then
		if ! go test -c -fuzz=. -o "$bin" "./$dir" >"$bins/build.log" 2>&1; then
			cat "$bins/build.log" >&2
			results+=("$(printf '%-44s %-28s %12s %6s  %s' "$dir" "$name" - - "FAIL (does not build)")")
			fail=1
			continue
		fi
	fi
	tcache="$cache/$dir/$name"
	[ $fresh -eq 1 ] && rm -rf "$tcache"
	log="$bins/$name.log"
	echo "== $dir $name (${secs}s)" >&2
	# The test binary runs in its package folder, as go test runs it, for
	# testdata/ and the seed corpus.
	(cd "$dir" && "$bin" -test.run='^$' -test.fuzz="^$name\$" -test.fuzztime="${secs}s" \
		-test.fuzzminimizetime="$minimize" -test.parallel="$workers" \
		-test.fuzzcachedir="$tcache" -test.timeout="$((secs + 600))s") >"$log" 2>&1
	rc=$?
	ran=$((ran + 1))
	execs="$(grep -oE 'execs: [0-9]+' "$log" | tail -1 | grep -oE '[0-9]+')"
	news="$(grep -oE 'new interesting: [0-9]+' "$log" | tail -1 | grep -oE '[0-9]+')"
	if [ $rc -eq 0 ]; then
		status=PASS
	else
		status=FAIL
		fail=1
		tail -40 "$log" >&2
		# The whole log is kept: a failure with no input written (a worker
		# killed, a timeout) is only explained there.
		mkdir -p "$tcache" && cp "$log" "$tcache.fail.log"
		status="FAIL log $tcache.fail.log"
		input="$(grep -oE 'testdata/fuzz/[^ ]+' "$log" | head -1)"
		[ -n "$input" ] && status="FAIL input $dir/$input (go test -run=$name/$(basename "$input") ./$dir), log $tcache.fail.log"
	fi
	results+=("$(printf '%-44s %-28s %12s %6s  %s' "$dir" "$name" "${execs:-0}" "${news:-0}" "$status")")
done

if [ $ran -eq 0 ] && [ ${#results[@]} -eq 0 ]; then
	echo "fuzz.sh: no fuzz target matches ${sel[*]}" >&2
	exit 2
fi
printf '%-44s %-28s %12s %6s  %s\n' package target executions new result
printf '%s\n' "${results[@]}"
exit $fail
