package exchange

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// ObjectionState is where an objection (异议) stands.
type ObjectionState string

// Objection states: raised by a consumer, then resolved by the provider (corrected or
// rejected with an explanation). An open objection past its answer deadline is escalated to
// the coordinator (EscalatedAt set); it stays open until the provider resolves it.
const (
	ObjectionOpen      ObjectionState = "open"
	ObjectionCorrected ObjectionState = "corrected" // the provider fixed the record
	ObjectionRejected  ObjectionState = "rejected"  // the provider confirms the record, explaining why
)

// Objection is a consumer's objection to a record (谁使用谁反馈); it is routed to the
// provider and tracked until resolved (谁提供谁管理), with a deadline in working days.
type Objection struct {
	ID             string
	Resource       string
	Subject        string
	RecordVersion  int64
	Consumer       string
	Provider       string
	Items          []string
	Text           string
	State          ObjectionState
	RaisedAt       time.Time
	RaisedEvidence string
	Deadline       time.Time // the provider answers before it
	// DeadlineProvisional is set when a day of a year whose working-day calendar was not
	// announced yet counted, from the statutory holidays alone.
	DeadlineProvisional bool
	EscalatedAt         time.Time // zero until the deadline passed unanswered
	ResolvedAt          time.Time
	ResolvedBy          string
	Resolution          string
	ResolvedEvidence    string
	// CorrectedVersion is the record version that corrected the data (state corrected).
	CorrectedVersion int64
}

// DefaultObjectionDays is the provider's answer deadline when neither the resource nor the
// hub's configuration sets one.
const DefaultObjectionDays = 5

// RaiseObjection checks a new objection against the resource and the record version it
// names, and sets its deadline: days working days after now (res.ObjectionDays when set,
// else defaultDays). o.ID, Text and Items come from the request; by is the consumer.
func RaiseObjection(o *Objection, res *Resource, rec *Record, by Actor, cal WorkingDays, defaultDays int, now time.Time) error {
	now = now.UTC().Truncate(time.Microsecond)
	if !by.Department.HasRole(RoleConsumer) {
		return Errorf(KindPermissionDenied, "ROLE_REQUIRED", "department %s does not hold the consumer role: objections come from the departments that use the data", by.Department.Code)
	}
	if blank(o.Text) {
		return Errorf(KindInvalid, "OBJECTION_TEXT_MISSING", "say what is wrong with the record (text)")
	}
	if err := CheckText("text", o.Text, MaxText); err != nil {
		return err
	}
	if by.Department.Code == res.Provider {
		return Errorf(KindInvalid, "OBJECTION_OWN_RECORD", "department %s provides resource %s: correct the record by publishing it, no objection is needed", res.Provider, res.Code)
	}
	for _, it := range o.Items {
		if _, ok := res.Item(it); !ok {
			return Errorf(KindInvalid, "DATA_ITEM_UNKNOWN", "data item %q is not catalogued for %s", it, res.Code)
		}
	}
	days := res.ObjectionDays
	if days == 0 {
		days = defaultDays
	}
	if days < 1 {
		days = DefaultObjectionDays
	}
	deadline, provisional, err := cal.Deadline(now, days)
	if err != nil {
		return Wrap(KindFailedPrecondition, "CALENDAR_YEAR_NOT_ANNOUNCED", err, "the answer deadline of %d working days from %s cannot be computed: %v", days, now.Format(time.DateOnly), err)
	}
	o.DeadlineProvisional = provisional
	o.Resource, o.Subject, o.RecordVersion = res.Code, rec.Subject, rec.Version
	o.Consumer, o.Provider, o.State = by.Department.Code, res.Provider, ObjectionOpen
	o.RaisedAt, o.RaisedEvidence, o.Deadline = now, by.Evidence, deadline.UTC()
	o.Text = strings.TrimSpace(o.Text)
	o.Items = slices.Clone(o.Items)
	return nil
}

// ResolveObjection checks the provider's answer to an open objection and applies it in
// place. "corrected" needs a record version published after the objection was raised
// (latest is the subject's newest version, nil when there is none): a correction is a new
// version, never a word. "rejected" needs an explanation.
func ResolveObjection(o *Objection, state ObjectionState, resolution string, latest *Record, by Actor, now time.Time) error {
	now = now.UTC().Truncate(time.Microsecond)
	if by.Department.Code != o.Provider {
		return Errorf(KindPermissionDenied, "NOT_RESOURCE_PROVIDER", "objection %s is routed to %s: only that provider resolves it", o.ID, o.Provider)
	}
	if o.State != ObjectionOpen {
		return Errorf(KindFailedPrecondition, "OBJECTION_NOT_OPEN", "objection %s is already %s", o.ID, o.State)
	}
	resolution = strings.TrimSpace(resolution)
	if resolution == "" {
		return Errorf(KindInvalid, "RESOLUTION_MISSING", "say what was corrected, or why the record stands (resolution)")
	}
	if err := CheckText("resolution", resolution, MaxText); err != nil {
		return err
	}
	switch state {
	case ObjectionCorrected:
		if latest == nil || latest.Version <= o.RecordVersion || latest.PublishedAt.Before(o.RaisedAt) {
			v := int64(0)
			if latest != nil {
				v = latest.Version
			}
			return Errorf(KindFailedPrecondition, "OBJECTION_NOT_CORRECTED",
				"objection %s concerns version %d of %s in %s, and no version was published after it was raised on %s (newest: %d): publish the corrected record first, then resolve it as corrected — or reject it, explaining why the record stands",
				o.ID, o.RecordVersion, o.Subject, o.Resource, o.RaisedAt.Format(time.RFC3339), v)
		}
		o.CorrectedVersion = latest.Version
	case ObjectionRejected:
	default:
		return Errorf(KindInvalid, "OBJECTION_STATE_INVALID", "an objection is resolved as corrected or rejected, not %q", state)
	}
	o.State, o.Resolution, o.ResolvedBy, o.ResolvedAt, o.ResolvedEvidence = state, resolution, by.Department.Code, now, by.Evidence
	return nil
}

// Overdue reports whether an open objection is past its answer deadline and not yet
// escalated.
func (o *Objection) Overdue(now time.Time) bool {
	return o.State == ObjectionOpen && o.EscalatedAt.IsZero() && !o.Deadline.IsZero() && !now.Before(o.Deadline)
}

// EscalationNote says why an objection was escalated, for the audit record.
func (o *Objection) EscalationNote() string {
	return fmt.Sprintf("provider %s did not answer objection %s (resource %s) before %s%s: escalated to the coordinator",
		o.Provider, o.ID, o.Resource, o.Deadline.In(cst).Format("2006-01-02 15:04 MST"), provisionalNote(o.DeadlineProvisional))
}
