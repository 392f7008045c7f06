package sdk

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"errors"
	"fmt"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/gxhub/gxhub/certs/pki"
	"github.com/gxhub/gxhub/certs/sm"
	"github.com/gxhub/gxhub/ledger"
	"github.com/gxhub/gxhub/ledger/sm2sig"
	"github.com/gxhub/gxhub/ledger/verify"
	"github.com/gxhub/gxhub/ledger/witness"
	auditv1 "github.com/gxhub/gxhub/sdk/api/audit/v1"
	"github.com/gxhub/gxhub/sdk/api/convert"
)

// AuditReceipt is everything an auditor needs to check one audit record offline: the
// record, its inclusion proof in a signed tree head, the anchor block that anchored that
// head, the checkpoint the witnesses cosigned, and the hub's keys with their one-purpose
// certificates. Save it as JSON; VerifyAuditReceipt checks it without contacting the hub.
type AuditReceipt struct {
	verify.Receipt
	LogID     string `json:"log_id"`
	LogKeyPEM string `json:"log_key_pem"`
	// Anchored tells whether Anchor covers the record; when false the record is in a signed
	// head that has not been anchored yet (anchoring runs at the log's interval).
	Anchored bool `json:"anchored"`
	// AnchorKeyPEM is the key of the embedded anchor blocks (a key of its own; empty with
	// Fabric anchoring, whose blocks are not the hub's).
	AnchorKeyPEM string `json:"anchor_key_pem,omitempty"`
	// TreeHeadCertPEM, AnchorCertPEM: the hub CA's certificates of the two keys, each for
	// its one purpose; CAChainPEM the hub CA chain (issuing CA, root).
	TreeHeadCertPEM string `json:"tree_head_cert_pem,omitempty"`
	AnchorCertPEM   string `json:"anchor_cert_pem,omitempty"`
	CAChainPEM      string `json:"ca_chain_pem,omitempty"`
	// Checkpoint is the checkpoint of Head as cosigned by the hub's witnesses (a C2SP
	// signed note: the log's signature, then the cosignatures); empty when no cosigned
	// checkpoint covered the record when the receipt was made.
	Checkpoint string `json:"checkpoint,omitempty"`
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

// AuditReceipt fetches the receipt of the record at index. The proof goes up to the latest
// checkpoint cosigned by witnesses when it covers the record, else to the latest anchored
// head when that covers it, else to the latest signed head; the anchor block, when it
// covers the record, comes with the consistency proof from that head. The log signs heads
// at its interval, so a record appended a moment ago may not be in a signed head yet:
// AuditReceipt then waits for one that covers it, until ctx is done.
func (c *Client) AuditReceipt(ctx context.Context, index uint64) (*AuditReceipt, error) {
	info, err := c.Audit.GetLogInfo(ctx, &auditv1.GetLogInfoRequest{})
	if err != nil {
		return nil, err
	}
	if index >= info.GetSize() {
		return nil, fmt.Errorf("audit record %d does not exist: the log %s holds %d records", index, info.GetLogId(), info.GetSize())
	}
	r := &AuditReceipt{LogID: info.GetLogId(), LogKeyPEM: info.GetPublicKeyPem(), AnchorKeyPEM: info.GetAnchorKeyPem(),
		TreeHeadCertPEM: info.GetTreeHeadCertPem(), AnchorCertPEM: info.GetAnchorCertPem(), CAChainPEM: info.GetCaChainPem()}
	var size uint64
	if note := info.GetCheckpoint(); note != "" {
		n, err := witness.ParseNote([]byte(note))
		if err != nil {
			return nil, fmt.Errorf("the hub's cosigned checkpoint: %w", err)
		}
		cp, err := witness.ParseBody(n.Body)
		if err != nil {
			return nil, fmt.Errorf("the hub's cosigned checkpoint: %w", err)
		}
		if cp.Size > index {
			size, r.Checkpoint = cp.Size, note
		}
	}
	anchor, err := c.Audit.GetAnchor(ctx, &auditv1.GetAnchorRequest{})
	if err == nil && anchor.GetHead().GetTreeSize() > index {
		if size == 0 {
			size = anchor.GetHead().GetTreeSize()
		}
		if anchor.GetHead().GetTreeSize() >= size {
			a := convert.AnchorFromProto(anchor)
			r.Anchor, r.Anchored = &a, true
		}
	}
	p, err := c.coveringProof(ctx, index, size)
	if err != nil {
		return nil, err
	}
	if len(p.GetLeaf()) == 0 {
		return nil, fmt.Errorf("the hub proved audit record %d without its leaf: a record's contents are for auditors and the department that acted in it; ask one of them for the receipt", index)
	}
	r.Index, r.Leaf, r.Proof, r.Head = index, p.GetLeaf(), p.GetHashes(), convert.HeadFromProto(p.GetHead())
	if r.Anchored && r.Anchor.Head.Size > r.Head.Size {
		cp, err := c.Audit.GetConsistencyProof(ctx, &auditv1.GetConsistencyProofRequest{Size1: r.Head.Size, Size2: r.Anchor.Head.Size})
		if err != nil {
			return nil, err
		}
		r.AnchorProof = cp.GetHashes()
	}
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

// WitnessKey names a witness an auditor trusts and its cosigning public key (PEM).
type WitnessKey struct {
	Name      string
	PublicPEM string
}

// ReceiptPolicy is what an auditor requires of a receipt beyond its proofs.
type ReceiptPolicy struct {
	// LogKeyPEM pins the tree-head key (obtained out of band); empty uses the receipt's.
	LogKeyPEM string
	// HubCAPEM pins the hub's root certificate: the receipt's key certificates must chain
	// to it. Empty uses the root inside the receipt (the purposes are still checked).
	HubCAPEM string
	// Witnesses are the witnesses the auditor trusts; Threshold how many of them must have
	// cosigned the receipt's head (0: none required).
	Witnesses []WitnessKey
	Threshold int
}

// ReceiptVerdict is what VerifyAuditReceiptPolicy established.
type ReceiptVerdict struct {
	Record ledger.Record
	// KeyPurposes is set when the receipt carried the key certificates and each key
	// verified for its one purpose (tree heads, anchor blocks).
	KeyPurposes bool
	// Cosigners are the named witnesses whose cosignature of the head verified.
	Cosigners []string
}

// VerifyAuditReceipt checks a receipt offline with the log key it names (pin that key: a
// receipt is only as trustworthy as the key you accept; compare it with LogInfo obtained
// out of band). It returns the verified record. It requires no witness; see
// VerifyAuditReceiptPolicy.
func VerifyAuditReceipt(r *AuditReceipt, trustedLogKeyPEM string) (ledger.Record, error) {
	v, err := VerifyAuditReceiptPolicy(r, ReceiptPolicy{LogKeyPEM: trustedLogKeyPEM})
	return v.Record, err
}

// VerifyAuditReceiptPolicy checks a receipt offline: the record's inclusion in the signed
// head; the anchor block (signed by the anchor key, never by the tree-head key) and its
// consistency with the head; the requester's signed request when the record commits to
// one; when the receipt carries the hub's key certificates, that
// each key is certified by the hub CA for exactly its purpose; and, when p requires
// witnesses, that at least p.Threshold of p.Witnesses cosigned the receipt's head.
func VerifyAuditReceiptPolicy(r *AuditReceipt, p ReceiptPolicy) (ReceiptVerdict, error) {
	var out ReceiptVerdict
	if r == nil {
		return out, errors.New("no receipt")
	}
	keyPEM := p.LogKeyPEM
	if keyPEM == "" {
		keyPEM = r.LogKeyPEM
	}
	logPub, err := sm.ParsePublicKeyPEM([]byte(keyPEM))
	if err != nil {
		return out, fmt.Errorf("log key: %w", err)
	}
	logV, err := sm2sig.NewVerifier(logPub)
	if err != nil {
		return out, err
	}
	if r.Head.LogID != r.LogID {
		return out, fmt.Errorf("receipt head belongs to log %q, not %q", r.Head.LogID, r.LogID)
	}
	keys := verify.Keys{Log: logV}
	var anchorPub *ecdsa.PublicKey
	if r.Anchor != nil {
		if r.AnchorKeyPEM == "" {
			return out, errors.New("the receipt's anchor block comes without the anchor key: fetch a new receipt (gxctl audit proof), made since the hub signs anchor blocks with a key of their own")
		}
		if anchorPub, err = sm.ParsePublicKeyPEM([]byte(r.AnchorKeyPEM)); err != nil {
			return out, fmt.Errorf("anchor key: %w", err)
		}
		if anchorPub.Equal(logPub) {
			return out, errors.New("the anchor block is signed by the tree-head key: each purpose must have its own key")
		}
		if keys.Anchor, err = sm2sig.NewVerifier(anchorPub); err != nil {
			return out, err
		}
	}
	if out.Record, err = verify.VerifyReceipt(keys, r.Receipt); err != nil {
		return out, err
	}
	if len(out.Record.RequestDigest) > 0 || r.Request != nil {
		if _, err := VerifyRequestEvidence(out.Record, r.Request, p.HubCAPEM); err != nil {
			return out, err
		}
	}
	if r.TreeHeadCertPEM != "" {
		if err := checkKeyCert(r, p.HubCAPEM, r.TreeHeadCertPEM, logPub, pki.PurposeTreeHead, r.Head.Time); err != nil {
			return out, err
		}
		if r.Anchor != nil {
			if err := checkKeyCert(r, p.HubCAPEM, r.AnchorCertPEM, anchorPub, pki.PurposeAnchor, r.Anchor.Time); err != nil {
				return out, err
			}
		}
		out.KeyPurposes = true
	} else if p.HubCAPEM != "" {
		return out, errors.New("the receipt carries no key certificates to check against the pinned hub CA: fetch a new receipt (gxctl audit proof)")
	}
	if p.Threshold > 0 || len(p.Witnesses) > 0 {
		if out.Cosigners, err = checkCosigned(r, logPub, p); err != nil {
			return out, err
		}
	}
	return out, nil
}

// checkKeyCert checks that certPEM certifies pub for purpose p at time at, chained to the
// pinned root (or the receipt's own chain's root).
func checkKeyCert(r *AuditReceipt, pinnedRoot, certPEM string, pub *ecdsa.PublicKey, p pki.Purpose, at time.Time) error {
	certs, err := pki.ParseCertsPEM([]byte(certPEM))
	if err != nil || len(certs) == 0 {
		return fmt.Errorf("the certificate of the key for %s does not parse: %v", p, err)
	}
	if !pub.Equal(certs[0].PublicKey) {
		return fmt.Errorf("the certificate for %s certifies another key than the one that signed", p)
	}
	chain, err := pki.ParseCertsPEM([]byte(r.CAChainPEM))
	if err != nil || len(chain) == 0 {
		return fmt.Errorf("the receipt's hub CA chain does not parse: %v", err)
	}
	roots := chain[len(chain)-1:]
	if pinnedRoot != "" {
		if roots, err = pki.ParseCertsPEM([]byte(pinnedRoot)); err != nil || len(roots) == 0 {
			return fmt.Errorf("the pinned hub CA does not parse: %v", err)
		}
	}
	if err := pki.VerifyHubKeyCert(certs[0], p, roots, chain, at); err != nil {
		return fmt.Errorf("key for %s: %w", p, err)
	}
	return nil
}

// checkCosigned verifies the receipt's cosigned checkpoint against the policy's witnesses
// and requires it to be the receipt's head.
func checkCosigned(r *AuditReceipt, logPub *ecdsa.PublicKey, p ReceiptPolicy) ([]string, error) {
	if r.Checkpoint == "" {
		return nil, fmt.Errorf("%w: the receipt carries no cosigned checkpoint (%d witness cosignatures required)", witness.ErrThreshold, p.Threshold)
	}
	logKey, err := witness.NewKey(r.LogID, witness.TypeCheckpoint, logPub)
	if err != nil {
		return nil, err
	}
	var ws []*witness.Key
	for _, w := range p.Witnesses {
		pub, err := sm.ParsePublicKeyPEM([]byte(w.PublicPEM))
		if err != nil {
			return nil, fmt.Errorf("witness %s: its key: %w", w.Name, err)
		}
		k, err := witness.NewKey(w.Name, witness.TypeCosignature, pub)
		if err != nil {
			return nil, err
		}
		ws = append(ws, k)
	}
	cp, names, err := witness.VerifyCosigned([]byte(r.Checkpoint), logKey, ws, p.Threshold)
	if err != nil {
		return names, err
	}
	if cp.Size != r.Head.Size || !bytes.Equal(cp.Root, r.Head.Root) {
		return names, fmt.Errorf("%w: the cosigned checkpoint (size %d) is not the receipt's head (size %d)", ledger.ErrVerification, cp.Size, r.Head.Size)
	}
	return names, nil
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
	want := convert.RecordToProto(ledger.Entry{Index: r.GetIndex(), Leaf: r.GetLeaf(), Record: rec})
	if !proto.Equal(want, r) {
		return ledger.Record{}, fmt.Errorf("record %d: fields differ from its leaf", r.GetIndex())
	}
	return rec, nil
}
