# Shared helpers for compat suites: start corral on an ephemeral port, and
# record checks as PASS/FAIL lines (compat-tests/run counts them).

# start_corral [--set K=V]...: sets CORRAL_PID, CORRAL_PORT, CORRAL_DIR.
start_corral() {
  CORRAL_DIR="$(mktemp -d)"
  "$CORRAL_BIN" serve --set clientPort=0 --set "dataDir=$CORRAL_DIR/data" "$@" \
    >"$CORRAL_DIR/stdout" 2>"$CORRAL_DIR/stderr" &
  CORRAL_PID=$!
  for _ in $(seq 1 200); do
    CORRAL_PORT=$(sed -n 's/^corral: serving clients on .*:\([0-9]*\)$/\1/p' "$CORRAL_DIR/stdout")
    [ -n "$CORRAL_PORT" ] && return 0
    sleep 0.05
  done
  echo "corral did not start:" >&2
  cat "$CORRAL_DIR/stderr" >&2
  return 1
}

stop_corral() {
  [ -n "${CORRAL_PID:-}" ] && kill "$CORRAL_PID" 2>/dev/null && wait "$CORRAL_PID" 2>/dev/null
  [ -n "${CORRAL_DIR:-}" ] && rm -rf "$CORRAL_DIR"
  CORRAL_PID=""
}

# check NAME FILE PATTERN: PASS if the extended regex PATTERN matches a line.
check() {
  if grep -Eq -- "$3" "$2"; then echo "PASS $1"; else echo "FAIL $1 (no line matching: $3)"; fi
}

# check_not NAME FILE PATTERN: PASS if no line matches.
check_not() {
  if grep -Eq -- "$3" "$2"; then echo "FAIL $1 (unexpected line matching: $3)"; else echo "PASS $1"; fi
}
