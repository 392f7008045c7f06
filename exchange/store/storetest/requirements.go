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

// Requirement returns a filed conditional requirement under review for tests.
func Requirement(id, consumer, provider, resource string, at time.Time) *exchange.Requirement {
	return &exchange.Requirement{
		ID: id, Consumer: consumer, Provider: provider, Resource: resource,
		Items:       []string{"name", "address"},
		MatterCodes: []string{"11500000MB1234567X-001", "11500000MB1234567X-002"},
		LegalDuty:   "《户口登记条例》第十条",
		ScopeRegion: "500000",
		UpdateCycle: exchange.CycleDaily, ProvisionMethod: exchange.ProvisionPullAPI,
		State:     exchange.ReqUnderReview,
		Deadline:  at.Add(48 * time.Hour),
		CreatedAt: at,
		UpdatedAt: at,
		Decisions: []exchange.Decision{{
			Seq: 1, Action: exchange.ActSubmit, By: consumer, Comment: "申请共享", At: at,
			Evidence: "GXHUB-SM2 eyJhbGciOiJTTTJTTTMifQ.e30.c2ln", BodyDigest: "ZGlnZXN0",
		}},
	}
}

func testRequirements(t *testing.T, s store.Store) {
	t.Cleanup(func() { s.Close() })
	ctx := context.Background()
	q := s.Requirements()
	cons, prov, coord := Code(t, "500000", 1), Code(t, "500000", 2), Code(t, "500000", 3)
	at := time.Date(2026, 2, 13, 2, 0, 0, 0, time.UTC)
	r := Requirement("RQ-1", cons, prov, "500000-GA-0001", at)
	require.NoError(t, q.Create(ctx, r))
	got, err := q.Get(ctx, r.ID)
	require.NoError(t, err)
	require.Equal(t, r, got)

	t.Run("fail/duplicate id writes nothing", func(t *testing.T) {
		dup := Requirement("RQ-1", prov, cons, "X-1", at)
		require.ErrorIs(t, q.Create(ctx, dup), exchange.ErrAlreadyExists)
		got, err := q.Get(ctx, r.ID)
		require.NoError(t, err)
		require.Equal(t, r, got)
	})
	t.Run("fail/unknown id", func(t *testing.T) {
		_, err := q.Get(ctx, "RQ-none")
		require.ErrorIs(t, err, exchange.ErrNotFound)
		n := Requirement("RQ-none", cons, prov, "X", at)
		require.ErrorIs(t, q.Decide(ctx, n, exchange.ReqUnderReview, exchange.Decision{Seq: 2, Action: exchange.ActComplete, By: coord, At: at}), exchange.ErrNotFound)
	})

	next := *r
	next.State = exchange.ReqAwaitingProvider
	next.Deadline = at.Add(7 * 24 * time.Hour)
	next.UpdatedAt = at.Add(time.Hour)
	d2 := exchange.Decision{Seq: 2, Action: exchange.ActComplete, By: coord, At: next.UpdatedAt, Evidence: "GXHUB-SM2 x.y.z", BodyDigest: "abc"}
	require.NoError(t, q.Decide(ctx, &next, exchange.ReqUnderReview, d2))
	got, err = q.Get(ctx, r.ID)
	require.NoError(t, err)
	require.Equal(t, exchange.ReqAwaitingProvider, got.State)
	require.Equal(t, next.Deadline, got.Deadline)
	require.Equal(t, []exchange.Decision{r.Decisions[0], d2}, got.Decisions)

	t.Run("fail/stale state or seq writes nothing", func(t *testing.T) {
		stale := next
		stale.State = exchange.ReqGranted
		for _, tc := range []struct {
			from exchange.RequirementState
			seq  int
		}{{exchange.ReqUnderReview, 3}, {exchange.ReqAwaitingProvider, 2}, {exchange.ReqAwaitingProvider, 4}} {
			err := q.Decide(ctx, &stale, tc.from, exchange.Decision{Seq: tc.seq, Action: exchange.ActGrant, By: prov, At: at})
			require.ErrorIs(t, err, exchange.ErrFailedPrecondition)
			require.Contains(t, err.Error(), "read it again")
		}
		got, err := q.Get(ctx, r.ID)
		require.NoError(t, err)
		require.Equal(t, exchange.ReqAwaitingProvider, got.State)
		require.Len(t, got.Decisions, 2)
	})
	t.Run("ok/concurrent decisions: exactly one applies", func(t *testing.T) {
		var wg sync.WaitGroup
		errs := make([]error, 8)
		for i := range errs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				n := next
				n.State = exchange.ReqGranted
				if i%2 == 1 {
					n.State = exchange.ReqRefused
				}
				n.Deadline = time.Time{}
				d := exchange.Decision{Seq: 3, Action: exchange.ActGrant, By: prov, At: at, Comment: fmt.Sprint(i)}
				if i%2 == 1 {
					d.Action, d.LegalBasis = exchange.ActRefuse, Basis
				}
				errs[i] = q.Decide(ctx, &n, exchange.ReqAwaitingProvider, d)
			}()
		}
		wg.Wait()
		won := -1
		for i, err := range errs {
			if err == nil {
				require.Equal(t, -1, won, "two decisions applied")
				won = i
			} else {
				require.ErrorIs(t, err, exchange.ErrFailedPrecondition)
			}
		}
		require.NotEqual(t, -1, won)
		got, err := q.Get(ctx, r.ID)
		require.NoError(t, err)
		require.Len(t, got.Decisions, 3)
		require.Equal(t, fmt.Sprint(won), got.Decisions[2].Comment)
		require.True(t, got.Deadline.IsZero())
		if won%2 == 1 {
			require.Equal(t, Basis, got.Decisions[2].LegalBasis, "a refusal's structured legal basis round-trips")
		} else {
			require.True(t, got.Decisions[2].LegalBasis.IsZero())
		}
	})
}

// Basis is a valid structured legal basis for tests.
var Basis = exchange.LegalBasis{Kind: exchange.BasisLaw, Title: "中华人民共和国个人信息保护法", Article: "第十三条第一款", DocNumber: ""}

func testRequirementList(t *testing.T, s store.Store) {
	t.Cleanup(func() { s.Close() })
	ctx := context.Background()
	q := s.Requirements()
	a, b, c := Code(t, "500000", 1), Code(t, "500000", 2), Code(t, "500000", 3)
	base := time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)
	for i := range 30 {
		cons, prov := a, b
		if i%3 == 0 {
			cons, prov = c, a
		}
		r := Requirement(fmt.Sprintf("RQ-%02d", i), cons, prov, fmt.Sprintf("RES-%d", i%2), base)
		r.Deadline = base.Add(time.Duration(i) * time.Hour)
		if i%5 == 0 {
			r.State, r.Deadline = exchange.ReqGranted, time.Time{}
		}
		if i%7 == 0 && i%5 != 0 {
			r.State = exchange.ReqAwaitingProvider
		}
		require.NoError(t, q.Create(ctx, r))
	}
	ids := func(rs []*exchange.Requirement) []string {
		var out []string
		for _, r := range rs {
			require.Nil(t, r.Decisions)
			out = append(out, r.ID)
		}
		return out
	}
	count := func(f store.RequirementFilter) int {
		var all []string
		after := ""
		for {
			page, err := q.List(ctx, f, after, 4)
			require.NoError(t, err)
			all = append(all, ids(page)...)
			if len(page) < 4 {
				break
			}
			after = page[len(page)-1].ID
		}
		require.IsIncreasing(t, all)
		return len(all)
	}
	require.Equal(t, 30, count(store.RequirementFilter{}))
	require.Equal(t, 10, count(store.RequirementFilter{Consumer: c}))
	require.Equal(t, 10, count(store.RequirementFilter{Provider: a}))
	require.Equal(t, 20, count(store.RequirementFilter{Consumer: a, Provider: b}))
	require.Equal(t, 15, count(store.RequirementFilter{Resource: "RES-1"}))
	require.Equal(t, 6, count(store.RequirementFilter{State: exchange.ReqGranted}))
	require.Equal(t, 2, count(store.RequirementFilter{Consumer: c, State: exchange.ReqGranted})) // 0, 15

	t.Run("overdue", func(t *testing.T) {
		// Deadlines at base+i h; granted ones have none. At base+10h: i in 0..10 pending
		// (under_review or awaiting_provider) and not granted: 1,2,3,4,6,7,8,9 (5, 10, 0 granted).
		od, err := q.Overdue(ctx, base.Add(10*time.Hour), 100)
		require.NoError(t, err)
		require.Equal(t, []string{"RQ-01", "RQ-02", "RQ-03", "RQ-04", "RQ-06", "RQ-07", "RQ-08", "RQ-09"}, ids(od))
		od, err = q.Overdue(ctx, base.Add(10*time.Hour), 3)
		require.NoError(t, err)
		require.Equal(t, []string{"RQ-01", "RQ-02", "RQ-03"}, ids(od))
		od, err = q.Overdue(ctx, base.Add(-time.Hour), 100)
		require.NoError(t, err)
		require.Empty(t, od)
	})
	_, err := q.List(ctx, store.RequirementFilter{}, "", 0)
	require.ErrorIs(t, err, exchange.ErrInvalid)
}
