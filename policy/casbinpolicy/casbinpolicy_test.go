package casbinpolicy_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gxhub/gxhub/exchange/store/sqlite"
	"github.com/gxhub/gxhub/exchange/store/sqlstore"
	"github.com/gxhub/gxhub/policy"
	"github.com/gxhub/gxhub/policy/casbinpolicy"
)

func openStore(t testing.TB) *sqlstore.Store {
	t.Helper()
	s, err := sqlite.Open(context.Background(), t.TempDir())
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	return s
}

const dept, other = "11500000000000001X", "11500000000000002X"

func baseRequest() policy.Request {
	return policy.Request{
		Department: dept, Action: policy.ActionPull, Resource: "RES-ID", ShareType: "conditional",
		RequirementID: "REQ-1", RequirementConsumer: dept, RequirementResource: "RES-ID", RequirementState: "granted",
		GrantedItems: []string{"name", "address"}, MatterCodes: []string{"M1", "M2"}, GrantedScope: "500000",
		MatterCode: "M1", CaseNumber: "C-2026-1", Items: []string{"name"}, Scope: "500112",
	}
}

// expected is the policy spelled out independently of casbin: the first failing check,
// in the documented order, decides; otherwise the role decides.
func expected(r policy.Request, roles []string) string {
	switch {
	case r.ShareType == "not_shared" && !r.SharingOrdered:
		return policy.ReasonNotShared
	case r.RequirementConsumer != r.Department:
		return policy.ReasonRequirementForeign
	case r.RequirementState == "revoked":
		return policy.ReasonRequirementRevoked
	case r.RequirementState != "granted":
		return policy.ReasonRequirementNotGrant
	case !slices.Contains(r.MatterCodes, r.MatterCode):
		return policy.ReasonPurposeNotCovered
	case strings.TrimSpace(r.CaseNumber) == "":
		return policy.ReasonCaseNumberMissing
	}
	for _, it := range r.Items {
		if !slices.Contains(r.GrantedItems, it) {
			return policy.ReasonDataItemNotApproved
		}
	}
	if !policy.RegionCovers(r.GrantedScope, r.Scope) {
		return policy.ReasonScopeMismatch
	}
	if r.Operator == "" || slices.Contains(roles, policy.RoleOperator) {
		return policy.ReasonGranted
	}
	return policy.ReasonRoleNotAllowed
}

func TestDecisionMatrix(t *testing.T) {
	ctx := context.Background()
	s := openStore(t)
	now := time.Date(2026, 5, 6, 9, 0, 0, 0, time.UTC)
	require.NoError(t, casbinpolicy.Seed(ctx, s.Policies(), now))
	require.NoError(t, casbinpolicy.Seed(ctx, s.Policies(), now), "seeding twice changes nothing")
	operators := map[string][]string{ // operator → roles in dept
		"":         nil, // the department's own key
		"op-wang":  {policy.RoleOperator},
		"adm-li":   {policy.RoleAdmin},
		"aud-zhao": {policy.RoleAuditor},
		"apr-chen": {policy.RoleApprover},
		"nobody":   nil,
	}
	var g []policy.Rule
	for op, roles := range operators {
		for _, role := range roles {
			g = append(g, policy.Rule{PType: "g", Fields: []string{op, role, dept}})
		}
	}
	_, err := s.Policies().Apply(ctx, policy.Change{Add: g, By: dept, At: now}, 1)
	require.NoError(t, err)
	d := casbinpolicy.New(s.Policies())

	shares := []string{"unconditional", "conditional", "not_shared"}
	states := []string{"granted", "revoked", "under_review", "awaiting_provider", "refused", "escalated"}
	purposes := map[string]string{"covered": "M2", "uncovered": "M9"}
	itemSets := map[string][]string{"all granted (empty)": nil, "subset": {"address"}, "exact": {"name", "address"}, "one unapproved": {"name", "income"}}
	counts := map[string]int{}
	for _, share := range shares {
		for _, state := range states {
			for pname, matter := range purposes {
				for iname, items := range itemSets {
					for op, roles := range operators {
						r := baseRequest()
						r.ShareType, r.RequirementState, r.MatterCode, r.Items, r.Operator = share, state, matter, items, op
						want := expected(r, roles)
						name := fmt.Sprintf("%s/%s/%s/%s/op=%q", share, state, pname, iname, op)
						t.Run(name, func(t *testing.T) {
							dec, err := d.Decide(ctx, r)
							require.NoError(t, err)
							require.Equal(t, want, dec.Reason, "%s: %s", name, dec.Message)
							require.Equal(t, want == policy.ReasonGranted, dec.Allow)
							require.NotEmpty(t, dec.Message)
							if want == policy.ReasonNotShared {
								require.Contains(t, dec.Message, r.LegalBasis)
							}
							if dec.Allow {
								require.NoError(t, dec.Err())
							} else {
								require.Error(t, dec.Err())
							}
						})
						counts[want]++
					}
				}
			}
		}
	}
	// The matrix must reach every outcome it claims to cover.
	for _, reason := range []string{policy.ReasonGranted, policy.ReasonNotShared, policy.ReasonRequirementRevoked, policy.ReasonRequirementNotGrant,
		policy.ReasonPurposeNotCovered, policy.ReasonDataItemNotApproved, policy.ReasonRoleNotAllowed} {
		require.Positive(t, counts[reason], reason)
	}

	single := map[string]func(*policy.Request){
		"another department's requirement": func(r *policy.Request) { r.RequirementConsumer = other },
		"case number missing":              func(r *policy.Request) { r.CaseNumber = "  " },
		"case outside the granted scope":   func(r *policy.Request) { r.Scope = "510104" },
		"not shared, coordinator ordered sharing but the purpose is not covered": func(r *policy.Request) {
			r.ShareType, r.SharingOrdered, r.MatterCode = "not_shared", true, "M9"
		},
	}
	t.Run("not shared, coordinator ordered sharing", func(t *testing.T) {
		r := baseRequest()
		r.ShareType, r.SharingOrdered = "not_shared", true
		dec, err := d.Decide(ctx, r)
		require.NoError(t, err)
		require.True(t, dec.Allow, dec.Message)
	})
	for name, mut := range single {
		t.Run(name, func(t *testing.T) {
			r := baseRequest()
			mut(&r)
			dec, err := d.Decide(ctx, r)
			require.NoError(t, err)
			require.False(t, dec.Allow)
			require.Equal(t, expected(r, nil), dec.Reason)
		})
	}
}

func TestChangesTakeEffectWithoutRestart(t *testing.T) {
	ctx := context.Background()
	s := openStore(t)
	now := time.Now()
	require.NoError(t, casbinpolicy.Seed(ctx, s.Policies(), now))
	local := casbinpolicy.New(s.Policies())
	replica := casbinpolicy.New(s.Policies()) // another hub replica over the same store
	replica.CheckEvery = 0
	r := baseRequest()
	for _, d := range []*casbinpolicy.Decider{local, replica} {
		dec, err := d.Decide(ctx, r)
		require.NoError(t, err)
		require.True(t, dec.Allow)
	}
	// The coordinator blocks this department from the resource.
	block := policy.Rule{PType: "p", Fields: []string{"5", "*", dept, "RES-*", "pull", "*", "*", "*", "*", "*", "*", "*", "deny", "COORDINATOR_SUSPENDED"}}
	require.NoError(t, casbinpolicy.ValidateRule(block))
	_, err := s.Policies().Apply(ctx, policy.Change{Add: []policy.Rule{block}, By: "coordinator", At: now}, 1)
	require.NoError(t, err)

	dec, err := replica.Decide(ctx, r)
	require.NoError(t, err)
	require.False(t, dec.Allow, "the replica checks the version on every decision here")
	require.Equal(t, "COORDINATOR_SUSPENDED", dec.Reason)
	require.Equal(t, int64(2), dec.Version)
	require.Contains(t, dec.Message, "COORDINATOR_SUSPENDED")

	dec, err = local.Decide(ctx, r)
	require.NoError(t, err)
	require.True(t, dec.Allow, "within CheckEvery the cached decision stands")
	local.Invalidate()
	dec, err = local.Decide(ctx, r)
	require.NoError(t, err)
	require.False(t, dec.Allow)

	other := r
	other.Department, other.RequirementConsumer = other.RequirementConsumer+"0", other.RequirementConsumer+"0"
	dec, err = local.Decide(ctx, other)
	require.NoError(t, err)
	require.True(t, dec.Allow, "the block names one department only")
}

func TestValidateRule(t *testing.T) {
	tests := map[string]struct {
		rule policy.Rule
		ok   bool
	}{
		"ok/default rules":       {casbinpolicy.DefaultRules()[0], true},
		"ok/role":                {policy.Rule{PType: "g", Fields: []string{"alice", "operator", dept}}, true},
		"fail/unknown role":      {policy.Rule{PType: "g", Fields: []string{"alice", "boss", dept}}, false},
		"fail/short p":           {policy.Rule{PType: "p", Fields: []string{"1", "*"}}, false},
		"fail/effect":            {policy.Rule{PType: "p", Fields: []string{"1", "*", "*", "*", "pull", "*", "*", "*", "*", "*", "*", "*", "maybe", "X"}}, false},
		"fail/priority":          {policy.Rule{PType: "p", Fields: []string{"x", "*", "*", "*", "pull", "*", "*", "*", "*", "*", "*", "*", "deny", "X"}}, false},
		"fail/comma in a field":  {policy.Rule{PType: "g", Fields: []string{"a,b", "operator", dept}}, false},
		"fail/unknown rule type": {policy.Rule{PType: "x", Fields: []string{"a"}}, false},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			err := casbinpolicy.ValidateRule(tc.rule)
			if tc.ok {
				require.NoError(t, err)
			} else {
				require.Error(t, err)
			}
		})
	}
}

func TestAdapterRefusesWrites(t *testing.T) {
	a := &casbinpolicy.Adapter{Src: openStore(t).Policies()}
	require.Error(t, a.AddPolicy("p", "p", []string{"x"}))
	require.Error(t, a.SavePolicy(nil))
	require.Error(t, a.RemovePolicy("p", "p", []string{"x"}))
	require.Error(t, a.RemoveFilteredPolicy("p", "p", 0, "x"))
}

// benchPolicy stores the default rules plus n-10 rules for other departments and
// resources (none of which match the benchmark's request) and operator roles.
func benchPolicy(b *testing.B, n int, global bool) *sqlstore.Store {
	ctx := context.Background()
	s := openStore(b)
	rules := casbinpolicy.DefaultRules()
	for i := 0; len(rules) < n; i++ {
		if i%2 == 0 {
			dom := fmt.Sprintf("1150000000%08d", i)
			if global {
				dom = "*" // applies to every department: evaluated on every uncached decision
			}
			rules = append(rules, policy.Rule{PType: "p", Fields: []string{fmt.Sprint(100 + i%800), "*", dom, fmt.Sprintf("RES-%d-*", i), "pull", "*", "*", "*", "*", "*", "*", "*", "deny", "COORDINATOR_SUSPENDED"}})
		} else {
			rules = append(rules, policy.Rule{PType: "g", Fields: []string{fmt.Sprintf("op-%d", i), "operator", fmt.Sprintf("1150000000%08d", i)}})
		}
	}
	_, err := s.Policies().Apply(ctx, policy.Change{Add: rules, By: "system", At: time.Now()}, 0)
	require.NoError(b, err)
	return s
}

// BenchmarkDecide measures one decision with a 10,000-rule policy, with the decision
// cache and without it (every decision evaluated by casbin): rules spread over
// departments (the decider loads only the asking department's share), and the worst case
// of 5,000 deny rules that all name every department (dom "*") ahead of the allow rule.
func BenchmarkDecide(b *testing.B) {
	for _, tc := range []struct {
		name   string
		global bool
		cached bool
	}{{"per-department", false, true}, {"per-department", false, false}, {"all-global", true, true}, {"all-global", true, false}} {
		s := benchPolicy(b, 10000, tc.global)
		cached := tc.cached
		b.Run(fmt.Sprintf("rules=10000/%s/cached=%v", tc.name, cached), func(b *testing.B) {
			d := casbinpolicy.New(s.Policies())
			d.CheckEvery = time.Hour
			d.NoCache = !cached
			r := baseRequest()
			ctx := context.Background()
			dec, err := d.Decide(ctx, r)
			require.NoError(b, err)
			require.True(b, dec.Allow, dec.Message)
			b.ResetTimer()
			for b.Loop() {
				if _, err := d.Decide(ctx, r); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func TestConcurrentDecisions(t *testing.T) {
	ctx := context.Background()
	s := openStore(t)
	require.NoError(t, casbinpolicy.Seed(ctx, s.Policies(), time.Now()))
	d := casbinpolicy.New(s.Policies())
	d.CheckEvery = 0
	d.NoCache = true
	done := make(chan error, 8)
	for i := range 8 {
		go func() {
			r := baseRequest()
			if i%2 == 1 {
				r.MatterCode = "M9"
			}
			for range 50 {
				dec, err := d.Decide(ctx, r)
				if err != nil {
					done <- err
					return
				}
				if dec.Allow != (i%2 == 0) {
					done <- fmt.Errorf("goroutine %d: got %s", i, dec.Reason)
					return
				}
				if i == 3 {
					d.Invalidate()
				}
			}
			done <- nil
		}()
	}
	for range 8 {
		require.NoError(t, <-done)
	}
}
