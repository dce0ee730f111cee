#!/usr/bin/env bash
# Runs every jejak test on a fresh machine: installs the Debian packages the
# tests use as oracles and sample evidence, starts a real Elasticsearch node on
# loopback for the store tests, runs `go vet`, staticcheck and `go test ./...`
# (closing with the skipped tests counted by reason), and always stops the
# node. .ci/run runs exactly this.
set -euo pipefail
cd "$(dirname "$0")/.."

# Oracles (The Sleuth Kit, libewf, libevtx, exiftool, util-linux) and sample
# evidence (forensics-samples-*) the tests compare against.
PACKAGES=(
  sleuthkit ewf-tools libevtx-utils libimage-exiftool-perl
  forensics-samples-ntfs forensics-samples-ext4 forensics-samples-multiple forensics-samples-files
  xz-utils bzip2 zip unzip gdisk util-linux e2fsprogs ntfs-3g auditd zsh login curl maven python3-dateutil
  rsyslog systemd-journal-remote postgresql mariadb-server fontconfig openssh-client openssl
  libregf-utils libscca-utils liblnk-utils libevt-utils rifiuti2 libesedb-utils libolecf-utils
  reglookup regripper libvmdk-utils libvhdi-utils libqcow-utils qemu-utils
  exfatprogs dosfstools mtools fatcat lz4 zstd python3-vmdkstream python3-hivex python3-libvhdi
  poppler-utils fonts-dejavu-core mariadb-client postgresql-common logrotate bsdutils sqlite3
)

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "test.sh: installing Debian packages: ${missing[*]}" >&2
  # Another apt run (unattended upgrades on a fresh machine) may hold the
  # dpkg lock: wait for it rather than fail.
  as_root apt-get -o DPkg::Lock::Timeout=600 update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# The Rust evtx crate's Python binding is the second EVTX oracle (beside
# libevtx's evtxexport) in the parsers/evtx differential tests.
# pylnk3 writes the shell links parsers/lnk reads beside lnkinfo's;
# regipy is the second registry oracle (beside regfexport and RegRipper).
PIP_PACKAGES=(evtx==0.14.0 pylnk3==0.4.3 regipy==6.5.0)
if ! python3 -c 'import evtx, pylnk3, regipy' 2>/dev/null; then
  echo "test.sh: installing Python packages: ${PIP_PACKAGES[*]}" >&2
  # A Debian-managed python3 refuses plain installs (PEP 668); the tests
  # only need the module importable by the python3 they will run.
  python3 -m pip install --quiet --disable-pip-version-check "${PIP_PACKAGES[@]}" >&2 ||
    python3 -m pip install --quiet --disable-pip-version-check --break-system-packages "${PIP_PACKAGES[@]}" >&2
fi

go mod download

# A real Elasticsearch node on 127.0.0.1 for timeline/store/elastic.
if [ -z "${JEJAK_TEST_ES:-}" ]; then
  trap 'bash scripts/elasticsearch.sh stop || true' EXIT
  JEJAK_TEST_ES="$(bash scripts/elasticsearch.sh start)"
  export JEJAK_TEST_ES
fi
echo "test.sh: Elasticsearch at $JEJAK_TEST_ES" >&2

go vet ./...
# staticcheck (unused names, ignored errors, simplifications go vet does not
# look for), pinned: v0.8.2 is the newest release this Go (1.26) builds.
# `go run pkg@version` takes it from the module proxy without adding it to
# go.mod.
go run honnef.co/go/tools/cmd/staticcheck@v0.8.2 ./...
unformatted="$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))"
if [ -n "$unformatted" ]; then
  echo "test.sh: gofmt would change: $unformatted" >&2
  exit 1
fi
# The run goes through internal/testsummary: it prints what plain go test
# would (each package's ok/FAIL line, a failed test's whole output), then
# "tests: N passed, N failed, N skipped" and the skips grouped by reason,
# so tests that skip for a missing tool or data do not pass unseen. The
# exit status is go test's (pipefail); in CI (CI=true) also testsummary's
# -strict one: a test skipped there for missing data, a missing tool or no
# Elasticsearch fails the run, since this script provides them all.
strict=()
if [ "${CI:-}" = true ]; then strict=(-strict); fi
go test -count=1 -timeout 40m -json ./... | go run ./internal/testsummary "${strict[@]}"

# A three-node cluster (in one JVM, one replica per shard) for the cluster
# tests: a full case lands, and indexing goes on when one node stops
# answering. The single node shares elasticsearch.sh's run folder, so it
# stops first; the EXIT trap stops the cluster.
if [ -z "${JEJAK_TEST_ES_CLUSTER:-}" ]; then
  bash scripts/elasticsearch.sh stop
  trap 'bash scripts/elasticsearch.sh stop || true' EXIT
  JEJAK_ES_NODES=3 JEJAK_ES_BASE_PORT=9210 JEJAK_ES_HEAP=1536m bash scripts/elasticsearch.sh start >/dev/null
  JEJAK_TEST_ES_CLUSTER="$(bash scripts/elasticsearch.sh urls)"
  export JEJAK_TEST_ES_CLUSTER
fi
go test -count=1 -timeout 10m -run '^TestCluster' ./timeline/store/elastic/
# Workers of one case in the cluster (issue 17): claims and leases, a worker
# killed mid-item, push and pull, hunting through a point in time.
go test -count=1 -timeout 20m ./casework/worker/
