#!/usr/bin/env bash
# kazoo (the Python ZooKeeper client, pinned below) against the server:
# node flags, versions, watches, digest ACLs, transactions, the recipes
# (Lock, Semaphore, Election, Counter, Barrier, DoubleBarrier, Party,
# ShallowParty, Queue, LockingQueue, DataWatch, ChildrenWatch, TreeCache),
# read-only connect, session expiry and reconnect across a server restart.
# The checks are in checks.py; this script installs kazoo, starts the
# server and kills/restarts it when checks.py asks (files in $ctl).
#
# COMPAT_FAULT=drop-watches is expected to FAIL these checks (each after a
# timeout, none hangs): exists/get/get_children watches, DataWatch,
# ChildrenWatch, TreeCache, Lock (contended counter), Semaphore, Election,
# Barrier, DoubleBarrier, LockingQueue with blocked consumers, and watches
# surviving a reconnect. The rest (basics, ACLs, transactions, Counter,
# Party, Queue, non-blocking Lock, LockingQueue priority, read-only connect,
# session expiry, reconnect) do not need a watch and still pass.
set -uo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
. "$here/../lib.sh"

KAZOO_VERSION="${KAZOO_VERSION:-2.11.0}"
venv="${COMPAT_CACHE:-$HOME/.cache/corral-compat}/kazoo-venv"
if ! "$venv/bin/python" -c "import kazoo, sys; sys.exit(kazoo.version.__version__ != '$KAZOO_VERSION')" 2>/dev/null; then
  mkdir -p "$(dirname "$venv")"
  { python3 -m venv "$venv" &&
    "$venv/bin/pip" install -q --disable-pip-version-check "kazoo==$KAZOO_VERSION"; } >&2 ||
    { echo "FAIL kazoo install (pip install kazoo==$KAZOO_VERSION into $venv)"; exit 1; }
fi

start_corral || { echo "FAIL kazoo server start"; exit 1; }
ctl="$CORRAL_DIR/kazoo-ctl"
mkdir -p "$ctl"
checks_pid=""
cleanup() {
  [ -n "$checks_pid" ] && kill -KILL "$checks_pid" 2>/dev/null
  stop_corral
}
trap cleanup EXIT

KAZOO_CTL="$ctl" KAZOO_LOG="${KAZOO_LOG:-$CORRAL_DIR/kazoo.log}" \
  "$venv/bin/python" -u "$here/checks.py" &
checks_pid=$!

# Serve checks.py's kill/restart requests until it exits; give up after
# KAZOO_SUITE_TIMEOUT seconds (its own checks all have deadlines).
limit=$(( $(date +%s) + ${KAZOO_SUITE_TIMEOUT:-170} ))
while kill -0 "$checks_pid" 2>/dev/null; do
  if [ -f "$ctl/req" ]; then
    cmd="$(cat "$ctl/req")"
    rm -f "$ctl/req"
    case "$cmd" in
      kill) kill_server KILL; rc=$? ;;
      restart) restart_server; rc=$? ;;
      *) rc=2 ;;
    esac
    echo "$rc" >"$ctl/ack.tmp" && mv "$ctl/ack.tmp" "$ctl/ack"
  fi
  if [ "$(date +%s)" -ge "$limit" ]; then
    echo "FAIL kazoo checks did not finish within ${KAZOO_SUITE_TIMEOUT:-170}s"
    kill -KILL "$checks_pid" 2>/dev/null
    break
  fi
  sleep 0.05
done
wait "$checks_pid" 2>/dev/null
rc=$?
checks_pid=""
# checks.py exits 0 or 1 after printing every result; anything else is a crash
if [ "$rc" -ne 0 ] && [ "$rc" -ne 1 ]; then
  echo "FAIL kazoo checks.py exited with status $rc"
fi
exit 0
