#!/usr/bin/env bash
# Stops the test network started by up.sh — each process by the PID recorded in
# testnet/.run/pids, TERM then KILL after 10 s — and removes testnet/.run. Idempotent.
#
#   GXHUB_TESTNET_RUN   run folder (default testnet/.run)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
RUN="${GXHUB_TESTNET_RUN:-$here/.run}"
log() { printf '[testnet/down] %s\n' "$*" >&2; }

if [[ ! -d "$RUN" ]]; then
	log "nothing to stop ($RUN does not exist)"
	exit 0
fi

# ours PID NAME: the PID is still the process we started (not a reused PID): its command
# line names a Fabric binary or the chaincode server.
ours() {
	local cmd
	cmd="$(tr '\0' ' ' <"/proc/$1/cmdline" 2>/dev/null)" || return 1
	case "$cmd" in
	*/orderer\ start* | *"/peer node start"* | *"$RUN/bin/gxanchor"*) return 0 ;;
	esac
	return 1
}

pids=()
names=()
# Stop the chaincode server and peers before the orderer.
for name in gxanchor peer2 peer1 orderer; do
	f="$RUN/pids/$name.pid"
	[[ -f "$f" ]] || continue
	pid="$(cat "$f")"
	if kill -0 "$pid" 2>/dev/null && ours "$pid"; then
		log "stopping $name (pid $pid)"
		kill -TERM "$pid" 2>/dev/null || true
		pids+=("$pid")
		names+=("$name")
	fi
done
for i in "${!pids[@]}"; do
	pid=${pids[$i]}
	for _ in $(seq 1 50); do
		kill -0 "$pid" 2>/dev/null || break
		# A killed child of an exited shell is reaped by init; a zombie counts as gone.
		[[ "$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null)" == Z ]] && break
		sleep 0.2
	done
	if kill -0 "$pid" 2>/dev/null && [[ "$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null)" != Z ]]; then
		log "${names[$i]} (pid $pid) ignored TERM for 10 s: KILL"
		kill -KILL "$pid" 2>/dev/null || true
	fi
done
rm -rf "$RUN"
log "stopped; removed $RUN"
