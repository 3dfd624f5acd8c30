#!/usr/bin/env bash
# latchd demo: a 3-server ZooKeeper ensemble on loopback (Debian's zookeeper package), three
# latchd agents, their roles once a second (latchctl status and curl of the Atlas status
# endpoint), then a graceful failover (SIGTERM of the ACTIVE) with its timing.
# Builds nothing: expects build/bin/latchd and build/bin/latchctl (or LATCHD_BIN_DIR).
# Runs under a minute; everything started is stopped by pid on exit.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(dirname "$here")"
export LATCHD_BIN_DIR="${LATCHD_BIN_DIR:-$repo/build/bin}"

for b in latchd latchctl; do
  if [[ ! -x "$LATCHD_BIN_DIR/$b" ]]; then
    echo "demo: $LATCHD_BIN_DIR/$b not found; build first:" >&2
    echo "  cmake -S $repo -B $repo/build && make -C $repo/build -j2" >&2
    exit 1
  fi
done
for t in java python3 curl; do
  command -v "$t" >/dev/null || { echo "demo: $t is missing (scripts/install-deps.sh)" >&2; exit 1; }
done
[[ -f /usr/share/java/zookeeper.jar ]] || {
  echo "demo: /usr/share/java/zookeeper.jar missing (apt-get install zookeeper)" >&2; exit 1; }

# The driver starts ZooKeeper and the agents and stops them itself (by pid, also on SIGTERM);
# its children also die with it (setpriv --pdeathsig). This trap stops the driver by its pid.
driver_pid=""
cleanup() {
  if [[ -n "$driver_pid" ]] && kill -0 "$driver_pid" 2>/dev/null; then
    kill -TERM "$driver_pid" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$driver_pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$driver_pid" 2>/dev/null || true
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

python3 "$here/demo.py" "$@" &
driver_pid=$!
set +e
wait "$driver_pid"
rc=$?
set -e
driver_pid=""
exit "$rc"
