package exchange_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gxhub/gxhub/exchange"
	"github.com/gxhub/gxhub/exchange/calendar"
)

func TestObjectionLifecycle(t *testing.T) {
	res := resource(exchange.ShareUnconditional, true)
	rec := &exchange.Record{Resource: res.Code, Subject: applicant, Version: 2, PublishedAt: pullAt.Add(-time.Hour)}
	raised := time.Date(2026, 3, 6, 16, 0, 0, 0, cst) // Friday
	raise := func(res *exchange.Resource) *exchange.Objection {
		o := &exchange.Objection{ID: "OB-1", Text: "住址已变更", Items: []string{"address"}}
		require.NoError(t, exchange.RaiseObjection(o, res, rec, consumer, calendar.Default(), 3, raised))
		return o
	}
	o := raise(res)
	require.Equal(t, exchange.ObjectionOpen, o.State)
	require.Equal(t, "PROVIDER", o.Provider)
	require.Equal(t, int64(2), o.RecordVersion)
	require.Equal(t, time.Date(2026, 3, 12, 0, 0, 0, 0, cst), o.Deadline.In(cst), "the configured default: 3 working days (9, 10, 11 March)")
	res.ObjectionDays = 1
	require.Equal(t, time.Date(2026, 3, 10, 0, 0, 0, 0, cst), raise(res).Deadline.In(cst), "the resource's own deadline wins")

	for _, tc := range []struct {
		name   string
		o      exchange.Objection
		by     exchange.Actor
		reason string
	}{
		{"no text", exchange.Objection{Text: " "}, consumer, "OBJECTION_TEXT_MISSING"},
		{"unknown item", exchange.Objection{Text: "x", Items: []string{"salary"}}, consumer, "DATA_ITEM_UNKNOWN"},
		{"provider objects to itself", exchange.Objection{Text: "x"}, dept("PROVIDER", exchange.RoleConsumer), "OBJECTION_OWN_RECORD"},
		{"not a consumer", exchange.Objection{Text: "x"}, coordinator, "ROLE_REQUIRED"},
	} {
		t.Run("raise/"+tc.name, func(t *testing.T) {
			require.Equal(t, tc.reason, reason(t, exchange.RaiseObjection(&tc.o, res, rec, tc.by, calendar.Default(), 3, raised)))
		})
	}

	t.Run("corrected needs a version published after the objection", func(t *testing.T) {
		o := raise(res)
		at := raised.Add(2 * time.Hour)
		err := exchange.ResolveObjection(o, exchange.ObjectionCorrected, "已更正", rec, provider, at)
		require.Equal(t, "OBJECTION_NOT_CORRECTED", reason(t, err))
		require.Contains(t, err.Error(), "publish the corrected record first")
		old := &exchange.Record{Subject: applicant, Version: 3, PublishedAt: raised.Add(-time.Minute)}
		require.Equal(t, "OBJECTION_NOT_CORRECTED", reason(t, exchange.ResolveObjection(o, exchange.ObjectionCorrected, "已更正", old, provider, at)))
		require.Equal(t, exchange.ObjectionOpen, o.State, "a refused resolution changes nothing")
		fixed := &exchange.Record{Subject: applicant, Version: 3, PublishedAt: raised.Add(time.Hour)}
		require.Equal(t, "NOT_RESOURCE_PROVIDER", reason(t, exchange.ResolveObjection(o, exchange.ObjectionCorrected, "已更正", fixed, consumer, at)))
		require.NoError(t, exchange.ResolveObjection(o, exchange.ObjectionCorrected, "已更正 (batch p2)", fixed, provider, at))
		require.Equal(t, exchange.ObjectionCorrected, o.State)
		require.Equal(t, int64(3), o.CorrectedVersion)
		require.Equal(t, "OBJECTION_NOT_OPEN", reason(t, exchange.ResolveObjection(o, exchange.ObjectionRejected, "again", fixed, provider, at)))
	})
	t.Run("rejected needs a reason", func(t *testing.T) {
		o := raise(res)
		require.Equal(t, "RESOLUTION_MISSING", reason(t, exchange.ResolveObjection(o, exchange.ObjectionRejected, " ", nil, provider, raised)))
		require.NoError(t, exchange.ResolveObjection(o, exchange.ObjectionRejected, "登记信息与原始档案一致", nil, provider, raised))
	})
	t.Run("overdue", func(t *testing.T) {
		o := raise(res)
		require.False(t, o.Overdue(o.Deadline.Add(-time.Second)))
		require.True(t, o.Overdue(o.Deadline))
		o.EscalatedAt = o.Deadline
		require.False(t, o.Overdue(o.Deadline.Add(time.Hour)), "escalated once")
		require.Contains(t, o.EscalationNote(), "did not answer objection OB-1")
	})
}
