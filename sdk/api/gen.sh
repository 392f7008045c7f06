#!/usr/bin/env bash
# gen.sh regenerates the committed code of the gxhub wire contract from the
# protos under sdk/api: Go messages (*.pb.go), gRPC stubs (*_grpc.pb.go),
# grpc-gateway handlers (*.pb.gw.go) and the merged OpenAPI document
# (openapi/gxhub.swagger.json). It lints and formats the protos first.
#
# It needs no network beyond the Go module cache: the tools are pinned in
# tools/go.mod and third-party protos are vendored in third_party/.
# Idempotent: running it twice leaves the tree unchanged.
#
# Usage: sdk/api/gen.sh            (from anywhere; `make generate` calls it)
set -euo pipefail

cd "$(dirname "$0")"
# -modfile cannot be combined with a go.work file; the tools module stands alone.
export GOWORK=off

buf() { go tool -modfile=tools/go.mod buf "$@"; }

buf format --write
buf lint

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
buf generate --output "$tmp"
# The OpenAPI 3 document gets what the protos declare in openapiv2 options (security,
# summaries, operationIds), which protoc-gen-openapi does not read: tools/openapi3.
(cd tools && go run ./openapi3 "$tmp"/openapi/gxhub.swagger.json "$tmp"/openapi/openapi.yaml)

# Generated files of the tree (outside tools/ and third_party/), relative paths.
generated_files() {
	(cd "$1" && find . \( -path ./tools -o -path ./third_party \) -prune -o -type f \
		\( -name '*.pb.go' -o -name '*.pb.gw.go' -o -path './openapi/*.swagger.json' -o -path './openapi/openapi.yaml' \) -print | sed 's|^\./||' | LC_ALL=C sort)
}

# Remove generated files whose proto is gone, then copy the fresh output over
# (only files that differ, so unchanged files keep their timestamps).
comm -23 <(generated_files .) <(generated_files "$tmp") | while read -r f; do
	echo "gen.sh: removing stale $f"
	rm -f -- "$f"
done
generated_files "$tmp" | while read -r f; do
	if ! cmp -s "$tmp/$f" "$f"; then
		mkdir -p "$(dirname "$f")"
		cp "$tmp/$f" "$f"
		echo "gen.sh: wrote $f"
	fi
done
