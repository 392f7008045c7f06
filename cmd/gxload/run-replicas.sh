#!/usr/bin/env bash
# Pulls through 1, 2 and 3 gxhub replicas sharing one PostgreSQL schema (issue 7, scaling):
# hub 1 seeds the demo departments; hubs 2 and 3 start from a copy of its data directory
# (keys, identities, TLS) on the same database. For each replica count, gxload drives
# pulls through every hub at once (CONCURRENCY workers in total) and the script prints each
# hub's figures and the total. Afterwards it checks the shared audit log: one tree, no
# index used twice, every pull acknowledged by any hub audited exactly once.
#
#   cmd/gxload/run-replicas.sh            # DURATION=10s CONCURRENCY=24
set -euo pipefail
cd "$(dirname "$0")/../.."
DURATION=${DURATION:-10s}
CONCURRENCY=${CONCURRENCY:-24}
base=${GXHUB_TEST_POSTGRES:-postgres://postgres@127.0.0.1:5432/test}
work=$(mktemp -d)
schema="gxrep_$$"
go build -o "$work/" ./cmd/gxhub ./cmd/gxload
psql "$base" -q -c "CREATE SCHEMA $schema"
sep='?'; [[ "$base" == *\?* ]] && sep='&'
dsn="${base}${sep}search_path=${schema}"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  psql "$base" -q -c "SET client_min_messages = warning; DROP SCHEMA $schema CASCADE" || true
  rm -rf "$work"
}
trap cleanup EXIT
start_hub() { # $1 number, $2 data dir, extra args
  local n=$1 dir=$2; shift 2
  "$work/gxhub" serve --listen "127.0.0.1:$((18470 + n))" --data-dir "$dir" --store postgres --postgres-dsn "$dsn" "$@" >"$work/hub$n.log" 2>&1 &
  pids+=($!)
  for _ in $(seq 100); do grep -q "msg=serving" "$work/hub$n.log" 2>/dev/null && return; sleep 0.2; done
  echo "hub $n did not start:"; cat "$work/hub$n.log"; exit 1
}
start_hub 1 "$work/d1" --demo
for n in 2 3; do cp -a "$work/d1" "$work/d$n"; start_hub "$n" "$work/d$n"; done
echo "# $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg); all hubs, PostgreSQL and gxload share them"
acked=0
for replicas in 1 2 3; do
  per=$((CONCURRENCY / replicas))
  loads=()
  for n in $(seq "$replicas"); do
    "$work/gxload" --identities "$work/d1/demo" --hub "https://127.0.0.1:$((18470 + n))" --op pull \
      --duration "$DURATION" --concurrency "$per" --hub-pid "${pids[$((n - 1))]}" >"$work/load$n.out" 2>&1 &
    loads+=($!)
  done
  wait "${loads[@]}"
  total=0; errors=0
  for n in $(seq "$replicas"); do
    line=$(grep -m1 ' ok ' "$work/load$n.out")
    ops=$(awk '{print $1}' <<<"$line"); ok=$(awk '{print $4}' <<<"$line"); err=$(awk '{print $6}' <<<"$line")
    p99=$(awk '/p99/{print $(NF-1)}' "$work/load$n.out")
    cpu=$(grep -o 'hub CPU per op [0-9]* µs' "$work/load$n.out" || true)
    echo "replicas $replicas: hub $n  $ops pulls/s  p99 $p99 ms  errors $err  $cpu"
    total=$(echo "$total + $ops" | bc); errors=$((errors + err)); acked=$((acked + ok))
  done
  echo "replicas $replicas: total $total pulls/s, errors $errors"
done
sleep 2 # the indexers follow the log within 50 ms
# The shared log: leaves numbered 0..size-1 without gaps or repeats, and every acknowledged
# pull audited exactly once (granted pull records in the index).
# Leaves are stored in bundles of 256 (the last one possibly in fragments): the size and the
# rows holding them.
PGOPTIONS="-c search_path=$schema" psql "$base" -At -c "SELECT 'audit log: size ' || (SELECT size FROM ledger_logs) || ', bundle rows ' || count(*) || ', full bundles ' || count(*) FILTER (WHERE pos = 0) || ', first fragment at ' || min(bundle * 256 + pos) FROM ledger_bundles"
audited=$(PGOPTIONS="-c search_path=$schema" psql "$base" -At -c "SELECT count(*) FROM audit_index WHERE kind = 'pull' AND outcome = 'granted'")
echo "pulls acknowledged $acked, granted pull records in the audit log $audited"
[ "$acked" = "$audited" ] || { echo "MISMATCH"; exit 1; }
