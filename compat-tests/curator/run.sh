#!/usr/bin/env bash
# Apache Curator 5.4 recipes and the plain ZooKeeper 3.8 Java client (Debian
# jars) against the server under test. Curator: InterProcessMutex across 3
# JVM processes, semaphore, read-write lock, LeaderLatch/LeaderSelector
# failover, DistributedAtomicLong, SharedCount, CuratorCache /
# PathChildrenCache / NodeCache event sequences, barriers, DistributedQueue,
# PersistentNode / PersistentTtlNode, service discovery, transactions,
# namespaces, session expiry, and connection state across a server
# kill/restart. Plain client: create modes, errors, Stat fields, multi,
# multiRead, reaping of containers/TTL nodes, one-shot / persistent /
# recursive watches and their removal, getEphemerals, getAllChildrenNumber,
# whoAmI, session timeout negotiation and reattach, ACLs, pipelining, big
# payloads. Sources: src/compat/*.java (one JVM runs them in sequence, each
# check with its own time limit; every event wait is bounded).
#
# COMPAT_FAULT=drop-watches (no watch notification reaches the client) is
# expected to FAIL, by timeout, exactly these 22 checks:
#   zk one-shot watches; zk addWatch PERSISTENT; zk addWatch
#   PERSISTENT_RECURSIVE events; zk removeWatches (its control watch); zk
#   ephemerals go when the session closes (the watcher part); curator
#   namespace (its watch events); SharedCount listener; CuratorCache,
#   PathChildrenCache and NodeCache event sequences; DistributedBarrier;
#   DistributedDoubleBarrier; DistributedQueue; PersistentNode recreated;
#   ServiceCache sees an unregister; InterProcessMutex across processes and
#   its waiter check; InterProcessSemaphoreV2; InterProcessReadWriteLock;
#   LeaderLatch and LeaderSelector failover; watches re-registered after
#   reconnect.
# The other 26 (create modes, Stat, multi, reaping, getEphemerals, whoAmI,
# sessions, ACLs, pipelining, atomic long, trySetCount, PersistentTtlNode,
# discovery queries, transactions, session expiry, the restart's
# connection-state/session checks) still pass.
#
# Knobs: COMPAT_CACHE (compiled classes, default ~/.cache/corral-compat),
# CURATOR_ONLY=substring (run only the checks whose name contains it),
# CURATOR_EVENT_TIMEOUT_MS (per-event wait, default 5000).
set -uo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
. "$here/../lib.sh"

cache="${COMPAT_CACHE:-$HOME/.cache/corral-compat}"
classes="$cache/curator-classes"
jars=(curator-recipes curator-framework curator-client curator-x-discovery zookeeper zookeeper-jute
      guava slf4j-api slf4j-simple jackson-databind jackson-core jackson-annotations)

# Debian packages (installed only when missing), the classpath, and the
# classes, compiled when a source is newer than the last build.
java_pkgs=(libcurator-framework-java libcurator-recipes-java libcurator-discovery-java zookeeper)
java_build curator "$classes" "$here/src/compat" "$here/src" "$here/run.sh"

# tickTime=2000 (the session timeout bounds the negotiation check expects);
# a short container/TTL check interval: the reaping checks wait for it.
start_corral --set tickTime=2000 --set znode.container.checkIntervalMs=500 || { echo "FAIL curator server start"; exit 1; }
trap stop_corral EXIT
ctl="$CORRAL_DIR/curator-ctl"
mkdir -p "$ctl"
: >"$ctl/out"
log="$cache/curator-last.log" # client-side library log of the last run
: >"$log"

mode=(suite "$CORRAL_CONNECT" "$ctl")
[ -n "${CURATOR_ONLY:-}" ] && mode=(only "$CORRAL_CONNECT" "$CURATOR_ONLY")
timeout -s KILL 300 java -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Xshare:auto -Xmx256m \
  -Dcompat.eventTimeoutMs="${CURATOR_EVENT_TIMEOUT_MS:-5000}" \
  -Dorg.slf4j.simpleLogger.defaultLogLevel=warn -Dorg.slf4j.simpleLogger.logFile="$log" \
  -Dorg.slf4j.simpleLogger.showDateTime=true \
  -cp "$classes:$cp" compat.Main "${mode[@]}" >"$ctl/out" 2>"$ctl/err" &
java_pid=$!

# Follow the Java side: print its lines as they come, and drive the server
# kill/restart when it asks for it.
printed=0
killed=0
restarted=0
kill_deadline=0
follow() {
  local n
  n=$(wc -l <"$ctl/out")
  if [ "$n" -gt "$printed" ]; then
    sed -n "$((printed + 1)),${n}p" "$ctl/out" | grep -Ev '^(READY-FOR-KILL|SAW-SUSPENDED|NO-SUSPENDED)$'
    printed=$n
  fi
}
while kill -0 "$java_pid" 2>/dev/null; do
  follow
  if [ "$killed" -eq 0 ] && grep -qx 'READY-FOR-KILL' "$ctl/out"; then
    kill_server KILL
    killed=1
    kill_deadline=$((SECONDS + 25))
  fi
  if [ "$killed" -eq 1 ] && [ "$restarted" -eq 0 ] &&
     { grep -Eqx 'SAW-SUSPENDED|NO-SUSPENDED' "$ctl/out" || [ "$SECONDS" -ge "$kill_deadline" ]; }; then
    if restart_server; then
      touch "$ctl/restarted"
    else
      echo "FAIL curator server restart (see $CORRAL_DIR)"
    fi
    restarted=1
  fi
  sleep 0.1
done
wait "$java_pid"
rc=$?
follow
if [ "$rc" -ne 0 ]; then
  echo "FAIL curator suite JVM exited with status $rc ($(tail -c 600 "$ctl/err" | tr '\n' ' '))"
fi
exit 0
