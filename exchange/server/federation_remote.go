package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/gxhub/gxhub/certs/sm"
	"github.com/gxhub/gxhub/exchange"
	"github.com/gxhub/gxhub/exchange/federation"
	"github.com/gxhub/gxhub/ledger"
	exchangev1 "github.com/gxhub/gxhub/sdk/api/exchange/v1"
	"github.com/gxhub/gxhub/sdk/reqsig"
)

// RPC paths a consumer signs for the federation (the home hub checks them).
const (
	fileRemoteRequirementMethod = "/gxhub.exchange.v1.FederationService/FileRemoteRequirement"
	pullRemoteMethod            = "/gxhub.exchange.v1.FederationService/PullRemote"
)

// consumerRequest is the caller's own signed request, to forward: the home hub checks
// it. The body is the deterministic encoding of req, which is what gxctl and the SDK sign
// over gRPC; a request signed over other bytes (REST JSON) cannot be forwarded.
func consumerRequest(c *Caller, method string, req proto.Message) (federation.ConsumerRequest, error) {
	body, err := proto.MarshalOptions{Deterministic: true}.Marshal(req)
	if err != nil {
		return federation.ConsumerRequest{}, err
	}
	if c.BodyDigest != reqsig.BodyDigest(body) || c.Envelope() == "" {
		return federation.ConsumerRequest{}, exchange.Errorf(exchange.KindInvalid, "FEDERATION_SIGN_OVER_GRPC",
			"a request forwarded to another hub must be signed over its gRPC encoding (gxctl, the SDK), so that the other hub can check your signature: REST bodies cannot be forwarded")
	}
	return federation.ConsumerRequest{Department: c.Department.Code, Operator: c.OperatorID(), CertPEM: string(pemCert(c.SignerCert)),
		Authorization: c.Evidence, Method: method, Body: body}, nil
}

// checkConsumer verifies a forwarded consumer request at the home hub and decodes its
// body into m; the nonce is used once here too.
func (f *Federation) checkConsumer(ctx context.Context, a *federation.Agreement, c *federation.ConsumerRequest, method string, m proto.Message) error {
	if c.Method != method {
		return exchange.Errorf(exchange.KindPermissionDenied, "FEDERATION_CONSUMER_REQUEST_INVALID", "the consumer signed %s, not %s", c.Method, method)
	}
	now := f.now()
	peer := a.Peer()
	claims, err := VerifyConsumerRequest(peer.RootPEM, peer.IssuingPEM, c, now)
	if err != nil {
		return exchange.Wrap(exchange.KindPermissionDenied, "FEDERATION_CONSUMER_REQUEST_INVALID", err, "the consumer's own signed request does not verify with hub %s's CA", peer.ID)
	}
	if d := now.Sub(time.Unix(claims.Time, 0)); d > federation.MaxSkew || d < -federation.MaxSkew {
		return exchange.Errorf(exchange.KindUnauthenticated, "FEDERATION_CONSUMER_REQUEST_STALE", "the consumer signed its request at %s, too long ago", time.Unix(claims.Time, 0).UTC().Format(time.RFC3339))
	}
	if err := f.Store.Nonces().Use(ctx, federation.RemoteDepartment(peer.ID, c.Department), claims.Nonce, now.Add(2*federation.MaxSkew)); err != nil {
		return exchange.Wrap(exchange.KindUnauthenticated, "FEDERATION_CONSUMER_REQUEST_REPLAYED", err, "the consumer's signed request was already used here")
	}
	if err := proto.Unmarshal(c.Body, m); err != nil {
		return exchange.Wrap(exchange.KindInvalid, "FEDERATION_CONSUMER_REQUEST_INVALID", err, "the consumer's request body does not decode")
	}
	return nil
}

// agreementWith finds the active agreement with hub (the one most recently changed).
func (f *Federation) agreementWith(ctx context.Context, hub string) (*federation.Agreement, error) {
	as, err := f.Store.Federation().ListAgreements(ctx)
	if err != nil {
		return nil, err
	}
	var found *federation.Agreement
	for _, a := range as {
		if a.Peer().ID != hub {
			continue
		}
		if found == nil || a.State == federation.StateActive && found.State != federation.StateActive || a.UpdatedAt.After(found.UpdatedAt) && (a.State == federation.StateActive) == (found.State == federation.StateActive) {
			found = a
		}
	}
	if found == nil {
		return nil, exchange.Errorf(exchange.KindFailedPrecondition, federation.ReasonNoAgreement, "this hub has no agreement with hub %s (gxctl federation list)", hub)
	}
	return found, nil
}

// --- remote catalogue ---

func (f *Federation) peerCatalog(ctx context.Context, a *federation.Agreement, req *federation.Request) (any, error) {
	if err := a.Usable(f.now()); err != nil {
		return nil, err
	}
	var q federation.CatalogQuery
	if err := json.Unmarshal(req.Body, &q); err != nil {
		return nil, exchange.Wrap(exchange.KindInvalid, "PEER_MESSAGE_INVALID", err, "catalogue query does not decode")
	}
	out := federation.CatalogAnswer{Changed: []federation.OfferedResource{}, Offered: []string{}}
	for _, code := range a.OfferedBy(f.Card.ID) {
		r, err := f.Store.Catalog().Get(ctx, code, 0)
		if exchange.KindOf(err) == exchange.KindNotFound {
			continue
		} else if err != nil {
			return nil, err
		}
		out.Offered = append(out.Offered, code)
		if q.Known[code] == r.Version {
			continue
		}
		o := federation.OfferedResource{Code: r.Code, Name: r.Name, Provider: r.Provider, Version: r.Version, ShareType: string(r.ShareType),
			SubjectKind: string(r.SubjectKind), ScopeRegion: r.ScopeRegion, Withdrawn: r.Withdrawn}
		for _, it := range r.Items {
			o.Items = append(o.Items, federation.OfferedItem{Name: it.Name, Title: it.Title, Sensitivity: string(it.Sensitivity)})
		}
		out.Changed = append(out.Changed, o)
	}
	return out, nil
}

// ListRemoteResources synchronises (when asked) and lists remote resources.
func (f *Federation) ListRemoteResources(ctx context.Context, req *exchangev1.ListRemoteResourcesRequest) (*exchangev1.ListRemoteResourcesResponse, error) {
	if _, err := RequireCaller(ctx); err != nil {
		return nil, err
	}
	out := &exchangev1.ListRemoteResourcesResponse{}
	if req.GetSync() {
		as, err := f.Store.Federation().ListAgreements(ctx)
		if err != nil {
			return nil, err
		}
		for _, a := range as {
			if a.State != federation.StateActive || (req.GetHub() != "" && a.Peer().ID != req.GetHub()) {
				continue
			}
			if err := f.syncCatalog(ctx, a); err != nil {
				out.SyncErrors = append(out.SyncErrors, a.Peer().ID+": "+err.Error())
			}
		}
	}
	rs, err := f.Store.Federation().ListRemoteResources(ctx, req.GetHub())
	if err != nil {
		return nil, err
	}
	for _, r := range rs {
		o := &exchangev1.RemoteResource{HomeHub: r.HomeHub, Agreement: r.Agreement, Code: r.Resource.Code, Name: r.Resource.Name,
			Provider: r.Resource.Provider, Version: int32(r.Resource.Version), ShareType: r.Resource.ShareType, SyncedAt: timestamppb.New(r.SyncedAt)}
		for _, it := range r.Resource.Items {
			o.Items = append(o.Items, it.Name)
		}
		out.Resources = append(out.Resources, o)
	}
	return out, nil
}

func (f *Federation) syncCatalog(ctx context.Context, a *federation.Agreement) error {
	peer := a.Peer().ID
	have, err := f.Store.Federation().ListRemoteResources(ctx, peer)
	if err != nil {
		return err
	}
	q := federation.CatalogQuery{Known: map[string]int{}}
	for _, r := range have {
		q.Known[r.Resource.Code] = r.Resource.Version
	}
	var ans federation.CatalogAnswer
	pc, err := f.call(ctx, a, federation.OpCatalog, q, &ans)
	if err != nil {
		return err
	}
	now := f.now().UTC()
	var changed []*federation.RemoteResource
	for _, o := range ans.Changed {
		if !slices.Contains(a.OfferedBy(peer), o.Code) {
			continue // the peer sent more than the agreement offers: ignored
		}
		changed = append(changed, &federation.RemoteResource{HomeHub: peer, Agreement: a.Terms.ID, Resource: o, Signed: pc.Answer, SyncedAt: now})
	}
	removed := 0
	for _, r := range have {
		if !slices.Contains(ans.Offered, r.Resource.Code) {
			removed++
		}
	}
	if len(changed) == 0 && removed == 0 {
		return nil
	}
	_, err = auditedWrite(ctx, f.Audit, func(ctx context.Context) (ledger.Record, error) {
		if err := f.Store.Federation().PutRemoteResources(ctx, peer, changed, ans.Offered); err != nil {
			return ledger.Record{}, err
		}
		d := sm.Sum(pc.Answer.Payload)
		return ledger.Record{Kind: KindFederationCatalog, Time: now, Department: exchange.SystemActor, Resource: "hub:" + peer, Outcome: ledger.OutcomeOK,
			Reason: fmt.Sprintf("remote catalogue of hub %s: %d changed, %d removed (agreement %s)", peer, len(changed), removed, a.Terms.ID), ResponseDigest: d[:]}, nil
	})
	return err
}

// --- remote requirements ---

func (f *Federation) peerFileRequirement(ctx context.Context, a *federation.Agreement, req *federation.Request) (any, error) {
	var fl federation.RequirementFiling
	if err := json.Unmarshal(req.Body, &fl); err != nil {
		return nil, exchange.Wrap(exchange.KindInvalid, "PEER_MESSAGE_INVALID", err, "requirement filing does not decode")
	}
	if err := a.Offers(f.Card.ID, fl.Resource, f.now()); err != nil {
		return nil, err
	}
	var signed exchangev1.FileRemoteRequirementRequest
	if err := f.checkConsumer(ctx, a, &fl.Consumer, fileRemoteRequirementMethod, &signed); err != nil {
		return nil, err
	}
	if signed.GetHomeHub() != f.Card.ID || signed.GetResource() != fl.Resource || !slices.Equal(signed.GetItems(), fl.Items) ||
		!slices.Equal(signed.GetMatterCodes(), fl.MatterCodes) || signed.GetLegalDuty() != fl.LegalDuty {
		return nil, exchange.Errorf(exchange.KindPermissionDenied, "FEDERATION_CONSUMER_REQUEST_MISMATCH", "the forwarded filing differs from what the consumer signed")
	}
	caller := &Caller{Department: &exchange.Department{Code: federation.RemoteDepartment(a.Peer().ID, fl.Consumer.Department),
		Name: fl.ConsumerName + "（" + a.Peer().Name + "）", Level: fl.ConsumerLevel, Region: fl.Region, Roles: []exchange.Role{exchange.RoleConsumer}},
		Evidence: fl.Consumer.Authorization, BodyDigest: reqsig.BodyDigest(fl.Consumer.Body)}
	resp, err := f.Requirements.FileRequirement(WithCaller(ctx, caller), &exchangev1.FileRequirementRequest{Resource: fl.Resource,
		Items: fl.Items, MatterCodes: fl.MatterCodes, LegalDuty: fl.LegalDuty, ScopeRegion: fl.ScopeRegion})
	if err != nil {
		return nil, err
	}
	r, err := f.Store.Requirements().Get(ctx, resp.GetRequirement().GetId())
	if err != nil {
		return nil, err
	}
	return federation.ViewOf(r), nil
}

func (f *Federation) peerGetRequirement(ctx context.Context, a *federation.Agreement, req *federation.Request) (any, error) {
	var q federation.RequirementQuery
	if err := json.Unmarshal(req.Body, &q); err != nil {
		return nil, exchange.Wrap(exchange.KindInvalid, "PEER_MESSAGE_INVALID", err, "requirement query does not decode")
	}
	r, err := f.Store.Requirements().Get(ctx, q.ID)
	if err != nil {
		return nil, err
	}
	if hub, _, ok := federation.SplitRemoteDepartment(r.Consumer); !ok || hub != req.From {
		return nil, exchange.Errorf(exchange.KindNotFound, "REQUIREMENT_NOT_FOUND", "no requirement %s of hub %s's departments here", q.ID, req.From)
	}
	return federation.ViewOf(r), nil
}

// RemoteRequirementToProto converts a remote requirement for the wire.
func RemoteRequirementToProto(r *federation.RemoteRequirement) *exchangev1.RemoteRequirement {
	out := &exchangev1.RemoteRequirement{Id: r.ID, HomeHub: r.HomeHub, Agreement: r.Agreement, Consumer: r.Consumer, Provider: r.Provider,
		Resource: r.Resource, Items: r.Items, MatterCodes: r.MatterCodes, State: string(r.State),
		Signed: &exchangev1.SignedDocument{Payload: r.Signed.Payload, Signature: r.Signed.Signature}}
	for _, d := range r.View.Decisions {
		out.Decisions = append(out.Decisions, &exchangev1.RemoteDecision{Seq: int32(d.Seq), Action: d.Action, By: d.By, LegalBasis: d.LegalBasis,
			Comment: d.Comment, At: timestamppb.New(d.At)})
	}
	return out
}

func requirementRecord(r *federation.RemoteRequirement, by, what string, at time.Time) ledger.Record {
	outcome := ledger.OutcomeOK
	switch r.State {
	case exchange.ReqGranted:
		outcome = ledger.OutcomeGranted
	case exchange.ReqRefused:
		outcome = ledger.OutcomeDenied
	}
	d := sm.Sum(r.Signed.Payload)
	return ledger.Record{Kind: KindFederationRequirement, Time: at, Department: by, Resource: r.HomeHub + "/" + r.Resource, DataItems: r.Items,
		Matter: strings.Join(r.MatterCodes, ","), Outcome: outcome, RequestID: r.ID, ResponseDigest: d[:],
		Reason: fmt.Sprintf("%s: requirement %s at hub %s is %s (%d decisions there)", what, r.ID, r.HomeHub, r.State, len(r.View.Decisions))}
}

// FileRemoteRequirement files a requirement at the resource's home hub.
func (f *Federation) FileRemoteRequirement(ctx context.Context, req *exchangev1.FileRemoteRequirementRequest) (*exchangev1.FileRemoteRequirementResponse, error) {
	caller, err := RequireRole(ctx, exchange.RoleConsumer)
	if err != nil {
		return nil, err
	}
	a, err := f.agreementWith(ctx, req.GetHomeHub())
	if err != nil {
		return nil, err
	}
	if err := a.Offers(req.GetHomeHub(), req.GetResource(), f.now()); err != nil {
		return nil, err
	}
	cr, err := consumerRequest(caller, fileRemoteRequirementMethod, req)
	if err != nil {
		return nil, err
	}
	fl := federation.RequirementFiling{Consumer: cr, ConsumerName: caller.Department.Name, ConsumerLevel: caller.Department.Level, Region: caller.Department.Region,
		Resource: req.GetResource(), Items: req.GetItems(), MatterCodes: req.GetMatterCodes(), LegalDuty: req.GetLegalDuty(), ScopeRegion: req.GetScopeRegion()}
	var v federation.RequirementView
	pc, err := f.call(ctx, a, federation.OpRequirementFile, fl, &v)
	if err != nil {
		return nil, err
	}
	now := f.now().UTC()
	r := &federation.RemoteRequirement{ID: v.ID, HomeHub: a.Peer().ID, Agreement: a.Terms.ID, Consumer: caller.Department.Code, Resource: v.Resource,
		Provider: v.Provider, Items: v.Items, MatterCodes: v.MatterCodes, State: v.State, View: v, Signed: pc.Answer, FiledAt: now, UpdatedAt: now, Version: 1}
	if _, err := auditedWrite(ctx, f.Audit, func(ctx context.Context) (ledger.Record, error) {
		if err := f.Store.Federation().PutRemoteRequirement(ctx, r); err != nil {
			return ledger.Record{}, err
		}
		return requirementRecord(r, caller.Department.Code, "filed at the home hub", now), nil
	}); err != nil {
		return nil, err
	}
	return &exchangev1.FileRemoteRequirementResponse{Requirement: RemoteRequirementToProto(r)}, nil
}

// GetRemoteRequirement refreshes a remote requirement from its home hub and returns it.
// When the home hub cannot be reached, the stored copy is returned (its signed answer
// says when it was made).
func (f *Federation) GetRemoteRequirement(ctx context.Context, req *exchangev1.GetRemoteRequirementRequest) (*exchangev1.RemoteRequirement, error) {
	caller, err := RequireCaller(ctx)
	if err != nil {
		return nil, err
	}
	r, err := f.Store.Federation().GetRemoteRequirement(ctx, req.GetId())
	if err != nil {
		return nil, err
	}
	if r.Consumer != caller.Department.Code && !caller.Department.HasRole(exchange.RoleCoordinator) && !caller.Department.HasRole(exchange.RoleAuditor) {
		return nil, exchange.Errorf(exchange.KindNotFound, "REQUIREMENT_NOT_FOUND", "no remote requirement %s of your department", req.GetId())
	}
	if err := f.refreshRequirement(ctx, r); err != nil {
		f.Log.Warn("refresh remote requirement", "id", r.ID, "home_hub", r.HomeHub, "error", err.Error())
	}
	return RemoteRequirementToProto(r), nil
}

func (f *Federation) refreshRequirement(ctx context.Context, r *federation.RemoteRequirement) error {
	a, err := f.Store.Federation().GetAgreement(ctx, r.Agreement)
	if err != nil {
		return err
	}
	var v federation.RequirementView
	pc, err := f.call(ctx, a, federation.OpRequirementGet, federation.RequirementQuery{ID: r.ID}, &v)
	if err != nil {
		return err
	}
	if v.ID != r.ID {
		return exchange.Errorf(exchange.KindInternal, "PEER_ANSWER_INVALID", "hub %s answered for requirement %s, not %s", a.Peer().ID, v.ID, r.ID)
	}
	now := f.now().UTC()
	if !r.Update(v, pc.Answer, now) {
		return nil
	}
	_, err = auditedWrite(ctx, f.Audit, func(ctx context.Context) (ledger.Record, error) {
		if err := f.Store.Federation().PutRemoteRequirement(ctx, r); err != nil {
			return ledger.Record{}, err
		}
		return requirementRecord(r, exchange.SystemActor, "decision taken in from the home hub", now), nil
	})
	return err
}

// --- forwarded pulls ---

// attestedCase is the case reader of a forwarded pull at the home hub: the one case the
// consumer hub attested, under the remote department's name.
type attestedCase struct{ c *exchange.Case }

func (a attestedCase) Get(_ context.Context, number string) (*exchange.Case, error) {
	if a.c == nil || a.c.Number != number {
		return nil, exchange.Errorf(exchange.KindNotFound, exchange.ReasonCaseNotFound, "no case %s", number)
	}
	return a.c, nil
}

// forwardedAudit notes in each of the home hub's pull records which hub forwarded the
// pull and at which index of its log it recorded the forward.
type forwardedAudit struct {
	inner exchange.PullAuditor
	note  string
}

func (a forwardedAudit) AuditPull(ctx context.Context, p exchange.PullAudit) ([]uint64, error) {
	p.Reason += a.note
	return a.inner.AuditPull(ctx, p)
}

func (f *Federation) peerPull(ctx context.Context, a *federation.Agreement, req *federation.Request, _ []byte) (any, error) {
	var fw federation.PullForward
	if err := json.Unmarshal(req.Body, &fw); err != nil {
		return nil, exchange.Wrap(exchange.KindInvalid, "PEER_MESSAGE_INVALID", err, "forwarded pull does not decode")
	}
	rq, err := f.Store.Requirements().Get(ctx, fw.RequirementID)
	if err != nil {
		return nil, err
	}
	if err := a.Offers(f.Card.ID, rq.Resource, f.now()); err != nil {
		return nil, err
	}
	var signed exchangev1.PullRemoteRequest
	if err := f.checkConsumer(ctx, a, &fw.Consumer, pullRemoteMethod, &signed); err != nil {
		return nil, err
	}
	p := signed.GetPull()
	if signed.GetHomeHub() != f.Card.ID || p.GetRequirementId() != fw.RequirementID || p.GetMatterCode() != fw.MatterCode || p.GetCaseNumber() != fw.CaseNumber ||
		!slices.Equal(p.GetSubjects(), fw.Subjects) || !slices.Equal(p.GetItems(), fw.Items) || fw.Case.Department != fw.Consumer.Department {
		return nil, exchange.Errorf(exchange.KindPermissionDenied, "FEDERATION_CONSUMER_REQUEST_MISMATCH", "the forwarded pull differs from what the consumer signed")
	}
	peer := a.Peer()
	consumer := federation.RemoteDepartment(peer.ID, fw.Consumer.Department)
	puller := *f.Puller
	puller.Cases = attestedCase{fw.Case.AsCase(peer.ID)}
	puller.Audit = forwardedAudit{inner: f.Puller.Audit, note: fmt.Sprintf(" · forwarded by hub %s (its log %s index %d, its pull %s)", peer.ID, fw.ForwardLog, fw.ForwardIndex, fw.PullID)}
	out, err := puller.Pull(ctx, exchange.PullInput{Caller: &exchange.Department{Code: consumer, Region: fw.Case.Region, Roles: []exchange.Role{exchange.RoleConsumer}},
		Operator: fw.Consumer.Operator, RequirementID: fw.RequirementID, MatterCode: fw.MatterCode, CaseNumber: fw.CaseNumber,
		Subjects: fw.Subjects, Items: fw.Items, FreshOnly: fw.FreshOnly, ScopeRegion: fw.ScopeRegion})
	if err != nil {
		return nil, err
	}
	return federation.PullAnswer{Payload: out.Signed.Payload, Signature: out.Signed.Signature, AuditRefs: out.AuditRefs, LogID: f.LogID}, nil
}

// PullRemote forwards a consumer's pull to the resource's home hub and relays its signed
// answer (docs/FEDERATION.md "Forwarded pulls").
func (f *Federation) PullRemote(ctx context.Context, req *exchangev1.PullRemoteRequest) (*exchangev1.PullRemoteResponse, error) {
	caller, err := RequireRole(ctx, exchange.RoleConsumer)
	if err != nil {
		return nil, err
	}
	p := req.GetPull()
	now := f.now().UTC()
	pa := exchange.PullAudit{PullID: exchange.NewID(), At: now, Department: caller.Department.Code, Operator: caller.OperatorID(),
		Resource: req.GetHomeHub() + "/?", Items: p.GetItems(), Matter: p.GetMatterCode(), Case: p.GetCaseNumber()}
	for _, s := range p.GetSubjects() {
		pa.Subjects = append(pa.Subjects, exchange.NormalizeSubject(s))
	}
	audit := PullAudit{Log: f.AuditLog, SubjectKey: f.SubjectKey}
	deny := func(err error) (*exchangev1.PullRemoteResponse, error) {
		reason, _ := exchange.ErrorOf(err)
		if reason == "" {
			reason = "INTERNAL"
		}
		pa.Granted, pa.Reason, pa.Digest = false, reason+": "+err.Error(), nil
		if len(pa.Subjects) > exchange.MaxPullSubjects {
			pa.Subjects = nil
		}
		if _, aerr := audit.AuditPull(ctx, pa); aerr != nil {
			return nil, exchange.Wrap(exchange.KindUnavailable, "AUDIT_UNAVAILABLE", aerr, "the audit log could not record this pull: try again")
		}
		return nil, err
	}
	rr, err := f.Store.Federation().GetRemoteRequirement(ctx, p.GetRequirementId())
	if exchange.KindOf(err) == exchange.KindNotFound {
		return deny(exchange.Errorf(exchange.KindNotFound, "REQUIREMENT_NOT_FOUND", "no remote requirement %s at this hub: file one (gxctl federation requirement file)", p.GetRequirementId()))
	} else if err != nil {
		return nil, err
	}
	pa.Resource = rr.HomeHub + "/" + rr.Resource
	if rr.HomeHub != req.GetHomeHub() {
		return deny(exchange.Errorf(exchange.KindInvalid, "FEDERATION_HOME_HUB_MISMATCH", "requirement %s is at hub %s, not %s", rr.ID, rr.HomeHub, req.GetHomeHub()))
	}
	a, err := f.Store.Federation().GetAgreement(ctx, rr.Agreement)
	if err != nil {
		return nil, err
	}
	if err := a.Offers(rr.HomeHub, rr.Resource, now); err != nil {
		return deny(err)
	}
	fw := &federation.PullForward{PullID: pa.PullID, ForwardLog: f.LogID, RequirementID: rr.ID, Resource: rr.Resource, MatterCode: p.GetMatterCode(),
		CaseNumber: p.GetCaseNumber(), Subjects: p.GetSubjects(), Items: p.GetItems(), FreshOnly: p.GetFreshOnly(), ScopeRegion: p.GetScopeRegion()}
	var att *federation.CaseAttestation
	if c, err := f.Store.Cases().Brief(ctx, p.GetCaseNumber()); err == nil {
		att = &federation.CaseAttestation{Number: c.Number, Matter: c.Matter, Department: c.Department, Region: c.Region, State: string(c.State), Applicant: c.Applicant}
		for _, pt := range c.Parties {
			att.Parties = append(att.Parties, pt.Subject)
		}
		if fw.ScopeRegion == "" {
			fw.ScopeRegion = c.Region
		}
	} else if exchange.KindOf(err) != exchange.KindNotFound {
		return nil, err
	}
	if err := federation.CheckForward(fw, rr, att, caller.Department.Code); err != nil {
		return deny(err)
	}
	fw.Case = *att
	if fw.Consumer, err = consumerRequest(caller, pullRemoteMethod, req); err != nil {
		return deny(err)
	}
	// The forward is on record before anything leaves this hub.
	fwdRec := ledger.Record{Kind: KindFederationForward, Time: now, Department: caller.Department.Code, Operator: pa.Operator, Resource: pa.Resource,
		DataItems: p.GetItems(), Matter: p.GetMatterCode(), Case: p.GetCaseNumber(), Outcome: ledger.OutcomeOK, RequestID: pa.PullID,
		Reason: fmt.Sprintf("FORWARDED: pull of %d subjects forwarded to hub %s under agreement %s (requirement %s)", len(fw.Subjects), rr.HomeHub, a.Terms.ID, rr.ID)}
	if len(pa.Subjects) == 1 && f.SubjectKey != nil {
		fwdRec.Subject = f.SubjectKey(pa.Subjects[0])
	}
	if fw.ForwardIndex, err = auditRecord(ctx, f.Audit, fwdRec); err != nil {
		return nil, exchange.Wrap(exchange.KindUnavailable, "AUDIT_UNAVAILABLE", err, "the audit log could not record the forward, so nothing was forwarded: try again")
	}
	var ans federation.PullAnswer
	pc, err := f.call(ctx, a, federation.OpPull, fw, &ans)
	if err != nil {
		var de *exchange.Error
		if !errors.As(err, &de) {
			err = exchange.Wrap(exchange.KindInternal, "INTERNAL", err, "forward to hub %s failed", rr.HomeHub)
		}
		return deny(err)
	}
	home := a.Peer()
	if err := f.sm2().Verify(home.RootPEM, home.IssuingPEM, home.PullCertPEM, federation.PurposePull, ans.Payload, ans.Signature); err != nil {
		return deny(exchange.Wrap(exchange.KindDataLoss, "FEDERATION_REMOTE_SIGNATURE_INVALID", err, "hub %s's pull result does not carry its pull key's signature: nothing is returned", home.ID))
	}
	result := &exchangev1.PullResult{}
	if err := proto.Unmarshal(ans.Payload, result); err != nil {
		return deny(exchange.Wrap(exchange.KindDataLoss, "FEDERATION_REMOTE_RESULT_INVALID", err, "hub %s's signed pull result does not decode", home.ID))
	}
	if result.GetConsumer() != federation.RemoteDepartment(f.Card.ID, caller.Department.Code) || result.GetRequirementId() != rr.ID || result.GetCaseNumber() != fw.CaseNumber {
		return deny(exchange.Errorf(exchange.KindDataLoss, "FEDERATION_REMOTE_RESULT_MISMATCH", "hub %s's signed result is for consumer %s, requirement %s, case %s: not this pull", home.ID, result.GetConsumer(), result.GetRequirementId(), result.GetCaseNumber()))
	}
	digest := sm.Sum(ans.Payload)
	pa.Granted, pa.Digest = true, digest[:]
	pa.Reason = fmt.Sprintf("%s: granted at hub %s (its log %s indices %v); forward recorded at index %d", exchange.ReasonGranted, home.ID, ans.LogID, ans.AuditRefs, fw.ForwardIndex)
	refs, err := audit.AuditPull(ctx, pa)
	if err != nil {
		return nil, exchange.Wrap(exchange.KindUnavailable, "AUDIT_UNAVAILABLE", err, "the audit log could not record this pull, so no data is returned: try again")
	}
	receipt := federation.RelayReceipt{Agreement: a.Terms.ID, Consumer: caller.Department.Code, ConsumerHub: f.Card.ID, HomeHub: home.ID, PullID: pa.PullID,
		LogID: f.LogID, ForwardIndex: fw.ForwardIndex, OutcomeIndices: refs, HomeLogID: ans.LogID, HomeAuditRefs: ans.AuditRefs,
		PayloadDigest: SM3Hex(ans.Payload), Request: pc.Request, Answer: pc.Answer}
	rs, err := federation.Sign(f.sm2(), receipt)
	if err != nil {
		return nil, err
	}
	own, err := f.SignedCard()
	if err != nil {
		return nil, err
	}
	homeCard, err := json.Marshal(home)
	if err != nil {
		return nil, err
	}
	return &exchangev1.PullRemoteResponse{Result: result, Payload: ans.Payload, Signature: ans.Signature,
		Receipt:         &exchangev1.SignedDocument{Payload: rs.Payload, Signature: rs.Signature},
		AuditReferences: append([]uint64{fw.ForwardIndex}, refs...), HomeAuditReferences: ans.AuditRefs,
		ConsumerHubCard: &exchangev1.SignedDocument{Payload: own.Payload, Signature: own.Signature},
		HomeHubCard:     &exchangev1.SignedDocument{Payload: homeCard}}, nil
}
