# Fabric test network (testnet/README.md). Included from the top-level Makefile.

.PHONY: testnet-build
testnet-build: ## build Fabric v2.5.9 binaries from the Go module proxy into testnet/.bin
	testnet/build.sh

.PHONY: testnet-up
testnet-up: testnet-build ## start orderer, two department peers and the gxanchor chaincode on 127.0.0.1
	testnet/up.sh

.PHONY: testnet-down
testnet-down: ## stop the test network (by PID) and remove testnet/.run
	testnet/down.sh

.PHONY: testnet-test
testnet-test: testnet-build ## end-to-end anchoring test against a real Fabric network (brings it up and down)
	GXHUB_FABRIC=1 $(GO) test -race -count=1 -timeout 15m -v -run 'TestFabric' ./testnet/
