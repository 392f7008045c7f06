package web_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/cookiejar"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gxhub/gxhub/certs/ecert"
	"github.com/gxhub/gxhub/certs/sm"
	"github.com/gxhub/gxhub/cmd/gxhub/internal/config"
	"github.com/gxhub/gxhub/cmd/gxhub/internal/hub"
	"github.com/gxhub/gxhub/exchange"
	"github.com/gxhub/gxhub/sdk"
	adminv1 "github.com/gxhub/gxhub/sdk/api/admin/v1"
	auditv1 "github.com/gxhub/gxhub/sdk/api/audit/v1"
	exchangev1 "github.com/gxhub/gxhub/sdk/api/exchange/v1"
	"github.com/gxhub/gxhub/sdk/identity"
)

// testHub is a real hub (SQLite, TLS, demo departments) serving on a loopback port.
type testHub struct {
	h     *hub.Hub
	url   string
	dirs  []string
	caPEM []byte
}

func startHub(t *testing.T, mutate func(*config.Config), opts ...hub.Option) *testHub {
	t.Helper()
	cfg := config.Default()
	cfg.DataDir = t.TempDir()
	cfg.Listen = "127.0.0.1:0"
	if mutate != nil {
		mutate(&cfg)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if testing.Verbose() {
		log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	}
	ctx, cancel := context.WithCancel(context.Background())
	h, err := hub.New(ctx, cfg, log, opts...)
	require.NoError(t, err)
	ln, err := net.Listen("tcp", cfg.Listen)
	require.NoError(t, err)
	url := h.URL(ln.Addr())
	dirs, err := h.SeedDemo(ctx, url)
	require.NoError(t, err)
	done := make(chan error, 1)
	go func() { done <- h.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		require.NoError(t, <-done)
		require.NoError(t, h.Close())
	})
	th := &testHub{h: h, url: url, dirs: dirs}
	if h.TLS != nil {
		th.caPEM, err = os.ReadFile(filepath.Join(cfg.DataDir, "tls", "ca.pem"))
		require.NoError(t, err)
	}
	return th
}

func (th *testHub) identity(t *testing.T, i int) *identity.Identity {
	t.Helper()
	id, err := identity.Load(th.dirs[i], nil)
	require.NoError(t, err)
	return id
}

// client is a browser-like HTTP client with a cookie jar.
func (th *testHub) client(t *testing.T) *http.Client {
	t.Helper()
	jar, err := cookiejar.New(nil)
	require.NoError(t, err)
	c := &http.Client{Timeout: 20 * time.Second, Jar: jar}
	if th.caPEM != nil {
		pool := x509.NewCertPool()
		require.True(t, pool.AppendCertsFromPEM(th.caPEM))
		c.Transport = &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}
	}
	return c
}

type reply struct {
	status int
	body   map[string]any
	resp   *http.Response
}

func (r reply) reason() string { s, _ := r.body["reason"].(string); return s }

// call sends a request; ui adds the X-Gxhub-UI header.
func (th *testHub) call(t *testing.T, c *http.Client, method, path string, body []byte, ui bool) reply {
	t.Helper()
	req, err := http.NewRequest(method, th.url+path, bytes.NewReader(body))
	require.NoError(t, err)
	if ui {
		req.Header.Set("X-Gxhub-UI", "1")
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	var m map[string]any
	_ = json.Unmarshal(raw, &m)
	return reply{status: resp.StatusCode, body: m, resp: resp}
}

func loginBody(tok string) []byte {
	b, _ := json.Marshal(map[string]string{"token": tok})
	return b
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func readAll(t *testing.T, resp *http.Response) []byte {
	t.Helper()
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return b
}

// seedAudit registers n departments as the coordinator (each registration is an audit
// record) and waits for a signed head covering them.
func (th *testHub) seedAudit(t *testing.T, n int) {
	t.Helper()
	ctx := context.Background()
	c, err := sdk.Dial(ctx, th.identity(t, 0))
	require.NoError(t, err)
	defer c.Close()
	for i := range n {
		key, err := sm.GenerateKey()
		require.NoError(t, err)
		pub, err := sm.MarshalPublicKeyPEM(&key.PublicKey)
		require.NoError(t, err)
		code, err := hub.DemoDepartment{OrgCode: fmt.Sprintf("4000%04d", i+1), Region: "500112"}.Code()
		require.NoError(t, err)
		_, err = c.Admin.RegisterDepartment(ctx, &adminv1.RegisterDepartmentRequest{
			Department:   &adminv1.Department{Code: code, Name: fmt.Sprintf("渝北区测试局%d", i+1), Level: adminv1.Level_LEVEL_COUNTY, Region: "500112", Roles: []adminv1.Role{adminv1.Role_ROLE_CONSUMER}},
			PublicKeyPem: string(pub),
		})
		require.NoError(t, err)
	}
	// Each registration's record is in the log before it is answered; the demo's own seeding
	// and the hub's key records may be there too.
	size := th.h.Audit.Log.Size()
	require.GreaterOrEqual(t, size, uint64(n))
	require.Eventually(t, func() bool {
		head, err := c.Audit.GetTreeHead(ctx, &auditv1.GetTreeHeadRequest{})
		return err == nil && head.GetTreeSize() >= size
	}, 15*time.Second, 50*time.Millisecond, "a signed head covering the %d records", size)
}

// countRecords counts, through the signed SDK, the audit records in which department acted.
func (th *testHub) countRecords(t *testing.T, department string) int {
	t.Helper()
	ctx := context.Background()
	c, err := sdk.Dial(ctx, th.identity(t, 0))
	require.NoError(t, err)
	defer c.Close()
	info, err := c.Audit.GetLogInfo(ctx, &auditv1.GetLogInfoRequest{})
	require.NoError(t, err)
	n := 0
	for i := range info.GetSize() {
		rec, err := c.Audit.GetRecord(ctx, &auditv1.GetRecordRequest{Index: i})
		require.NoError(t, err)
		if rec.GetDepartment() == department {
			n++
		}
	}
	return n
}

// seedPull lets 住房公积金管理中心 pull 张建国's 户籍人口信息 (a demo resource of 公安局) for the
// demo matter under a granted requirement, for the case it opens for him, and returns the
// subject and case number.
func (th *testHub) seedPull(t *testing.T) (subject, caseNumber string) {
	t.Helper()
	ctx := context.Background()
	police, gjj := th.identity(t, 2), th.identity(t, 4)
	now := time.Now().UTC().Truncate(time.Microsecond)
	r := &exchange.Requirement{ID: "REQ-WEB-1", Consumer: gjj.Code, Provider: police.Code, Resource: "500000-GA-0001", Items: []string{"name", "household_address"},
		MatterCodes: []string{"500000-GJJ-0001"}, LegalDuty: "《住房公积金管理条例》", ScopeRegion: "500000",
		State: exchange.ReqGranted, CreatedAt: now, UpdatedAt: now,
		Decisions: []exchange.Decision{{Seq: 1, Action: exchange.ActSubmit, By: gjj.Code, At: now}, {Seq: 2, Action: exchange.ActGrant, By: police.Code, At: now}}}
	require.NoError(t, th.h.Store.Requirements().Create(ctx, r))
	subject = "50011219850312001" + string(exchange.IDNumberCheckChar("50011219850312001"))
	caseNumber = "GJJ-2026-000042"
	c, err := sdk.Dial(ctx, gjj)
	require.NoError(t, err)
	defer c.Close()
	_, err = c.Cases.OpenCase(ctx, &exchangev1.OpenCaseRequest{Number: caseNumber, Matter: "500000-GJJ-0001", Applicant: subject})
	require.NoError(t, err)
	_, err = c.Pulls.Pull(ctx, &exchangev1.PullRequest{RequirementId: r.ID, MatterCode: "500000-GJJ-0001", CaseNumber: caseNumber, Subjects: []string{subject}})
	require.NoError(t, err)
	return subject, caseNumber
}

func (th *testHub) auditorClient(t *testing.T) *sdk.Client {
	t.Helper()
	c, err := sdk.Dial(context.Background(), th.identity(t, 0))
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	return c
}

// searchSubject returns, through the signed SDK, the audit records about subject.
func (th *testHub) searchSubject(t *testing.T, subject string) []*auditv1.AuditRecord {
	t.Helper()
	resp, err := th.auditorClient(t).Audit.SearchRecords(context.Background(), &auditv1.SearchRecordsRequest{Subject: subject, PageSize: 1000})
	require.NoError(t, err)
	return resp.GetRecords()
}

// searchKind returns, through the signed SDK, the audit records of a kind.
func (th *testHub) searchKind(t *testing.T, kind string) []*auditv1.AuditRecord {
	t.Helper()
	resp, err := th.auditorClient(t).Audit.SearchRecords(context.Background(), &auditv1.SearchRecordsRequest{Kind: kind, PageSize: 1000})
	require.NoError(t, err)
	return resp.GetRecords()
}

// freshness returns, through the signed SDK, the freshness of every resource.
func (th *testHub) freshness(t *testing.T) []*exchangev1.ResourceFreshness {
	t.Helper()
	resp, err := th.auditorClient(t).Freshness.ListFreshness(context.Background(), &exchangev1.ListFreshnessRequest{})
	require.NoError(t, err)
	return resp.GetResources()
}

// requireOperation skips the test loudly when the hub's served OpenAPI document does not
// list the operation: the pages find their APIs there, so without it the page (correctly)
// says the API is missing. The degraded pages are covered by TestBrowser/"pages without their APIs say so".
func (th *testHub) requireOperation(t *testing.T, method, path string) {
	t.Helper()
	resp, err := th.client(t).Get(th.url + "/openapi.json")
	require.NoError(t, err)
	var spec struct {
		Paths map[string]map[string]json.RawMessage `json:"paths"`
	}
	require.NoError(t, json.Unmarshal(readAll(t, resp), &spec))
	if _, ok := spec.Paths[path][strings.ToLower(method)]; !ok {
		t.Skipf("SKIPPING: the hub's OpenAPI document has no %s %s (regenerate sdk/api/openapi with `make generate`); the page reports the API as missing", method, path)
	}
}

// issueLicence has the demo issuer (市场监督管理局) seal and register a 营业执照 for the
// demo police department and returns the sealed token.
func (th *testHub) issueLicence(t *testing.T) string {
	t.Helper()
	ctx := context.Background()
	iss, holder := th.identity(t, 1), th.identity(t, 2)
	c, err := sdk.Dial(ctx, iss)
	require.NoError(t, err)
	defer c.Close()
	cat, err := c.Catalogue(ctx)
	require.NoError(t, err)
	var bl ecert.CertType
	for _, ty := range cat.Types() {
		if ty.Name == "营业执照" {
			bl = ty
		}
	}
	id, err := ecert.NewIdentifier(bl.Code, iss.Code, "2026009001", 1)
	require.NoError(t, err)
	m, err := ecert.NewMetadata(bl, id)
	require.NoError(t, err)
	today := ecert.DateOf(time.Now().In(ecert.ChinaTime))
	m.Number, m.IssuerName, m.IssueDate, m.HolderName, m.HolderCode, m.ValidFrom = "5000009001", iss.Name, today, holder.Name, holder.Code, today
	m.Items = map[string]string{"entity_name": holder.Name, "entity_type": "机关", "legal_representative": "张三",
		"established_on": "2020-01-02", "domicile": "重庆市渝北区", "business_scope": "演示"}
	e, err := c.IssueLicence(ctx, m, "")
	require.NoError(t, err)
	return e.GetSealed()
}
