package sdk

import (
	"context"
	"errors"
	"fmt"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/gxhub/gxhub/certs/sm"
	"github.com/gxhub/gxhub/exchange/server"
	"github.com/gxhub/gxhub/ledger"
	"github.com/gxhub/gxhub/ledger/sm2sig"
	"github.com/gxhub/gxhub/ledger/verify"
	auditv1 "github.com/gxhub/gxhub/sdk/api/audit/v1"
)

// AuditReceipt is everything an auditor needs to check one audit record offline: the
// record, its inclusion proof in a signed tree head, the anchor block that anchored that
// head, and the log's public key. Save it as JSON; VerifyAuditReceipt checks it without
// contacting the hub.
type AuditReceipt struct {
	verify.Receipt
	LogID     string `json:"log_id"`
	LogKeyPEM string `json:"log_key_pem"`
	// Anchored tells whether Anchor covers the record; when false the record is in a signed
	// head that has not been anchored yet (anchoring runs at the log's interval).
	Anchored bool `json:"anchored"`
	// Request is the requester's signed request behind the record (whose SM3 digest the
	// leaf commits to) with the signer's certificate chain; nil when the record was not made
	// by a signed request.
	Request *RequestEvidence `json:"request,omitempty"`
}

// RequestEvidence is a signed request envelope and the chain of the certificate that
// signed it.
type RequestEvidence struct {
	// Envelope is the compact JWS the requester sent (see package reqsig).
	Envelope string `json:"envelope"`
	// SignerCertPEM is the department's or operator's certificate whose key signed it.
	SignerCertPEM string `json:"signer_certificate_pem"`
	// CAChainPEM is the hub's CA chain, issuing CA first, up to the root.
	CAChainPEM string `json:"ca_chain_pem"`
}

// AuditReceipt fetches the receipt of the record at index: the proof goes up to the latest
// anchored head when it covers the record, else to the latest signed head. The log signs
// heads at its interval, so a record appended a moment ago may not be in a signed head
// yet: AuditReceipt then waits for one that covers it, until ctx is done.
func (c *Client) AuditReceipt(ctx context.Context, index uint64) (*AuditReceipt, error) {
	info, err := c.Audit.GetLogInfo(ctx, &auditv1.GetLogInfoRequest{})
	if err != nil {
		return nil, err
	}
	if index >= info.GetSize() {
		return nil, fmt.Errorf("audit record %d does not exist: the log %s holds %d records", index, info.GetLogId(), info.GetSize())
	}
	r := &AuditReceipt{LogID: info.GetLogId(), LogKeyPEM: info.GetPublicKeyPem()}
	var size uint64
	anchor, err := c.Audit.GetAnchor(ctx, &auditv1.GetAnchorRequest{})
	if err == nil && anchor.GetHead().GetTreeSize() > index {
		size = anchor.GetHead().GetTreeSize()
		a := server.AnchorFromProto(anchor)
		r.Anchor, r.Anchored = &a, true
	}
	p, err := c.coveringProof(ctx, index, size)
	if err != nil {
		return nil, err
	}
	if len(p.GetLeaf()) == 0 {
		return nil, fmt.Errorf("the hub proved audit record %d without its leaf: a record's contents are for auditors and the department that acted in it; ask one of them for the receipt", index)
	}
	r.Index, r.Leaf, r.Proof, r.Head = index, p.GetLeaf(), p.GetHashes(), server.HeadFromProto(p.GetHead())
	var rec ledger.Record
	if err := rec.UnmarshalBinary(r.Leaf); err != nil {
		return nil, fmt.Errorf("audit record %d: %w", index, err)
	}
	if len(rec.RequestDigest) > 0 {
		ev, err := c.Evidence.GetRequestEvidence(ctx, &auditv1.GetRequestEvidenceRequest{Index: index})
		if err != nil {
			return nil, fmt.Errorf("the signed request behind audit record %d: %w", index, err)
		}
		r.Request = &RequestEvidence{Envelope: ev.GetEnvelope(), SignerCertPEM: ev.GetSignerCertificatePem(), CAChainPEM: ev.GetCaChainPem()}
	}
	return r, nil
}

// coveringProof asks for the inclusion proof of index in the head of the given size (0 for
// the latest). For the latest head it waits, backing off up to a second between attempts,
// while the hub answers that no signed head covers the record yet.
func (c *Client) coveringProof(ctx context.Context, index, size uint64) (*auditv1.InclusionProof, error) {
	wait := 20 * time.Millisecond
	for {
		p, err := c.Audit.GetInclusionProof(ctx, &auditv1.GetInclusionProofRequest{Index: index, TreeSize: size})
		if err == nil || size != 0 {
			return p, err
		}
		if r := Reason(err); r != "AUDIT_NO_HEAD" && r != "AUDIT_NOT_COVERED" {
			return nil, err
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, fmt.Errorf("no signed tree head covers audit record %d yet (%w): %w", index, ctx.Err(), err)
		case <-t.C:
		}
		wait = min(2*wait, time.Second)
	}
}

// VerifyAuditReceipt checks a receipt offline with the log key it names (pin that key: a
// receipt is only as trustworthy as the key you accept; compare it with LogInfo obtained
// out of band). It returns the verified record.
func VerifyAuditReceipt(r *AuditReceipt, trustedLogKeyPEM string) (ledger.Record, error) {
	if r == nil {
		return ledger.Record{}, errors.New("no receipt")
	}
	keyPEM := trustedLogKeyPEM
	if keyPEM == "" {
		keyPEM = r.LogKeyPEM
	}
	pub, err := sm.ParsePublicKeyPEM([]byte(keyPEM))
	if err != nil {
		return ledger.Record{}, fmt.Errorf("log key: %w", err)
	}
	v, err := sm2sig.NewVerifier(pub)
	if err != nil {
		return ledger.Record{}, err
	}
	if r.Head.LogID != r.LogID {
		return ledger.Record{}, fmt.Errorf("receipt head belongs to log %q, not %q", r.Head.LogID, r.LogID)
	}
	rec, err := verify.VerifyReceipt(verify.Keys{Log: v, Anchor: v}, r.Receipt)
	if err != nil {
		return ledger.Record{}, err
	}
	if len(rec.RequestDigest) > 0 || r.Request != nil {
		if _, err := VerifyRequestEvidence(rec, r.Request, ""); err != nil {
			return ledger.Record{}, err
		}
	}
	return rec, nil
}

// SearchAuditRecords pages through every audit record matching req (auditor role), in log
// index order, and calls fn for each; fn's error stops the search and is returned. page,
// if not nil, is called after each page with the number of records passed so far (for
// progress on long exports). It returns how many records it passed to fn. req.PageToken
// is the starting point and is advanced in req as pages are read.
func (c *Client) SearchAuditRecords(ctx context.Context, req *auditv1.SearchRecordsRequest, fn func(*auditv1.AuditRecord) error, page func(n int)) (int, error) {
	n := 0
	for {
		resp, err := c.Audit.SearchRecords(ctx, req)
		if err != nil {
			return n, err
		}
		for _, r := range resp.GetRecords() {
			if err := fn(r); err != nil {
				return n, err
			}
			n++
		}
		if page != nil {
			page(n)
		}
		if resp.GetNextPageToken() == "" {
			return n, nil
		}
		req.PageToken = resp.GetNextPageToken()
	}
}

// VerifySearchResult checks that a search result is the record it claims to be: its
// decoded fields must be exactly those of its canonical leaf. Prove the leaf itself with
// AuditReceipt(ctx, r.Index) and VerifyAuditReceipt.
func VerifySearchResult(r *auditv1.AuditRecord) (ledger.Record, error) {
	if r.GetTampered() {
		return ledger.Record{}, fmt.Errorf("record %d: the hub reports it tampered: its stored leaf no longer matches the log's tree", r.GetIndex())
	}
	var rec ledger.Record
	if err := rec.UnmarshalBinary(r.GetLeaf()); err != nil {
		return ledger.Record{}, fmt.Errorf("record %d: leaf does not decode: %w", r.GetIndex(), err)
	}
	want := server.RecordToProto(ledger.Entry{Index: r.GetIndex(), Leaf: r.GetLeaf(), Record: rec})
	if !proto.Equal(want, r) {
		return ledger.Record{}, fmt.Errorf("record %d: fields differ from its leaf", r.GetIndex())
	}
	return rec, nil
}
