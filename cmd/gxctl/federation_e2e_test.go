package main_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/gxhub/gxhub/exchange"
	"github.com/gxhub/gxhub/exchange/federation"
	"github.com/gxhub/gxhub/sdk"
	auditv1 "github.com/gxhub/gxhub/sdk/api/audit/v1"
	exchangev1 "github.com/gxhub/gxhub/sdk/api/exchange/v1"
	"github.com/gxhub/gxhub/sdk/identity"
)

// fedHub is one hub of the test federation: its own process, data directory, CA, keys,
// store and listener.
type fedHub struct {
	id, level, region, dir, addr string
	proc                         *hubProc
	ids                          []string // demo identities, in DemoDepartments order
}

// startFedHub runs `gxhub serve --demo` with a federation identity.
func startFedHub(t testing.TB, bin string, h *fedHub) {
	t.Helper()
	cmd := exec.Command(bin, "serve", "--demo", "--data-dir", h.dir, "--listen", h.addr)
	cmd.Env = append(os.Environ(), "GXHUB_AUDIT_HEAD_INTERVAL=200ms", "GXHUB_FEDERATION_HUB_ID="+h.id,
		"GXHUB_FEDERATION_NAME="+h.id+" 政务数据共享平台", "GXHUB_FEDERATION_LEVEL="+h.level, "GXHUB_FEDERATION_REGION="+h.region, "GXHUB_AUDIT_LOG_ID="+h.id+"/audit")
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	cmd.Stderr = io.Discard
	if testing.Verbose() {
		cmd.Stderr = os.Stderr
	}
	require.NoError(t, cmd.Start())
	p := &hubProc{cmd: cmd, done: make(chan struct{})}
	lines := make(chan string)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	for p.url == "" {
		l, ok := <-lines
		require.True(t, ok, "gxhub %s exited before serving; output: %v", h.id, p.out)
		p.out = append(p.out, l)
		if u, ok := strings.CutPrefix(l, "gxhub serving on "); ok {
			p.url = u
		}
	}
	go func() {
		for range lines {
		}
		_ = cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			_ = p.cmd.Process.Signal(syscall.SIGTERM)
			<-p.done
		}
	})
	h.proc, h.ids = p, p.identities()
	require.GreaterOrEqual(t, len(h.ids), 8, "demo identities of %s: %v", h.id, p.out)
}

func (h *fedHub) coordinator() string { return h.ids[0] }
func (h *fedHub) police() string      { return h.ids[2] } // 公安局: provider of 500000-GA-0001
func (h *fedHub) fund() string        { return h.ids[4] } // 住房公积金管理中心: consumer

func dialAs(t testing.TB, dir string) *sdk.Client {
	t.Helper()
	id, err := identity.Load(dir, nil)
	require.NoError(t, err)
	c, err := sdk.Dial(context.Background(), id)
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	return c
}

// readRecord reads a record of a hub's log. A hub answers only once the records of what it
// did are in its log, so a record a receipt names is there when the receipt arrives.
func readRecord(t *testing.T, c *sdk.Client, index uint64) *auditv1.AuditRecord {
	t.Helper()
	r, err := c.Audit.GetRecord(context.Background(), &auditv1.GetRecordRequest{Index: index})
	require.NoError(t, err, "record %d named by the receipt", index)
	return r
}

// TestFederationEndToEnd: three hubs, each its own process (a provincial hub and two
// municipal hubs). A municipal consumer files a requirement for a provincial resource, the
// provincial coordinator and provider decide it there, the consumer pulls for an open case
// through its own hub; both logs hold the pull, each naming the other's index, and the
// receipt verifies offline. A suspended agreement stops the next pull with its reason; a
// provincial hub killed mid-pull leaves no half-written state at either end.
func TestFederationEndToEnd(t *testing.T) {
	gxhubBin, gxctlBin := buildBinaries(t)
	prov := &fedHub{id: "cq-province", level: "provincial", region: "500000", dir: t.TempDir(), addr: freePort(t)}
	cityA := &fedHub{id: "cq-city-a", level: "municipal", region: "500100", dir: t.TempDir(), addr: freePort(t)}
	cityB := &fedHub{id: "cq-city-b", level: "municipal", region: "500200", dir: t.TempDir(), addr: freePort(t)}
	for _, h := range []*fedHub{prov, cityA, cityB} {
		startFedHub(t, gxhubBin, h)
	}
	run := func(want int, args ...string) string {
		t.Helper()
		out, code := gxctl(t, gxctlBin, args...)
		require.Equal(t, want, code, "gxctl %v: %s", args, out)
		return out
	}
	tmp := t.TempDir()
	card := func(h *fedHub) string {
		path := filepath.Join(tmp, h.id+"-card.json")
		run(0, "--identity", h.coordinator(), "federation", "identity", "-o", path)
		return path
	}
	provCard, cityACard, cityBCard := card(prov), card(cityA), card(cityB)

	// Agreements: the province offers 户籍人口信息 to each city.
	agree := func(city *fedHub, cityCard, id string) {
		file := filepath.Join(tmp, id+".json")
		run(0, "--identity", prov.coordinator(), "federation", "propose", "--peer", cityCard, "--offer", "500000-GA-0001",
			"--until", "2099-12-31", "--id", id, "-o", file)
		out := run(0, "--identity", city.coordinator(), "federation", "accept", file)
		require.Contains(t, out, "the other hub has the countersigned agreement")
		out = run(0, "--identity", prov.coordinator(), "federation", "list")
		require.Regexp(t, regexp.MustCompile(id+` +active +2 +proposer +`+city.id), out)
	}
	agree(cityA, cityACard, "FA-PROV-CITYA")
	agree(cityB, cityBCard, "FA-PROV-CITYB")
	_ = provCard
	// A card signed by another key than its own is refused.
	bad := filepath.Join(tmp, "bad-card.json")
	b, err := os.ReadFile(cityBCard)
	require.NoError(t, err)
	var doc map[string]string
	require.NoError(t, json.Unmarshal(b, &doc))
	doc["signature"] = doc["signature"][:len(doc["signature"])-8] + "AAAAAAA="
	b, _ = json.Marshal(doc)
	require.NoError(t, os.WriteFile(bad, b, 0o600))
	out := run(1, "--identity", prov.coordinator(), "federation", "propose", "--peer", bad, "--offer", "500000-GA-0001", "--until", "2099-12-31")
	require.Contains(t, out, "HUB_CARD_SIGNATURE_INVALID")

	// The federated catalogue: city A sees the province's resource, marked with its home hub.
	out = run(0, "--identity", cityA.fund(), "federation", "resources")
	require.Regexp(t, `cq-province +500000-GA-0001 +户籍人口信息`, out)

	// A requirement filed at city A, decided at the province by its coordinator and provider.
	out = run(0, "--identity", cityA.fund(), "--json", "federation", "requirement", "file", "--hub", "cq-province", "--resource", "500000-GA-0001",
		"--item", "name", "--item", "household_address", "--matter", "500000-GJJ-0001", "--duty", "《住房公积金管理条例》第二十四条")
	var rq struct {
		ID    string `json:"id"`
		State string `json:"state"`
	}
	require.NoError(t, json.Unmarshal([]byte(out), &rq), out)
	require.Equal(t, "under_review", rq.State)
	out = run(0, "--identity", prov.coordinator(), "requirement", "get", rq.ID)
	require.Contains(t, out, "cq-city-a:", "the province names the remote consumer with its hub")
	run(0, "--identity", prov.coordinator(), "requirement", "review", rq.ID, "--accept")
	run(0, "--identity", prov.police(), "requirement", "answer", rq.ID, "--grant")
	out = run(0, "--identity", cityA.fund(), "federation", "requirement", "get", rq.ID)
	require.Contains(t, out, "granted")
	require.Contains(t, out, "grant")

	// The consumer pulls for an open case of its own hub.
	applicant := "50011219850312001" + string(exchange.IDNumberCheckChar("50011219850312001"))
	run(0, "--identity", cityA.fund(), "case", "open", "--matter", "500000-GJJ-0001", "--number", "GJJ-FED-0001", "--applicant", applicant)
	receipt := filepath.Join(tmp, "receipt.json")
	pullArgs := []string{"--identity", cityA.fund(), "federation", "pull", "--hub", "cq-province", "--requirement", rq.ID,
		"--matter", "500000-GJJ-0001", "--case", "GJJ-FED-0001", applicant}
	out = run(0, append(pullArgs, "-o", receipt)...)
	require.Contains(t, out, "verified")
	out = run(0, "federation", "verify-receipt", receipt)
	require.Contains(t, out, "VALID")

	// Both logs hold the pull, each naming the other's index.
	var resp exchangev1.PullRemoteResponse
	require.NoError(t, readJSONProto(receipt, &resp))
	var rc federation.RelayReceipt
	require.NoError(t, json.Unmarshal(resp.GetReceipt().GetPayload(), &rc))
	auditA, auditP := dialAs(t, cityA.coordinator()), dialAs(t, prov.coordinator())
	fwd := readRecord(t, auditA, rc.ForwardIndex)
	require.Equal(t, "federation.forward", fwd.GetKind())
	require.Equal(t, "GJJ-FED-0001", fwd.GetCaseNumber())
	outcome := readRecord(t, auditA, rc.OutcomeIndices[0])
	require.Equal(t, "pull", outcome.GetKind())
	require.Equal(t, "granted", outcome.GetOutcome())
	require.Contains(t, outcome.GetReason(), fmt.Sprintf("indices %v", rc.HomeAuditRefs))
	home := readRecord(t, auditP, rc.HomeAuditRefs[0])
	require.Equal(t, "pull", home.GetKind())
	require.Equal(t, "granted", home.GetOutcome())
	require.Equal(t, "cq-city-a:"+filepath.Base(cityA.fund()), home.GetDepartment())
	require.Contains(t, home.GetReason(), fmt.Sprintf("forwarded by hub cq-city-a (its log %s index %d", rc.LogID, rc.ForwardIndex))

	// A tampered receipt does not verify.
	var tampered exchangev1.PullRemoteResponse
	require.NoError(t, readJSONProto(receipt, &tampered))
	tampered.Payload = append([]byte(nil), tampered.Payload...)
	tampered.Payload[len(tampered.Payload)-1] ^= 1
	tamperedFile := filepath.Join(tmp, "tampered.json")
	b, err = protojson.Marshal(&tampered)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(tamperedFile, b, 0o600))
	out = run(1, "federation", "verify-receipt", tamperedFile)
	require.Contains(t, out, "INVALID")

	// Cross-hub trust: a document sealed at the province verifies VALID at city A while the
	// agreement trusts the province's roots, and not once it is suspended.
	seal := filepath.Join(tmp, "scjg.esl")
	scjg := prov.ids[1]
	run(0, "--identity", scjg, "seal", "make", "--name", "重庆市市场监督管理局电子证照专用章", "--out", seal)
	licence := filepath.Join(tmp, "licence.ofd")
	run(0, "--identity", scjg, "ecert", "issue", "--type", "11999999000000010R001", "--serial", "2026000043",
		"--holder-code", "91500000MA5U000010", "--holder-name", "重庆渝北示例科技有限公司", "--number", "500112000043",
		"--item", "entity_name=重庆渝北示例科技有限公司", "--item", "entity_type=有限责任公司", "--item", "legal_representative=张建国",
		"--item", "established_on=2018-05-20", "--item", "domicile=重庆市渝北区龙溪街道金龙路100号", "--item", "business_scope=软件开发",
		"--ofd", licence, "--seal", seal)
	sealed := filepath.Join(tmp, "licence-2.ofd")
	run(0, "--identity", scjg, "seal", "sign", "--seal", seal, "--in", licence, "--out", sealed, "--page", "1", "--x", "150", "--y", "230")
	// The signer's chain is trusted through the agreement; the revocation status of the
	// province's certificates and seal is not forwarded to the province (not done yet), so
	// the verdict stays INTACT (exit 3) with those checks unknown, never VALID by default.
	chainTrusted := regexp.MustCompile(`(?m)^\s*pass\s+signer\.chain\s`)
	out, code := gxctl(t, gxctlBin, "--identity", cityA.fund(), "verify", "--online", sealed)
	require.Equal(t, 3, code, out)
	require.Regexp(t, chainTrusted, out)
	require.Contains(t, out, "revocation status not available")

	// A suspended agreement stops the next pull with a clear reason, at both ends.
	run(0, "--identity", prov.coordinator(), "federation", "suspend", "FA-PROV-CITYA", "--reason", "安全检查")
	out = run(1, pullArgs...)
	require.Contains(t, out, "FEDERATION_AGREEMENT_SUSPENDED")
	require.Contains(t, out, "suspended by hub cq-province")
	require.Contains(t, out, "安全检查")
	// The province's roots are no longer trusted at city A while the agreement is suspended:
	// the document is INTACT (exit 3) with its issuer unknown — not INVALID, although city
	// A's own CA bears the same name as the province's.
	out, code = gxctl(t, gxctlBin, "--identity", cityA.fund(), "verify", "--online", sealed)
	require.Equal(t, 3, code, out)
	require.NotRegexp(t, chainTrusted, out)
	require.Contains(t, out, "issuer not in trust store")
	// City A cannot lift the province's suspension.
	out = run(1, "--identity", cityA.coordinator(), "federation", "resume", "FA-PROV-CITYA")
	require.Contains(t, out, "AGREEMENT_SUSPENDED_BY_PEER")
	run(0, "--identity", prov.coordinator(), "federation", "resume", "FA-PROV-CITYA")
	run(0, pullArgs...)

	// The province is killed while pulls are in flight: every pull either completes with
	// both hubs' records, or fails with a retryable error and city A's forward and refusal
	// records; nothing is half-recorded at either end.
	fund := dialAs(t, cityA.fund())
	req := &exchangev1.PullRemoteRequest{HomeHub: "cq-province", Pull: &exchangev1.PullRequest{RequirementId: rq.ID,
		MatterCode: "500000-GJJ-0001", CaseNumber: "GJJ-FED-0001", Subjects: []string{applicant}}}
	type result struct {
		resp *exchangev1.PullRemoteResponse
		err  error
	}
	results := make(chan result, 1024)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				r, err := fund.Federation.PullRemote(context.Background(), req)
				results <- result{r, err}
				if err != nil {
					return
				}
			}
		}()
	}
	var got []result
	for len(got) < 3 { // some pulls have completed: the province is busy answering
		got = append(got, <-results)
	}
	require.NoError(t, prov.proc.cmd.Process.Signal(syscall.SIGKILL))
	<-prov.proc.done
	close(stop)
	wg.Wait()
	close(results)
	for r := range results {
		got = append(got, r)
	}
	var failed, verified int
	for _, r := range got {
		if r.err != nil {
			failed++
			require.Equal(t, codes.Unavailable, status.Code(r.err), "a pull to a killed hub fails retryably: %v", r.err)
			require.Contains(t, r.err.Error(), "hub cq-province did not answer")
			continue
		}
		if verified < 3 {
			verified++
			f := filepath.Join(tmp, fmt.Sprintf("kill-%d.json", verified))
			b, err := protojson.Marshal(r.resp)
			require.NoError(t, err)
			require.NoError(t, os.WriteFile(f, b, 0o600))
			require.Contains(t, run(0, "federation", "verify-receipt", f), "VALID")
		}
	}
	require.Positive(t, failed, "the pulls after the kill fail")
	// The province restarts on its data (its log checks itself against its checkpoints on
	// start); every forwarded pull it recorded names a forward record of city A.
	prov.addr = freePort(t)
	startFedHub(t, gxhubBin, prov)
	auditP = dialAs(t, prov.coordinator())
	forwardRE := regexp.MustCompile(`forwarded by hub cq-city-a \(its log (\S+) index (\d+), its pull (\w+)\)`)
	homeRecs := scanLog(t, auditP, func(r *auditv1.AuditRecord) bool { return r.GetKind() == "pull" && r.GetCaseNumber() == "GJJ-FED-0001" })
	cityRecs := scanLog(t, auditA, func(r *auditv1.AuditRecord) bool { return r.GetCaseNumber() == "GJJ-FED-0001" })
	forwards := map[uint64]*auditv1.AuditRecord{}
	outcomes := map[string]*auditv1.AuditRecord{}
	for _, r := range cityRecs {
		switch r.GetKind() {
		case "federation.forward":
			forwards[r.GetIndex()] = r
		case "pull":
			outcomes[r.GetRequestId()] = r
		}
	}
	for idx, f := range forwards {
		o, ok := outcomes[f.GetRequestId()]
		require.True(t, ok, "city A's forward %d has its outcome record", idx)
		if o.GetOutcome() == "denied" {
			require.Contains(t, o.GetReason(), "FEDERATION_")
		}
	}
	for _, r := range homeRecs {
		m := forwardRE.FindStringSubmatch(r.GetReason())
		require.NotNil(t, m, "every pull record at the province names its forward: %s", r.GetReason())
		var idx uint64
		fmt.Sscan(m[2], &idx)
		f, ok := forwards[idx]
		require.True(t, ok, "the province's record names city A's forward %d", idx)
		require.Equal(t, m[3], f.GetRequestId())
	}
}

// scanLog reads every record a hub's log holds now, in index order (every record of a
// call that returned is in the log: a write is acknowledged only once its record is).
func scanLog(t *testing.T, c *sdk.Client, match func(*auditv1.AuditRecord) bool) []*auditv1.AuditRecord {
	t.Helper()
	var out []*auditv1.AuditRecord
	for i := uint64(0); ; i++ {
		r, err := c.Audit.GetRecord(context.Background(), &auditv1.GetRecordRequest{Index: i})
		if err != nil {
			require.Contains(t, []codes.Code{codes.NotFound, codes.OutOfRange, codes.InvalidArgument}, status.Code(err), "record %d: %v", i, err)
			return out
		}
		if match(r) {
			out = append(out, r)
		}
	}
}

func readJSONProto(path string, m *exchangev1.PullRemoteResponse) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	return protojson.Unmarshal(b, m)
}
