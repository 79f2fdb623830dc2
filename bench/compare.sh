#!/usr/bin/env bash
# corral vs Apache ZooKeeper 3.8 on this machine, side by side.
#
# Both servers run standalone with fsync on (ZooKeeper's forceSync=yes
# default, corral's default) and their data dirs on the same filesystem.
# Every load runs on both, alternating which goes first (A B, then B A, ...),
# R times; the table shows medians and the median of the per-round ratios,
# so drift in a shared machine's load hits both sides alike.
#
# Sections (SECTIONS, comma list; default all):
#   floors      the disk's fsync rate and a bare loopback round trip
#   throughput  create, set, get, mix 90/10 pipelined; set/get/exists in
#               sync mode (1 session, 1 outstanding); server CPU µs per op
#   restart     populate BENCH_ZNODES znodes of 100 B, RSS and data dir size,
#               then SIGTERM and time from process start to serving
#   ensemble    3-node corral next to 3-node ZooKeeper (pipelined loads)
#
# Settings (environment):
#   R=3                 rounds of each load
#   BENCH_SECS=10       seconds per timed run
#   BENCH_ZNODES=1000000 znodes for the restart section
#   BENCH_RESTARTS=3    restarts measured per server
#   BENCH_SESSIONS=16 BENCH_OUTSTANDING=32   pipelined load shape
#   BENCH_WORK=target/bench-work   data dirs (wiped at start)
#   BENCH_RESULTS=bench/results/<UTC time>   raw JSON lines + table.md
#   CORRAL=target/release/corral   JAVA=java   ZK_HEAP=2g
#   ZOOKEEPER_CLASSPATH=/usr/share/java/zookeeper.jar:/usr/share/java/slf4j-simple.jar
#
# Output: a markdown table on stdout (also RESULTS/table.md); every
# measurement as one JSON line in RESULTS/raw.jsonl.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
CORRAL=${CORRAL:-$ROOT/target/release/corral}
R=${R:-3}
SECS=${BENCH_SECS:-10}
ZNODES=${BENCH_ZNODES:-1000000}
RESTARTS=${BENCH_RESTARTS:-3}
SESSIONS=${BENCH_SESSIONS:-16}
OUTSTANDING=${BENCH_OUTSTANDING:-32}
SECTIONS=${SECTIONS:-floors,throughput,restart,ensemble}
WORK=${BENCH_WORK:-$ROOT/target/bench-work}
RESULTS=${BENCH_RESULTS:-$ROOT/bench/results/$(date -u +%Y%m%dT%H%M%SZ)}
JAVA=${JAVA:-java}
ZK_HEAP=${ZK_HEAP:-2g}
ZK_CP=${ZOOKEEPER_CLASSPATH:-/usr/share/java/zookeeper.jar:/usr/share/java/slf4j-simple.jar}
KEYS=10000
RAW=$RESULTS/raw.jsonl

[ -x "$CORRAL" ] || { echo "compare.sh: no $CORRAL; run: cargo build --release" >&2; exit 1; }
command -v "$JAVA" >/dev/null || { echo "compare.sh: no java (apt-get install zookeeper)" >&2; exit 1; }
command -v python3 >/dev/null || { echo "compare.sh: python3 is needed for the table" >&2; exit 1; }
rm -rf "$WORK"
# Deleting the last run's gigabytes keeps the disk busy for a while; flush
# it before the first fsync floor is measured.
sync
sleep 2
mkdir -p "$WORK" "$RESULTS"
: >"$RAW"

log() { echo "compare: $*" >&2; }
has_section() { [[ ",$SECTIONS," == *",$1,"* ]]; }

# --- servers -----------------------------------------------------------------

PIDS=()
cleanup() {
    local p
    for p in "${PIDS[@]}"; do
        kill -TERM "$p" 2>/dev/null || true
    done
    for p in "${PIDS[@]}"; do
        wait "$p" 2>/dev/null || true
    done
}
trap cleanup EXIT

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# fourlw PORT WORD: the server's answer, empty if none within 0.5 s.
fourlw() {
    timeout 0.5 bash -c "exec 3<>/dev/tcp/127.0.0.1/$1 && printf %s $2 >&3 && cat <&3" 2>/dev/null || true
}

rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }
du_kb() { du -sk "$1" | cut -f1; }
# du_parts DIR: "name=KiB name=KiB" for each entry of DIR (where the bytes are).
du_parts() { du -sk "$1"/* 2>/dev/null | awk '{ n = $2; sub(".*/", "", n); printf "%s%s=%s", sep, n, $1; sep = " " }'; }
nodes() {
    local n
    n=$(fourlw "$1" srvr | sed -n 's/^Node count: //p')
    echo "${n:-null}"
}
elapsed_since() { awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.3f", b - a }'; }

# start_corral DIR LOG: sets SRV_PID, SRV_PORT, READY_SECS (process start
# to the "serving clients" line).
start_corral() {
    local dir=$1 log=$2 t0=$EPOCHREALTIME
    mkdir -p "$dir"
    RUST_LOG=warn "$CORRAL" serve --set clientPort=0 --set "dataDir=$dir" >"$log.out" 2>>"$log.err" &
    SRV_PID=$!
    PIDS+=("$SRV_PID")
    until grep -q "serving clients on" "$log.out" 2>/dev/null; do
        kill -0 "$SRV_PID" 2>/dev/null || { log "corral exited; see $log.err"; exit 1; }
        sleep 0.002
    done
    READY_SECS=$(elapsed_since "$t0")
    SRV_PORT=$(sed -n 's/.*serving clients on 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$log.out")
}

# zk_config DIR PORT [EXTRA]: a zoo.cfg as close to corral's defaults as
# ZooKeeper allows (fsync on, default snapCount and preallocation).
zk_config() {
    mkdir -p "$1/data"
    {
        echo "tickTime=2000"
        echo "dataDir=$1/data"
        echo "clientPort=$2"
        echo "clientPortAddress=127.0.0.1"
        echo "admin.enableServer=false"
        echo "4lw.commands.whitelist=*"
        echo "maxClientCnxns=0"
        echo "${3:-}"
    } >"$1/zoo.cfg"
}

# start_zk DIR PORT LOG: sets SRV_PID, READY_SECS (process start until
# `srvr` reports a version, which ZooKeeper does only once it serves).
start_zk() {
    local dir=$1 port=$2 log=$3 t0=$EPOCHREALTIME
    "$JAVA" "-Xmx$ZK_HEAP" -Dzookeeper.admin.enableServer=false -Dzookeeper.jmx.log4j.disable=true \
        -cp "$ZK_CP" org.apache.zookeeper.server.ZooKeeperServerMain "$dir/zoo.cfg" >>"$log" 2>&1 &
    SRV_PID=$!
    PIDS+=("$SRV_PID")
    until fourlw "$port" srvr | grep -q "^Zookeeper version"; do
        kill -0 "$SRV_PID" 2>/dev/null || { log "ZooKeeper exited; see $log"; exit 1; }
        sleep 0.01
    done
    READY_SECS=$(elapsed_since "$t0")
}

# stop PID: SIGTERM, then SIGKILL after 60 s.
stop() {
    local pid=$1 i
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < 600; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}

# --- measurements ------------------------------------------------------------

# record JSON-OBJECT: tags it with the current SERVER/TAG/RUN and appends it.
record() {
    local body=${1#\{}
    echo "{\"server\":\"$SERVER\",\"tag\":\"$TAG\",\"run\":$RUN,$body" >>"$RAW"
}

# field JSON KEY: one value of a flat JSON line.
field() { sed -n "s/.*\"$2\":\([^,}]*\).*/\1/p" <<<"$1"; }

# cpu_ticks PID: user + system clock ticks the process has used.
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat" 2>/dev/null || echo 0; }

# quiesce PID...: waits (at most 30 s) until none of the servers uses more
# than ~4 % of a core over half a second, so no run pays for the previous
# one's background work on the same two cores (ZooKeeper's snapshots and
# garbage collection after a million creates and deletes, corral's RocksDB
# compactions). Both sides get the same wait.
quiesce() {
    local deadline=$((SECONDS + 30)) busy p
    local -A before
    while ((SECONDS < deadline)); do
        for p in "$@"; do before[$p]=$(cpu_ticks "$p"); done
        sleep 0.5
        busy=0
        for p in "$@"; do
            if (($(cpu_ticks "$p") - before[$p] > 2)); then busy=1; fi
        done
        if ((busy == 0)); then return 0; fi
    done
    log "servers still busy after 30 s; measuring anyway"
}

# bench PORT PID ARGS...: one corral bench run; its JSON line is recorded.
bench() {
    local port=$1 pid=$2 line
    shift 2
    if line=$("$CORRAL" bench --server "127.0.0.1:$port" --server-pid "$pid" --json-only "$@" 2>>"$RESULTS/bench.err"); then
        record "$line"
        log "$SERVER $TAG run $RUN: $(field "$line" ops_per_sec) ops/s, p50 $(field "$line" p50_us) µs, p99 $(field "$line" p99_us) µs, errors $(field "$line" errors), CPU µs/op server $(field "$line" server_cpu_us_per_op) client $(field "$line" client_cpu_us_per_op)"
    else
        log "$SERVER $TAG run $RUN: bench failed (see $RESULTS/bench.err)"
        if [ -n "$line" ]; then record "$line"; fi
    fi
}

PIPE="--sessions $SESSIONS --outstanding $OUTSTANDING --value-size 100"
SYNC="--sessions 1 --outstanding 1 --value-size 100"
# tag|arguments
LOADS=(
    "create|--workload create $PIPE"
    "set|--workload set --keys $KEYS $PIPE"
    "get|--workload get --keys $KEYS $PIPE"
    "mix|--workload mix --read-ratio 0.9 --keys $KEYS $PIPE"
    "set-sync|--workload set --keys 1000 $SYNC"
    "get-sync|--workload get --keys 1000 $SYNC"
    "exists-sync|--workload exists --keys 1000 $SYNC"
)

machine_info() {
    SERVER=machine TAG=info RUN=0
    local cpu cores kernel
    cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)
    cores=$(nproc)
    kernel=$(uname -r)
    record "{\"cpu\":\"$cpu\",\"cores\":$cores,\"kernel\":\"$kernel\",\"os\":\"$(. /etc/os-release && echo "$PRETTY_NAME")\",\"loadavg\":\"$(cut -d' ' -f1-3 /proc/loadavg)\",\"secs\":$SECS,\"rounds\":$R,\"znodes\":$ZNODES}"
}

# floors RUN: measured at the start and at the end, since a shared
# machine's disk can change its mind in between.
floors() {
    SERVER=machine RUN=$1
    TAG=fsync-floor
    record "$("$CORRAL" bench --fsync-floor "$WORK" --duration 3)"
    TAG=rtt-floor
    record "$("$CORRAL" bench --rtt-floor --duration 3)"
    log "floors done"
}

throughput() {
    local zk_port c_port c_pid z_pid round entry order s
    zk_port=$(free_port)
    zk_config "$WORK/zk" "$zk_port"
    start_zk "$WORK/zk" "$zk_port" "$RESULTS/zk.log"
    z_pid=$SRV_PID
    start_corral "$WORK/corral" "$RESULTS/corral"
    c_pid=$SRV_PID c_port=$SRV_PORT
    log "throughput: corral pid $c_pid port $c_port, ZooKeeper pid $z_pid port $zk_port"

    # Warm-up (not in the table): ZooKeeper's JIT needs it; corral gets
    # the same for symmetry.
    RUN=0
    for entry in "create|--workload create $PIPE" "mix|--workload mix --keys $KEYS $PIPE"; do
        for s in corral zk; do
            SERVER=$s TAG="warmup-${entry%%|*}"
            # shellcheck disable=SC2086
            if [ $s = corral ]; then bench "$c_port" "$c_pid" ${entry#*|} --duration 5; else bench "$zk_port" "$z_pid" ${entry#*|} --duration 5; fi
        done
    done

    for ((round = 1; round <= R; round++)); do
        RUN=$round
        if ((round % 2)); then order="corral zk"; else order="zk corral"; fi
        for entry in "${LOADS[@]}"; do
            TAG=${entry%%|*}
            for s in $order; do
                SERVER=$s
                quiesce "$c_pid" "$z_pid"
                # shellcheck disable=SC2086
                if [ $s = corral ]; then
                    bench "$c_port" "$c_pid" ${entry#*|} --duration "$SECS"
                else
                    bench "$zk_port" "$z_pid" ${entry#*|} --duration "$SECS"
                fi
            done
        done
    done
    stop "$c_pid"
    stop "$z_pid"
}

# restart_one NAME: populate, measure, then RESTARTS × (SIGTERM, start).
restart_one() {
    local name=$1 dir=$WORK/restart-$1 port pid i
    SERVER=$name RUN=1
    if [ "$name" = corral ]; then
        start_corral "$dir" "$RESULTS/restart-corral"
        pid=$SRV_PID port=$SRV_PORT
    else
        port=$(free_port)
        zk_config "$dir" "$port"
        start_zk "$dir" "$port" "$RESULTS/restart-zk.log"
        pid=$SRV_PID
    fi
    TAG=populate
    bench "$port" "$pid" --populate "$ZNODES" --sessions 8 --outstanding 64 --value-size 100
    sleep 2
    TAG=loaded
    local parts=$dir
    [ "$name" = zk ] && parts=$dir/data/version-2
    record "{\"rss_kb\":$(rss_kb "$pid"),\"du_kb\":$(du_kb "$dir"),\"du_parts\":\"$(du_parts "$parts")\",\"nodes\":$(nodes "$port")}"
    for ((i = 1; i <= RESTARTS; i++)); do
        RUN=$i
        stop "$pid"
        if [ "$name" = corral ]; then
            start_corral "$dir" "$RESULTS/restart-corral"
            pid=$SRV_PID port=$SRV_PORT
        else
            start_zk "$dir" "$port" "$RESULTS/restart-zk.log"
            pid=$SRV_PID
        fi
        local ready=$READY_SECS
        sleep 1
        TAG=restart
        record "{\"ready_secs\":$ready,\"rss_kb\":$(rss_kb "$pid"),\"du_kb\":$(du_kb "$dir"),\"nodes\":$(nodes "$port")}"
        log "$name restart $i: serving after ${ready}s"
    done
    stop "$pid"
    TAG=stopped
    record "{\"du_kb\":$(du_kb "$dir")}"
}

# ensemble_config DIR CLIENT_PORT SERVER_LINES: a member's zoo.cfg + myid.
ensemble_member() {
    zk_config "$1" "$2" "initLimit=10
syncLimit=5
$3"
    echo "$4" >"$1/data/myid"
}

# Both as 3-node ensembles on loopback (running side by side, idle while
# the other is measured); the same pipelined loads with sessions spread
# over the three servers, rounds alternating which goes first.
ensemble() {
    local i s zk_ports=() c_ports=() zk_cfg="" c_cfg="" zk_servers="" c_servers="" pids=() entry round
    for i in 1 2 3; do zk_ports+=("$(free_port)") c_ports+=("$(free_port)"); done
    for i in 1 2 3; do
        zk_cfg+="server.$i=127.0.0.1:$(free_port):$(free_port)"$'\n'
        c_cfg+="server.$i=127.0.0.1:$(free_port):$(free_port);127.0.0.1:${c_ports[i - 1]}"$'\n'
    done
    for i in 1 2 3; do
        ensemble_member "$WORK/zk3-$i" "${zk_ports[i - 1]}" "$zk_cfg" "$i"
        ensemble_member "$WORK/corral3-$i" "${c_ports[i - 1]}" "$c_cfg" "$i"
        "$JAVA" "-Xmx$ZK_HEAP" -Dzookeeper.admin.enableServer=false -cp "$ZK_CP" \
            org.apache.zookeeper.server.quorum.QuorumPeerMain "$WORK/zk3-$i/zoo.cfg" >>"$RESULTS/zk3-$i.log" 2>&1 &
        pids+=("$!")
        PIDS+=("$!")
        RUST_LOG=warn "$CORRAL" serve --config "$WORK/corral3-$i/zoo.cfg" >>"$RESULTS/corral3-$i.log" 2>&1 &
        pids+=("$!")
        PIDS+=("$!")
        zk_servers+="${zk_servers:+,}127.0.0.1:${zk_ports[i - 1]}"
        c_servers+="${c_servers:+,}127.0.0.1:${c_ports[i - 1]}"
    done
    for i in 1 2 3; do
        until fourlw "${zk_ports[i - 1]}" srvr | grep -q "^Mode: \(leader\|follower\)"; do sleep 0.1; done
        until fourlw "${c_ports[i - 1]}" srvr | grep -q "^Mode: \(leader\|follower\)"; do sleep 0.1; done
    done
    log "ensembles up: ZooKeeper on $zk_servers, corral on $c_servers"
    for ((round = 0; round <= R; round++)); do
        RUN=$round
        if ((round % 2)); then order="corral3 zk3"; else order="zk3 corral3"; fi
        for entry in "create|--workload create $PIPE" "set|--workload set --keys $KEYS $PIPE" "get|--workload get --keys $KEYS $PIPE" "mix|--workload mix --keys $KEYS $PIPE"; do
            TAG=${entry%%|*}
            if ((round == 0)); then TAG="warmup-$TAG"; fi
            for s in $order; do
                SERVER=$s
                quiesce "${pids[@]}"
                local servers=$zk_servers line
                [ "$s" = corral3 ] && servers=$c_servers
                # shellcheck disable=SC2086
                if line=$("$CORRAL" bench --server "$servers" --json-only ${entry#*|} --duration "$SECS" 2>>"$RESULTS/bench.err"); then
                    record "$line"
                    log "$s $TAG run $RUN: $(field "$line" ops_per_sec) ops/s, p50 $(field "$line" p50_us) µs, p99 $(field "$line" p99_us) µs"
                else
                    log "$s $TAG run $RUN: bench failed (see $RESULTS/bench.err)"
                fi
            done
        done
    done
    for i in "${pids[@]}"; do stop "$i"; done
}

log "results in $RESULTS"
machine_info
if has_section floors; then floors 1; fi
if has_section throughput; then throughput; fi
if has_section restart; then
    restart_one corral
    restart_one zk
fi
if has_section ensemble; then ensemble; fi
if has_section floors; then floors 2; fi

python3 "$ROOT/bench/summarize.py" "$RAW" | tee "$RESULTS/table.md"
