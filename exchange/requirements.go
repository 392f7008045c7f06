package exchange

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// Deadlines are the working-day limits of the requirement workflow. They are configurable
// per jurisdiction; DefaultDeadlines follows a provincial rule.
type Deadlines struct {
	// Review is how many working days the coordinator has to check a conditional
	// requirement for completeness (default 2).
	Review int
	// Answer is how many working days the provider has to answer a complete requirement
	// (default 5).
	Answer int
	// AnswerUnpublished replaces Answer when the resource has not been published yet and
	// the provider must first publish it (default 10).
	AnswerUnpublished int
}

// DefaultDeadlines returns 2, 5 and 10 working days.
func DefaultDeadlines() Deadlines { return Deadlines{Review: 2, Answer: 5, AnswerUnpublished: 10} }

// Validate checks every limit is 1..60 working days and that an unpublished resource
// never gets less time than a published one.
func (d Deadlines) Validate() error {
	for _, f := range []struct {
		name string
		v    int
	}{{"review", d.Review}, {"answer", d.Answer}, {"answer_unpublished", d.AnswerUnpublished}} {
		if f.v < 1 || f.v > 60 {
			return Errorf(KindInvalid, "DEADLINE_INVALID", "the %s deadline must be 1 to 60 working days, got %d", f.name, f.v)
		}
	}
	if d.AnswerUnpublished < d.Answer {
		return Errorf(KindInvalid, "DEADLINE_INVALID", "the answer deadline for unpublished resources (%d) must not be shorter than for published ones (%d)", d.AnswerUnpublished, d.Answer)
	}
	return nil
}

// WorkingDays computes deadlines in working days; *calendar.Calendar implements it (its
// Deadline method). provisional is true when a day of a year the State Council has not
// announced yet counted, from the statutory holidays alone; it fails (with a
// *calendar.YearNotAnnouncedError) when a year needed has neither.
//
// AddWorkingDays is the strict form: it refuses a year that is not announced (no
// provisional answer); new code uses Deadline and carries the provisional flag.
type WorkingDays interface {
	Deadline(from time.Time, n int) (end time.Time, provisional bool, err error)
	AddWorkingDays(from time.Time, n int) (time.Time, error)
}

// SystemActor is the By of decisions the exchange takes itself (auto grant, escalation).
const SystemActor = "system"

// Actor is the department taking a decision and the signed request that carried it.
type Actor struct {
	Department *Department
	Evidence   string // the verified GXHUB-SM2 Authorization value
	BodyDigest string // base64url SM3 of the request body it covers
}

// DecisionRequest is what a department asks to decide on a requirement.
type DecisionRequest struct {
	Action     DecisionAction
	LegalBasis LegalBasis // required for refuse and confirm_refusal
	Comment    string     // required for return_incomplete (what is missing)
	// Amendment applies to ActSubmit on a returned requirement (resubmission): empty
	// fields keep their value.
	Items       []string
	MatterCodes []string
	LegalDuty   string
	ScopeRegion string
}

// Workflow applies the requirement workflow (see RequirementState). It does no I/O: the
// caller loads the requirement and its resource, applies a step, and stores the result
// compare-and-set (store.Requirements.Decide), so concurrent decisions cannot both apply.
type Workflow struct {
	Calendar  WorkingDays
	Deadlines Deadlines
}

// setDeadline gives r's pending step the deadline of days working days from now.
func (w *Workflow) setDeadline(r *Requirement, now time.Time, days int) error {
	t, prov, err := w.Calendar.Deadline(now, days)
	if err != nil {
		return Wrap(KindFailedPrecondition, "CALENDAR_YEAR_NOT_ANNOUNCED", err,
			"the deadline of %d working days from %s cannot be computed: %v", days, now.In(cst).Format(time.DateOnly), err)
	}
	r.Deadline, r.DeadlineDays, r.DeadlineProvisional = t.UTC(), days, prov
	return nil
}

// answerDays is the provider's answer limit for res.
func (w *Workflow) answerDays(res *Resource) int {
	if !res.Published {
		return w.Deadlines.AnswerUnpublished
	}
	return w.Deadlines.Answer
}

func (by Actor) decision(seq int, a DecisionAction, at time.Time) Decision {
	return Decision{Seq: seq, Action: a, By: by.Department.Code, At: at, Evidence: by.Evidence, BodyDigest: by.BodyDigest}
}

func systemDecision(seq int, a DecisionAction, at time.Time, comment string) Decision {
	return Decision{Seq: seq, Action: a, By: SystemActor, At: at, Comment: comment}
}

// checkContent checks the requested items, matters, duty and scope against the resource.
func checkContent(r *Requirement, res *Resource) error {
	bad := func(reason, format string, args ...any) error { return Errorf(KindInvalid, reason, format, args...) }
	if len(r.Items) == 0 {
		return bad("DATA_ITEMS_MISSING", "list the data items needed (a subset of resource %s's items)", res.Code)
	}
	seen := map[string]bool{}
	for _, it := range r.Items {
		if _, ok := res.Item(it); !ok {
			names := make([]string, len(res.Items))
			for i, d := range res.Items {
				names[i] = d.Name
			}
			return bad("DATA_ITEM_UNKNOWN", "resource %s has no data item %q; its items are %s", res.Code, it, strings.Join(names, ", "))
		}
		if seen[it] {
			return bad("DATA_ITEM_DUPLICATE", "data item %q is listed twice", it)
		}
		seen[it] = true
	}
	if len(r.MatterCodes) == 0 {
		return bad("MATTER_CODES_MISSING", "bind the requirement to the government-service matters (事项编码) the data is needed for")
	}
	for _, m := range r.MatterCodes {
		if !matterCodeRE.MatchString(m) {
			return bad("MATTER_CODE_INVALID", "matter code %q must be 3–64 letters, digits, '.', '_' or '-'", m)
		}
	}
	if strings.TrimSpace(r.LegalDuty) == "" {
		return bad("LEGAL_DUTY_MISSING", "state the legal duty (law, regulation or rule) the data is needed for")
	}
	if err := CheckText("legal_duty", r.LegalDuty, MaxText); err != nil {
		return err
	}
	if len(r.MatterCodes) > 100 {
		return bad("MATTER_CODES_TOO_MANY", "a requirement covers at most 100 matters, got %d: file one requirement per group of matters", len(r.MatterCodes))
	}
	if r.ScopeRegion != "" && !regionRE.MatchString(r.ScopeRegion) {
		return bad("REGION_INVALID", "scope region %q must be a 6-digit 行政区划代码", r.ScopeRegion)
	}
	return checkClearText(r, res)
}

// File checks a new requirement against its resource and gives it its first state,
// deadline and decisions: unconditional → granted at once (submit + system auto_grant);
// conditional → under_review with the review deadline; not_shared → escalated to the
// coordinator (submit + system escalate). r.ID, Consumer, Provider, Resource, Items,
// MatterCodes, LegalDuty and ScopeRegion must be set; by must be the consumer.
func (w *Workflow) File(r *Requirement, res *Resource, by Actor, now time.Time) error {
	now = now.UTC().Truncate(time.Microsecond)
	if res.Withdrawn {
		return Errorf(KindFailedPrecondition, "RESOURCE_WITHDRAWN", "resource %s was withdrawn from the catalogue (version %d): no requirement can be filed for it", res.Code, res.Version)
	}
	if r.Consumer != by.Department.Code {
		return Errorf(KindPermissionDenied, "NOT_REQUIREMENT_CONSUMER", "department %s cannot file a requirement for consumer %s: file it as yourself", by.Department.Code, r.Consumer)
	}
	if r.Provider == "" {
		r.Provider = res.Provider
	}
	if r.Provider != res.Provider {
		return Errorf(KindInvalid, "RESOURCE_PROVIDER_MISMATCH", "resource %s is provided by %s, not %s", res.Code, res.Provider, r.Provider)
	}
	if r.Consumer == r.Provider {
		return Errorf(KindInvalid, "REQUIREMENT_OWN_RESOURCE", "department %s provides resource %s itself: no requirement is needed", r.Consumer, res.Code)
	}
	if r.ScopeRegion == "" {
		r.ScopeRegion = res.ScopeRegion
	}
	if r.UpdateCycle == "" {
		r.UpdateCycle = res.UpdateCycle
	}
	if r.ProvisionMethod == "" {
		r.ProvisionMethod = res.ProvisionMethod
	}
	switch r.UpdateCycle {
	case CycleRealtime, CycleDaily, CycleWeekly, CycleMonthly:
	default:
		return Errorf(KindInvalid, "UPDATE_CYCLE_INVALID", "update cycle must be realtime, daily, weekly or monthly")
	}
	switch r.ProvisionMethod {
	case ProvisionPullAPI, ProvisionSubscription, ProvisionBatchFile:
	default:
		return Errorf(KindInvalid, "PROVISION_METHOD_INVALID", "provision method must be pull_api, subscription or batch_file")
	}
	if err := checkContent(r, res); err != nil {
		return err
	}
	r.CreatedAt, r.UpdatedAt = now, now
	r.Decisions = []Decision{by.decision(1, ActSubmit, now)}
	r.clearDeadline()
	switch res.ShareType {
	case ShareUnconditional:
		r.State = ReqGranted
		r.Decisions = append(r.Decisions, systemDecision(2, ActAutoGrant, now,
			fmt.Sprintf("resource %s is shared unconditionally (无条件共享): granted at once", res.Code)))
	case ShareConditional:
		if err := w.setDeadline(r, now, w.Deadlines.Review); err != nil {
			return err
		}
		r.State = ReqUnderReview
	case ShareNotShared:
		r.State = ReqEscalated
		r.Decisions = append(r.Decisions, systemDecision(2, ActEscalate, now,
			fmt.Sprintf("resource %s is registered as not shared (不予共享; legal basis: %s): the coordinator decides", res.Code, res.LegalBasis.Citation())))
	default:
		return Errorf(KindFailedPrecondition, "SHARE_TYPE_INVALID", "resource %s has share type %q", res.Code, res.ShareType)
	}
	return nil
}

func stateErr(r *Requirement, a DecisionAction, allowed ...RequirementState) error {
	names := make([]string, len(allowed))
	for i, s := range allowed {
		names[i] = string(s)
	}
	return Errorf(KindFailedPrecondition, "REQUIREMENT_STATE_INVALID",
		"requirement %s is %s; %s applies only to a requirement that is %s", r.ID, r.State, a, strings.Join(names, " or "))
}

// Decide applies a department's decision to r (in place; r must carry its decisions) and
// returns the state r was in and the decision to append, for a compare-and-set store.
// Who may decide: the coordinator reviews (accept_complete, return_incomplete), orders
// sharing and confirms refusals; the provider grants or refuses (refusal only with a legal
// basis, never for an unconditional resource); the consumer resubmits, withdraws and
// revokes; the coordinator may also revoke. Any refusal writes nothing to r.
func (w *Workflow) Decide(r *Requirement, res *Resource, by Actor, req DecisionRequest, now time.Time) (RequirementState, Decision, error) {
	now = now.UTC().Truncate(time.Microsecond)
	req.LegalBasis = req.LegalBasis.Normalize()
	if err := checkTexts(MaxText, "comment", req.Comment, "legal_duty", req.LegalDuty); err != nil {
		return "", Decision{}, err
	}
	step, err := decisionStep(req.Action)
	if err != nil {
		return "", Decision{}, err
	}
	c := &deciding{w: w, r: r, res: res, dept: by.Department, req: req, now: now, next: *r}
	c.next.clearDeadline()
	if err := step(c); err != nil {
		return "", Decision{}, err
	}
	from := r.State
	d := by.decision(len(r.Decisions)+1, req.Action, now)
	d.Comment = strings.TrimSpace(req.Comment)
	if req.Action == ActRefuse || req.Action == ActConfirmRefuse {
		d.LegalBasis = req.LegalBasis
	}
	c.next.UpdatedAt = now
	c.next.Decisions = append(slices.Clone(r.Decisions), d)
	*r = c.next
	return from, d, nil
}

// Overdue reports whether r's pending step is past its deadline at now (an act is in time
// only before the deadline).
func (r *Requirement) Overdue(now time.Time) bool {
	return (r.State == ReqUnderReview || r.State == ReqAwaitingProvider) && !r.Deadline.IsZero() && !now.Before(r.Deadline)
}

// Escalate moves an overdue requirement (r must carry its decisions) to escalated with a
// system decision, in place, and returns the state it was in and the decision; ok is
// false when r is not overdue at now.
func (w *Workflow) Escalate(r *Requirement, now time.Time) (from RequirementState, d Decision, ok bool) {
	if !r.Overdue(now) {
		return "", Decision{}, false
	}
	now = now.UTC().Truncate(time.Microsecond)
	from = r.State
	who := "the coordinator did not finish the completeness review"
	if from == ReqAwaitingProvider {
		who = "provider " + r.Provider + " did not answer"
	}
	d = systemDecision(len(r.Decisions)+1, ActEscalate, now,
		fmt.Sprintf("%s before the deadline %s%s: escalated to the coordinator, who may order sharing", who, r.Deadline.In(cst).Format("2006-01-02 15:04 MST"), provisionalNote(r.DeadlineProvisional)))
	r.State, r.UpdatedAt = ReqEscalated, now
	r.clearDeadline()
	r.Decisions = append(slices.Clone(r.Decisions), d)
	return from, d, true
}

func provisionalNote(p bool) string {
	if p {
		return " (provisional: computed before the year's working-day calendar was announced, from the statutory holidays alone)"
	}
	return ""
}

func (r *Requirement) clearDeadline() {
	r.Deadline, r.DeadlineDays, r.DeadlineProvisional = time.Time{}, 0, false
}

// stepStart is when r's pending step began: the time of the last decision that was not a
// deadline recomputation.
func (r *Requirement) stepStart() (time.Time, bool) {
	for i := len(r.Decisions) - 1; i >= 0; i-- {
		if a := r.Decisions[i].Action; a != ActRecomputeDeadline && a != ActCatalogNotice {
			return r.Decisions[i].At, true
		}
	}
	return time.Time{}, false
}

// DeadlineSettled reports, without r's decisions (lists carry none), whether r's
// provisional deadline would now be recomputed: counted again from r's last update (when
// its step began), no provisional day is needed any more.
func (w *Workflow) DeadlineSettled(r *Requirement) bool {
	if !r.DeadlineProvisional || r.Deadline.IsZero() || r.DeadlineDays < 1 {
		return false
	}
	_, prov, err := w.Calendar.Deadline(r.UpdatedAt, r.DeadlineDays)
	return err == nil && !prov
}

// RecomputeDeadline recomputes a provisional deadline of r (which must carry its
// decisions) with the workflow's current calendar, in place, once the year it ran into
// has been announced: the same number of working days from the same start, now on the
// official days. It returns the state r is in and a system decision recording the old
// and the new deadline, for a compare-and-set store; ok is false when r has no
// provisional deadline or the calendar still has no announcement for it.
func (w *Workflow) RecomputeDeadline(r *Requirement, now time.Time) (from RequirementState, d Decision, ok bool, err error) {
	if !r.DeadlineProvisional || r.Deadline.IsZero() || r.DeadlineDays < 1 || (r.State != ReqUnderReview && r.State != ReqAwaitingProvider) {
		return "", Decision{}, false, nil
	}
	start, found := r.stepStart()
	if !found {
		return "", Decision{}, false, nil
	}
	end, prov, err := w.Calendar.Deadline(start, r.DeadlineDays)
	if err != nil {
		return "", Decision{}, false, Wrap(KindFailedPrecondition, "CALENDAR_YEAR_NOT_ANNOUNCED", err,
			"the deadline of requirement %s cannot be recomputed: %v", r.ID, err)
	}
	if prov {
		return "", Decision{}, false, nil // still provisional: recomputed once the year is announced
	}
	now = now.UTC().Truncate(time.Microsecond)
	old := r.Deadline
	change := "is unchanged"
	if !end.Equal(old) {
		change = "moves to " + end.In(cst).Format("2006-01-02 15:04 MST")
	}
	d = systemDecision(len(r.Decisions)+1, ActRecomputeDeadline, now,
		fmt.Sprintf("the working-day calendar for the deadline's year is now announced: the deadline of %d working days from %s, computed provisionally as %s, %s",
			r.DeadlineDays, start.In(cst).Format("2006-01-02 15:04 MST"), old.In(cst).Format("2006-01-02 15:04 MST"), change))
	from = r.State
	r.Deadline, r.DeadlineProvisional, r.UpdatedAt = end.UTC(), false, now
	r.Decisions = append(slices.Clone(r.Decisions), d)
	return from, d, true, nil
}

var cst = time.FixedZone("CST", 8*3600)
