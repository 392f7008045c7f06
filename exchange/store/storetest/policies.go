package storetest

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gxhub/gxhub/exchange"
	"github.com/gxhub/gxhub/exchange/store"
	"github.com/gxhub/gxhub/policy"
)

func testPolicies(t *testing.T, s store.Store) {
	t.Cleanup(func() { s.Close() })
	ctx := context.Background()
	ps := s.Policies()
	at := time.Date(2026, 4, 1, 10, 0, 0, 0, time.UTC)
	v, err := ps.Version(ctx)
	require.NoError(t, err)
	require.Zero(t, v)
	r1 := policy.Rule{PType: "p", Fields: []string{"10", "*", "*", "pull", "deny", "NOT_SHARED"}}
	r2 := policy.Rule{PType: "g", Fields: []string{"alice", "operator", "D1"}}
	r3 := policy.Rule{PType: "g", Fields: []string{"bob", "auditor", "D1"}}

	c, err := ps.Apply(ctx, policy.Change{Add: []policy.Rule{r1, r2}, By: "system", Comment: "defaults", At: at}, 0)
	require.NoError(t, err)
	require.Equal(t, int64(1), c.Version)

	tests := map[string]struct {
		change policy.Change
		expect int64
		reason string
	}{
		"fail/stale version":         {policy.Change{Add: []policy.Rule{r3}, By: "D1", At: at}, 0, "POLICY_VERSION_CONFLICT"},
		"fail/version ahead":         {policy.Change{Add: []policy.Rule{r3}, By: "D1", At: at}, 5, "POLICY_VERSION_CONFLICT"},
		"fail/remove an absent rule": {policy.Change{Add: []policy.Rule{r3}, Remove: []policy.Rule{{PType: "g", Fields: []string{"x", "admin", "D1"}}}, By: "D1", At: at}, 1, "POLICY_RULE_ABSENT"},
		"fail/add an existing rule":  {policy.Change{Add: []policy.Rule{r3, r1}, By: "D1", At: at}, 1, "POLICY_RULE_EXISTS"},
		"fail/bad rule type":         {policy.Change{Add: []policy.Rule{{PType: "x", Fields: []string{"a"}}}, By: "D1", At: at}, 1, "POLICY_RULE_INVALID"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			_, err := ps.Apply(ctx, tc.change, tc.expect)
			require.Equal(t, tc.reason, reasonOf(err), "%v", err)
			rules, v, err := ps.Rules(ctx)
			require.NoError(t, err)
			require.Equal(t, int64(1), v, "a failed change writes nothing")
			require.Len(t, rules, 2)
		})
	}

	c, err = ps.Apply(ctx, policy.Change{Add: []policy.Rule{r3}, Remove: []policy.Rule{r2}, By: "D1", Operator: "root", Comment: "rotate", At: at.Add(time.Minute), Evidence: "jws", BodyDigest: "dg"}, 1)
	require.NoError(t, err)
	require.Equal(t, int64(2), c.Version)
	rules, v, err := ps.Rules(ctx)
	require.NoError(t, err)
	require.Equal(t, int64(2), v)
	require.Len(t, rules, 2)
	require.True(t, rules[0].Equal(r1))
	require.True(t, rules[1].Equal(r3))

	h, err := ps.History(ctx, 0, 10)
	require.NoError(t, err)
	require.Len(t, h, 2)
	require.Equal(t, int64(2), h[0].Version)
	require.Equal(t, "jws", h[0].Evidence)
	require.Equal(t, at.Add(time.Minute), h[0].At)
	require.True(t, h[0].Remove[0].Equal(r2))
	h, err = ps.History(ctx, 2, 10)
	require.NoError(t, err)
	require.Len(t, h, 1)
	_, err = ps.History(ctx, 0, 0)
	require.ErrorIs(t, err, exchange.ErrInvalid)

	t.Run("ok/concurrent changes from one version: exactly one wins", func(t *testing.T) {
		var wg sync.WaitGroup
		errs := make([]error, 6)
		for i := range errs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, errs[i] = ps.Apply(ctx, policy.Change{Add: []policy.Rule{{PType: "g", Fields: []string{"op", "operator", Code(t, "500000", i+1)}}}, By: "D", At: at}, 2)
			}()
		}
		wg.Wait()
		won := 0
		for _, err := range errs {
			if err == nil {
				won++
			} else {
				require.Equal(t, "POLICY_VERSION_CONFLICT", reasonOf(err), "%v", err)
			}
		}
		require.Equal(t, 1, won)
		rules, v, err := ps.Rules(ctx)
		require.NoError(t, err)
		require.Equal(t, int64(3), v)
		require.Len(t, rules, 3)
	})
}
