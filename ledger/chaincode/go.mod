module github.com/gxhub/gxhub/ledger/chaincode

go 1.26.0

require (
	github.com/emmansun/gmsm v0.44.0 // indirect
	github.com/hyperledger/fabric-chaincode-go/v2 v2.3.0 // indirect
	github.com/hyperledger/fabric-contract-api-go/v2 v2.2.0 // indirect
	github.com/hyperledger/fabric-protos-go-apiv2 v0.3.7 // indirect
	github.com/stretchr/testify v1.12.1 // indirect
	github.com/transparency-dev/merkle v0.0.2 // indirect
)
