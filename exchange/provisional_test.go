package exchange_test

import (
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gxhub/gxhub/exchange"
	"github.com/gxhub/gxhub/exchange/calendar"
)

// published2027 is the embedded calendar with the MADE-UP 2027 test file
// (calendar/testdata/2027-made-up.json, not the real notice) published over it.
func published2027(t *testing.T) *calendar.Calendar {
	t.Helper()
	b, err := os.ReadFile("calendar/testdata/2027-made-up.json")
	require.NoError(t, err)
	c, bad := calendar.Apply(calendar.Default().WithProvisional(), []calendar.Publication{{Version: 1, File: b, By: "COORD"}})
	require.Empty(t, bad)
	return c
}

func TestProvisionalDeadlineIsRecomputed(t *testing.T) {
	prov := &exchange.Workflow{Calendar: calendar.Default().WithProvisional(), Deadlines: exchange.DefaultDeadlines()}
	res := resource(exchange.ShareConditional, true)
	r := newRequirement()
	require.NoError(t, prov.File(r, res, consumer, at("2026-12-30 10:00")))
	require.Equal(t, exchange.ReqUnderReview, r.State)
	require.True(t, r.DeadlineProvisional)
	require.Equal(t, 2, r.DeadlineDays)
	require.Equal(t, at("2027-01-05 00:00"), r.Deadline.In(cst), "12-31, then 01-04 after the provisional 元旦 and weekend")

	_, _, ok, err := prov.RecomputeDeadline(r, at("2026-12-30 11:00"))
	require.NoError(t, err)
	require.False(t, ok, "still provisional: nothing to recompute")

	official := &exchange.Workflow{Calendar: published2027(t), Deadlines: exchange.DefaultDeadlines()}
	from, d, ok, err := official.RecomputeDeadline(r, at("2026-12-31 09:00"))
	require.NoError(t, err)
	require.True(t, ok)
	require.Equal(t, exchange.ReqUnderReview, from)
	require.Equal(t, exchange.ReqUnderReview, r.State, "recomputing never changes the state")
	require.False(t, r.DeadlineProvisional)
	require.Equal(t, at("2027-01-06 00:00"), r.Deadline.In(cst), "the made-up 元旦 runs to 01-04")
	require.Equal(t, exchange.ActRecomputeDeadline, d.Action)
	require.Equal(t, exchange.SystemActor, d.By)
	require.Equal(t, 2, d.Seq)
	require.Contains(t, d.Comment, "computed provisionally as 2027-01-05 00:00 CST, moves to 2027-01-06 00:00 CST")
	require.Equal(t, d, r.Decisions[1], "the history shows it")

	_, _, ok, err = official.RecomputeDeadline(r, at("2026-12-31 10:00"))
	require.NoError(t, err)
	require.False(t, ok, "recomputed once")

	t.Run("fail/nobody may request a recomputation", func(t *testing.T) {
		_, _, err := official.Decide(r, res, coordinator, exchange.DecisionRequest{Action: exchange.ActRecomputeDeadline}, at("2026-12-31 10:00"))
		require.Equal(t, "ACTION_SYSTEM_ONLY", reason(t, err))
	})
	t.Run("ok/the answer deadline counts from the review decision, not from the recomputation", func(t *testing.T) {
		_, _, err := official.Decide(r, res, coordinator, exchange.DecisionRequest{Action: exchange.ActComplete}, at("2027-01-05 10:00"))
		require.NoError(t, err)
		require.False(t, r.DeadlineProvisional)
		require.Equal(t, 5, r.DeadlineDays)
		require.Equal(t, at("2027-01-13 00:00"), r.Deadline.In(cst))
	})
	t.Run("ok/an escalation past a provisional deadline says it was provisional", func(t *testing.T) {
		r := newRequirement()
		require.NoError(t, prov.File(r, res, consumer, at("2026-12-30 10:00")))
		_, d, ok := prov.Escalate(r, at("2027-01-05 00:00"))
		require.True(t, ok)
		require.Contains(t, d.Comment, "(provisional:")
		require.False(t, r.DeadlineProvisional)
		require.Zero(t, r.DeadlineDays)
	})
	t.Run("ok/a deadline inside an announced year is not provisional", func(t *testing.T) {
		r := newRequirement()
		require.NoError(t, prov.File(r, res, consumer, at("2026-12-21 10:00")))
		require.False(t, r.DeadlineProvisional)
		_, _, ok, err := official.RecomputeDeadline(r, at("2026-12-22 10:00"))
		require.NoError(t, err)
		require.False(t, ok)
	})
}

func TestFreshnessProvisional(t *testing.T) {
	r := &exchange.Resource{Code: "R", FreshnessLimit: 1}
	f := exchange.ComputeFreshness(calendar.Default().WithProvisional(), r, at("2026-12-28 09:00"), at("2027-01-10 09:00"))
	require.True(t, f.Provisional)
	require.True(t, f.Stale)
	require.Empty(t, f.CalendarStatus, "measured, provisionally")
	require.Equal(t, 9*24*time.Hour-9*time.Hour, f.WorkingAge)

	f = exchange.ComputeFreshness(published2027(t), r, at("2026-12-28 09:00"), at("2027-01-10 09:00"))
	require.False(t, f.Provisional)
	require.Equal(t, 8*24*time.Hour-9*time.Hour, f.WorkingAge, "the made-up 2027 has 01-04 off")

	f = exchange.ComputeFreshness(calendar.Default().WithProvisional(), r, at("2026-12-28 09:00"), at("2026-12-29 08:00"))
	require.False(t, f.Provisional)
	require.False(t, f.Stale)
}
