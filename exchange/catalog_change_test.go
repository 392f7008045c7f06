package exchange_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gxhub/gxhub/exchange"
	"github.com/gxhub/gxhub/exchange/calendar"
)

func TestNarrowing(t *testing.T) {
	base := func() *exchange.Resource {
		r := resource(exchange.ShareUnconditional, true)
		r.Version = 3
		return r
	}
	for _, tc := range []struct {
		name string
		mut  func(*exchange.Resource)
		want []string
	}{
		{"description only", func(r *exchange.Resource) { r.Description = "新的描述" }, nil},
		{"item added", func(r *exchange.Resource) {
			r.Items = append(r.Items, exchange.DataItem{Name: "phone", Title: "电话", Type: "string", Sensitivity: exchange.SensitivityPersonal})
		}, nil},
		{"wider scope", func(r *exchange.Resource) { r.ScopeRegion = "500000" }, nil},
		{"to conditional", func(r *exchange.Resource) { r.ShareType, r.Condition = exchange.ShareConditional, "仅限" }, []string{"share type unconditional → conditional"}},
		{"to not shared", func(r *exchange.Resource) { r.ShareType, r.LegalBasis = exchange.ShareNotShared, secrecyLaw }, []string{"share type unconditional → not_shared"}},
		{"item removed", func(r *exchange.Resource) { r.Items = r.Items[1:] }, []string{"removes data item name"}},
		{"item more sensitive", func(r *exchange.Resource) { r.Items[0].Sensitivity = exchange.SensitivitySensitivePersonal }, []string{"restricts data item name (personal → sensitive_personal)"}},
		{"smaller scope", func(r *exchange.Resource) { r.ScopeRegion = "500112" }, []string{"shrinks the scope 500000 → 500112"}},
		{"withdrawn", func(r *exchange.Resource) { r.Withdrawn = true }, []string{"withdraws the resource from the catalogue"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cur, next := base(), base()
			next.Items = append([]exchange.DataItem(nil), cur.Items...)
			tc.mut(next)
			require.Equal(t, tc.want, exchange.Narrowing(cur, next))
		})
	}
	t.Run("changed condition of a conditional resource", func(t *testing.T) {
		cur, next := resource(exchange.ShareConditional, true), resource(exchange.ShareConditional, true)
		next.Condition = "另需市政府批准"
		require.Equal(t, []string{"changes the sharing condition"}, exchange.Narrowing(cur, next))
	})
}

func TestChangeControl(t *testing.T) {
	cc := &exchange.ChangeControl{Calendar: calendar.Default()}
	at := time.Date(2026, 3, 2, 10, 0, 0, 0, cst) // Monday
	cur := resource(exchange.ShareUnconditional, true)
	cur.Version = 2
	narrowed := func() *exchange.Resource {
		n := *cur
		n.ShareType, n.LegalBasis = exchange.ShareNotShared, secrecyLaw
		return &n
	}
	granted := []*exchange.Requirement{{ID: "RQ-B", State: exchange.ReqGranted}, {ID: "RQ-A", State: exchange.ReqGranted}}

	t.Run("a widening applies at once", func(t *testing.T) {
		n := *cur
		n.Description = "更完整的描述"
		p, err := cc.Plan(exchange.ResourceChange{Cur: cur, Next: &n, Granted: granted}, provider, "P-1", at)
		require.NoError(t, err)
		require.Nil(t, p)
		require.Equal(t, 3, n.Version)
		require.Equal(t, "PROVIDER", n.UpdatedBy)
	})
	t.Run("a narrowing without granted requirements applies at once", func(t *testing.T) {
		p, err := cc.Plan(exchange.ResourceChange{Cur: cur, Next: narrowed()}, provider, "P-1", at)
		require.NoError(t, err)
		require.Nil(t, p)
	})
	t.Run("only the provider changes its resource", func(t *testing.T) {
		_, err := cc.Plan(exchange.ResourceChange{Cur: cur, Next: narrowed()}, bystander, "P-1", at)
		require.Equal(t, "NOT_RESOURCE_PROVIDER", reason(t, err))
	})
	t.Run("free-text basis refused", func(t *testing.T) {
		n := narrowed()
		n.LegalBasis = exchange.LegalBasis{Kind: exchange.BasisRule, Title: "x", Article: "第一条"}
		_, err := cc.Plan(exchange.ResourceChange{Cur: cur, Next: n}, provider, "P-1", at)
		require.Equal(t, "LEGAL_BASIS_TITLE_INVALID", reason(t, err))
	})

	p, err := cc.Plan(exchange.ResourceChange{Cur: cur, Next: narrowed(), Granted: granted}, provider, "P-1", at)
	require.NoError(t, err)
	require.NotNil(t, p, "narrowing while requirements are granted is a proposal")
	require.Equal(t, exchange.ProposalPending, p.State)
	require.Equal(t, []string{"RQ-A", "RQ-B"}, p.Affected)
	require.Equal(t, []string{"share type unconditional → not_shared"}, p.Narrowing)
	require.Equal(t, time.Date(2026, 3, 10, 0, 0, 0, 0, cst), p.Deadline.In(cst), "5 working days: 3–6 and 9 March")
	require.Equal(t, 2, p.BaseVersion)
	require.Contains(t, p.Summary(), "share type unconditional → not_shared")

	_, err = cc.Plan(exchange.ResourceChange{Cur: cur, Next: narrowed(), Granted: granted, Pending: true}, provider, "P-2", at)
	require.Equal(t, "RESOURCE_CHANGE_PENDING", reason(t, err), "one proposal at a time")

	decide := func(p exchange.CatalogProposal, by exchange.Actor, a exchange.ProposalAction, comment string, cur *exchange.Resource) (*exchange.CatalogProposal, *exchange.Resource, error) {
		_, _, apply, err := cc.Decide(&p, cur, by, a, comment, at.Add(time.Hour))
		return &p, apply, err
	}
	_, _, err = decide(*p, provider, exchange.ApproveChange, "", cur)
	require.Equal(t, "ROLE_REQUIRED", reason(t, err), "the provider cannot approve its own narrowing")
	_, _, err = decide(*p, coordinator, exchange.RejectChange, "", cur)
	require.Equal(t, "COMMENT_REQUIRED", reason(t, err))
	_, _, err = decide(*p, bystander, exchange.WithdrawChange, "", cur)
	require.Equal(t, "NOT_RESOURCE_PROVIDER", reason(t, err))
	moved := *cur
	moved.Version = 3
	_, _, err = decide(*p, coordinator, exchange.ApproveChange, "", &moved)
	require.Equal(t, "PROPOSAL_STALE", reason(t, err))

	approved, apply, err := decide(*p, coordinator, exchange.ApproveChange, "依据保密法", cur)
	require.NoError(t, err)
	require.Equal(t, exchange.ProposalApproved, approved.State)
	require.Equal(t, 3, apply.Version)
	require.Equal(t, exchange.ShareNotShared, apply.ShareType)
	require.Equal(t, 3, approved.AppliedVersion)
	require.Len(t, approved.Decisions, 2)
	_, _, err = decide(*approved, coordinator, exchange.RejectChange, "again", cur)
	require.Equal(t, "PROPOSAL_NOT_PENDING", reason(t, err))

	rejected, apply, err := decide(*p, coordinator, exchange.RejectChange, "无法律依据", cur)
	require.NoError(t, err)
	require.Nil(t, apply)
	require.Equal(t, exchange.ProposalRejected, rejected.State)
	require.Equal(t, exchange.ProposalPending, p.State, "the proposal value passed in is not aliased")

	require.False(t, p.Overdue(p.Deadline.Add(-time.Second)))
	require.True(t, p.Overdue(p.Deadline))
}
