package sdk

import (
	"crypto/ecdsa"
	"errors"
	"fmt"

	"google.golang.org/protobuf/proto"

	"github.com/gxhub/gxhub/certs/sm"
	exchangev1 "github.com/gxhub/gxhub/sdk/api/exchange/v1"
)

// VerifyPull checks a pull response signed by the hub and returns the signed result.
//
// The hub signs PullResponse.payload — the deterministic protobuf encoding of a
// PullResult — with its SM2 key (default user ID 1234567812345678, SM3; DER signature in
// PullResponse.signature). VerifyPull verifies the signature over the payload bytes as
// received, with hubKey (the key you trust: AuditService.GetLogInfo publishes it; do not
// take it from the response), then decodes those bytes. Only the returned result is
// authenticated; the convenience copy in PullResponse.result is not. Each audit record the
// response names (audit_references) carries SM3(payload) as its response digest; see
// PayloadDigest.
func VerifyPull(resp *exchangev1.PullResponse, hubKey *ecdsa.PublicKey) (*exchangev1.PullResult, error) {
	if resp == nil || len(resp.GetPayload()) == 0 {
		return nil, errors.New("the pull response has no signed payload")
	}
	if hubKey == nil {
		return nil, errors.New("no hub key to verify with: fetch it from AuditService.GetLogInfo and keep it")
	}
	if err := sm.Verify(hubKey, resp.GetPayload(), resp.GetSignature()); err != nil {
		return nil, fmt.Errorf("the hub's signature over the pull result does not verify: %w", err)
	}
	var out exchangev1.PullResult
	if err := proto.Unmarshal(resp.GetPayload(), &out); err != nil {
		return nil, fmt.Errorf("the signed pull payload does not decode: %w", err)
	}
	return &out, nil
}

// PayloadDigest is SM3 of a pull response's payload: the response digest of its audit
// records.
func PayloadDigest(resp *exchangev1.PullResponse) [32]byte { return sm.Sum(resp.GetPayload()) }

// VerifyData checks the hub's SM2 signature over a verification (核验) response's payload —
// the bytes received — and only then decodes it: the outcome per claimed item (match,
// mismatch, no_record), never a value.
func VerifyData(resp *exchangev1.VerifyDataResponse, hubKey *ecdsa.PublicKey) (*exchangev1.VerifyResult, error) {
	if resp == nil || len(resp.GetPayload()) == 0 {
		return nil, errors.New("the verification response has no signed payload")
	}
	if hubKey == nil {
		return nil, errors.New("no hub key to verify with: fetch it from AuditService.GetLogInfo and keep it")
	}
	if err := sm.Verify(hubKey, resp.GetPayload(), resp.GetSignature()); err != nil {
		return nil, fmt.Errorf("the hub's signature over the verification result does not verify: %w", err)
	}
	var out exchangev1.VerifyResult
	if err := proto.Unmarshal(resp.GetPayload(), &out); err != nil {
		return nil, fmt.Errorf("the signed verification payload does not decode: %w", err)
	}
	return &out, nil
}

// VerifyDataDigest is SM3 of a verification response's payload: the response digest of its
// audit record.
func VerifyDataDigest(resp *exchangev1.VerifyDataResponse) [32]byte { return sm.Sum(resp.GetPayload()) }
