package exchange

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// ProposalState is where a proposal to narrow a resource stands.
type ProposalState string

// Proposal states: pending until the coordinator approves (the change takes effect as a
// new version) or rejects it, or the provider withdraws it. Silence never narrows sharing:
// an overdue proposal stays pending, at the top of the coordinator's queue.
const (
	ProposalPending   ProposalState = "pending"
	ProposalApproved  ProposalState = "approved"
	ProposalRejected  ProposalState = "rejected"
	ProposalWithdrawn ProposalState = "withdrawn"
)

// ProposalAction is one step of a proposal.
type ProposalAction string

// Proposal actions.
const (
	ProposeChange  ProposalAction = "propose"
	ApproveChange  ProposalAction = "approve"
	RejectChange   ProposalAction = "reject"
	WithdrawChange ProposalAction = "withdraw"
)

// DefaultProposalDays is the coordinator's deadline for a proposal, in working days.
const DefaultProposalDays = 5

// ProposalDecision is one signed step of a proposal's history.
type ProposalDecision struct {
	Seq        int
	Action     ProposalAction
	By         string
	Comment    string
	At         time.Time
	Evidence   string
	BodyDigest string
}

// CatalogProposal is a provider's change that narrows a resource on which requirements are
// granted (REQUIREMENTS A10): the coordinator decides it within a deadline in working days;
// the granted requirements keep working until the approved change takes effect, and each
// affected requirement's history says so.
type CatalogProposal struct {
	ID          string
	Resource    string
	Provider    string
	BaseVersion int       // the version the change was made on
	Proposed    *Resource // the whole proposed resource (Version = BaseVersion + 1)
	Narrowing   []string  // how it narrows sharing or loosens masking (Unmasking), in words
	Affected    []string  // requirements granted on the resource when it was proposed
	State       ProposalState
	Deadline    time.Time
	// DeadlineProvisional is set when the deadline counted days of a year whose calendar
	// was not announced yet (statutory holidays only).
	DeadlineProvisional bool
	CreatedAt           time.Time
	UpdatedAt           time.Time
	Decisions           []ProposalDecision
	AppliedVersion      int // the version the approval stored
}

// Overdue reports whether a pending proposal is past the coordinator's deadline.
func (p *CatalogProposal) Overdue(now time.Time) bool {
	return p.State == ProposalPending && !p.Deadline.IsZero() && !now.Before(p.Deadline)
}

// ChangeControl decides how a change of a catalogued resource takes effect. It does no I/O:
// the caller loads the current resource, the requirements granted on it and whether a
// proposal is pending, then stores what it returns.
type ChangeControl struct {
	Calendar WorkingDays
	// Days is the coordinator's deadline for a proposal in working days (default 5).
	Days int
}

// ResourceChange is a provider's change of one resource: Next is the whole new version,
// made on Cur (Next.Version must equal Cur.Version).
type ResourceChange struct {
	Cur, Next *Resource
	// Granted are the requirements granted on the resource now.
	Granted []*Requirement
	// Pending is set when a proposal on the resource awaits the coordinator.
	Pending bool
}

// Plan checks a provider's change. When it narrows sharing while requirements are granted,
// it returns a proposal (the resource is not changed yet); otherwise it returns nil and the
// caller stores next as the new version at once. next is validated and completed (provider,
// version, updated at/by). id names the proposal if one is made.
func (cc *ChangeControl) Plan(ch ResourceChange, by Actor, id string, now time.Time) (*CatalogProposal, error) {
	now = now.UTC().Truncate(time.Microsecond)
	cur, next := ch.Cur, ch.Next
	if cur.Provider != by.Department.Code {
		return nil, Errorf(KindPermissionDenied, "NOT_RESOURCE_PROVIDER",
			"resource %s belongs to provider %s: only its provider may change it (department %s is not)", cur.Code, cur.Provider, by.Department.Code)
	}
	if next.Provider != "" && next.Provider != cur.Provider {
		return nil, Errorf(KindFailedPrecondition, "RESOURCE_PROVIDER_FIXED", "the provider of resource %s cannot change", cur.Code)
	}
	if next.Version != cur.Version {
		return nil, Errorf(KindFailedPrecondition, "RESOURCE_VERSION_CONFLICT",
			"resource %s is at version %d but the change is based on version %d: read the current version and apply the change again", cur.Code, cur.Version, next.Version)
	}
	if cur.Withdrawn {
		return nil, Errorf(KindFailedPrecondition, "RESOURCE_WITHDRAWN", "resource %s was withdrawn from the catalogue: register a new resource instead", cur.Code)
	}
	if ch.Pending {
		return nil, Errorf(KindFailedPrecondition, "RESOURCE_CHANGE_PENDING",
			"a proposal to narrow resource %s awaits the coordinator: wait for the decision, or withdraw the proposal (gxctl catalog proposal withdraw) before changing it again", cur.Code)
	}
	next.Code, next.Provider = cur.Code, cur.Provider
	if err := next.Validate(); err != nil {
		return nil, err
	}
	next.Version = cur.Version + 1
	next.UpdatedAt, next.UpdatedBy = now, by.Department.Code
	narrowing := Narrowing(cur, next)
	unmasking := Unmasking(cur, next)
	if len(unmasking) == 0 && (len(narrowing) == 0 || len(ch.Granted) == 0) {
		return nil, nil
	}
	narrowing = append(narrowing, unmasking...)
	days := cc.Days
	if days <= 0 {
		days = DefaultProposalDays
	}
	deadline, provisional, err := cc.Calendar.Deadline(now, days)
	if err != nil {
		return nil, Wrap(KindFailedPrecondition, "CALENDAR_YEAR_NOT_ANNOUNCED", err, "the coordinator's deadline of %d working days from %s cannot be computed: %v", days, now.Format(time.DateOnly), err)
	}
	p := &CatalogProposal{ID: id, Resource: cur.Code, Provider: cur.Provider, BaseVersion: cur.Version, Proposed: next,
		Narrowing: narrowing, State: ProposalPending, Deadline: deadline.UTC(), DeadlineProvisional: provisional, CreatedAt: now, UpdatedAt: now,
		Decisions: []ProposalDecision{{Seq: 1, Action: ProposeChange, By: by.Department.Code, At: now, Evidence: by.Evidence, BodyDigest: by.BodyDigest}}}
	for _, r := range ch.Granted {
		p.Affected = append(p.Affected, r.ID)
	}
	slices.Sort(p.Affected)
	return p, nil
}

// Summary says what a proposal does, for requirement histories and audit records.
func (p *CatalogProposal) Summary() string {
	return fmt.Sprintf("proposal %s by provider %s to change resource %s (v%d): %s", p.ID, p.Provider, p.Resource, p.BaseVersion, strings.Join(p.Narrowing, "; "))
}

// Decide applies a decision to a pending proposal (in place) and returns the state it was
// in, the step to append and, for an approval, the resource version to store in the same
// transaction. The coordinator approves or rejects (a rejection says why); the provider
// may withdraw its own proposal. cur is the resource now.
func (cc *ChangeControl) Decide(p *CatalogProposal, cur *Resource, by Actor, action ProposalAction, comment string, now time.Time) (ProposalState, ProposalDecision, *Resource, error) {
	now = now.UTC().Truncate(time.Microsecond)
	comment = strings.TrimSpace(comment)
	if err := CheckText("comment", comment, MaxText); err != nil {
		return "", ProposalDecision{}, nil, err
	}
	dept := by.Department
	var next ProposalState
	switch action {
	case ApproveChange, RejectChange:
		if !dept.HasRole(RoleCoordinator) {
			return "", ProposalDecision{}, nil, Errorf(KindPermissionDenied, "ROLE_REQUIRED", "only a coordinator (政务数据主管部门) decides a proposal to narrow a resource; department %s is not one", dept.Code)
		}
		next = ProposalApproved
		if action == RejectChange {
			if comment == "" {
				return "", ProposalDecision{}, nil, Errorf(KindInvalid, "COMMENT_REQUIRED", "say why the proposal is rejected (comment): the provider and the consumers read it")
			}
			next = ProposalRejected
		}
	case WithdrawChange:
		if dept.Code != p.Provider {
			return "", ProposalDecision{}, nil, Errorf(KindPermissionDenied, "NOT_RESOURCE_PROVIDER", "only provider %s withdraws its proposal %s", p.Provider, p.ID)
		}
		next = ProposalWithdrawn
	default:
		return "", ProposalDecision{}, nil, Errorf(KindInvalid, "ACTION_INVALID", "action %q is not approve, reject or withdraw", action)
	}
	if p.State != ProposalPending {
		return "", ProposalDecision{}, nil, Errorf(KindFailedPrecondition, "PROPOSAL_NOT_PENDING", "proposal %s is already %s", p.ID, p.State)
	}
	var apply *Resource
	if next == ProposalApproved {
		if cur.Version != p.BaseVersion {
			return "", ProposalDecision{}, nil, Errorf(KindFailedPrecondition, "PROPOSAL_STALE",
				"resource %s moved from version %d to %d since proposal %s was made: reject it and let the provider propose again", p.Resource, p.BaseVersion, cur.Version, p.ID)
		}
		r := *p.Proposed
		r.Items = slices.Clone(r.Items)
		r.Version, r.UpdatedAt, r.UpdatedBy = cur.Version+1, now, p.Provider
		apply = &r
		p.AppliedVersion = r.Version
	}
	from := p.State
	d := ProposalDecision{Seq: len(p.Decisions) + 1, Action: action, By: dept.Code, Comment: comment, At: now, Evidence: by.Evidence, BodyDigest: by.BodyDigest}
	p.State, p.UpdatedAt = next, now
	p.Decisions = append(slices.Clone(p.Decisions), d)
	return from, d, apply, nil
}

// Notice is what the history of every affected requirement says about the proposal in its
// current state.
func (p *CatalogProposal) Notice() string {
	last := p.Decisions[len(p.Decisions)-1]
	what := strings.Join(p.Narrowing, "; ")
	switch p.State {
	case ProposalPending:
		return fmt.Sprintf("provider %s proposes to change resource %s: %s (proposal %s; the coordinator decides by %s%s). This requirement keeps working until a decision takes effect",
			p.Provider, p.Resource, what, p.ID, p.Deadline.In(cst).Format("2006-01-02"), provisionalNote(p.DeadlineProvisional))
	case ProposalApproved:
		return fmt.Sprintf("coordinator %s approved proposal %s: resource %s changed in version %d (%s)%s", last.By, p.ID, p.Resource, p.AppliedVersion, what, withComment(last.Comment))
	case ProposalRejected:
		return fmt.Sprintf("coordinator %s rejected proposal %s%s: resource %s stays as it was", last.By, p.ID, withComment(last.Comment), p.Resource)
	default:
		return fmt.Sprintf("provider %s withdrew proposal %s: resource %s stays as it was", p.Provider, p.ID, p.Resource)
	}
}

func withComment(c string) string {
	if c == "" {
		return ""
	}
	return " (" + c + ")"
}
