package main_test

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gxhub/gxhub/exchange"
)

// TestPublishPullObjectionPolicyCLI drives gxctl publish, pull, freshness, objection and
// policy against a real `gxhub serve --demo` (demo catalogue and demo records).
func TestPublishPullObjectionPolicyCLI(t *testing.T) {
	gxhubBin, gxctlBin := buildBinaries(t)
	hub := startGxhub(t, gxhubBin, t.TempDir(), freePort(t))
	t.Cleanup(func() { hub.stop(t) })
	ids := hub.identities()
	require.GreaterOrEqual(t, len(ids), 8, "demo identities: %v", hub.out)
	market, police, realEstate, yubei := ids[1], ids[2], ids[3], ids[7]
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
	c, err := exchange.USCCCheckChar("91500000MA5U00001")
	require.NoError(t, err)
	company := "91500000MA5U00001" + string(c) // a demo record of 营业执照信息
	c, err = exchange.USCCCheckChar("91500000MA5U00009")
	require.NoError(t, err)
	absent := "91500000MA5U00009" + string(c) // valid, but no record

	// 营业执照信息 is shared unconditionally: 渝北 is granted at once.
	req := jsonOf(ok(yubei, "--json", "requirement", "file", "--resource", "500000-SCJG-0001", "--item", "name", "--item", "legal_representative",
		"--matter", "500112-YB-0001", "--duty", "《优化营商环境条例》"))
	require.Equal(t, "granted", req["state"])
	rid := req["id"].(string)

	// Pulls serve an open case of 渝北 (一企一事一码), for its applicant and declared parties.
	refused("CASE_NOT_FOUND", yubei, "pull", "--requirement", rid, "--matter", "500112-YB-0001", "--case", "YB-2026-1", company)
	out := ok(yubei, "case", "open", "--matter", "500112-YB-0001", "--number", "YB-2026-1", "--applicant", company, "--party", absent+":关联企业")
	require.Contains(t, out, "case YB-2026-1  open")
	mistyped := company[:17] + "0"
	if company[17] == '0' {
		mistyped = company[:17] + "1"
	}
	refused("APPLICANT_INVALID", yubei, "case", "open", "--matter", "500112-YB-0001", "--number", "YB-2026-9", "--applicant", mistyped)
	refused("CASE_EXISTS", market, "case", "open", "--matter", "500112-YB-0001", "--number", "YB-2026-1", "--applicant", company)
	ok(yubei, "case", "open", "--matter", "500112-YB-0002", "--number", "YB-2026-2", "--applicant", company)
	out = ok(yubei, "pull", "--requirement", rid, "--matter", "500112-YB-0001", "--case", "YB-2026-1", company, absent)
	require.Contains(t, out, "signature verified")
	require.Contains(t, out, "重庆渝北示例科技有限公司")
	require.Contains(t, out, "freshness: fresh")
	require.Contains(t, out, "no record: "+absent)
	require.NotContains(t, out, "500万元", "registered_capital was not approved")

	// An auditor checks offline that what 渝北 received is exactly what 市场监管局 published:
	// the saved signed response against the receipt of the publish record that vouches for it.
	checkDir := t.TempDir()
	saved, receipt := filepath.Join(checkDir, "pull.json"), filepath.Join(checkDir, "publish.json")
	ok(yubei, "pull", "--requirement", rid, "--matter", "500112-YB-0001", "--case", "YB-2026-1", "--out", saved, company)
	raw, err := os.ReadFile(saved)
	require.NoError(t, err)
	var pulled struct {
		Result struct {
			Records []struct {
				Vouch struct {
					PublishRecord string `json:"publish_record"`
				} `json:"vouch"`
			} `json:"records"`
		} `json:"result"`
	}
	require.NoError(t, json.Unmarshal(raw, &pulled), "%s", raw)
	require.Len(t, pulled.Result.Records, 1)
	publishRecord := pulled.Result.Records[0].Vouch.PublishRecord
	if publishRecord == "" {
		publishRecord = "0" // protojson leaves zero out
	}
	require.Contains(t, string(raw), `"vouch"`)
	out, code := run(yubei, "audit", "check-pull", saved)
	require.Equal(t, 1, code, out)
	require.Contains(t, out, "NOT CHECKED")
	ok(ids[0], "audit", "proof", publishRecord, "-o", receipt) // the coordinator holds the auditor role
	out = ok(yubei, "audit", "check-pull", saved, "--receipt", receipt)
	require.Contains(t, out, "VALID: "+company)
	// The name edited inside the signed payload: the signature no longer holds.
	var m map[string]any
	require.NoError(t, json.Unmarshal(raw, &m))
	payload, err := base64.StdEncoding.DecodeString(m["payload"].(string))
	require.NoError(t, err)
	require.Contains(t, string(payload), "重庆渝北示例科技有限公司")
	m["payload"] = base64.StdEncoding.EncodeToString([]byte(strings.Replace(string(payload), "示例", "伪造", 1)))
	forged, err := json.Marshal(m)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(saved, forged, 0o600))
	out, code = run(yubei, "audit", "check-pull", saved, "--receipt", receipt)
	require.Equal(t, 1, code, "an edited response fails: %s", out)
	require.Contains(t, out, "INVALID")
	refused("PURPOSE_NOT_COVERED", yubei, "pull", "--requirement", rid, "--matter", "500112-YB-0002", "--case", "YB-2026-2", company)
	refused("MATTER_UNKNOWN", yubei, "pull", "--requirement", rid, "--matter", "500112-YB-0099", "--case", "YB-2026-2", company)
	refused("DATA_ITEM_NOT_APPROVED", yubei, "pull", "--requirement", rid, "--matter", "500112-YB-0001", "--case", "YB-2026-1", "--items", "registered_capital", company)
	other, err := exchange.USCCCheckChar("91500000MA5U00002")
	require.NoError(t, err)
	refused("CASE_SUBJECT_MISMATCH", yubei, "pull", "--requirement", rid, "--matter", "500112-YB-0001", "--case", "YB-2026-1", "91500000MA5U00002"+string(other))

	// The provider publishes a change from a JSON Lines file.
	file := filepath.Join(t.TempDir(), "records.jsonl")
	lines := []string{
		fmt.Sprintf(`{"subject":%q,"fields":{"uscc":%q,"name":"重庆渝北示例科技有限公司","legal_representative":"李秀兰","registered_capital":"500万元人民币","established_on":"2018-05-20","address":"重庆市渝北区龙溪街道金龙路100号"}}`, company, company),
		`# a comment`,
	}
	require.NoError(t, os.WriteFile(file, []byte(strings.Join(lines, "\n")+"\n"), 0o600))
	refused("ROLE_REQUIRED", yubei, "publish", "--resource", "500000-SCJG-0001", "--file", file)
	refused("NOT_RESOURCE_PROVIDER", police, "publish", "--resource", "500000-SCJG-0001", "--file", file)
	require.Contains(t, ok(market, "publish", "--resource", "500000-SCJG-0001", "--file", file, "--batch-id", "cli-1"), "1 records published")
	require.Contains(t, ok(yubei, "pull", "--requirement", rid, "--matter", "500112-YB-0001", "--case", "YB-2026-1", company), "李秀兰")

	// An interrupted run resumes: batches of one record; line 4 (the third record) names a
	// data item the resource does not have, so the run stops there, naming the line.
	resumeSubject := func(n int) string {
		c, err := exchange.USCCCheckChar(fmt.Sprintf("91500000MA5U%05d", 100+n)[:17])
		require.NoError(t, err)
		return fmt.Sprintf("91500000MA5U%05d", 100+n)[:17] + string(c)
	}
	rec := func(n int, item string) string {
		return fmt.Sprintf(`{"subject":%q,"fields":{"uscc":%q,"name":"示例公司%d","%s":"x"}}`, resumeSubject(n), resumeSubject(n), n, item)
	}
	resume := filepath.Join(t.TempDir(), "resume.jsonl")
	write := func(lines ...string) {
		require.NoError(t, os.WriteFile(resume, []byte(strings.Join(lines, "\n")+"\n"), 0o600))
	}
	write(rec(1, "address"), "", rec(2, "address"), rec(3, "salary"), rec(4, "address"))
	out, code = run(market, "publish", "--resource", "500000-SCJG-0001", "--file", resume, "--batch-id", "resume", "--batch-size", "1")
	require.Equal(t, 1, code, out)
	require.Contains(t, out, resume+" line 4:")
	require.Contains(t, out, "DATA_ITEM_UNKNOWN")
	require.Contains(t, out, "resume with --batch-id resume")
	// Fixed and re-run with the same id: the two published batches are skipped.
	write(rec(1, "address"), "", rec(2, "address"), rec(3, "address"), rec(4, "address"))
	out = ok(market, "publish", "--resource", "500000-SCJG-0001", "--file", resume, "--batch-id", "resume", "--batch-size", "1")
	require.Contains(t, out, "2 records published to 500000-SCJG-0001 (2 already published by an earlier run, skipped)")
	hist := ok(market, "record", "history", "500000-SCJG-0001", resumeSubject(1))
	require.Equal(t, 1, strings.Count(hist, "resume-1"), "the first record was published once: %s", hist)
	// The same id for other content is refused, naming the line.
	write(rec(1, "legal_representative"))
	out, code = run(market, "publish", "--resource", "500000-SCJG-0001", "--file", resume, "--batch-id", "resume", "--batch-size", "1")
	require.Equal(t, 1, code, out)
	require.Contains(t, out, resume+" line 1:")
	require.Contains(t, out, "different content")

	// Freshness: the view, and the alert of a provider that never published.
	out = ok(yubei, "freshness")
	require.Contains(t, out, "500000-SCJG-0001")
	require.Contains(t, ok(realEstate, "freshness", "--alerts"), "never_published")

	// Objection round trip.
	ob := jsonOf(ok(yubei, "--json", "objection", "raise", "--resource", "500000-SCJG-0001", "--subject", company, "--items", "legal_representative", "--text", "法定代表人与现场核验不符"))
	oid := ob["objection"].(map[string]any)["id"].(string)
	require.Contains(t, ok(market, "objection", "list", "--as", "provider", "--state", "open"), oid)
	refused("NOT_RESOURCE_PROVIDER", yubei, "objection", "resolve", oid, "--resolution", "x")
	require.Contains(t, ok(market, "objection", "resolve", oid, "--state", "rejected", "--resolution", "经核实登记信息无误"), "rejected")
	require.Contains(t, ok(yubei, "objection", "list"), "经核实登记信息无误")

	// Operators: 渝北 enrols two people with their own keys; the policy's roles apply to
	// whoever signs. The approver may not pull until 渝北 gives it the operator role (a
	// versioned policy change); a suspended operator is refused.
	dir := t.TempDir()
	clerk, approver := filepath.Join(dir, "clerk"), filepath.Join(dir, "approver")
	require.Contains(t, ok(yubei, "operator", "add", "--name", "窗口一", "--role", "operator", "--out", clerk, "--plaintext-key"), "as operator of")
	require.Contains(t, ok(yubei, "operator", "add", "--name", "窗口二", "--role", "approver", "--out", approver, "--plaintext-key"), "as approver of")
	serialOf := func(dir string) string {
		b, err := os.ReadFile(filepath.Join(dir, "identity.json"))
		require.NoError(t, err)
		return jsonOf(string(b))["operator"].(string)
	}
	list := ok(yubei, "operator", "list")
	require.Contains(t, list, serialOf(clerk))
	require.Contains(t, list, "窗口二")
	pullArgs := []string{"pull", "--requirement", rid, "--matter", "500112-YB-0001", "--case", "YB-2026-1", company}
	require.Contains(t, ok(clerk, pullArgs...), "signature verified")
	refused("OPERATOR_ROLE_REQUIRED", approver, pullArgs...)
	pol := jsonOf(ok(yubei, "--json", "policy", "show"))
	v := pol["version"].(string) // int64 is a JSON string in proto JSON
	ok(yubei, "policy", "change", "--expect", v, "--add", "g, "+serialOf(approver)+", operator, "+filepath.Base(yubei), "--comment", "新窗口人员")
	refused("POLICY_VERSION_CONFLICT", yubei, "policy", "change", "--expect", v, "--add", "g, clerk-2, operator, "+filepath.Base(yubei))
	require.Contains(t, ok(approver, pullArgs...), "signature verified")
	require.Contains(t, ok(yubei, "operator", "suspend", serialOf(clerk), "--reason", "调岗"), "suspended")
	refused("OPERATOR_SUSPENDED", clerk, pullArgs...)
	require.Contains(t, ok(yubei, "policy", "history"), "新窗口人员")

	// The case's life: shown with its signed history, closed, and no pull after that.
	refused("NOT_INVOLVED", market, "case", "show", "YB-2026-1")
	require.Contains(t, ok(yubei, "case", "list", "--state", "open"), "YB-2026-1")
	out = ok(yubei, "case", "close", "YB-2026-1", "--comment", "办结")
	require.Contains(t, out, "case YB-2026-1  closed")
	require.Contains(t, out, "办结")
	refused("CASE_CLOSED", yubei, "pull", "--requirement", rid, "--matter", "500112-YB-0001", "--case", "YB-2026-1", company)
	refused("COMMENT_REQUIRED", yubei, "case", "withdraw", "YB-2026-2")
	require.Contains(t, ok(yubei, "case", "withdraw", "YB-2026-2", "--comment", "申请人撤回"), "withdrawn")
	require.Contains(t, ok(filepath.Join(filepath.Dir(yubei), filepath.Base(ids[0])), "case", "show", "YB-2026-1"), "SM2 (body SM3 ", "the coordinator monitors every case")
}
