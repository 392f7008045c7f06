package hub_test

import (
	"context"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gxhub/gxhub/certs/sm"
	"github.com/gxhub/gxhub/exchange/server"
	"github.com/gxhub/gxhub/exchange/store/storetest"
	"github.com/gxhub/gxhub/policy"
	adminv1 "github.com/gxhub/gxhub/sdk/api/admin/v1"
	auditv1 "github.com/gxhub/gxhub/sdk/api/audit/v1"
	certsv1 "github.com/gxhub/gxhub/sdk/api/certs/v1"
	exchangev1 "github.com/gxhub/gxhub/sdk/api/exchange/v1"
	"github.com/gxhub/gxhub/sdk/identity"
)

// TestAuditDecisionsCoverEveryRPC walks every RPC of every gxhub service (from the
// generated descriptors) and fails when one has no audit decision in
// server.AuditDecisions — a new RPC must say what it records, or why nothing — and when
// the list names an RPC that does not exist. A decision either names kinds or says why it
// records none, never both.
func TestAuditDecisionsCoverEveryRPC(t *testing.T) {
	methods := gxhubMethods(t)
	var missing, unknown []string
	for m := range methods {
		if _, ok := server.AuditDecisions[m]; !ok {
			missing = append(missing, m)
		}
	}
	for m, d := range server.AuditDecisions {
		if _, ok := methods[m]; !ok {
			unknown = append(unknown, m)
		}
		require.True(t, (len(d.Kinds) > 0) != (d.NotAudited != ""), "%s: a decision names the kinds it records or why it records none, not both", m)
		require.True(t, d.When == "" || len(d.Kinds) > 0, "%s: When narrows audited kinds", m)
	}
	sort.Strings(missing)
	sort.Strings(unknown)
	require.Empty(t, missing, "RPCs without an audit decision: add each to server.AuditDecisions (exchange/server/auditdecisions.go)")
	require.Empty(t, unknown, "audit decisions for RPCs that do not exist")
}

// TestAuditedCallsLeaveTheirRecords calls audited RPCs on a real hub — every write and
// every read of personal data the audit decisions name for catalogue changes, objections,
// heartbeats, matters, cases, policy, calendar, record-history reads and subject lookups,
// and the writes the crash test loads — and checks that each call left a record of a kind
// its decision declares, made by the calling department and naming its signed request,
// before it was answered.
func TestAuditedCallsLeaveTheirRecords(t *testing.T) {
	ctx := context.Background()
	dh := startDataHub(t, cst("2026-03-03 09:00"))
	police, yubei, coord := dh.c(dh.police), dh.c(dh.yubei), dh.c(dh.coordinator)
	a := storetest.IDNumber(41)
	checked := map[string]bool{}
	call := func(method string, by *identity.Identity, fn func() error) {
		t.Helper()
		d, ok := server.AuditDecisions[method]
		require.True(t, ok, "%s has an audit decision", method)
		require.NotEmpty(t, d.Kinds, "%s is audited", method)
		before := dh.auditSize(t)
		require.NoError(t, fn(), method)
		found := false
		for _, e := range dh.auditFrom(t, before) {
			if slices.Contains(d.Kinds, e.Record.Kind) && e.Record.Department == by.Code {
				found = true
				// Written through the outbox or appended directly, the record names the
				// signed request behind it (kept as evidence).
				require.Len(t, e.Record.RequestDigest, 32, "%s: record %d keeps no request evidence", method, e.Index)
			}
		}
		require.True(t, found, "%s left no %v record by %s", method, d.Kinds, by.Code)
		checked[method] = true
	}
	svc := func(s, m string) string { return "/gxhub." + s + "/" + m }

	call(svc("exchange.v1.RecordService", "Publish"), dh.police, func() error { dh.publish(t, "audit-1", a); return nil })
	call(svc("exchange.v1.RecordService", "GetRecordHistory"), dh.police, func() error {
		_, err := police.Records.GetRecordHistory(ctx, &exchangev1.GetRecordHistoryRequest{Resource: dh.resource, Subject: a})
		return err
	})
	call(svc("exchange.v1.FreshnessService", "Heartbeat"), dh.police, func() error {
		_, err := police.Freshness.Heartbeat(ctx, &exchangev1.HeartbeatRequest{Resource: dh.resource})
		return err
	})
	call(svc("exchange.v1.CaseService", "OpenCase"), dh.yubei, func() error { dh.openCase(t, "YB-AUD-1", matter1, a); return nil })
	call(svc("exchange.v1.CaseService", "GetCase"), dh.yubei, func() error {
		_, err := yubei.Cases.GetCase(ctx, &exchangev1.GetCaseRequest{Number: "YB-AUD-1"})
		return err
	})
	call(svc("exchange.v1.CaseService", "ListCases"), dh.yubei, func() error {
		_, err := yubei.Cases.ListCases(ctx, &exchangev1.ListCasesRequest{})
		return err
	})
	call(svc("exchange.v1.PullService", "Pull"), dh.yubei, func() error {
		_, err := yubei.Pulls.Pull(ctx, &exchangev1.PullRequest{RequirementId: dh.granted, MatterCode: matter1, CaseNumber: "YB-AUD-1", Subjects: []string{a}})
		return err
	})
	call(svc("exchange.v1.PullService", "CreateBatch"), dh.yubei, func() error {
		_, err := yubei.Pulls.CreateBatch(ctx, &exchangev1.CreateBatchRequest{RequirementId: dh.batchRequirement(t, "REQ-YB-AUD-BATCH"), MatterCode: matter1})
		return err
	})
	var objection string
	call(svc("exchange.v1.ObjectionService", "RaiseObjection"), dh.yubei, func() error {
		r, err := yubei.Objections.RaiseObjection(ctx, &exchangev1.RaiseObjectionRequest{Resource: dh.resource, Subject: a, Items: []string{"address"}, Text: "地址有误"})
		objection = r.GetObjection().GetId()
		return err
	})
	call(svc("exchange.v1.ObjectionService", "ListObjections"), dh.police, func() error {
		_, err := police.Objections.ListObjections(ctx, &exchangev1.ListObjectionsRequest{As: "provider"})
		return err
	})
	call(svc("exchange.v1.ObjectionService", "ResolveObjection"), dh.police, func() error {
		_, err := police.Objections.ResolveObjection(ctx, &exchangev1.ResolveObjectionRequest{Id: objection, State: exchangev1.ObjectionState_OBJECTION_STATE_REJECTED, Resolution: "核实无误"})
		return err
	})
	call(svc("exchange.v1.MatterService", "CollectMaterials"), dh.yubei, func() error {
		before := dh.auditSize(t)
		r, err := yubei.Matters.CollectMaterials(ctx, &exchangev1.CollectMaterialsRequest{Code: matter1, CaseNumber: "YB-AUD-1", Applicant: a})
		require.NoError(t, err)
		require.NotEmpty(t, r.GetMaterials())
		require.Empty(t, r.GetMaterials()[0].GetErrorReason())
		collected := false
		for _, e := range dh.auditFrom(t, before) {
			collected = collected || (e.Record.Kind == server.KindCase && e.Record.Case == "YB-AUD-1" && strings.HasPrefix(e.Record.Reason, "collect: "))
		}
		require.True(t, collected, "the materials recorded in the case have their case record")
		return nil
	})
	call(svc("exchange.v1.CaseService", "CloseCase"), dh.yubei, func() error {
		_, err := yubei.Cases.CloseCase(ctx, &exchangev1.CloseCaseRequest{Number: "YB-AUD-1"})
		return err
	})
	call(svc("exchange.v1.CaseService", "WithdrawCase"), dh.yubei, func() error {
		dh.openCase(t, "YB-AUD-2", matter1, a)
		_, err := yubei.Cases.WithdrawCase(ctx, &exchangev1.WithdrawCaseRequest{Number: "YB-AUD-2", Comment: "申请人撤回"})
		return err
	})
	call(svc("exchange.v1.MatterService", "DefineMatter"), dh.coordinator, func() error {
		_, err := coord.Matters.DefineMatter(ctx, &exchangev1.DefineMatterRequest{Matter: &exchangev1.Matter{Code: "500000-AUD-XK", Name: "审计测试事项",
			Department: dh.yubei.Code, TimeLimitDays: 5, LegalBasis: &exchangev1.LegalBasis{Kind: "administrative_regulation", Title: "优化营商环境条例", Article: "第三十五条"},
			Materials: []*exchangev1.Material{{Id: "household", Name: "户口簿", Resource: dh.resource, Items: []string{"name"}}}}})
		return err
	})
	call(svc("exchange.v1.MatterService", "GetExemptions"), dh.yubei, func() error {
		_, err := yubei.Matters.GetExemptions(ctx, &exchangev1.GetExemptionsRequest{Code: matter1, Applicant: a})
		return err
	})
	call(svc("exchange.v1.PolicyService", "ChangePolicy"), dh.yubei, func() error {
		pol, err := yubei.Policy.GetPolicy(ctx, &exchangev1.GetPolicyRequest{})
		require.NoError(t, err)
		_, err = yubei.Policy.ChangePolicy(ctx, &exchangev1.ChangePolicyRequest{ExpectVersion: pol.GetVersion(),
			Add: []*exchangev1.PolicyRule{{Ptype: "g", Fields: []string{"clerk-7", policy.RoleOperator, dh.yubei.Code}}}, Comment: "audit test"})
		return err
	})
	call(svc("exchange.v1.CalendarService", "PublishCalendar"), dh.coordinator, func() error {
		_, err := coord.Calendar.PublishCalendar(ctx, &exchangev1.PublishCalendarRequest{File: madeUp2027(t)})
		return err
	})
	res := &exchangev1.Resource{Code: "500000-GA-AUD-0001", Name: "审计测试资源", SubjectKind: "id_number", ShareType: "unconditional",
		UpdateCycle: "daily", ProvisionMethod: "pull_api", ScopeRegion: "500000",
		Items: []*exchangev1.DataItem{{Name: "name", Title: "姓名", Type: "string", Sensitivity: "personal"}}}
	call(svc("exchange.v1.CatalogService", "RegisterResource"), dh.police, func() error {
		_, err := police.Catalog.RegisterResource(ctx, &exchangev1.RegisterResourceRequest{Resource: res})
		return err
	})
	call(svc("exchange.v1.CatalogService", "WithdrawResource"), dh.police, func() error {
		_, err := police.Catalog.WithdrawResource(ctx, &exchangev1.WithdrawResourceRequest{Code: res.Code, Version: 1})
		return err
	})
	var req string
	call(svc("exchange.v1.RequirementService", "FileRequirement"), dh.yubei, func() error {
		r, err := yubei.Requirements.FileRequirement(ctx, &exchangev1.FileRequirementRequest{Resource: dh.resource, Items: []string{"name"},
			MatterCodes: []string{matter1}, LegalDuty: "《重庆市政务数据资源管理暂行办法》"})
		req = r.GetRequirement().GetId()
		return err
	})
	call(svc("exchange.v1.RequirementService", "DecideRequirement"), dh.coordinator, func() error {
		_, err := coord.Requirements.DecideRequirement(ctx, &exchangev1.DecideRequirementRequest{Id: req, Action: "accept_complete"})
		return err
	})
	call(svc("audit.v1.AuditService", "SubjectUsage"), dh.coordinator, func() error {
		_, err := coord.Audit.SubjectUsage(ctx, &auditv1.SubjectUsageRequest{Subject: a, HolderReference: "窗口办件 W-7, ID card checked"})
		return err
	})
	call(svc("audit.v1.AuditService", "SearchRecords"), dh.coordinator, func() error {
		_, err := coord.Audit.SearchRecords(ctx, &auditv1.SearchRecordsRequest{Subject: a})
		return err
	})
	call(svc("certs.v1.ECertService", "ListECerts"), dh.yubei, func() error {
		_, err := yubei.ECert.ListECerts(ctx, &certsv1.ListECertsRequest{HolderCode: a})
		return err
	})
	call(svc("admin.v1.AdminService", "RegisterDepartment"), dh.coordinator, func() error {
		key, err := sm.GenerateKey()
		require.NoError(t, err)
		pub, err := sm.MarshalPublicKeyPEM(&key.PublicKey)
		require.NoError(t, err)
		_, err = coord.Admin.RegisterDepartment(ctx, &adminv1.RegisterDepartmentRequest{PublicKeyPem: string(pub), Department: &adminv1.Department{
			Code: hubCode(t, "500112", "77000099"), Name: "审计测试局", Level: adminv1.Level_LEVEL_COUNTY, Region: "500112", Roles: []adminv1.Role{adminv1.Role_ROLE_CONSUMER}}})
		return err
	})
	t.Logf("checked %d audited RPCs on a real hub", len(checked))
	// Every write's intent reached the log before its answer: nothing pending, nothing forged.
	m := metrics(t, dh)
	require.Contains(t, m, "gxhub_audit_outbox_pending 0")
	require.Contains(t, m, "gxhub_audit_outbox_tampered 0")
}
