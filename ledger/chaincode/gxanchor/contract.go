package gxanchor

import (
	"encoding/json"
	"fmt"

	"github.com/hyperledger/fabric-contract-api-go/v2/contractapi"
)

// Name is the contract's name (and the chaincode name testnet/ deploys it under).
const Name = "gxanchor"

// EventHeadAnchored is the chaincode event AnchorHead emits (payload: the AnchoredHead JSON)
// when it records a new head.
const EventHeadAnchored = "HeadAnchored"

// Contract is the gxanchor smart contract: it anchors the signed tree heads of gxhub's
// audit logs and refuses any head that is not an append-only extension of the last one.
// Its transactions are thin adapters over the package functions of the same names.
type Contract struct {
	contractapi.Contract
}

// New returns the contract, ready for contractapi.NewChaincode.
func New() *Contract {
	c := &Contract{}
	c.Name = Name
	c.Info.Title = "gxhub audit log anchoring"
	c.Info.Version = "1.0.0"
	return c
}

func txOf(ctx contractapi.TransactionContextInterface) (Tx, error) {
	stub := ctx.GetStub()
	ts, err := stub.GetTxTimestamp()
	if err != nil {
		return Tx{}, fmt.Errorf("read transaction timestamp: %w", err)
	}
	return Tx{ID: stub.GetTxID(), Time: ts.AsTime()}, nil
}

// InitLog registers logID with its SM2 public key (PKIX PEM). Registering the same key
// again is a no-op; another key is refused with ErrLogExists.
func (c *Contract) InitLog(ctx contractapi.TransactionContextInterface, logID string, publicKeyPEM string) (*LogInfo, error) {
	tx, err := txOf(ctx)
	if err != nil {
		return nil, err
	}
	return InitLog(ctx.GetStub(), tx, logID, publicKeyPEM)
}

// GetLog returns the registration of logID.
func (c *Contract) GetLog(ctx contractapi.TransactionContextInterface, logID string) (*LogInfo, error) {
	return GetLog(ctx.GetStub(), logID)
}

// AnchorHead records a signed tree head; see the package function AnchorHead for the
// checks. rootHash, signature (DER) and proof elements are standard base64; timeUnixNano
// is the head's time in Unix nanoseconds; proof is a JSON array of strings.
func (c *Contract) AnchorHead(ctx contractapi.TransactionContextInterface, logID string, size uint64, rootHash string, timeUnixNano int64, signature string, proof []string) (*AnchoredHead, error) {
	tx, err := txOf(ctx)
	if err != nil {
		return nil, err
	}
	h := Head{LogID: logID, Size: size, RootHash: rootHash, Time: timeUnixNano, Signature: signature}
	a, created, err := AnchorHead(ctx.GetStub(), tx, h, proof)
	if err != nil {
		return nil, err
	}
	if created {
		payload, err := json.Marshal(a)
		if err != nil {
			return nil, fmt.Errorf("encode event: %w", err)
		}
		if err := ctx.GetStub().SetEvent(EventHeadAnchored, payload); err != nil {
			return nil, fmt.Errorf("set event: %w", err)
		}
	}
	return a, nil
}

// LatestHead returns the largest anchored head of logID.
func (c *Contract) LatestHead(ctx contractapi.TransactionContextInterface, logID string) (*AnchoredHead, error) {
	return LatestHead(ctx.GetStub(), logID)
}

// HeadAt returns the anchored head of logID of the given size.
func (c *Contract) HeadAt(ctx contractapi.TransactionContextInterface, logID string, size uint64) (*AnchoredHead, error) {
	return HeadAt(ctx.GetStub(), logID, size)
}

// AnchorAt returns the anchored head of logID at the given height (1 for the first).
func (c *Contract) AnchorAt(ctx contractapi.TransactionContextInterface, logID string, height uint64) (*AnchoredHead, error) {
	return AnchorAt(ctx.GetStub(), logID, height)
}
