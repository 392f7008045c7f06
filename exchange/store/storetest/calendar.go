package storetest

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gxhub/gxhub/exchange"
	"github.com/gxhub/gxhub/exchange/calendar"
	"github.com/gxhub/gxhub/exchange/store"
)

func testCalendarYears(t *testing.T, s store.Store) {
	t.Cleanup(func() { s.Close() })
	ctx := context.Background()
	cy := s.CalendarYears()
	at := time.Date(2026, 11, 20, 2, 0, 0, 123000, time.UTC)
	v, err := cy.Version(ctx)
	require.NoError(t, err)
	require.Zero(t, v)
	none, err := cy.Publications(ctx, 0, 10)
	require.NoError(t, err)
	require.Empty(t, none)

	p1 := calendar.Publication{Years: []int{2027}, File: []byte(`{"source":"s","years":{}}`), By: Code(t, "500000", 1), Operator: "op",
		At: at, Evidence: "GXHUB-SM2 a.b.c", BodyDigest: "ZGln"}
	got, err := cy.Publish(ctx, p1, 0)
	require.NoError(t, err)
	require.Equal(t, int64(1), got.Version)
	p2 := calendar.Publication{Years: []int{2027, 2028}, File: []byte("{}"), Replace: true, Reason: "更正", By: p1.By, At: at.Add(time.Hour), Evidence: "e", BodyDigest: "d"}

	t.Run("fail/stale version writes nothing", func(t *testing.T) {
		_, err := cy.Publish(ctx, p2, 0)
		require.ErrorIs(t, err, store.ErrCalendarConflict)
		_, err = cy.Publish(ctx, p2, 5)
		require.Equal(t, "CALENDAR_VERSION_CONFLICT", reasonOf(err))
		v, err := cy.Version(ctx)
		require.NoError(t, err)
		require.Equal(t, int64(1), v)
	})
	got2, err := cy.Publish(ctx, p2, 1)
	require.NoError(t, err)
	require.Equal(t, int64(2), got2.Version)

	all, err := cy.Publications(ctx, 0, 10)
	require.NoError(t, err)
	p1.Version, p2.Version = 1, 2
	require.Equal(t, []calendar.Publication{p1, p2}, all, "stored exactly, oldest first")
	after, err := cy.Publications(ctx, 1, 10)
	require.NoError(t, err)
	require.Equal(t, []calendar.Publication{p2}, after)
	_, err = cy.Publications(ctx, 0, 0)
	require.ErrorIs(t, err, exchange.ErrInvalid)

	t.Run("ok/concurrent publications from one version: exactly one wins", func(t *testing.T) {
		var wg sync.WaitGroup
		errs := make([]error, 6)
		for i := range errs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, errs[i] = cy.Publish(ctx, calendar.Publication{Years: []int{2029 + i}, File: []byte("{}"), By: "D", At: at}, 2)
			}()
		}
		wg.Wait()
		won := 0
		for _, err := range errs {
			if err == nil {
				won++
			} else {
				require.Equal(t, "CALENDAR_VERSION_CONFLICT", reasonOf(err), "%v", err)
			}
		}
		require.Equal(t, 1, won)
		v, err := cy.Version(ctx)
		require.NoError(t, err)
		require.Equal(t, int64(3), v)
	})
}

func testRequirementProvisional(t *testing.T, s store.Store) {
	t.Cleanup(func() { s.Close() })
	ctx := context.Background()
	q := s.Requirements()
	cons, prov := Code(t, "500000", 1), Code(t, "500000", 2)
	at := time.Date(2026, 12, 30, 2, 0, 0, 0, time.UTC)
	r := Requirement("RQ-P1", cons, prov, "500000-GA-0001", at)
	r.DeadlineDays, r.DeadlineProvisional = 2, true
	require.NoError(t, q.Create(ctx, r))
	plain := Requirement("RQ-P2", cons, prov, "500000-GA-0001", at)
	plain.DeadlineDays = 2
	require.NoError(t, q.Create(ctx, plain))
	got, err := q.Get(ctx, r.ID)
	require.NoError(t, err)
	require.Equal(t, r, got)

	list, err := q.List(ctx, store.RequirementFilter{DeadlineProvisional: true}, "", 10)
	require.NoError(t, err)
	require.Len(t, list, 1)
	require.Equal(t, "RQ-P1", list[0].ID)
	require.True(t, list[0].DeadlineProvisional)
	require.Equal(t, 2, list[0].DeadlineDays)

	next := *r
	next.Deadline, next.DeadlineProvisional, next.UpdatedAt = at.Add(72*time.Hour), false, at.Add(time.Hour)
	d := exchange.Decision{Seq: 2, Action: exchange.ActRecomputeDeadline, By: exchange.SystemActor, At: next.UpdatedAt, Comment: "recomputed"}
	require.NoError(t, q.Decide(ctx, &next, exchange.ReqUnderReview, d))
	got, err = q.Get(ctx, r.ID)
	require.NoError(t, err)
	require.False(t, got.DeadlineProvisional)
	require.Equal(t, 2, got.DeadlineDays)
	require.Equal(t, next.Deadline, got.Deadline)
	list, err = q.List(ctx, store.RequirementFilter{DeadlineProvisional: true}, "", 10)
	require.NoError(t, err)
	require.Empty(t, list)
}
