package main_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestCatalogRequirementMatterCLI drives gxctl catalog, requirement and matter against a
// real `gxhub serve --demo`: the departments act through their own identities.
func TestCatalogRequirementMatterCLI(t *testing.T) {
	gxhubBin, gxctlBin := buildBinaries(t)
	hub := startGxhub(t, gxhubBin, t.TempDir(), freePort(t))
	t.Cleanup(func() { hub.stop(t) })
	ids := hub.identities()
	require.GreaterOrEqual(t, len(ids), 8, "demo identities: %v", hub.out)
	coordinator, market, police, fund, yubei := ids[0], ids[1], ids[2], ids[4], ids[7]
	run := func(id string, args ...string) (string, int) {
		t.Helper()
		return gxctl(t, gxctlBin, append([]string{"--identity", id}, args...)...)
	}
	ok := func(id string, args ...string) string {
		t.Helper()
		out, code := run(id, args...)
		require.Equal(t, 0, code, out)
		return out
	}
	refused := func(reason, id string, args ...string) {
		t.Helper()
		out, code := run(id, args...)
		require.Equal(t, 1, code, out)
		require.Contains(t, out, reason)
	}
	jsonOf := func(out string) map[string]any {
		t.Helper()
		var m map[string]any
		require.NoError(t, json.Unmarshal([]byte(out), &m), out)
		return m
	}

	// The demo scene: the catalogue and the 住房公积金 matter are there.
	out := ok(yubei, "catalog", "search")
	for _, name := range []string{"营业执照信息", "户籍人口信息", "不动产登记信息", "婚姻登记信息", "居民身份证指纹信息"} {
		require.Contains(t, out, name)
	}
	out = ok(yubei, "catalog", "search", "--share-type", "not_shared")
	require.Contains(t, out, "500000-GA-0009")
	require.Contains(t, ok(yubei, "catalog", "get", "500000-GA-0009"), "《中华人民共和国居民身份证法》")
	require.Contains(t, ok(yubei, "catalog", "get", "500000-BDC-0001"), "published false")
	require.Contains(t, ok(fund, "matter", "get", "500000-GJJ-0001"), "婚姻状况证明")

	// Catalogue: register, change (new version), history, search.
	out = ok(market, "catalog", "register", "--code", "500000-SCJG-0101", "--name", "食品经营许可信息", "--subject-kind", "uscc",
		"--share-type", "unconditional", "--update-cycle", "daily", "--provision", "pull_api", "--region", "500000",
		"--item", "licence_number:许可证编号:string:public", "--item", "name:经营者名称:string:public")
	require.Contains(t, out, "500000-SCJG-0101")
	refused("ROLE_REQUIRED", yubei, "catalog", "register", "--code", "500112-X-001", "--name", "x", "--subject-kind", "uscc",
		"--share-type", "unconditional", "--update-cycle", "daily", "--provision", "pull_api", "--region", "500112", "--item", "a:甲:string:public")
	refused("NOT_RESOURCE_PROVIDER", police, "catalog", "update", "500000-SCJG-0101", "--name", "篡改")
	ok(market, "catalog", "update", "500000-SCJG-0101", "--name", "食品经营许可证信息")
	out = ok(yubei, "catalog", "history", "500000-SCJG-0101")
	require.Contains(t, out, "食品经营许可信息")
	require.Contains(t, out, "食品经营许可证信息")
	out = ok(yubei, "catalog", "get", "500000-SCJG-0101", "--version", "1")
	require.Contains(t, out, "v1  食品经营许可信息")
	require.Contains(t, out, "经营者名称")
	out = ok(yubei, "catalog", "search", "许可证")
	require.Contains(t, out, "500000-SCJG-0101")
	out = ok(yubei, "--json", "catalog", "search", "--item", "经营者")
	rs := jsonOf(out)["resources"].([]any)
	require.Len(t, rs, 1)
	require.Equal(t, float64(2), rs[0].(map[string]any)["version"])

	ok(police, "catalog", "register", "--code", "500000-GA-0101", "--name", "户籍人口信息", "--subject-kind", "id_number",
		"--share-type", "conditional", "--condition", "依法履职", "--update-cycle", "daily", "--provision", "pull_api", "--region", "500000",
		"--item", "name:姓名:string:personal", "--item", "household_address:户籍地址:string:personal")

	// Matter registry: the coordinator alone registers; requirements name registered matters.
	refused("MATTER_UNKNOWN", fund, "requirement", "file", "--resource", "500000-SCJG-0101", "--item", "name",
		"--matter", "500000-GJJ-0101", "--duty", "《住房公积金管理条例》")
	matterArgs := []string{"matter", "define", "--code", "500000-GJJ-0101", "--name", "住房公积金提取", "--department", filepath.Base(fund),
		"--time-limit", "3", "--legal-basis", "行政法规:住房公积金管理条例:第二十四条:国务院令第350号",
		"--material", "household:户口簿:resource=500000-GA-0101:items=name,household_address", "--material", "contract:购房合同"}
	refused("ROLE_REQUIRED", fund, matterArgs...)
	refused("LEGAL_BASIS_TITLE_INVALID", coordinator, append(matterArgs[:10:10], "--legal-basis", "行政法规:x:第二十四条")...)
	out = ok(coordinator, matterArgs...)
	require.Contains(t, out, "《住房公积金管理条例》（国务院令第350号）第二十四条（行政法规）")
	require.Contains(t, out, "within 3 working day(s)")

	// Unconditional: granted at once; the provider cannot refuse.
	lic := jsonOf(ok(fund, "--json", "requirement", "file", "--resource", "500000-SCJG-0101", "--item", "name",
		"--matter", "500000-GJJ-0101", "--duty", "《住房公积金管理条例》"))
	require.Equal(t, "granted", lic["state"])
	refused("UNCONDITIONAL_REFUSAL_FORBIDDEN", market, "requirement", "answer", lic["id"].(string), "--refuse", "--legal-basis", "规章:某某规定:第一条")

	// Conditional: review, refusal without a basis refused, grant, revoke.
	hh := jsonOf(ok(fund, "--json", "requirement", "file", "--resource", "500000-GA-0101", "--item", "name", "--item", "household_address",
		"--matter", "500000-GJJ-0101", "--duty", "《住房公积金管理条例》"))
	id := hh["id"].(string)
	require.Equal(t, "under_review", hh["state"])
	refused("ROLE_REQUIRED", police, "requirement", "review", id, "--accept")
	out, code := run(coordinator, "requirement", "review", id)
	require.Equal(t, 2, code, "an action must be chosen: %s", out)
	require.Contains(t, ok(coordinator, "requirement", "review", id, "--accept"), "awaiting_provider")
	refused("NOT_REQUIREMENT_PROVIDER", fund, "requirement", "answer", id, "--grant")
	refused("LEGAL_BASIS_REQUIRED", police, "requirement", "answer", id, "--refuse")
	refused("LEGAL_BASIS_KIND_INVALID", police, "requirement", "answer", id, "--refuse", "--legal-basis", "x")
	out = ok(police, "requirement", "answer", id, "--grant")
	require.Contains(t, out, "granted")
	require.Contains(t, out, "SM2 (body SM3 ", "decisions show their signed evidence")
	out = ok(police, "requirement", "list", "--provider", filepath.Base(police))
	require.Contains(t, out, id)
	out = ok(coordinator, "requirement", "escalations")
	require.NotContains(t, out, id)

	// Matter: exemptions follow the grant, and end with the revocation.
	out = ok(fund, "matter", "get", "500000-GJJ-0101")
	require.Contains(t, out, "户口簿")
	out = ok(fund, "matter", "exemptions", "500000-GJJ-0101", "--applicant", "11010519491231002X")
	require.Contains(t, out, "免于提交")
	require.Contains(t, out, id)
	refused("NOT_REQUIREMENT_CONSUMER", police, "requirement", "revoke", id)
	require.Contains(t, ok(fund, "requirement", "revoke", id), "revoked")
	ex := jsonOf(ok(fund, "--json", "matter", "exemptions", "500000-GJJ-0101", "--applicant", "11010519491231002X"))
	for _, e := range ex["exemptions"].([]any) {
		require.Equal(t, false, e.(map[string]any)["exempt"], "after the revocation nothing is exempt")
	}
	out = ok(fund, "requirement", "get", id)
	for _, action := range []string{"submit", "accept_complete", "grant", "revoke"} {
		require.True(t, strings.Contains(out, action), "history shows %s: %s", action, out)
	}

	// Matter import: a CSV file, registered, then re-imported unchanged.
	csv := filepath.Join(t.TempDir(), "matters.csv")
	require.NoError(t, os.WriteFile(csv, []byte("code,name,department,time_limit_days,basis_kind,basis_title,basis_article,basis_doc_number,material_id,material_name,resource,items,ecert_type\n"+
		"500112-YB-0201,个体工商户变更登记（渝北区）,"+filepath.Base(yubei)+",3,行政法规,促进个体工商户发展条例,第十条,国务院令第755号,licence,营业执照,500000-SCJG-0001,name;legal_representative,\n"+
		"500112-YB-0201,,,,,,,,form,变更登记申请书,,,\n"), 0o600))
	refused("ROLE_REQUIRED", fund, "matter", "import", csv)
	require.Contains(t, ok(coordinator, "matter", "import", csv), "500112-YB-0201 stored as v1")
	require.Contains(t, ok(coordinator, "matter", "import", csv), "500112-YB-0201 unchanged (v1)")
	require.Contains(t, ok(yubei, "matter", "get", "500112-YB-0201"), "变更登记申请书")

	// Catalogue change control: a narrowing of a resource with granted requirements is a
	// proposal the coordinator decides; a free-text basis is refused.
	refused("LEGAL_BASIS_KIND_INVALID", market, "catalog", "update", "500000-SCJG-0101", "--share-type", "not_shared", "--legal-basis", "内部规定")
	out = ok(market, "catalog", "update", "500000-SCJG-0101", "--share-type", "conditional", "--condition", "仅限住房公积金事项")
	require.Contains(t, out, "PROPOSED")
	require.Contains(t, out, lic["id"].(string))
	pid := strings.Fields(out[strings.Index(out, "proposal "):])[1]
	require.Contains(t, ok(coordinator, "catalog", "proposal", "list", "--state", "pending"), pid)
	refused("ROLE_REQUIRED", market, "catalog", "proposal", "approve", pid)
	refused("COMMENT_REQUIRED", coordinator, "catalog", "proposal", "reject", pid)
	out = ok(coordinator, "catalog", "proposal", "reject", pid, "--comment", "无法律依据，继续无条件共享")
	require.Contains(t, out, "rejected")
	require.Contains(t, ok(fund, "requirement", "get", lic["id"].(string)), "rejected proposal "+pid)
	require.Contains(t, ok(yubei, "catalog", "get", "500000-SCJG-0101"), "unconditional")
}
