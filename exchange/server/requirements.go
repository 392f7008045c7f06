package server

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"strings"
	"time"

	"github.com/gxhub/gxhub/certs/sm"
	"github.com/gxhub/gxhub/exchange"
	"github.com/gxhub/gxhub/exchange/store"
	"github.com/gxhub/gxhub/ledger"
	"github.com/gxhub/gxhub/sdk/api/convert"
	exchangev1 "github.com/gxhub/gxhub/sdk/api/exchange/v1"
)

// Requirements implements gxhub.exchange.v1.RequirementService (REQUIREMENTS A2): the
// workflow of exchange.Workflow over the store, each decision stored compare-and-set with
// the deciding department's signed request as evidence.
type Requirements struct {
	exchangev1.UnimplementedRequirementServiceServer
	Store    store.Store
	Workflow *exchange.Workflow
	// Audit makes each decision an audited write: one requirement.decision record per
	// decision, committed with it (C1).
	Audit *store.AuditWriter
	Log   *slog.Logger
	Now   func() time.Time
}

func (s *Requirements) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

func actor(c *Caller) exchange.Actor {
	return exchange.Actor{Department: c.Department, Evidence: c.Evidence, BodyDigest: c.BodyDigest}
}

// newRequirementID returns "RQ-<yyyymmdd>-<12 hex>" (dates in Asia/Shanghai).
func newRequirementID(now time.Time) string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return "RQ-" + now.In(cst).Format("20060102") + "-" + hex.EncodeToString(b)
}

var cst = time.FixedZone("CST", 8*3600)

// FileRequirement files a requirement as the calling consumer.
func (s *Requirements) FileRequirement(ctx context.Context, req *exchangev1.FileRequirementRequest) (*exchangev1.FileRequirementResponse, error) {
	caller, err := RequireRole(ctx, exchange.RoleConsumer)
	if err != nil {
		return nil, err
	}
	res, err := s.Store.Catalog().Get(ctx, strings.TrimSpace(req.GetResource()), 0)
	if err != nil {
		return nil, err
	}
	now := s.now()
	r := &exchange.Requirement{
		ID: newRequirementID(now), Consumer: caller.Department.Code, Provider: req.GetProvider(), Resource: res.Code,
		Items: req.GetItems(), MatterCodes: req.GetMatterCodes(), LegalDuty: strings.TrimSpace(req.GetLegalDuty()), ScopeRegion: req.GetScopeRegion(),
		UpdateCycle: exchange.UpdateCycle(req.GetUpdateCycle()), ProvisionMethod: exchange.ProvisionMethod(req.GetProvisionMethod()),
		VerifyOnly: req.GetVerifyOnly(),
	}
	for _, c := range req.GetClearText() {
		r.ClearText = append(r.ClearText, exchange.ClearText{Item: c.GetItem(), Basis: convert.LegalBasisFromProto(c.GetLegalBasis())})
	}
	if err := s.Workflow.File(r, res, actor(caller), now); err != nil {
		return nil, s.refused(ctx, caller, r, err)
	}
	if err := exchange.RequireRegistered(ctx, s.Store.Matters(), r.MatterCodes); err != nil {
		return nil, s.refused(ctx, caller, r, err)
	}
	if _, err := auditedWriteAll(ctx, s.Audit, func(ctx context.Context) ([]ledger.Record, error) {
		if err := s.Store.Requirements().Create(ctx, r); err != nil {
			return nil, err
		}
		recs := make([]ledger.Record, len(r.Decisions))
		for i, d := range r.Decisions {
			recs[i] = decisionRecord(r, d)
		}
		return recs, nil
	}); err != nil {
		return nil, err
	}
	for _, d := range r.Decisions {
		s.logDecision(ctx, r, d)
	}
	return &exchangev1.FileRequirementResponse{Requirement: RequirementToProto(r)}, nil
}

// refused records a refused filing (an unregistered matter, an unknown item, …) and
// returns err.
func (s *Requirements) refused(ctx context.Context, caller *Caller, r *exchange.Requirement, err error) error {
	reason, msg := exchange.ErrorOf(err)
	if reason == "" {
		return err
	}
	digest := sm.Sum([]byte(caller.Evidence))
	auditRecord(ctx, s.Audit, ledger.Record{Kind: ledger.KindRequirementDecision, Time: s.now().UTC(), Department: caller.Department.Code, //nolint:errcheck // a refusal is answered even when its record fails (logged)
		Resource: r.Resource, DataItems: r.Items, Matter: strings.Join(r.MatterCodes, ","), Outcome: ledger.OutcomeDenied,
		Reason: reason + ": filing refused: " + msg, ResponseDigest: digest[:]})
	return err
}

// decisionRecord is the audit record of a decision on r.
func decisionRecord(r *exchange.Requirement, d exchange.Decision) ledger.Record {
	outcome := ledger.OutcomeOK
	switch r.State {
	case exchange.ReqGranted:
		outcome = ledger.OutcomeGranted
	case exchange.ReqRefused:
		outcome = ledger.OutcomeDenied
	}
	reason := string(d.Action) + " → " + string(r.State)
	if !d.LegalBasis.IsZero() {
		reason += "; legal basis: " + d.LegalBasis.Citation()
	}
	rec := ledger.Record{Kind: ledger.KindRequirementDecision, Time: d.At, Department: d.By, Resource: r.Resource,
		DataItems: r.Items, Matter: strings.Join(r.MatterCodes, ","), Outcome: outcome, Reason: reason, RequestID: r.ID}
	if d.Evidence != "" {
		digest := sm.Sum([]byte(d.Evidence))
		rec.ResponseDigest = digest[:]
	}
	return rec
}

// decide stores decision d on r (moving it from state from) as an audited write.
func (s *Requirements) decide(ctx context.Context, r *exchange.Requirement, from exchange.RequirementState, d exchange.Decision) error {
	_, err := auditedWrite(ctx, s.Audit, func(ctx context.Context) (ledger.Record, error) {
		if err := s.Store.Requirements().Decide(ctx, r, from, d); err != nil {
			return ledger.Record{}, err
		}
		return decisionRecord(r, d), nil
	})
	if err == nil {
		s.logDecision(ctx, r, d)
	}
	return err
}

// logDecision logs a stored decision.
func (s *Requirements) logDecision(ctx context.Context, r *exchange.Requirement, d exchange.Decision) {
	if s.Log != nil {
		s.Log.InfoContext(ctx, "requirement decision", slog.String("requirement", r.ID), slog.String("action", string(d.Action)),
			slog.String("by", d.By), slog.String("state", string(r.State)), slog.String("resource", r.Resource))
	}
}

// involved reports whether the caller may see r.
func involved(c *Caller, r *exchange.Requirement) bool {
	d := c.Department
	return d.Code == r.Consumer || d.Code == r.Provider || d.HasRole(exchange.RoleCoordinator) || d.HasRole(exchange.RoleAuditor)
}

// load reads a requirement, recomputing a provisional deadline whose year is now announced
// and escalating it when it is past its deadline.
func (s *Requirements) load(ctx context.Context, id string) (*exchange.Requirement, error) {
	r, err := s.Store.Requirements().Get(ctx, id)
	if err != nil {
		return nil, err
	}
	if s.Workflow.DeadlineSettled(r) { // a provisional deadline whose year is now announced
		if _, err := s.recompute(ctx, r); err != nil {
			return nil, err
		}
		if r, err = s.Store.Requirements().Get(ctx, id); err != nil {
			return nil, err
		}
	}
	if r.Overdue(s.now()) {
		if _, err := s.escalate(ctx, r); err != nil {
			return nil, err
		}
		return s.Store.Requirements().Get(ctx, id)
	}
	return r, nil
}

// escalate applies the system escalation to r (carrying its decisions) if it is overdue.
// A concurrent decision that got there first is not an error.
func (s *Requirements) escalate(ctx context.Context, r *exchange.Requirement) (bool, error) {
	from, d, ok := s.Workflow.Escalate(r, s.now())
	if !ok {
		return false, nil
	}
	if err := s.decide(ctx, r, from, d); err != nil {
		if exchange.KindOf(err) == exchange.KindFailedPrecondition {
			return false, nil
		}
		return false, err
	}
	return true, nil
}

// recompute applies RecomputeDeadline to r (carrying its decisions). A concurrent
// decision that got there first is not an error.
func (s *Requirements) recompute(ctx context.Context, r *exchange.Requirement) (bool, error) {
	from, d, ok, err := s.Workflow.RecomputeDeadline(r, s.now())
	if err != nil || !ok {
		return false, err
	}
	if err := s.decide(ctx, r, from, d); err != nil {
		if exchange.KindOf(err) == exchange.KindFailedPrecondition {
			return false, nil
		}
		return false, err
	}
	return true, nil
}

// RecomputeProvisional recomputes every provisional deadline whose year the calendar now
// announces (after a publication; the hub also runs it with its periodic sweep, and reads
// recompute the requirement they touch). It returns how many it recomputed.
func (s *Requirements) RecomputeProvisional(ctx context.Context) (int, error) {
	n, after := 0, ""
	for {
		page, err := s.Store.Requirements().List(ctx, store.RequirementFilter{DeadlineProvisional: true}, after, 100)
		if err != nil {
			return n, err
		}
		for _, o := range page {
			if !s.Workflow.DeadlineSettled(o) {
				continue // its year is still provisional
			}
			r, err := s.Store.Requirements().Get(ctx, o.ID)
			if err != nil {
				return n, err
			}
			ok, err := s.recompute(ctx, r)
			if err != nil {
				return n, err
			}
			if ok {
				n++
			}
		}
		if len(page) < 100 {
			return n, nil
		}
		after = page[len(page)-1].ID
	}
}

// Sweep escalates every requirement past its deadline (the hub calls it periodically;
// reads escalate the requirement they touch). It returns how many it escalated.
func (s *Requirements) Sweep(ctx context.Context) (int, error) {
	// A provisional deadline the published calendar moved is settled before it can expire.
	if _, err := s.RecomputeProvisional(ctx); err != nil {
		return 0, err
	}
	n := 0
	for {
		due, err := s.Store.Requirements().Overdue(ctx, s.now(), 100)
		if err != nil {
			return n, err
		}
		progressed := false
		for _, o := range due {
			r, err := s.Store.Requirements().Get(ctx, o.ID)
			if err != nil {
				return n, err
			}
			ok, err := s.escalate(ctx, r)
			if err != nil {
				return n, err
			}
			if ok {
				n++
				progressed = true
			}
		}
		if len(due) < 100 || !progressed {
			return n, nil
		}
	}
}

// GetRequirement returns a requirement with its decisions to those involved.
func (s *Requirements) GetRequirement(ctx context.Context, req *exchangev1.GetRequirementRequest) (*exchangev1.Requirement, error) {
	caller, err := RequireCaller(ctx)
	if err != nil {
		return nil, err
	}
	r, err := s.Store.Requirements().Get(ctx, req.GetId())
	if err != nil {
		return nil, err
	}
	if !involved(caller, r) {
		return nil, exchange.Errorf(exchange.KindPermissionDenied, "NOT_INVOLVED",
			"requirement %s is between %s and %s: department %s may not read it", r.ID, r.Consumer, r.Provider, caller.Department.Code)
	}
	if r, err = s.load(ctx, r.ID); err != nil {
		return nil, err
	}
	return RequirementToProto(r), nil
}

// ListRequirements lists requirements the caller may see.
func (s *Requirements) ListRequirements(ctx context.Context, req *exchangev1.ListRequirementsRequest) (*exchangev1.ListRequirementsResponse, error) {
	caller, err := RequireCaller(ctx)
	if err != nil {
		return nil, err
	}
	size, err := pageSize(req.GetPageSize())
	if err != nil {
		return nil, err
	}
	f := store.RequirementFilter{Consumer: req.GetConsumer(), Provider: req.GetProvider(), Resource: req.GetResource(), State: exchange.RequirementState(req.GetState())}
	if f.State != "" && !validState(f.State) {
		return nil, exchange.Errorf(exchange.KindInvalid, "STATE_INVALID", "state %q is not one of %s", f.State, strings.Join(stateNames(), ", "))
	}
	me := caller.Department
	if !me.HasRole(exchange.RoleCoordinator) && !me.HasRole(exchange.RoleAuditor) {
		switch {
		case f.Consumer == "" && f.Provider == "":
			f.Consumer = me.Code
		case f.Consumer != me.Code && f.Provider != me.Code:
			return nil, exchange.Errorf(exchange.KindPermissionDenied, "NOT_INVOLVED",
				"department %s may list only requirements it filed (consumer=%s) or that name it as provider (provider=%s)", me.Code, me.Code, me.Code)
		}
	}
	if len(req.GetPageToken()) > 64 {
		return nil, badToken(req.GetPageToken())
	}
	if _, err := s.Sweep(ctx); err != nil && s.Log != nil {
		s.Log.WarnContext(ctx, "escalation sweep on read", slog.String("error", err.Error()))
	}
	rs, err := s.Store.Requirements().List(ctx, f, req.GetPageToken(), min(size+1, 1000))
	if err != nil {
		return nil, err
	}
	resp := &exchangev1.ListRequirementsResponse{}
	if len(rs) > size {
		rs = rs[:size]
		resp.NextPageToken = rs[size-1].ID
	}
	for _, r := range rs {
		resp.Requirements = append(resp.Requirements, RequirementToProto(r))
	}
	return resp, nil
}

var allStates = []exchange.RequirementState{exchange.ReqUnderReview, exchange.ReqReturned, exchange.ReqAwaitingProvider,
	exchange.ReqEscalated, exchange.ReqGranted, exchange.ReqRefused, exchange.ReqRevoked, exchange.ReqWithdrawn}

func validState(s exchange.RequirementState) bool {
	for _, v := range allStates {
		if v == s {
			return true
		}
	}
	return false
}

func stateNames() []string {
	out := make([]string, len(allStates))
	for i, s := range allStates {
		out[i] = string(s)
	}
	return out
}

// DecideRequirement records a signed decision, compare-and-set.
func (s *Requirements) DecideRequirement(ctx context.Context, req *exchangev1.DecideRequirementRequest) (*exchangev1.DecideRequirementResponse, error) {
	caller, err := RequireCaller(ctx)
	if err != nil {
		return nil, err
	}
	r, err := s.Store.Requirements().Get(ctx, req.GetId())
	if err != nil {
		return nil, err
	}
	if !involved(caller, r) {
		return nil, exchange.Errorf(exchange.KindPermissionDenied, "NOT_INVOLVED",
			"requirement %s is between %s and %s: department %s cannot decide on it", r.ID, r.Consumer, r.Provider, caller.Department.Code)
	}
	if r, err = s.load(ctx, r.ID); err != nil { // a decision past the deadline meets the escalated state
		return nil, err
	}
	res, err := s.Store.Catalog().Get(ctx, r.Resource, 0)
	if err != nil {
		return nil, err
	}
	from, d, err := s.Workflow.Decide(r, res, actor(caller), exchange.DecisionRequest{
		Action: exchange.DecisionAction(req.GetAction()), LegalBasis: convert.LegalBasisFromProto(req.GetLegalBasis()), Comment: req.GetComment(),
		Items: req.GetItems(), MatterCodes: req.GetMatterCodes(), LegalDuty: strings.TrimSpace(req.GetLegalDuty()), ScopeRegion: req.GetScopeRegion(),
	}, s.now())
	if err != nil {
		return nil, err
	}
	if d.Action == exchange.ActSubmit {
		if err := exchange.RequireRegistered(ctx, s.Store.Matters(), r.MatterCodes); err != nil {
			return nil, err
		}
	}
	if err := s.decide(ctx, r, from, d); err != nil {
		return nil, err
	}
	return &exchangev1.DecideRequirementResponse{Requirement: RequirementToProto(r)}, nil
}

// RequirementToProto converts a requirement for the wire.
func RequirementToProto(r *exchange.Requirement) *exchangev1.Requirement {
	out := &exchangev1.Requirement{
		Id: r.ID, Consumer: r.Consumer, Provider: r.Provider, Resource: r.Resource, Items: r.Items, MatterCodes: r.MatterCodes,
		LegalDuty: r.LegalDuty, ScopeRegion: r.ScopeRegion, State: string(r.State),
		UpdateCycle: string(r.UpdateCycle), ProvisionMethod: string(r.ProvisionMethod),
		Deadline: ts(r.Deadline), CreatedAt: ts(r.CreatedAt), UpdatedAt: ts(r.UpdatedAt),
		DeadlineProvisional: r.DeadlineProvisional, DeadlineWorkingDays: int32(r.DeadlineDays), VerifyOnly: r.VerifyOnly,
	}
	for _, c := range r.ClearText {
		out.ClearText = append(out.ClearText, &exchangev1.ClearText{Item: c.Item, LegalBasis: convert.LegalBasisToProto(c.Basis)})
	}
	for _, d := range r.Decisions {
		out.Decisions = append(out.Decisions, &exchangev1.Decision{
			Seq: int32(d.Seq), Action: string(d.Action), By: d.By, LegalBasis: convert.LegalBasisToProto(d.LegalBasis), Comment: d.Comment,
			At: ts(d.At), Evidence: d.Evidence, BodyDigest: d.BodyDigest,
		})
	}
	return out
}
