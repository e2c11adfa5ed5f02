#!/usr/bin/env bash
# Start ShiftClipper on a GPU pod without Docker (RunPod and alike): the embedded stack (nats-server,
# SeaweedFS S3, gateway, tracker, exporter) under one data directory on the persistent volume.
# Safe to run again: the venv and install are reused, and a stack already running is left alone.
#
#   deploy/runpod/start.sh              # install if needed, run in the foreground (a pod's start command)
#   deploy/runpod/start.sh --background # same, detached; waits until the gateway is ready
#   deploy/runpod/start.sh --dry-run    # print the plan, change nothing
#
# Environment (all optional):
#   SHIFTCLIPPER_DATA_DIR     data, logs, keys         (default /workspace/shiftclipper)
#   SHIFTCLIPPER_VENV         virtual environment      (default /workspace/shiftclipper-venv)
#   SHIFTCLIPPER_HOST/PORT    gateway bind address     (default 0.0.0.0 / 8000)
#   SHIFTCLIPPER_DEVICE       torch device             (default cuda)
#   SHIFTCLIPPER_MODEL_PATH   detector weights         (default /workspace/models/yolo11n.pt)
#   SHIFTCLIPPER_SKIP_INSTALL=1  use the venv as it is (no pip)
#   SHIFTCLIPPER_TORCH_INDEX_URL  install torch from this index first (e.g. https://download.pytorch.org/whl/cu124)
#   PYTHON                    interpreter for a new venv (default: first of python3.12, python3.11, python3 ≥ 3.11)
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
MODE=foreground
DRY_RUN=0
for arg in "$@"; do
  case "$arg" in
    --dry-run) DRY_RUN=1 ;;
    --background) MODE=background ;;
    -h|--help) sed -n '2,21p' "$0"; exit 0 ;;
    *) echo "unknown argument: $arg" >&2; exit 2 ;;
  esac
done

DATA_DIR="${SHIFTCLIPPER_DATA_DIR:-/workspace/shiftclipper}"
VENV="${SHIFTCLIPPER_VENV:-/workspace/shiftclipper-venv}"
HOST="${SHIFTCLIPPER_HOST:-0.0.0.0}"
PORT="${SHIFTCLIPPER_PORT:-8000}"
export SHIFTCLIPPER_DEVICE="${SHIFTCLIPPER_DEVICE:-cuda}"
export SHIFTCLIPPER_MODEL_PATH="${SHIFTCLIPPER_MODEL_PATH:-/workspace/models/yolo11n.pt}"
export SHIFTCLIPPER_DATA_DIR="$DATA_DIR"
# `shiftclipper up` chooses these per stack: drop inherited ones so they cannot point elsewhere.
unset SHIFTCLIPPER_HOST SHIFTCLIPPER_PORT SHIFTCLIPPER_NATS_URL SHIFTCLIPPER_S3_ENDPOINT
STAMP="$VENV/.shiftclipper-installed"
WANT_STAMP="$(sha256sum "$REPO/pyproject.toml" | cut -c1-16)"  # reinstall when the dependencies change
PIDFILE="$DATA_DIR/start.pid"
LOG="$DATA_DIR/logs/start.log"

say() { echo "[start] $*"; }

pick_python() {
  for py in "${PYTHON:-}" python3.12 python3.11 python3; do
    if [ -z "$py" ] || ! command -v "$py" >/dev/null 2>&1; then continue; fi
    if "$py" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then echo "$py"; return 0; fi
  done
  echo "no Python ≥ 3.11 found (set PYTHON=...)" >&2
  return 1
}

running_url() {  # the gateway URL if a stack for DATA_DIR answers /health/ready
  [ -f "$DATA_DIR/stack.json" ] && [ -x "$VENV/bin/python" ] || return 1
  "$VENV/bin/python" - "$DATA_DIR/stack.json" <<'EOF'
import json, sys, urllib.request
url = json.load(open(sys.argv[1]))["api_url"].replace("0.0.0.0", "127.0.0.1")
direct = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback: never through an HTTP proxy
try:
    direct.open(url + "/health/ready", timeout=2).close()  # raises unless 2xx
except OSError:
    sys.exit(1)
print(url)
EOF
}

print_where() {
  local public="http://<pod-ip>:$PORT"
  [ -n "${RUNPOD_POD_ID:-}" ] && public="https://${RUNPOD_POD_ID}-${PORT}.proxy.runpod.net"
  say "gateway (web UI, API, /schema): $public  (bound to $HOST:$PORT)"
  say "data: $DATA_DIR   logs: $DATA_DIR/logs   keys: $DATA_DIR/stack.json"
  say "nats-server and S3 (SeaweedFS) listen on 127.0.0.1 only; ports in stack.json"
  say "device: $SHIFTCLIPPER_DEVICE   model: $SHIFTCLIPPER_MODEL_PATH"
}

install_needed() {
  [ "${SHIFTCLIPPER_SKIP_INSTALL:-0}" = 1 ] && return 1
  [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$WANT_STAMP" ] && return 1
  return 0
}

if [ "$DRY_RUN" = 1 ]; then
  say "plan (dry run, nothing changed):"
  if [ -x "$VENV/bin/python" ]; then say "venv: reuse $VENV"; else say "venv: create $VENV with $(pick_python || echo '?')"; fi
  if install_needed; then
    [ -n "${SHIFTCLIPPER_TORCH_INDEX_URL:-}" ] && say "install: torch torchvision from $SHIFTCLIPPER_TORCH_INDEX_URL"
    say "install: pip install -e '${REPO}[all]'"
  else
    say "install: skip (SHIFTCLIPPER_SKIP_INSTALL=1 or already installed)"
  fi
  if url="$(running_url)"; then say "stack: already running at $url (left alone)"; else
    say "stack: $VENV/bin/shiftclipper up --data-dir $DATA_DIR --host $HOST --port $PORT ($MODE)"; fi
  [ -f "$SHIFTCLIPPER_MODEL_PATH" ] || say "warning: no model file at $SHIFTCLIPPER_MODEL_PATH"
  command -v nvidia-smi >/dev/null 2>&1 || say "warning: nvidia-smi not found (no GPU visible)"
  print_where
  exit 0
fi

if [ ! -x "$VENV/bin/python" ]; then
  PY="$(pick_python)"
  say "creating venv $VENV with $PY"
  "$PY" -m venv "$VENV"
fi
if install_needed; then
  say "installing ShiftClipper[all] into $VENV (first start only)"
  "$VENV/bin/pip" install -q --upgrade pip
  if [ -n "${SHIFTCLIPPER_TORCH_INDEX_URL:-}" ]; then
    "$VENV/bin/pip" install -q --index-url "$SHIFTCLIPPER_TORCH_INDEX_URL" torch torchvision
  fi
  "$VENV/bin/pip" install -q -e "${REPO}[all]"
  echo "$WANT_STAMP" > "$STAMP"
fi

if url="$(running_url)"; then
  say "already running at $url"
  print_where
  exit 0
fi
[ -f "$SHIFTCLIPPER_MODEL_PATH" ] || say "warning: no model file at $SHIFTCLIPPER_MODEL_PATH (the tracker will not start)"
if [ "$SHIFTCLIPPER_DEVICE" = cuda ] && ! command -v nvidia-smi >/dev/null 2>&1; then
  say "warning: SHIFTCLIPPER_DEVICE=cuda but nvidia-smi is not on PATH"
fi
mkdir -p "$DATA_DIR/logs"
UP=("$VENV/bin/shiftclipper" up --data-dir "$DATA_DIR" --host "$HOST" --port "$PORT")
print_where
if [ "$MODE" = foreground ]; then
  exec "${UP[@]}"
fi

nohup "${UP[@]}" >>"$LOG" 2>&1 &
echo $! > "$PIDFILE"
say "started (pid $(cat "$PIDFILE"), output in $LOG); waiting for the gateway…"
# `shiftclipper up` bounds each step of its start (S3 3 min, gateway 3 min) and exits saying which one failed, so
# wait for it rather than for a clock of our own; the cap only guards against a hang.
for _ in $(seq 1 600); do
  if url="$(running_url)"; then say "ready at $url   stop: kill -INT \$(cat $PIDFILE)"; exit 0; fi
  kill -0 "$(cat "$PIDFILE")" 2>/dev/null || { say "the stack exited; see $LOG"; tail -20 "$LOG" >&2; exit 1; }
  sleep 1
done
say "the gateway did not become ready in 10 min; see $LOG"
tail -20 "$LOG" >&2
exit 1
