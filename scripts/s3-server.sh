#!/usr/bin/env bash
# Starts a local S3-compatible server (moto) on 127.0.0.1 for the `s3`
# feature's tests, creates their bucket, and prints the variables the tests
# read, for `eval`:
#   eval "$(scripts/s3-server.sh start)"   # then cargo test --all-features
#   scripts/s3-server.sh stop
# The server runs from a venv in the build directory and is stopped by its
# PID (kept in target/moto.pid).
set -euo pipefail
cd "$(dirname "$0")/.."
venv=target/moto-venv
pidfile=target/moto.pid
port="${MWSR_S3_PORT:-5151}"
bucket=mwsr-tests

case "${1:-start}" in
start)
  [ -x "$venv/bin/moto_server" ] || {
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check 'moto[server]==5.1.*' >&2
  }
  "$venv/bin/moto_server" -H 127.0.0.1 -p "$port" > target/moto.log 2>&1 &
  echo $! > "$pidfile"
  export AWS_ACCESS_KEY_ID=mwsr AWS_SECRET_ACCESS_KEY=mwsr AWS_REGION=us-east-1
  "$venv/bin/python" - "$port" "$bucket" <<'PY' >&2
import sys, time, urllib.request
import boto3
port, bucket = sys.argv[1], sys.argv[2]
url = f"http://127.0.0.1:{port}"
for _ in range(200):  # ready in about a second; 20 s at most
    try:
        urllib.request.urlopen(url + "/moto-api/", timeout=1)
        break
    except Exception:
        time.sleep(0.1)
else:
    sys.exit("the S3 server did not start: see target/moto.log")
boto3.client("s3", endpoint_url=url).create_bucket(Bucket=bucket)
PY
  # Ready, but is it ours? A server already on the port would have
  # answered while ours failed to bind.
  kill -0 "$(cat "$pidfile")" 2>/dev/null || {
    echo "port $port is taken by another server (set MWSR_S3_PORT)" >&2
    exit 1
  }
  cat <<VARS
export MWSR_S3_ENDPOINT=http://127.0.0.1:$port MWSR_S3_BUCKET=$bucket
export AWS_ACCESS_KEY_ID=mwsr AWS_SECRET_ACCESS_KEY=mwsr AWS_REGION=us-east-1
VARS
  ;;
stop)
  [ -f "$pidfile" ] && kill "$(cat "$pidfile")" 2>/dev/null || true
  rm -f "$pidfile"
  ;;
*)
  echo "usage: $0 start|stop" >&2
  exit 2
  ;;
esac
