#!/usr/bin/env bash
# check.sh fails when the committed generated code of the wire contract is not
# what gen.sh would produce from the protos: it lints the protos, checks their
# formatting, regenerates everything into a temporary directory and compares
# that with the tree (content and the set of files). It never writes to the
# tree. `make test` calls it.
#
# Usage: sdk/api/check.sh   (exit 0: up to date; 1: out of date, diff printed)
set -euo pipefail

cd "$(dirname "$0")"
export GOWORK=off

buf() { go tool -modfile=tools/go.mod buf "$@"; }

fail=0
if ! buf lint; then
	echo "check.sh: buf lint failed (see above): fix the protos" >&2
	fail=1
fi
if ! buf format --diff --exit-code; then
	echo "check.sh: protos are not formatted (diff above)" >&2
	fail=1
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/fresh" "$tmp/tree"
buf generate --output "$tmp/fresh"
# The OpenAPI 3 document gets what the protos declare in openapiv2 options (security,
# summaries, operationIds), which protoc-gen-openapi does not read: tools/openapi3.
(cd tools && go run ./openapi3 "$tmp/fresh"/openapi/gxhub.swagger.json "$tmp/fresh"/openapi/openapi.yaml)

generated_files() {
	(cd "$1" && find . \( -path ./tools -o -path ./third_party \) -prune -o -type f \
		\( -name '*.pb.go' -o -name '*.pb.gw.go' -o -path './openapi/*.swagger.json' -o -path './openapi/openapi.yaml' \) -print | sed 's|^\./||' | LC_ALL=C sort)
}

# Copy the tree's generated files beside the fresh ones so that one recursive
# diff shows changed, missing and stale files alike.
generated_files . | while read -r f; do
	mkdir -p "$tmp/tree/$(dirname "$f")"
	cp "$f" "$tmp/tree/$f"
done
if ! diff <(generated_files .) <(generated_files "$tmp/fresh") >"$tmp/files.diff"; then
	echo "check.sh: the set of generated files differs (< only in the tree, > missing from it):" >&2
	cat "$tmp/files.diff"
	fail=1
fi
if ! (cd "$tmp" && diff -ruN tree fresh); then
	echo "check.sh: generated code in sdk/api is out of date (diff above: tree -> fresh)" >&2
	fail=1
fi
if [ "$fail" -ne 0 ]; then
	echo "check.sh: FAILED: run make generate (sdk/api/gen.sh) and commit the result" >&2
fi
exit "$fail"
