package hub_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"

	"github.com/gxhub/gxhub/exchange"
	"github.com/gxhub/gxhub/ledger"
	"github.com/gxhub/gxhub/sdk"
	exchangev1 "github.com/gxhub/gxhub/sdk/api/exchange/v1"
)

// Minimisation on a real hub (TLS, SQLite, audit log): masked values unless clear text is
// approved, clear text of sensitive personal items only with a legal basis, verify-only
// requirements that never return a value; and what an insider tries against them.

const (
	minA = "500112199001011239" // applicant
	minB = "110105195001010012" // declared party
)

// pullFields pulls the items under rq for case YB-M1 and returns the first record's fields
// and the items the hub says it masked.
func (dh *dataHub) pullFields(t *testing.T, rq string, items ...string) (map[string]string, []string) {
	t.Helper()
	resp, err := dh.c(dh.yubei).Pulls.Pull(context.Background(), &exchangev1.PullRequest{RequirementId: rq, MatterCode: matter1, CaseNumber: "YB-M1",
		Subjects: []string{minA}, Items: items})
	require.NoError(t, err)
	res, err := sdk.VerifyPull(resp, &dh.h.PullKey.PublicKey)
	require.NoError(t, err)
	return res.GetRecords()[0].GetFields(), res.GetMaskedItems()
}

// storeRequirement stores a granted requirement of 渝北 on the test resource directly in the
// database, as an insider with database access would, bypassing the filing checks.
func (dh *dataHub) storeRequirement(t testing.TB, id string, mut func(*exchange.Requirement)) string {
	t.Helper()
	at := dh.clock.Now()
	r := &exchange.Requirement{ID: id, Consumer: dh.yubei.Code, Provider: dh.police.Code, Resource: dh.resource, Items: []string{"name", "address", "ethnicity"},
		MatterCodes: []string{matter1}, LegalDuty: "《重庆市政务数据资源管理暂行办法》", ScopeRegion: "500000", State: exchange.ReqGranted, CreatedAt: at, UpdatedAt: at,
		Decisions: []exchange.Decision{{Seq: 1, Action: exchange.ActSubmit, By: dh.yubei.Code, At: at}, {Seq: 2, Action: exchange.ActGrant, By: dh.police.Code, At: at}}}
	mut(r)
	require.NoError(t, dh.h.Store.Requirements().Create(context.Background(), r))
	return id
}

var idLaw = &exchangev1.LegalBasis{Kind: "law", Title: "中华人民共和国居民身份证法", Article: "第十三条"}

// TestMaskingOnHub: a pull returns masked values and says which; clear text comes only
// with an approved requirement, and for a sensitive personal item only with a legal basis;
// neither a requirement written into the database, nor a catalogue edit, nor a policy rule
// gets around it.
func TestMaskingOnHub(t *testing.T) {
	dh := startDataHub(t, cst("2026-03-02 10:00"))
	ctx := context.Background()
	dh.publish(t, "batch-1", minA, minB)
	dh.openCase(t, "YB-M1", matter1, minA, minB)
	clearName, clearAddress, clearEthnicity := "测试123", "重庆市渝北区batch-1", "汉"

	fields, masked := dh.pullFields(t, dh.granted)
	require.Equal(t, map[string]string{"name": "***", "address": "重庆市渝北区***"}, fields)
	require.Equal(t, []string{"name", "address"}, masked)

	// Filing: clear text of the sensitive personal item without a basis is refused.
	file := func(clear ...*exchangev1.ClearText) (*exchangev1.FileRequirementResponse, error) {
		return dh.c(dh.yubei).Requirements.FileRequirement(ctx, &exchangev1.FileRequirementRequest{Resource: dh.resource,
			Items: []string{"name", "address", "ethnicity"}, MatterCodes: []string{matter1}, LegalDuty: "《重庆市政务数据资源管理暂行办法》第十二条", ClearText: clear})
	}
	_, err := file(&exchangev1.ClearText{Item: "ethnicity"})
	requireReason(t, err, codes.InvalidArgument, "LEGAL_BASIS_REQUIRED")
	_, err = file(&exchangev1.ClearText{Item: "ethnicity", LegalBasis: &exchangev1.LegalBasis{Kind: "rule", Title: "x", Article: "第一条"}})
	requireReason(t, err, codes.InvalidArgument, "LEGAL_BASIS_TITLE_INVALID")

	// Filed with a basis, reviewed and granted: name and ethnicity clear, address masked.
	f, err := file(&exchangev1.ClearText{Item: "name"}, &exchangev1.ClearText{Item: "ethnicity", LegalBasis: idLaw})
	require.NoError(t, err)
	rq := f.GetRequirement()
	require.Len(t, rq.GetClearText(), 2)
	require.Equal(t, "《中华人民共和国居民身份证法》第十三条（法律）", rq.GetClearText()[1].GetLegalBasis().GetCitation())
	decide := func(by *sdk.Client, action string) {
		_, err := by.Requirements.DecideRequirement(ctx, &exchangev1.DecideRequirementRequest{Id: rq.GetId(), Action: action})
		require.NoError(t, err)
	}
	decide(dh.c(dh.coordinator), "accept_complete")
	decide(dh.c(dh.police), "grant")
	before := dh.auditSize(t)
	fields, masked = dh.pullFields(t, rq.GetId())
	require.Equal(t, map[string]string{"name": clearName, "address": "重庆市渝北区***", "ethnicity": clearEthnicity}, fields)
	require.Equal(t, []string{"address"}, masked)
	recs := dh.auditFrom(t, before)
	require.NotEmpty(t, recs)
	require.Contains(t, recs[0].Record.Reason, "clear text approved: name; ethnicity under 《中华人民共和国居民身份证法》第十三条（法律）")

	t.Run("insider writes clear text without a basis into the database", func(t *testing.T) {
		id := dh.storeRequirement(t, "REQ-YB-DB", func(r *exchange.Requirement) {
			r.ClearText = []exchange.ClearText{{Item: "ethnicity"}, {Item: "address", Basis: exchange.LegalBasis{Title: "内部通知"}}}
		})
		fields, masked := dh.pullFields(t, id)
		require.Equal(t, "***", fields["ethnicity"], "sensitive personal data is clear only with a valid legal basis, checked on every pull")
		require.Equal(t, clearAddress, fields["address"], "a personal item is clear by the grant")
		require.Equal(t, []string{"name", "ethnicity"}, masked)
	})

	t.Run("a wildcard policy rule changes nothing", func(t *testing.T) {
		coord := dh.c(dh.coordinator)
		pol, err := coord.Policy.GetPolicy(ctx, &exchangev1.GetPolicyRequest{})
		require.NoError(t, err)
		_, err = coord.Policy.ChangePolicy(ctx, &exchangev1.ChangePolicyRequest{ExpectVersion: pol.GetVersion(), Add: []*exchangev1.PolicyRule{wildcardAllow}, Comment: "ANYTHING_GOES"})
		require.NoError(t, err)
		fields, _ := dh.pullFields(t, dh.granted)
		require.Equal(t, map[string]string{"name": "***", "address": "重庆市渝北区***"}, fields)
	})

	t.Run("the provider's catalogue edit waits for the coordinator", func(t *testing.T) {
		police := dh.c(dh.police)
		cur, err := police.Catalog.GetResource(ctx, &exchangev1.GetResourceRequest{Code: dh.resource})
		require.NoError(t, err)
		next := proto.Clone(cur).(*exchangev1.Resource)
		next.Items[0].Sensitivity = "public"
		resp, err := police.Catalog.UpdateResource(ctx, &exchangev1.UpdateResourceRequest{Resource: next})
		require.NoError(t, err)
		require.NotNil(t, resp.GetProposal(), "lowering a personal item's sensitivity is a proposal")
		require.Contains(t, resp.GetProposal().GetNarrowing(), "lowers the sensitivity of data item name (personal → public)")
		require.Equal(t, cur.GetVersion(), resp.GetResource().GetVersion(), "the resource is unchanged")
		fields, _ := dh.pullFields(t, dh.granted)
		require.Equal(t, "***", fields["name"])

		_, err = police.Catalog.DecideProposal(ctx, &exchangev1.DecideProposalRequest{Id: resp.GetProposal().GetId(), Action: "withdraw"})
		require.NoError(t, err)
		next = proto.Clone(cur).(*exchangev1.Resource)
		next.Items[1].Mask = "none"
		_, err = police.Catalog.UpdateResource(ctx, &exchangev1.UpdateResourceRequest{Resource: next})
		requireReason(t, err, codes.InvalidArgument, "MASK_RULE_REQUIRED")
	})
}

// TestVerifyOnlyOnHub: a verify-only requirement answers match / mismatch / no record per
// claimed item and never a value — on the raw gRPC and REST bytes — signed and audited;
// a pull under it is refused, also with a wildcard allow rule in the policy.
func TestVerifyOnlyOnHub(t *testing.T) {
	dh := startDataHub(t, cst("2026-03-02 10:00"))
	ctx := context.Background()
	dh.publish(t, "batch-1", minA, minB)
	dh.openCase(t, "YB-M1", matter1, minA, minB)
	values := []string{"测试123", "重庆市渝北区", "batch-1", "汉", "土家"}

	yubei := dh.c(dh.yubei)
	f, err := yubei.Requirements.FileRequirement(ctx, &exchangev1.FileRequirementRequest{Resource: dh.resource, VerifyOnly: true,
		Items: []string{"name", "address", "ethnicity"}, MatterCodes: []string{matter1}, LegalDuty: "《重庆市政务数据资源管理暂行办法》第十二条"})
	require.NoError(t, err)
	rq := f.GetRequirement()
	require.True(t, rq.GetVerifyOnly())
	for _, d := range []struct {
		by     *sdk.Client
		action string
	}{{dh.c(dh.coordinator), "accept_complete"}, {dh.c(dh.police), "grant"}} {
		_, err := d.by.Requirements.DecideRequirement(ctx, &exchangev1.DecideRequirementRequest{Id: rq.GetId(), Action: d.action})
		require.NoError(t, err)
	}

	req := &exchangev1.VerifyDataRequest{RequirementId: rq.GetId(), MatterCode: matter1, CaseNumber: "YB-M1", Subject: minA,
		Claims: map[string]string{"name": "测试１２３", "address": "重庆市江北区", "ethnicity": " 汉 "}}
	before := dh.auditSize(t)
	resp, err := yubei.Pulls.VerifyData(ctx, req)
	require.NoError(t, err)
	res, err := sdk.VerifyData(resp, &dh.h.PullKey.PublicKey)
	require.NoError(t, err)
	got := map[string]string{}
	for _, v := range res.GetResults() {
		got[v.GetItem()] = v.GetOutcome()
	}
	require.Equal(t, map[string]string{"name": "match", "address": "mismatch", "ethnicity": "match"}, got)
	raw, err := proto.Marshal(resp)
	require.NoError(t, err)
	for _, v := range values {
		require.NotContains(t, string(raw), v, "the gRPC response holds no value of the register")
	}
	recs := dh.auditFrom(t, before)
	require.Len(t, recs, 1)
	require.Equal(t, ledger.KindPull, recs[0].Record.Kind)
	require.Equal(t, ledger.OutcomeGranted, recs[0].Record.Outcome)
	require.True(t, strings.HasPrefix(recs[0].Record.Reason, "VERIFIED: "), recs[0].Record.Reason)
	require.Equal(t, resp.GetAuditReferences(), []uint64{before})
	digest := sdk.VerifyDataDigest(resp)
	require.Equal(t, digest[:], recs[0].Record.ResponseDigest, "the audit record binds the signed answer")

	// No record for a subject the provider never published.
	dh.openCase(t, "YB-M2", matter1, "11010519491231002X")
	resp, err = yubei.Pulls.VerifyData(ctx, &exchangev1.VerifyDataRequest{RequirementId: rq.GetId(), MatterCode: matter1, CaseNumber: "YB-M2",
		Subject: "11010519491231002X", Claims: map[string]string{"name": "张三"}})
	require.NoError(t, err)
	require.Equal(t, "no_record", resp.GetResult().GetResults()[0].GetOutcome())

	// REST: the raw body holds outcomes only.
	rp := newRESTProbe(t, dh)
	body, err := json.Marshal(map[string]any{"requirementId": rq.GetId(), "matterCode": matter1, "caseNumber": "YB-M1", "subject": minA,
		"claims": map[string]string{"name": "错误的名字", "address": "重庆市渝北区batch-1"}})
	require.NoError(t, err)
	hreq, err := http.NewRequestWithContext(ctx, http.MethodPost, dh.yubei.HubURL+"/v1/verifications", strings.NewReader(string(body)))
	require.NoError(t, err)
	hreq.Header.Set("Authorization", rp.sign(t, dh.yubei, dh.clock.Now(), http.MethodPost, "/v1/verifications", body))
	hreq.Header.Set("Content-Type", "application/json")
	hresp, err := rp.hc.Do(hreq)
	require.NoError(t, err)
	rawBody, err := io.ReadAll(hresp.Body)
	require.NoError(t, hresp.Body.Close())
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, hresp.StatusCode, "%s", rawBody)
	require.Contains(t, string(rawBody), `"outcome":"match"`)
	require.Contains(t, string(rawBody), `"outcome":"mismatch"`)
	for _, v := range append(values, "错误的名字") {
		require.NotContains(t, string(rawBody), v, "the REST response holds no value, not even the claimed one")
	}

	// A pull under the verify-only requirement is refused, with or without a wildcard rule.
	pull := &exchangev1.PullRequest{RequirementId: rq.GetId(), MatterCode: matter1, CaseNumber: "YB-M1", Subjects: []string{minA}}
	_, err = yubei.Pulls.Pull(ctx, pull)
	requireReason(t, err, codes.PermissionDenied, exchange.ReasonVerifyOnly)
	coord := dh.c(dh.coordinator)
	pol, err := coord.Policy.GetPolicy(ctx, &exchangev1.GetPolicyRequest{})
	require.NoError(t, err)
	_, err = coord.Policy.ChangePolicy(ctx, &exchangev1.ChangePolicyRequest{ExpectVersion: pol.GetVersion(), Add: []*exchangev1.PolicyRule{wildcardAllow}, Comment: "ANYTHING_GOES"})
	require.NoError(t, err)
	_, err = yubei.Pulls.Pull(ctx, pull)
	requireReason(t, err, codes.PermissionDenied, exchange.ReasonVerifyOnly)

	// A claim for an item the requirement did not approve is refused and audited.
	_, err = yubei.Pulls.VerifyData(ctx, &exchangev1.VerifyDataRequest{RequirementId: dh.granted, MatterCode: matter1, CaseNumber: "YB-M1",
		Subject: minA, Claims: map[string]string{"ethnicity": "汉"}})
	requireReason(t, err, codes.PermissionDenied, exchange.ReasonDataItemNotApproved)
}
