// Package chaincode is the root of gxhub's Hyperledger Fabric chaincode module. The module
// is separate from the main gxhub module so that fabric-contract-api-go and its
// dependencies never enter the hub's build; the hub talks to the chaincode only through a
// Fabric network (see ledger/fabric and testnet/).
//
// The contract lives in package gxanchor; cmd/gxanchor runs it as an external chaincode
// service (chaincode-as-a-service).
package chaincode
