package server

import (
	"context"
	"fmt"
	"log/slog"
	"strings"

	"github.com/gxhub/gxhub/certs/sm"
	"github.com/gxhub/gxhub/exchange"
	"github.com/gxhub/gxhub/exchange/store"
	"github.com/gxhub/gxhub/ledger"
	exchangev1 "github.com/gxhub/gxhub/sdk/api/exchange/v1"
)

// Cases implements gxhub.exchange.v1.CaseService (REQUIREMENTS A8, 一企一事一码): the rules
// live in exchange.Case; this decodes, stores, audits and encodes.
type Cases struct {
	exchangev1.UnimplementedCaseServiceServer
	Store      store.Store
	Audit      ledger.Log
	SubjectKey ledger.SubjectKeyFunc
	Log        *slog.Logger
	Now        Clock
}

// OpenCase opens a case for a registered matter.
func (s *Cases) OpenCase(ctx context.Context, req *exchangev1.OpenCaseRequest) (*exchangev1.OpenCaseResponse, error) {
	caller, err := RequireCaller(ctx)
	if err != nil {
		return nil, err
	}
	c := &exchange.Case{Number: req.GetNumber(), Matter: req.GetMatter(), Applicant: req.GetApplicant(), Region: req.GetRegion()}
	for _, p := range req.GetParties() {
		c.Parties = append(c.Parties, exchange.Party{Subject: p.GetSubject(), Relation: p.GetRelation()})
	}
	if err := exchange.OpenCase(ctx, s.Store.Matters(), c, actor(caller), s.Now.now()); err != nil {
		return nil, err
	}
	if err := s.Store.Cases().Create(ctx, c); err != nil {
		return nil, err
	}
	s.audit(ctx, caller, c, c.History[0], fmt.Sprintf("open: matter %s v%d, %d related parties", c.Matter, c.MatterVersion, len(c.Parties)))
	return &exchangev1.OpenCaseResponse{Case: CaseToProto(c)}, nil
}

// audit records a step of a case.
func (s *Cases) audit(ctx context.Context, caller *Caller, c *exchange.Case, e exchange.CaseEvent, what string) {
	digest := sm.Sum([]byte(caller.Evidence))
	rec := ledger.Record{Kind: KindCase, Time: e.At, Department: caller.Department.Code, Matter: c.Matter, Case: c.Number,
		Outcome: ledger.OutcomeOK, Reason: what, ResponseDigest: digest[:], RequestID: c.Number}
	if s.SubjectKey != nil {
		rec.Subject = s.SubjectKey(c.Applicant)
	}
	appendAudit(ctx, s.Audit, s.Log, rec)
}

func (s *Cases) visible(ctx context.Context, number string) (*Caller, *exchange.Case, error) {
	caller, err := RequireCaller(ctx)
	if err != nil {
		return nil, nil, err
	}
	c, err := s.Store.Cases().Get(ctx, strings.TrimSpace(number))
	if err != nil {
		return nil, nil, err
	}
	if !c.VisibleTo(caller.Department) {
		return nil, nil, exchange.Errorf(exchange.KindPermissionDenied, "NOT_INVOLVED",
			"case %s is handled by %s: it is readable by that department, coordinators and auditors, not by %s", c.Number, c.Department, caller.Department.Code)
	}
	return caller, c, nil
}

// GetCase returns a case with its history and materials.
func (s *Cases) GetCase(ctx context.Context, req *exchangev1.GetCaseRequest) (*exchangev1.Case, error) {
	_, c, err := s.visible(ctx, req.GetNumber())
	if err != nil {
		return nil, err
	}
	return CaseToProto(c), nil
}

// ListCases lists the caller's cases (coordinators and auditors: any department's).
func (s *Cases) ListCases(ctx context.Context, req *exchangev1.ListCasesRequest) (*exchangev1.ListCasesResponse, error) {
	caller, size, err := listing(ctx, req.GetPageSize(), req.GetPageToken())
	if err != nil {
		return nil, err
	}
	f := store.CaseFilter{Department: req.GetDepartment(), Matter: req.GetMatter(), State: exchange.CaseState(req.GetState())}
	switch f.State {
	case "", exchange.CaseOpen, exchange.CaseClosed, exchange.CaseWithdrawn:
	default:
		return nil, exchange.Errorf(exchange.KindInvalid, "STATE_INVALID", "state %q is not open, closed or withdrawn", f.State)
	}
	me := caller.Department
	if !me.HasRole(exchange.RoleCoordinator) && !me.HasRole(exchange.RoleAuditor) {
		if f.Department != "" && f.Department != me.Code {
			return nil, exchange.Errorf(exchange.KindPermissionDenied, "NOT_INVOLVED", "department %s lists only its own cases (coordinators and auditors list any department's)", me.Code)
		}
		f.Department = me.Code
	}
	cs, err := s.Store.Cases().List(ctx, f, req.GetPageToken(), min(size+1, 1000))
	if err != nil {
		return nil, err
	}
	resp := &exchangev1.ListCasesResponse{}
	if len(cs) > size {
		cs = cs[:size]
		resp.NextPageToken = cs[size-1].Number
	}
	for _, c := range cs {
		resp.Cases = append(resp.Cases, CaseToProto(c))
	}
	return resp, nil
}

// CloseCase closes an open case.
func (s *Cases) CloseCase(ctx context.Context, req *exchangev1.CloseCaseRequest) (*exchangev1.CloseCaseResponse, error) {
	c, err := s.end(ctx, req.GetNumber(), exchange.CaseClosed, req.GetComment())
	if err != nil {
		return nil, err
	}
	return &exchangev1.CloseCaseResponse{Case: c}, nil
}

// WithdrawCase withdraws an open case.
func (s *Cases) WithdrawCase(ctx context.Context, req *exchangev1.WithdrawCaseRequest) (*exchangev1.WithdrawCaseResponse, error) {
	c, err := s.end(ctx, req.GetNumber(), exchange.CaseWithdrawn, req.GetComment())
	if err != nil {
		return nil, err
	}
	return &exchangev1.WithdrawCaseResponse{Case: c}, nil
}

func (s *Cases) end(ctx context.Context, number string, to exchange.CaseState, comment string) (*exchangev1.Case, error) {
	caller, c, err := s.visible(ctx, number)
	if err != nil {
		return nil, err
	}
	from, e, err := c.End(to, actor(caller), comment, s.Now.now())
	if err != nil {
		return nil, err
	}
	if err := s.Store.Cases().End(ctx, c.Number, from, e); err != nil {
		return nil, err
	}
	what := string(to)
	if e.Comment != "" {
		what += ": " + e.Comment
	}
	s.audit(ctx, caller, c, e, what)
	return CaseToProto(c), nil
}

// CaseToProto converts a case for the wire.
func CaseToProto(c *exchange.Case) *exchangev1.Case {
	out := &exchangev1.Case{Number: c.Number, Matter: c.Matter, MatterVersion: int32(c.MatterVersion), Department: c.Department,
		Applicant: c.Applicant, ApplicantKind: string(c.ApplicantKind), Region: c.Region, State: string(c.State),
		OpenedAt: ts(c.OpenedAt), UpdatedAt: ts(c.UpdatedAt)}
	for _, p := range c.Parties {
		out.Parties = append(out.Parties, &exchangev1.Party{Subject: p.Subject, Kind: string(p.Kind), Relation: p.Relation})
	}
	for _, e := range c.History {
		out.History = append(out.History, &exchangev1.CaseEvent{Seq: int32(e.Seq), State: string(e.State), By: e.By, Comment: e.Comment,
			At: ts(e.At), Evidence: e.Evidence, BodyDigest: e.BodyDigest})
	}
	for _, m := range c.Materials {
		out.Materials = append(out.Materials, &exchangev1.CaseMaterial{Material: m.Material, Name: m.Name, Source: string(m.Source),
			Requirement: m.Requirement, PullId: m.PullID, AuditReferences: m.AuditRefs, Digest: m.Digest, Ecert: m.ECert,
			Verdict: m.Verdict, ObtainedAt: ts(m.ObtainedAt), ObtainedBy: m.ObtainedBy})
	}
	return out
}
