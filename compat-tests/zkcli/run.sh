#!/usr/bin/env bash
# zkCli.sh (Debian's ZooKeeper 3.8) scripted against corral: every node
# type, ls/get/set/stat, versions, ACLs with addauth, watches, sync,
# getEphemerals, getAllChildrenNumber, whoami, config (members listed in the
# ensemble topology, none standalone) and deleteall.
set -uo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
. "$here/../lib.sh"
ZKCLI="${ZKCLI:-/usr/share/zookeeper/bin/zkCli.sh}"
start_corral || { echo "FAIL zkcli server start"; exit 1; }
trap stop_corral EXIT
out="$CORRAL_DIR/zkcli.out"

zk() { timeout 60 "$ZKCLI" -server "$CORRAL_CONNECT" >"$out" 2>&1; }

zk <<'CMDS'
create /app hello
create /app/cfg v1
create -s /app/seq- x
create -s /app/seq- x
create -e /app/eph e
create -c /app/box
create -t 60000 /app/ttl t
ls /app
ls -s /app
get /app
get -s /app/cfg
set /app/cfg v2
set -v 5 /app/cfg v3
stat /app/cfg
delete -v 9 /app/cfg
create /app
getEphemerals /app
getAllChildrenNumber /app
sync /app
whoami
config
addauth digest alice:secret
setAcl /app/cfg auth:alice:secret:cdrwa
getAcl /app/cfg
get -w /app
set /app world
deleteall /app
ls /
quit
CMDS

check "create persistent" "$out" '^Created /app$'
check "create sequential after a plain create" "$out" '^Created /app/seq-0000000001$'
check "sequential counts every creation" "$out" '^Created /app/seq-0000000002$'
check "create ephemeral" "$out" '^Created /app/eph$'
check "create container" "$out" '^Created /app/box$'
check "create ttl" "$out" '^Created /app/ttl$'
check "ls lists children" "$out" '^\[box, cfg, eph, seq-0000000001, seq-0000000002, ttl\]$'
check "ls -s prints stat" "$out" '^numChildren = 6$'
check "get data" "$out" '^hello$'
check "stat version after set" "$out" '^dataVersion = 1$'
check "set with wrong version fails" "$out" 'version No is not valid : /app/cfg'
check "delete with wrong version fails" "$out" 'version No is not valid : /app/cfg'
check "create existing fails" "$out" 'Node already exists: /app'
check "getEphemerals" "$out" '^\[/app/eph\]$'
check "getAllChildrenNumber" "$out" '^6$'
check "sync" "$out" 'Sync is OK'
check "whoami lists ip" "$out" '^ip: 127.0.0.1$'
check "getAcl after setAcl auth" "$out" "^'digest,'alice:"
check "watch fires" "$out" 'WatchedEvent state:SyncConnected type:NodeDataChanged path:/app'
check "deleteall removes the subtree" "$out" '^\[zookeeper\]$'
check_not "no unexpected server errors" "$out" 'KeeperErrorCode = (ConnectionLoss|Unimplemented|MarshallingError)'
# `config` prints /zookeeper/config: nothing for a standalone server (no
# dynamic config), every member as a participant for an ensemble.
if [ "$(compat_topology)" = ensemble ]; then
  for i in $(seq 1 "$ENSEMBLE_N"); do
    check "config lists server.$i as a participant with its client port" "$out" \
      "^server\.$i=127\.0\.0\.1:${ENSEMBLE_QPORT[i]}:${ENSEMBLE_EPORT[i]}:participant;127\.0\.0\.1:${ENSEMBLE_CPORT[i]}\$"
  done
  check "config ends with version=0 (static config)" "$out" '^version=0$'
else
  check_not "config of a standalone server lists no members" "$out" '^server\.[0-9]+='
fi
