# Shell functions shared by tests/run and tests/bench: a cleanup trap for the
# services they start, free loopback ports, the project-local Python tools, and
# the moto server. Source it after setting ROOT, RUN_DIR and VENV.

PIDS=()
cleanup() {
  local pid
  for pid in "${PIDS[@]:-}"; do
    [ -n "$pid" ] && kill "$pid" 2>/dev/null || true
  done
  for pid in "${PIDS[@]:-}"; do
    [ -n "$pid" ] && wait "$pid" 2>/dev/null || true
  done
}
trap cleanup EXIT INT TERM

step() { printf '\n==> %s\n' "$*"; }

# A free TCP port on the loopback interface.
free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# Wait until something listens on 127.0.0.1:$1 (up to $2 seconds).
wait_port() {
  local port=$1 secs=${2:-30} i
  for ((i = 0; i < secs * 10; i++)); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then return 0; fi
    sleep 0.1
  done
  echo "nothing listens on 127.0.0.1:$port after ${secs}s" >&2
  return 1
}

# Python tools (moto, cargo-lambda, zig, cfn-lint, sam), pinned one per line in
# tests/requirements-tools.txt, installed into $VENV only when that file changed
# since the last install (hash stamp).
ensure_python_tools() {
  local req="$ROOT/tests/requirements-tools.txt" stamp="$VENV/.requirements-tools.sha256" want
  want="$(sha256sum "$req" | cut -d' ' -f1)"
  if [ -x "$VENV/bin/python" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$want" ]; then
    return 0
  fi
  step "install Python tools into .venv (tests/requirements-tools.txt)"
  [ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -r "$req"
  echo "$want" >"$stamp"
}

# The moto server (from .venv) for DynamoDB, SESv2 and SSM, on a free loopback port:
#   DYNOPILOT_TEST_MOTO_URL  http://127.0.0.1:PORT
# and cargo-lambda (from .venv) for the Lambda runtime tests:
#   DYNOPILOT_TEST_CARGO_LAMBDA  path of the cargo-lambda binary
start_moto() {
  local port dir="$RUN_DIR/moto"
  mkdir -p "$dir"
  port=$(free_port)
  step "starting the moto server on 127.0.0.1:$port"
  "$VENV/bin/moto_server" -H 127.0.0.1 -p "$port" >"$dir/moto.log" 2>&1 &
  PIDS+=($!)
  if ! wait_port "$port" 60; then
    tail -n 20 "$dir/moto.log" >&2
    exit 1
  fi
  export DYNOPILOT_TEST_MOTO_URL="http://127.0.0.1:$port"
  export DYNOPILOT_TEST_CARGO_LAMBDA="$VENV/bin/cargo-lambda"
}
