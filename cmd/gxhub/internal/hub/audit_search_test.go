package hub_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/gxhub/gxhub/certs/sm"
	"github.com/gxhub/gxhub/cmd/gxhub/internal/config"
	"github.com/gxhub/gxhub/cmd/gxhub/internal/hub"
	"github.com/gxhub/gxhub/exchange"
	"github.com/gxhub/gxhub/exchange/store"
	"github.com/gxhub/gxhub/exchange/store/postgres/pgtest"
	"github.com/gxhub/gxhub/exchange/store/sqlite"
	"github.com/gxhub/gxhub/ledger"
	ledgerserver "github.com/gxhub/gxhub/ledger/server"
	"github.com/gxhub/gxhub/ledger/sm2sig"
	"github.com/gxhub/gxhub/ledger/verify"
	"github.com/gxhub/gxhub/sdk"
	auditv1 "github.com/gxhub/gxhub/sdk/api/audit/v1"
	"github.com/gxhub/gxhub/sdk/api/convert"
)

func requireAuditReason(t *testing.T, err error, code codes.Code, reason string) {
	t.Helper()
	require.Error(t, err)
	require.Equal(t, code, status.Code(err), err.Error())
	require.Equal(t, reason, sdk.Reason(err), err.Error())
}

// TestAuditSearchAnomaliesAndSubjectUsage appends a known trail through the hub's audit
// log, then queries it through the API as an auditor, a coordinator and an ordinary
// department.
func TestAuditSearchAnomaliesAndSubjectUsage(t *testing.T) {
	for name, mutate := range map[string]func(*config.Config){
		"sqlite": func(c *config.Config) { c.AuditHeadInterval = 100 * time.Millisecond },
		"postgres": func(c *config.Config) {
			c.AuditHeadInterval = 100 * time.Millisecond
			c.Store.Driver = "postgres"
			c.Store.PostgresDSN = pgtest.FreshSchemaDSN(t)
		},
	} {
		t.Run(name, func(t *testing.T) { testAuditQueries(t, startHub(t, mutate)) })
	}
}

func testAuditQueries(t *testing.T, th *testHub) {
	ctx := context.Background()
	coordinator, _ := th.client(t, 0) // coordinator + auditor
	consumer, _ := th.client(t, 2)    // 公安局: provider + consumer
	auditor, _ := th.client(t, 6)     // 审计局: auditor only
	codes3, codes4 := th.identity(t, 3).Code, th.identity(t, 4).Code
	const resource = "RES-HUKOU"

	subjects := []string{"11010519491231002X", "500101199001011234", "91500000MA5U000000"}
	keyOf := func(s string) ledger.SubjectKey { return th.h.Audit.SubjectKey(exchange.NormalizeSubject(s)) }
	hour := time.Now().UTC().Truncate(time.Hour).Add(-3 * time.Hour) // the spike hour
	var recs []ledger.Record
	// Baseline: codes3 pulls once an hour for the 24 hours before the spike hour.
	for i := range 24 {
		recs = append(recs, ledger.Record{Kind: ledger.KindPull, Time: hour.Add(time.Duration(i-24)*time.Hour + time.Minute), Department: codes3,
			Resource: resource, DataItems: []string{"姓名", "住址"}, Subject: keyOf(subjects[i%3]), Matter: "M-100", Case: fmt.Sprintf("C-%d", i), Outcome: ledger.OutcomeGranted})
	}
	// Spike: 30 pulls in one hour.
	for i := range 30 {
		recs = append(recs, ledger.Record{Kind: ledger.KindPull, Time: hour.Add(time.Duration(i) * time.Minute), Department: codes3,
			Resource: resource, DataItems: []string{"姓名"}, Subject: keyOf(subjects[(i+1)%3]), Matter: "M-100", Case: fmt.Sprintf("S-%d", i), Outcome: ledger.OutcomeGranted})
	}
	noCase := ledger.Record{Kind: ledger.KindPull, Time: hour.Add(70 * time.Minute), Department: codes4, Resource: resource,
		DataItems: []string{"姓名"}, Subject: keyOf(subjects[0]), Matter: "M-200", Outcome: ledger.OutcomeGranted}
	revokedPull := ledger.Record{Kind: ledger.KindPull, Time: hour.Add(100 * time.Minute), Department: codes4, Resource: resource,
		Subject: keyOf(subjects[1]), Matter: "M-200", Case: "C-R", Outcome: ledger.OutcomeDenied, Reason: "REQUIREMENT_REVOKED: requirement R-1 was revoked"}
	// A revocation decision for a stored requirement of codes4, then a granted pull by codes4.
	req := &exchange.Requirement{ID: "REQ-AUDIT-1", Consumer: codes4, Provider: codes3, Resource: resource, Items: []string{"姓名"},
		MatterCodes: []string{"M-200"}, State: exchange.ReqRevoked, CreatedAt: hour.Add(-48 * time.Hour), UpdatedAt: hour.Add(80 * time.Minute)}
	require.NoError(t, th.h.Store.Requirements().Create(ctx, req))
	revocation := ledger.Record{Kind: ledger.KindRequirementDecision, Time: hour.Add(80 * time.Minute), Department: codes4, Resource: resource,
		Outcome: ledger.OutcomeOK, Reason: "revoke → revoked", RequestID: req.ID}
	afterRevocation := ledger.Record{Kind: ledger.KindPull, Time: hour.Add(110 * time.Minute), Department: codes4, Resource: resource,
		Subject: keyOf(subjects[2]), Matter: "M-200", Case: "C-AFTER", Outcome: ledger.OutcomeGranted}
	recs = append(recs, noCase, revokedPull, revocation, afterRevocation)
	idx := map[uint64]ledger.Record{}
	for _, r := range recs {
		i, err := th.h.Audit.Log.Append(ctx, r)
		require.NoError(t, err)
		idx[i] = r
	}
	indexOf := func(r ledger.Record) uint64 {
		for i, x := range idx {
			if x.Time.Equal(r.Time) && x.Department == r.Department && x.Kind == r.Kind {
				return i
			}
		}
		t.Fatalf("record %+v not appended", r)
		return 0
	}

	info, err := auditor.Audit.GetLogInfo(ctx, &auditv1.GetLogInfoRequest{})
	require.NoError(t, err)
	pub, err := sm.ParsePublicKeyPEM([]byte(info.GetPublicKeyPem()))
	require.NoError(t, err)
	logKey, err := sm2sig.NewVerifier(pub)
	require.NoError(t, err)

	t.Run("search by subject finds exactly its records, each provable", func(t *testing.T) {
		for _, s := range subjects {
			var want []uint64
			for i, r := range idx {
				if r.Subject == keyOf(s) {
					want = append(want, i)
				}
			}
			slices.Sort(want)
			var got []uint64
			tok := ""
			for {
				// The lower-case check letter hashes like the upper-case one.
				resp, err := auditor.Audit.SearchRecords(ctx, &auditv1.SearchRecordsRequest{Subject: " " + s + " ", PageSize: 7, PageToken: tok})
				require.NoError(t, err)
				for _, r := range resp.GetRecords() {
					require.Equal(t, keyOf(s).String(), r.GetSubjectKey())
					if r.GetKind() == string(ledgerserver.KindAuditSearch) {
						continue // an earlier search for this subject, itself audited
					}
					got = append(got, r.GetIndex())
				}
				if tok = resp.GetNextPageToken(); tok == "" {
					break
				}
			}
			require.Equal(t, want, got, "subject %d", len(s))
		}
		resp, err := auditor.Audit.SearchRecords(ctx, &auditv1.SearchRecordsRequest{Subject: "11010519491231002x", Department: codes4, Kind: "pull"})
		require.NoError(t, err)
		require.Len(t, resp.GetRecords(), 1)
		rec := resp.GetRecords()[0]
		require.Equal(t, indexOf(noCase), rec.GetIndex())
		_, err = sdk.VerifySearchResult(rec)
		require.NoError(t, err)
		forged := proto.Clone(rec).(*auditv1.AuditRecord)
		forged.Department = codes3
		_, err = sdk.VerifySearchResult(forged)
		require.ErrorContains(t, err, "fields differ from its leaf")

		// The result verifies against a signed head with its inclusion proof.
		var p *auditv1.InclusionProof
		require.Eventually(t, func() bool {
			p, err = auditor.Audit.GetInclusionProof(ctx, &auditv1.GetInclusionProofRequest{Index: rec.GetIndex()})
			return err == nil
		}, 10*time.Second, 50*time.Millisecond)
		require.Equal(t, rec.GetLeaf(), p.GetLeaf())
		var r ledger.Record
		require.NoError(t, r.UnmarshalBinary(rec.GetLeaf()))
		require.NoError(t, verify.Head(logKey, convert.HeadFromProto(p.GetHead())))
		require.NoError(t, verify.Record(logKey, convert.HeadFromProto(p.GetHead()), rec.GetIndex(), r, p.GetHashes()))
	})

	t.Run("filters", func(t *testing.T) {
		for name, tc := range map[string]struct {
			req  *auditv1.SearchRecordsRequest
			want func(ledger.Record) bool
		}{
			"case":         {&auditv1.SearchRecordsRequest{CaseNumber: "S-7"}, func(r ledger.Record) bool { return r.Case == "S-7" }},
			"department":   {&auditv1.SearchRecordsRequest{Department: codes4}, func(r ledger.Record) bool { return r.Department == codes4 }},
			"matter":       {&auditv1.SearchRecordsRequest{Matter: "M-200", Kind: "pull"}, func(r ledger.Record) bool { return r.Matter == "M-200" && r.Kind == ledger.KindPull }},
			"outcome":      {&auditv1.SearchRecordsRequest{Outcome: "denied", Resource: resource}, func(r ledger.Record) bool { return r.Outcome == ledger.OutcomeDenied }},
			"reason code":  {&auditv1.SearchRecordsRequest{ReasonCode: "revoke"}, func(r ledger.Record) bool { return r.Kind == ledger.KindRequirementDecision }},
			"without case": {&auditv1.SearchRecordsRequest{Kind: "pull", WithoutCase: true}, func(r ledger.Record) bool { return r.Kind == ledger.KindPull && r.Case == "" }},
			"spike hour": {&auditv1.SearchRecordsRequest{Department: codes3, From: timestamppb.New(hour), To: timestamppb.New(hour.Add(time.Hour))}, func(r ledger.Record) bool {
				return r.Department == codes3 && !r.Time.Before(hour) && r.Time.Before(hour.Add(time.Hour))
			}},
			"subject key": {&auditv1.SearchRecordsRequest{SubjectKey: keyOf(subjects[2]).String(), Kind: "pull"}, func(r ledger.Record) bool { return r.Subject == keyOf(subjects[2]) }},
		} {
			t.Run(name, func(t *testing.T) {
				tc.req.PageSize = 1000
				resp, err := auditor.Audit.SearchRecords(ctx, tc.req)
				require.NoError(t, err)
				var want, got []uint64
				for i, r := range idx {
					if tc.want(r) {
						want = append(want, i)
					}
				}
				slices.Sort(want)
				for _, r := range resp.GetRecords() {
					got = append(got, r.GetIndex())
				}
				require.NotEmpty(t, want)
				require.Equal(t, want, got)
			})
		}
	})

	t.Run("REST GET and POST search", func(t *testing.T) {
		me := th.identity(t, 6)
		path := "/v1/audit/records?" + url.Values{"subject": {subjects[1]}, "page_size": {"2"}, "kind": {"pull"}}.Encode()
		code, body := th.rest(t, "GET", path, sign(t, me, "GET", path, nil, time.Now()), nil)
		require.Equal(t, http.StatusOK, code, "%v", body)
		require.Len(t, body["records"], 2)
		require.NotEmpty(t, body["next_page_token"])
		b, err := json.Marshal(map[string]any{"subject": subjects[1], "outcome": "denied"})
		require.NoError(t, err)
		code, body = th.rest(t, "POST", "/v1/audit/records:search", sign(t, me, "POST", "/v1/audit/records:search", b, time.Now()), b)
		require.Equal(t, http.StatusOK, code, "%v", body)
		require.Len(t, body["records"], 1)
	})

	t.Run("refusals", func(t *testing.T) {
		_, err := consumer.Audit.SearchRecords(ctx, &auditv1.SearchRecordsRequest{Subject: subjects[0]})
		requireAuditReason(t, err, codes.PermissionDenied, "ROLE_REQUIRED")
		_, err = consumer.Audit.ListAnomalies(ctx, &auditv1.ListAnomaliesRequest{})
		requireAuditReason(t, err, codes.PermissionDenied, "ROLE_REQUIRED")
		_, err = consumer.Audit.SubjectUsage(ctx, &auditv1.SubjectUsageRequest{Subject: subjects[0], HolderReference: "x"})
		requireAuditReason(t, err, codes.PermissionDenied, "ROLE_REQUIRED")
		_, err = auditor.Audit.SearchRecords(ctx, &auditv1.SearchRecordsRequest{SubjectKey: "zz"})
		requireAuditReason(t, err, codes.InvalidArgument, "SUBJECT_KEY_INVALID")
		_, err = auditor.Audit.SearchRecords(ctx, &auditv1.SearchRecordsRequest{PageToken: "next"})
		requireAuditReason(t, err, codes.InvalidArgument, "PAGE_TOKEN_INVALID")
		_, err = coordinator.Audit.SubjectUsage(ctx, &auditv1.SubjectUsageRequest{Subject: subjects[0]})
		requireAuditReason(t, err, codes.InvalidArgument, "HOLDER_REFERENCE_REQUIRED")
	})

	t.Run("anomalies", func(t *testing.T) {
		resp, err := auditor.Audit.ListAnomalies(ctx, &auditv1.ListAnomaliesRequest{From: timestamppb.New(hour), To: timestamppb.New(hour.Add(2 * time.Hour))})
		require.NoError(t, err)
		require.Len(t, resp.GetRules(), 7)
		by := map[string][]*auditv1.Anomaly{}
		for _, a := range resp.GetAnomalies() {
			require.NotEmpty(t, a.GetExplanation())
			by[a.GetRule()] = append(by[a.GetRule()], a)
		}
		require.Len(t, by[ledgerserver.RulePullWithoutCase], 1)
		require.Equal(t, []uint64{indexOf(noCase)}, by[ledgerserver.RulePullWithoutCase][0].GetRecordIndices())
		require.Len(t, by[ledgerserver.RuleVolumeSpike], 1)
		spike := by[ledgerserver.RuleVolumeSpike][0]
		require.Equal(t, codes3, spike.GetDepartment())
		require.Equal(t, int64(30), spike.GetCount())
		require.Equal(t, float64(1), spike.GetBaselineMedian())
		require.True(t, spike.GetHour().AsTime().Equal(hour))
		require.Len(t, by[ledgerserver.RulePullRequirementRevoked], 1)
		require.Equal(t, []uint64{indexOf(revokedPull)}, by[ledgerserver.RulePullRequirementRevoked][0].GetRecordIndices())
		require.Len(t, by[ledgerserver.RulePullAfterRevocation], 1)
		after := by[ledgerserver.RulePullAfterRevocation][0]
		require.Equal(t, codes4, after.GetDepartment())
		require.Equal(t, []uint64{indexOf(afterRevocation)}, after.GetRecordIndices())
		require.Contains(t, after.GetExplanation(), req.ID)

		// A higher factor silences the spike; the window before the spike has none.
		resp, err = auditor.Audit.ListAnomalies(ctx, &auditv1.ListAnomaliesRequest{From: timestamppb.New(hour), To: timestamppb.New(hour.Add(time.Hour)), SpikeFactor: 40})
		require.NoError(t, err)
		for _, a := range resp.GetAnomalies() {
			require.NotEqual(t, ledgerserver.RuleVolumeSpike, a.GetRule())
		}
		_, err = auditor.Audit.ListAnomalies(ctx, &auditv1.ListAnomaliesRequest{From: timestamppb.New(hour), To: timestamppb.New(hour.Add(-time.Hour))})
		requireAuditReason(t, err, codes.InvalidArgument, "TIME_RANGE_INVALID")
	})

	t.Run("subject usage is itself audited", func(t *testing.T) {
		s := subjects[2]
		resp, err := coordinator.Audit.SubjectUsage(ctx, &auditv1.SubjectUsageRequest{Subject: s, HolderReference: "窗口办件 W-42, ID card checked", PageSize: 1000})
		require.NoError(t, err)
		var want []uint64
		for i, r := range idx {
			if r.Subject == keyOf(s) {
				want = append(want, i)
			}
		}
		slices.Sort(want)
		want = append(want, resp.GetLookupIndex()) // the lookup itself is a use the holder sees
		var got []uint64
		for _, u := range resp.GetUses() {
			if u.GetKind() == string(ledgerserver.KindAuditSearch) {
				continue // the searches above for this subject, themselves audited
			}
			got = append(got, u.GetIndex())
			if u.GetDepartment() == codes4 && u.GetKind() == "pull" {
				require.Equal(t, "重庆市住房公积金管理中心", u.GetDepartmentName())
				require.Equal(t, "C-AFTER", u.GetCaseNumber())
				require.Equal(t, "M-200", u.GetMatter())
			}
		}
		require.Equal(t, want, got)
		lookup, err := auditor.Audit.GetRecord(ctx, &auditv1.GetRecordRequest{Index: resp.GetLookupIndex()})
		require.NoError(t, err)
		require.Equal(t, string(ledgerserver.KindSubjectUsage), lookup.GetKind())
		require.Equal(t, th.identity(t, 0).Code, lookup.GetDepartment())
		require.Equal(t, keyOf(s).String(), lookup.GetSubjectKey())
		require.Contains(t, lookup.GetReason(), "W-42")
		require.NotContains(t, string(lookup.GetLeaf()), s, "the plain subject is never in the log")
	})
}

// TestAuditIndexBackfillOnOpen: a database whose leaves have no index rows (as before
// migration 11) gains them when the hub opens it.
func TestAuditIndexBackfillOnOpen(t *testing.T) {
	ctx := context.Background()
	cfg := config.Default()
	cfg.DataDir = t.TempDir()
	cfg.Listen = "127.0.0.1:0"
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	h, err := hub.New(ctx, cfg, log)
	require.NoError(t, err)
	subject := h.Audit.SubjectKey("500101199001011234")
	for i := range 5 {
		_, err := h.Audit.Log.Append(ctx, ledger.Record{Kind: ledger.KindPull, Time: time.Now(), Department: "11500000000000001X",
			Resource: "RES", Subject: subject, Case: fmt.Sprintf("C-%d", i), Outcome: ledger.OutcomeGranted})
		require.NoError(t, err)
	}
	require.NoError(t, h.Close())

	st, err := sqlite.Open(ctx, cfg.DataDir)
	require.NoError(t, err)
	_, err = st.DB().ExecContext(ctx, `DELETE FROM audit_index`)
	require.NoError(t, err)
	_, err = st.DB().ExecContext(ctx, `DELETE FROM audit_index_state`)
	require.NoError(t, err)
	var n int
	require.NoError(t, st.DB().QueryRowContext(ctx, `SELECT count(*) FROM audit_index`).Scan(&n))
	require.Zero(t, n)
	require.NoError(t, st.Close())

	h, err = hub.New(ctx, cfg, log)
	require.NoError(t, err)
	defer h.Close()
	got, err := h.Audit.Index.Search(ctx, store.AuditQuery{Subject: subject}, 0, 100)
	require.NoError(t, err)
	require.Len(t, got, 5)
	for i, e := range got {
		require.Equal(t, fmt.Sprintf("C-%d", i), e.Record.Case)
	}
}
