// Command gxanchor runs the gxanchor contract as an external chaincode service
// (Fabric chaincode-as-a-service): it listens for the peers instead of connecting to them.
//
// Environment:
//
//	CHAINCODE_SERVER_ADDRESS  host:port to listen on (required), e.g. 127.0.0.1:17100
//	CHAINCODE_ID              package id printed by `peer lifecycle chaincode install` (required)
//	CHAINCODE_TLS_KEY_FILE, CHAINCODE_TLS_CERT_FILE
//	                          PEM key and certificate: serve TLS (otherwise plaintext)
//	CHAINCODE_TLS_CLIENT_CA_FILE
//	                          PEM CA certificates peers' client certificates must chain to
package main

import (
	"fmt"
	"log/slog"
	"os"

	"github.com/hyperledger/fabric-chaincode-go/v2/shim"
	"github.com/hyperledger/fabric-contract-api-go/v2/contractapi"

	"github.com/gxhub/gxhub/ledger/chaincode/gxanchor"
)

func main() {
	if err := run(); err != nil {
		slog.Error("gxanchor chaincode server stopped", "err", err)
		os.Exit(1)
	}
}

func run() error {
	addr := os.Getenv("CHAINCODE_SERVER_ADDRESS")
	ccid := os.Getenv("CHAINCODE_ID")
	if addr == "" || ccid == "" {
		return fmt.Errorf("set CHAINCODE_SERVER_ADDRESS (listen address) and CHAINCODE_ID (the package id from `peer lifecycle chaincode install`)")
	}
	cc, err := contractapi.NewChaincode(gxanchor.New())
	if err != nil {
		return fmt.Errorf("build chaincode: %w", err)
	}
	tlsProps, err := tlsFromEnv()
	if err != nil {
		return err
	}
	server := &shim.ChaincodeServer{CCID: ccid, Address: addr, CC: cc, TLSProps: tlsProps}
	slog.Info("gxanchor chaincode server listening", "address", addr, "ccid", ccid, "tls", !tlsProps.Disabled)
	return server.Start()
}

func tlsFromEnv() (shim.TLSProperties, error) {
	keyFile, certFile := os.Getenv("CHAINCODE_TLS_KEY_FILE"), os.Getenv("CHAINCODE_TLS_CERT_FILE")
	if keyFile == "" && certFile == "" {
		return shim.TLSProperties{Disabled: true}, nil
	}
	if keyFile == "" || certFile == "" {
		return shim.TLSProperties{}, fmt.Errorf("set both CHAINCODE_TLS_KEY_FILE and CHAINCODE_TLS_CERT_FILE, or neither")
	}
	key, err := os.ReadFile(keyFile)
	if err != nil {
		return shim.TLSProperties{}, fmt.Errorf("read TLS key: %w", err)
	}
	cert, err := os.ReadFile(certFile)
	if err != nil {
		return shim.TLSProperties{}, fmt.Errorf("read TLS certificate: %w", err)
	}
	p := shim.TLSProperties{Key: key, Cert: cert}
	if ca := os.Getenv("CHAINCODE_TLS_CLIENT_CA_FILE"); ca != "" {
		if p.ClientCACerts, err = os.ReadFile(ca); err != nil {
			return shim.TLSProperties{}, fmt.Errorf("read TLS client CA: %w", err)
		}
	}
	return p, nil
}
