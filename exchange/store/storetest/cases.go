package storetest

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gxhub/gxhub/exchange"
	"github.com/gxhub/gxhub/exchange/store"
)

// Case returns an open case of department for tests.
func Case(number, matter, department string, at time.Time) *exchange.Case {
	return &exchange.Case{Number: number, Matter: matter, MatterVersion: 1, Department: department,
		Applicant: IDNumber(1), ApplicantKind: exchange.SubjectIDNumber, Region: "500112", State: exchange.CaseOpen,
		Parties:  []exchange.Party{{Subject: IDNumber(2), Kind: exchange.SubjectIDNumber, Relation: "配偶"}},
		OpenedAt: at, UpdatedAt: at,
		History: []exchange.CaseEvent{{Seq: 1, State: exchange.CaseOpen, By: department, At: at, Evidence: "GXHUB-SM2 a.b.c", BodyDigest: "ZGln"}}}
}

func testCases(t *testing.T, s store.Store) {
	t.Cleanup(func() { s.Close() })
	ctx := context.Background()
	cs := s.Cases()
	d1, d2 := Code(t, "500112", 1), Code(t, "500112", 2)
	at := time.Date(2026, 3, 2, 1, 0, 0, 0, time.UTC)
	c := Case("YB-2026-0001", "M-1", d1, at)
	require.NoError(t, cs.Create(ctx, c))
	got, err := cs.Get(ctx, c.Number)
	require.NoError(t, err)
	require.Equal(t, c, got)
	brief, err := cs.Brief(ctx, c.Number)
	require.NoError(t, err)
	want := *c
	want.History = nil
	require.Equal(t, &want, brief, "brief: the case and its parties, no history")
	_, err = cs.Brief(ctx, "NOPE")
	require.ErrorIs(t, err, exchange.ErrNotFound)

	t.Run("fail/the number is unique hub-wide", func(t *testing.T) {
		err := cs.Create(ctx, Case(c.Number, "M-2", d2, at))
		require.ErrorIs(t, err, exchange.ErrAlreadyExists)
		require.Equal(t, "CASE_EXISTS", reasonOf(err))
		got, err := cs.Get(ctx, c.Number)
		require.NoError(t, err)
		require.Equal(t, d1, got.Department)
	})
	t.Run("fail/unknown", func(t *testing.T) {
		_, err := cs.Get(ctx, "NOPE")
		require.ErrorIs(t, err, exchange.ErrNotFound)
		require.ErrorIs(t, cs.End(ctx, "NOPE", exchange.CaseOpen, exchange.CaseEvent{Seq: 2, State: exchange.CaseClosed}), exchange.ErrNotFound)
		require.ErrorIs(t, cs.AddMaterials(ctx, "NOPE", []exchange.CaseMaterial{{Material: "x"}}), exchange.ErrNotFound)
	})

	ms := []exchange.CaseMaterial{
		{Material: "household", Name: "户口簿", Source: exchange.SourceSharing, Requirement: "RQ-1", PullID: "p1", AuditRefs: []uint64{7}, Digest: "ab", ObtainedAt: at, ObtainedBy: d1},
		{Material: "id_proof", Name: "居民身份证", Source: exchange.SourceECert, ECert: "EC-1", Verdict: "VALID", Digest: "cd", ObtainedAt: at, ObtainedBy: d1},
	}
	var wg sync.WaitGroup
	for i := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			require.NoError(t, cs.AddMaterials(ctx, c.Number, ms[i%2:i%2+1]))
		}()
	}
	wg.Wait()
	got, err = cs.Get(ctx, c.Number)
	require.NoError(t, err)
	require.Len(t, got.Materials, 4, "concurrent additions are all kept")

	closed := exchange.CaseEvent{Seq: 2, State: exchange.CaseClosed, By: d1, Comment: "办结", At: at.Add(time.Hour), Evidence: "GXHUB-SM2 d.e.f", BodyDigest: "ZA"}
	var ends sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		ends.Add(1)
		go func() {
			defer ends.Done()
			errs[i] = cs.End(ctx, c.Number, exchange.CaseOpen, closed)
		}()
	}
	ends.Wait()
	won := 0
	for _, err := range errs {
		if err == nil {
			won++
		} else {
			require.Equal(t, "CASE_CHANGED", reasonOf(err))
		}
	}
	require.Equal(t, 1, won, "exactly one of concurrent closes applies")
	got, err = cs.Get(ctx, c.Number)
	require.NoError(t, err)
	require.Equal(t, exchange.CaseClosed, got.State)
	require.Equal(t, []exchange.CaseEvent{c.History[0], closed}, got.History)
	require.Equal(t, at.Add(time.Hour), got.UpdatedAt)

	for i := range 6 {
		dep := d1
		if i%2 == 1 {
			dep = d2
		}
		require.NoError(t, cs.Create(ctx, Case(fmt.Sprintf("C-%02d", i), "M-2", dep, at.Add(time.Duration(i)*time.Hour))))
	}
	all, err := cs.List(ctx, store.CaseFilter{}, "", 100)
	require.NoError(t, err)
	require.Len(t, all, 7)
	require.Nil(t, all[0].History, "lists carry no history")
	mine, err := cs.List(ctx, store.CaseFilter{Department: d2}, "", 100)
	require.NoError(t, err)
	require.Len(t, mine, 3)
	open, err := cs.List(ctx, store.CaseFilter{State: exchange.CaseOpen, OpenedBefore: at.Add(3 * time.Hour)}, "", 100)
	require.NoError(t, err)
	require.Equal(t, []string{"C-00", "C-01", "C-02"}, numbers(open))
	page, err := cs.List(ctx, store.CaseFilter{Matter: "M-2"}, "C-02", 2)
	require.NoError(t, err)
	require.Equal(t, []string{"C-03", "C-04"}, numbers(page))
	_, err = cs.List(ctx, store.CaseFilter{}, "", 0)
	require.ErrorIs(t, err, exchange.ErrInvalid)
}

func numbers(cs []*exchange.Case) []string {
	out := make([]string, len(cs))
	for i, c := range cs {
		out[i] = c.Number
	}
	return out
}

func testProposals(t *testing.T, s store.Store) {
	t.Cleanup(func() { s.Close() })
	ctx := context.Background()
	prov, cons, coord := Code(t, "500000", 1), Code(t, "500000", 2), Code(t, "500000", 3)
	at := time.Date(2026, 3, 2, 1, 0, 0, 0, time.UTC)
	r := Resource("500000-GA-0001", prov)
	require.NoError(t, s.Catalog().Create(ctx, r))
	rq := Requirement("RQ-1", cons, prov, r.Code, at)
	rq.State = exchange.ReqGranted
	require.NoError(t, s.Requirements().Create(ctx, rq))

	next := *r
	next.ShareType, next.LegalBasis, next.Version, next.UpdatedAt = exchange.ShareNotShared, Basis, 2, at
	p := &exchange.CatalogProposal{ID: "P-1", Resource: r.Code, Provider: prov, BaseVersion: 1, Proposed: &next,
		Narrowing: []string{"share type conditional → not_shared"}, Affected: []string{"RQ-1", "RQ-GONE"}, State: exchange.ProposalPending,
		Deadline: at.Add(120 * time.Hour), DeadlineProvisional: true, CreatedAt: at, UpdatedAt: at,
		Decisions: []exchange.ProposalDecision{{Seq: 1, Action: exchange.ProposeChange, By: prov, At: at, Evidence: "GXHUB-SM2 p", BodyDigest: "d"}}}
	require.NoError(t, s.Proposals().Create(ctx, p, "proposed"))
	got, err := s.Proposals().Get(ctx, "P-1")
	require.NoError(t, err)
	require.Equal(t, p, got)
	pend, err := s.Proposals().Pending(ctx, r.Code)
	require.NoError(t, err)
	require.Equal(t, "P-1", pend.ID)
	req, err := s.Requirements().Get(ctx, "RQ-1")
	require.NoError(t, err)
	require.Equal(t, exchange.ReqGranted, req.State, "a notice leaves the state as it is")
	require.Len(t, req.Decisions, 2)
	require.Equal(t, exchange.Decision{Seq: 2, Action: exchange.ActCatalogNotice, By: exchange.SystemActor, Comment: "proposed", At: at}, req.Decisions[1])

	t.Run("fail/one pending proposal per resource", func(t *testing.T) {
		q := *p
		q.ID = "P-2"
		err := s.Proposals().Create(ctx, &q, "again")
		require.Equal(t, "RESOURCE_CHANGE_PENDING", reasonOf(err))
		req, err := s.Requirements().Get(ctx, "RQ-1")
		require.NoError(t, err)
		require.Len(t, req.Decisions, 2, "nothing was written")
	})

	approved := *got
	approved.State, approved.AppliedVersion, approved.UpdatedAt = exchange.ProposalApproved, 2, at.Add(time.Hour)
	d := exchange.ProposalDecision{Seq: 2, Action: exchange.ApproveChange, By: coord, At: at.Add(time.Hour), Evidence: "GXHUB-SM2 c", BodyDigest: "e"}
	t.Run("fail/a failing resource write writes nothing", func(t *testing.T) {
		stale := next
		stale.Version = 5
		require.Equal(t, "RESOURCE_VERSION_CONFLICT", reasonOf(s.Proposals().Decide(ctx, &approved, exchange.ProposalPending, d, &stale, "approved")))
		got, err := s.Proposals().Get(ctx, "P-1")
		require.NoError(t, err)
		require.Equal(t, exchange.ProposalPending, got.State)
	})
	apply := next
	apply.UpdatedAt = at.Add(time.Hour)
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = s.Proposals().Decide(ctx, &approved, exchange.ProposalPending, d, &apply, "approved")
		}()
	}
	wg.Wait()
	won := 0
	for _, err := range errs {
		if err == nil {
			won++
		} else {
			require.ErrorIs(t, err, exchange.ErrFailedPrecondition)
		}
	}
	require.Equal(t, 1, won)
	cur, err := s.Catalog().Get(ctx, r.Code, 0)
	require.NoError(t, err)
	require.Equal(t, 2, cur.Version)
	require.Equal(t, exchange.ShareNotShared, cur.ShareType)
	require.Equal(t, Basis, cur.LegalBasis)
	req, err = s.Requirements().Get(ctx, "RQ-1")
	require.NoError(t, err)
	require.Len(t, req.Decisions, 3)
	require.Equal(t, "approved", req.Decisions[2].Comment)
	_, err = s.Proposals().Pending(ctx, r.Code)
	require.ErrorIs(t, err, exchange.ErrNotFound)
	got, err = s.Proposals().Get(ctx, "P-1")
	require.NoError(t, err)
	require.Equal(t, exchange.ProposalApproved, got.State)
	require.Equal(t, 2, got.AppliedVersion)
	require.Equal(t, []exchange.ProposalDecision{p.Decisions[0], d}, got.Decisions)

	list, err := s.Proposals().List(ctx, store.ProposalFilter{Provider: prov}, 10)
	require.NoError(t, err)
	require.Len(t, list, 1)
	list, err = s.Proposals().List(ctx, store.ProposalFilter{State: exchange.ProposalPending}, 10)
	require.NoError(t, err)
	require.Empty(t, list)
	_, err = s.Proposals().Get(ctx, "NONE")
	require.ErrorIs(t, err, exchange.ErrNotFound)
}
