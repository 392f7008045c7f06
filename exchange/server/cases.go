package server

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

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
	Audit      *store.AuditWriter
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
	if _, err := auditedWrite(ctx, s.Audit, func(ctx context.Context) (ledger.Record, error) {
		if err := s.Store.Cases().Create(ctx, c); err != nil {
			return ledger.Record{}, err
		}
		return s.record(caller, c, c.History[0], fmt.Sprintf("open: matter %s v%d, %d related parties", c.Matter, c.MatterVersion, len(c.Parties))), nil
	}); err != nil {
		return nil, err
	}
	return &exchangev1.OpenCaseResponse{Case: CaseToProto(c)}, nil
}

// record is the audit record of a step of a case (or of a read of it).
func (s *Cases) record(caller *Caller, c *exchange.Case, e exchange.CaseEvent, what string) ledger.Record {
	digest := sm.Sum([]byte(caller.Evidence))
	rec := ledger.Record{Kind: KindCase, Time: e.At, Department: caller.Department.Code, Matter: c.Matter, Case: c.Number,
		Outcome: ledger.OutcomeOK, Reason: what, ResponseDigest: digest[:], RequestID: c.Number}
	if s.SubjectKey != nil {
		rec.Subject = s.SubjectKey(c.Applicant)
	}
	return rec
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
	caller, c, err := s.visible(ctx, req.GetNumber())
	if err != nil {
		return nil, err
	}
	// The case names its applicant and parties: the read is audited before it is answered.
	if _, err := auditRecord(ctx, s.Audit, s.record(caller, c, exchange.CaseEvent{At: s.Now.now().UTC()}, "read: the case, its parties and materials")); err != nil {
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
	if len(cs) > 0 {
		// The cases name their applicants: the listing is audited before it is answered.
		digest := sm.Sum([]byte(caller.Evidence))
		if _, err := auditRecord(ctx, s.Audit, ledger.Record{Kind: KindCase, Time: s.Now.now().UTC(), Department: me.Code, Matter: f.Matter,
			Outcome: ledger.OutcomeOK, Reason: fmt.Sprintf("list: %d cases of department %q from %q", len(cs), f.Department, cs[0].Number), ResponseDigest: digest[:]}); err != nil {
			return nil, err
		}
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
	what := string(to)
	if e.Comment != "" {
		what += ": " + e.Comment
	}
	if _, err := auditedWrite(ctx, s.Audit, func(ctx context.Context) (ledger.Record, error) {
		if err := s.Store.Cases().End(ctx, c.Number, from, e); err != nil {
			return ledger.Record{}, err
		}
		return s.record(caller, c, e, what), nil
	}); err != nil {
		return nil, err
	}
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

// AuditedMaterials records the materials a collection obtained in a case as an audited
// write (exchange.CaseMaterials for the Collector): the materials rows commit with a case
// record naming them. The pulls and e-certificate fetches behind them have their own
// records.
type AuditedMaterials struct {
	Store      store.Store
	Audit      *store.AuditWriter
	SubjectKey ledger.SubjectKeyFunc
	Now        Clock
}

// AddMaterials implements exchange.CaseMaterials.
func (m AuditedMaterials) AddMaterials(ctx context.Context, number string, ms []exchange.CaseMaterial) error {
	if len(ms) == 0 {
		return nil // nothing obtained, nothing to record
	}
	return writeAudited(ctx, m.Audit, func() time.Time { return m.Now.now().UTC() }, func(ctx context.Context) error {
		return m.Store.Cases().AddMaterials(ctx, number, ms)
	}, func() ledger.Record {
		ids := make([]string, len(ms))
		for i, mt := range ms {
			ids[i] = mt.Material + " (" + string(mt.Source) + ")"
		}
		rec := ledger.Record{Kind: KindCase, Time: ms[0].ObtainedAt, Department: ms[0].ObtainedBy, Case: number, Outcome: ledger.OutcomeOK,
			Reason: fmt.Sprintf("collect: %d materials: %s", len(ms), strings.Join(ids, ", ")), RequestID: number}
		if c, err := m.Store.Cases().Get(ctx, number); err == nil {
			rec.Matter = c.Matter
			if m.SubjectKey != nil {
				rec.Subject = m.SubjectKey(c.Applicant)
			}
		}
		return rec
	})
}
