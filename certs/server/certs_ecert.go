package server

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/gxhub/gxhub/certs/ecert"
	"github.com/gxhub/gxhub/certs/ecert/ecverify"
	"github.com/gxhub/gxhub/certs/verify"
	"github.com/gxhub/gxhub/exchange"
	"github.com/gxhub/gxhub/exchange/rpc"
	"github.com/gxhub/gxhub/exchange/store"
	"github.com/gxhub/gxhub/ledger"
	certsv1 "github.com/gxhub/gxhub/sdk/api/certs/v1"
	"github.com/gxhub/gxhub/sdk/api/convert"
)

// ECertService implements gxhub.certs.v1.ECertService. The hub holds no department private
// keys: issuers seal licences with their own key (ecert.Seal, done by the SDK and gxctl)
// and the hub verifies and registers the sealed token.
type ECertService struct {
	certsv1.UnimplementedECertServiceServer
	c *Certs
}

// DefaultPresentationLifetime is used when a presentation request gives none.
const DefaultPresentationLifetime = 10 * time.Minute

func certTypeToProto(t ecert.CertType) *certsv1.CertType {
	out := &certsv1.CertType{Code: t.Code, Name: t.Name, DefinerName: t.DefinerName, HolderType: string(t.HolderType)}
	for _, it := range t.Items {
		out.Items = append(out.Items, &certsv1.CertItem{Key: it.Key, Name: it.Name, Required: it.Required})
	}
	return out
}

// ListCertTypes returns the catalogue.
func (s *ECertService) ListCertTypes(ctx context.Context, _ *certsv1.ListCertTypesRequest) (*certsv1.ListCertTypesResponse, error) {
	if _, err := rpc.RequireCaller(ctx); err != nil {
		return nil, err
	}
	cat, err := s.c.catalogue(ctx)
	if err != nil {
		return nil, err
	}
	resp := &certsv1.ListCertTypesResponse{}
	for _, t := range cat.Types() {
		resp.Types = append(resp.Types, certTypeToProto(t))
	}
	return resp, nil
}

// RegisterCertType adds a type defined by the calling issuer.
func (s *ECertService) RegisterCertType(ctx context.Context, req *certsv1.RegisterCertTypeRequest) (*certsv1.CertType, error) {
	caller, err := rpc.RequireRole(ctx, exchange.RoleIssuer)
	if err != nil {
		return nil, err
	}
	p := req.GetType()
	if p == nil {
		return nil, exchange.Errorf(exchange.KindInvalid, "ECERT_TYPE_MISSING", "type is required")
	}
	t := ecert.CertType{Code: strings.TrimSpace(p.GetCode()), Name: strings.TrimSpace(p.GetName()), DefinerName: strings.TrimSpace(p.GetDefinerName()), HolderType: ecert.HolderType(p.GetHolderType())}
	for _, it := range p.GetItems() {
		t.Items = append(t.Items, ecert.ItemSpec{Key: it.GetKey(), Name: it.GetName(), Required: it.GetRequired()})
	}
	if err := t.Validate(); err != nil {
		return nil, exchange.Wrap(exchange.KindInvalid, "ECERT_TYPE_INVALID", err, "licence type: %v", err)
	}
	if t.DefinerCode() != caller.Department.Code {
		return nil, exchange.Errorf(exchange.KindPermissionDenied, "ECERT_TYPE_NOT_DEFINER", "type code %s is defined by %s: a department registers only codes that start with its own USCC %s", t.Code, t.DefinerCode(), caller.Department.Code)
	}
	cat, err := s.c.catalogue(ctx)
	if err != nil {
		return nil, err
	}
	if _, ok := cat.Lookup(t.Code); ok {
		return nil, exchange.Errorf(exchange.KindAlreadyExists, "ECERT_TYPE_EXISTS", "licence type %s already exists", t.Code)
	}
	body, err := json.Marshal(t)
	if err != nil {
		return nil, err
	}
	now := s.c.now()
	if err := s.c.write(ctx, func(ctx context.Context) error {
		return s.c.Store.Certs().PutType(ctx, &store.CertType{Code: t.Code, Definer: caller.Department.Code, Body: string(body), RegisteredAt: now})
	}, func() ledger.Record {
		return ledger.Record{Kind: KindECertTypeRegister, Time: now, Department: caller.Department.Code, Resource: t.Code, Outcome: ledger.OutcomeOK, Reason: t.Name}
	}); err != nil {
		return nil, err
	}
	return certTypeToProto(t), nil
}

// ECertToProto converts a registered licence.
func ECertToProto(e *store.ECert) *certsv1.ECert {
	return &certsv1.ECert{Identifier: e.Identifier, TypeCode: e.TypeCode, Name: e.Name, IssuerCode: e.IssuerCode, HolderCode: e.HolderCode,
		HolderName: e.HolderName, Version: int32(e.Version), Status: string(e.Status), StatusReason: e.StatusReason,
		StatusSince: certTS(e.StatusSince), IssuedAt: certTS(e.IssuedAt), Sealed: e.Sealed, SealedSm3: e.SealedSM3, MetadataJson: e.Metadata}
}

// checkSealed verifies a sealed token for registration by caller: every check but the
// day-of-use validity and the registry status must pass, and the caller must be the
// licence's issuing authority.
func (s *ECertService) checkSealed(ctx context.Context, caller *rpc.Caller, token string) (*store.ECert, ecert.Identifier, error) {
	token = strings.TrimSpace(token)
	if token == "" {
		return nil, ecert.Identifier{}, exchange.Errorf(exchange.KindInvalid, "ECERT_SEALED_MISSING", "sealed is required: the licence sealed with the issuer's key (gxctl ecert issue does it)")
	}
	rep, sealed := s.c.ecVerifier().VerifySealed(ctx, token, "")
	var failed []string
	for _, c := range rep.Checks {
		if c.Name == "ecert.validity" || c.Name == "ecert.status" || (c.Status != verify.Fail && c.Status != verify.NotSupported) {
			continue
		}
		failed = append(failed, c.Name+": "+c.Reason)
	}
	if len(failed) > 0 || sealed == nil || sealed.Licence == nil {
		return nil, ecert.Identifier{}, exchange.Errorf(exchange.KindInvalid, "ECERT_SEAL_INVALID", "the sealed licence does not verify: %s", strings.Join(failed, "; "))
	}
	m := sealed.Licence
	if m.IssuerCode != caller.Department.Code {
		return nil, ecert.Identifier{}, exchange.Errorf(exchange.KindPermissionDenied, "ECERT_NOT_ISSUER", "the licence's issuing authority is %s, not the calling department %s", m.IssuerCode, caller.Department.Code)
	}
	id, err := ecert.ParseIdentifier(m.Identifier)
	if err != nil {
		return nil, ecert.Identifier{}, exchange.Wrap(exchange.KindInvalid, "ECERT_IDENTIFIER_INVALID", err, "%v", err)
	}
	meta, err := json.Marshal(m)
	if err != nil {
		return nil, ecert.Identifier{}, err
	}
	now := s.c.now()
	return &store.ECert{Identifier: m.Identifier, TypeCode: m.TypeCode, IssuerCode: m.IssuerCode, HolderCode: m.HolderCode, HolderName: m.HolderName,
		Name: m.Name, Version: id.Version, Sealed: token, SealedSM3: ecert.SealedDigest(token), Metadata: string(meta),
		IssuedAt: sealed.SignedAt, RegisteredAt: now}, id, nil
}

// IssueECert registers a new licence (version 1).
func (s *ECertService) IssueECert(ctx context.Context, req *certsv1.IssueECertRequest) (*certsv1.IssueECertResponse, error) {
	caller, err := rpc.RequireRole(ctx, exchange.RoleIssuer)
	if err != nil {
		return nil, err
	}
	e, id, err := s.checkSealed(ctx, caller, req.GetSealed())
	if err != nil {
		return nil, err
	}
	if id.Version != 1 {
		return nil, exchange.Errorf(exchange.KindInvalid, "ECERT_VERSION_INVALID", "a new licence has version 001, %s has %03d: use update for later versions", e.Identifier, id.Version)
	}
	if err := s.c.write(ctx, func(ctx context.Context) error { return s.c.Store.Certs().Issue(ctx, e, "", caller.Department.Code) }, func() ledger.Record {
		return ledger.Record{Kind: KindECertIssue, Time: e.RegisteredAt, Department: caller.Department.Code, Resource: e.Identifier, Outcome: ledger.OutcomeOK, Reason: "holder " + e.HolderCode}
	}); err != nil {
		return nil, err
	}
	return &certsv1.IssueECertResponse{Ecert: ECertToProto(e)}, nil
}

// UpdateECert registers the next version of a licence and supersedes the old one.
func (s *ECertService) UpdateECert(ctx context.Context, req *certsv1.UpdateECertRequest) (*certsv1.UpdateECertResponse, error) {
	caller, err := rpc.RequireRole(ctx, exchange.RoleIssuer)
	if err != nil {
		return nil, err
	}
	old, err := s.c.Store.Certs().Get(ctx, req.GetIdentifier())
	if err != nil {
		return nil, err
	}
	if old.IssuerCode != caller.Department.Code {
		return nil, exchange.Errorf(exchange.KindPermissionDenied, "ECERT_NOT_ISSUER", "licence %s was issued by %s: only its issuer may update it", old.Identifier, old.IssuerCode)
	}
	e, id, err := s.checkSealed(ctx, caller, req.GetSealed())
	if err != nil {
		return nil, err
	}
	oldID, err := ecert.ParseIdentifier(old.Identifier)
	if err != nil {
		return nil, err
	}
	next, err := oldID.NextVersion()
	if err != nil {
		return nil, exchange.Wrap(exchange.KindFailedPrecondition, "ECERT_VERSION_EXHAUSTED", err, "%v", err)
	}
	if id != next {
		return nil, exchange.Errorf(exchange.KindInvalid, "ECERT_VERSION_INVALID", "the update's identifier must be %s (the next version of %s), got %s", next, old.Identifier, e.Identifier)
	}
	if e.HolderCode != old.HolderCode {
		return nil, exchange.Errorf(exchange.KindInvalid, "ECERT_HOLDER_CHANGED", "an update keeps the holder %s (got %s): issue a new licence instead", old.HolderCode, e.HolderCode)
	}
	if err := s.c.write(ctx, func(ctx context.Context) error {
		return s.c.Store.Certs().Issue(ctx, e, old.Identifier, caller.Department.Code)
	}, func() ledger.Record {
		return ledger.Record{Kind: KindECertUpdate, Time: e.RegisteredAt, Department: caller.Department.Code, Resource: e.Identifier, Outcome: ledger.OutcomeOK, Reason: "supersedes " + old.Identifier}
	}); err != nil {
		return nil, err
	}
	return &certsv1.UpdateECertResponse{Ecert: ECertToProto(e)}, nil
}

// ChangeECertStatus suspends, resumes, revokes or annuls a licence version.
func (s *ECertService) ChangeECertStatus(ctx context.Context, req *certsv1.ChangeECertStatusRequest) (*certsv1.ChangeECertStatusResponse, error) {
	caller, err := rpc.RequireRole(ctx, exchange.RoleIssuer)
	if err != nil {
		return nil, err
	}
	e, err := s.c.Store.Certs().Get(ctx, req.GetIdentifier())
	if err != nil {
		return nil, err
	}
	if e.IssuerCode != caller.Department.Code {
		return nil, exchange.Errorf(exchange.KindPermissionDenied, "ECERT_NOT_ISSUER", "licence %s was issued by %s: only its issuer may change its status", e.Identifier, e.IssuerCode)
	}
	var to store.ECertStatus
	allowed := false
	switch req.GetAction() {
	case certsv1.StatusAction_STATUS_ACTION_SUSPEND:
		to, allowed = store.ECertSuspended, e.Status == store.ECertActive
	case certsv1.StatusAction_STATUS_ACTION_RESUME:
		to, allowed = store.ECertActive, e.Status == store.ECertSuspended
	case certsv1.StatusAction_STATUS_ACTION_REVOKE:
		to, allowed = store.ECertRevoked, !e.Status.Final()
	case certsv1.StatusAction_STATUS_ACTION_ANNUL:
		to, allowed = store.ECertAnnulled, !e.Status.Final()
	default:
		return nil, exchange.Errorf(exchange.KindInvalid, "ECERT_ACTION_INVALID", "action must be one of STATUS_ACTION_SUSPEND, _RESUME, _REVOKE, _ANNUL")
	}
	if !allowed {
		return nil, exchange.Errorf(exchange.KindFailedPrecondition, "ECERT_STATUS_CONFLICT", "licence %s is %s: %s is not possible from that status", e.Identifier, e.Status, req.GetAction())
	}
	now := s.c.now()
	reason := strings.TrimSpace(req.GetReason())
	if err := exchange.CheckText("reason", reason, exchange.MaxText); err != nil {
		return nil, err
	}
	if err := s.c.write(ctx, func(ctx context.Context) error {
		return s.c.Store.Certs().ChangeStatus(ctx, e.Identifier, e.Status, to, store.ECertEvent{At: now, Reason: reason, By: caller.Department.Code})
	}, func() ledger.Record {
		return ledger.Record{Kind: KindECertStatus, Time: now, Department: caller.Department.Code, Resource: e.Identifier, Outcome: ledger.OutcomeOK, Reason: string(e.Status) + " -> " + string(to) + ": " + reason}
	}); err != nil {
		return nil, err
	}
	e, err = s.c.Store.Certs().Get(ctx, e.Identifier)
	if err != nil {
		return nil, err
	}
	return &certsv1.ChangeECertStatusResponse{Ecert: ECertToProto(e)}, nil
}

// GetECertStatus returns a licence with its status now or at a time.
func (s *ECertService) GetECertStatus(ctx context.Context, req *certsv1.GetECertStatusRequest) (*certsv1.ECert, error) {
	if _, err := rpc.RequireCaller(ctx); err != nil {
		return nil, err
	}
	e, err := s.c.Store.Certs().Get(ctx, req.GetIdentifier())
	if err != nil {
		return nil, err
	}
	if req.GetAt() != nil {
		ev, err := s.c.Store.Certs().StatusAt(ctx, e.Identifier, req.GetAt().AsTime())
		if err != nil {
			return nil, err
		}
		e.Status, e.StatusReason, e.StatusSince = ev.Status, ev.Reason, ev.At
	}
	return ECertToProto(e), nil
}

// ListECerts lists a holder's licences.
func (s *ECertService) ListECerts(ctx context.Context, req *certsv1.ListECertsRequest) (*certsv1.ListECertsResponse, error) {
	caller, err := rpc.RequireCaller(ctx)
	if err != nil {
		return nil, err
	}
	if strings.TrimSpace(req.GetHolderCode()) == "" {
		return nil, exchange.Errorf(exchange.KindInvalid, "HOLDER_CODE_MISSING", "holder_code is required")
	}
	list, err := s.c.Store.Certs().ListByHolder(ctx, req.GetHolderCode())
	if err != nil {
		return nil, err
	}
	// A lookup by holder (a person's or a company's code): audited before it is answered.
	rec := ledger.Record{Kind: KindECertList, Time: s.c.now(), Department: caller.Department.Code, Outcome: ledger.OutcomeOK,
		Reason: fmt.Sprintf("list a holder's licences: %d found", len(list))}
	if s.c.SubjectKey != nil {
		rec.Subject = s.c.SubjectKey(exchange.NormalizeSubject(req.GetHolderCode()))
	}
	if _, err := rpc.AuditRecord(ctx, s.c.Audit, rec); err != nil {
		return nil, err
	}
	resp := &certsv1.ListECertsResponse{}
	for _, e := range list {
		resp.Ecerts = append(resp.Ecerts, ECertToProto(e))
	}
	return resp, nil
}

// PresentECert makes a presentation token for the calling holder.
func (s *ECertService) PresentECert(ctx context.Context, req *certsv1.PresentECertRequest) (*certsv1.PresentECertResponse, error) {
	caller, err := rpc.RequireCaller(ctx)
	if err != nil {
		return nil, err
	}
	if s.c.HubKey == nil {
		return nil, exchange.Errorf(exchange.KindFailedPrecondition, "PRESENTATION_UNAVAILABLE", "this hub has no presentation key configured")
	}
	e, err := s.c.Store.Certs().Get(ctx, req.GetIdentifier())
	if err != nil {
		return nil, err
	}
	if e.HolderCode != caller.Department.Code {
		return nil, exchange.Errorf(exchange.KindPermissionDenied, "ECERT_NOT_HOLDER", "licence %s is held by %s: only its holder may present it", e.Identifier, e.HolderCode)
	}
	if strings.TrimSpace(req.GetPurpose()) == "" {
		return nil, exchange.Errorf(exchange.KindInvalid, "PURPOSE_MISSING", "purpose (用证事由) is required")
	}
	if _, err := s.c.Store.Departments().Get(ctx, req.GetAudience()); err != nil {
		if exchange.KindOf(err) == exchange.KindNotFound {
			return nil, exchange.Errorf(exchange.KindInvalid, "AUDIENCE_UNKNOWN", "audience %q is not a registered department: name the approving department's USCC", req.GetAudience())
		}
		return nil, err
	}
	life := time.Duration(req.GetLifetimeSeconds()) * time.Second
	if life == 0 {
		life = DefaultPresentationLifetime
	}
	if life < 0 || life > ecert.MaxPresentationLifetime {
		return nil, exchange.Errorf(exchange.KindInvalid, "LIFETIME_INVALID", "lifetime_seconds must be 1..%d", int(ecert.MaxPresentationLifetime.Seconds()))
	}
	// Present only a licence that verifies now (status active, valid today).
	rep, _ := s.c.ecVerifier().VerifySealed(ctx, e.Sealed, e.Identifier)
	if !rep.Valid() {
		return nil, exchange.Errorf(exchange.KindFailedPrecondition, "ECERT_NOT_USABLE", "licence %s cannot be presented: it is %s: %s", e.Identifier, rep.Verdict, rep.Summary)
	}
	now := s.c.now()
	tok, err := ecert.Present(e.Sealed, req.GetAudience(), req.GetPurpose(), req.GetMatterCode(), now, life, s.c.HubKey, s.c.HubKeyID)
	if err != nil {
		return nil, exchange.Wrap(exchange.KindInvalid, "PRESENTATION_INVALID", err, "%v", err)
	}
	s.c.audit(ctx, ledger.Record{Kind: KindECertPresent, Time: now, Department: caller.Department.Code, Resource: e.Identifier, Matter: req.GetMatterCode(),
		Outcome: ledger.OutcomeOK, Reason: "to " + req.GetAudience() + " for " + req.GetPurpose()})
	return &certsv1.PresentECertResponse{Token: tok, Sealed: e.Sealed, ExpiresAt: certTS(now.Add(life))}, nil
}

// VerifyPresentation checks a presentation token as its approver.
func (s *ECertService) VerifyPresentation(ctx context.Context, req *certsv1.VerifyPresentationRequest) (*certsv1.VerifyPresentationResponse, error) {
	caller, err := rpc.RequireCaller(ctx)
	if err != nil {
		return nil, err
	}
	rep, p, err := s.c.presentation(ctx, caller, req.GetToken(), req.GetSealed(), s.c.Trust.Roots(), false, "presentation")
	if err != nil {
		return nil, err
	}
	if want := strings.TrimSpace(req.GetExpectedPurpose()); want != "" && p != nil && p.Presentation != nil && p.Presentation.Purpose != want {
		rep.Checks = append(rep.Checks, verify.Check{Name: "presentation.purpose", Status: verify.Fail,
			Reason: fmt.Sprintf("presented for %q, not for %q: the holder must present it for this purpose", p.Presentation.Purpose, want)})
		ecverify.Finish(rep)
	}
	inputSM3 := hexSM3([]byte(strings.TrimSpace(req.GetToken())))
	resp := &certsv1.VerifyPresentationResponse{Report: convert.ReportToProto(rep, inputSM3)}
	resource := ""
	if p != nil && p.Presentation != nil {
		pr := p.Presentation
		resp.Identifier, resp.HolderCode, resp.Purpose, resp.MatterCode = pr.Identifier, pr.Holder, pr.Purpose, pr.MatterCode
		resp.ExpiresAt = certTS(time.Unix(pr.ExpiresAt, 0))
		resource = pr.Identifier
	}
	if resource == "" && p != nil && p.Sealed != nil && p.Sealed.Licence != nil {
		resource = p.Sealed.Licence.Identifier
	}
	outcome, reason := ledger.OutcomeOK, "presentation "+string(rep.Verdict)+": "+rep.Summary
	if rep.Verdict == verify.Invalid || rep.Verdict == verify.Unsupported {
		outcome = ledger.OutcomeFailed
	}
	if len(reason) > 1000 {
		reason = reason[:1000]
	}
	s.c.audit(ctx, ledger.Record{Kind: KindECertPresentVerify, Department: caller.Department.Code, Resource: resource, Matter: resp.MatterCode, Outcome: outcome, Reason: reason})
	return resp, nil
}

var _ ecverify.StatusSource = registryStatus{}
var _ verify.SealStatusChecker = registryStatus{}
var _ verify.RevocationChecker = registryStatus{}

// HeldECert implements exchange.ECertRegistry: the identifier of an active e-certificate of
// the type that the holder holds in the registry, or why there is none.
func (s *ECertService) HeldECert(ctx context.Context, holder, typeCode string) (string, string, error) {
	es, err := s.c.Store.Certs().ListByHolder(ctx, holder)
	if err != nil {
		return "", "", err
	}
	var inactive *store.ECert
	for _, e := range es { // newest registration first
		if e.TypeCode != typeCode {
			continue
		}
		if e.Status == store.ECertActive {
			return e.Identifier, "", nil
		}
		if inactive == nil {
			inactive = e
		}
	}
	if inactive != nil {
		return "", fmt.Sprintf("the applicant's e-certificate %s of type %s is %s, not active", inactive.Identifier, typeCode, inactive.Status), nil
	}
	return "", fmt.Sprintf("the applicant holds no e-certificate of type %s in the registry", typeCode), nil
}

// FetchECert implements exchange.ECertRegistry: the registered certificate, verified now
// (issuer seal, chain to a trusted root, registry status).
func (s *ECertService) FetchECert(ctx context.Context, identifier string) (exchange.FetchedECert, error) {
	e, err := s.c.Store.Certs().Get(ctx, identifier)
	if err != nil {
		return exchange.FetchedECert{}, err
	}
	rep, _ := s.c.ecVerifier().VerifySealed(ctx, e.Sealed, identifier)
	f := exchange.FetchedECert{Identifier: e.Identifier, TypeCode: e.TypeCode, Holder: e.HolderCode, Sealed: e.Sealed, Digest: e.SealedSM3,
		Verdict: string(rep.Verdict), Valid: rep.Valid()}
	if !f.Valid {
		f.Reason = rep.Summary
	}
	return f, nil
}
