// Package policy declares how gxhub decides whether a department (and an operator inside
// it) may pull a resource's data (REQUIREMENTS D1–D3): the request facts, the decision with
// a stable reason and words, the rule and change types that live in the store, and the
// Decider contract. It uses the standard library and the exchange domain only;
// policy/casbinpolicy implements the Decider with a casbin model.
package policy

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/gxhub/gxhub/exchange"
)

// Actions a rule may govern.
const (
	ActionPull = "pull"
)

// Operator roles inside a department (D1).
const (
	RoleAdmin    = "admin"    // manages its department's operators and roles
	RoleOperator = "operator" // pulls data for cases
	RoleApprover = "approver" // verifies certificates and sealed documents
	RoleAuditor  = "auditor"  // reads the audit trail
)

// Roles lists the operator roles.
var Roles = []string{RoleAdmin, RoleOperator, RoleApprover, RoleAuditor}

// DepartmentSubject is the subject of a request made with the department's own key and no
// named operator. The default policy lets it pull; a coordinator may remove that rule so
// that only named operators holding the operator role can.
const DepartmentSubject = "@department"

// Stable refusal reasons (D2).
const (
	ReasonGranted             = "GRANTED"
	ReasonRequirementNotGrant = "REQUIREMENT_NOT_GRANTED"
	ReasonRequirementRevoked  = "REQUIREMENT_REVOKED"
	ReasonPurposeNotCovered   = "PURPOSE_NOT_COVERED"
	ReasonDataItemNotApproved = "DATA_ITEM_NOT_APPROVED"
	ReasonNotShared           = "NOT_SHARED"
	ReasonCaseNumberMissing   = "CASE_NUMBER_MISSING"
	ReasonScopeMismatch       = "SCOPE_MISMATCH"
	ReasonRoleNotAllowed      = "ROLE_NOT_ALLOWED"
	ReasonRequirementForeign  = "REQUIREMENT_OF_ANOTHER_DEPARTMENT"
	ReasonResourceMismatch    = "RESOURCE_MISMATCH"
)

// Request is everything a pull decision depends on. The caller fills it from the signed
// request, the requirement and the catalogue entry; subjects do not enter the decision.
type Request struct {
	Department string // the consumer department that signed the request
	Operator   string // operator inside it ("" = the department's own key)
	Action     string // ActionPull
	Resource   string
	ShareType  string // unconditional, conditional, not_shared
	LegalBasis string // for not_shared: the basis cited in the catalogue
	// SharingOrdered is set when the coordinator ordered sharing for this requirement
	// (order_share): a not-shared resource may then be pulled under it.
	SharingOrdered bool

	RequirementID       string
	RequirementConsumer string
	RequirementResource string
	RequirementState    string   // granted, revoked, under_review, …
	GrantedItems        []string // data items the requirement approved
	MatterCodes         []string // matters the requirement covers
	GrantedScope        string   // requirement scope region ("" = no restriction)

	MatterCode string
	CaseNumber string
	Items      []string // asked; empty = all granted items
	Scope      string   // region the case belongs to ("" = the department's region)
}

// Decision is the answer to a Request.
type Decision struct {
	Allow   bool
	Reason  string   // stable reason: GRANTED or one of the refusal reasons
	Message string   // what is wrong and what to do, in words
	Rule    []string // the rule that decided (empty when no rule matched)
	Version int64    // the policy version that decided
}

// Err returns nil for an allow and the refusal as an error otherwise.
func (d Decision) Err() error {
	if d.Allow {
		return nil
	}
	return &DeniedError{Decision: d}
}

// DeniedError is a refusal.
type DeniedError struct{ Decision Decision }

func (e *DeniedError) Error() string { return e.Decision.Message }

// Decider decides pulls. Implementations cache decisions and drop the cache when the
// policy version in the store changes (also when another replica changed it).
type Decider interface {
	Decide(ctx context.Context, r Request) (Decision, error)
	// Invalidate drops cached decisions and reloads the rules at the next decision.
	Invalidate()
}

// Rule is one stored policy line: PType "p" (a permission/refusal rule) or "g" (an
// operator's role inside a department: [operator, role, department]). The fields of a
// "p" rule are those of casbinpolicy's model (see its doc).
type Rule struct {
	PType  string
	Fields []string
}

// String renders the rule as a CSV-like line ("p, 10, *, …").
func (r Rule) String() string { return r.PType + ", " + strings.Join(r.Fields, ", ") }

// Equal reports whether two rules are the same line.
func (r Rule) Equal(o Rule) bool { return r.PType == o.PType && slices.Equal(r.Fields, o.Fields) }

// Change is one versioned policy change (D3): rules added and removed together.
type Change struct {
	Version    int64 // assigned by the store
	Add        []Rule
	Remove     []Rule
	By         string // department code, or "system"
	Operator   string
	Comment    string
	At         time.Time
	Evidence   string // signed request that carried the change
	BodyDigest string
}

// Summary describes a change in one line, for the audit record.
func (c Change) Summary() string {
	return fmt.Sprintf("policy v%d: +%d -%d rules by %s: %s", c.Version, len(c.Add), len(c.Remove), c.By, c.Comment)
}

// RegionCovers reports whether scope (a 6-digit 行政区划代码) covers region: 500000 covers
// 500112, 500100 covers 500112, 500112 covers only itself (exchange.RegionCovers).
func RegionCovers(scope, region string) bool { return exchange.RegionCovers(scope, region) }
