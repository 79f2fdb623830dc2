# Shared helpers for compat suites: start corral on an ephemeral port, and
# record checks as PASS/FAIL lines (compat-tests/run counts them).

_compat_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CORRAL_BIN="${CORRAL_BIN:-${CARGO_TARGET_DIR:-$_compat_root/target}/release/corral}"

# Switches (environment):
#   COMPAT_TARGET=zookeeper   run against Apache ZooKeeper 3.8 (Debian jars)
#                             instead of corral: the checks encode ZooKeeper's
#                             behaviour, so they must pass there too.
#   COMPAT_FAULT=drop-watches put a proxy between clients and the server that
#                             drops every watch notification: the suites'
#                             watch/cache/recipe checks must then fail.

# start_corral [--set K=V]...: starts the server under test on an ephemeral
# port; sets CORRAL_PORT (the port clients use), CORRAL_CONNECT
# (host:port), CORRAL_PID and CORRAL_DIR.
start_corral() {
  CORRAL_DIR="$(mktemp -d)"
  CORRAL_ARGS=("$@")
  SERVER_PORT=""
  if [ "${COMPAT_TARGET:-corral}" = zookeeper ]; then
    start_zookeeper_target "$@" || return 1
  else
    launch_corral 0 || return 1
  fi
  SERVER_PORT="$CORRAL_PORT"
  if [ -n "${COMPAT_FAULT:-}" ]; then
    python3 "$(dirname "${BASH_SOURCE[0]}")/tools/fault_proxy.py" \
      "$CORRAL_DIR/proxy.port" "$SERVER_PORT" "$COMPAT_FAULT" \
      2>"$CORRAL_DIR/proxy.err" &
    PROXY_PID=$!
    for _ in $(seq 1 200); do
      [ -s "$CORRAL_DIR/proxy.port" ] && break
      sleep 0.05
    done
    CORRAL_PORT="$(cat "$CORRAL_DIR/proxy.port")"
    echo "note: fault '$COMPAT_FAULT' injected by a proxy on port $CORRAL_PORT" >&2
  fi
  CORRAL_CONNECT="127.0.0.1:$CORRAL_PORT"
  export CORRAL_PORT CORRAL_CONNECT
  return 0
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
# data dir and port so restart_server can bring it back.
kill_server() {
  kill "-${1:-KILL}" "$CORRAL_PID" 2>/dev/null
  wait "$CORRAL_PID" 2>/dev/null
  return 0
}

# restart_server: starts the server again on the same port with the same
# data (clients connected through the proxy, if any, reconnect through it).
restart_server() {
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
  [ -n "${PROXY_PID:-}" ] && kill "$PROXY_PID" 2>/dev/null && wait "$PROXY_PID" 2>/dev/null
  [ -n "${CORRAL_PID:-}" ] && kill "$CORRAL_PID" 2>/dev/null && wait "$CORRAL_PID" 2>/dev/null
  [ -n "${CORRAL_DIR:-}" ] && rm -rf "$CORRAL_DIR"
  CORRAL_PID=""
  PROXY_PID=""
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
