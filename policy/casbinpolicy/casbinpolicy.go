// Package casbinpolicy decides pulls with a casbin v3 model (REQUIREMENTS D1–D3). It is asked
// only after the pull's legal invariants hold (exchange.CheckPull: the caller's own granted
// requirement, a registered and covered matter, the caller's open case and its subjects,
// approved items, the scope): a rule here can refuse further — operator roles inside a
// department, a department or resource suspended — but never allow what the invariants
// refuse. The default rules below still list the invariants' refusals, as a second line.
// The rules live in the hub's store (store.Policies) and reach casbin through a small
// persist.Adapter; changes go through the store only, so that every change is versioned
// and audited. Decisions are cached; the cache is dropped when the policy version in the
// store changes, which the Decider checks cheaply (one indexed MAX) at most every
// CheckEvery, so a change made through another replica takes effect within that interval
// and one made through this replica at once (Invalidate).
//
// # The model
//
// A request is the pull's facts, each reduced to a small vocabulary so that rules stay
// declarative and casbin needs no eval():
//
//	sub     operator ("@department" when the department's own key acts without one)
//	dom     consumer department code
//	obj     resource code (keyMatch patterns in rules)
//	act     "pull"
//	share   unconditional | conditional | not_shared | not_shared_ordered (the
//	        coordinator ordered sharing for this requirement)
//	state   granted | revoked | pending            (the requirement's state)
//	purpose covered | uncovered                     (matter code among the granted matters)
//	items   approved | unapproved                   (asked data items ⊆ granted items)
//	scope   match | mismatch                        (case region inside the granted scope)
//	cas     present | missing                       (case number / 办件编码)
//	owner   own | foreign                           (the requirement is the caller's)
//
// The matcher tests the cheap equalities first and the role lookup last, so that rules
// for other departments are skipped without consulting the role manager.
//
// A "p" rule is `priority, sub, dom, obj, act, share, state, purpose, items, scope, cas,
// owner, eft, reason`, "*" matching anything; the lowest priority number that matches
// decides (casbin's priority effect) and its reason is the decision's stable reason. When
// no rule matches, the pull is refused with ROLE_NOT_ALLOWED. A "g" rule `operator, role,
// department` gives an operator a role inside its department; rule subjects may name roles.
package casbinpolicy

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/casbin/casbin/v3"
	"github.com/casbin/casbin/v3/model"
	"github.com/casbin/casbin/v3/persist"

	"github.com/gxhub/gxhub/policy"
)

// Model is the casbin model text.
const Model = `
[request_definition]
r = sub, dom, obj, act, share, state, purpose, items, scope, cas, owner

[policy_definition]
p = priority, sub, dom, obj, act, share, state, purpose, items, scope, cas, owner, eft, reason

[role_definition]
g = _, _, _

[policy_effect]
e = priority(p.eft) || deny

[matchers]
m = (p.dom == "*" || r.dom == p.dom) && (p.act == "*" || r.act == p.act) && (p.share == "*" || r.share == p.share) && (p.state == "*" || r.state == p.state) && (p.purpose == "*" || r.purpose == p.purpose) && (p.items == "*" || r.items == p.items) && (p.scope == "*" || r.scope == p.scope) && (p.cas == "*" || r.cas == p.cas) && (p.owner == "*" || r.owner == p.owner) && (p.obj == "*" || keyMatch(r.obj, p.obj)) && (p.sub == "*" || r.sub == p.sub || g(r.sub, p.sub, r.dom))
`

// PFields is the number of fields of a "p" rule; GFields of a "g" rule.
const (
	PFields = 14
	GFields = 3
)

func p(prio, sub, share, state, purpose, items, scope, cas, owner, eft, reason string) policy.Rule {
	return policy.Rule{PType: "p", Fields: []string{prio, sub, "*", "*", policy.ActionPull, share, state, purpose, items, scope, cas, owner, eft, reason}}
}

// DefaultRules is the policy a new hub starts with: refusals in a fixed order (not shared
// first, then whose requirement, its state, purpose, case, items, scope), then pulls
// allowed to the department's own key and to operators holding the operator role.
func DefaultRules() []policy.Rule {
	return []policy.Rule{
		p("10", "*", "not_shared", "*", "*", "*", "*", "*", "*", "deny", policy.ReasonNotShared),
		p("20", "*", "*", "*", "*", "*", "*", "*", "foreign", "deny", policy.ReasonRequirementForeign),
		p("30", "*", "*", "revoked", "*", "*", "*", "*", "*", "deny", policy.ReasonRequirementRevoked),
		p("40", "*", "*", "pending", "*", "*", "*", "*", "*", "deny", policy.ReasonRequirementNotGrant),
		p("50", "*", "*", "*", "uncovered", "*", "*", "*", "*", "deny", policy.ReasonPurposeNotCovered),
		p("60", "*", "*", "*", "*", "*", "*", "missing", "*", "deny", policy.ReasonCaseNumberMissing),
		p("70", "*", "*", "*", "*", "unapproved", "*", "*", "*", "deny", policy.ReasonDataItemNotApproved),
		p("80", "*", "*", "*", "*", "*", "mismatch", "*", "*", "deny", policy.ReasonScopeMismatch),
		p("1000", policy.DepartmentSubject, "*", "granted", "covered", "approved", "match", "present", "own", "allow", policy.ReasonGranted),
		p("1000", policy.RoleOperator, "*", "granted", "covered", "approved", "match", "present", "own", "allow", policy.ReasonGranted),
	}
}

// ValidateRule checks a rule's shape before it is stored.
func ValidateRule(r policy.Rule) error {
	switch r.PType {
	case "p":
		if len(r.Fields) != PFields {
			return fmt.Errorf("a p rule has %d fields (priority, sub, dom, obj, act, share, state, purpose, items, scope, cas, owner, eft, reason), got %d", PFields, len(r.Fields))
		}
		var prio int
		if _, err := fmt.Sscanf(r.Fields[0], "%d", &prio); err != nil {
			return fmt.Errorf("rule priority %q must be an integer", r.Fields[0])
		}
		if e := r.Fields[12]; e != "allow" && e != "deny" {
			return fmt.Errorf("rule effect %q must be allow or deny", e)
		}
		if r.Fields[13] == "" {
			return errors.New("a rule needs a reason (UPPER_SNAKE, e.g. ROLE_NOT_ALLOWED)")
		}
	case "g":
		if len(r.Fields) != GFields {
			return fmt.Errorf("a g rule is operator, role, department, got %d fields", len(r.Fields))
		}
		if !slices.Contains(policy.Roles, r.Fields[1]) {
			return fmt.Errorf("role %q is not one of %s", r.Fields[1], strings.Join(policy.Roles, ", "))
		}
	default:
		return fmt.Errorf("rule type %q must be p or g", r.PType)
	}
	for _, f := range r.Fields {
		if f == "" || strings.ContainsAny(f, ",\n\"") {
			return fmt.Errorf("rule field %q must be non-empty without commas, quotes or newlines", f)
		}
	}
	return nil
}

// RuleSource is where rules live (store.Policies satisfies it).
type RuleSource interface {
	Version(ctx context.Context) (int64, error)
	Rules(ctx context.Context) ([]policy.Rule, int64, error)
}

// Adapter is a casbin persist.Adapter over a RuleSource. It only loads: changes go
// through the store so that they are versioned and audited. Refresh reads the rules once
// (one consistent read with their version); LoadFilteredPolicy then loads, from that
// snapshot, only the rules that can apply to one department (DomainFilter), so that a
// decision evaluates a handful of rules however large the whole policy is.
type Adapter struct {
	Src RuleSource

	mu      sync.Mutex
	rules   []policy.Rule
	version int64
	loaded  bool
}

var _ persist.FilteredAdapter = (*Adapter)(nil)

// DomainFilter selects the rules of one department: "p" rules whose dom is "*" or the
// department, and "g" rules (operator roles) inside the department.
type DomainFilter struct{ Department string }

var errReadOnly = errors.New("casbinpolicy: the policy is changed through the store (store.Policies.Apply), which versions and audits every change, not through casbin")

// Refresh reads every rule and its version from the store.
func (a *Adapter) Refresh(ctx context.Context) (int64, error) {
	rules, v, err := a.Src.Rules(ctx)
	if err != nil {
		return 0, err
	}
	a.mu.Lock()
	a.rules, a.version, a.loaded = rules, v, true
	a.mu.Unlock()
	return v, nil
}

// Version returns the version of the last Refresh.
func (a *Adapter) Version() int64 {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.version
}

func (a *Adapter) load(m model.Model, keep func(policy.Rule) bool) error {
	a.mu.Lock()
	loaded := a.loaded
	a.mu.Unlock()
	if !loaded {
		if _, err := a.Refresh(context.Background()); err != nil {
			return err
		}
	}
	a.mu.Lock()
	rules := a.rules
	a.mu.Unlock()
	for _, r := range rules {
		if keep != nil && !keep(r) {
			continue
		}
		if err := persist.LoadPolicyArray(append([]string{r.PType}, r.Fields...), m); err != nil {
			return fmt.Errorf("load rule %q: %w", r.String(), err)
		}
	}
	return nil
}

// LoadPolicy implements persist.Adapter: every rule of the snapshot (read on first use).
func (a *Adapter) LoadPolicy(m model.Model) error { return a.load(m, nil) }

// LoadFilteredPolicy implements persist.FilteredAdapter with a DomainFilter.
func (a *Adapter) LoadFilteredPolicy(m model.Model, filter any) error {
	f, ok := filter.(DomainFilter)
	if !ok {
		return fmt.Errorf("casbinpolicy: filter must be a DomainFilter, got %T", filter)
	}
	return a.load(m, func(r policy.Rule) bool {
		switch r.PType {
		case "p":
			return len(r.Fields) == PFields && (r.Fields[2] == "*" || r.Fields[2] == f.Department)
		case "g":
			return len(r.Fields) == GFields && r.Fields[2] == f.Department
		}
		return false
	})
}

// IsFiltered implements persist.FilteredAdapter: enforcers over this adapter hold one
// department's rules, and casbin must never save them back.
func (a *Adapter) IsFiltered() bool { return true }

// SavePolicy implements persist.Adapter (refused).
func (a *Adapter) SavePolicy(model.Model) error { return errReadOnly }

// AddPolicy implements persist.Adapter (refused).
func (a *Adapter) AddPolicy(string, string, []string) error { return errReadOnly }

// RemovePolicy implements persist.Adapter (refused).
func (a *Adapter) RemovePolicy(string, string, []string) error { return errReadOnly }

// RemoveFilteredPolicy implements persist.Adapter (refused).
func (a *Adapter) RemoveFilteredPolicy(string, string, int, ...string) error { return errReadOnly }

// snapshot is one policy version: the adapter holding its rules, the enforcers built for
// departments so far, and the decisions made with it.
type snapshot struct {
	adapter *Adapter
	version int64
	checked time.Time

	mu    sync.Mutex
	enf   map[string]*casbin.SyncedEnforcer
	cache map[string]policy.Decision
}

// enforcer returns the department's enforcer, building it on first use.
func (s *snapshot) enforcer(dept string) (*casbin.SyncedEnforcer, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if e, ok := s.enf[dept]; ok {
		return e, nil
	}
	m, err := model.NewModelFromString(Model)
	if err != nil {
		return nil, fmt.Errorf("casbinpolicy: model: %w", err)
	}
	e, err := casbin.NewSyncedEnforcer(m, s.adapter)
	if err != nil {
		return nil, fmt.Errorf("casbinpolicy: %w", err)
	}
	if err := e.LoadFilteredPolicy(DomainFilter{Department: dept}); err != nil {
		return nil, fmt.Errorf("casbinpolicy: load the policy of %s: %w", dept, err)
	}
	if s.enf == nil {
		s.enf = map[string]*casbin.SyncedEnforcer{}
	}
	s.enf[dept] = e
	return e, nil
}

// Decider implements policy.Decider with casbin.
type Decider struct {
	src RuleSource
	// CheckEvery is how often the store's policy version is compared (0 = every decision).
	CheckEvery time.Duration
	// MaxCached bounds the decision cache (default 100000); it is cleared when full.
	MaxCached int
	// NoCache disables the decision cache (benchmarks).
	NoCache bool

	mu     sync.RWMutex
	snap   *snapshot
	loadMu sync.Mutex
}

var _ policy.Decider = (*Decider)(nil)

// New returns a Decider over the rules in src; rules load at the first decision.
func New(src RuleSource) *Decider {
	return &Decider{src: src, CheckEvery: time.Second}
}

// Invalidate implements policy.Decider.
func (d *Decider) Invalidate() {
	d.mu.Lock()
	d.snap = nil
	d.mu.Unlock()
}

// Version returns the policy version decisions are made with (-1 before the first load).
func (d *Decider) Version() int64 {
	d.mu.RLock()
	defer d.mu.RUnlock()
	if d.snap == nil {
		return -1
	}
	return d.snap.version
}

func (d *Decider) current(ctx context.Context) (*snapshot, error) {
	fresh := func() *snapshot {
		d.mu.RLock()
		defer d.mu.RUnlock()
		if d.snap != nil && time.Since(d.snap.checked) < d.CheckEvery {
			return d.snap
		}
		return nil
	}
	if s := fresh(); s != nil {
		return s, nil
	}
	d.loadMu.Lock()
	defer d.loadMu.Unlock()
	if s := fresh(); s != nil {
		return s, nil
	}
	d.mu.RLock()
	old := d.snap
	d.mu.RUnlock()
	sv, err := d.src.Version(ctx)
	if err != nil {
		return nil, err
	}
	if old != nil && sv == old.version {
		d.mu.Lock()
		old.checked = time.Now()
		d.mu.Unlock()
		return old, nil
	}
	a := &Adapter{Src: d.src}
	v, err := a.Refresh(ctx)
	if err != nil {
		return nil, err
	}
	s := &snapshot{adapter: a, version: v, checked: time.Now()}
	d.mu.Lock()
	d.snap = s
	d.mu.Unlock()
	return s, nil
}

// Facts reduces a request to the model's request tokens.
func Facts(r policy.Request) []any {
	sub := r.Operator
	if sub == "" {
		sub = policy.DepartmentSubject
	}
	state := "pending"
	switch r.RequirementState {
	case "granted", "revoked":
		state = r.RequirementState
	}
	owner := "own"
	if r.RequirementConsumer != r.Department {
		owner = "foreign"
	}
	act := r.Action
	if act == "" {
		act = policy.ActionPull
	}
	share := r.ShareType
	if share == "not_shared" && r.SharingOrdered {
		share = "not_shared_ordered"
	}
	return []any{sub, r.Department, r.Resource, act, share, state,
		pick(slices.Contains(r.MatterCodes, r.MatterCode), "covered", "uncovered"),
		pick(len(unapproved(r)) == 0, "approved", "unapproved"),
		pick(policy.RegionCovers(r.GrantedScope, r.Scope), "match", "mismatch"),
		pick(strings.TrimSpace(r.CaseNumber) != "", "present", "missing"),
		owner}
}

func pick(b bool, yes, no string) string {
	if b {
		return yes
	}
	return no
}

func unapproved(r policy.Request) []string {
	var out []string
	for _, it := range r.Items {
		if !slices.Contains(r.GrantedItems, it) {
			out = append(out, it)
		}
	}
	return out
}

// Roles returns the roles the policy's "g" rules give operator inside department
// (D1), directly or through other roles, sorted.
func (d *Decider) Roles(ctx context.Context, operator, department string) ([]string, error) {
	snap, err := d.current(ctx)
	if err != nil {
		return nil, err
	}
	enf, err := snap.enforcer(department)
	if err != nil {
		return nil, err
	}
	roles, err := enf.GetImplicitRolesForUser(operator, department)
	if err != nil {
		return nil, fmt.Errorf("casbinpolicy: roles of %s in %s: %w", operator, department, err)
	}
	slices.Sort(roles)
	return slices.Compact(roles), nil
}

// Decide implements policy.Decider.
func (d *Decider) Decide(ctx context.Context, r policy.Request) (policy.Decision, error) {
	snap, err := d.current(ctx)
	if err != nil {
		return policy.Decision{}, err
	}
	facts := Facts(r)
	var key string
	if !d.NoCache {
		var b strings.Builder
		for _, f := range facts {
			b.WriteString(f.(string))
			b.WriteByte(0)
		}
		key = b.String()
		snap.mu.Lock()
		dec, ok := snap.cache[key]
		snap.mu.Unlock()
		if ok {
			return withMessage(dec, r), nil
		}
	}
	enf, err := snap.enforcer(r.Department)
	if err != nil {
		return policy.Decision{}, err
	}
	allow, explain, err := enf.EnforceEx(facts...)
	if err != nil {
		return policy.Decision{}, fmt.Errorf("casbinpolicy: enforce: %w", err)
	}
	dec := policy.Decision{Allow: allow, Version: snap.version, Rule: explain, Reason: policy.ReasonRoleNotAllowed}
	if len(explain) == PFields {
		dec.Reason = explain[13]
	}
	if !d.NoCache {
		snap.mu.Lock()
		max := d.MaxCached
		if max <= 0 {
			max = 100000
		}
		if snap.cache == nil || len(snap.cache) >= max {
			snap.cache = make(map[string]policy.Decision)
		}
		snap.cache[key] = dec
		snap.mu.Unlock()
	}
	return withMessage(dec, r), nil
}

// withMessage puts the refusal in words for this request (the cache holds the decision;
// words name the request's own requirement, matter and items).
func withMessage(d policy.Decision, r policy.Request) policy.Decision {
	d.Message = Message(d, r)
	return d
}

// Message says why a decision was made and what to do.
func Message(d policy.Decision, r policy.Request) string {
	who := r.Department
	if r.Operator != "" {
		who = fmt.Sprintf("operator %s of department %s", r.Operator, r.Department)
	}
	switch d.Reason {
	case policy.ReasonGranted:
		return fmt.Sprintf("pull of %s under requirement %s for matter %s, case %s allowed (policy v%d)", r.Resource, r.RequirementID, r.MatterCode, r.CaseNumber, d.Version)
	case policy.ReasonNotShared:
		return fmt.Sprintf("resource %s is not shared (不予共享); legal basis: %s. Only the coordinator can decide otherwise: ask the coordinator if your duty requires the data", r.Resource, r.LegalBasis)
	case policy.ReasonRequirementForeign:
		return fmt.Sprintf("requirement %s was filed by department %s, not by %s: a department pulls only under its own granted requirements", r.RequirementID, r.RequirementConsumer, r.Department)
	case policy.ReasonRequirementRevoked:
		return fmt.Sprintf("requirement %s was revoked: pulls under it stopped; file a new requirement if the duty continues", r.RequirementID)
	case policy.ReasonRequirementNotGrant:
		return fmt.Sprintf("requirement %s is %s, not granted: pull once it is granted", r.RequirementID, r.RequirementState)
	case policy.ReasonPurposeNotCovered:
		return fmt.Sprintf("matter %s is not a purpose requirement %s was granted for (matters: %s): data is used only for the stated duty; file or amend a requirement covering this matter", r.MatterCode, r.RequirementID, strings.Join(r.MatterCodes, ", "))
	case policy.ReasonCaseNumberMissing:
		return "every pull must name the case (办件编码) it serves: set the case number"
	case policy.ReasonDataItemNotApproved:
		return fmt.Sprintf("data items %s were not approved by requirement %s (approved: %s): ask only for approved items, or amend the requirement", strings.Join(unapproved(r), ", "), r.RequirementID, strings.Join(r.GrantedItems, ", "))
	case policy.ReasonScopeMismatch:
		return fmt.Sprintf("the case region %s is outside the scope %s requirement %s was granted for", r.Scope, r.GrantedScope, r.RequirementID)
	case policy.ReasonRoleNotAllowed:
		return fmt.Sprintf("no policy rule lets %s pull %s: the operator needs the %s role in the department (ask the department's admin), or the coordinator has restricted this pull", who, r.Resource, policy.RoleOperator)
	}
	if d.Allow {
		return fmt.Sprintf("allowed by policy rule %s (v%d)", strings.Join(d.Rule, ", "), d.Version)
	}
	return fmt.Sprintf("refused by policy rule %s (v%d): ask the coordinator about this rule", strings.Join(d.Rule, ", "), d.Version)
}

// Seed stores DefaultRules as version 1 when the policy was never set. Concurrent seeding
// by several replicas is harmless: the loser sees a conflict and the rules already there.
func Seed(ctx context.Context, ps interface {
	Version(ctx context.Context) (int64, error)
	Apply(ctx context.Context, c policy.Change, expect int64) (policy.Change, error)
}, now time.Time) error {
	v, err := ps.Version(ctx)
	if err != nil || v > 0 {
		return err
	}
	_, err = ps.Apply(ctx, policy.Change{Add: DefaultRules(), By: "system", Comment: "default pull policy", At: now}, 0)
	if err != nil {
		if v, verr := ps.Version(ctx); verr == nil && v > 0 {
			return nil // another replica seeded first
		}
	}
	return err
}
