package exchange

import "time"

// RequirementState is where a requirement (数据需求) stands in its workflow.
type RequirementState string

// Requirement states.
//
//	unconditional resource:  submitted → granted (automatically, at once)
//	conditional resource:    submitted → under_review (coordinator checks completeness,
//	                         default 2 working days) → awaiting_provider (default 5 working
//	                         days, 10 if the resource is not yet published) → granted | refused
//	                         (refusal only with a legal basis); silence past a deadline →
//	                         escalated → the coordinator orders sharing (granted) or confirms
//	                         the refusal
//	not_shared resource:     submitted → escalated: only the coordinator decides, with a legal basis
//	any granted requirement: → revoked (pulls under it stop at once)
const (
	ReqUnderReview      RequirementState = "under_review"
	ReqReturned         RequirementState = "returned" // incomplete: the consumer must amend and resubmit
	ReqAwaitingProvider RequirementState = "awaiting_provider"
	ReqEscalated        RequirementState = "escalated"
	ReqGranted          RequirementState = "granted"
	ReqRefused          RequirementState = "refused"
	ReqRevoked          RequirementState = "revoked"
	ReqWithdrawn        RequirementState = "withdrawn"
)

// Requirement is a consumer's filed need for a provider's resource: which data items, for
// which government-service matters (事项编码) and legal duty.
type Requirement struct {
	ID          string
	Consumer    string // consumer department code
	Provider    string
	Resource    string // resource code
	Items       []string
	MatterCodes []string // 事项编码 the data may be used for
	LegalDuty   string   // the duty (law, regulation) that needs the data
	ScopeRegion string
	// UpdateCycle and ProvisionMethod are what the consumer needs (default: what the
	// resource offers).
	UpdateCycle     UpdateCycle
	ProvisionMethod ProvisionMethod
	State           RequirementState
	// VerifyOnly requirements (核验) never return a value: the consumer sends claimed
	// values and learns per item whether they match (Verifier); CheckPull refuses pulls.
	VerifyOnly bool
	// ClearText are the items the requirement asks in clear text instead of masked; the
	// grant approves them (Disclosure).
	ClearText []ClearText
	// Deadline is when the current step must be done (zero when no step is pending).
	Deadline time.Time
	// DeadlineDays is the number of working days the deadline allows (0 when none).
	DeadlineDays int
	// DeadlineProvisional is set when the deadline ran into a year whose working-day
	// calendar was not announced yet and was computed from the statutory holidays alone;
	// it is recomputed (RecomputeDeadline) once the year is announced.
	DeadlineProvisional bool
	CreatedAt           time.Time
	UpdatedAt           time.Time
	Decisions           []Decision
}

// DecisionAction is what a decision did.
type DecisionAction string

// Decision actions.
const (
	ActSubmit        DecisionAction = "submit"
	ActAutoGrant     DecisionAction = "auto_grant"
	ActComplete      DecisionAction = "accept_complete"   // coordinator: the request is complete
	ActReturn        DecisionAction = "return_incomplete" // coordinator: amend and resubmit
	ActGrant         DecisionAction = "grant"
	ActRefuse        DecisionAction = "refuse"
	ActEscalate      DecisionAction = "escalate" // deadline passed (system) or not_shared resource
	ActOrderShare    DecisionAction = "order_share"
	ActConfirmRefuse DecisionAction = "confirm_refusal"
	ActRevoke        DecisionAction = "revoke"
	ActWithdraw      DecisionAction = "withdraw"
	// ActRecomputeDeadline (system) records a provisional deadline recomputed once the
	// working-day calendar of its year was published.
	ActRecomputeDeadline DecisionAction = "recompute_deadline"
	// ActCatalogNotice is a system entry in a granted requirement's history: a change that
	// narrows its resource was proposed or decided (CatalogProposal). The state is unchanged.
	ActCatalogNotice DecisionAction = "catalogue_notice"
)

// Decision is one signed step of a requirement's history. Evidence is the deciding
// department's signed request (the GXHUB-SM2 JWS) and the SM3 digest of its body, so the
// decision cannot be denied; system decisions (auto grant, escalation) have none.
type Decision struct {
	Seq        int
	Action     DecisionAction
	By         string     // department code, or "system"
	LegalBasis LegalBasis // required for refusals
	Comment    string
	At         time.Time
	Evidence   string // signed request (compact JWS) that carried the decision
	BodyDigest string // base64url SM3 of the request body the JWS covers
}

// Grants reports whether pulls may be made under the requirement.
func (r *Requirement) Grants() bool { return r.State == ReqGranted }
