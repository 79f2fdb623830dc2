# Shared helpers for compat suites: start the server under test (corral or
# Apache ZooKeeper; one standalone server or a 3-server ensemble) on
# ephemeral ports, and record checks as PASS/FAIL lines (compat-tests/run
# counts them).

_compat_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CORRAL_BIN="${CORRAL_BIN:-${CARGO_TARGET_DIR:-$_compat_root/target}/release/corral}"
# The ensemble helpers (start_ensemble, kill_member, ...), used by the
# ensemble topology below.
. "$_compat_root/compat-tests/ensemble/lib.sh"

# Switches (environment):
#   COMPAT_TARGET=zookeeper   run against Apache ZooKeeper 3.8 (Debian jars)
#                             instead of corral: the checks encode ZooKeeper's
#                             behaviour, so they must pass there too.
#   COMPAT_TOPOLOGY=standalone (default) one server;
#   COMPAT_TOPOLOGY=ensemble  three servers on loopback (ensemble/lib.sh:
#                             corral members, or ZooKeeper QuorumPeerMain
#                             JVMs with COMPAT_TARGET=zookeeper), tickTime
#                             500 unless the suite sets its own; clients get
#                             all three in CORRAL_CONNECT.
#   COMPAT_FAULT=drop-watches put a proxy between clients and the server that
#                             drops every watch notification: the suites'
#                             watch/cache/recipe checks must then fail. In
#                             the ensemble topology each member gets its own
#                             proxy and CORRAL_CONNECT lists the proxies.

PROXY_PIDS=()

# compat_topology: standalone or ensemble (from COMPAT_TOPOLOGY).
compat_topology() {
  case "${COMPAT_TOPOLOGY:-standalone}" in
    ensemble) echo ensemble ;;
    *) echo standalone ;;
  esac
}

# start_corral [--set K=V]...: starts the server under test on ephemeral
# ports and sets
#   CORRAL_CONNECT  the connect string clients use: 127.0.0.1:port for a
#                   standalone server, 127.0.0.1:p1,127.0.0.1:p2,127.0.0.1:p3
#                   for an ensemble (the fault proxies' ports with COMPAT_FAULT)
#   CORRAL_PORT     one server's client port, for four-letter words (the
#                   standalone server, or its proxy with COMPAT_FAULT; in an
#                   ensemble, member 1 directly)
#   CORRAL_PID      the standalone server's pid (ensemble: ENSEMBLE_PID[i])
#   CORRAL_DIR      scratch dir for the suite, removed by stop_corral
# Every `--set K=V` applies to the server, or to every ensemble member.
start_corral() {
  CORRAL_DIR="$(mktemp -d)"
  CORRAL_ARGS=("$@")
  SERVER_PORT=""
  PROXY_PIDS=()
  if [ "$(compat_topology)" = ensemble ]; then
    start_ensemble_target "$@" || return 1
    export CORRAL_PORT CORRAL_CONNECT
    return 0
  fi
  if [ "${COMPAT_TARGET:-corral}" = zookeeper ]; then
    start_zookeeper_target "$@" || return 1
  else
    launch_corral 0 || return 1
  fi
  SERVER_PORT="$CORRAL_PORT"
  if [ -n "${COMPAT_FAULT:-}" ]; then
    start_fault_proxy "$SERVER_PORT" "$CORRAL_DIR/proxy" || return 1
    CORRAL_PORT="$PROXY_PORT"
  fi
  CORRAL_CONNECT="127.0.0.1:$CORRAL_PORT"
  export CORRAL_PORT CORRAL_CONNECT
  return 0
}

# start_fault_proxy UPSTREAM_PORT FILE_PREFIX: starts fault_proxy.py (the
# COMPAT_FAULT one) in front of UPSTREAM_PORT, adds its pid to PROXY_PIDS
# and sets PROXY_PORT to the port it listens on.
start_fault_proxy() {
  PROXY_PORT=""
  python3 "$_compat_root/compat-tests/tools/fault_proxy.py" \
    "$2.port" "$1" "$COMPAT_FAULT" </dev/null >/dev/null 2>"$2.err" &
  PROXY_PIDS+=($!)
  for _ in $(seq 1 200); do
    [ -s "$2.port" ] && break
    sleep 0.05
  done
  if [ ! -s "$2.port" ]; then
    echo "fault proxy for port $1 did not start: $(head -c 300 "$2.err")" >&2
    return 1
  fi
  PROXY_PORT="$(cat "$2.port")"
  echo "note: fault '$COMPAT_FAULT' injected by a proxy on port $PROXY_PORT in front of port $1" >&2
}

# start_ensemble_target [--set K=V]...: the ensemble topology of
# start_corral: 3 members (ensemble/lib.sh) with the --set settings applied
# to each, files under CORRAL_DIR; waits for one leader and two followers.
start_ensemble_target() {
  local i connect=""
  ENSEMBLE_SETS=()
  # TTL nodes, as the standalone ZooKeeper target enables them (corral's
  # default).
  [ "${COMPAT_TARGET:-corral}" = zookeeper ] && ENSEMBLE_SETS+=(zookeeper.extendedTypesEnabled=true)
  while [ $# -gt 0 ]; do
    if [ "$1" = --set ] && [ $# -ge 2 ]; then
      ENSEMBLE_SETS+=("$2")
      shift 2
    else
      shift
    fi
  done
  if ! TMPDIR="$CORRAL_DIR" start_ensemble 3 "${COMPAT_ENSEMBLE_TIMEOUT:-60}"; then
    echo "ensemble did not form: ${ENSEMBLE_ERROR:-?}" >&2
    for i in $(seq 1 "$ENSEMBLE_N"); do
      echo "  server $i: $(member_log_tail "$i")" >&2
    done
    return 1
  fi
  CORRAL_PORT="${ENSEMBLE_CPORT[1]}"
  for i in $(seq 1 "$ENSEMBLE_N"); do
    local port="${ENSEMBLE_CPORT[i]}"
    if [ -n "${COMPAT_FAULT:-}" ]; then
      start_fault_proxy "$port" "$CORRAL_DIR/proxy$i" || return 1
      port="$PROXY_PORT"
    fi
    connect="${connect:+$connect,}127.0.0.1:$port"
  done
  CORRAL_CONNECT="$connect"
  echo "note: ensemble $(ensemble_modes), clients use $CORRAL_CONNECT" >&2
}

# launch_corral PORT: runs corral with CORRAL_ARGS on PORT (0 = any) and
# waits until it serves; sets CORRAL_PID and CORRAL_PORT.
launch_corral() {
  # Empty first: the background launch truncates the file only when it runs.
  : >"$CORRAL_DIR/stdout"
  "$CORRAL_BIN" serve --set "clientPort=$1" --set "dataDir=$CORRAL_DIR/data" "${CORRAL_ARGS[@]}" \
    >"$CORRAL_DIR/stdout" 2>>"$CORRAL_DIR/stderr" &
  CORRAL_PID=$!
  local port=""
  for _ in $(seq 1 200); do
    port=$(sed -n 's/^corral: serving clients on .*:\([0-9]*\)$/\1/p' "$CORRAL_DIR/stdout")
    [ -n "$port" ] && break
    sleep 0.05
  done
  if [ -z "$port" ]; then
    echo "corral did not start:" >&2
    cat "$CORRAL_DIR/stderr" >&2
    return 1
  fi
  CORRAL_PORT="$port"
}

# kill_server [SIGNAL]: stops the server process (default KILL), keeping its
# data dir and port so restart_server can bring it back. In the ensemble
# topology it stops every member at once: the whole service goes away.
kill_server() {
  if [ "$(compat_topology)" = ensemble ]; then
    local i pids=()
    for i in $(ensemble_live); do pids+=("${ENSEMBLE_PID[i]}"); done
    # One kill for all: signalled one by one, a member that dies a few ms
    # after another could still take over the clients of the first.
    # (stderr: bash's "Killed" job reports)
    {
      [ ${#pids[@]} -gt 0 ] && kill "-${1:-KILL}" "${pids[@]}"
      for i in $(ensemble_live); do kill_member "$i" "${1:-KILL}"; done
    } 2>/dev/null
    return 0
  fi
  kill "-${1:-KILL}" "$CORRAL_PID" 2>/dev/null
  wait "$CORRAL_PID" 2>/dev/null
  return 0
}

# restart_server: starts the server again on the same port with the same
# data (clients connected through the proxy, if any, reconnect through it).
# In the ensemble topology it starts every member that is down and waits
# (COMPAT_ENSEMBLE_TIMEOUT, 60 s) for one leader and two followers.
restart_server() {
  if [ "$(compat_topology)" = ensemble ]; then
    local i
    for i in $(seq 1 "$ENSEMBLE_N"); do
      [ -z "${ENSEMBLE_PID[i]}" ] && { launch_member "$i" || return 1; }
    done
    ensemble_wait_roles "${COMPAT_ENSEMBLE_TIMEOUT:-60}" $(seq 1 "$ENSEMBLE_N") || return 1
    echo "note: ensemble restarted: $(ensemble_modes)" >&2
    return 0
  fi
  local client_port="$CORRAL_PORT"
  if [ "${COMPAT_TARGET:-corral}" = zookeeper ]; then
    start_zookeeper_target "${CORRAL_ARGS[@]}" || return 1
  else
    launch_corral "$SERVER_PORT" || return 1
  fi
  CORRAL_PORT="$client_port"
}

# Apache ZooKeeper 3.8 from Debian's jars, standalone, on a free port.
# `--set K=V` becomes a zoo.cfg line, or a -D property for the keys
# ZooKeeper reads as system properties.
start_zookeeper_target() {
  [ -n "${SERVER_PORT:-}" ] && [ -n "${CORRAL_PID:-}" ] && CORRAL_PORT="$SERVER_PORT" ||
  CORRAL_PORT="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
  local props=() cfg="$CORRAL_DIR/zoo.cfg"
  {
    echo "tickTime=2000"
    echo "dataDir=$CORRAL_DIR/data"
    echo "clientPort=$CORRAL_PORT"
    echo "clientPortAddress=127.0.0.1"
    echo "admin.enableServer=false"
    echo "4lw.commands.whitelist=*"
    echo "extendedTypesEnabled=true"
  } >"$cfg"
  props+=("-Dzookeeper.extendedTypesEnabled=true")
  while [ $# -gt 0 ]; do
    if [ "$1" = --set ]; then
      case "$2" in
        zookeeper.*|znode.*|jute.*) props+=("-D$2") ;;
        *) echo "$2" >>"$cfg" ;;
      esac
      shift 2
    else
      shift
    fi
  done
  java -Xmx512m -XX:+UseSerialGC -Dzookeeper.admin.enableServer=false \
    -Dzookeeper.jmx.log4j.disable=true "${props[@]}" \
    -cp "${ZOOKEEPER_CLASSPATH:-/usr/share/java/zookeeper.jar:/usr/share/java/slf4j-simple.jar}" \
    org.apache.zookeeper.server.ZooKeeperServerMain "$cfg" \
    >>"$CORRAL_DIR/stdout" 2>>"$CORRAL_DIR/stderr" &
  CORRAL_PID=$!
  for _ in $(seq 1 300); do
    if CORRAL_PORT="$CORRAL_PORT" four_letter_word srvr | grep -q '^Zookeeper version:'; then
      return 0
    fi
    sleep 0.1
  done
  echo "ZooKeeper did not start:" >&2
  cat "$CORRAL_DIR/stdout" "$CORRAL_DIR/stderr" >&2
  return 1
}

# four_letter_word WORD: the server's answer to a four-letter word.
four_letter_word() {
  python3 - "$CORRAL_PORT" "$1" <<'PY' 2>/dev/null
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=2)
s.sendall(sys.argv[2].encode())
out = b""
while True:
    b = s.recv(65536)
    if not b:
        break
    out += b
sys.stdout.write(out.decode(errors="replace"))
PY
}

stop_corral() {
  local p
  for p in "${PROXY_PIDS[@]}"; do
    kill "$p" 2>/dev/null && wait "$p" 2>/dev/null
  done
  [ -n "${CORRAL_PID:-}" ] && kill "$CORRAL_PID" 2>/dev/null && wait "$CORRAL_PID" 2>/dev/null
  [ -n "${ENSEMBLE_DIR:-}" ] && stop_ensemble
  if [ "${ENSEMBLE_KEEP:-0}" = 1 ] && [ "$(compat_topology)" = ensemble ]; then
    echo "note: suite files kept in $CORRAL_DIR" >&2
  else
    [ -n "${CORRAL_DIR:-}" ] && rm -rf "$CORRAL_DIR"
  fi
  CORRAL_PID=""
  PROXY_PIDS=()
  SERVER_PORT=""
}

# check NAME FILE PATTERN: PASS if the extended regex PATTERN matches a line.
check() {
  if grep -Eq -- "$3" "$2"; then echo "PASS $1"; else echo "FAIL $1 (no line matching: $3)"; fi
}

# check_not NAME FILE PATTERN: PASS if no line matches.
check_not() {
  if grep -Eq -- "$3" "$2"; then echo "FAIL $1 (unexpected line matching: $3)"; else echo "PASS $1"; fi
}

# java_build NAME CLASSES JAVA_DIR WATCHED...: builds a Java client suite.
# Installs the Debian packages named in the array `java_pkgs` that are
# missing, sets `cp` to the /usr/share/java jars named in the array `jars`,
# and compiles JAVA_DIR/*.java into the directory CLASSES when a file under
# one of the WATCHED paths is newer than the last build (javac's output goes
# to NAME-javac.log next to CLASSES). On failure prints "FAIL NAME packages",
# "FAIL NAME classpath" or "FAIL NAME compile" and exits the suite.
java_build() {
  local name="$1" classes="$2" java_dir="$3"
  shift 3
  local cache="${classes%/*}"
  local missing=() pkg j sudo stamp fresh
  for pkg in "${java_pkgs[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    sudo=""
    [ "$(id -u)" -ne 0 ] && sudo="sudo"
    echo "note: installing ${missing[*]}" >&2
    if ! $sudo apt-get install -y -qq "${missing[@]}" >/dev/null 2>&1; then
      $sudo apt-get update -qq >/dev/null 2>&1
      $sudo apt-get install -y -qq "${missing[@]}" >/dev/null 2>&1 ||
        { echo "FAIL $name packages (apt-get install ${missing[*]} failed)"; exit 1; }
    fi
  fi
  cp=""
  for j in "${jars[@]}"; do
    [ -f "/usr/share/java/$j.jar" ] || { echo "FAIL $name classpath (/usr/share/java/$j.jar missing)"; exit 1; }
    cp="$cp:/usr/share/java/$j.jar"
  done
  cp="${cp#:}"

  # Compile when a source is newer than the last build.
  stamp="$classes/.stamp"
  if [ ! -f "$stamp" ] || [ -n "$(find "$@" -newer "$stamp" -print -quit)" ]; then
    mkdir -p "$cache"
    fresh="$(mktemp -d "$classes.new.XXXXXX")"
    if ! javac -nowarn -encoding UTF-8 -d "$fresh" -cp "$cp" "$java_dir"/*.java >"$cache/$name-javac.log" 2>&1; then
      echo "FAIL $name compile ($(head -c 600 "$cache/$name-javac.log" | tr '\n' ' '))"
      rm -rf "$fresh"
      exit 1
    fi
    touch "$fresh/.stamp"
    rm -rf "$classes" && mv "$fresh" "$classes"
  fi
}
