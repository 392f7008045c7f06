#!/usr/bin/env bash
# Reproduces the gxload figures of docs/BENCHMARKS.md: builds gxhub and gxload, starts a
# demo hub on a fresh data directory (SQLite, or PostgreSQL with STORE=postgres), drives
# each operation against it (workday: an unsigned public RPC, the transport floor) and
# stops the hub again.
#
#   cmd/gxload/run-load.sh                  # SQLite
#   STORE=postgres cmd/gxload/run-load.sh   # PostgreSQL (GXHUB_TEST_POSTGRES, fresh schema)
#   DURATION=20s CONCURRENCY=16 RATE=400 cmd/gxload/run-load.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
STORE=${STORE:-sqlite}
DURATION=${DURATION:-10s}
CONCURRENCY=${CONCURRENCY:-16}
RATE=${RATE:-0}
PORT=${PORT:-18460}
VERIFY_FILE=${VERIFY_FILE:-/work/shared/testdata/external/ofd/999_kinggrid_chongqing_test.ofd}
work=$(mktemp -d)
go build -o "$work/" ./cmd/gxhub ./cmd/gxload
args=(serve --demo --listen "127.0.0.1:$PORT" --data-dir "$work/data")
if [ "$STORE" = postgres ]; then
  base=${GXHUB_TEST_POSTGRES:-postgres://postgres@127.0.0.1:5432/test}
  schema="gxload_$$"
  psql "$base" -q -c "CREATE SCHEMA $schema"
  sep='?'; [[ "$base" == *\?* ]] && sep='&'
  args+=(--store postgres --postgres-dsn "${base}${sep}search_path=${schema}")
fi
"$work/gxhub" "${args[@]}" >"$work/hub.log" 2>&1 &
hub=$!
cleanup() {
  kill "$hub" 2>/dev/null || true
  wait "$hub" 2>/dev/null || true
  if [ "$STORE" = postgres ]; then psql "$base" -q -c "DROP SCHEMA $schema CASCADE" || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
for _ in $(seq 50); do grep -q "msg=serving" "$work/hub.log" 2>/dev/null && break; sleep 0.2; done
load() { "$work/gxload" --identities "$work/data/demo" --duration "$DURATION" --concurrency "$CONCURRENCY" --hub-pid "$hub" "$@"; }
echo "# store $STORE, $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"
load --op workday
load --op whoami
load --op pull
if [ "$RATE" != 0 ]; then load --op pull --rate "$RATE" --concurrency $((CONCURRENCY * 2)); fi
load --op publish
load --op publish --batch 100
if [ -f "$VERIFY_FILE" ]; then load --op verify --verify-file "$VERIFY_FILE"; fi
