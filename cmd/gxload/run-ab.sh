#!/usr/bin/env bash
# A/B runs of the hub CPU per operation in crypto units: builds gxhub and gxload at two git
# revisions and alternates them, each run on a fresh demo hub (cmd/gxload/run-load.sh), so
# that the load other processes put on the machine falls on both alike. Prints every run's
# UNITS lines labelled A or B. The load generator is B's gxload for both (only the hub differs).
#
#   cmd/gxload/run-ab.sh A_REV B_REV              # PAIRS=2 OPS="whoami pull pullbatch" DURATION=6s
set -euo pipefail
cd "$(dirname "$0")/../.."
a=${1:?usage: run-ab.sh A_REV B_REV}
b=${2:?usage: run-ab.sh A_REV B_REV}
PAIRS=${PAIRS:-2}
export OPS=${OPS:-whoami pull pullbatch} DURATION=${DURATION:-6s}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
build() { # $1 rev, $2 label
  mkdir -p "$work/src-$2" "$work/$2"
  git archive "$1" | tar -x -C "$work/src-$2"
  (cd "$work/src-$2" && go build -o "$work/$2/" ./cmd/gxhub ./cmd/gxload)
  echo "# $2 = $(git rev-parse --short "$1")"
}
build "$a" A
build "$b" B
for i in $(seq "$PAIRS"); do
  for side in A B; do
    GXHUB="$work/$side/gxhub" GXLOAD="$work/B/gxload" PORT=$((18470 + i)) cmd/gxload/run-load.sh 2>&1 |
      sed -n '/^# hub CPU in crypto units/,$p' | grep UNITS | sed "s/^  /$side run $i: /"
  done
done
