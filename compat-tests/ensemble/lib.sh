# Ensemble helpers: N servers of the target on loopback, each with its own
# data dir (holding `myid`) and zoo.cfg. The target is corral
# (`$CORRAL_BIN serve --config zoo.cfg`) or, with COMPAT_TARGET=zookeeper,
# Apache ZooKeeper 3.8's QuorumPeerMain from the Debian jars, fed the same
# zoo.cfg. Self-contained (python3 for ports and srvr); run.sh also sources
# ../lib.sh for four_letter_word.
#
# After start_ensemble N:
#   ENSEMBLE_DIR          scratch dir: s<i>/zoo.cfg, s<i>/data/myid, s<i>/{stdout,stderr}
#   ENSEMBLE_N            number of members
#   ENSEMBLE_CONNECT      127.0.0.1:c1,127.0.0.1:c2,... (exported)
#   ENSEMBLE_CPORT[i]     client port of member i (1-based), also ENSEMBLE_CPORT_<i>
#   ENSEMBLE_QPORT[i]     quorum port, ENSEMBLE_EPORT[i] election port
#   ENSEMBLE_PID[i]       pid of member i ("" while it is down), also ENSEMBLE_PID_<i>
# ENSEMBLE_KEEP=1 keeps ENSEMBLE_DIR (server logs) after stop_ensemble.
# ENSEMBLE_TICK_MS (default 500) is the tickTime.
# ENSEMBLE_SETS (array of KEY=VALUE, set before start_ensemble) applies to
# every member after its zoo.cfg (later wins): corral gets `--set KEY=VALUE`;
# ZooKeeper gets a -DKEY=VALUE system property for the keys it reads as
# properties (zookeeper.*, znode.*, jute.*) and a zoo.cfg line otherwise
# (appended, so it overrides the line written before it).

ENSEMBLE_DIR=""
ENSEMBLE_N=0
ENSEMBLE_CONNECT=""
ENSEMBLE_CPORT=()
ENSEMBLE_QPORT=()
ENSEMBLE_EPORT=()
ENSEMBLE_PID=()
ENSEMBLE_SETS=()
ENSEMBLE_ERROR="" # why the last start_ensemble / ensemble_wait_roles failed

# free_ports N: N distinct free loopback ports, one per line (all bound at
# once, so they differ from each other).
free_ports() {
  python3 - "$1" <<'PY'
import socket, sys
socks = []
for _ in range(int(sys.argv[1])):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    socks.append(s)
for s in socks:
    print(s.getsockname()[1])
PY
}

# start_ensemble N [TIMEOUT_S]: writes the configs, starts every member and
# waits (default 30 s) until exactly one reports `Mode: leader` and the
# others `Mode: follower` in their `srvr` answer. Returns 1 (members left
# running, stop_ensemble cleans up) when that does not happen in time.
start_ensemble() {
  local n="$1" limit="${2:-30}" i ports
  ENSEMBLE_N="$n"
  ENSEMBLE_DIR="$(mktemp -d "${TMPDIR:-/tmp}/corral-ensemble.XXXXXX")"
  mapfile -t ports < <(free_ports $((3 * n)))
  if [ "${#ports[@]}" -ne $((3 * n)) ]; then
    ENSEMBLE_ERROR="could not pick $((3 * n)) free ports"
    echo "start_ensemble: $ENSEMBLE_ERROR" >&2
    return 1
  fi
  ENSEMBLE_CONNECT=""
  for i in $(seq 1 "$n"); do
    ENSEMBLE_CPORT[i]="${ports[$((3 * (i - 1)))]}"
    ENSEMBLE_QPORT[i]="${ports[$((3 * (i - 1) + 1))]}"
    ENSEMBLE_EPORT[i]="${ports[$((3 * (i - 1) + 2))]}"
    ENSEMBLE_PID[i]=""
    ENSEMBLE_CONNECT="${ENSEMBLE_CONNECT:+$ENSEMBLE_CONNECT,}127.0.0.1:${ENSEMBLE_CPORT[i]}"
    export "ENSEMBLE_CPORT_$i=${ENSEMBLE_CPORT[i]}"
  done
  export ENSEMBLE_CONNECT ENSEMBLE_N ENSEMBLE_DIR
  for i in $(seq 1 "$n"); do
    local d="$ENSEMBLE_DIR/s$i"
    mkdir -p "$d/data"
    echo "$i" >"$d/data/myid"
    {
      echo "tickTime=${ENSEMBLE_TICK_MS:-500}"
      echo "initLimit=10"
      echo "syncLimit=5"
      echo "dataDir=$d/data"
      echo "clientPort=${ENSEMBLE_CPORT[i]}"
      echo "clientPortAddress=127.0.0.1"
      echo "admin.enableServer=false"
      echo "4lw.commands.whitelist=*"
      local j
      for j in $(seq 1 "$n"); do
        echo "server.$j=127.0.0.1:${ENSEMBLE_QPORT[j]}:${ENSEMBLE_EPORT[j]};127.0.0.1:${ENSEMBLE_CPORT[j]}"
      done
      if [ "${COMPAT_TARGET:-corral}" = zookeeper ]; then
        local kv
        for kv in "${ENSEMBLE_SETS[@]}"; do
          ensemble_is_property "$kv" || echo "$kv"
        done
      fi
    } >"$d/zoo.cfg"
  done
  for i in $(seq 1 "$n"); do
    launch_member "$i" || return 1
  done
  ensemble_wait_roles "$limit" $(seq 1 "$n")
}

# ensemble_is_property KEY=VALUE: whether ZooKeeper reads KEY as a Java
# system property rather than from zoo.cfg.
ensemble_is_property() {
  case "$1" in
    zookeeper.*|znode.*|jute.*) return 0 ;;
    *) return 1 ;;
  esac
}

# launch_member I: starts member I in the background (no wait).
launch_member() {
  local i="$1" d="$ENSEMBLE_DIR/s$1" kv props=() sets=()
  for kv in "${ENSEMBLE_SETS[@]}"; do
    sets+=(--set "$kv")
    ensemble_is_property "$kv" && props+=("-D$kv")
  done
  if [ "${COMPAT_TARGET:-corral}" = zookeeper ]; then
    java -Xmx256m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Xshare:auto \
      -Dzookeeper.admin.enableServer=false -Dzookeeper.jmx.log4j.disable=true \
      -Dorg.slf4j.simpleLogger.showDateTime=true "${props[@]}" \
      -cp "${ZOOKEEPER_CLASSPATH:-/usr/share/java/zookeeper.jar:/usr/share/java/slf4j-simple.jar}" \
      org.apache.zookeeper.server.quorum.QuorumPeerMain "$d/zoo.cfg" \
      </dev/null >>"$d/stdout" 2>>"$d/stderr" &
  else
    if [ ! -x "$CORRAL_BIN" ]; then
      ENSEMBLE_ERROR="$CORRAL_BIN is not an executable"
      echo "launch_member: $ENSEMBLE_ERROR" >&2
      return 1
    fi
    "$CORRAL_BIN" serve --config "$d/zoo.cfg" "${sets[@]}" </dev/null >>"$d/stdout" 2>>"$d/stderr" &
  fi
  ENSEMBLE_PID[i]=$!
  export "ENSEMBLE_PID_$i=$!"
}

# srvr_modes PORT...: one line per port with the server's `Mode:` from its
# srvr answer (leader, follower, standalone, ...), "no-mode-line" when it
# answers without one, "down" when it does not answer within 2 s. One
# python process for all ports (what four_letter_word does for one), so a
# leader can be found and killed within a few critical sections.
srvr_modes() {
  python3 - "$@" <<'PY' 2>/dev/null
import socket, sys
for port in sys.argv[1:]:
    out = b""
    try:
        s = socket.create_connection(("127.0.0.1", int(port)), timeout=2)
        s.sendall(b"srvr")
        while True:
            b = s.recv(65536)
            if not b:
                break
            out += b
        s.close()
    except OSError:
        pass
    text = out.decode(errors="replace")
    mode = next((l.split(":", 1)[1].strip() for l in text.splitlines() if l.startswith("Mode:")), None)
    print(mode or ("no-mode-line" if text else "down"))
PY
}

# member_mode I: member I's mode (see srvr_modes).
member_mode() {
  srvr_modes "${ENSEMBLE_CPORT[$1]}"
}

# ensemble_modes [I...]: "1=leader 2=follower 3=down" for the given members
# (default all).
ensemble_modes() {
  local i ports=() modes out=""
  [ $# -eq 0 ] && set -- $(seq 1 "$ENSEMBLE_N")
  for i in "$@"; do ports+=("${ENSEMBLE_CPORT[i]}"); done
  mapfile -t modes < <(srvr_modes "${ports[@]}")
  for i in "$@"; do
    out="$out $i=${modes[0]:-down}"
    modes=("${modes[@]:1}")
  done
  echo "${out# }"
}

# ensemble_wait_roles TIMEOUT_S I...: waits until exactly one of the given
# members is leader and all the others are followers. On timeout prints the
# last modes seen to stderr and returns 1.
ensemble_wait_roles() {
  local limit=$((SECONDS + $1)) limit_s="$1" modes leaders others
  shift
  while :; do
    modes="$(ensemble_modes "$@")"
    leaders=$(printf '%s\n' $modes | grep -c '=leader$')
    others=$(printf '%s\n' $modes | grep -vc '=\(leader\|follower\)$')
    if [ "$leaders" -eq 1 ] && [ "$others" -eq 0 ]; then
      return 0
    fi
    if [ "$SECONDS" -ge "$limit" ]; then
      ENSEMBLE_LAST_MODES="$modes"
      ENSEMBLE_ERROR="no single leader among members $* within ${limit_s}s (modes: $modes)"
      echo "ensemble: $ENSEMBLE_ERROR" >&2
      return 1
    fi
    sleep 0.2
  done
}

# ensemble_leader: the index of the one running member reporting
# `Mode: leader`; returns 1 (prints nothing) unless there is exactly one.
ensemble_leader() {
  local live leaders
  live="$(ensemble_live)"
  [ -n "$live" ] || return 1
  leaders="$(printf '%s\n' $(ensemble_modes $live) | sed -n 's/=leader$//p')"
  [ -n "$leaders" ] && [ "$(printf '%s\n' "$leaders" | wc -l)" -eq 1 ] || return 1
  echo "$leaders"
}

# member_log_tail I: the last non-empty line member I wrote to stderr or
# stdout (up to 200 characters), to say why it is down.
member_log_tail() {
  cat "$ENSEMBLE_DIR/s$1/stderr" "$ENSEMBLE_DIR/s$1/stdout" 2>/dev/null | grep -v '^[[:space:]]*$' | tail -n 1 | head -c 200
}

# ensemble_live: the indexes of the members that are running.
ensemble_live() {
  local i out=""
  for i in $(seq 1 "$ENSEMBLE_N"); do
    [ -n "${ENSEMBLE_PID[i]}" ] && out="$out $i"
  done
  echo "${out# }"
}

# kill_member I [SIGNAL]: stops member I (default KILL), keeping its data
# dir and ports for restart_member.
kill_member() {
  local pid="${ENSEMBLE_PID[$1]}"
  if [ -n "$pid" ]; then
    kill "-${2:-KILL}" "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
  fi
  ENSEMBLE_PID[$1]=""
  export "ENSEMBLE_PID_$1="
  return 0
}

# restart_member I [TIMEOUT_S]: starts member I again with the same config
# and data, and waits (default 30 s) until it answers srvr.
restart_member() {
  local limit=$((SECONDS + ${2:-30}))
  kill_member "$1" KILL
  launch_member "$1" || return 1
  while [ "$(member_mode "$1")" = down ]; do
    if [ "$SECONDS" -ge "$limit" ] || ! kill -0 "${ENSEMBLE_PID[$1]}" 2>/dev/null; then
      echo "restart_member $1: not answering srvr" >&2
      return 1
    fi
    sleep 0.2
  done
}

# stop_ensemble: kills every member and removes ENSEMBLE_DIR (kept, and
# named on stderr, with ENSEMBLE_KEEP=1).
stop_ensemble() {
  local i pid
  for i in $(seq 1 "$ENSEMBLE_N"); do
    pid="${ENSEMBLE_PID[i]:-}"
    [ -n "$pid" ] && kill -TERM "$pid" 2>/dev/null
  done
  for i in $(seq 1 "$ENSEMBLE_N"); do
    pid="${ENSEMBLE_PID[i]:-}"
    [ -n "$pid" ] || continue
    # A JVM gets 5 s to exit on TERM, then KILL.
    for _ in $(seq 1 50); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    ENSEMBLE_PID[i]=""
  done
  if [ -n "$ENSEMBLE_DIR" ]; then
    if [ "${ENSEMBLE_KEEP:-0}" = 1 ]; then
      echo "note: ensemble files kept in $ENSEMBLE_DIR" >&2
    else
      rm -rf "$ENSEMBLE_DIR"
    fi
  fi
  ENSEMBLE_DIR=""
}
