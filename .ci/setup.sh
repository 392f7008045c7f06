#!/usr/bin/env bash
# Installs what the test suite needs, idempotently. Safe to run on a fresh machine and again.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
command -v openssl >/dev/null || need_apt+=(openssl)
command -v node >/dev/null || need_apt+=(nodejs npm)
# testnet/ (native Fabric network) needs jq, ss (iproute2) and setsid (util-linux).
command -v jq >/dev/null || need_apt+=(jq)
command -v ss >/dev/null || need_apt+=(iproute2)
command -v setsid >/dev/null || need_apt+=(util-linux)
# Browser tests of the web pages (cmd/gxhub/internal/web) drive Debian's headless Chromium;
# a CJK font makes their screenshots legible.
command -v chromium >/dev/null || need_apt+=(chromium)
[ -e /usr/share/fonts/truetype/wqy/wqy-microhei.ttc ] || need_apt+=(fonts-wqy-microhei)
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "setup: installing ${need_apt[*]}"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}"
fi

# PostgreSQL for the store conformance suite (the machine provides the server).
if command -v pg_isready >/dev/null && ! pg_isready -q -h 127.0.0.1 -p 5432; then
  echo "setup: starting PostgreSQL"
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start || true
fi

# grpcurl, a real gRPC reflection client for the reflection test (cmd/gxhub/internal/hub),
# pinned, built from the Go module proxy into GOPATH/bin (a few minutes the first time).
GRPCURL_VERSION=v1.9.4
gobin="$(go env GOPATH)/bin"
if ! go version -m "$gobin/grpcurl" 2>/dev/null | grep -qE "^\s+mod\s+github.com/fullstorydev/grpcurl\s+$GRPCURL_VERSION\s"; then
  echo "setup: installing grpcurl $GRPCURL_VERSION into $gobin"
  GOBIN="$gobin" go install "github.com/fullstorydev/grpcurl/cmd/grpcurl@$GRPCURL_VERSION"
fi

# npm peers: SM2 interop (sm-crypto), OpenAPI validation (swagger-parser).
for s in certs/sm/interop/setup.sh sdk/api/openapi/validate/setup.sh; do
  if [ -x "$s" ]; then "$s"; fi
done
echo "setup: done"
