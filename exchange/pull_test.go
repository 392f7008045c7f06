package exchange_test

import (
	"context"
	"crypto/sha256"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gxhub/gxhub/exchange"
)

// The pull rules without a database: the Puller over in-memory ports. The same rules run
// against a real hub in cmd/gxhub/internal/hub (TestPullBypassAttempts).

const (
	applicant = "11010519491231002X"
	spouse    = "110105195001010012"
	stranger  = "110105196001010017"
)

var pullAt = time.Date(2026, 3, 2, 10, 0, 0, 0, cst)

type memPorts struct {
	reqs     map[string]*exchange.Requirement
	res      map[string]*exchange.Resource
	recs     map[string]*exchange.Record
	cases    map[string]*exchange.Case
	matters  map[string]*exchange.Matter
	policy   func(exchange.PullFacts) exchange.PolicyVerdict
	asked    int // policy calls
	audited  []exchange.PullAudit
	auditErr error
}

func notFound(what string) error {
	return exchange.Errorf(exchange.KindNotFound, "NOT_FOUND", "%s", what)
}

type reqPort struct{ *memPorts }

func (m reqPort) Get(_ context.Context, id string) (*exchange.Requirement, error) {
	if r, ok := m.reqs[id]; ok {
		return r, nil
	}
	return nil, notFound(id)
}

type resPort struct{ *memPorts }

func (m resPort) Get(_ context.Context, code string, _ int) (*exchange.Resource, error) {
	if r, ok := m.res[code]; ok {
		return r, nil
	}
	return nil, notFound(code)
}

type recPort struct{ *memPorts }

func (m recPort) Latest(_ context.Context, res, subject string) (*exchange.Record, error) {
	if r, ok := m.recs[res+"/"+subject]; ok {
		return r, nil
	}
	return nil, notFound(subject)
}

type casePort struct{ *memPorts }

func (m casePort) Get(_ context.Context, n string) (*exchange.Case, error) {
	if c, ok := m.cases[n]; ok {
		return c, nil
	}
	return nil, notFound(n)
}

type matterPort struct{ *memPorts }

func (m matterPort) Get(_ context.Context, code string) (*exchange.Matter, error) {
	if mt, ok := m.matters[code]; ok {
		return mt, nil
	}
	return nil, notFound(code)
}

func (m *memPorts) FreshnessOf(_ context.Context, r *exchange.Resource, now time.Time) exchange.Freshness {
	return exchange.Freshness{Resource: r.Code, LastUpdate: now.Add(-time.Hour), WorkingAge: time.Hour, Limit: 1}
}

func (m *memPorts) Restrict(_ context.Context, f exchange.PullFacts) (exchange.PolicyVerdict, error) {
	m.asked++
	return m.policy(f), nil
}

// SignPull stands in for the hub's SM2 key: a digest over a canonical rendering.
func (m *memPorts) SignPull(_ context.Context, r *exchange.PullResult) (exchange.SignedPull, error) {
	payload := []byte(fmt.Sprintf("%+v", *r))
	d := sha256.Sum256(payload)
	return exchange.SignedPull{Payload: payload, Signature: []byte("sig"), Digest: d[:]}, nil
}

// Vouch stands in for the check against the publish record (exchange/server's voucher, tested
// on a real hub): a record whose Seal has no salt was never sealed, so it is refused.
func (m *memPorts) Vouch(_ context.Context, r *exchange.Record, _ []string) (*exchange.Vouch, error) {
	if r.Batch == "" {
		return nil, exchange.Errorf(exchange.KindDataLoss, exchange.ReasonDataIntegrity, "record %s has no batch", r.Subject)
	}
	return &exchange.Vouch{PublishRecord: 1}, nil
}

func (m *memPorts) AuditPull(_ context.Context, a exchange.PullAudit) ([]uint64, error) {
	if m.auditErr != nil {
		return nil, m.auditErr
	}
	m.audited = append(m.audited, a)
	n := max(len(a.Subjects), 1)
	refs := make([]uint64, n)
	for i := range refs {
		refs[i] = uint64(len(m.audited)*100 + i)
	}
	return refs, nil
}

var (
	yubei  = &exchange.Department{Code: "YUBEI", Region: "500112", Roles: []exchange.Role{exchange.RoleConsumer}}
	fund   = &exchange.Department{Code: "FUND", Region: "500000", Roles: []exchange.Role{exchange.RoleConsumer}}
	police = &exchange.Department{Code: "POLICE", Region: "500000", Roles: []exchange.Role{exchange.RoleProvider}}
)

func allowAll(f exchange.PullFacts) exchange.PolicyVerdict {
	return exchange.PolicyVerdict{Allow: true, Reason: exchange.ReasonGranted, Message: "wildcard allow", Version: 7}
}

// world: 渝北 holds granted RQ-YB for M-OK on 500000-GA-0001 (name, address); 公积金 holds
// RQ-FUND; case YB-1 of 渝北 for M-OK with a spouse; YB-CLOSED closed; FUND-1 of 公积金.
func world() *memPorts {
	res := resource(exchange.ShareConditional, true)
	res.Provider = police.Code
	granted := func(id, consumer string) *exchange.Requirement {
		return &exchange.Requirement{ID: id, Consumer: consumer, Provider: police.Code, Resource: res.Code, Items: []string{"name", "address"},
			MatterCodes: []string{"M-OK"}, ScopeRegion: "500000", State: exchange.ReqGranted,
			Decisions: []exchange.Decision{{Seq: 1, Action: exchange.ActSubmit}, {Seq: 2, Action: exchange.ActGrant}}}
	}
	m := &memPorts{
		reqs:    map[string]*exchange.Requirement{"RQ-YB": granted("RQ-YB", yubei.Code), "RQ-FUND": granted("RQ-FUND", fund.Code)},
		res:     map[string]*exchange.Resource{res.Code: res},
		recs:    map[string]*exchange.Record{},
		matters: map[string]*exchange.Matter{"M-OK": {Code: "M-OK", TimeLimit: 5}, "M-OTHER": {Code: "M-OTHER", TimeLimit: 5}},
		cases: map[string]*exchange.Case{
			"YB-1":      {Number: "YB-1", Matter: "M-OK", Department: yubei.Code, Applicant: applicant, Parties: []exchange.Party{{Subject: spouse}}, Region: "500112", State: exchange.CaseOpen},
			"YB-CLOSED": {Number: "YB-CLOSED", Matter: "M-OK", Department: yubei.Code, Applicant: applicant, Region: "500112", State: exchange.CaseClosed},
			"YB-OTHER":  {Number: "YB-OTHER", Matter: "M-OTHER", Department: yubei.Code, Applicant: applicant, Region: "500112", State: exchange.CaseOpen},
			"FUND-1":    {Number: "FUND-1", Matter: "M-OK", Department: fund.Code, Applicant: applicant, Region: "500000", State: exchange.CaseOpen},
		},
		policy: allowAll,
	}
	for _, s := range []string{applicant, spouse, stranger} {
		m.recs[res.Code+"/"+s] = &exchange.Record{Resource: res.Code, Subject: s, Version: 3, PublishedAt: pullAt.Add(-time.Hour), Batch: "b1",
			Fields: map[string]string{"name": "姓名" + s[14:], "address": "住址", "photo": "secret"}}
	}
	return m
}

func (m *memPorts) puller() *exchange.Puller {
	return &exchange.Puller{Requirements: reqPort{m}, Catalog: resPort{m}, Records: recPort{m}, Cases: casePort{m}, Matters: matterPort{m},
		Freshness: m, Policy: m, Signer: m, Voucher: m, Audit: m, Now: func() time.Time { return pullAt }}
}

func okPull() exchange.PullInput {
	return exchange.PullInput{Caller: yubei, RequirementID: "RQ-YB", MatterCode: "M-OK", CaseNumber: "YB-1", Subjects: []string{applicant}}
}

func TestPullGranted(t *testing.T) {
	m := world()
	in := okPull()
	in.Subjects = []string{applicant, strings.ToLower(spouse)}
	out, err := m.puller().Pull(context.Background(), in)
	require.NoError(t, err)
	r := out.Result
	require.Equal(t, []string{"name", "address"}, r.Items)
	require.Len(t, r.Records, 2)
	for _, rec := range r.Records {
		require.NotContains(t, rec.Fields, "photo", "an item the requirement did not approve is never returned")
	}
	require.Equal(t, police.Code, r.Provider)
	require.Equal(t, int64(7), r.PolicyVersion)
	require.Len(t, m.audited, 1)
	a := m.audited[0]
	require.True(t, a.Granted)
	require.Equal(t, out.Signed.Digest, a.Digest, "the audit record binds the signed payload")
	require.Equal(t, []string{applicant, spouse}, a.Subjects)
	require.Equal(t, "YB-1", a.Case)
	require.Len(t, out.AuditRefs, 2)
}

// TestPullInvariantsHoldWhateverThePolicySays: every invariant refuses even when the
// policy allows everything (a wildcard allow rule), the refusal carries its stable reason
// and is audited, and the policy is never asked.
func TestPullInvariantsHoldWhateverThePolicySays(t *testing.T) {
	for _, tc := range []struct {
		name   string
		mut    func(*memPorts, *exchange.PullInput)
		reason string
	}{
		{"consumer role", func(_ *memPorts, in *exchange.PullInput) { in.Caller = police }, "ROLE_REQUIRED"},
		{"no case number", func(_ *memPorts, in *exchange.PullInput) { in.CaseNumber = " " }, exchange.ReasonCaseNumberMissing},
		{"no matter", func(_ *memPorts, in *exchange.PullInput) { in.MatterCode = "" }, "MATTER_CODE_MISSING"},
		{"no subjects", func(_ *memPorts, in *exchange.PullInput) { in.Subjects = nil }, "SUBJECTS_INVALID"},
		{"unknown requirement", func(_ *memPorts, in *exchange.PullInput) { in.RequirementID = "RQ-NONE" }, "REQUIREMENT_NOT_FOUND"},
		{"another department's requirement", func(_ *memPorts, in *exchange.PullInput) { in.RequirementID = "RQ-FUND" }, exchange.ReasonRequirementForeign},
		{"not shared", func(m *memPorts, _ *exchange.PullInput) {
			r := m.res["500000-GA-0001"]
			r.ShareType, r.LegalBasis = exchange.ShareNotShared, secrecyLaw
		}, exchange.ReasonNotShared},
		{"withdrawn resource", func(m *memPorts, _ *exchange.PullInput) { m.res["500000-GA-0001"].Withdrawn = true }, exchange.ReasonResourceWithdrawn},
		{"revoked", func(m *memPorts, _ *exchange.PullInput) { m.reqs["RQ-YB"].State = exchange.ReqRevoked }, exchange.ReasonRequirementRevoked},
		{"not granted", func(m *memPorts, _ *exchange.PullInput) { m.reqs["RQ-YB"].State = exchange.ReqAwaitingProvider }, exchange.ReasonRequirementNotGrant},
		{"unregistered matter", func(_ *memPorts, in *exchange.PullInput) { in.MatterCode = "999-NOT-COVERED" }, exchange.ReasonMatterUnknown},
		{"uncovered matter", func(_ *memPorts, in *exchange.PullInput) { in.MatterCode, in.CaseNumber = "M-OTHER", "YB-OTHER" }, exchange.ReasonPurposeNotCovered},
		{"unknown case", func(_ *memPorts, in *exchange.PullInput) { in.CaseNumber = "z" }, exchange.ReasonCaseNotFound},
		{"another department's case", func(_ *memPorts, in *exchange.PullInput) { in.CaseNumber = "FUND-1" }, exchange.ReasonCaseForeign},
		{"case of another matter", func(m *memPorts, in *exchange.PullInput) {
			m.reqs["RQ-YB"].MatterCodes = []string{"M-OK", "M-OTHER"}
			in.CaseNumber = "YB-OTHER"
		}, exchange.ReasonCaseMatterMismatch},
		{"closed case", func(_ *memPorts, in *exchange.PullInput) { in.CaseNumber = "YB-CLOSED" }, exchange.ReasonCaseClosed},
		{"unapproved item", func(_ *memPorts, in *exchange.PullInput) { in.Items = []string{"name", "photo"} }, exchange.ReasonDataItemNotApproved},
		{"item removed from the catalogue", func(m *memPorts, in *exchange.PullInput) {
			r := m.res["500000-GA-0001"]
			r.Items = r.Items[:1]
			in.Items = []string{"address"}
		}, exchange.ReasonDataItemWithdrawn},
		{"region named outside the case", func(_ *memPorts, in *exchange.PullInput) { in.ScopeRegion = "510000" }, exchange.ReasonScopeMismatch},
		{"case region outside the grant", func(m *memPorts, _ *exchange.PullInput) { m.reqs["RQ-YB"].ScopeRegion = "500200" }, exchange.ReasonScopeMismatch},
		{"invalid subject", func(_ *memPorts, in *exchange.PullInput) { in.Subjects = []string{"110105194912310021"} }, "SUBJECT_INVALID"},
		{"subject not in the case", func(_ *memPorts, in *exchange.PullInput) { in.Subjects = []string{applicant, stranger} }, exchange.ReasonCaseSubjectMismatch},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := world()
			in := okPull()
			tc.mut(m, &in)
			_, err := m.puller().Pull(context.Background(), in)
			require.Equal(t, tc.reason, reason(t, err), "%v", err)
			require.Zero(t, m.asked, "the policy is not asked when an invariant refuses")
			require.Len(t, m.audited, 1, "the refusal is audited")
			a := m.audited[0]
			require.False(t, a.Granted)
			require.True(t, strings.HasPrefix(a.Reason, tc.reason+": "), a.Reason)
			require.Nil(t, a.Digest)
			require.Equal(t, in.Caller.Code, a.Department)
		})
	}
}

func TestPullPolicyOnlyRestricts(t *testing.T) {
	m := world()
	m.policy = func(f exchange.PullFacts) exchange.PolicyVerdict {
		if f.Operator == "clerk-9" {
			return exchange.PolicyVerdict{Reason: "ROLE_NOT_ALLOWED", Message: "clerk-9 holds no operator role"}
		}
		return allowAll(f)
	}
	in := okPull()
	in.Operator = "clerk-9"
	_, err := m.puller().Pull(context.Background(), in)
	require.Equal(t, "ROLE_NOT_ALLOWED", reason(t, err))
	require.Equal(t, 1, m.asked)
	require.Len(t, m.audited, 1)
	require.Equal(t, "clerk-9", m.audited[0].Operator)

	t.Run("the policy sees the facts that passed the invariants", func(t *testing.T) {
		m := world()
		var seen exchange.PullFacts
		m.policy = func(f exchange.PullFacts) exchange.PolicyVerdict { seen = f; return allowAll(f) }
		_, err := m.puller().Pull(context.Background(), okPull())
		require.NoError(t, err)
		require.Equal(t, "YB-1", seen.Case.Number)
		require.Equal(t, "M-OK", seen.Matter.Code)
		require.Equal(t, []string{"name", "address"}, seen.Items)
	})
}

func TestPullNotSharedOrderedByCoordinator(t *testing.T) {
	m := world()
	r := m.res["500000-GA-0001"]
	r.ShareType, r.LegalBasis = exchange.ShareNotShared, secrecyLaw
	rq := m.reqs["RQ-YB"]
	_, err := m.puller().Pull(context.Background(), okPull())
	require.Equal(t, exchange.ReasonNotShared, reason(t, err))
	require.Contains(t, err.Error(), "《中华人民共和国保守国家秘密法》第二十八条（法律）")
	rq.Decisions = append(rq.Decisions, exchange.Decision{Seq: 3, Action: exchange.ActOrderShare})
	_, err = m.puller().Pull(context.Background(), okPull())
	require.NoError(t, err)
}

func TestPullAuditFailureReturnsNothing(t *testing.T) {
	m := world()
	m.auditErr = fmt.Errorf("disk full")
	out, err := m.puller().Pull(context.Background(), okPull())
	require.Nil(t, out)
	require.Equal(t, "AUDIT_UNAVAILABLE", reason(t, err))
	_, err = m.puller().Pull(context.Background(), exchange.PullInput{Caller: yubei})
	require.Equal(t, "AUDIT_UNAVAILABLE", reason(t, err), "a refusal that cannot be audited is not answered either")
}

// TestPullRefusesUnvouchedRecords: a record the voucher does not vouch for (here: one that
// names no batch) is not served; the pull is refused with DATA_INTEGRITY and audited, and
// with no voucher configured nothing is served at all.
func TestPullRefusesUnvouchedRecords(t *testing.T) {
	m := world()
	for k, r := range m.recs {
		if strings.HasSuffix(k, "/"+applicant) {
			r.Batch = ""
		}
	}
	out, err := m.puller().Pull(context.Background(), okPull())
	require.Nil(t, out)
	require.Equal(t, exchange.ReasonDataIntegrity, reason(t, err))
	require.Equal(t, exchange.KindDataLoss, exchange.KindOf(err))
	require.Len(t, m.audited, 1)
	require.False(t, m.audited[0].Granted)
	require.True(t, strings.HasPrefix(m.audited[0].Reason, exchange.ReasonDataIntegrity+":"), m.audited[0].Reason)

	m = world()
	p := m.puller()
	p.Voucher = nil
	out, err = p.Pull(context.Background(), okPull())
	require.Nil(t, out)
	require.Equal(t, "RECORD_VOUCHER_MISSING", reason(t, err))
}

func TestPullDefaultsToItemsStillCatalogued(t *testing.T) {
	m := world()
	r := m.res["500000-GA-0001"]
	r.Items = []exchange.DataItem{r.Items[0]} // address removed by a decided change
	out, err := m.puller().Pull(context.Background(), okPull())
	require.NoError(t, err)
	require.Equal(t, []string{"name"}, out.Result.Items)
	require.Equal(t, map[string]string{"name": "姓名002X"}, out.Result.Records[0].Fields)
}

func TestPullNotFoundAndDeleted(t *testing.T) {
	m := world()
	delete(m.recs, "500000-GA-0001/"+spouse)
	m.recs["500000-GA-0001/"+applicant].Deleted = true
	in := okPull()
	in.Subjects = []string{applicant, spouse}
	out, err := m.puller().Pull(context.Background(), in)
	require.NoError(t, err)
	require.Empty(t, out.Result.Records)
	require.Equal(t, []string{applicant, spouse}, out.Result.NotFound)
}
