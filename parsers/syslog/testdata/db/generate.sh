#!/bin/bash
# Regenerates the files in this folder with the real servers and the real
# rsyslogd (Debian 12: mariadb-server, postgresql-15, rsyslog, bsdutils).
# Run as root: bash parsers/syslog/testdata/db/generate.sh
#
#   mariadb-error.log     MariaDB's own error log (--log-warnings=4) after
#                         three refused logons over TCP and one client killed
#                         mid-query (an "Aborted connection").
#   postgresql-stderr.log PostgreSQL's stderr log (log_connections, prefix
#                         '%m [%p] %q%u@%d ') after refused logons over TCP.
#   db_syslog.log         both logs as they reach a syslog file: every line
#                         sent through util-linux logger to rsyslogd, written
#                         with RSYSLOG_TraditionalFileFormat. MariaDB's lines
#                         go as mysqld_safe --syslog sends them ("logger -t
#                         mysqld"; under systemd journald forwards them as
#                         mariadbd[PID]: the test reads both tags), the
#                         PostgreSQL lines with tag postgres and the server
#                         PID the line names. (A server logging to syslog
#                         itself adds "[N-1]" sequence numbers; that needs
#                         /dev/log, which this script leaves alone.)
set -euo pipefail
out=$(cd "$(dirname "$0")" && pwd)
T=$(mktemp -d /tmp/jejak-dbgen.XXXXXX)
chmod 755 "$T"
trap 'rm -rf "$T"' EXIT

# --- MariaDB ---
mariadb-install-db --no-defaults --datadir="$T/my" --user=root --auth-root-authentication-method=normal --skip-test-db >/dev/null
mariadbd --no-defaults --datadir="$T/my" --socket="$T/my.sock" --port=33061 --bind-address=127.0.0.1 \
	--skip-name-resolve --log-warnings=4 --log-error="$T/mariadb-error.log" --user=root --pid-file="$T/my.pid" &
for _ in $(seq 100); do [ -S "$T/my.sock" ] && break; sleep 0.1; done
mypid=$(cat "$T/my.pid")
mariadb --no-defaults -S "$T/my.sock" -uroot -e "CREATE USER 'tally'@'%' IDENTIFIED BY 'S3cret!'; CREATE DATABASE pemilu; GRANT ALL ON pemilu.* TO 'tally'@'%';"
mariadb --no-defaults -h127.0.0.1 -P33061 -uroot -pwrong -e 'select 1' 2>/dev/null || true
mariadb --no-defaults -h127.0.0.1 -P33061 -utally -pguess1 pemilu -e 'select 1' 2>/dev/null || true
mariadb --no-defaults -h127.0.0.1 -P33061 -unosuch -pguess pemilu -e 'select 1' 2>/dev/null || true
mariadb --no-defaults -h127.0.0.1 -P33061 -utally '-pS3cret!' pemilu -e 'select sleep(3)' & client=$!
sleep 1; kill -9 $client; wait $client 2>/dev/null || true
sleep 3 # the server notices the dead client when the query ends
mariadb-admin --no-defaults -S "$T/my.sock" -uroot shutdown
wait

# --- PostgreSQL 15 ---
PGBIN=/usr/lib/postgresql/15/bin
mkdir "$T/pg" && echo 'Adm1n!' >"$T/pg/pw" && chown -R postgres "$T/pg"
runuser -u postgres -- "$PGBIN/initdb" -D "$T/pg/data" -A scram-sha-256 --pwfile="$T/pg/pw" -U postgres >/dev/null
cat >>"$T/pg/data/postgresql.conf" <<EOF
listen_addresses = '127.0.0.1'
port = 54329
unix_socket_directories = '$T/pg'
log_connections = on
log_disconnections = on
log_line_prefix = '%m [%p] %q%u@%d '
EOF
printf 'local all all scram-sha-256\nhost pemilu all 127.0.0.1/32 scram-sha-256\n' >"$T/pg/data/pg_hba.conf"
runuser -u postgres -- "$PGBIN/pg_ctl" -D "$T/pg/data" -l "$T/pg/pg.log" -w start >/dev/null
PGPASSWORD='Adm1n!' psql -h "$T/pg" -p 54329 -U postgres -c "CREATE USER kpu PASSWORD 'Kpu2024'" postgres >/dev/null
PGPASSWORD='Adm1n!' psql -h "$T/pg" -p 54329 -U postgres -c "CREATE DATABASE pemilu" postgres >/dev/null
for cred in kpu:wrong kpu:Kpu2024 nobody:x; do
	PGPASSWORD=${cred#*:} psql -h 127.0.0.1 -p 54329 -U "${cred%%:*}" pemilu -c 'select 1' >/dev/null 2>&1 || true
done
PGPASSWORD=x psql -h 127.0.0.1 -p 54329 -U postgres postgres -c 'select 1' >/dev/null 2>&1 || true
runuser -u postgres -- "$PGBIN/pg_ctl" -D "$T/pg/data" -w stop >/dev/null
cp "$T/pg/pg.log" "$T/postgresql-stderr.log"

# --- rsyslogd, fed by logger ---
cat >"$T/rsyslog.conf" <<EOF
global(workDirectory="$T" localHostname="kpu-db01")
module(load="imuxsock" SysSock.Use="off")
input(type="imuxsock" Socket="$T/log.sock")
*.* action(type="omfile" file="$T/db_syslog.log" template="RSYSLOG_TraditionalFileFormat")
EOF
rsyslogd -n -f "$T/rsyslog.conf" -i "$T/rsyslogd.pid" &
rs=$!
for _ in $(seq 100); do [ -S "$T/log.sock" ] && break; sleep 0.05; done
n=0
while IFS= read -r line; do
	# mysqld_safe --syslog for half the lines, journald's mariadbd[PID] for the rest.
	if ((n++ % 2)); then
		logger -u "$T/log.sock" -t mysqld -- "$line"
	else
		logger -u "$T/log.sock" -t mariadbd --id="$mypid" -- "$line"
	fi
done <"$T/mariadb-error.log"
pid=1
while IFS= read -r line; do
	# A continuation line (DETAIL's second line) goes with the PID before it.
	p=$(sed -n 's/^[0-9-]* [0-9:.]* [A-Z]* \[\([0-9]*\)\].*/\1/p' <<<"$line")
	pid=${p:-$pid}
	logger -u "$T/log.sock" -t postgres --id="$pid" -- "$line"
done <"$T/postgresql-stderr.log"
sleep 0.5
kill $rs
wait $rs || true
cp "$T/mariadb-error.log" "$T/postgresql-stderr.log" "$T/db_syslog.log" "$out/"
chmod 644 "$out"/*.log
