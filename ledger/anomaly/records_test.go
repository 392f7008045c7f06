package anomaly

import (
	"slices"
	"strings"
	"testing"
	"time"
)

var at = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)

func TestPullsWithoutCase(t *testing.T) {
	fs := PullsWithoutCase([]Record{
		{Index: 1, Time: at, Department: "A", Resource: "r", Matter: "m", Case: "C-1", Outcome: "granted"},
		{Index: 2, Time: at, Department: "A", Resource: "r", Matter: "m", Outcome: "granted"},
	})
	if len(fs) != 1 || fs[0].Rule != RulePullWithoutCase || !slices.Equal(fs[0].Records, []uint64{2}) || fs[0].Department != "A" {
		t.Fatalf("findings %+v: want only record 2 (no case) flagged", fs)
	}
	if !strings.Contains(fs[0].Explanation, "carries no case number") {
		t.Errorf("explanation %q", fs[0].Explanation)
	}
	if fs := PullsWithoutCase([]Record{{Index: 3, Case: "C-2", Outcome: "denied"}}); len(fs) != 0 {
		t.Errorf("a pull with a case flagged: %+v", fs)
	}
}

func TestPullsRefusedRevoked(t *testing.T) {
	fs := PullsRefusedRevoked([]Record{{Index: 4, Time: at, Department: "A", Resource: "r", Outcome: "denied"}})
	if len(fs) != 1 || fs[0].Rule != RulePullRequirementRevoked || fs[0].Records[0] != 4 {
		t.Fatalf("findings %+v", fs)
	}
	if fs := PullsRefusedRevoked([]Record{{Index: 5, Outcome: "granted"}}); len(fs) != 0 {
		t.Errorf("a granted pull flagged as refused: %+v", fs)
	}
}

func TestPullsAfterRevocation(t *testing.T) {
	rev := Revocation{Requirement: "req-1", Consumer: "A", Resource: "r", Time: at, Index: 9}
	pulls := []Record{
		{Index: 10, Time: at.Add(-time.Minute), Department: "A", Resource: "r", Outcome: "granted"}, // before
		{Index: 11, Time: at, Department: "A", Resource: "r", Outcome: "granted"},
		{Index: 12, Time: at.Add(time.Hour), Department: "B", Resource: "r", Outcome: "granted"}, // other department
		{Index: 13, Time: at.Add(time.Hour), Department: "A", Resource: "s", Outcome: "granted"}, // other resource
		{Index: 14, Time: at.Add(time.Hour), Department: "A", Resource: "r", Outcome: "denied"},  // refused
		{Index: 15, Time: at.Add(time.Hour), Department: "A", Resource: "r", Outcome: "granted"},
	}
	f, ok := PullsAfterRevocation(rev, pulls)
	if !ok || f.Rule != RulePullAfterRevocation || !slices.Equal(f.Records, []uint64{11, 15}) || f.Department != "A" || f.Resource != "r" {
		t.Fatalf("finding %+v, %v: want records 11 and 15", f, ok)
	}
	if strings.Contains(f.Explanation, "note:") {
		t.Errorf("note without another grant: %q", f.Explanation)
	}
	rev.OtherGrant = "req-2"
	if f, _ := PullsAfterRevocation(rev, pulls); !strings.Contains(f.Explanation, "req-2") {
		t.Errorf("explanation %q does not name the other grant", f.Explanation)
	}
	if f, ok := PullsAfterRevocation(rev, pulls[:1]); ok {
		t.Errorf("a pull before the revocation flagged: %+v", f)
	}
}

func TestCaseManySubjects(t *testing.T) {
	c := CaseSubjects{Case: "C-1", Department: "A", Subjects: 10, Records: 12, Indices: []uint64{1, 2}}
	f, ok := CaseManySubjects(c, 10)
	if !ok || f.Rule != RuleCaseManySubjects || f.Count != 10 || f.Case != "C-1" || !slices.Equal(f.Records, []uint64{1, 2}) {
		t.Fatalf("finding %+v, %v", f, ok)
	}
	c.Subjects = 9
	if f, ok := CaseManySubjects(c, 10); ok {
		t.Errorf("9 subjects flagged at threshold 10: %+v", f)
	}
}

func TestCaseSubjectMismatch(t *testing.T) {
	fs := CaseSubjectMismatch([]Record{
		{Index: 1, RequestID: "p1", Department: "A", Resource: "r", Case: "C-1", Time: at},
		{Index: 2, RequestID: "p2", Department: "A", Resource: "r", Case: "C-1", Time: at},
		{Index: 3, RequestID: "p1", Department: "A", Resource: "r", Case: "C-1", Time: at},
		{Index: 4, Department: "A", Resource: "r", Case: "C-2", Time: at},
		{Index: 5, Department: "A", Resource: "r", Case: "C-2", Time: at},
	})
	var got [][]uint64
	for _, f := range fs {
		if f.Rule != RuleCaseSubjectMismatch {
			t.Fatalf("rule %q", f.Rule)
		}
		got = append(got, f.Records)
	}
	want := [][]uint64{{1, 3}, {2}, {4}, {5}} // one per pull; records without a request id stand alone
	if !slices.EqualFunc(got, want, slices.Equal[[]uint64]) {
		t.Fatalf("records per finding %v, want %v", got, want)
	}
	if fs := CaseSubjectMismatch(nil); len(fs) != 0 {
		t.Errorf("findings without records: %+v", fs)
	}
}

func TestCaseOpenTooLong(t *testing.T) {
	c := OpenCase{Number: "C-1", Matter: "m", Department: "A", OpenedAt: at, TimeLimit: 5, WorkingDays: 10.5, Provisional: true}
	f, ok := CaseOpenTooLong(c, 2)
	if !ok || f.Rule != RuleCaseOpenTooLong || f.Case != "C-1" || !strings.Contains(f.Explanation, "provisional") {
		t.Fatalf("finding %+v, %v", f, ok)
	}
	c.WorkingDays = 10 // exactly factor × limit: not more
	if f, ok := CaseOpenTooLong(c, 2); ok {
		t.Errorf("case at exactly twice its limit flagged: %+v", f)
	}
	c.TimeLimit, c.WorkingDays = 0, 100
	if f, ok := CaseOpenTooLong(c, 2); ok {
		t.Errorf("case of a matter without a limit flagged: %+v", f)
	}
}
