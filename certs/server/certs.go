package server

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/emmansun/gmsm/smx509"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/gxhub/gxhub/certs/ecert"
	"github.com/gxhub/gxhub/certs/ecert/ecverify"
	"github.com/gxhub/gxhub/certs/jws"
	"github.com/gxhub/gxhub/certs/pki"
	"github.com/gxhub/gxhub/certs/ses"
	"github.com/gxhub/gxhub/certs/sm"
	"github.com/gxhub/gxhub/certs/trust"
	"github.com/gxhub/gxhub/certs/verify"
	"github.com/gxhub/gxhub/exchange"
	"github.com/gxhub/gxhub/exchange/rpc"
	"github.com/gxhub/gxhub/exchange/store"
	"github.com/gxhub/gxhub/ledger"
	certsv1 "github.com/gxhub/gxhub/sdk/api/certs/v1"
	"github.com/gxhub/gxhub/sdk/api/convert"
)

// Audit kinds of the certificate services.
const (
	KindCertVerify         ledger.Kind = "cert.verify"
	KindECertTypeRegister  ledger.Kind = "ecert.type.register"
	KindECertIssue         ledger.Kind = "ecert.issue"
	KindECertUpdate        ledger.Kind = "ecert.update"
	KindECertStatus        ledger.Kind = "ecert.status"
	KindECertPresent       ledger.Kind = "ecert.present"
	KindECertPresentVerify ledger.Kind = "ecert.present.verify"
	KindSealMake           ledger.Kind = "seal.make"
	KindSealRevoke         ledger.Kind = "seal.revoke"
	KindECertList          ledger.Kind = "ecert.list"    // a holder's licences looked up
	KindSealedDocumentRead ledger.Kind = "document.read" // a registered sealed document's content read
)

// MaxVerifyBatch bounds VerifyBatch.
const MaxVerifyBatch = 32

// SealMaker is the hub's seal-making key and its seal-maker (制章人) certificate.
type SealMaker struct {
	Key  *sm.PrivateKey
	Cert *smx509.Certificate
}

// Certs holds what the certificate services (VerifyService, ECertService, SealService)
// share. Build it with NewCerts.
type Certs struct {
	Store store.Store
	Audit *store.AuditWriter
	// SubjectKey hashes a holder's code in the records of lookups by holder.
	SubjectKey ledger.SubjectKeyFunc
	Log        *slog.Logger
	Now        func() time.Time
	// Trust is the trust store: the hub's root, the coordinator's trust bundle, extra
	// roots, and the CRL and OCSP revocation sources. Intermediates are the hub's issuing CAs.
	Trust         *TrustStore
	Intermediates []*smx509.Certificate
	// HubKey signs presentation tokens; HubKeyID is its kid.
	HubKey   *sm.PrivateKey
	HubKeyID string
	// Maker makes seals; nil disables MakeSeal.
	Maker *SealMaker
	// TSA is the URL of the RFC 3161 time-stamping authority Timestamp asks; empty: none.
	TSA string
	// HTTP reaches the TSA; nil means a client with a 30 s timeout.
	HTTP *http.Client
	// Gate bounds concurrent verifications (nil: unbounded).
	Gate *verify.Gate

	ecvMu sync.Mutex
	ecv   *ecverify.Verifier
	ecvAt int64 // trust bundle version ecv was built for
}

// NewCerts returns the three services sharing c.
func NewCerts(c *Certs) (*VerifyService, *ECertService, *SealService) {
	return &VerifyService{c: c}, &ECertService{c: c}, &SealService{c: c}
}

// ecVerifier returns the shared e-certificate verifier (with its chain cache) for the
// trust store in use, rebuilding it when the trust bundle changed.
func (c *Certs) ecVerifier() *ecverify.Verifier {
	c.ecvMu.Lock()
	defer c.ecvMu.Unlock()
	if v := c.Trust.Version(); c.ecv == nil || c.ecvAt != v {
		c.ecv, c.ecvAt = c.verifier(c.Trust.Roots()), v
	}
	return c.ecv
}

// revocation answers for the certificates the hub itself vouches for (its departments'
// registered certificates, its seal maker), then from the trust store's CRLs and OCSP
// responders; seal status comes from the hub's seal registry.
func (c *Certs) revocation() verify.RevocationChecker {
	return append(trust.Sources{registryStatus{c}}, c.Trust.Revocation()...)
}

func (c *Certs) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}

func (c *Certs) verifier(roots []*smx509.Certificate) *ecverify.Verifier {
	return &ecverify.Verifier{Catalogue: c.catalogue, Roots: roots, Intermediates: c.Intermediates, Status: registryStatus{c}, Revocation: c.revocation(), Now: c.now}
}

// catalogue is the demo catalogue plus the registered types.
func (c *Certs) catalogue(ctx context.Context) (*ecert.Catalogue, error) {
	cat, err := ecert.DemoCatalogue()
	if err != nil {
		return nil, err
	}
	types, err := c.Store.Certs().ListTypes(ctx)
	if err != nil {
		return nil, err
	}
	for _, t := range types {
		var ct ecert.CertType
		if err := json.Unmarshal([]byte(t.Body), &ct); err != nil {
			return nil, fmt.Errorf("stored licence type %s: %w", t.Code, err)
		}
		if err := cat.Add(ct); err != nil {
			return nil, fmt.Errorf("stored licence type %s: %w", t.Code, err)
		}
	}
	return cat, nil
}

// audit appends the record of a certificate-service read or check (timed now when it
// has no time); a failed append is logged.
func (c *Certs) audit(ctx context.Context, r ledger.Record) {
	if r.Time.IsZero() {
		r.Time = c.now()
	}
	rpc.AuditRecord(ctx, c.Audit, r) //nolint:errcheck // logged by the writer
}

// write is an audited write of the certificate services: do writes with the context it
// is given, rec is its record (timed now when it has no time), built after do.
func (c *Certs) write(ctx context.Context, do func(ctx context.Context) error, rec func() ledger.Record) error {
	return rpc.WriteAudited(ctx, c.Audit, c.now, do, rec)
}

// registryStatus answers from the hub's own registries: licence status
// (ecverify.StatusSource), seal status (verify.SealStatusChecker), and the revocation of the
// certificates the hub issued or holds (department certificates, its seal maker).
type registryStatus struct{ c *Certs }

func (r registryStatus) ECertStatus(ctx context.Context, id string, at time.Time) (ecverify.Status, error) {
	ev, err := r.c.Store.Certs().StatusAt(ctx, id, at)
	if err != nil {
		if exchange.KindOf(err) == exchange.KindNotFound {
			return ecverify.Status{}, ecverify.ErrUnregistered
		}
		return ecverify.Status{}, err
	}
	return ecverify.Status{Status: string(ev.Status), Since: ev.At, Reason: ev.Reason}, nil
}

// CertificateStatus answers for certificates the hub's issuing CA issued: the seal maker's
// (held by this hub) and the departments' registered signing certificates. The hub has no
// revocation list of its own yet: a department certificate that is the department's
// registered one is reported not revoked; one that was replaced is unknown here.
func (r registryStatus) CertificateStatus(ctx context.Context, cert *ses.Certificate, _ time.Time) (verify.RevocationStatus, error) {
	if r.c.Maker != nil && string(cert.Raw) == string(r.c.Maker.Cert.Raw) {
		return verify.RevocationStatus{Source: "the hub's own seal-maker certificate"}, nil
	}
	issued := false
	for _, ca := range r.c.Intermediates {
		if string(ca.RawSubject) == string(cert.RawIssuer) {
			issued = true
		}
	}
	if !issued || cert.X509 == nil {
		return verify.RevocationStatus{}, errors.New("not issued by this hub: the hub's registry does not know it")
	}
	code, err := pki.DepartmentCode(cert.X509)
	if err != nil {
		return verify.RevocationStatus{}, err
	}
	d, err := r.c.Store.Departments().Get(ctx, code)
	if err != nil {
		return verify.RevocationStatus{}, fmt.Errorf("department %s: %w", code, err)
	}
	if string(d.Certificate) != string(cert.Raw) {
		return verify.RevocationStatus{}, fmt.Errorf("no longer the registered certificate of department %s (it was replaced): its revocation status is not known here", code)
	}
	return verify.RevocationStatus{Source: "gxhub department registry: the current certificate of " + code}, nil
}

func (r registryStatus) SealStatus(ctx context.Context, seal *ses.Seal, _ time.Time) (verify.RevocationStatus, error) {
	s, err := r.c.Store.Certs().GetSeal(ctx, seal.Info.ESID)
	if err != nil {
		if exchange.KindOf(err) == exchange.KindNotFound {
			return verify.RevocationStatus{}, fmt.Errorf("seal %s was not made by this hub: its status is not known here", seal.Info.ESID)
		}
		return verify.RevocationStatus{}, err
	}
	if string(s.DER) != string(seal.Raw) {
		return verify.RevocationStatus{}, fmt.Errorf("esID %s belongs to a different seal made by this hub: status not applicable", seal.Info.ESID)
	}
	return verify.RevocationStatus{Revoked: !s.RevokedAt.IsZero(), RevokedAt: s.RevokedAt, Reason: s.RevokeReason, Source: "gxhub seal registry"}, nil
}

func certTS(t time.Time) *timestamppb.Timestamp {
	if t.IsZero() {
		return nil
	}
	return timestamppb.New(t)
}

func asTime(t *timestamppb.Timestamp) time.Time {
	if t == nil {
		return time.Time{}
	}
	return t.AsTime()
}

func hexSM3(b []byte) string {
	s := sm.Sum(b)
	return hex.EncodeToString(s[:])
}

// VerifyService implements gxhub.certs.v1.VerifyService.
type VerifyService struct {
	certsv1.UnimplementedVerifyServiceServer
	c *Certs
}

// Verify verifies one input.
func (v *VerifyService) Verify(ctx context.Context, req *certsv1.VerifyRequest) (*certsv1.VerifyResponse, error) {
	caller, err := rpc.RequireCaller(ctx)
	if err != nil {
		return nil, err
	}
	rep, err := v.verifyOne(ctx, caller, req)
	if err != nil {
		return nil, err
	}
	return &certsv1.VerifyResponse{Report: rep}, nil
}

// VerifyBatch verifies up to MaxVerifyBatch inputs, each on its own.
func (v *VerifyService) VerifyBatch(ctx context.Context, req *certsv1.VerifyBatchRequest) (*certsv1.VerifyBatchResponse, error) {
	caller, err := rpc.RequireCaller(ctx)
	if err != nil {
		return nil, err
	}
	n := len(req.GetItems())
	if n == 0 || n > MaxVerifyBatch {
		return nil, exchange.Errorf(exchange.KindInvalid, "BATCH_SIZE_INVALID", "a batch holds 1 to %d items, got %d: split it", MaxVerifyBatch, n)
	}
	resp := &certsv1.VerifyBatchResponse{}
	for _, it := range req.GetItems() {
		res := &certsv1.VerifyBatchResult{Name: it.GetName()}
		rep, err := v.verifyOne(ctx, caller, it)
		if err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			var de *exchange.Error
			if !errors.As(err, &de) || de.Kind == exchange.KindInternal {
				return nil, err
			}
			res.ErrorReason, res.ErrorMessage = de.Reason, de.Error()
		}
		res.Report = rep
		resp.Results = append(resp.Results, res)
	}
	return resp, nil
}

func (v *VerifyService) verifyOne(ctx context.Context, caller *rpc.Caller, req *certsv1.VerifyRequest) (*certsv1.Report, error) {
	c := v.c
	content := req.GetContent()
	if len(content) == 0 {
		return nil, exchange.Errorf(exchange.KindInvalid, "INPUT_EMPTY", "content is empty: send the file's bytes (base64 in REST JSON)")
	}
	release, err := c.Gate.Enter(ctx)
	if err != nil {
		if errors.Is(err, verify.ErrBusy) {
			return nil, exchange.Wrap(exchange.KindUnavailable, "VERIFY_BUSY", err, "%v", err)
		}
		return nil, err
	}
	defer release()
	digest := sm.Sum(content)
	inputSM3 := hex.EncodeToString(digest[:])
	roots, custom := c.Trust.Roots(), false
	if p := strings.TrimSpace(req.GetTrustRootsPem()); p != "" {
		var err error
		if roots, err = pki.ParseCertsPEM([]byte(p)); err != nil {
			return nil, exchange.Wrap(exchange.KindInvalid, "TRUST_ROOTS_INVALID", err, "trust_roots_pem holds no usable PEM certificate: %v", err)
		}
		custom = true
	}
	name := req.GetName()
	var rep *verify.Report
	switch ecverify.TokenType(content) {
	case ecert.SealedType:
		ev := c.ecVerifier()
		if custom {
			ev = c.verifier(roots)
		}
		rep, _ = ev.VerifySealed(ctx, string(content), name)
	case ecert.PresentationType:
		var err error
		if rep, _, err = v.c.presentation(ctx, caller, string(content), req.GetSealedEcert(), roots, custom, name); err != nil {
			return nil, err
		}
	default:
		var err error
		rep, err = verify.Verify(ctx, content, c.verifyOptions(roots, req.GetRequireChain(), req.GetData(), name))
		if err != nil {
			if errors.Is(err, verify.ErrInput) {
				c.audit(ctx, ledger.Record{Kind: KindCertVerify, Department: caller.Department.Code, Resource: "sm3:" + inputSM3, Outcome: ledger.OutcomeFailed,
					Reason: "input not recognised", ResponseDigest: digest[:]})
				return nil, exchange.Wrap(exchange.KindInvalid, "INPUT_UNRECOGNISED", err, "%s: %v: send an OFD package, a .esl seal, an SES_Signature or SignedData (with data), a sealed e-certificate or a presentation token", name, err)
			}
			return nil, err
		}
	}
	out := convert.ReportToProto(rep, inputSM3)
	c.audit(ctx, verifyRecord(caller, rep, inputSM3, digest[:]))
	return out, nil
}

// verifyOptions are the options of a document verification at the hub: the trust store's
// anchors (or roots), the hub's issuing CAs, and its revocation sources and registries.
func (c *Certs) verifyOptions(roots []*smx509.Certificate, requireChain bool, data []byte, name string) verify.Options {
	return verify.Options{Roots: roots, Intermediates: c.Intermediates, RequireChain: requireChain,
		Revocation: c.revocation(), Licences: registryStatus{c}, Catalogue: c.catalogue, Data: data, Name: name, Now: c.now}
}

// verifyRecord is the audit record of a verification: outcome ok for VALID and INTACT
// (nothing failed), failed otherwise; the reason carries the verdict and its summary.
func verifyRecord(caller *rpc.Caller, rep *verify.Report, inputSM3 string, digest []byte) ledger.Record {
	outcome := ledger.OutcomeOK
	if rep.Verdict == verify.Invalid || rep.Verdict == verify.Unsupported {
		outcome = ledger.OutcomeFailed
	}
	reason := string(rep.Kind) + " " + string(rep.Verdict) + ": " + rep.Summary
	if len(reason) > 1000 {
		reason = reason[:1000]
	}
	// The record's digest is the SM3 of the input verified (the resource names it too).
	return ledger.Record{Kind: KindCertVerify, Department: caller.Department.Code, Resource: "sm3:" + inputSM3, Outcome: outcome, Reason: reason, ResponseDigest: digest}
}

// presentation verifies a presentation token for the caller (the approver); custom says
// roots replace the trust store's.
func (c *Certs) presentation(ctx context.Context, caller *rpc.Caller, token, sealed string, roots []*smx509.Certificate, custom bool, name string) (*verify.Report, *ecverify.Presented, error) {
	if c.HubKey == nil {
		return nil, nil, exchange.Errorf(exchange.KindFailedPrecondition, "PRESENTATION_UNAVAILABLE", "this hub has no presentation key configured")
	}
	t, err := jws.Parse(strings.TrimSpace(token))
	if err != nil {
		return nil, nil, exchange.Wrap(exchange.KindInvalid, "PRESENTATION_MALFORMED", err, "the presentation token is not a compact SM2 JWS: %v", err)
	}
	var pr ecert.Presentation
	if err := json.Unmarshal(t.UnverifiedPayload(), &pr); err != nil || pr.Identifier == "" {
		return nil, nil, exchange.Errorf(exchange.KindInvalid, "PRESENTATION_MALFORMED", "the presentation token names no licence")
	}
	if sealed == "" {
		e, err := c.Store.Certs().Get(ctx, pr.Identifier)
		if err != nil {
			return nil, nil, err
		}
		sealed = e.Sealed
	}
	ev := c.ecVerifier()
	if custom {
		ev = c.verifier(roots)
	}
	rep, p := ev.VerifyPresentation(ctx, token, sealed, &c.HubKey.PublicKey, caller.Department.Code, name)
	return rep, p, nil
}
