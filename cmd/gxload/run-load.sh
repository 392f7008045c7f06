#!/usr/bin/env bash
# Reproduces the gxload figures of docs/BENCHMARKS.md: builds gxhub and gxload, starts a
# demo hub on a fresh data directory (SQLite, or PostgreSQL with STORE=postgres), drives
# each operation against it (workday: an unsigned public RPC, the transport floor) and
# stops the hub again.
#
#   cmd/gxload/run-load.sh                  # SQLite
#   STORE=postgres cmd/gxload/run-load.sh   # PostgreSQL (GXHUB_TEST_POSTGRES, fresh schema)
#   DURATION=20s CONCURRENCY=16 RATE=400 cmd/gxload/run-load.sh
#   LATENCY=1 cmd/gxload/run-load.sh        # adds paced pulls at 40, 60 and 80 % of the measured peak
#   OPS="whoami pull pullbatch" cmd/gxload/run-load.sh   # only these ops
#   GXHUB=/path/to/gxhub GXLOAD=/path/to/gxload ...      # given binaries (A/B runs), no build
#
# Each run prints a line "UNITS op ... target <= T: met|MISSED" (hub CPU per operation in
# crypto units next to the issue-18 target); the lines are repeated as a summary at the end.
set -euo pipefail
cd "$(dirname "$0")/../.."
STORE=${STORE:-sqlite}
DURATION=${DURATION:-10s}
CONCURRENCY=${CONCURRENCY:-16}
RATE=${RATE:-0}
PORT=${PORT:-18460}
VERIFY_FILE=${VERIFY_FILE:-/work/shared/testdata/external/ofd/999_kinggrid_chongqing_test.ofd}
work=$(mktemp -d)
LATENCY=${LATENCY:-0}
OPS=${OPS:-workday whoami pull pullbatch publish publish100 verify}
if [ -n "${GXHUB:-}" ]; then
  cp "$GXHUB" "${GXLOAD:?GXLOAD with GXHUB}" "$work/"
else
  go build -o "$work/" ./cmd/gxhub ./cmd/gxload
fi
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
gxload() { "$work/gxload" --identities "$work/data/demo" --duration "$DURATION" --concurrency "$CONCURRENCY" --hub-pid "$hub" "$@"; }
load() { gxload "$@" | tee -a "$work/out"; } # runs at peak: their UNITS lines make the summary
echo "# store $STORE, $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"
for op in $OPS; do
  case $op in
  pull)
    load --op pull
    peak=$(grep -A1 '^op pull ' "$work/out" | tail -1 | awk '{print $1}')
    if [ "$RATE" != 0 ]; then gxload --op pull --rate "$RATE" --concurrency $((CONCURRENCY * 2)); fi
    if [ "$LATENCY" != 0 ]; then
      for pct in 40 60 80; do
        r=$(awk -v p="$peak" -v q="$pct" 'BEGIN{printf "%d", p*q/100}')
        echo "# paced pull at $pct % of the peak $peak/s: --rate $r"
        gxload --op pull --rate "$r" --concurrency $((CONCURRENCY * 2)) | grep -E '^  (latency|[0-9]+ ops)' | sed "s/^/  [$pct %] /"
      done
    fi
    ;;
  pullbatch) load --op pullbatch --subjects 100 ;;
  publish100) load --op publish --batch 100 ;;
  verify) if [ -f "$VERIFY_FILE" ]; then load --op verify --verify-file "$VERIFY_FILE"; fi ;;
  *) load --op "$op" ;;
  esac
done
echo "# hub CPU in crypto units vs the targets of issue 18 (store $STORE; load average now $(cut -d' ' -f1-3 /proc/loadavg))"
grep '^  UNITS' "$work/out" || true
