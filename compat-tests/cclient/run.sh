#!/usr/bin/env bash
# The ZooKeeper C client (libzookeeper-mt 3.8, Debian's zookeeper-bin) against
# the server under test: cli_mt, driven line by line through a FIFO (each step
# waits for the output line that ends its answer, never a fixed sleep), plus
# ccprobe.c, a small program on the same library for what cli_mt cannot
# express (versions on set/delete, ACLs, multi, watch removal, session
# re-attach, timeout negotiation). Checks: every create mode (persistent,
# sequential with its 10-digit suffix, ephemeral, ephemeral-sequential,
# container, TTL) and the reaping of containers and TTL nodes, get/set/
# exists/ls/ls2/delete/sync with their error codes, BadVersion, watches
# (data, child, exists, delete; one-shot; removal), digest auth and ACLs
# (ZNOAUTH -102 without auth, digest redaction in getAcl), multi, the
# handshake (session id, negotiated and clamped timeouts, re-attach, wrong
# password, read-only flag) and a session surviving a server kill + restart.
# CCLIENT_KEEP=DIR keeps the session logs and step outputs for inspection.
#
# COMPAT_FAULT=drop-watches (no watch notification reaches the client) makes
# exactly these checks FAIL; everything else must still pass:
#   watch: data watch fires CHANGED_EVENT
#   watch: one-shot (one event for two sets)
#   watch: child watch fires CHILD_EVENT
#   watch: child watch fires CHILD_EVENT on a child's delete
#   watch: child watch fires DELETED_EVENT when its node goes
#   watch: exists watch fires CREATED_EVENT
#   watch: data watch fires DELETED_EVENT
#   watch: probe data watch fires CHANGED
#   expiry: exists watch fires DELETED_EVENT on expiry
#   reconnect: watch set before the restart fires after it
set -uo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
. "$here/../lib.sh"

CLI_MT="${CLI_MT:-/usr/lib/zookeeper/bin/cli_mt}"
cache="${COMPAT_CACHE:-$HOME/.cache/corral-compat}"
PROBE="$cache/ccprobe"

if [ ! -x "$CLI_MT" ]; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q zookeeper-bin >/dev/null 2>&1
fi
[ -x "$CLI_MT" ] || { echo "FAIL cclient setup (no cli_mt: apt-get install zookeeper-bin failed)"; exit 1; }
if [ ! -f /usr/include/zookeeper/zookeeper.h ]; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q libzookeeper-mt-dev >/dev/null 2>&1
fi
mkdir -p "$cache"
if [ ! -x "$PROBE" ] || [ "$here/ccprobe.c" -nt "$PROBE" ]; then
  gcc -O1 -Wall -DTHREADED -o "$PROBE.tmp" "$here/ccprobe.c" -lzookeeper_mt -lpthread &&
    mv "$PROBE.tmp" "$PROBE" ||
    { echo "FAIL cclient setup (ccprobe.c did not compile: libzookeeper-mt-dev?)"; exit 1; }
fi

# tickTime=2000 (the handshake checks expect its session timeout bounds,
# 4000..40000; the ensemble topology's default tickTime is shorter).
# Containers and TTL nodes are reaped every 200 ms, so their checks are quick;
# super:pw is the super digest.
ALICE='alice:aYXlLOpEooaV1cRAvUL1fp9Qt7E='   # alice:secret
SUPER='super:0bX78nEegDzJM3ju0iLBEJdWzjg='   # super:pw
start_corral --set tickTime=2000 --set znode.container.checkIntervalMs=200 \
  --set "zookeeper.DigestAuthenticationProvider.superDigest=$SUPER" ||
  { echo "FAIL cclient server start"; exit 1; }
W="$(mktemp -d)"
declare -A FD PID
cleanup() {
  for n in "${!FD[@]}"; do eval "exec ${FD[$n]}>&-"; done
  for n in "${!PID[@]}"; do kill "${PID[$n]}" 2>/dev/null; wait "${PID[$n]}" 2>/dev/null; done
  stop_corral
  # CCLIENT_KEEP=DIR keeps every session log and step output for a look.
  [ -n "${CCLIENT_KEEP:-}" ] && rm -rf "$CCLIENT_KEEP" && cp -r "$W" "$CCLIENT_KEEP"
  rm -rf "$W"
}
trap cleanup EXIT

# cli_open NAME [ARGS]: an interactive cli_mt session NAME reading a FIFO;
# its stdout+stderr go to $W/NAME.log.
cli_open() {
  local name=$1 fd
  shift
  mkfifo "$W/$name.in"
  stdbuf -oL "$CLI_MT" "$@" -h "$CORRAL_CONNECT" <"$W/$name.in" >"$W/$name.log" 2>&1 &
  PID[$name]=$!
  exec {fd}>"$W/$name.in"
  FD[$name]=$fd
}

# wait_log FILE FROM REGEX SECONDS: waits for a line after line FROM of FILE
# matching REGEX (SECONDS may be fractional).
wait_log() {
  local i ticks
  ticks=$(awk -v s="$4" 'BEGIN { print int(s * 20) }')
  for ((i = 0; i < ticks; i++)); do
    tail -n "+$(($2 + 1))" "$1" | grep -Eq -- "$3" && return 0
    sleep 0.05
  done
  return 1
}

# step ID NAME CMD UNTIL [SECONDS]: sends CMD to session NAME, waits for the
# line UNTIL that ends its answer, and saves the session's new output in
# $W/ID.out for the checks.
step() {
  local log="$W/$2.log" from
  from=$(wc -l <"$log")
  [ -n "$3" ] && printf '%s\n' "$3" >&"${FD[$2]}"
  wait_log "$log" "$from" "$4" "${5:-10}"
  tail -n "+$((from + 1))" "$log" >"$W/$1.out"
}

# other CMD: runs one command in a separate, short-lived cli_mt session
# (batch mode), e.g. to trigger a watch of another session.
other() {
  timeout 20 "$CLI_MT" -h "$CORRAL_CONNECT" -c "$1" >>"$W/other.log" 2>&1
}

# watch_step ID NAME TRIGGER UNTIL: runs TRIGGER in another session, then
# waits (3 s at most) for UNTIL in session NAME.
watch_step() {
  local log="$W/$2.log" from
  from=$(wc -l <"$log")
  other "$3"
  wait_log "$log" "$from" "$4" 3
  tail -n "+$((from + 1))" "$log" >"$W/$1.out"
}

# probe ID < SCRIPT: runs ccprobe with SCRIPT (HOST = the server, ALICE =
# alice's digest id) into $W/ID.out.
probe() {
  sed -e "s/HOST/$CORRAL_CONNECT/" -e "s|ALICE|$ALICE|g" |
    timeout 60 "$PROBE" >"$W/$1.out" 2>"$W/$1.err"
}

# poll_gone ID NAME PATH SECONDS: repeats `exists PATH` in session NAME until
# the node is gone (cli_mt prints "Error -101 for PATH").
poll_gone() {
  local log="$W/$2.log" from i
  from=$(wc -l <"$log")
  for ((i = 0; i < $4 * 4; i++)); do
    printf 'exists %s\n' "$3" >&"${FD[$2]}"
    wait_log "$log" "$from" "^Error -101 for $3\$" 0.25 && break
  done
  tail -n "+$((from + 1))" "$log" >"$W/$1.out"
}

# --- handshake -------------------------------------------------------------
# -d logs the handshake (negotiated timeout); `verbose` then turns the debug
# log off again: its lines, written by the client's I/O thread, could
# otherwise split the watcher's lines (printed in pieces by another thread).
cli_open A -d
wait_log "$W/A.log" 0 '^Got a new session id: 0x[0-9a-f]+$' 15
cp "$W/A.log" "$W/hello.out"
step quiet A verbose '^logging level set to WARN$'
check "handshake: session id printed" "$W/hello.out" '^Got a new session id: 0x[0-9a-f]+$'
check "handshake: CONNECTED_STATE session event" "$W/hello.out" '^Watcher SESSION_EVENT state = CONNECTED_STATE'
check "handshake: requested 30000 ms timeout negotiated" "$W/hello.out" \
  'session establishment complete on server .*, sessionId=0x[0-9a-f]+, negotiated timeout=30000'
sid=$(sed -n 's/^Got a new session id: 0x\([0-9a-f]*\)$/\1/p' "$W/hello.out" | head -1)
step myid A myid '^session Id = '
check "handshake: myid prints the same session id" "$W/myid.out" "^session Id = ${sid:-none}\$"

probe clamp_lo <<'EOF'
connect HOST 1000
EOF
check "handshake: 1000 ms clamped up to minSessionTimeout 4000" "$W/clamp_lo.out" '^connected session=0x[0-9a-f]+ timeout=4000$'
probe clamp_hi <<'EOF'
connect HOST 100000
EOF
check "handshake: 100000 ms clamped down to maxSessionTimeout 40000" "$W/clamp_hi.out" '^connected session=0x[0-9a-f]+ timeout=40000$'
probe reattach <<'EOF'
connect HOST 10000
reattach
EOF
check "handshake: re-attach with session id and password keeps the session" "$W/reattach.out" '^reattach same=yes state=CONNECTED$'
probe badpass <<'EOF'
connect HOST 10000
badpass
EOF
check "handshake: re-attach with a wrong password is refused as expired" "$W/badpass.out" '^badpass state=EXPIRED_SESSION$'
timeout 20 "$CLI_MT" -r -h "$CORRAL_CONNECT" -c "ls /" >"$W/ro.out" 2>&1
# Any server that can serve writes (standalone, or an ensemble member with a
# quorum) gives a read-only-capable client a normal session.
ro_server="a standalone server"
[ "$(compat_topology)" = ensemble ] && ro_server="an ensemble member with a quorum"
check "handshake: read-only flag (-r) gets a normal session from $ro_server" "$W/ro.out" '^Watcher SESSION_EVENT state = CONNECTED_STATE'
check "handshake: read-only session can read" "$W/ro.out" '^	zookeeper$'

# --- create modes ------------------------------------------------------------
step c_root A "create /cc" '^	name = /cc$|^\[/cc\]: rc = -?[1-9]'
check "create persistent" "$W/c_root.out" '^	name = /cc$'
step c_plain A "create /cc/plain" '^	name = /cc/plain$|^\[/cc/plain\]: rc = -?[1-9]'
step c_seq1 A "create +s /cc/seq-" '^	name = /cc/seq-|^\[/cc/seq-\]: rc = -?[1-9]'
step c_seq2 A "create +s /cc/seq-" '^	name = /cc/seq-|^\[/cc/seq-\]: rc = -?[1-9]'
check "create sequential: 10-digit suffix from the parent's counter" "$W/c_seq1.out" '^	name = /cc/seq-0000000001$'
check "create sequential: counter advances" "$W/c_seq2.out" '^	name = /cc/seq-0000000002$'
step c_eph A "create +e /cc/eph" '^	name = /cc/eph$|^\[/cc/eph\]: rc = -?[1-9]'
check "create ephemeral" "$W/c_eph.out" '^	name = /cc/eph$'
step g_eph A "get /cc/eph" '^	ephemeralOwner = |^/cc/eph: rc = -?[1-9]'
check "ephemeral: owner is this session" "$W/g_eph.out" "^	ephemeralOwner = ${sid:-none}\$"
step c_eseq A "create +es /cc/eseq-" '^	name = /cc/eseq-|^\[/cc/eseq-\]: rc = -?[1-9]'
check "create ephemeral-sequential" "$W/c_eseq.out" '^	name = /cc/eseq-0000000004$'
step c_box A "create +c /cc/box" '^	name = /cc/box$|^\[/cc/box\]: rc = -?[1-9]'
check "create container" "$W/c_box.out" '^	name = /cc/box$'
step c_ttl A "create +t=60000 /cc/ttl" '^	name = /cc/ttl$|^\[/cc/ttl\]: rc = -?[1-9]'
check "create ttl (persistent with TTL)" "$W/c_ttl.out" '^	name = /cc/ttl$'
step c_ttlseq A "create +st=60000 /cc/tseq-" '^	name = /cc/tseq-|^\[/cc/tseq-\]: rc = -?[1-9]'
check "create ttl sequential" "$W/c_ttlseq.out" '^	name = /cc/tseq-0000000007$'
step c_two A "create2 /cc/two" '^	ephemeralOwner = |^\[/cc/two\]: rc = -?[1-9]'
check "create2 returns the new node's stat" "$W/c_two.out" '^	version=0	aversion=0$'
step c_dup A "create /cc" '^\[/cc\]: rc = '
check "create existing: ZNODEEXISTS -110" "$W/c_dup.out" '^\[/cc\]: rc = -110$'
step c_orphan A "create /cc/none/kid" '^\[/cc/none/kid\]: rc = '
check "create without parent: ZNONODE -101" "$W/c_orphan.out" '^\[/cc/none/kid\]: rc = -101$'
step c_ephkid A "create /cc/eph/kid" '^\[/cc/eph/kid\]: rc = '
check "create under an ephemeral: ZNOCHILDRENFOREPHEMERALS -108" "$W/c_ephkid.out" '^\[/cc/eph/kid\]: rc = -108$'

# A container goes once its last child does; a TTL node once its TTL passes.
step c_box2 A "create +c /cc/box2" '^	name = /cc/box2$|^\[/cc/box2\]: rc = -?[1-9]'
step c_box2k A "create /cc/box2/k" '^	name = /cc/box2/k$|^\[/cc/box2/k\]: rc = -?[1-9]'
check "container: child created under it" "$W/c_box2k.out" '^	name = /cc/box2/k$'
step d_box2k A "delete /cc/box2/k" '^/cc/box2/k: rc = '
poll_gone box_gone A /cc/box2 10
check "container deleted by the server after its last child" "$W/box_gone.out" '^Error -101 for /cc/box2$'
step c_ttl2 A "create +t=300 /cc/ttl2" '^	name = /cc/ttl2$|^\[/cc/ttl2\]: rc = -?[1-9]'
check "create ttl 300 ms" "$W/c_ttl2.out" '^	name = /cc/ttl2$'
poll_gone ttl_gone A /cc/ttl2 10
check "ttl node deleted by the server after its ttl" "$W/ttl_gone.out" '^Error -101 for /cc/ttl2$'

# --- get / set / exists / ls / ls2 / delete / sync ---------------------------
step c_data A "create /cc/data" '^	name = /cc/data$|^\[/cc/data\]: rc = -?[1-9]'
step get0 A "get /cc/data" '^	ephemeralOwner = |^/cc/data: rc = -?[1-9]'
check "get: data (cli_mt creates with \"new\")" "$W/get0.out" '^ value_len = 3$'
check "get: value" "$W/get0.out" '^new$'
check "get: version 0 on a new node" "$W/get0.out" '^	version=0	aversion=0$'
step set1 A "set /cc/data hello" '^	ephemeralOwner = |^/cc/data: rc = -?[1-9]'
check "set: returns stat with version 1" "$W/set1.out" '^	version=1	aversion=0$'
step get1 A "get /cc/data" '^	ephemeralOwner = |^/cc/data: rc = -?[1-9]'
check "get after set: new value" "$W/get1.out" '^hello$'
check "get after set: version 1" "$W/get1.out" '^	version=1	aversion=0$'
step set_missing A "set /cc/nope x" '^/cc/nope: rc = '
check "set missing node: ZNONODE -101" "$W/set_missing.out" '^/cc/nope: rc = -101 Stat:$'
step ex_missing A "exists /cc/nope" '^Error -101 for /cc/nope$' 5
check "exists missing node: ZNONODE -101" "$W/ex_missing.out" '^Error -101 for /cc/nope$'
step ex_sync A $'exists /cc/data\nsync /cc' '^	name = /cc$|^\[/cc\]: rc = -?[1-9]'
check "sync" "$W/ex_sync.out" '^\[/cc\]: rc = 0$'
check "sync returns the path" "$W/ex_sync.out" '^	name = /cc$'
check_not "exists present node: no error" "$W/ex_sync.out" '^Error .* for /cc/data$'
# ls prints its children between two "time =" lines; a following sync's
# answer marks the end of them (completions run in order).
step ls A $'ls /cc\nsync /' '^	name = /$'
for kid in plain seq-0000000001 seq-0000000002 eph eseq-0000000004 box ttl tseq-0000000007 two data; do
  check "ls: lists $kid" "$W/ls.out" "^	$kid\$"
done
check_not "ls: reaped container is gone" "$W/ls.out" '^	box2$'
step ls2 A "ls2 /cc/data" '^	ephemeralOwner = |^/cc/data: rc = -?[1-9]'
check "ls2: rc 0 on a leaf" "$W/ls2.out" '^/cc/data: rc = 0$'
check "ls2: stat follows (version 1)" "$W/ls2.out" '^	version=1	aversion=0$'
step ls_missing A "ls /cc/nope" '^/cc/nope: rc = '
check "ls missing node: ZNONODE -101" "$W/ls_missing.out" '^/cc/nope: rc = -101$'
step del_full A "delete /cc" '^/cc: rc = '
check "delete non-empty: ZNOTEMPTY -111" "$W/del_full.out" '^/cc: rc = -111$'
step del_leaf A "delete /cc/plain" '^/cc/plain: rc = '
check "delete leaf" "$W/del_leaf.out" '^/cc/plain: rc = 0$'
step del_again A "delete /cc/plain" '^/cc/plain: rc = '
check "delete missing: ZNONODE -101" "$W/del_again.out" '^/cc/plain: rc = -101$'
step config A "config" '^	ephemeralOwner = |^/zookeeper/config: rc = -?[1-9]'
check "getConfig answers" "$W/config.out" '^/zookeeper/config: rc = 0$'

# --- versions, ACLs, auth, multi (ccprobe) -----------------------------------
other "create /acl"
probe versions <<'EOF'
connect HOST 10000
create /acl/v one p world:anyone:31
set /acl/v two 5
set /acl/v two 0
set /acl/v three -1
delete /acl/v 0
delete /acl/v 2
exists /acl/v
EOF
check "set with a wrong version: ZBADVERSION -103" "$W/versions.out" '^set /acl/v rc=-103 version=-1$'
check "set with the right version" "$W/versions.out" '^set /acl/v rc=0 version=1$'
check "set with version -1 (any)" "$W/versions.out" '^set /acl/v rc=0 version=2$'
check "delete with a wrong version: ZBADVERSION -103" "$W/versions.out" '^delete /acl/v rc=-103$'
check "delete with the right version" "$W/versions.out" '^delete /acl/v rc=0$'

probe acl <<'EOF'
connect HOST 10000
create /acl/secret classified p digest:ALICE:31
create /acl/pub open p world:anyone:31
getacl /acl/pub
getacl /acl/secret
get /acl/secret
set /acl/secret x -1
setacl /acl/pub 3 world:anyone:1
setacl /acl/pub 0 world:anyone:1,digest:ALICE:31
getacl /acl/pub
set /acl/pub x -1
get /acl/pub
create /acl/none x p digest:bobnohash:31
create /acl/su x p super:x:31
create /acl/ip here p ip:127.0.0.1:31
create /acl/ip2 there p ip:10.9.9.9:31
get /acl/ip
get /acl/ip2
auth digest alice:secret
get /acl/secret
getacl /acl/secret
set /acl/pub by-alice -1
create /acl/mine x p auth::31
getacl /acl/mine
EOF
check "acl: default open ACL reads back as world:anyone perms 31" "$W/acl.out" '^  acl 31 world:anyone$'
check "auth: unauthenticated getAcl on a digest-only node: ZNOAUTH -102" "$W/acl.out" '^getacl /acl/secret rc=-102 '
check "auth: unauthenticated get: ZNOAUTH -102" "$W/acl.out" '^get /acl/secret rc=-102 '
check "auth: unauthenticated set: ZNOAUTH -102" "$W/acl.out" '^set /acl/secret rc=-102 '
check "acl: setAcl with a wrong aversion: ZBADVERSION -103" "$W/acl.out" '^setacl /acl/pub rc=-103$'
check "acl: setAcl with the right aversion" "$W/acl.out" '^setacl /acl/pub rc=0$'
check "acl: getAcl after setAcl has aversion 1 and two entries" "$W/acl.out" '^getacl /acl/pub rc=0 aversion=1 count=2$'
check "acl: getAcl without ADMIN redacts the digest" "$W/acl.out" '^  acl 31 digest:alice:x$'
check "acl: read-only world ACL refuses set: ZNOAUTH -102" "$W/acl.out" '^set /acl/pub rc=-102 '
check "acl: read-only world ACL allows get" "$W/acl.out" '^get /acl/pub rc=0 data=open '
check "acl: malformed digest id: ZINVALIDACL -114" "$W/acl.out" '^create /acl/none rc=-114 '
check "acl: 'super' is no ACL scheme: ZINVALIDACL -114" "$W/acl.out" '^create /acl/su rc=-114 '
check "acl: ip scheme grants the client's address" "$W/acl.out" '^get /acl/ip rc=0 data=here '
check "acl: ip scheme denies other addresses: ZNOAUTH -102" "$W/acl.out" '^get /acl/ip2 rc=-102 '
check "auth: addauth digest succeeds" "$W/acl.out" '^auth rc=0$'
check "auth: authenticated get reads the node" "$W/acl.out" '^get /acl/secret rc=0 data=classified version=0$'
check "auth: authenticated getAcl shows the full digest" "$W/acl.out" '^  acl 31 digest:alice:aYXlLOpEooaV1cRAvUL1fp9Qt7E=$'
check "auth: digest ACL grants write" "$W/acl.out" '^set /acl/pub rc=0 version=1$'
grep -A1 '^getacl /acl/mine ' "$W/acl.out" >"$W/acl_mine.out"
check "acl: auth scheme expands to the session's digest identity" "$W/acl_mine.out" '^  acl 31 digest:alice:aYXlLOpEooaV1cRAvUL1fp9Qt7E=$'

probe badauth <<'EOF'
connect HOST 10000
auth nosuchscheme whatever
EOF
check "auth: unknown scheme fails with ZAUTHFAILED -115" "$W/badauth.out" '^auth rc=-115$'

probe ipauth <<'EOF'
connect HOST 10000
auth ip 127.0.0.1
exists /acl
EOF
check "auth: addauth ip is accepted (the connection's address is the id)" "$W/ipauth.out" '^auth rc=0$'
check "auth: session still usable after addauth ip" "$W/ipauth.out" '^exists /acl rc=0$'

probe super <<'EOF'
connect HOST 10000
auth digest super:pw
get /acl/secret
set /acl/ip2 by-super -1
create /acl/bysuper x p auth::31
getacl /acl/bysuper
EOF
check "auth: super digest reads a node it has no ACL entry for" "$W/super.out" '^get /acl/secret rc=0 data=classified '
check "auth: super digest writes a node it has no ACL entry for" "$W/super.out" '^set /acl/ip2 rc=0 version=1$'
check "acl: auth scheme for the super session is its digest id only" "$W/super.out" '^getacl /acl/bysuper rc=0 aversion=0 count=1$'

# The same through cli_mt's own addauth.
cli_open U
wait_log "$W/U.log" 0 '^Got a new session id: ' 15
step u_noauth U "get /acl/secret" '^/acl/secret: rc = '
check "cli_mt: get without auth: ZNOAUTH -102" "$W/u_noauth.out" '^/acl/secret: rc = -102$'
printf 'addauth digest alice:secret\n' >&"${FD[U]}"
step u_auth U "get /acl/secret" '^	ephemeralOwner = |^/acl/secret: rc = -?[1-9]'
check "cli_mt: get after addauth digest" "$W/u_auth.out" '^classified$'

probe multi <<'EOF'
connect HOST 10000
multi c:/acl/m1 s:/acl/m1:0 k:/acl/m1:1
multi c:/acl/m2 s:/acl/m2:0 k:/acl/m2:0 d:/acl/m1:-1
exists /acl/m2
exists /acl/m1
EOF
check "multi: create + set + check commit" "$W/multi.out" '^multi rc=0$'
check "multi: create result names the node" "$W/multi.out" '^  op 0 rc=0 name=/acl/m1$'
check "multi: set result carries the new version" "$W/multi.out" '^  op 1 rc=0 version=1$'
check "multi: failing check aborts with ZBADVERSION -103" "$W/multi.out" '^multi rc=-103$'
check "multi: the failing op reports -103" "$W/multi.out" '^  op 2 rc=-103$'
check "multi: ops after the failure report ZRUNTIMEINCONSISTENCY -2" "$W/multi.out" '^  op 3 rc=-2$'
check "multi: aborted multi left nothing behind" "$W/multi.out" '^exists /acl/m2 rc=-101$'
check "multi: aborted multi deleted nothing" "$W/multi.out" '^exists /acl/m1 rc=0$'

# --- watches -----------------------------------------------------------------
other "create /cc/wd"
other "create /cc/wc"
other "create /cc/wx"
step w_get A "get /cc/wd" '^	ephemeralOwner = |^/cc/wd: rc = -?[1-9]'
watch_step w_changed A "set /cc/wd v2" '^Watcher CHANGED_EVENT state = CONNECTED_STATE for path /cc/wd$'
check "watch: data watch fires CHANGED_EVENT" "$W/w_changed.out" '^Watcher CHANGED_EVENT state = CONNECTED_STATE for path /cc/wd$'
other "set /cc/wd v3"
step w_after A "sync /cc/wd" '^	name = /cc/wd$|^\[/cc/wd\]: rc = -?[1-9]'
n=$(grep -c '^Watcher CHANGED_EVENT state = CONNECTED_STATE for path /cc/wd$' "$W/A.log")
if [ "$n" = 1 ]; then echo "PASS watch: one-shot (one event for two sets)"; else echo "FAIL watch: one-shot (one event for two sets) ($n events)"; fi
step w_ls A "ls /cc/wc" '^/cc/wc: rc = '
watch_step w_child A "create /cc/wc/kid" '^Watcher CHILD_EVENT state = CONNECTED_STATE for path /cc/wc$'
check "watch: child watch fires CHILD_EVENT" "$W/w_child.out" '^Watcher CHILD_EVENT state = CONNECTED_STATE for path /cc/wc$'
check_not "watch: child watch does not fire as CHANGED_EVENT" "$W/w_child.out" 'CHANGED_EVENT .* /cc/wc$'
step w_ls2 A "ls /cc/wc" '^/cc/wc: rc = '
watch_step w_child2 A "delete /cc/wc/kid" '^Watcher CHILD_EVENT state = CONNECTED_STATE for path /cc/wc$'
step w_ls3 A "ls /cc/wc" '^/cc/wc: rc = '
watch_step w_child3 A "delete /cc/wc" '^Watcher DELETED_EVENT state = CONNECTED_STATE for path /cc/wc$'
check "watch: child watch fires CHILD_EVENT on a child's delete" "$W/w_child2.out" '^Watcher CHILD_EVENT state = CONNECTED_STATE for path /cc/wc$'
check "watch: child watch fires DELETED_EVENT when its node goes" "$W/w_child3.out" '^Watcher DELETED_EVENT state = CONNECTED_STATE for path /cc/wc$'
# A data watch ignores child changes: no event for /cc/wd before the answer
# to a later request of the same session (events come before later replies).
step w_get2 A "get /cc/wd" '^	ephemeralOwner = |^/cc/wd: rc = -?[1-9]'
other "create /cc/wd/kid"
step w_nochild A "sync /cc/wd" '^	name = /cc/wd$|^\[/cc/wd\]: rc = -?[1-9]'
check "watch: (barrier) sync answered" "$W/w_nochild.out" '^	name = /cc/wd$'
check_not "watch: data watch does not fire on a child create" "$W/w_nochild.out" '^Watcher .* for path /cc/wd$'
step w_exists A "exists /cc/wn" '^Error -101 for /cc/wn$'
watch_step w_created A "create /cc/wn" '^Watcher CREATED_EVENT state = CONNECTED_STATE for path /cc/wn$'
check "watch: exists watch fires CREATED_EVENT" "$W/w_created.out" '^Watcher CREATED_EVENT state = CONNECTED_STATE for path /cc/wn$'
step w_getx A "get /cc/wx" '^	ephemeralOwner = |^/cc/wx: rc = -?[1-9]'
watch_step w_deleted A "delete /cc/wx" '^Watcher DELETED_EVENT state = CONNECTED_STATE for path /cc/wx$'
check "watch: data watch fires DELETED_EVENT" "$W/w_deleted.out" '^Watcher DELETED_EVENT state = CONNECTED_STATE for path /cc/wx$'

probe pwatch <<'EOF'
connect HOST 10000
create /acl/w x p world:anyone:31
get /acl/w w
set /acl/w y -1
sleep 300
get /acl/w w
rmwatch /acl/w data
set /acl/w z -1
sleep 300
rmwatch /acl/w data
EOF
check "watch: probe data watch fires CHANGED" "$W/pwatch.out" '^event type=CHANGED state=CONNECTED path=/acl/w$'
check "watch: removeWatches succeeds" "$W/pwatch.out" '^rmwatch /acl/w rc=0$'
n=$(grep -c '^event type=CHANGED' "$W/pwatch.out")
if [ "$n" -le 1 ] && grep -q '^set /acl/w rc=0 version=2$' "$W/pwatch.out"; then
  echo "PASS watch: removed watch does not fire"
else
  echo "FAIL watch: removed watch does not fire ($n CHANGED events, or the set after the removal failed)"
fi
check "watch: removing an absent watch: ZNOWATCHER -121" "$W/pwatch.out" '^rmwatch /acl/w rc=-121$'

# --- reconnect after a server kill + restart ---------------------------------
other "create /cc/rw"
step r_get A "get /cc/rw" '^	ephemeralOwner = |^/cc/rw: rc = -?[1-9]'
from=$(wc -l <"$W/A.log")
kill_server
wait_log "$W/A.log" "$from" '^Watcher SESSION_EVENT state = CONNECTING_STATE' 10
restart_server || echo "note: server restart failed" >&2
wait_log "$W/A.log" "$from" '^Watcher SESSION_EVENT state = CONNECTED_STATE' 30
tail -n "+$((from + 1))" "$W/A.log" >"$W/reconnect.out"
check "reconnect: client sees the disconnect (CONNECTING_STATE)" "$W/reconnect.out" '^Watcher SESSION_EVENT state = CONNECTING_STATE'
check "reconnect: client reconnects (CONNECTED_STATE)" "$W/reconnect.out" '^Watcher SESSION_EVENT state = CONNECTED_STATE'
check_not "reconnect: same session, not a new one" "$W/reconnect.out" '^Got a new session id|^Session expired'
step r_eph A "get /cc/eph" '^	ephemeralOwner = |^/cc/eph: rc = -?[1-9]'
check "reconnect: the session's ephemeral survived" "$W/r_eph.out" "^	ephemeralOwner = ${sid:-none}\$"
step r_data A "get /cc/data" '^	ephemeralOwner = |^/cc/data: rc = -?[1-9]'
check "reconnect: data survived the restart" "$W/r_data.out" '^hello$'
watch_step r_watch A "set /cc/rw after" '^Watcher CHANGED_EVENT state = CONNECTED_STATE for path /cc/rw$'
check "reconnect: watch set before the restart fires after it" "$W/r_watch.out" '^Watcher CHANGED_EVENT state = CONNECTED_STATE for path /cc/rw$'

# --- session expiry ------------------------------------------------------------
# A C client with a 4 s session is frozen (SIGSTOP): the server expires the
# session, deletes its ephemeral (U's exists watch sees it), and the thawed
# client learns its session expired.
mkfifo "$W/x.in"
"$PROBE" <"$W/x.in" >"$W/expiry.out" 2>"$W/expiry.err" &
xpid=$!
exec {xfd}>"$W/x.in"
printf 'connect %s 4000\ncreate /cc/expiring x e world:anyone:31\n' "$CORRAL_CONNECT" >&"$xfd"
wait_log "$W/expiry.out" 0 '^create /cc/expiring ' 15
# exists sets U's watch; the sync's answer shows it is in place.
step x_armed U $'exists /cc/expiring\nsync /cc' '^	name = /cc$'
kill -STOP "$xpid"
poll_gone x_gone U /cc/expiring 15
kill -CONT "$xpid"
wait_log "$W/expiry.out" 0 '^session state=EXPIRED_SESSION$' 15
exec {xfd}>&-
wait "$xpid" 2>/dev/null
check "expiry: ephemeral created by the 4 s session" "$W/expiry.out" '^create /cc/expiring rc=0 name=/cc/expiring$'
check "expiry: server deletes the ephemeral of an expired session" "$W/x_gone.out" '^Error -101 for /cc/expiring$'
check "expiry: exists watch fires DELETED_EVENT on expiry" "$W/x_gone.out" '^Watcher DELETED_EVENT state = CONNECTED_STATE for path /cc/expiring$'
check "expiry: the thawed client gets EXPIRED_SESSION" "$W/expiry.out" '^session state=EXPIRED_SESSION$'

# --- session close -----------------------------------------------------------
step quit A "quit" '^Quitting'
wait "${PID[A]}" 2>/dev/null
unset 'PID[A]'
poll_gone gone U /cc/eph 5
check "close: ephemeral removed when its session closes" "$W/gone.out" '^Error -101 for /cc/eph$'
step u_quit U "quit" '^Quitting'
cat "$W"/*.log "$W"/*.out >"$W/all.txt"
check_not "no ZMARSHALLINGERROR/ZUNIMPLEMENTED/ZCONNECTIONLOSS in any answer" "$W/all.txt" 'rc ?= ?-(4|5|6)( |$)'
