#!/usr/bin/env bash
# Installs the pinned @apidevtools/swagger-parser and @redocly/cli (package-lock.json) into
# sdk/api/openapi/validate/node_modules for the OpenAPI validation test
# (sdk/api/openapi/openapi_test.go). Idempotent: when node_modules already matches the
# lockfile it does nothing and needs no network.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"

if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
	echo "setup.sh: node and npm are required for the OpenAPI validation test (apt-get install nodejs npm)" >&2
	exit 1
fi

installed_ok() {
	[ -f node_modules/@apidevtools/swagger-parser/package.json ] && [ -f node_modules/.package-lock.json ] || return 1
	node -e '
		const want = require("./package-lock.json").packages, have = require("./node_modules/.package-lock.json").packages;
		for (const [p, v] of Object.entries(want)) {
			if (p === "") continue;
			if (!have[p] || have[p].version !== v.version || have[p].integrity !== v.integrity) process.exit(1);
		}
	'
}

if installed_ok; then
	echo "setup.sh: swagger-parser $(node -p 'require("./node_modules/@apidevtools/swagger-parser/package.json").version') already installed"
else
	npm ci --no-audit --no-fund --prefer-offline
fi
node validate.js ../gxhub.swagger.json ../openapi.yaml
node_modules/.bin/redocly lint --config redocly.yaml ../openapi.yaml
