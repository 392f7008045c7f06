package anomaly

import (
	"fmt"
	"time"
)

// Rule names, as ListAnomalies reports them.
const (
	RulePullWithoutCase        = "PULL_WITHOUT_CASE"
	RuleVolumeSpike            = "VOLUME_SPIKE"
	RulePullRequirementRevoked = "PULL_REQUIREMENT_REVOKED"
	RulePullAfterRevocation    = "PULL_AFTER_REVOCATION"
	RuleCaseManySubjects       = "CASE_MANY_SUBJECTS"
	RuleCaseSubjectMismatch    = "CASE_SUBJECT_MISMATCH"
	RuleCaseOpenTooLong        = "CASE_OPEN_TOO_LONG"
)

// Outcome of a granted pull, as the audit log writes it.
const outcomeGranted = "granted"

// Record is what a rule reads of one audit record: its position in the log and the fields
// the rules judge.
type Record struct {
	Index      uint64
	Time       time.Time
	Department string
	Resource   string
	Matter     string
	Case       string
	Outcome    string
	RequestID  string
}

// Finding is one anomaly a rule flags.
type Finding struct {
	Rule        string
	Department  string
	Resource    string
	Case        string
	Records     []uint64
	Count       int64
	Explanation string
}

func stamp(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// PullsWithoutCase flags every pull that carries no case number: a pull serves a case
// (seed 004 Art. 16), one finding per record.
func PullsWithoutCase(pulls []Record) []Finding {
	var out []Finding
	for _, r := range pulls {
		if r.Case != "" {
			continue
		}
		out = append(out, Finding{Rule: RulePullWithoutCase, Department: r.Department, Resource: r.Resource, Records: []uint64{r.Index},
			Explanation: fmt.Sprintf("%s pull of %s at %s (matter %q) carries no case number", r.Outcome, r.Resource, stamp(r.Time), r.Matter)})
	}
	return out
}

// PullsRefusedRevoked flags every pull refused because its requirement was revoked (pulls
// the caller selected by that refusal reason), one finding per record.
func PullsRefusedRevoked(refused []Record) []Finding {
	var out []Finding
	for _, r := range refused {
		if r.Outcome == outcomeGranted {
			continue
		}
		out = append(out, Finding{Rule: RulePullRequirementRevoked, Department: r.Department, Resource: r.Resource, Records: []uint64{r.Index},
			Explanation: fmt.Sprintf("pull of %s at %s (case %q) refused: the requirement was revoked", r.Resource, stamp(r.Time), r.Case)})
	}
	return out
}

// Revocation is a requirement's revocation as the log recorded it.
type Revocation struct {
	Requirement string    // the requirement's id
	Consumer    string    // the department that held it
	Resource    string    // the resource it granted
	Time        time.Time // when it was revoked
	Index       uint64    // the revocation's record
	// OtherGrant is another requirement the consumer holds now for the same resource ("" if
	// none): the pulls may have used it, which the finding says.
	OtherGrant string
}

// PullsAfterRevocation flags the granted pulls of the revoked requirement's consumer and
// resource made at or after the revocation: one finding listing them, false if there are none.
func PullsAfterRevocation(rev Revocation, pulls []Record) (Finding, bool) {
	var idx []uint64
	for _, r := range pulls {
		if r.Outcome == outcomeGranted && r.Department == rev.Consumer && r.Resource == rev.Resource && !r.Time.Before(rev.Time) {
			idx = append(idx, r.Index)
		}
	}
	if len(idx) == 0 {
		return Finding{}, false
	}
	note := ""
	if rev.OtherGrant != "" {
		note = fmt.Sprintf("; note: %s now holds another granted requirement for %s (%s), which the pulls may have used", rev.Consumer, rev.Resource, rev.OtherGrant)
	}
	return Finding{Rule: RulePullAfterRevocation, Department: rev.Consumer, Resource: rev.Resource, Records: idx,
		Explanation: fmt.Sprintf("%d granted pull(s) of %s by %s after requirement %s was revoked at %s (record %d)%s",
			len(idx), rev.Resource, rev.Consumer, rev.Requirement, stamp(rev.Time), rev.Index, note)}, true
}

// CaseSubjects is how many distinct subjects one case's pulls named in the window.
type CaseSubjects struct {
	Case       string
	Department string
	Subjects   int64
	Records    int64
	// Indices are the case's pull records in the window.
	Indices []uint64
}

// CaseManySubjects flags a case whose pulls name at least min distinct subjects: a case
// concerns its applicant and a few declared parties, not a population.
func CaseManySubjects(c CaseSubjects, min int) (Finding, bool) {
	if c.Subjects < int64(min) {
		return Finding{}, false
	}
	return Finding{Rule: RuleCaseManySubjects, Department: c.Department, Case: c.Case, Records: c.Indices, Count: c.Subjects,
		Explanation: fmt.Sprintf("case %s of %s: %d pull records in the window name %d distinct subjects (threshold %d)", c.Case, c.Department, c.Records, c.Subjects, min)}, true
}

// CaseSubjectMismatch flags pulls refused for naming a subject outside the case (pulls the
// caller selected by that refusal reason): one finding per pull, its records (one per
// subject, sharing the pull's request id) together, in the order the pulls first appear.
func CaseSubjectMismatch(refused []Record) []Finding {
	var out []Finding
	byPull := map[string]int{}
	for _, r := range refused {
		if i, ok := byPull[r.RequestID]; ok && r.RequestID != "" {
			out[i].Records = append(out[i].Records, r.Index)
			continue
		}
		byPull[r.RequestID] = len(out)
		out = append(out, Finding{Rule: RuleCaseSubjectMismatch, Department: r.Department, Resource: r.Resource, Case: r.Case, Records: []uint64{r.Index},
			Explanation: fmt.Sprintf("pull %s of %s at %s for case %q named a subject outside the case (refused)", r.RequestID, r.Resource, stamp(r.Time), r.Case)})
	}
	return out
}

// OpenCase is an open case with how long it has been open, in working days.
type OpenCase struct {
	Number     string
	Matter     string
	Department string
	OpenedAt   time.Time
	// TimeLimit is the matter's promised time limit (承诺办结时限) in working days; 0 for none.
	TimeLimit int
	// WorkingDays is how long the case has been open, in working days.
	WorkingDays float64
	// Provisional: some days fall in a year whose working-day calendar is not announced.
	Provisional bool
}

// CaseOpenTooLong flags an open case whose working age is more than factor × its matter's
// promised time limit; a matter without a limit is never flagged.
func CaseOpenTooLong(c OpenCase, factor float64) (Finding, bool) {
	if c.TimeLimit <= 0 || c.WorkingDays <= factor*float64(c.TimeLimit) {
		return Finding{}, false
	}
	note := ""
	if c.Provisional {
		note = " (provisional: days of a year whose working-day calendar is not announced counted from the statutory holidays alone)"
	}
	return Finding{Rule: RuleCaseOpenTooLong, Department: c.Department, Case: c.Number,
		Explanation: fmt.Sprintf("case %s (matter %s, promised %d working days) has been open %.1f working days since %s%s", c.Number, c.Matter, c.TimeLimit, c.WorkingDays, stamp(c.OpenedAt), note)}, true
}
