package sdk

import (
	"crypto/ecdsa"
	"errors"
	"fmt"

	"google.golang.org/protobuf/proto"

	"github.com/gxhub/gxhub/certs/sm"
	"github.com/gxhub/gxhub/exchange/server"
	"github.com/gxhub/gxhub/ledger"
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

// VerifyPulledRecord checks offline that a record served in a pull is exactly what its
// provider published (docs/AUDIT.md, "Record integrity"). res is the pull result as
// VerifyPull returned it, rec one of its records, and publish the receipt of the publish
// audit record of rec's batch (an auditor, or the provider, fetches it with
// AuditReceipt(ctx, rec.GetVouch().GetPublishRecord())); trustedLogKeyPEM pins the log key
// as in VerifyAuditReceipt. It returns the verified publish record.
func VerifyPulledRecord(res *exchangev1.PullResult, rec *exchangev1.PulledRecord, publish *AuditReceipt, trustedLogKeyPEM string) (ledger.Record, error) {
	v := rec.GetVouch()
	if v == nil {
		return ledger.Record{}, fmt.Errorf("record of %s version %d carries no vouch: nothing ties it to a publish record", rec.GetSubject(), rec.GetVersion())
	}
	if publish == nil {
		return ledger.Record{}, fmt.Errorf("no receipt of publish record %d given: fetch it with gxctl audit proof %d (auditor or provider)", v.GetPublishRecord(), v.GetPublishRecord())
	}
	if publish.Index != v.GetPublishRecord() {
		return ledger.Record{}, fmt.Errorf("the receipt is of audit record %d, but record of %s version %d is vouched for by publish record %d", publish.Index, rec.GetSubject(), rec.GetVersion(), v.GetPublishRecord())
	}
	pub, err := VerifyAuditReceipt(publish, trustedLogKeyPEM)
	if err != nil {
		return ledger.Record{}, fmt.Errorf("publish record %d: %w", publish.Index, err)
	}
	digest, err := server.PublishedDigest(res.GetResource(), rec.GetSubject(), false, rec.GetFields(), server.VouchFromProto(v), rec.GetBatchId())
	if err != nil {
		return ledger.Record{}, fmt.Errorf("record of %s version %d: %w", rec.GetSubject(), rec.GetVersion(), err)
	}
	if err := server.CheckPublishRecord(pub, res.GetResource(), res.GetProvider(), rec.GetBatchId(), digest); err != nil {
		return ledger.Record{}, fmt.Errorf("record of %s version %d against publish record %d: %w", rec.GetSubject(), rec.GetVersion(), publish.Index, err)
	}
	return pub, nil
}
