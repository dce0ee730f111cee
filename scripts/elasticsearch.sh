#!/usr/bin/env bash
# Starts and stops a real Elasticsearch 8 node (or a small cluster in one JVM)
# on 127.0.0.1 for jejak's integration tests, from Maven Central jars only.
#
#   scripts/elasticsearch.sh start   resolve jars (cached), start, wait for
#                                    yellow health, print node 1's URL
#   scripts/elasticsearch.sh stop    stop the node started here (recorded pid)
#   scripts/elasticsearch.sh url     print node 1's URL
#   scripts/elasticsearch.sh urls    print every node's URL, comma-separated
#   scripts/elasticsearch.sh status  exit 0 if the recorded node is running
#
# Environment:
#   JEJAK_CACHE        cache folder (default: <repo>/.cache); jars go to es/
#   JEJAK_ES_NODES     number of nodes (default 1)
#   JEJAK_ES_BASE_PORT base port (default 9200): node i serves HTTP on base+i,
#                      its transport on base+100+i
#   JEJAK_ES_HEAP      JVM heap (default 1g)
#   JEJAK_ES_TIMEOUT   seconds to wait for yellow health (default 180)
#   JAVA_HOME          Java 17 or newer (default: java on PATH)
#
# Typical CI use:
#   export JEJAK_TEST_ES="$(scripts/elasticsearch.sh start)"
#   trap 'scripts/elasticsearch.sh stop' EXIT
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/.." && pwd)"
cache="${JEJAK_CACHE:-$repo/.cache}/es"
nodes="${JEJAK_ES_NODES:-1}"
base_port="${JEJAK_ES_BASE_PORT:-9200}"
heap="${JEJAK_ES_HEAP:-1g}"
timeout_s="${JEJAK_ES_TIMEOUT:-180}"
java="${JAVA_HOME:+$JAVA_HOME/bin/}java"
javac="${JAVA_HOME:+$JAVA_HOME/bin/}javac"

run="$cache/run"
pidfile="$run/node.pid"
logfile="$run/node.log"
basefile="$run/base"
urlsfile="$run/urls"
main_class=org.elasticsearch.node.JejakTestNode

log() { echo "elasticsearch.sh: $*" >&2; }
die() { log "$*"; exit 1; }

urls_for() {
	local i out=""
	for ((i = 1; i <= nodes; i++)); do
		out+="${out:+,}http://127.0.0.1:$((base_port + i))"
	done
	echo "$out"
}

# The pid file alone is not trusted: a stale file may name a pid the kernel
# has since given to another process, so the command line is checked too.
running_pid() {
	[[ -f "$pidfile" ]] || return 1
	local pid
	pid="$(cat "$pidfile")"
	[[ "$pid" =~ ^[0-9]+$ ]] || return 1
	[[ -r "/proc/$pid/cmdline" ]] || return 1
	tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q "$main_class" || return 1
	echo "$pid"
}

resolve() {
	local pom="$here/es/pom.xml" lib="$cache/lib"
	local stamp
	stamp="$(sha256sum "$pom" | cut -c1-16)"
	if [[ ! -f "$lib/.complete-$stamp" ]]; then
		log "resolving Elasticsearch jars from Maven Central into $lib"
		rm -rf "$lib"
		mkdir -p "$lib"
		# Debian's Maven 3.8 writes colour resets even in batch mode: strip
		# them so the CI log stays plain text (pipefail keeps mvn's status).
		mvn -q -B -Dstyle.color=never -f "$pom" dependency:copy-dependencies -DoutputDirectory="$lib" 2>&1 |
			sed 's/\x1b\[[0-9;]*m//g' >&2 ||
			die "maven could not resolve $pom (see the error above)"
		touch "$lib/.complete-$stamp"
	fi
	local src="$here/es/JejakTestNode.java" classes
	classes="$cache/classes-$(cat "$pom" "$src" | sha256sum | cut -c1-16)"
	if [[ ! -f "$classes/.complete" ]]; then
		rm -rf "$cache"/classes-*
		mkdir -p "$classes"
		"$javac" -d "$classes" -cp "$lib/*" "$src" >&2 || die "javac failed on $src"
		touch "$classes/.complete"
	fi
	echo "$classes:$lib/*"
}

start() {
	if pid="$(running_pid)"; then
		die "already running (pid $pid): run '$0 stop' first"
	fi
	[[ "$nodes" =~ ^[1-9][0-9]*$ ]] || die "JEJAK_ES_NODES must be a positive number, not '$nodes'"
	[[ "$base_port" =~ ^[0-9]+$ ]] || die "JEJAK_ES_BASE_PORT must be a number, not '$base_port'"
	local i
	for ((i = 1; i <= nodes; i++)); do
		if curl -s -o /dev/null -m 2 "http://127.0.0.1:$((base_port + i))/"; then
			die "port $((base_port + i)) on 127.0.0.1 already answers: is another node running?"
		fi
	done
	local cp
	cp="$(resolve)"
	mkdir -p "$run"
	local base
	base="$(mktemp -d "${TMPDIR:-/tmp}/jejak-es.XXXXXX")"
	echo "$base" >"$basefile"
	urls_for >"$urlsfile"
	local t0=$SECONDS
	nohup "$java" "-Xms$heap" "-Xmx$heap" -XX:+UseG1GC -Djava.awt.headless=true \
		-Dlog4j2.disable.jmx=true -cp "$cp" "$main_class" \
		-basePath "$base" -numOfNode "$nodes" -baseHttpPort "$base_port" -clusterName jejak-test \
		</dev/null >"$logfile" 2>&1 &
	local pid=$!
	echo "$pid" >"$pidfile"
	log "started pid $pid, $nodes node(s), log $logfile"
	local url health
	url="http://127.0.0.1:$((base_port + 1))"
	while :; do
		if ! kill -0 "$pid" 2>/dev/null; then
			log "node process $pid exited during start; last lines of $logfile:"
			tail -n 40 "$logfile" >&2
			rm -f "$pidfile"
			exit 1
		fi
		health="$(curl -s -m 5 "$url/_cluster/health?wait_for_status=yellow&wait_for_nodes=$nodes&timeout=2s" || true)"
		if [[ "$health" == *'"timed_out":false'* ]]; then
			break
		fi
		if ((SECONDS - t0 >= timeout_s)); then
			log "no yellow health after ${timeout_s}s (last answer: ${health:-none}); stopping"
			tail -n 40 "$logfile" >&2
			stop
			exit 1
		fi
		sleep 1
	done
	log "yellow after $((SECONDS - t0))s: $(urls_for)"
	echo "$url"
}

stop() {
	local pid
	if ! pid="$(running_pid)"; then
		log "no node running from $pidfile"
		rm -f "$pidfile"
		return 0
	fi
	kill -TERM "$pid"
	local i
	for ((i = 0; i < 60; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.5
	done
	if kill -0 "$pid" 2>/dev/null; then
		log "pid $pid ignored TERM for 30s; sending KILL"
		kill -KILL "$pid" 2>/dev/null || true
	fi
	rm -f "$pidfile" "$urlsfile"
	if [[ -f "$basefile" ]]; then
		local base
		base="$(cat "$basefile")"
		[[ "$base" == */jejak-es.* ]] && rm -rf "$base"
		rm -f "$basefile"
	fi
	log "stopped pid $pid"
}

case "${1:-}" in
start) start ;;
stop) stop ;;
url)
	[[ -f "$urlsfile" ]] || urls_for >/dev/null
	(cat "$urlsfile" 2>/dev/null || urls_for) | cut -d, -f1
	;;
urls) cat "$urlsfile" 2>/dev/null || urls_for ;;
status) running_pid >/dev/null ;;
*)
	echo "usage: $0 start|stop|url|urls|status" >&2
	exit 2
	;;
esac
