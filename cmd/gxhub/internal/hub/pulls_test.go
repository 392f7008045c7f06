package hub_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"

	"github.com/gxhub/gxhub/cmd/gxhub/internal/config"
	"github.com/gxhub/gxhub/cmd/gxhub/internal/hub"
	"github.com/gxhub/gxhub/exchange"
	"github.com/gxhub/gxhub/exchange/calendar"
	"github.com/gxhub/gxhub/exchange/server"
	"github.com/gxhub/gxhub/exchange/store/postgres/pgtest"
	"github.com/gxhub/gxhub/exchange/store/storetest"
	"github.com/gxhub/gxhub/ledger"
	"github.com/gxhub/gxhub/policy"
	"github.com/gxhub/gxhub/sdk"
	exchangev1 "github.com/gxhub/gxhub/sdk/api/exchange/v1"
	"github.com/gxhub/gxhub/sdk/identity"
	"github.com/gxhub/gxhub/sdk/reqsig"
)

// fakeClock is the hub's and the clients' clock in these tests.
type fakeClock struct{ ns atomic.Int64 }

func (c *fakeClock) Now() time.Time  { return time.Unix(0, c.ns.Load()) }
func (c *fakeClock) Set(t time.Time) { c.ns.Store(t.UnixNano()) }
func cst(s string) time.Time {
	t, err := time.ParseInLocation("2006-01-02 15:04", s, calendar.Location())
	if err != nil {
		panic(err)
	}
	return t
}

// dataHub is a running hub (real TLS, SQLite, audit log, calendar) with the demo
// departments, a catalogued resource of 重庆市公安局, and requirements in several states.
type dataHub struct {
	h                 *hub.Hub
	clock             *fakeClock
	police, yubei, sc *identity.Identity
	coordinator       *identity.Identity
	clients           map[string]*sdk.Client
	resource          string
	granted, other    string // requirement ids: 渝北's granted one, 市场监管局's granted one
	revoked           string
	notShared         string // 渝北's requirement on a not-shared resource (no order to share)
	cfg               config.Config
	dirs              []string // the demo departments' identity directories
	stop              func()   // stops the hub (idempotent; the test's cleanup calls it too)
}

// fingerprintBasis is the legal basis of the not-shared test resource.
var fingerprintBasis = exchange.LegalBasis{Kind: exchange.BasisLaw, Title: "中华人民共和国居民身份证法", Article: "第六条第三款"}

// The registered matters of the pull tests: 渝北's requirements cover 0001 and 0002; 0099
// is registered but covered by none.
const (
	matter1, matter2, matter99 = "500000-0001-XK", "500000-0002-XK", "500000-0099-XK"
)

func startDataHub(t testing.TB, start time.Time, mutate ...func(*config.Config)) *dataHub {
	t.Helper()
	clk := &fakeClock{}
	clk.Set(start)
	cfg := config.Default()
	cfg.DataDir = t.TempDir()
	cfg.Listen = "127.0.0.1:0"
	for _, m := range mutate {
		m(&cfg)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	ctx, cancel := context.WithCancel(context.Background())
	h, err := hub.New(ctx, cfg, log, hub.WithClock(clk.Now))
	require.NoError(t, err)
	ln, err := net.Listen("tcp", cfg.Listen)
	require.NoError(t, err)
	dirs, err := h.SeedDemo(ctx, h.URL(ln.Addr()))
	require.NoError(t, err)
	done := make(chan error, 1)
	go func() { done <- h.Serve(ctx, ln) }()
	dh := &dataHub{h: h, clock: clk, clients: map[string]*sdk.Client{}, cfg: cfg, dirs: dirs}
	var once sync.Once
	dh.stop = func() {
		once.Do(func() {
			for _, c := range dh.clients {
				c.Close()
			}
			cancel()
			require.NoError(t, <-done)
			require.NoError(t, h.Close())
		})
	}
	t.Cleanup(dh.stop)
	load := func(i int) *identity.Identity {
		id, err := identity.Load(dirs[i], nil)
		require.NoError(t, err)
		c, err := sdk.Dial(ctx, id, sdk.WithClock(clk.Now))
		require.NoError(t, err)
		dh.clients[id.Code] = c
		return id
	}
	dh.coordinator, dh.sc, dh.police, dh.yubei = load(0), load(1), load(2), load(7)

	dh.resource = "500000-GA-TEST-RK"
	res := &exchange.Resource{Code: dh.resource, Name: "人口基本信息", Provider: dh.police.Code, SubjectKind: exchange.SubjectIDNumber,
		ShareType: exchange.ShareConditional, Condition: "用于政务服务办件核验", UpdateCycle: exchange.CycleDaily, ProvisionMethod: exchange.ProvisionPullAPI,
		ScopeRegion: "500000", ScopeLevel: exchange.LevelProvincial, UpdatedBy: dh.police.Code, UpdatedAt: start,
		Items: []exchange.DataItem{
			{Name: "name", Title: "姓名", Type: "string", Sensitivity: exchange.SensitivityPersonal},
			{Name: "address", Title: "户籍地址", Type: "string", Sensitivity: exchange.SensitivityPersonal},
			{Name: "ethnicity", Title: "民族", Type: "string", Sensitivity: exchange.SensitivitySensitivePersonal},
		}}
	require.NoError(t, res.Validate())
	require.NoError(t, h.Store.Catalog().Create(ctx, res))
	ns := &exchange.Resource{Code: "500000-GA-TEST-ZW", Name: "指纹信息", Provider: dh.police.Code, SubjectKind: exchange.SubjectIDNumber,
		ShareType: exchange.ShareNotShared, LegalBasis: fingerprintBasis, UpdateCycle: exchange.CycleDaily, ProvisionMethod: exchange.ProvisionPullAPI,
		ScopeRegion: "500000", ScopeLevel: exchange.LevelProvincial, UpdatedBy: dh.police.Code, UpdatedAt: start,
		Items: []exchange.DataItem{{Name: "fingerprint", Title: "指纹", Type: "string", Sensitivity: exchange.SensitivitySensitivePersonal}}}
	require.NoError(t, ns.Validate())
	require.NoError(t, h.Store.Catalog().Create(ctx, ns))
	req := func(id, consumer string, state exchange.RequirementState, resource ...string) string {
		r := &exchange.Requirement{ID: id, Consumer: consumer, Provider: dh.police.Code, Resource: dh.resource, Items: []string{"name", "address"},
			MatterCodes: []string{"500000-0001-XK", "500000-0002-XK"}, LegalDuty: "《重庆市政务数据资源管理暂行办法》", ScopeRegion: "500000",
			State: exchange.ReqGranted, CreatedAt: start, UpdatedAt: start,
			Decisions: []exchange.Decision{{Seq: 1, Action: exchange.ActSubmit, By: consumer, At: start}, {Seq: 2, Action: exchange.ActGrant, By: dh.police.Code, At: start}}}
		if len(resource) > 0 {
			r.Resource, r.Items = resource[0], []string{"fingerprint"}
		}
		require.NoError(t, h.Store.Requirements().Create(ctx, r))
		if state == exchange.ReqRevoked {
			r.State = exchange.ReqRevoked
			require.NoError(t, h.Store.Requirements().Decide(ctx, r, exchange.ReqGranted, exchange.Decision{Seq: 3, Action: exchange.ActRevoke, By: dh.police.Code, At: start}))
		}
		return id
	}
	for _, code := range []string{matter1, matter2, matter99} {
		m := &exchange.Matter{Code: code, Name: "测试事项 " + code, Department: dh.yubei.Code, TimeLimit: 5, Version: 1, UpdatedAt: start, UpdatedBy: dh.coordinator.Code,
			LegalBasis: exchange.LegalBasis{Kind: exchange.BasisRule, Title: "重庆市政务数据资源管理暂行办法", Article: "第十二条"},
			Materials:  []exchange.Material{{ID: "household", Name: "户口簿", Resource: dh.resource, Items: []string{"name", "address"}}}}
		require.NoError(t, m.Validate())
		require.NoError(t, h.Store.Matters().Put(ctx, m))
	}
	dh.granted = req("REQ-YB-1", dh.yubei.Code, exchange.ReqGranted)
	dh.other = req("REQ-SC-1", dh.sc.Code, exchange.ReqGranted)
	dh.revoked = req("REQ-YB-2", dh.yubei.Code, exchange.ReqRevoked)
	dh.notShared = req("REQ-YB-3", dh.yubei.Code, exchange.ReqGranted, ns.Code)
	return dh
}

func (dh *dataHub) c(id *identity.Identity) *sdk.Client { return dh.clients[id.Code] }

// openCase opens case number for 渝北 (一企一事一码): the first subject is the applicant,
// the others its declared parties.
func (dh *dataHub) openCase(t testing.TB, number, matter string, subjects ...string) string {
	t.Helper()
	req := &exchangev1.OpenCaseRequest{Number: number, Matter: matter, Applicant: subjects[0]}
	for _, s := range subjects[1:] {
		req.Parties = append(req.Parties, &exchangev1.Party{Subject: s})
	}
	_, err := dh.c(dh.yubei).Cases.OpenCase(context.Background(), req)
	require.NoError(t, err)
	return number
}

// auditFrom returns the audit entries from index `from` to the end of the log.
func (dh *dataHub) auditFrom(t testing.TB, from uint64) []ledger.Entry {
	t.Helper()
	var out []ledger.Entry
	for i := from; ; i++ {
		e, err := dh.h.Audit.Log.GetRecord(context.Background(), i)
		if errors.Is(err, ledger.ErrNotFound) {
			return out
		}
		require.NoError(t, err)
		out = append(out, e)
	}
}

func (dh *dataHub) auditSize(t testing.TB) uint64 { return uint64(len(dh.auditFrom(t, 0))) }

func (dh *dataHub) publish(t testing.TB, batch string, subjects ...string) *exchangev1.PublishResponse {
	t.Helper()
	req := &exchangev1.PublishRequest{Resource: dh.resource, BatchId: batch}
	for i, s := range subjects {
		req.Changes = append(req.Changes, &exchangev1.RecordChange{Op: exchangev1.ChangeOp_CHANGE_OP_UPSERT, Subject: s,
			Fields: map[string]string{"name": "测试" + s[14:17], "address": "重庆市渝北区" + batch, "ethnicity": []string{"汉", "土家", "苗"}[i%3]}})
	}
	resp, err := dh.c(dh.police).Records.Publish(context.Background(), req)
	require.NoError(t, err)
	return resp
}

// TestPulls runs on SQLite and on PostgreSQL.
func TestPulls(t *testing.T) {
	stores := map[string]func(*config.Config){
		"sqlite": func(*config.Config) {},
		"postgres": func(c *config.Config) {
			c.Store.Driver = "postgres"
			c.Store.PostgresDSN = pgtest.FreshSchemaDSN(t)
		},
	}
	for name, mutate := range stores {
		t.Run(name, func(t *testing.T) { testPulls(t, mutate) })
	}
}

func testPulls(t *testing.T, mutate func(*config.Config)) {
	ctx := context.Background()
	dh := startDataHub(t, cst("2026-03-02 09:00"), mutate)
	a, b, unknown := storetest.IDNumber(11), storetest.IDNumber(12), storetest.IDNumber(13)
	pub := dh.publish(t, "batch-1", a, b)
	require.Len(t, pub.GetVersions(), 2)
	dh.clock.Set(cst("2026-03-02 10:00"))
	dh.publish(t, "batch-2", a) // a's record moves to version 2
	dh.clock.Set(cst("2026-03-02 11:00"))

	hubKey := &dh.h.SigningKey.PublicKey
	dh.openCase(t, "YB-2026-000123", matter2, a, b, unknown)
	dh.openCase(t, "YB-C1", matter1, a)
	ok := &exchangev1.PullRequest{RequirementId: dh.granted, MatterCode: matter2, CaseNumber: "YB-2026-000123", Subjects: []string{a, strings.ToLower(b), unknown}}
	before := dh.auditSize(t)
	resp, err := dh.c(dh.yubei).Pulls.Pull(ctx, ok)
	require.NoError(t, err)

	t.Run("ok/only approved items, signed, with provenance", func(t *testing.T) {
		res, err := sdk.VerifyPull(resp, hubKey)
		require.NoError(t, err)
		require.Equal(t, dh.police.Code, res.GetProvider())
		require.Equal(t, dh.yubei.Code, res.GetConsumer())
		require.Equal(t, []string{"name", "address"}, res.GetItems())
		require.Len(t, res.GetRecords(), 2)
		for _, r := range res.GetRecords() {
			require.ElementsMatch(t, []string{"name", "address"}, keys(r.GetFields()), "ethnicity was not approved and must not be returned")
		}
		require.Equal(t, int64(2), res.GetRecords()[0].GetVersion())
		require.Equal(t, "batch-2", res.GetRecords()[0].GetBatchId())
		require.Equal(t, "重庆市渝北区batch-2", res.GetRecords()[0].GetFields()["address"])
		require.Equal(t, cst("2026-03-02 10:00").UTC(), res.GetRecords()[0].GetPublishedAt().AsTime())
		require.Equal(t, int64(1), res.GetRecords()[1].GetVersion())
		require.Equal(t, []string{unknown}, res.GetNotFound())
		require.Equal(t, cst("2026-03-02 11:00").UTC(), res.GetAsOf().AsTime())
		require.False(t, res.GetFreshness().GetStale())
		require.Equal(t, time.Hour, res.GetFreshness().GetWorkingAge().AsDuration())
		require.Positive(t, res.GetPolicyVersion())

		// Tampering and another key fail.
		bad := proto.Clone(resp).(*exchangev1.PullResponse)
		bad.Payload[len(bad.Payload)-1] ^= 1
		_, err = sdk.VerifyPull(bad, hubKey)
		require.Error(t, err)
		other, err := identity.Load(dh.h.Config.DataDir+"/demo/"+dh.police.Code, nil)
		require.NoError(t, err)
		_, err = sdk.VerifyPull(resp, &other.Key.PublicKey)
		require.Error(t, err)
	})
	t.Run("ok/every subject audited with the payload digest", func(t *testing.T) {
		refs := resp.GetAuditReferences()
		require.Len(t, refs, 3)
		digest := sdk.PayloadDigest(resp)
		for i, ref := range refs {
			require.GreaterOrEqual(t, ref, before)
			e, err := dh.h.Audit.Log.GetRecord(ctx, ref)
			require.NoError(t, err)
			r := e.Record
			require.Equal(t, ledger.KindPull, r.Kind)
			require.Equal(t, ledger.OutcomeGranted, r.Outcome)
			require.Equal(t, dh.yubei.Code, r.Department)
			require.Equal(t, "500000-0002-XK", r.Matter)
			require.Equal(t, "YB-2026-000123", r.Case)
			require.Equal(t, digest[:], r.ResponseDigest)
			require.Equal(t, dh.h.Audit.SubjectKey(ledger.NormalizeSubject(ok.Subjects[i])), r.Subject)
			require.NotContains(t, string(e.Leaf), a, "the subject is stored only as a keyed hash")
		}
	})

	refusals := map[string]struct {
		who    *identity.Identity
		req    *exchangev1.PullRequest
		reason string
	}{
		"fail/wrong purpose":                    {dh.yubei, &exchangev1.PullRequest{RequirementId: dh.granted, MatterCode: matter99, CaseNumber: "YB-C1", Subjects: []string{a}}, policy.ReasonPurposeNotCovered},
		"fail/unregistered matter":              {dh.yubei, &exchangev1.PullRequest{RequirementId: dh.granted, MatterCode: "500000-0098-XK", CaseNumber: "YB-C1", Subjects: []string{a}}, exchange.ReasonMatterUnknown},
		"fail/subject outside the case":         {dh.yubei, &exchangev1.PullRequest{RequirementId: dh.granted, MatterCode: matter1, CaseNumber: "YB-C1", Subjects: []string{b}}, exchange.ReasonCaseSubjectMismatch},
		"fail/unapproved data item":             {dh.yubei, &exchangev1.PullRequest{RequirementId: dh.granted, MatterCode: "500000-0001-XK", CaseNumber: "YB-C1", Subjects: []string{a}, Items: []string{"name", "ethnicity"}}, policy.ReasonDataItemNotApproved},
		"fail/revoked requirement":              {dh.yubei, &exchangev1.PullRequest{RequirementId: dh.revoked, MatterCode: "500000-0001-XK", CaseNumber: "YB-C1", Subjects: []string{a}}, policy.ReasonRequirementRevoked},
		"fail/another department's":             {dh.yubei, &exchangev1.PullRequest{RequirementId: dh.other, MatterCode: "500000-0001-XK", CaseNumber: "YB-C1", Subjects: []string{a}}, policy.ReasonRequirementForeign},
		"fail/no case number":                   {dh.yubei, &exchangev1.PullRequest{RequirementId: dh.granted, MatterCode: "500000-0001-XK", Subjects: []string{a}}, policy.ReasonCaseNumberMissing},
		"fail/not shared, with its legal basis": {dh.yubei, &exchangev1.PullRequest{RequirementId: dh.notShared, MatterCode: "500000-0001-XK", CaseNumber: "YB-C1", Subjects: []string{a}}, policy.ReasonNotShared},
		"fail/invalid subject":                  {dh.yubei, &exchangev1.PullRequest{RequirementId: dh.granted, MatterCode: "500000-0001-XK", CaseNumber: "YB-C1", Subjects: []string{"500112199001010000"}}, "SUBJECT_INVALID"},
	}
	for name, tc := range refusals {
		t.Run(name, func(t *testing.T) {
			from := dh.auditSize(t)
			_, err := dh.c(tc.who).Pulls.Pull(ctx, tc.req)
			require.Error(t, err)
			require.Equal(t, tc.reason, server.Reason(err), "%v", err)
			if tc.reason == policy.ReasonNotShared {
				require.Contains(t, err.Error(), fingerprintBasis.Citation())
			}
			entries := dh.auditFrom(t, from)
			require.NotEmpty(t, entries, "a refused pull is audited")
			last := entries[len(entries)-1].Record
			require.Equal(t, ledger.KindPull, last.Kind)
			require.Equal(t, ledger.OutcomeDenied, last.Outcome)
			require.Equal(t, tc.who.Code, last.Department)
			require.True(t, strings.HasPrefix(last.Reason, tc.reason+": "), last.Reason)
			require.Nil(t, last.ResponseDigest)
		})
	}

	t.Run("ok/REST: signed JSON in, signed payload out; refusals carry the reason", func(t *testing.T) {
		pool := x509.NewCertPool()
		require.True(t, pool.AppendCertsFromPEM(dh.yubei.TLSCAPEM))
		hc := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
		post := func(body string) (int, map[string]any) {
			hdr, err := reqsig.Sign(dh.yubei.Key, dh.yubei.Code, "POST", "/v1/pulls", []byte(body), dh.clock.Now())
			require.NoError(t, err)
			req, err := http.NewRequest("POST", dh.yubei.HubURL+"/v1/pulls", strings.NewReader(body))
			require.NoError(t, err)
			req.Header.Set("Authorization", hdr)
			req.Header.Set("Content-Type", "application/json")
			resp, err := hc.Do(req)
			require.NoError(t, err)
			defer resp.Body.Close()
			var out map[string]any
			require.NoError(t, json.NewDecoder(resp.Body).Decode(&out))
			return resp.StatusCode, out
		}
		code, out := post(`{"requirement_id":"` + dh.granted + `","matter_code":"500000-0001-XK","case_number":"YB-C1","subjects":["` + a + `"]}`)
		require.Equal(t, http.StatusOK, code, "%v", out)
		payload, err := base64.StdEncoding.DecodeString(out["payload"].(string))
		require.NoError(t, err)
		sig, err := base64.StdEncoding.DecodeString(out["signature"].(string))
		require.NoError(t, err)
		res, err := sdk.VerifyPull(&exchangev1.PullResponse{Payload: payload, Signature: sig}, hubKey)
		require.NoError(t, err)
		require.Equal(t, a, res.GetRecords()[0].GetSubject())
		code, out = post(`{"requirement_id":"` + dh.granted + `","matter_code":"NOT-MINE","case_number":"YB-C1","subjects":["` + a + `"]}`)
		require.Equal(t, http.StatusForbidden, code)
		require.Equal(t, exchange.ReasonMatterUnknown, out["reason"])
		require.Contains(t, out["message"], "NOT-MINE")
	})

	t.Run("ok/policy change through the API takes effect at once and is audited", func(t *testing.T) {
		pol, err := dh.c(dh.yubei).Policy.GetPolicy(ctx, &exchangev1.GetPolicyRequest{})
		require.NoError(t, err)
		// 渝北 makes clerk-9 an operator inside itself (its own key acts as its admin).
		ch, err := dh.c(dh.yubei).Policy.ChangePolicy(ctx, &exchangev1.ChangePolicyRequest{ExpectVersion: pol.GetVersion(),
			Add: []*exchangev1.PolicyRule{{Ptype: "g", Fields: []string{"clerk-9", policy.RoleOperator, dh.yubei.Code}}}, Comment: "new clerk"})
		require.NoError(t, err)
		require.Equal(t, pol.GetVersion()+1, ch.GetVersion())
		e, err := dh.h.Audit.Log.GetRecord(ctx, ch.GetAuditReference())
		require.NoError(t, err)
		require.Equal(t, ledger.KindPolicyChange, e.Record.Kind)
		_, err = dh.c(dh.yubei).Pulls.Pull(ctx, &exchangev1.PullRequest{RequirementId: dh.granted, MatterCode: "500000-0001-XK", CaseNumber: "YB-C1", Subjects: []string{a}, Operator: "clerk-9"})
		require.NoError(t, err)

		// A department may not touch another's roles nor the p rules.
		_, err = dh.c(dh.yubei).Policy.ChangePolicy(ctx, &exchangev1.ChangePolicyRequest{ExpectVersion: ch.GetVersion(),
			Add: []*exchangev1.PolicyRule{{Ptype: "g", Fields: []string{"x", policy.RoleOperator, dh.sc.Code}}}})
		require.Equal(t, "ROLE_REQUIRED", server.Reason(err))
		// The coordinator suspends 渝北 on this resource.
		_, err = dh.c(dh.coordinator).Policy.ChangePolicy(ctx, &exchangev1.ChangePolicyRequest{ExpectVersion: ch.GetVersion(),
			Add: []*exchangev1.PolicyRule{{Ptype: "p", Fields: []string{"5", "*", dh.yubei.Code, dh.resource, "pull", "*", "*", "*", "*", "*", "*", "*", "deny", "COORDINATOR_SUSPENDED"}}}})
		require.NoError(t, err)
		_, err = dh.c(dh.yubei).Pulls.Pull(ctx, ok)
		require.Equal(t, "COORDINATOR_SUSPENDED", server.Reason(err))
		// A stale version is refused.
		_, err = dh.c(dh.coordinator).Policy.ChangePolicy(ctx, &exchangev1.ChangePolicyRequest{ExpectVersion: ch.GetVersion(),
			Remove: []*exchangev1.PolicyRule{{Ptype: "g", Fields: []string{"clerk-9", policy.RoleOperator, dh.yubei.Code}}}})
		require.Equal(t, "POLICY_VERSION_CONFLICT", server.Reason(err))
		hist, err := dh.c(dh.auditorOrCoordinator()).Policy.ListPolicyChanges(ctx, &exchangev1.ListPolicyChangesRequest{})
		require.NoError(t, err)
		require.Equal(t, ch.GetVersion()+1, hist.GetChanges()[0].GetVersion())
		require.Equal(t, dh.coordinator.Code, hist.GetChanges()[0].GetBy())
	})
}

func (dh *dataHub) auditorOrCoordinator() *identity.Identity { return dh.coordinator }

func keys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

// TestFreshnessAcrossSpringFestival publishes on the make-up working day before the 2026
// Spring Festival (Saturday 14 February) and pulls during and after the nine-day holiday
// (15–23 February): the holiday does not age the data, the first working day after it does.
func TestFreshnessAcrossSpringFestival(t *testing.T) {
	ctx := context.Background()
	dh := startDataHub(t, cst("2026-02-14 09:00"))
	cal := calendar.Default()
	for _, d := range []string{"2026-02-14 12:00", "2026-02-24 12:00"} {
		w, err := cal.IsWorkingDay(cst(d))
		require.NoError(t, err)
		require.True(t, w, "%s is a working day in the official calendar", d)
	}
	w, err := cal.IsWorkingDay(cst("2026-02-20 12:00"))
	require.NoError(t, err)
	require.False(t, w)

	a := storetest.IDNumber(21)
	dh.openCase(t, "YB-2026-000200", matter1, a)
	dh.clock.Set(cst("2026-02-14 18:00"))
	dh.publish(t, "before-holiday", a)
	pull := func(freshOnly bool) (*exchangev1.PullResponse, error) {
		return dh.c(dh.yubei).Pulls.Pull(ctx, &exchangev1.PullRequest{RequirementId: dh.granted, MatterCode: "500000-0001-XK",
			CaseNumber: "YB-2026-000200", Subjects: []string{a}, FreshOnly: freshOnly})
	}

	// Last evening of the holiday: 9 calendar days later, 6 working hours old.
	dh.clock.Set(cst("2026-02-23 23:00"))
	resp, err := pull(true)
	require.NoError(t, err)
	res, err := sdk.VerifyPull(resp, &dh.h.SigningKey.PublicKey)
	require.NoError(t, err)
	require.False(t, res.GetFreshness().GetStale())
	require.Equal(t, 6*time.Hour, res.GetFreshness().GetWorkingAge().AsDuration())

	// First working day after the holiday, 20:00: 6h + 20h = 26 working hours > 1 working day.
	dh.clock.Set(cst("2026-02-24 20:00"))
	resp, err = pull(false)
	require.NoError(t, err)
	res, err = sdk.VerifyPull(resp, &dh.h.SigningKey.PublicKey)
	require.NoError(t, err)
	require.True(t, res.GetFreshness().GetStale(), "the stale resource is flagged on the response")
	require.Equal(t, 26*time.Hour, res.GetFreshness().GetWorkingAge().AsDuration())
	require.Len(t, res.GetRecords(), 1)

	from := dh.auditSize(t)
	_, err = pull(true)
	require.Equal(t, exchange.ReasonDataStale, server.Reason(err), "%v", err)
	require.Contains(t, err.Error(), "fresh_only")
	entries := dh.auditFrom(t, from)
	require.Len(t, entries, 1)
	require.Equal(t, ledger.OutcomeDenied, entries[0].Record.Outcome)

	alerts, err := dh.c(dh.police).Freshness.ListFreshnessAlerts(ctx, &exchangev1.ListFreshnessAlertsRequest{})
	require.NoError(t, err)
	require.Len(t, alerts.GetResources(), 1, "the stale resource; the never published 指纹信息 is not shared, so no freshness is owed")
	require.Equal(t, dh.resource, alerts.GetResources()[0].GetResource())
	all, err := dh.c(dh.police).Freshness.ListFreshness(ctx, &exchangev1.ListFreshnessRequest{})
	require.NoError(t, err)
	var notShared int
	for _, r := range all.GetResources() {
		if r.GetResource() == "500000-GA-TEST-ZW" {
			notShared++
			require.False(t, r.GetStale())
			require.Equal(t, exchange.FreshnessNotShared, r.GetStatus())
		}
	}
	require.Equal(t, 1, notShared, "the not shared resource is listed, as not shared")
	none, err := dh.c(dh.yubei).Freshness.ListFreshnessAlerts(ctx, &exchangev1.ListFreshnessAlertsRequest{})
	require.NoError(t, err)
	require.Empty(t, none.GetResources(), "alerts go to the provider")

	view, err := dh.c(dh.yubei).Freshness.ListFreshness(ctx, &exchangev1.ListFreshnessRequest{StaleOnly: true})
	require.NoError(t, err)
	var found bool
	for _, r := range view.GetResources() {
		if r.GetResource() == dh.resource {
			found = true
			require.True(t, r.GetStale())
			require.Equal(t, int32(1), r.GetLimitWorkingDays())
		}
	}
	require.True(t, found)

	// Metrics: the gauge shows the stale resource.
	body := metrics(t, dh)
	require.Contains(t, body, `gxhub_resource_stale{provider="`+dh.police.Code+`",resource="`+dh.resource+`"} 1`)

	// A heartbeat makes it fresh again; only the provider may send one.
	_, err = dh.c(dh.yubei).Freshness.Heartbeat(ctx, &exchangev1.HeartbeatRequest{Resource: dh.resource})
	require.Error(t, err)
	hb, err := dh.c(dh.police).Freshness.Heartbeat(ctx, &exchangev1.HeartbeatRequest{Resource: dh.resource})
	require.NoError(t, err)
	require.False(t, hb.GetStale())
	_, err = pull(true)
	require.NoError(t, err)
}

func metrics(t *testing.T, dh *dataHub) string {
	t.Helper()
	rec := &recorder{header: http.Header{}}
	req, err := http.NewRequest("GET", "/metrics", nil)
	require.NoError(t, err)
	dh.h.Handler().ServeHTTP(rec, req)
	return rec.body.String()
}

type recorder struct {
	header http.Header
	body   strings.Builder
	mu     sync.Mutex
}

func (r *recorder) Header() http.Header { return r.header }
func (r *recorder) Write(b []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.body.Write(b)
}
func (r *recorder) WriteHeader(int) {}

func TestPublishAndObjections(t *testing.T) {
	ctx := context.Background()
	dh := startDataHub(t, cst("2026-03-03 09:00"))
	a, b := storetest.IDNumber(31), storetest.IDNumber(32)
	police := dh.c(dh.police)

	publishErrs := map[string]struct {
		who    *identity.Identity
		req    *exchangev1.PublishRequest
		reason string
	}{
		"fail/not the provider": {dh.sc, &exchangev1.PublishRequest{Resource: dh.resource, BatchId: "x1", Changes: []*exchangev1.RecordChange{{Op: exchangev1.ChangeOp_CHANGE_OP_UPSERT, Subject: a, Fields: map[string]string{"name": "x"}}}}, "NOT_RESOURCE_PROVIDER"},
		"fail/bad ID number":    {dh.police, &exchangev1.PublishRequest{Resource: dh.resource, BatchId: "x2", Changes: []*exchangev1.RecordChange{{Op: exchangev1.ChangeOp_CHANGE_OP_UPSERT, Subject: a[:17] + "0", Fields: map[string]string{"name": "x"}}}}, "SUBJECT_INVALID"},
		"fail/unknown item":     {dh.police, &exchangev1.PublishRequest{Resource: dh.resource, BatchId: "x3", Changes: []*exchangev1.RecordChange{{Op: exchangev1.ChangeOp_CHANGE_OP_UPSERT, Subject: a, Fields: map[string]string{"salary": "x"}}}}, "DATA_ITEM_UNKNOWN"},
		"fail/atomic: one bad change, nothing written": {dh.police, &exchangev1.PublishRequest{Resource: dh.resource, BatchId: "x4", Changes: []*exchangev1.RecordChange{
			{Op: exchangev1.ChangeOp_CHANGE_OP_UPSERT, Subject: a, Fields: map[string]string{"name": "x"}},
			{Op: exchangev1.ChangeOp_CHANGE_OP_DELETE, Subject: b}}}, "NOTHING_TO_DELETE"},
	}
	for name, tc := range publishErrs {
		t.Run(name, func(t *testing.T) {
			_, err := dh.c(tc.who).Records.Publish(ctx, tc.req)
			require.Equal(t, tc.reason, server.Reason(err), "%v", err)
		})
	}
	_, err := police.Records.GetRecordHistory(ctx, &exchangev1.GetRecordHistoryRequest{Resource: dh.resource, Subject: a})
	require.Equal(t, "RECORD_NOT_FOUND", server.Reason(err), "the atomic batch wrote nothing")

	dh.publish(t, "p1", a, b)
	batch, err := dh.h.Store.Records().Batch(ctx, "p1")
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(batch.Evidence, "GXHUB-SM2 "), "the provider's signed request is kept as the batch signature")

	// Resuming: the same batch re-sent is answered as already published and writes
	// nothing; the same id with other content is refused, and writes nothing either.
	t.Run("publish resume", func(t *testing.T) {
		auditBefore := dh.auditSize(t)
		again := dh.publish(t, "p1", a, b)
		require.True(t, again.GetAlreadyPublished())
		require.Len(t, again.GetVersions(), 2)
		require.Equal(t, int64(1), again.GetVersions()[0].GetVersion())
		require.Equal(t, a, again.GetVersions()[0].GetSubject(), "versions in the re-sent batch's order")
		require.Equal(t, batch.At, again.GetPublishedAt().AsTime(), "the first publish's time")
		require.Zero(t, again.GetAuditReference())
		// The same changes in another order are the same batch.
		req := &exchangev1.PublishRequest{Resource: dh.resource, BatchId: "p1"}
		for _, s := range []string{b, a} {
			h, err := police.Records.GetRecordHistory(ctx, &exchangev1.GetRecordHistoryRequest{Resource: dh.resource, Subject: s})
			require.NoError(t, err)
			req.Changes = append(req.Changes, &exchangev1.RecordChange{Op: exchangev1.ChangeOp_CHANGE_OP_UPSERT, Subject: s, Fields: h.GetVersions()[0].GetFields()})
		}
		reordered, err := police.Records.Publish(ctx, req)
		require.NoError(t, err)
		require.True(t, reordered.GetAlreadyPublished(), "order within a batch does not change its content")
		require.Equal(t, b, reordered.GetVersions()[0].GetSubject())

		changed := &exchangev1.PublishRequest{Resource: dh.resource, BatchId: "p1", Changes: []*exchangev1.RecordChange{
			{Op: exchangev1.ChangeOp_CHANGE_OP_UPSERT, Subject: a, Fields: map[string]string{"name": "另一个名字"}}}}
		_, err = police.Records.Publish(ctx, changed)
		require.Equal(t, "BATCH_EXISTS", server.Reason(err))
		require.Contains(t, err.Error(), "different content")
		h, err := police.Records.GetRecordHistory(ctx, &exchangev1.GetRecordHistoryRequest{Resource: dh.resource, Subject: a})
		require.NoError(t, err)
		require.Len(t, h.GetVersions(), 1, "nothing new was written")
		require.Equal(t, auditBefore, dh.auditSize(t), "no audit record for a batch not applied again")
	})

	// 渝北 pulls, finds the address wrong and objects.
	dh.openCase(t, "YB-C7", matter1, a)
	resp, err := dh.c(dh.yubei).Pulls.Pull(ctx, &exchangev1.PullRequest{RequirementId: dh.granted, MatterCode: "500000-0001-XK", CaseNumber: "YB-C7", Subjects: []string{a}})
	require.NoError(t, err)
	v := resp.GetResult().GetRecords()[0].GetVersion()
	raised, err := dh.c(dh.yubei).Objections.RaiseObjection(ctx, &exchangev1.RaiseObjectionRequest{Resource: dh.resource, Subject: a, RecordVersion: v,
		Items: []string{"address"}, Text: "申请人现住址已变更"})
	require.NoError(t, err)
	o := raised.GetObjection()
	require.Equal(t, exchangev1.ObjectionState_OBJECTION_STATE_OPEN, o.GetState())
	require.Equal(t, dh.police.Code, o.GetProvider())

	inbox, err := police.Objections.ListObjections(ctx, &exchangev1.ListObjectionsRequest{As: "provider", State: exchangev1.ObjectionState_OBJECTION_STATE_OPEN})
	require.NoError(t, err)
	require.Len(t, inbox.GetObjections(), 1)
	_, err = dh.c(dh.yubei).Objections.ResolveObjection(ctx, &exchangev1.ResolveObjectionRequest{Id: o.GetId(), State: exchangev1.ObjectionState_OBJECTION_STATE_CORRECTED, Resolution: "x"})
	require.Equal(t, "NOT_RESOURCE_PROVIDER", server.Reason(err), "only the provider resolves")

	dh.clock.Set(cst("2026-03-03 15:00"))
	dh.publish(t, "p2-fix", a)
	done, err := police.Objections.ResolveObjection(ctx, &exchangev1.ResolveObjectionRequest{Id: o.GetId(), State: exchangev1.ObjectionState_OBJECTION_STATE_CORRECTED, Resolution: "已按户籍变更登记更正 (batch p2-fix)"})
	require.NoError(t, err)
	require.Equal(t, exchangev1.ObjectionState_OBJECTION_STATE_CORRECTED, done.GetObjection().GetState())
	require.Equal(t, cst("2026-03-03 15:00").UTC(), done.GetObjection().GetResolvedAt().AsTime())
	_, err = police.Objections.ResolveObjection(ctx, &exchangev1.ResolveObjectionRequest{Id: o.GetId(), State: exchangev1.ObjectionState_OBJECTION_STATE_REJECTED, Resolution: "again"})
	require.Equal(t, "OBJECTION_NOT_OPEN", server.Reason(err))

	mine, err := dh.c(dh.yubei).Objections.ListObjections(ctx, &exchangev1.ListObjectionsRequest{})
	require.NoError(t, err)
	require.Len(t, mine.GetObjections(), 1)
	require.Equal(t, exchangev1.ObjectionState_OBJECTION_STATE_CORRECTED, mine.GetObjections()[0].GetState())
	require.Equal(t, dh.police.Code, mine.GetObjections()[0].GetResolvedBy())

	hist, err := police.Records.GetRecordHistory(ctx, &exchangev1.GetRecordHistoryRequest{Resource: dh.resource, Subject: a})
	require.NoError(t, err)
	require.Len(t, hist.GetVersions(), 2, "the corrected record is a new version; the old one stays")
	require.Equal(t, "p1", hist.GetVersions()[0].GetBatchId())
}

// BenchmarkPull measures pulls through the full stack: a signed gRPC request over TLS, the
// signature, nonce and policy checks, the record read, the hub's SM2 signature over the
// response, and the audit append (one record, group-committed) — run in parallel.
func BenchmarkPull(b *testing.B) {
	ctx := context.Background()
	dh := startDataHub(b, time.Now())
	dh.clock.Set(time.Now())
	a := storetest.IDNumber(41)
	dh.publish(b, "bench", a)
	dh.openCase(b, "BENCH-1", matter1, a)
	req := &exchangev1.PullRequest{RequirementId: dh.granted, MatterCode: "500000-0001-XK", CaseNumber: "BENCH-1", Subjects: []string{a}}
	c := dh.c(dh.yubei)
	_, err := c.Pulls.Pull(ctx, req)
	require.NoError(b, err)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := c.Pulls.Pull(ctx, req); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "pulls/s")
}

func TestDemoRecords(t *testing.T) {
	ctx := context.Background()
	dh := startDataHub(t, cst("2026-03-02 09:00"))
	require.NoError(t, dh.h.SeedDemoCatalog(ctx))
	require.NoError(t, dh.h.SeedDemoCatalog(ctx), "idempotent")
	last, err := dh.h.Store.Records().LastUpdates(ctx)
	require.NoError(t, err)
	for _, code := range []string{"500000-SCJG-0001", "500000-GA-0001", "500000-MZ-0001"} {
		require.Equal(t, cst("2026-03-02 09:00").UTC(), last[code].UTC(), code)
		b, err := dh.h.Store.Records().Batch(ctx, "demo-"+code)
		require.NoError(t, err)
		require.Equal(t, "demo-"+code, b.ID)
	}
	_, ok := last["500000-BDC-0001"]
	require.False(t, ok, "a resource not yet published has no records")
	view, err := dh.c(dh.yubei).Freshness.ListFreshness(ctx, &exchangev1.ListFreshnessRequest{})
	require.NoError(t, err)
	states := map[string]bool{}
	for _, r := range view.GetResources() {
		states[r.GetResource()] = r.GetStale()
	}
	require.False(t, states["500000-GA-0001"])
	require.True(t, states["500000-BDC-0001"], "never published is stale")
}
