#!/usr/bin/env bash
# Builds the Hyperledger Fabric v2.5.9 command-line binaries (peer, orderer, configtxgen,
# cryptogen, osnadmin) from the Go module proxy into a cache folder, and copies Fabric's
# sample configuration next to them. Idempotent: a binary already built at this version is
# skipped.
#
#   GXHUB_FABRIC_BIN   cache folder (default: testnet/.bin)
#
# See testnet/README.md and /work/shared/design/FABRIC-NATIVE.md for why it is done this way
# (the proxy serves v2.5.9 only as a pseudo-version, and `go install pkg@version` fails).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
FABRIC_MODULE="github.com/hyperledger/fabric"
FABRIC_VERSION="v0.0.0-20240618194258-7c3876255bf0" # tag v2.5.9, commit 7c3876255bf0
FABRIC_RELEASE="2.5.9"
BIN="${GXHUB_FABRIC_BIN:-$here/.bin}"
TOOLS=(peer orderer configtxgen cryptogen osnadmin)

log() { printf '[testnet/build] %s\n' "$*" >&2; }

mkdir -p "$BIN"
BIN="$(cd "$BIN" && pwd)"

# Test packages run in parallel and each may call this on a fresh machine: one build at a
# time (the second then finds what the first built), else they overwrite each other's files.
if [[ -z "${GXHUB_FABRIC_BUILD_LOCKED:-}" ]] && command -v flock >/dev/null 2>&1; then
	export GXHUB_FABRIC_BUILD_LOCKED=1
	exec flock "$BIN/.build.lock" "${BASH_SOURCE[0]}" "$@"
fi

missing=()
for t in "${TOOLS[@]}"; do
	if [[ -x "$BIN/$t" && -f "$BIN/$t.version" && "$(cat "$BIN/$t.version")" == "$FABRIC_VERSION" ]]; then
		log "$t: already built at Fabric $FABRIC_RELEASE ($FABRIC_VERSION), skipping"
	else
		missing+=("$t")
	fi
done
if [[ ${#missing[@]} -eq 0 && -f "$BIN/config/core.yaml" && -f "$BIN/config/orderer.yaml" ]]; then
	log "all binaries present in $BIN"
	exit 0
fi

# A scratch module pins Fabric at the pseudo-version; `go build` then resolves every
# dependency from Fabric's own go.mod via minimal version selection.
scratch="$BIN/.module"
mkdir -p "$scratch"
if [[ ! -f "$scratch/go.mod" ]]; then
	log "creating scratch module in $scratch"
	(cd "$scratch" && go mod init gxhub.local/fabric-build >/dev/null 2>&1)
fi

export GOFLAGS=-mod=mod
export GONOSUMDB="github.com/hyperledger${GONOSUMDB:+,$GONOSUMDB}"
export CGO_ENABLED="${CGO_ENABLED:-0}"

cd "$scratch"
for t in "${missing[@]}"; do
	log "go get $FABRIC_MODULE/cmd/$t@$FABRIC_VERSION"
	go get "$FABRIC_MODULE/cmd/$t@$FABRIC_VERSION"
done

ldflags="-X $FABRIC_MODULE/common/metadata.Version=$FABRIC_RELEASE"
ldflags+=" -X $FABRIC_MODULE/common/metadata.CommitSHA=7c3876255bf0"
for t in "${missing[@]}"; do
	start=$(date +%s)
	log "go build -o $BIN/$t $FABRIC_MODULE/cmd/$t"
	go build -trimpath -ldflags "$ldflags" -o "$BIN/$t.tmp" "$FABRIC_MODULE/cmd/$t"
	mv -f "$BIN/$t.tmp" "$BIN/$t"
	printf '%s\n' "$FABRIC_VERSION" >"$BIN/$t.version"
	log "$t built in $(($(date +%s) - start)) s"
done

# Fabric's default configuration (core.yaml, orderer.yaml, configtx.yaml) lives in the module
# source; the module cache is read-only, so copy it (writable) for up.sh to start from.
src="$(go env GOMODCACHE)/$FABRIC_MODULE@$FABRIC_VERSION/sampleconfig"
if [[ ! -d "$src" ]]; then
	log "error: $src not found; run 'go mod download $FABRIC_MODULE@$FABRIC_VERSION' with GONOSUMDB=github.com/hyperledger"
	exit 1
fi
log "copying Fabric sample configuration from $src to $BIN/config"
rm -rf "$BIN/config"
mkdir -p "$BIN/config"
cp -R "$src/." "$BIN/config/"
chmod -R u+w "$BIN/config"

log "done: $("$BIN/peer" version 2>/dev/null | sed -n 's/^ *Version: //p' | head -1) in $BIN"
