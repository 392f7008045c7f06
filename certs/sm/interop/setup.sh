#!/usr/bin/env bash
# Installs the pinned sm-crypto (package-lock.json) into certs/sm/interop/node_modules for
# the SM2 interop test (certs/sm/interop_node_test.go). Idempotent: when node_modules
# already matches the lockfile it does nothing and needs no network.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"

if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
	echo "setup.sh: node and npm are required for the sm-crypto interop test (apt-get install nodejs npm)" >&2
	exit 1
fi

# npm writes node_modules/.package-lock.json after an install; when it equals the
# lockfile's packages, the tree is already what the lockfile pins.
installed_ok() {
	[ -f node_modules/sm-crypto/package.json ] && [ -f node_modules/.package-lock.json ] || return 1
	node -e '
		const want = require("./package-lock.json").packages, have = require("./node_modules/.package-lock.json").packages;
		for (const [p, v] of Object.entries(want)) {
			if (p === "") continue;
			if (!have[p] || have[p].version !== v.version || have[p].integrity !== v.integrity) process.exit(1);
		}
	'
}

if installed_ok; then
	echo "setup.sh: sm-crypto $(node -p 'require("./node_modules/sm-crypto/package.json").version') already installed"
else
	npm ci --no-audit --no-fund --prefer-offline
fi
node sm2.js selftest
