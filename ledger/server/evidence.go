package server

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"strings"
	"time"

	"github.com/gxhub/gxhub/exchange"
	"github.com/gxhub/gxhub/exchange/rpc"
	"github.com/gxhub/gxhub/exchange/store"
	"github.com/gxhub/gxhub/ledger"
	auditv1 "github.com/gxhub/gxhub/sdk/api/audit/v1"
	"github.com/gxhub/gxhub/sdk/reqsig"
)

// RequestAttribution binds every audit record appended while serving a signed request to
// that request (REQUIREMENTS E5, E6): the record's operator is the authenticated operator
// (its certificate serial; "" when the department's own key signed — a client-supplied
// operator name is never recorded), and its request digest is SM3 of the compact JWS the
// requester sent, which is kept in the evidence store with the signer's certificate before
// the record is appended. A record whose evidence cannot be kept is not appended.
type RequestAttribution struct {
	Evidence store.Evidence
}

// Attribute completes r from the caller in ctx (ledgerlog.Config.Attribute).
func (a RequestAttribution) Attribute(ctx context.Context, r *ledger.Record) error {
	c, ok := rpc.CallerFrom(ctx)
	if !ok {
		return nil
	}
	r.Operator = c.OperatorID()
	env := c.Envelope()
	if env == "" || len(c.SignerCert) == 0 {
		return nil // a browser session: no per-request signature to keep
	}
	d, err := c.KeepEvidence(func(digest []byte) error { return a.Evidence.Put(ctx, digest, env, c.SignerCert) })
	if err != nil {
		return err
	}
	r.RequestDigest = d
	return nil
}

// EvidenceService implements gxhub.audit.v1.EvidenceService: the signed request behind a
// record, to auditors and to the department that acted in it.
type EvidenceService struct {
	auditv1.UnimplementedEvidenceServiceServer
	Log        ledger.Log
	Evidence   store.Evidence
	CAChainPEM string
}

// GetRequestEvidence returns the envelope whose digest the record's leaf commits to.
func (s *EvidenceService) GetRequestEvidence(ctx context.Context, req *auditv1.GetRequestEvidenceRequest) (*auditv1.RequestEvidence, error) {
	c, err := rpc.RequireCaller(ctx)
	if err != nil {
		return nil, err
	}
	e, err := s.Log.GetRecord(ctx, req.GetIndex())
	if err != nil {
		return nil, rpc.LedgerErr(err)
	}
	if !mayReadRecord(c, e.Record) {
		return nil, exchange.Errorf(exchange.KindPermissionDenied, "AUDITOR_REQUIRED",
			"the request behind audit record %d is readable by auditors and by the department that acted in it, not by %s", req.GetIndex(), c.Department.Code)
	}
	if len(e.Record.RequestDigest) == 0 {
		return nil, exchange.Errorf(exchange.KindNotFound, "AUDIT_NO_REQUEST",
			"audit record %d was not made by a signed request (a background task, a browser session, or a record from before requests were kept)", req.GetIndex())
	}
	env, cert, err := s.Evidence.Get(ctx, e.Record.RequestDigest)
	if err != nil {
		return nil, err
	}
	out := &auditv1.RequestEvidence{Index: req.GetIndex(), Envelope: env, SignerCertificatePem: string(pemCert(cert)), CaChainPem: s.CAChainPEM}
	if t, ok := envelopeTime(env); ok {
		out.SignedAt = ts(t)
	}
	return out, nil
}

// envelopeTime reads the claimed signing time of a compact JWS request envelope, unverified.
func envelopeTime(env string) (time.Time, bool) {
	parts := strings.Split(env, ".")
	if len(parts) != 3 {
		return time.Time{}, false
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return time.Time{}, false
	}
	var c reqsig.Claims
	if json.Unmarshal(b, &c) != nil || c.Time == 0 {
		return time.Time{}, false
	}
	return time.Unix(c.Time, 0).UTC(), true
}
