package hub_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/gxhub/gxhub/certs/sm"
	"github.com/gxhub/gxhub/cmd/gxhub/internal/config"
	"github.com/gxhub/gxhub/cmd/gxhub/internal/hub"
	"github.com/gxhub/gxhub/exchange/server"
	"github.com/gxhub/gxhub/exchange/store/postgres/pgtest"
	"github.com/gxhub/gxhub/sdk"
	adminv1 "github.com/gxhub/gxhub/sdk/api/admin/v1"
	exchangev1 "github.com/gxhub/gxhub/sdk/api/exchange/v1"
	"github.com/gxhub/gxhub/sdk/api/openapi"
	"github.com/gxhub/gxhub/sdk/identity"
	"github.com/gxhub/gxhub/sdk/reqsig"
)

type testHub struct {
	h    *hub.Hub
	url  string
	dirs []string
	http *http.Client
}

// startHub runs a real hub (TLS, SQLite or PostgreSQL per cfg) on a random loopback port
// with the demo set seeded.
func startHub(t *testing.T, mutate func(*config.Config)) *testHub {
	t.Helper()
	cfg := config.Default()
	cfg.DataDir = t.TempDir()
	cfg.Listen = "127.0.0.1:0"
	if mutate != nil {
		mutate(&cfg)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if testing.Verbose() {
		log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	ctx, cancel := context.WithCancel(context.Background())
	h, err := hub.New(ctx, cfg, log)
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
	th := &testHub{h: h, url: url, dirs: dirs, http: &http.Client{Timeout: 10 * time.Second}}
	if h.TLS != nil {
		pool := x509.NewCertPool()
		caPEM, err := os.ReadFile(filepath.Join(cfg.DataDir, "tls", "ca.pem"))
		require.NoError(t, err)
		require.True(t, pool.AppendCertsFromPEM(caPEM))
		th.http.Transport = &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}
	}
	return th
}

func (th *testHub) identity(t *testing.T, i int) *identity.Identity {
	t.Helper()
	id, err := identity.Load(th.dirs[i], nil)
	require.NoError(t, err)
	return id
}

// rest sends a REST call; header "" sends it unsigned.
func (th *testHub) rest(t *testing.T, method, path, header string, body []byte) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(method, th.url+path, bytes.NewReader(body))
	require.NoError(t, err)
	if header != "" {
		req.Header.Set("Authorization", header)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := th.http.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	var out map[string]any
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	if len(raw) > 0 {
		require.NoError(t, json.Unmarshal(raw, &out), "body: %s", raw)
	}
	return resp.StatusCode, out
}

func sign(t *testing.T, id *identity.Identity, method, path string, body []byte, at time.Time) string {
	t.Helper()
	h, err := reqsig.Sign(id.Key, id.Code, method, path, body, at)
	require.NoError(t, err)
	return h
}

func TestOperationalEndpoints(t *testing.T) {
	th := startHub(t, nil)
	for _, p := range []string{"/healthz", "/readyz", "/metrics", "/openapi.json", "/openapi.yaml"} {
		resp, err := th.http.Get(th.url + p)
		require.NoError(t, err, p)
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		require.Equal(t, http.StatusOK, resp.StatusCode, "%s: %s", p, body)
		if p == "/openapi.json" {
			require.Equal(t, openapi.Spec, body)
		}
		if p == "/openapi.yaml" {
			require.Equal(t, openapi.SpecV3, body, "the OpenAPI 3 document")
		}
		if p == "/metrics" {
			require.Contains(t, string(body), "go_goroutines")
		}
	}
	require.True(t, strings.HasPrefix(th.url, "https://"), "TLS is the default")
}

func TestSignedRequestsREST(t *testing.T) {
	th := startHub(t, nil)
	me := th.identity(t, 1)
	now := time.Now()

	code, body := th.rest(t, "GET", "/v1/whoami", sign(t, me, "GET", "/v1/whoami", nil, now), nil)
	require.Equal(t, http.StatusOK, code, "%v", body)
	require.Equal(t, me.Code, body["department"].(map[string]any)["code"])

	other, err := sm.GenerateKey()
	require.NoError(t, err)
	wrongKey := &identity.Identity{Code: me.Code, Key: other}
	stranger := &identity.Identity{Code: "91500000MA5U000000", Key: other}
	replayed := sign(t, me, "GET", "/v1/whoami", nil, now)
	code, _ = th.rest(t, "GET", "/v1/whoami", replayed, nil)
	require.Equal(t, http.StatusOK, code)

	tests := map[string]struct {
		method, path, header string
		body                 []byte
		status               int
		reason               string
	}{
		"fail/unsigned":            {"GET", "/v1/whoami", "", nil, 401, reqsig.ReasonUnsigned},
		"fail/wrong key":           {"GET", "/v1/whoami", sign(t, wrongKey, "GET", "/v1/whoami", nil, now), nil, 401, reqsig.ReasonBadSignature},
		"fail/unknown department":  {"GET", "/v1/whoami", sign(t, stranger, "GET", "/v1/whoami", nil, now), nil, 401, reqsig.ReasonUnknownDepartment},
		"fail/replayed":            {"GET", "/v1/whoami", replayed, nil, 401, reqsig.ReasonReplayed},
		"fail/ten minutes old":     {"GET", "/v1/whoami", sign(t, me, "GET", "/v1/whoami", nil, now.Add(-10*time.Minute)), nil, 401, reqsig.ReasonExpired},
		"fail/signed before start": {"GET", "/v1/whoami", sign(t, me, "GET", "/v1/whoami", nil, now.Add(-time.Minute)), nil, 401, "REQUEST_BEFORE_START"},
		"fail/ten minutes ahead":   {"GET", "/v1/whoami", sign(t, me, "GET", "/v1/whoami", nil, now.Add(10*time.Minute)), nil, 401, reqsig.ReasonExpired},
		"fail/other path":          {"GET", "/v1/departments", sign(t, me, "GET", "/v1/whoami", nil, now), nil, 401, reqsig.ReasonScopeMismatch},
		"fail/other method":        {"POST", "/v1/departments", sign(t, me, "GET", "/v1/departments", []byte(`{}`), now), []byte(`{}`), 401, reqsig.ReasonScopeMismatch},
		"fail/body changed":        {"POST", "/v1/departments", sign(t, me, "POST", "/v1/departments", []byte(`{"department":{}}`), now), []byte(`{"department":{"code":"x"}}`), 401, reqsig.ReasonBodyDigest},
		"fail/garbage header":      {"GET", "/v1/whoami", "GXHUB-SM2 not.a.jws", nil, 401, reqsig.ReasonMalformed},
		"fail/other scheme":        {"GET", "/v1/whoami", "Bearer abc", nil, 401, reqsig.ReasonMalformed},
		"fail/anonymous write":     {"POST", "/v1/departments", "", []byte(`{}`), 401, reqsig.ReasonUnsigned},
		"fail/not a coordinator":   {"POST", "/v1/departments", sign(t, me, "POST", "/v1/departments", []byte(`{}`), now), []byte(`{}`), 403, "ROLE_REQUIRED"},
		"fail/query not signed":    {"GET", "/v1/departments?page_size=1", sign(t, me, "GET", "/v1/departments", nil, now), nil, 401, reqsig.ReasonScopeMismatch},
		"fail/invalid page size":   {"GET", "/v1/departments?page_size=5000", sign(t, me, "GET", "/v1/departments?page_size=5000", nil, now), nil, 400, "PAGE_SIZE_INVALID"},
		"fail/bad department code": {"GET", "/v1/departments/123", sign(t, me, "GET", "/v1/departments/123", nil, now), nil, 400, "DEPARTMENT_CODE_INVALID"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			code, body := th.rest(t, tc.method, tc.path, tc.header, tc.body)
			require.Equal(t, tc.status, code, "%v", body)
			require.Equal(t, tc.reason, body["reason"], "%v", body)
			require.NotEmpty(t, body["message"])
		})
	}
}

func TestSignedRequestsGRPC(t *testing.T) {
	th := startHub(t, nil)
	me := th.identity(t, 2)
	ctx := context.Background()

	c, err := sdk.Dial(ctx, me)
	require.NoError(t, err)
	defer c.Close()
	resp, err := c.Admin.WhoAmI(ctx, &adminv1.WhoAmIRequest{})
	require.NoError(t, err)
	require.Equal(t, me.Code, resp.GetDepartment().GetCode())

	list, err := c.Admin.ListDepartments(ctx, &adminv1.ListDepartmentsRequest{PageSize: 3})
	require.NoError(t, err)
	require.Len(t, list.GetDepartments(), 3)
	require.NotEmpty(t, list.GetNextPageToken())

	t.Run("fail/old clock", func(t *testing.T) {
		old, err := sdk.Dial(ctx, me, sdk.WithClock(func() time.Time { return time.Now().Add(-10 * time.Minute) }))
		require.NoError(t, err)
		defer old.Close()
		_, err = old.Admin.WhoAmI(ctx, &adminv1.WhoAmIRequest{})
		require.Equal(t, codes.Unauthenticated, status.Code(err), "%v", err)
		require.Equal(t, reqsig.ReasonExpired, sdk.Reason(err))
	})
	t.Run("fail/wrong key", func(t *testing.T) {
		other, err := sm.GenerateKey()
		require.NoError(t, err)
		bad, err := sdk.Dial(ctx, &identity.Identity{Code: me.Code, Key: other, HubURL: me.HubURL, TLSCAPEM: me.TLSCAPEM})
		require.NoError(t, err)
		defer bad.Close()
		_, err = bad.Admin.WhoAmI(ctx, &adminv1.WhoAmIRequest{})
		require.Equal(t, reqsig.ReasonBadSignature, sdk.Reason(err), "%v", err)
	})
	t.Run("fail/unsigned", func(t *testing.T) {
		anon, err := sdk.Dial(ctx, nil, sdk.WithURL(th.url), sdk.WithTLSCA(me.TLSCAPEM))
		require.NoError(t, err)
		defer anon.Close()
		_, err = anon.Admin.WhoAmI(ctx, &adminv1.WhoAmIRequest{})
		require.Equal(t, reqsig.ReasonUnsigned, sdk.Reason(err), "%v", err)
		// Public reference data needs no signature.
		day, err := anon.Calendar.GetWorkday(ctx, &exchangev1.GetWorkdayRequest{Date: "2026-02-14"})
		require.NoError(t, err)
		require.True(t, day.GetWorking())
		require.True(t, day.GetMakeupWorkday())
	})
}

func TestRegisterDepartment(t *testing.T) {
	th := startHub(t, nil)
	ctx := context.Background()
	coordinator := th.identity(t, 0)
	c, err := sdk.Dial(ctx, coordinator)
	require.NoError(t, err)
	defer c.Close()

	key, err := sm.GenerateKey()
	require.NoError(t, err)
	pub, err := sm.MarshalPublicKeyPEM(&key.PublicKey)
	require.NoError(t, err)
	dept := &adminv1.Department{Code: hubCode(t, "500112", "12345678"), Name: "重庆市渝北区民政局", Level: adminv1.Level_LEVEL_COUNTY, Region: "500112",
		Roles: []adminv1.Role{adminv1.Role_ROLE_PROVIDER}}
	resp, err := c.Admin.RegisterDepartment(ctx, &adminv1.RegisterDepartmentRequest{Department: dept, PublicKeyPem: string(pub)})
	require.NoError(t, err)
	require.Equal(t, dept.GetCode(), resp.GetDepartment().GetCode())
	require.Contains(t, resp.GetCertificatePem(), "BEGIN CERTIFICATE")

	// The new department can now act with its own key and issued certificate.
	newID := &identity.Identity{Code: dept.GetCode(), Key: key, CertPEM: []byte(resp.GetCertificatePem()), HubURL: th.url, TLSCAPEM: coordinator.TLSCAPEM}
	nc, err := sdk.Dial(ctx, newID)
	require.NoError(t, err)
	defer nc.Close()
	who, err := nc.Admin.WhoAmI(ctx, &adminv1.WhoAmIRequest{})
	require.NoError(t, err)
	require.Equal(t, "重庆市渝北区民政局", who.GetDepartment().GetName())

	tests := map[string]struct {
		client *sdk.Client
		req    *adminv1.RegisterDepartmentRequest
		code   codes.Code
		reason string
	}{
		"fail/duplicate":       {c, &adminv1.RegisterDepartmentRequest{Department: dept, PublicKeyPem: string(pub)}, codes.AlreadyExists, "DEPARTMENT_EXISTS"},
		"fail/not coordinator": {nc, &adminv1.RegisterDepartmentRequest{Department: dept, PublicKeyPem: string(pub)}, codes.PermissionDenied, "ROLE_REQUIRED"},
		"fail/bad check char":  {c, &adminv1.RegisterDepartmentRequest{Department: withCode(dept, dept.GetCode()[:17]+flipChar(dept.GetCode()[17])), PublicKeyPem: string(pub)}, codes.InvalidArgument, "DEPARTMENT_CODE_INVALID"},
		"fail/no key":          {c, &adminv1.RegisterDepartmentRequest{Department: withCode(dept, hubCode(t, "500112", "12345679"))}, codes.InvalidArgument, "PUBLIC_KEY_MISSING"},
		"fail/not SM2 key":     {c, &adminv1.RegisterDepartmentRequest{Department: withCode(dept, hubCode(t, "500112", "12345679")), PublicKeyPem: "-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE\n-----END PUBLIC KEY-----\n"}, codes.InvalidArgument, "PUBLIC_KEY_INVALID"},
		"fail/no level":        {c, &adminv1.RegisterDepartmentRequest{Department: &adminv1.Department{Code: hubCode(t, "500112", "12345679"), Name: "x", Region: "500112"}, PublicKeyPem: string(pub)}, codes.InvalidArgument, "LEVEL_INVALID"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			_, err := tc.client.Admin.RegisterDepartment(ctx, tc.req)
			require.Equal(t, tc.code, status.Code(err), "%v", err)
			require.Equal(t, tc.reason, sdk.Reason(err), "%v", err)
		})
	}
	// Nothing half written: the refused registrations left no department behind.
	_, err = c.Admin.GetDepartment(ctx, &adminv1.GetDepartmentRequest{Code: hubCode(t, "500112", "12345679")})
	require.Equal(t, codes.NotFound, status.Code(err))
}

func withCode(d *adminv1.Department, code string) *adminv1.Department {
	c := proto.Clone(d).(*adminv1.Department)
	c.Code = code
	return c
}

func flipChar(c byte) string {
	if c == '0' {
		return "1"
	}
	return "0"
}

func hubCode(t *testing.T, region, org string) string {
	t.Helper()
	code, err := hub.DemoDepartment{OrgCode: org, Region: region}.Code()
	require.NoError(t, err)
	return code
}

// TestPublicOperationsMatchOpenAPI checks, for every operation in the served OpenAPI
// document, that an unsigned call is refused unless the operation is documented public,
// and that the gRPC and REST public lists agree with it.
func TestPublicOperationsMatchOpenAPI(t *testing.T) {
	th := startHub(t, nil)
	var spec struct {
		Paths map[string]map[string]struct {
			OperationID string            `json:"operationId"`
			Security    *[]map[string]any `json:"security"`
		} `json:"paths"`
	}
	require.NoError(t, json.Unmarshal(openapi.Spec, &spec))
	require.NotEmpty(t, spec.Paths)
	publicREST := 0
	for path, ops := range spec.Paths {
		for method, op := range ops {
			public := op.Security != nil && len(*op.Security) == 0
			concrete := strings.NewReplacer("{code}", hubCode(t, "500000", "00000002"), "{date}", "2026-02-16").Replace(path)
			method = strings.ToUpper(method)
			require.Equal(t, public, server.IsPublicREST(method, strings.Split(concrete, "?")[0]), "%s %s", method, path)
			var body []byte
			if method != "GET" {
				body = []byte(`{}`)
			}
			code, resp := th.rest(t, method, concrete, "", body)
			if public {
				publicREST++
				require.NotEqual(t, http.StatusUnauthorized, code, "%s %s is public: %v", method, path, resp)
			} else {
				require.Equal(t, http.StatusUnauthorized, code, "%s %s must need a signature: %v", method, path, resp)
				require.Equal(t, reqsig.ReasonUnsigned, resp["reason"])
			}
		}
	}
	require.Equal(t, len(server.PublicMethods), publicREST, "every public RPC is public over REST and vice versa")
}

// TestStoresAndTransports runs a signed round trip on each store and transport: SQLite and
// PostgreSQL, TLS and --insecure (h2c for gRPC).
func TestStoresAndTransports(t *testing.T) {
	cases := map[string]func(*config.Config){
		"ok/postgres over TLS": func(c *config.Config) {
			c.Store.Driver = "postgres"
			c.Store.PostgresDSN = pgtest.FreshSchemaDSN(t)
		},
		"ok/sqlite insecure": func(c *config.Config) { c.Insecure = true },
	}
	for name, mutate := range cases {
		t.Run(name, func(t *testing.T) {
			th := startHub(t, mutate)
			me := th.identity(t, 3)
			ctx := context.Background()
			c, err := sdk.Dial(ctx, me)
			require.NoError(t, err)
			defer c.Close()
			who, err := c.Admin.WhoAmI(ctx, &adminv1.WhoAmIRequest{})
			require.NoError(t, err)
			require.Equal(t, me.Code, who.GetDepartment().GetCode())
			code, body := th.rest(t, "GET", "/v1/whoami", sign(t, me, "GET", "/v1/whoami", nil, time.Now()), nil)
			require.Equal(t, http.StatusOK, code, "%v", body)
			h := sign(t, me, "GET", "/v1/departments", nil, time.Now())
			code, _ = th.rest(t, "GET", "/v1/departments", h, nil)
			require.Equal(t, http.StatusOK, code)
			code, body = th.rest(t, "GET", "/v1/departments", h, nil)
			require.Equal(t, reqsig.ReasonReplayed, body["reason"], "replay refused on every store (%d)", code)
		})
	}
}
