package server

import (
	"context"
	"fmt"
	"time"

	"github.com/gxhub/gxhub/exchange"
	"github.com/gxhub/gxhub/exchange/rpc"
	"github.com/gxhub/gxhub/exchange/store"
	"github.com/gxhub/gxhub/ledger"
	"github.com/gxhub/gxhub/ledger/anomaly"
	auditv1 "github.com/gxhub/gxhub/sdk/api/audit/v1"
)

// Case anomaly rules of ListAnomalies (seed 004 Art. 16(三): the case's life is monitored).
const (
	RuleCaseManySubjects    = anomaly.RuleCaseManySubjects
	RuleCaseSubjectMismatch = anomaly.RuleCaseSubjectMismatch
	RuleCaseOpenTooLong     = anomaly.RuleCaseOpenTooLong
)

// caseRules explains the case rules with the thresholds in force.
func caseRules(subjectsMin int, overdueFactor float64) []string {
	return []string{
		fmt.Sprintf("%s: a case whose pull records in the window name at least %d distinct subjects (granted or refused): a case concerns its applicant and a few declared parties, not a population.", RuleCaseManySubjects, subjectsMin),
		RuleCaseSubjectMismatch + ": every pull in the window refused because it named a subject that is neither the case's applicant nor a declared party (reason CASE_SUBJECT_MISMATCH).",
		fmt.Sprintf("%s: a case still open at the end of the window whose working age is more than %g × its matter's promised time limit (承诺办结时限).", RuleCaseOpenTooLong, overdueFactor),
	}
}

// findingsAdder adds a rule's findings; false once the limit is reached.
type findingsAdder func([]anomaly.Finding) bool

// findingToProto is an anomaly as the audit API answers it.
func findingToProto(f anomaly.Finding) *auditv1.Anomaly {
	return &auditv1.Anomaly{Rule: f.Rule, Department: f.Department, Resource: f.Resource, CaseNumber: f.Case,
		RecordIndices: f.Records, Count: f.Count, Explanation: f.Explanation}
}

// recordOf is what the anomaly rules read of an indexed audit record.
func recordOf(e store.AuditEntry) anomaly.Record {
	r := e.Record
	return anomaly.Record{Index: e.Index, Time: r.Time, Department: r.Department, Resource: r.Resource,
		Matter: r.Matter, Case: r.Case, Outcome: string(r.Outcome), RequestID: r.RequestID}
}

// loadRecords pages through a query, in log order, until it has max records or none are left.
func loadRecords(ctx context.Context, ix store.AuditIndex, q store.AuditQuery, max int) ([]anomaly.Record, error) {
	var out []anomaly.Record
	start := uint64(0)
	for len(out) < max {
		es, err := ix.Search(ctx, q, start, maxAuditPage)
		if err != nil {
			return nil, rpc.LedgerErr(err)
		}
		for _, e := range es {
			if len(out) == max {
				break
			}
			out = append(out, recordOf(e))
		}
		if len(es) < maxAuditPage {
			break
		}
		start = es[len(es)-1].Index + 1
	}
	return out, nil
}

// caseManySubjects loads, for every case whose pulls the index counts at least min distinct
// subjects in, the case's pull records, and calls the rule.
func (a *Audit) caseManySubjects(ctx context.Context, ix store.AuditIndex, from, to time.Time, min int, add findingsAdder) error {
	counts, err := ix.CaseSubjects(ctx, ledger.KindPull, from, to, min)
	if err != nil {
		return rpc.LedgerErr(err)
	}
	for _, c := range counts {
		es, err := ix.Search(ctx, store.AuditQuery{Kind: ledger.KindPull, Case: c.Case, Department: c.Department, From: from, To: to}, 0, maxAuditPage)
		if err != nil {
			return rpc.LedgerErr(err)
		}
		idx := make([]uint64, len(es))
		for i, e := range es {
			idx[i] = e.Index
		}
		f, ok := anomaly.CaseManySubjects(anomaly.CaseSubjects{Case: c.Case, Department: c.Department, Subjects: c.Subjects, Records: c.Records, Indices: idx}, min)
		if ok && !add([]anomaly.Finding{f}) {
			return nil
		}
	}
	return nil
}

// caseOpenTooLong loads the cases open at `to` with their working age and calls the rule.
func (a *Audit) caseOpenTooLong(ctx context.Context, to time.Time, factor float64, add findingsAdder) error {
	if a.Store == nil || a.Calendar == nil {
		return nil
	}
	matters := map[string]*exchange.Matter{}
	after := ""
	for {
		cs, err := a.Store.Cases().List(ctx, store.CaseFilter{State: exchange.CaseOpen, OpenedBefore: to}, after, 1000)
		if err != nil {
			return err
		}
		for _, c := range cs {
			m, ok := matters[c.Matter]
			if !ok {
				if m, err = a.Store.Matters().Get(ctx, c.Matter); err != nil && exchange.KindOf(err) != exchange.KindNotFound {
					return err
				}
				matters[c.Matter] = m
			}
			if m == nil {
				continue
			}
			days, _, provisional, err := c.OpenFor(a.Calendar, m, factor, to)
			if err != nil {
				continue // a year with neither an announcement nor statutory holidays: not guessed
			}
			f, ok := anomaly.CaseOpenTooLong(anomaly.OpenCase{Number: c.Number, Matter: c.Matter, Department: c.Department, OpenedAt: c.OpenedAt,
				TimeLimit: m.TimeLimit, WorkingDays: days, Provisional: provisional}, factor)
			if ok && !add([]anomaly.Finding{f}) {
				return nil
			}
		}
		if len(cs) < 1000 {
			return nil
		}
		after = cs[len(cs)-1].Number
	}
}
