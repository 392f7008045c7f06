package exchange_test

import (
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gxhub/gxhub/exchange"
	"github.com/gxhub/gxhub/exchange/calendar"
)

var cst = calendar.Location()

func dept(code string, roles ...exchange.Role) exchange.Actor {
	return exchange.Actor{
		Department: &exchange.Department{Code: code, Roles: roles},
		Evidence:   "GXHUB-SM2 header-of-" + code, BodyDigest: "digest-of-" + code,
	}
}

var (
	consumer    = dept("CONSUMER", exchange.RoleConsumer)
	provider    = dept("PROVIDER", exchange.RoleProvider)
	coordinator = dept("COORD", exchange.RoleCoordinator)
	bystander   = dept("OTHER", exchange.RoleConsumer, exchange.RoleProvider)
)

func resource(share exchange.ShareType, published bool) *exchange.Resource {
	r := &exchange.Resource{
		Code: "500000-GA-0001", Name: "户籍人口信息", Provider: provider.Department.Code,
		Items: []exchange.DataItem{
			{Name: "name", Title: "姓名", Type: "string", Sensitivity: exchange.SensitivityPersonal},
			{Name: "address", Title: "住址", Type: "string", Sensitivity: exchange.SensitivityPersonal},
			{Name: "photo", Title: "照片", Type: "string", Sensitivity: exchange.SensitivitySensitivePersonal},
		},
		SubjectKind: exchange.SubjectIDNumber, ShareType: share, UpdateCycle: exchange.CycleDaily,
		ProvisionMethod: exchange.ProvisionPullAPI, ScopeRegion: "500000", Published: published,
	}
	switch share {
	case exchange.ShareConditional:
		r.Condition = "依法履职需要"
	case exchange.ShareNotShared:
		r.LegalBasis = secrecyLaw
	}
	return r
}

var (
	secrecyLaw  = exchange.LegalBasis{Kind: exchange.BasisLaw, Title: "中华人民共和国保守国家秘密法", Article: "第二十八条"}
	privacyLaw  = exchange.LegalBasis{Kind: exchange.BasisLaw, Title: "中华人民共和国个人信息保护法", Article: "第十三条"}
	someRegText = exchange.LegalBasis{Kind: exchange.BasisAdministrativeRegulation, Title: "某条例", Article: "第一条"}
)

func newRequirement() *exchange.Requirement {
	return &exchange.Requirement{
		ID: "RQ-1", Consumer: consumer.Department.Code, Resource: "500000-GA-0001",
		Items: []string{"name", "address"}, MatterCodes: []string{"M-001"}, LegalDuty: "《户口登记条例》",
	}
}

func workflow() *exchange.Workflow {
	return &exchange.Workflow{Calendar: calendar.Default(), Deadlines: exchange.DefaultDeadlines()}
}

func reason(t *testing.T, err error) string {
	t.Helper()
	var e *exchange.Error
	require.True(t, errors.As(err, &e), "want *exchange.Error, got %v", err)
	return e.Reason
}

// filed returns a requirement filed at at against res.
func filed(t *testing.T, res *exchange.Resource, at time.Time) *exchange.Requirement {
	t.Helper()
	r := newRequirement()
	require.NoError(t, workflow().File(r, res, consumer, at))
	return r
}

func TestFileDeadlinesAcrossSpringFestival(t *testing.T) {
	at := time.Date(2026, 2, 13, 16, 30, 0, 0, cst) // Friday before the Spring Festival
	r := filed(t, resource(exchange.ShareConditional, true), at)
	require.Equal(t, exchange.ReqUnderReview, r.State)
	require.Equal(t, time.Date(2026, 2, 25, 0, 0, 0, 0, cst), r.Deadline.In(cst))
	require.Equal(t, provider.Department.Code, r.Provider, "the provider is taken from the resource")
	require.Equal(t, "500000", r.ScopeRegion)
	require.Equal(t, exchange.CycleDaily, r.UpdateCycle, "defaults to what the resource offers")
	require.Equal(t, exchange.ProvisionPullAPI, r.ProvisionMethod)
	require.Len(t, r.Decisions, 1)
	require.Equal(t, exchange.Decision{Seq: 1, Action: exchange.ActSubmit, By: "CONSUMER", At: at.UTC(),
		Evidence: consumer.Evidence, BodyDigest: consumer.BodyDigest}, r.Decisions[0])

	for _, tc := range []struct {
		name      string
		published bool
		want      time.Time
	}{
		// Accepted Tuesday 02-24: 5 working days are 02-25..02-27, 02-28 (make-up Saturday), 03-02.
		{"published: 5 working days", true, time.Date(2026, 3, 3, 0, 0, 0, 0, cst)},
		// 10 working days: ... 03-02, 03-03..03-06, 03-09 → ends 03-09.
		{"not yet published: 10 working days", false, time.Date(2026, 3, 10, 0, 0, 0, 0, cst)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := resource(exchange.ShareConditional, tc.published)
			r := filed(t, res, at)
			from, d, err := workflow().Decide(r, res, coordinator, exchange.DecisionRequest{Action: exchange.ActComplete}, time.Date(2026, 2, 24, 9, 0, 0, 0, cst))
			require.NoError(t, err)
			require.Equal(t, exchange.ReqUnderReview, from)
			require.Equal(t, 2, d.Seq)
			require.Equal(t, "COORD", d.By)
			require.Equal(t, coordinator.Evidence, d.Evidence)
			require.Equal(t, exchange.ReqAwaitingProvider, r.State)
			require.Equal(t, tc.want, r.Deadline.In(cst))
		})
	}
}

func TestFileRouting(t *testing.T) {
	at := time.Date(2026, 3, 2, 10, 0, 0, 0, cst)
	t.Run("unconditional: granted at once, provider cannot refuse", func(t *testing.T) {
		res := resource(exchange.ShareUnconditional, true)
		r := filed(t, res, at)
		require.Equal(t, exchange.ReqGranted, r.State)
		require.True(t, r.Grants())
		require.True(t, r.Deadline.IsZero())
		require.Len(t, r.Decisions, 2)
		require.Equal(t, exchange.ActAutoGrant, r.Decisions[1].Action)
		require.Equal(t, exchange.SystemActor, r.Decisions[1].By)
		require.Empty(t, r.Decisions[1].Evidence)
		before := *r
		_, _, err := workflow().Decide(r, res, provider, exchange.DecisionRequest{Action: exchange.ActRefuse, LegalBasis: someRegText}, at)
		require.Equal(t, "UNCONDITIONAL_REFUSAL_FORBIDDEN", reason(t, err))
		require.Equal(t, before, *r)
	})
	t.Run("not shared: straight to the coordinator", func(t *testing.T) {
		res := resource(exchange.ShareNotShared, true)
		r := filed(t, res, at)
		require.Equal(t, exchange.ReqEscalated, r.State)
		require.Equal(t, exchange.ActEscalate, r.Decisions[1].Action)
		require.Contains(t, r.Decisions[1].Comment, res.LegalBasis.Citation())
		_, _, err := workflow().Decide(r, res, provider, exchange.DecisionRequest{Action: exchange.ActGrant}, at)
		require.Equal(t, "COORDINATOR_DECIDES", reason(t, err))
		_, _, err = workflow().Decide(r, res, coordinator, exchange.DecisionRequest{Action: exchange.ActConfirmRefuse}, at)
		require.Equal(t, "LEGAL_BASIS_REQUIRED", reason(t, err))
		require.Equal(t, exchange.ReqEscalated, r.State)
		_, d, err := workflow().Decide(r, res, coordinator, exchange.DecisionRequest{Action: exchange.ActConfirmRefuse, LegalBasis: res.LegalBasis}, at)
		require.NoError(t, err)
		require.Equal(t, exchange.ReqRefused, r.State)
		require.Equal(t, res.LegalBasis, d.LegalBasis)
	})
	for _, tc := range []struct {
		name   string
		mutate func(*exchange.Requirement)
		by     exchange.Actor
		reason string
	}{
		{"unknown item", func(r *exchange.Requirement) { r.Items = []string{"name", "salary"} }, consumer, "DATA_ITEM_UNKNOWN"},
		{"no items", func(r *exchange.Requirement) { r.Items = nil }, consumer, "DATA_ITEMS_MISSING"},
		{"duplicate item", func(r *exchange.Requirement) { r.Items = []string{"name", "name"} }, consumer, "DATA_ITEM_DUPLICATE"},
		{"no matters", func(r *exchange.Requirement) { r.MatterCodes = nil }, consumer, "MATTER_CODES_MISSING"},
		{"no legal duty", func(r *exchange.Requirement) { r.LegalDuty = " " }, consumer, "LEGAL_DUTY_MISSING"},
		{"bad update cycle", func(r *exchange.Requirement) { r.UpdateCycle = "hourly" }, consumer, "UPDATE_CYCLE_INVALID"},
		{"bad provision method", func(r *exchange.Requirement) { r.ProvisionMethod = "fax" }, consumer, "PROVISION_METHOD_INVALID"},
		{"wrong provider", func(r *exchange.Requirement) { r.Provider = "OTHER" }, consumer, "RESOURCE_PROVIDER_MISMATCH"},
		{"own resource", func(r *exchange.Requirement) { r.Consumer = "PROVIDER" }, provider, "REQUIREMENT_OWN_RESOURCE"},
		{"filed for someone else", func(*exchange.Requirement) {}, bystander, "NOT_REQUIREMENT_CONSUMER"},
	} {
		t.Run("fail/"+tc.name, func(t *testing.T) {
			r := newRequirement()
			tc.mutate(r)
			err := workflow().File(r, resource(exchange.ShareConditional, true), tc.by, at)
			require.Equal(t, tc.reason, reason(t, err))
		})
	}
	t.Run("fail/year not announced", func(t *testing.T) {
		years := calendar.Default().Years()
		last := years[len(years)-1]
		r := newRequirement()
		err := workflow().File(r, resource(exchange.ShareConditional, true), consumer, time.Date(last, 12, 31, 10, 0, 0, 0, cst))
		require.Equal(t, "CALENDAR_YEAR_NOT_ANNOUNCED", reason(t, err))
		require.ErrorIs(t, err, calendar.ErrYearNotAnnounced)
	})
}

func TestDecideWhoMayDecide(t *testing.T) {
	at := time.Date(2026, 3, 2, 10, 0, 0, 0, cst)
	cond := resource(exchange.ShareConditional, true)
	underReview := func(t *testing.T) *exchange.Requirement { return filed(t, cond, at) }
	awaiting := func(t *testing.T) *exchange.Requirement {
		r := underReview(t)
		_, _, err := workflow().Decide(r, cond, coordinator, exchange.DecisionRequest{Action: exchange.ActComplete}, at)
		require.NoError(t, err)
		return r
	}
	granted := func(t *testing.T) *exchange.Requirement {
		r := awaiting(t)
		_, _, err := workflow().Decide(r, cond, provider, exchange.DecisionRequest{Action: exchange.ActGrant}, at)
		require.NoError(t, err)
		return r
	}
	for _, tc := range []struct {
		name   string
		start  func(*testing.T) *exchange.Requirement
		by     exchange.Actor
		req    exchange.DecisionRequest
		reason string // "" = allowed
		state  exchange.RequirementState
	}{
		{"provider cannot review", underReview, provider, exchange.DecisionRequest{Action: exchange.ActComplete}, "ROLE_REQUIRED", ""},
		{"consumer cannot review", underReview, consumer, exchange.DecisionRequest{Action: exchange.ActComplete}, "ROLE_REQUIRED", ""},
		{"coordinator reviews", underReview, coordinator, exchange.DecisionRequest{Action: exchange.ActComplete}, "", exchange.ReqAwaitingProvider},
		{"return needs what is missing", underReview, coordinator, exchange.DecisionRequest{Action: exchange.ActReturn}, "RETURN_REASON_REQUIRED", ""},
		{"return", underReview, coordinator, exchange.DecisionRequest{Action: exchange.ActReturn, Comment: "缺少法定职责依据"}, "", exchange.ReqReturned},
		{"provider cannot answer before review", underReview, provider, exchange.DecisionRequest{Action: exchange.ActGrant}, "REQUIREMENT_STATE_INVALID", ""},
		{"consumer cannot answer", awaiting, consumer, exchange.DecisionRequest{Action: exchange.ActGrant}, "NOT_REQUIREMENT_PROVIDER", ""},
		{"another provider cannot answer", awaiting, bystander, exchange.DecisionRequest{Action: exchange.ActGrant}, "NOT_REQUIREMENT_PROVIDER", ""},
		{"coordinator cannot answer for the provider", awaiting, coordinator, exchange.DecisionRequest{Action: exchange.ActGrant}, "NOT_REQUIREMENT_PROVIDER", ""},
		{"refusal without legal basis", awaiting, provider, exchange.DecisionRequest{Action: exchange.ActRefuse, Comment: "不想给"}, "LEGAL_BASIS_REQUIRED", ""},
		{"refusal with legal basis", awaiting, provider, exchange.DecisionRequest{Action: exchange.ActRefuse, LegalBasis: privacyLaw}, "", exchange.ReqRefused},
		{"provider grants", awaiting, provider, exchange.DecisionRequest{Action: exchange.ActGrant}, "", exchange.ReqGranted},
		{"order share needs escalation", awaiting, coordinator, exchange.DecisionRequest{Action: exchange.ActOrderShare}, "REQUIREMENT_STATE_INVALID", ""},
		{"provider cannot order", awaiting, provider, exchange.DecisionRequest{Action: exchange.ActOrderShare}, "ROLE_REQUIRED", ""},
		{"provider cannot revoke", granted, provider, exchange.DecisionRequest{Action: exchange.ActRevoke}, "NOT_REQUIREMENT_CONSUMER", ""},
		{"consumer revokes", granted, consumer, exchange.DecisionRequest{Action: exchange.ActRevoke}, "", exchange.ReqRevoked},
		{"coordinator revokes", granted, coordinator, exchange.DecisionRequest{Action: exchange.ActRevoke}, "", exchange.ReqRevoked},
		{"revoke needs a grant", awaiting, consumer, exchange.DecisionRequest{Action: exchange.ActRevoke}, "REQUIREMENT_STATE_INVALID", ""},
		{"consumer withdraws", awaiting, consumer, exchange.DecisionRequest{Action: exchange.ActWithdraw}, "", exchange.ReqWithdrawn},
		{"provider cannot withdraw", awaiting, provider, exchange.DecisionRequest{Action: exchange.ActWithdraw}, "NOT_REQUIREMENT_CONSUMER", ""},
		{"system actions are not requested", awaiting, coordinator, exchange.DecisionRequest{Action: exchange.ActEscalate}, "ACTION_SYSTEM_ONLY", ""},
		{"unknown action", awaiting, coordinator, exchange.DecisionRequest{Action: "approve"}, "ACTION_INVALID", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := tc.start(t)
			before := *r
			from, d, err := workflow().Decide(r, cond, tc.by, tc.req, at.Add(time.Hour))
			if tc.reason != "" {
				require.Equal(t, tc.reason, reason(t, err))
				require.Equal(t, before, *r, "a refused decision changes nothing")
				return
			}
			require.NoError(t, err)
			require.Equal(t, before.State, from)
			require.Equal(t, tc.state, r.State)
			require.Equal(t, len(before.Decisions)+1, d.Seq)
			require.Equal(t, d, r.Decisions[len(r.Decisions)-1])
			require.Equal(t, tc.by.Department.Code, d.By)
			require.Equal(t, tc.by.Evidence, d.Evidence)
			require.Equal(t, tc.by.BodyDigest, d.BodyDigest)
			require.Len(t, before.Decisions, len(r.Decisions)-1, "the earlier requirement value is not aliased")
		})
	}
}

func TestResubmitAfterReturn(t *testing.T) {
	at := time.Date(2026, 3, 2, 10, 0, 0, 0, cst)
	res := resource(exchange.ShareConditional, true)
	r := filed(t, res, at)
	_, _, err := workflow().Decide(r, res, coordinator, exchange.DecisionRequest{Action: exchange.ActReturn, Comment: "事项编码不全"}, at)
	require.NoError(t, err)
	_, _, err = workflow().Decide(r, res, consumer, exchange.DecisionRequest{Action: exchange.ActSubmit, Items: []string{"salary"}}, at)
	require.Equal(t, "DATA_ITEM_UNKNOWN", reason(t, err))
	require.Equal(t, exchange.ReqReturned, r.State)
	require.Equal(t, []string{"name", "address"}, r.Items)
	_, _, err = workflow().Decide(r, res, consumer, exchange.DecisionRequest{Action: exchange.ActSubmit, MatterCodes: []string{"M-001", "M-002"}, Items: []string{"name"}},
		time.Date(2026, 3, 6, 10, 0, 0, 0, cst))
	require.NoError(t, err)
	require.Equal(t, exchange.ReqUnderReview, r.State)
	require.Equal(t, []string{"name"}, r.Items)
	require.Equal(t, []string{"M-001", "M-002"}, r.MatterCodes)
	require.Equal(t, time.Date(2026, 3, 11, 0, 0, 0, 0, cst), r.Deadline.In(cst), "Friday + 2 working days = end of Tuesday")
}

func TestEscalationThenOrder(t *testing.T) {
	filedAt := time.Date(2026, 2, 13, 16, 30, 0, 0, cst)
	res := resource(exchange.ShareConditional, true)
	w := workflow()
	r := filed(t, res, filedAt)
	deadline := r.Deadline
	_, _, ok := w.Escalate(r, deadline.Add(-time.Nanosecond))
	require.False(t, ok, "in time until the deadline")
	require.Equal(t, exchange.ReqUnderReview, r.State)

	from, d, ok := w.Escalate(r, deadline)
	require.True(t, ok)
	require.Equal(t, exchange.ReqUnderReview, from)
	require.Equal(t, exchange.ReqEscalated, r.State)
	require.Equal(t, exchange.SystemActor, d.By)
	require.Equal(t, 2, d.Seq)
	require.Contains(t, d.Comment, "2026-02-25 00:00")
	_, _, ok = w.Escalate(r, deadline.Add(time.Hour))
	require.False(t, ok, "escalated once")

	_, _, err := w.Decide(r, res, provider, exchange.DecisionRequest{Action: exchange.ActOrderShare}, deadline)
	require.Equal(t, "ROLE_REQUIRED", reason(t, err))
	_, d, err = w.Decide(r, res, coordinator, exchange.DecisionRequest{Action: exchange.ActOrderShare, Comment: "依职责应当共享"}, deadline.Add(time.Hour))
	require.NoError(t, err)
	require.Equal(t, exchange.ReqGranted, r.State)
	require.Equal(t, exchange.ActOrderShare, d.Action)
	require.Equal(t, 3, d.Seq)

	t.Run("provider silent past the answer deadline", func(t *testing.T) {
		r := filed(t, res, filedAt)
		_, _, err := w.Decide(r, res, coordinator, exchange.DecisionRequest{Action: exchange.ActComplete}, time.Date(2026, 2, 24, 9, 0, 0, 0, cst))
		require.NoError(t, err)
		_, d, ok := w.Escalate(r, r.Deadline)
		require.True(t, ok)
		require.Contains(t, d.Comment, "provider PROVIDER did not answer")
		// A late provider may still grant.
		_, _, err = w.Decide(r, res, provider, exchange.DecisionRequest{Action: exchange.ActGrant}, r.UpdatedAt)
		require.NoError(t, err)
		require.Equal(t, exchange.ReqGranted, r.State)
	})
}

func TestDeadlinesValidate(t *testing.T) {
	require.NoError(t, exchange.DefaultDeadlines().Validate())
	for _, d := range []exchange.Deadlines{{0, 5, 10}, {2, 61, 61}, {2, 5, 4}, {2, -1, 10}} {
		require.ErrorIs(t, d.Validate(), exchange.ErrInvalid, "%+v", d)
	}
}
