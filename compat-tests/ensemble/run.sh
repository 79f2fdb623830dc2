#!/usr/bin/env bash
# A 3-server ensemble on loopback (helpers in ensemble/lib.sh) with real
# clients against it:
#   - the members elect one leader and two followers (srvr `Mode:` lines);
#   - zkCli.sh writes through server 1, reads back through servers 2 and 3
#     after `sync`;
#   - an ephemeral node created through server 1 is seen through server 2
#     (owned by the writer's session), and goes, firing the data watch set
#     through server 2, when the writer's session closes;
#   - 3 JVMs run Curator's InterProcessMutex on /compat/mutex, 40 critical
#     sections each, every JVM starting on a different server (hosts tried
#     in order, not shuffled). Inside: create a local file exclusively and
#     the ephemeral /compat/holder (either already there = two holders at
#     once), read /compat/counter, write value+1 with the version read
#     (BadVersion = somebody wrote under our lock), delete both holders.
#     After 20 critical sections the leader is killed with SIGKILL.
#     Writes that fail with ConnectionLoss are settled by reading the
#     counter back: its data is "<value> <token of the last writer>", so a
#     write that landed is counted once and one that did not is redone.
#     Checks: a new leader among the survivors, every JVM completes, no
#     violation, and the counter equals the increments the JVMs counted;
#   - the survivors return the same counter (after sync) and report the
#     same zk_znode_count;
#   - the killed server restarts, rejoins as a follower and agrees too.
# Sources: src/ensemble/Client.java. Client and server logs of the last run
# are copied to ~/.cache/corral-compat/ensemble-last/.
#
# corral is started as `$CORRAL_BIN serve --config s<i>/zoo.cfg` (myid in
# the data dir, server.N lines with ";127.0.0.1:clientPort"); with
# COMPAT_TARGET=zookeeper the same zoo.cfg feeds ZooKeeper's QuorumPeerMain.
# COMPAT_FAULT is not applied here (no proxy in front of these members).
# This suite starts its own ensemble, so compat-tests/run runs it once, not
# once per COMPAT_TOPOLOGY:
# compat-topology: own
# Knobs: COMPAT_CACHE, ENSEMBLE_KEEP=1 (keep the scratch dir),
# ENSEMBLE_ITERATIONS (40), ENSEMBLE_KILL_AFTER (20), ENSEMBLE_FORM_TIMEOUT (30 s
# for the first election).
set -uo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
. "$here/../lib.sh"
. "$here/lib.sh"
ZKCLI="${ZKCLI:-/usr/share/zookeeper/bin/zkCli.sh}"
ITER="${ENSEMBLE_ITERATIONS:-40}"
KILL_AFTER="${ENSEMBLE_KILL_AFTER:-20}"
WORKERS=3
MUTEX_LIMIT=120 # seconds for all critical sections, from the go signal
STALL_LIMIT=40  # ... but give up when none completes for this long

cache="${COMPAT_CACHE:-$HOME/.cache/corral-compat}"
classes="$cache/ensemble-classes"
jars=(curator-recipes curator-framework curator-client zookeeper zookeeper-jute guava slf4j-api slf4j-simple)

# Check names, in order (all are printed, as FAIL when a step before them
# made them impossible).
C_FORM="ensemble: 3 servers elect one leader and two followers"
C_ZK2="zkCli: write via server 1 reads back via server 2 after sync"
C_ZK3="zkCli: write via server 1 reads back via server 3 after sync"
C_EPH_SEEN="ephemeral created via server 1 is seen via server 2, owned by the writer's session"
C_EPH_GONE="ephemeral is gone for a server-2 reader after the writer's session closes"
C_EPH_WATCH="data watch set via server 2 fires NodeDeleted for that ephemeral"
C_KILL="mutex: leader killed with SIGKILL mid-run, the 2 survivors elect a new leader"
C_DONE="mutex: $WORKERS JVMs complete $ITER critical sections each within ${MUTEX_LIMIT}s"
C_EXCL="mutex: never two holders at once (local file, holder znode, versioned counter writes)"
C_COUNT="mutex: counter equals the increments the JVMs counted ($((WORKERS * ITER)))"
C_AGREE="survivors return the same counter after sync"
C_ZNODES="survivors report the same zk_znode_count"
C_REJOIN="killed server restarts and rejoins as a follower"
C_REJOIN_AGREE="rejoined server returns the same counter and zk_znode_count"

verdict() { # NAME OK(0/1) DETAIL
  if [ "$2" -eq 0 ]; then echo "PASS $1"; else echo "FAIL $1 ($3)"; fi
}
fail_rest() { # REASON NAME...
  local why="$1"
  shift
  for n in "$@"; do echo "FAIL $n ($why)"; done
}

# Debian packages (installed only when missing), the classpath, and the
# classes, compiled when a source is newer than the last build.
java_pkgs=(libcurator-framework-java libcurator-recipes-java zookeeper)
java_build ensemble "$classes" "$here/src/ensemble" "$here/src"
client=(java -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Xshare:auto -Xmx96m
        -Dorg.slf4j.simpleLogger.defaultLogLevel=warn -cp "$classes:$cp" ensemble.Client)

worker_pids=()
cleanup() {
  local p
  for p in "${worker_pids[@]}"; do
    [ -n "$p" ] && kill -KILL "$p" 2>/dev/null && wait "$p" 2>/dev/null
  done
  if [ -n "$ENSEMBLE_DIR" ] && [ -d "$ENSEMBLE_DIR" ]; then
    rm -rf "$cache/ensemble-last"
    mkdir -p "$cache/ensemble-last"
    (cd "$ENSEMBLE_DIR" && find . -path '*/data' -prune -o -type f -print |
      while read -r f; do mkdir -p "$cache/ensemble-last/$(dirname "$f")" && cp "$f" "$cache/ensemble-last/$f"; done)
  fi
  stop_ensemble
}
trap cleanup EXIT

started=$SECONDS
if start_ensemble 3 "${ENSEMBLE_FORM_TIMEOUT:-30}"; then
  verdict "$C_FORM" 0 ""
  echo "note: $(ensemble_modes) after $((SECONDS - started))s" >&2
else
  verdict "$C_FORM" 1 "$ENSEMBLE_ERROR"
fi
if [ -z "$ENSEMBLE_DIR" ] || [ ! -d "$ENSEMBLE_DIR" ]; then
  fail_rest "no ensemble scratch dir" "$C_ZK2" "$C_ZK3" "$C_EPH_SEEN" "$C_EPH_GONE" "$C_EPH_WATCH" "$C_KILL" \
    "$C_DONE" "$C_EXCL" "$C_COUNT" "$C_AGREE" "$C_ZNODES" "$C_REJOIN" "$C_REJOIN_AGREE"
  exit 0
fi
out="$ENSEMBLE_DIR/client"
mkdir -p "$out"

down=""
for i in 1 2 3; do
  [ "$(member_mode "$i")" = down ] && down="$down server $i: $(member_log_tail "$i");"
done
if [ -n "$down" ]; then
  fail_rest "not every server answers srvr: $(ensemble_modes);$down" "$C_ZK2" "$C_ZK3" "$C_EPH_SEEN" "$C_EPH_GONE" \
    "$C_EPH_WATCH" "$C_KILL" "$C_DONE" "$C_EXCL" "$C_COUNT" "$C_AGREE" "$C_ZNODES" "$C_REJOIN" "$C_REJOIN_AGREE"
  exit 0
fi
hp() { echo "127.0.0.1:${ENSEMBLE_CPORT[$1]}"; }

# --- zkCli: write through server 1, read through 2 and 3 --------------------
value="replicated-$$-$RANDOM"
zkcli() { # SERVER OUTFILE  (commands on stdin)
  timeout 30 "$ZKCLI" -server "$(hp "$1")" >"$2" 2>&1
}
zkcli 1 "$out/zkcli-write.out" <<CMDS
create /compat
create /compat/replicated $value
quit
CMDS
readers=()
for i in 2 3; do
  zkcli "$i" "$out/zkcli-read$i.out" <<CMDS &
sync /compat/replicated
get /compat/replicated
quit
CMDS
  readers+=($!)
done
wait "${readers[@]}"
for i in 2 3; do
  name="$C_ZK2"
  [ "$i" -eq 3 ] && name="$C_ZK3"
  if grep -qx -- "$value" "$out/zkcli-read$i.out"; then
    verdict "$name" 0 ""
  else
    verdict "$name" 1 "server $i: $(grep -E 'Exception|Node does not exist|rror' "$out/zkcli-read$i.out" | head -n 2 | tr '\n' ' ' | head -c 200)"
  fi
done

# --- ephemeral: created via 1, read and watched via 2 -----------------------
timeout 60 "${client[@]}" ephemeral "$(hp 1)" "$(hp 2)" >"$out/ephemeral.out" 2>"$out/ephemeral.err"
eph_detail="$(grep -E '^EPH-(NOT|STILL|NO)' "$out/ephemeral.out" | head -n 1)"
[ -n "$eph_detail" ] || eph_detail="$(tail -n 3 "$out/ephemeral.out" "$out/ephemeral.err" | tr '\n' ' ' | head -c 300)"
check_ok() { grep -Eq -- "$1" "$out/ephemeral.out"; echo $?; }
verdict "$C_EPH_SEEN" "$(check_ok '^EPH-VISIBLE .* owner-matches$')" "$eph_detail"
verdict "$C_EPH_GONE" "$(check_ok '^EPH-GONE ')" "$eph_detail"
verdict "$C_EPH_WATCH" "$(check_ok '^EPH-WATCH NodeDeleted /compat/eph-')" "$eph_detail"

# --- mutex under a leader kill ----------------------------------------------
# (Run even when no leader was seen: the data checks still tell whether the
# servers share one lock and one counter.)
ctl="$out/mutex"
mkdir -p "$ctl"
for w in 1 2 3; do
  # Worker w tries the servers starting with server w.
  order=""
  for k in 0 1 2; do order="${order:+$order,}$(hp $(((w - 1 + k) % 3 + 1)))"; done
  "${client[@]}" worker "w$w" "$order" "$ITER" "$ctl" $((MUTEX_LIMIT - 5)) \
    >"$ctl/w$w.out" 2>"$ctl/w$w.err" &
  worker_pids+=($!)
done
ready_limit=$((SECONDS + 40))
while [ "$(cat "$ctl"/w*.out 2>/dev/null | grep -c '^READY ')" -lt "$WORKERS" ] && [ "$SECONDS" -lt "$ready_limit" ]; do
  sleep 0.1
done
touch "$ctl/go"
go_at=$SECONDS
killed=""
kill_note="the run ended before $KILL_AFTER critical sections"
new_leader=""
alive() {
  local p
  for p in "${worker_pids[@]}"; do kill -0 "$p" 2>/dev/null && return 0; done
  return 1
}
stalled=""
last_cs=0
last_progress=$SECONDS
while alive && [ "$SECONDS" -lt $((go_at + MUTEX_LIMIT + 5)) ]; do
  cs="$(cat "$ctl"/w*.out | grep -c '^CS ')"
  if [ "$cs" -ne "$last_cs" ]; then
    last_cs=$cs
    last_progress=$SECONDS
  elif [ "$SECONDS" -ge $((last_progress + STALL_LIMIT)) ]; then
    stalled="no critical section completed for ${STALL_LIMIT}s (after $cs), JVMs stopped"
    echo "note: $stalled" >&2
    break
  fi
  if [ -z "$killed" ] && [ "$cs" -ge "$KILL_AFTER" ]; then
    killed="$(ensemble_leader)" || killed=""
    if [ -z "$killed" ]; then
      killed=none
      kill_note="no single leader to kill: $(ensemble_modes)"
    else
      at="$cs"
      kill_member "$killed" KILL
      survivors="$(ensemble_live)"
      t=$SECONDS
      if ensemble_wait_roles 30 $survivors 2>/dev/null; then
        new_leader="$(ensemble_leader)"
        kill_note=""
        echo "note: killed leader $killed after $at critical sections; server $new_leader leads after $((SECONDS - t))s" >&2
      else
        kill_note="killed leader $killed; no new leader among $survivors within 30s (${ENSEMBLE_LAST_MODES:-?})"
      fi
    fi
  fi
  sleep 0.1
done
for p in "${worker_pids[@]}"; do
  kill -KILL "$p" 2>/dev/null
  wait "$p" 2>/dev/null
done
worker_pids=()
echo "note: critical sections took $((SECONDS - go_at))s" >&2

verdict "$C_KILL" "$([ -z "$kill_note" ]; echo $?)" "$kill_note"

dones="$(cat "$ctl"/w*.out | grep '^DONE ')"
field() { # NAME: the values of NAME= in the DONE lines, one per line
  printf '%s\n' "$dones" | grep -o " $1=[0-9]*" | cut -d= -f2
}
sum() { local s=0 v; while read -r v; do [ -n "$v" ] && s=$((s + v)); done; echo "$s"; }
ndone=$(printf '%s\n' "$dones" | grep -c '^DONE ')
completed="$(field completed | tr '\n' ' ')"
increments=$(field increments | sum)
violations=$(cat "$ctl"/w*.out | grep -c '^VIOLATION ')
problems="$(cat "$ctl"/w*.out | grep -E '^(GAVE-UP|ERROR) ' | head -n 2 | tr '\n' ' ' | head -c 300)"
[ -n "$problems" ] || problems="$(tail -q -n 2 "$ctl"/w*.err 2>/dev/null | tr '\n' ' ' | head -c 300)"
all_done=1
[ "$ndone" -eq "$WORKERS" ] && [ "$(field completed | grep -cx "$ITER")" -eq "$WORKERS" ] && all_done=0
verdict "$C_DONE" "$all_done" "${stalled:+$stalled; }$ndone DONE lines, completed: ${completed:-none}; $problems"
if [ "$ndone" -eq "$WORKERS" ] && [ "$(field completed | sum)" -gt 0 ]; then
  verdict "$C_EXCL" "$([ "$violations" -eq 0 ]; echo $?)" \
    "$violations violations: $(cat "$ctl"/w*.out | grep -m 2 '^VIOLATION ' | tr '\n' ' ' | head -c 300)"
else
  verdict "$C_EXCL" 1 "the JVMs did not all run to the end ($ndone DONE lines)"
fi
[ -n "$dones" ] && echo "note: $(printf '%s\n' "$dones" | sed 's/^DONE //' | tr '\n' ';')" >&2

# Counter through every running server (each session syncs first).
survivors="$(ensemble_live)"
hosts=()
for i in $survivors; do hosts+=("$(hp "$i")"); done
timeout 90 "${client[@]}" read /compat/counter "${hosts[@]}" >"$out/read-survivors.out" 2>"$out/read-survivors.err"
datas="$(sed -n 's/^READ [^ ]* data=//p' "$out/read-survivors.out" | sort -u)"
nread=$(grep -c '^READ [^ ]* data=' "$out/read-survivors.out")
value_read="$(printf '%s\n' "$datas" | head -n 1 | cut -d' ' -f1)"
count_ok=1
[ "$ndone" -eq "$WORKERS" ] && [ -n "$value_read" ] && [ "$value_read" = "$increments" ] &&
  [ "$increments" -eq $((WORKERS * ITER)) ] && count_ok=0
verdict "$C_COUNT" "$count_ok" "counter read: ${value_read:-none}, increments counted by the JVMs: $increments over $ndone DONE lines"
agree=1
[ "$nread" -eq "${#hosts[@]}" ] && [ "$nread" -ge 2 ] && [ "$(printf '%s\n' "$datas" | wc -l)" -eq 1 ] && agree=0
verdict "$C_AGREE" "$agree" "$(tr '\n' ' ' <"$out/read-survivors.out" | head -c 300)"

# znode_counts I...: "count count ..." from mntr; equal_counts waits up to
# 10 s for them to be equal (followers apply commits a little later).
znode_counts() {
  local i c out=""
  for i in "$@"; do
    c="$(CORRAL_PORT="${ENSEMBLE_CPORT[i]}" four_letter_word mntr | awk '$1 == "zk_znode_count" {print $2}')"
    out="$out ${c:-none}"
  done
  echo "${out# }"
}
equal_counts() {
  local limit=$((SECONDS + 10))
  while :; do
    counts="$(znode_counts "$@")"
    if ! printf '%s\n' $counts | grep -qx none && [ "$(printf '%s\n' $counts | sort -u | wc -l)" -eq 1 ]; then
      return 0
    fi
    [ "$SECONDS" -ge "$limit" ] && return 1
    sleep 0.2
  done
}
equal_counts $survivors
verdict "$C_ZNODES" $? "servers $survivors: zk_znode_count $counts"

# --- the killed leader comes back --------------------------------------------
if [ -z "$killed" ] || [ "$killed" = none ]; then
  fail_rest "no server was killed" "$C_REJOIN" "$C_REJOIN_AGREE"
  exit 0
fi
t=$SECONDS
if restart_member "$killed" 30 2>/dev/null && ensemble_wait_roles 30 1 2 3 2>/dev/null &&
   [ "$(member_mode "$killed")" = follower ]; then
  verdict "$C_REJOIN" 0 ""
  echo "note: server $killed rejoined as a follower after $((SECONDS - t))s" >&2
  timeout 90 "${client[@]}" read /compat/counter "$(hp 1)" "$(hp 2)" "$(hp 3)" >"$out/read-all.out" 2>"$out/read-all.err"
  d_all="$(sed -n 's/^READ [^ ]* data=//p' "$out/read-all.out" | sort -u)"
  ok=1
  reason="$(tr '\n' ' ' <"$out/read-all.out" | head -c 300)"
  if [ "$(grep -c '^READ [^ ]* data=' "$out/read-all.out")" -eq 3 ] && [ "$(printf '%s\n' "$d_all" | wc -l)" -eq 1 ] &&
     [ "$d_all" = "$(printf '%s\n' "$datas" | head -n 1)" ]; then
    if equal_counts 1 2 3; then ok=0; else reason="zk_znode_count $counts"; fi
  fi
  verdict "$C_REJOIN_AGREE" "$ok" "$reason"
else
  verdict "$C_REJOIN" 1 "server $killed after restart: $(ensemble_modes) (${ENSEMBLE_LAST_MODES:-})"
  fail_rest "the killed server did not rejoin" "$C_REJOIN_AGREE"
fi
echo "note: ensemble suite took $((SECONDS - started))s" >&2
exit 0
