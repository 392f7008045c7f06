package server

import (
	"context"
	"fmt"
	"time"

	"github.com/gxhub/gxhub/exchange"
	"github.com/gxhub/gxhub/exchange/rpc"
	"github.com/gxhub/gxhub/exchange/store"
	"github.com/gxhub/gxhub/ledger"
	auditv1 "github.com/gxhub/gxhub/sdk/api/audit/v1"
)

// Case anomaly rules of ListAnomalies (seed 004 Art. 16(三): the case's life is monitored).
const (
	RuleCaseManySubjects    = "CASE_MANY_SUBJECTS"
	RuleCaseSubjectMismatch = "CASE_SUBJECT_MISMATCH"
	RuleCaseOpenTooLong     = "CASE_OPEN_TOO_LONG"
)

// caseRules explains the case rules with the thresholds in force.
func caseRules(subjectsMin int, overdueFactor float64) []string {
	return []string{
		fmt.Sprintf("%s: a case whose pull records in the window name at least %d distinct subjects (granted or refused): a case concerns its applicant and a few declared parties, not a population.", RuleCaseManySubjects, subjectsMin),
		RuleCaseSubjectMismatch + ": every pull in the window refused because it named a subject that is neither the case's applicant nor a declared party (reason CASE_SUBJECT_MISMATCH).",
		fmt.Sprintf("%s: a case still open at the end of the window whose working age is more than %g × its matter's promised time limit (承诺办结时限).", RuleCaseOpenTooLong, overdueFactor),
	}
}

// anomalyAdder adds an anomaly; false once the limit is reached.
type anomalyAdder func(*auditv1.Anomaly) bool

// caseManySubjects flags cases whose pulls name many distinct subjects.
func (a *Audit) caseManySubjects(ctx context.Context, ix store.AuditIndex, from, to time.Time, min int, add anomalyAdder) error {
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
		if !add(&auditv1.Anomaly{Rule: RuleCaseManySubjects, Department: c.Department, CaseNumber: c.Case, RecordIndices: idx, Count: c.Subjects,
			Explanation: fmt.Sprintf("case %s of %s: %d pull records in the window name %d distinct subjects (threshold %d)", c.Case, c.Department, c.Records, c.Subjects, min)}) {
			return nil
		}
	}
	return nil
}

// caseSubjectMismatch flags pulls refused for naming a subject outside the case: one
// anomaly per pull (its records, one per subject, share the pull's request id).
func (a *Audit) caseSubjectMismatch(ctx context.Context, each func(store.AuditQuery, func(store.AuditEntry) bool) error, from, to time.Time, add anomalyAdder) error {
	var order []*auditv1.Anomaly
	byPull := map[string]*auditv1.Anomaly{}
	err := each(store.AuditQuery{Kind: ledger.KindPull, ReasonCode: exchange.ReasonCaseSubjectMismatch, From: from, To: to}, func(e store.AuditEntry) bool {
		r := e.Record
		if an, ok := byPull[r.RequestID]; ok && r.RequestID != "" {
			an.RecordIndices = append(an.RecordIndices, e.Index)
			return true
		}
		an := &auditv1.Anomaly{Rule: RuleCaseSubjectMismatch, Department: r.Department, Resource: r.Resource, CaseNumber: r.Case, RecordIndices: []uint64{e.Index},
			Explanation: fmt.Sprintf("pull %s of %s at %s for case %q named a subject outside the case (refused)", r.RequestID, r.Resource, r.Time.UTC().Format(time.RFC3339), r.Case)}
		byPull[r.RequestID] = an
		order = append(order, an)
		return len(order) <= maxAuditPage
	})
	if err != nil {
		return err
	}
	for _, an := range order {
		if !add(an) {
			return nil
		}
	}
	return nil
}

// caseOpenTooLong flags open cases far beyond their matter's time limit at `to`.
func (a *Audit) caseOpenTooLong(ctx context.Context, to time.Time, factor float64, add anomalyAdder) error {
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
			days, overdue, provisional, err := c.OpenFor(a.Calendar, m, factor, to)
			if err != nil || !overdue {
				continue // a year with neither an announcement nor statutory holidays: not guessed
			}
			note := ""
			if provisional {
				note = " (provisional: days of a year whose working-day calendar is not announced counted from the statutory holidays alone)"
			}
			if !add(&auditv1.Anomaly{Rule: RuleCaseOpenTooLong, Department: c.Department, CaseNumber: c.Number,
				Explanation: fmt.Sprintf("case %s (matter %s, promised %d working days) has been open %.1f working days since %s%s", c.Number, c.Matter, m.TimeLimit, days, c.OpenedAt.UTC().Format(time.RFC3339), note)}) {
				return nil
			}
		}
		if len(cs) < 1000 {
			return nil
		}
		after = cs[len(cs)-1].Number
	}
}
