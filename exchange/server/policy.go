package server

import (
	"context"
	"log/slog"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/gxhub/gxhub/certs/sm"
	"github.com/gxhub/gxhub/exchange"
	"github.com/gxhub/gxhub/exchange/store"
	"github.com/gxhub/gxhub/ledger"
	"github.com/gxhub/gxhub/policy"
	exchangev1 "github.com/gxhub/gxhub/sdk/api/exchange/v1"
)

// Policy implements gxhub.exchange.v1.PolicyService (D1–D3). The coordinator changes any
// rule; a department changes only the operator roles ("g" rules) inside itself, with its
// own key or through an operator holding the admin role there (OperatorMethods: only
// admins may call ChangePolicy; the operator is the authenticated one, never a name the
// request claims). Every change is a new
// version, audited as policy.change, and effective at once on this replica (the decider
// is invalidated) and within the decider's check interval on the others.
type Policy struct {
	exchangev1.UnimplementedPolicyServiceServer
	Store    store.Store
	Decider  policy.Decider
	Audit    *store.AuditWriter
	Validate func(policy.Rule) error // rule shape (casbinpolicy.ValidateRule)
	Model    string                  // the model text shown by GetPolicy
	Log      *slog.Logger
	Now      func() time.Time
}

func (s *Policy) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

func rulesToProto(rs []policy.Rule) []*exchangev1.PolicyRule {
	out := make([]*exchangev1.PolicyRule, 0, len(rs))
	for _, r := range rs {
		out = append(out, &exchangev1.PolicyRule{Ptype: r.PType, Fields: r.Fields})
	}
	return out
}

func rulesFromProto(ps []*exchangev1.PolicyRule) []policy.Rule {
	out := make([]policy.Rule, 0, len(ps))
	for _, p := range ps {
		out = append(out, policy.Rule{PType: p.GetPtype(), Fields: p.GetFields()})
	}
	return out
}

// GetPolicy returns the rules.
func (s *Policy) GetPolicy(ctx context.Context, _ *exchangev1.GetPolicyRequest) (*exchangev1.Policy, error) {
	if _, err := RequireCaller(ctx); err != nil {
		return nil, err
	}
	rules, v, err := s.Store.Policies().Rules(ctx)
	if err != nil {
		return nil, err
	}
	return &exchangev1.Policy{Version: v, Rules: rulesToProto(rules), Model: s.Model}, nil
}

// ChangePolicy applies a change.
func (s *Policy) ChangePolicy(ctx context.Context, req *exchangev1.ChangePolicyRequest) (*exchangev1.PolicyChange, error) {
	c, err := RequireCaller(ctx)
	if err != nil {
		return nil, err
	}
	add, remove := rulesFromProto(req.GetAdd()), rulesFromProto(req.GetRemove())
	if len(add)+len(remove) == 0 {
		return nil, exchange.Errorf(exchange.KindInvalid, "POLICY_CHANGE_EMPTY", "a change adds or removes at least one rule")
	}
	for _, r := range add {
		if s.Validate != nil {
			if err := s.Validate(r); err != nil {
				return nil, exchange.Wrap(exchange.KindInvalid, "POLICY_RULE_INVALID", err, "rule %q is not valid: %v", r.String(), err)
			}
		}
	}
	if !c.Department.HasRole(exchange.RoleCoordinator) {
		for _, r := range append(append([]policy.Rule{}, add...), remove...) {
			if r.PType != "g" || len(r.Fields) != 3 || r.Fields[2] != c.Department.Code {
				return nil, exchange.Errorf(exchange.KindPermissionDenied, "ROLE_REQUIRED",
					"department %s may change only the operator roles inside itself (g, operator, role, %s); rule %q needs the coordinator", c.Department.Code, c.Department.Code, r.String())
			}
		}
	}
	if err := exchange.CheckText("comment", req.GetComment(), exchange.MaxText); err != nil {
		return nil, err
	}
	var ch policy.Change
	digest := sm.Sum([]byte(c.Evidence))
	idx, err := auditedWrite(ctx, s.Audit, func(ctx context.Context) (ledger.Record, error) {
		var err error
		ch, err = s.Store.Policies().Apply(ctx, policy.Change{Add: add, Remove: remove, By: c.Department.Code, Operator: c.OperatorID(),
			Comment: req.GetComment(), At: s.now().UTC().Truncate(time.Microsecond), Evidence: c.Evidence, BodyDigest: c.BodyDigest}, req.GetExpectVersion())
		return ledger.Record{Kind: ledger.KindPolicyChange, Time: ch.At, Department: c.Department.Code, Operator: ch.Operator,
			Resource: "policy", Outcome: ledger.OutcomeOK, Reason: ch.Summary(), ResponseDigest: digest[:]}, err
	})
	if err != nil {
		return nil, err
	}
	if s.Decider != nil {
		s.Decider.Invalidate()
	}
	out := changeToProto(ch)
	out.AuditReference = idx
	return out, nil
}

func changeToProto(c policy.Change) *exchangev1.PolicyChange {
	return &exchangev1.PolicyChange{Version: c.Version, Add: rulesToProto(c.Add), Remove: rulesToProto(c.Remove), By: c.By,
		Operator: c.Operator, Comment: c.Comment, At: timestamppb.New(c.At)}
}

// ListPolicyChanges pages through the history.
func (s *Policy) ListPolicyChanges(ctx context.Context, req *exchangev1.ListPolicyChangesRequest) (*exchangev1.ListPolicyChangesResponse, error) {
	if _, err := RequireCaller(ctx); err != nil {
		return nil, err
	}
	size := int(req.GetPageSize())
	if size == 0 {
		size = 100
	}
	h, err := s.Store.Policies().History(ctx, req.GetBeforeVersion(), size)
	if err != nil {
		return nil, err
	}
	resp := &exchangev1.ListPolicyChangesResponse{}
	for _, c := range h {
		resp.Changes = append(resp.Changes, changeToProto(c))
	}
	return resp, nil
}
