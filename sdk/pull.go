package sdk

import (
	"crypto/ecdsa"
	"errors"
	"fmt"
	"slices"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/gxhub/gxhub/certs/pki"
	"github.com/gxhub/gxhub/certs/sm"
	"github.com/gxhub/gxhub/exchange/integrity"
	"github.com/gxhub/gxhub/ledger"
	auditv1 "github.com/gxhub/gxhub/sdk/api/audit/v1"
	"github.com/gxhub/gxhub/sdk/api/convert"
	exchangev1 "github.com/gxhub/gxhub/sdk/api/exchange/v1"
)

// VerifyPull checks a pull response signed by the hub and returns the signed result.
//
// The hub signs PullResponse.payload — the deterministic protobuf encoding of a
// PullResult — with its pull-response key, an SM2 key used for nothing else (default user
// ID 1234567812345678, SM3; DER signature in PullResponse.signature). VerifyPull verifies
// the signature over the payload bytes as received, with hubKey (the key you trust:
// AuditService.GetLogInfo publishes it as pull_key_pem, with a certificate from the hub CA
// for that purpose; do not take it from the response), then decodes those bytes. Only the returned result is
// authenticated; the convenience copy in PullResponse.result is not. Each audit record the
// response names (audit_references) carries SM3(payload) as its response digest; see
// PayloadDigest.
func VerifyPull(resp *exchangev1.PullResponse, hubKey *ecdsa.PublicKey) (*exchangev1.PullResult, error) {
	if resp == nil || len(resp.GetPayload()) == 0 {
		return nil, errors.New("the pull response has no signed payload")
	}
	if hubKey == nil {
		return nil, errors.New("no hub key to verify with: fetch pull_key_pem from AuditService.GetLogInfo and keep it")
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
	fields := rec.GetFields()
	if masked := res.GetMaskedItems(); len(masked) > 0 { // masked items are vouched for by their commitments
		fields = make(map[string]string, len(rec.GetFields()))
		for n, val := range rec.GetFields() {
			if !slices.Contains(masked, n) {
				fields[n] = val
			}
		}
	}
	digest, err := integrity.PublishedDigest(res.GetResource(), rec.GetSubject(), false, fields, convert.VouchFromProto(v), rec.GetBatchId())
	if err != nil {
		return ledger.Record{}, fmt.Errorf("record of %s version %d: %w", rec.GetSubject(), rec.GetVersion(), err)
	}
	if err := integrity.CheckPublishRecord(pub, res.GetResource(), res.GetProvider(), rec.GetBatchId(), digest); err != nil {
		return ledger.Record{}, fmt.Errorf("record of %s version %d against publish record %d: %w", rec.GetSubject(), rec.GetVersion(), publish.Index, err)
	}
	return pub, nil
}

// PullKey returns the hub's pull-response key from LogInfo after checking its certificate:
// issued by the hub CA (chained to hubRootPEM when given, else to the root in info) for the
// pull-response purpose only, and certifying exactly that key. Pin the root out of band
// (GET /v1/trust) for the check to mean more than the hub's word.
func PullKey(info *auditv1.LogInfo, hubRootPEM string, at time.Time) (*ecdsa.PublicKey, error) {
	pub, err := sm.ParsePublicKeyPEM([]byte(info.GetPullKeyPem()))
	if err != nil {
		return nil, fmt.Errorf("the hub's pull-response key: %w", err)
	}
	certs, err := pki.ParseCertsPEM([]byte(info.GetPullCertPem()))
	if err != nil || len(certs) == 0 {
		return nil, fmt.Errorf("the hub publishes no certificate of its pull-response key: %v", err)
	}
	if !pub.Equal(certs[0].PublicKey) {
		return nil, errors.New("the pull-response certificate certifies another key")
	}
	chain, err := pki.ParseCertsPEM([]byte(info.GetCaChainPem()))
	if err != nil || len(chain) == 0 {
		return nil, fmt.Errorf("the hub's CA chain does not parse: %v", err)
	}
	roots := chain[len(chain)-1:]
	if hubRootPEM != "" {
		if roots, err = pki.ParseCertsPEM([]byte(hubRootPEM)); err != nil || len(roots) == 0 {
			return nil, fmt.Errorf("the pinned hub root does not parse: %v", err)
		}
	}
	if err := pki.VerifyHubKeyCert(certs[0], pki.PurposePull, roots, chain, at); err != nil {
		return nil, err
	}
	return pub, nil
}

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
