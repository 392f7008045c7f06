package hub_test

import (
	"context"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/gxhub/gxhub/certs/ecert"
	"github.com/gxhub/gxhub/certs/sm"
	"github.com/gxhub/gxhub/cmd/gxhub/internal/config"
	"github.com/gxhub/gxhub/cmd/gxhub/internal/hub"
	"github.com/gxhub/gxhub/exchange/calendar"
	"github.com/gxhub/gxhub/exchange/server"
	"github.com/gxhub/gxhub/exchange/store/postgres/pgtest"
	"github.com/gxhub/gxhub/sdk"
	auditv1 "github.com/gxhub/gxhub/sdk/api/audit/v1"
	certsv1 "github.com/gxhub/gxhub/sdk/api/certs/v1"
	exchangev1 "github.com/gxhub/gxhub/sdk/api/exchange/v1"
	"github.com/gxhub/gxhub/sdk/identity"
	"github.com/gxhub/gxhub/sdk/reqsig"
)

// clock is a settable clock shared by the hub and the signing clients.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }

func (c *clock) Set(t time.Time) { c.mu.Lock(); c.t = t; c.mu.Unlock() }

// Demo department indices (hub.DemoDepartments).
const (
	dCoordinator = 0 // 大数据应用发展管理局
	dMarket      = 1 // 市场监督管理局: 营业执照信息 (unconditional)
	dPolice      = 2 // 公安局: 户籍人口信息 (conditional), 居民身份证指纹信息 (not_shared)
	dRealEstate  = 3 // 不动产登记中心: 不动产登记信息 (conditional, not published)
	dFund        = 4 // 住房公积金管理中心: the consumer
	dCivil       = 5 // 民政局: 婚姻登记信息 (conditional)
	dYubei       = 7 // 渝北区政务服务管理办公室: consumer only
)

type exchangeHub struct {
	*testHub
	clock   *clock
	clients map[int]*sdk.Client
}

// startHubAt runs a real hub (plain HTTP/2, demo scene; SQLite, or PostgreSQL when
// postgres is set) whose clock and whose clients' signing clocks are clk.
func startHubAt(t testing.TB, clk *clock, postgres ...bool) *exchangeHub {
	t.Helper()
	cfg := config.Default()
	cfg.DataDir = t.TempDir()
	cfg.Listen = "127.0.0.1:0"
	if len(postgres) > 0 && postgres[0] {
		cfg.Store.Driver = "postgres"
		cfg.Store.PostgresDSN = pgtest.FreshSchemaDSN(t)
	}
	cfg.Insecure = true // the TLS certificate would be dated by the fake clock
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if testing.Verbose() {
		log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	ctx, cancel := context.WithCancel(context.Background())
	h, err := hub.New(ctx, cfg, log, hub.WithClock(clk.Now))
	require.NoError(t, err)
	ln, err := net.Listen("tcp", cfg.Listen)
	require.NoError(t, err)
	u := h.URL(ln.Addr())
	dirs, err := h.SeedDemo(ctx, u)
	require.NoError(t, err)
	require.NoError(t, h.SeedDemoCatalog(ctx))
	require.NoError(t, h.SeedDemoCatalog(ctx), "idempotent")
	done := make(chan error, 1)
	go func() { done <- h.Serve(ctx, ln) }()
	eh := &exchangeHub{testHub: &testHub{h: h, url: u, dirs: dirs, http: &http.Client{Timeout: 10 * time.Second}}, clock: clk, clients: map[int]*sdk.Client{}}
	t.Cleanup(func() {
		for _, c := range eh.clients {
			c.Close()
		}
		cancel()
		require.NoError(t, <-done)
		require.NoError(t, h.Close())
	})
	return eh
}

func (eh *exchangeHub) c(t testing.TB, i int) *sdk.Client {
	t.Helper()
	if c, ok := eh.clients[i]; ok {
		return c
	}
	id, err := identity.Load(eh.dirs[i], nil)
	require.NoError(t, err)
	c, err := sdk.Dial(context.Background(), id, sdk.WithClock(eh.clock.Now))
	require.NoError(t, err)
	eh.clients[i] = c
	return c
}

func (eh *exchangeHub) code(t *testing.T, i int) string { return eh.identity(t, i).Code }

// issueIDProof has demo issuer i issue a 居民身份证明 (the demo licence type the
// 住房公积金购房提取 matter's id_proof material names) to a resident, dated by the hub's
// clock; it returns the identifier.
func (eh *exchangeHub) issueIDProof(t *testing.T, i int, idNumber, name, serial string) string {
	t.Helper()
	ctx := context.Background()
	c, issuer := eh.c(t, i), eh.identity(t, i)
	cat, err := c.Catalogue(ctx)
	require.NoError(t, err)
	ty, ok := cat.Lookup("11999999000000029N001")
	require.True(t, ok)
	id, err := ecert.NewIdentifier(ty.Code, issuer.Code, serial, 1)
	require.NoError(t, err)
	m, err := ecert.NewMetadata(ty, id)
	require.NoError(t, err)
	today := ecert.DateOf(eh.clock.Now().In(ecert.ChinaTime))
	m.Number, m.IssuerName, m.IssueDate = "ID"+serial, issuer.Name, today
	m.HolderName, m.HolderCode, m.ValidFrom = name, idNumber, today
	m.Items = map[string]string{"name": name, "sex": "男", "birth_date": "1949-12-31", "address": "重庆市渝北区龙溪街道"}
	e, err := c.IssueLicence(ctx, m, "")
	require.NoError(t, err)
	return e.GetIdentifier()
}

func requireReason(t *testing.T, err error, code codes.Code, reason string) {
	t.Helper()
	require.Error(t, err)
	require.Equal(t, code, status.Code(err), err.Error())
	require.Equal(t, reason, sdk.Reason(err), err.Error())
}

func (eh *exchangeHub) file(t *testing.T, consumer int, resource string, items ...string) *exchangev1.Requirement {
	t.Helper()
	resp, err := eh.c(t, consumer).Requirements.FileRequirement(context.Background(), &exchangev1.FileRequirementRequest{
		Resource: resource, Items: items, MatterCodes: []string{"500000-GJJ-0001"}, LegalDuty: "《住房公积金管理条例》第二十四条"})
	require.NoError(t, err)
	return resp.GetRequirement()
}

// decide sends a decision; basis is KIND:TITLE:ARTICLE (as gxctl's --legal-basis), or "".
func (eh *exchangeHub) decide(t *testing.T, by int, id, action, basis string) (*exchangev1.Requirement, error) {
	t.Helper()
	resp, err := eh.c(t, by).Requirements.DecideRequirement(context.Background(), &exchangev1.DecideRequirementRequest{
		Id: id, Action: action, LegalBasis: basisOf(basis), Comment: "测试"})
	return resp.GetRequirement(), err
}

// basisOf parses KIND:TITLE:ARTICLE[:NUMBER] ("" or blank: none).
func basisOf(s string) *exchangev1.LegalBasis {
	if strings.TrimSpace(s) == "" {
		return nil
	}
	p := append(strings.SplitN(s, ":", 4), "", "", "")
	return &exchangev1.LegalBasis{Kind: p[0], Title: p[1], Article: p[2], DocumentNumber: p[3]}
}

func (eh *exchangeHub) get(t *testing.T, by int, id string) *exchangev1.Requirement {
	t.Helper()
	r, err := eh.c(t, by).Requirements.GetRequirement(context.Background(), &exchangev1.GetRequirementRequest{Id: id})
	require.NoError(t, err)
	return r
}

var cstZone = calendar.Location()

func TestCatalogService(t *testing.T) {
	clk := &clock{t: time.Date(2026, 3, 2, 10, 0, 0, 0, cstZone)}
	eh := startHubAt(t, clk)
	ctx := context.Background()
	market := eh.c(t, dMarket)
	newRes := &exchangev1.Resource{
		Code: "500000-SCJG-0002", Name: "食品经营许可信息", SubjectKind: "uscc", ShareType: "unconditional",
		UpdateCycle: "daily", ProvisionMethod: "pull_api", ScopeRegion: "500000", ScopeLevel: "provincial",
		Items: []*exchangev1.DataItem{{Name: "licence_number", Title: "许可证编号", Type: "string", Sensitivity: "public"}},
	}
	reg, err := market.Catalog.RegisterResource(ctx, &exchangev1.RegisterResourceRequest{Resource: newRes})
	require.NoError(t, err)
	require.Equal(t, int32(1), reg.GetResource().GetVersion())
	require.Equal(t, eh.code(t, dMarket), reg.GetResource().GetProvider())
	require.Equal(t, int32(1), reg.GetResource().GetFreshnessLimit(), "default filled")

	t.Run("fail/consumer-only department cannot register", func(t *testing.T) {
		r := proto.Clone(newRes).(*exchangev1.Resource)
		r.Code = "500112-ZW-0001"
		_, err := eh.c(t, dYubei).Catalog.RegisterResource(ctx, &exchangev1.RegisterResourceRequest{Resource: r})
		requireReason(t, err, codes.PermissionDenied, "ROLE_REQUIRED")
		_, err = eh.c(t, dYubei).Catalog.GetResource(ctx, &exchangev1.GetResourceRequest{Code: r.Code})
		requireReason(t, err, codes.NotFound, "RESOURCE_NOT_FOUND")
	})
	t.Run("fail/not_shared without a legal basis", func(t *testing.T) {
		r := proto.Clone(newRes).(*exchangev1.Resource)
		r.Code, r.ShareType = "500000-SCJG-0003", "not_shared"
		_, err := market.Catalog.RegisterResource(ctx, &exchangev1.RegisterResourceRequest{Resource: r})
		requireReason(t, err, codes.InvalidArgument, "LEGAL_BASIS_REQUIRED")
	})
	t.Run("fail/only the provider changes its resource", func(t *testing.T) {
		r := proto.Clone(reg.GetResource()).(*exchangev1.Resource)
		r.Name = "被篡改"
		_, err := eh.c(t, dPolice).Catalog.UpdateResource(ctx, &exchangev1.UpdateResourceRequest{Resource: r})
		requireReason(t, err, codes.PermissionDenied, "NOT_RESOURCE_PROVIDER")
		got, err := market.Catalog.GetResource(ctx, &exchangev1.GetResourceRequest{Code: r.Code})
		require.NoError(t, err)
		require.Equal(t, "食品经营许可信息", got.GetName())
		require.Equal(t, int32(1), got.GetVersion())
	})

	clk.Set(clk.Now().Add(time.Hour))
	upd := proto.Clone(reg.GetResource()).(*exchangev1.Resource)
	upd.Name = "食品经营许可证信息"
	upd.Items = append(upd.Items, &exchangev1.DataItem{Name: "valid_until", Title: "有效期至", Type: "date", Sensitivity: "public"})
	v2, err := market.Catalog.UpdateResource(ctx, &exchangev1.UpdateResourceRequest{Resource: upd})
	require.NoError(t, err)
	require.Equal(t, int32(2), v2.GetResource().GetVersion())

	t.Run("fail/stale version", func(t *testing.T) {
		stale := proto.Clone(reg.GetResource()).(*exchangev1.Resource)
		stale.Name = "过期修改"
		_, err := market.Catalog.UpdateResource(ctx, &exchangev1.UpdateResourceRequest{Resource: stale})
		requireReason(t, err, codes.FailedPrecondition, "RESOURCE_VERSION_CONFLICT")
	})
	t.Run("ok/history readable", func(t *testing.T) {
		old, err := eh.c(t, dYubei).Catalog.GetResource(ctx, &exchangev1.GetResourceRequest{Code: upd.Code, Version: 1})
		require.NoError(t, err)
		require.Equal(t, "食品经营许可信息", old.GetName())
		require.Len(t, old.GetItems(), 1)
		h, err := eh.c(t, dYubei).Catalog.ListResourceVersions(ctx, &exchangev1.ListResourceVersionsRequest{Code: upd.Code, PageSize: 1})
		require.NoError(t, err)
		require.Len(t, h.GetVersions(), 1)
		require.Equal(t, "1", h.GetNextPageToken())
		h, err = eh.c(t, dYubei).Catalog.ListResourceVersions(ctx, &exchangev1.ListResourceVersionsRequest{Code: upd.Code, PageToken: h.GetNextPageToken()})
		require.NoError(t, err)
		require.Len(t, h.GetVersions(), 1)
		require.Equal(t, "食品经营许可证信息", h.GetVersions()[0].GetName())
		require.Empty(t, h.GetNextPageToken())
	})
	t.Run("ok/search by name, provider, item", func(t *testing.T) {
		yubei := eh.c(t, dYubei)
		s, err := yubei.Catalog.SearchResources(ctx, &exchangev1.SearchResourcesRequest{Query: "登记信息"})
		require.NoError(t, err)
		var names []string
		for _, r := range s.GetResources() {
			names = append(names, r.GetName())
		}
		require.Equal(t, []string{"不动产登记信息", "户籍人口信息", "婚姻登记信息"}, names, "name or description (户籍人口信息: 常住人口户籍登记信息)")
		s, err = yubei.Catalog.SearchResources(ctx, &exchangev1.SearchResourcesRequest{Provider: eh.code(t, dPolice)})
		require.NoError(t, err)
		require.Len(t, s.GetResources(), 2)
		s, err = yubei.Catalog.SearchResources(ctx, &exchangev1.SearchResourcesRequest{Item: "法定代表人"})
		require.NoError(t, err)
		require.Len(t, s.GetResources(), 1)
		require.Equal(t, "500000-SCJG-0001", s.GetResources()[0].GetCode())
		s, err = yubei.Catalog.SearchResources(ctx, &exchangev1.SearchResourcesRequest{ShareType: "not_shared"})
		require.NoError(t, err)
		require.Len(t, s.GetResources(), 1)
		require.Equal(t, "《中华人民共和国居民身份证法》第三条第三款、第六条第三款（法律）", s.GetResources()[0].GetLegalBasis().GetCitation(), "a readable citation")
		s, err = yubei.Catalog.SearchResources(ctx, &exchangev1.SearchResourcesRequest{PageSize: 2})
		require.NoError(t, err)
		require.Len(t, s.GetResources(), 2)
		require.NotEmpty(t, s.GetNextPageToken())
		_, err = yubei.Catalog.SearchResources(ctx, &exchangev1.SearchResourcesRequest{PageSize: 1001})
		requireReason(t, err, codes.InvalidArgument, "PAGE_SIZE_INVALID")
	})
	t.Run("REST: search is signed, not public", func(t *testing.T) {
		path := "/v1/resources?query=" + url.QueryEscape("户籍")
		code, body := eh.rest(t, "GET", path, "", nil)
		require.Equal(t, http.StatusUnauthorized, code)
		require.Equal(t, reqsig.ReasonUnsigned, body["reason"])
		id := eh.identity(t, dYubei)
		h, err := reqsig.Sign(id.Key, id.Code, "GET", path, nil, clk.Now())
		require.NoError(t, err)
		code, body = eh.rest(t, "GET", path, h, nil)
		require.Equal(t, http.StatusOK, code, body)
		rs := body["resources"].([]any)
		require.Len(t, rs, 1)
		require.Equal(t, "户籍人口信息", rs[0].(map[string]any)["name"])
		require.Equal(t, true, rs[0].(map[string]any)["published"])
	})
}

func TestRequirementWorkflowService(t *testing.T) {
	for _, engine := range []string{"sqlite", "postgres"} {
		t.Run(engine, func(t *testing.T) { testRequirementWorkflowService(t, engine == "postgres") })
	}
}

func testRequirementWorkflowService(t *testing.T, postgres bool) {
	filedAt := time.Date(2026, 2, 13, 10, 0, 0, 0, cstZone) // Friday before the Spring Festival
	clk := &clock{t: filedAt}
	eh := startHubAt(t, clk, postgres)
	ctx := context.Background()
	fund := eh.code(t, dFund)

	// Unconditional: granted at once; the provider cannot refuse; revoked by the consumer.
	lic := eh.file(t, dFund, "500000-SCJG-0001", "name", "legal_representative")
	t.Run("unconditional is granted at once", func(t *testing.T) {
		require.Equal(t, "granted", lic.GetState())
		require.Len(t, lic.GetDecisions(), 2)
		require.Equal(t, "auto_grant", lic.GetDecisions()[1].GetAction())
		require.Equal(t, "system", lic.GetDecisions()[1].GetBy())
		require.Equal(t, eh.code(t, dMarket), lic.GetProvider())
		// The consumer's decision carries its signed request, verifiable with its key.
		d := lic.GetDecisions()[0]
		require.Equal(t, fund, d.GetBy())
		req, err := reqsig.Parse(d.GetEvidence())
		require.NoError(t, err)
		claims, err := req.Verify(&eh.identity(t, dFund).Key.PublicKey, reqsig.Expect{Method: "POST",
			Path: exchangev1.RequirementService_FileRequirement_FullMethodName, BodyDigest: d.GetBodyDigest(), Now: clk.Now()})
		require.NoError(t, err)
		require.Equal(t, fund, req.Department)
		require.NotEmpty(t, claims.Nonce)
		_, err = req.Verify(&eh.identity(t, dMarket).Key.PublicKey, reqsig.Expect{Method: "POST",
			Path: exchangev1.RequirementService_FileRequirement_FullMethodName, BodyDigest: d.GetBodyDigest(), Now: clk.Now()})
		require.Error(t, err, "another department's key does not verify it")
	})
	t.Run("provider cannot refuse an unconditional requirement", func(t *testing.T) {
		_, err := eh.decide(t, dMarket, lic.GetId(), "refuse", "administrative_regulation:某某条例:第一条")
		requireReason(t, err, codes.FailedPrecondition, "UNCONDITIONAL_REFUSAL_FORBIDDEN")
		require.Len(t, eh.get(t, dFund, lic.GetId()).GetDecisions(), 2, "nothing written")
	})

	// Conditional: reviewed by the coordinator, answered by the provider.
	hh := eh.file(t, dFund, "500000-GA-0001", "name", "household_address")
	t.Run("conditional goes to review with a working-day deadline", func(t *testing.T) {
		require.Equal(t, "under_review", hh.GetState())
		require.Equal(t, "daily", hh.GetUpdateCycle(), "the resource's cycle by default")
		require.Equal(t, "pull_api", hh.GetProvisionMethod())
		require.Equal(t, time.Date(2026, 2, 25, 0, 0, 0, 0, cstZone), hh.GetDeadline().AsTime().In(cstZone))
	})
	t.Run("wrong departments are refused, each with its reason, writing nothing", func(t *testing.T) {
		for _, tc := range []struct {
			by     int
			action string
			code   codes.Code
			reason string
		}{
			{dPolice, "accept_complete", codes.PermissionDenied, "ROLE_REQUIRED"},                // provider cannot review
			{dFund, "accept_complete", codes.PermissionDenied, "ROLE_REQUIRED"},                  // consumer cannot review
			{dFund, "grant", codes.PermissionDenied, "NOT_REQUIREMENT_PROVIDER"},                 // consumer cannot answer
			{dCoordinator, "grant", codes.PermissionDenied, "NOT_REQUIREMENT_PROVIDER"},          // coordinator cannot answer for the provider
			{dPolice, "grant", codes.FailedPrecondition, "REQUIREMENT_STATE_INVALID"},            // not reviewed yet
			{dPolice, "withdraw", codes.PermissionDenied, "NOT_REQUIREMENT_CONSUMER"},            // provider cannot withdraw
			{dYubei, "withdraw", codes.PermissionDenied, "NOT_INVOLVED"},                         // a bystander
			{dCoordinator, "order_share", codes.FailedPrecondition, "REQUIREMENT_STATE_INVALID"}, // not escalated
		} {
			_, err := eh.decide(t, tc.by, hh.GetId(), tc.action, "")
			requireReason(t, err, tc.code, tc.reason)
		}
		got := eh.get(t, dFund, hh.GetId())
		require.Equal(t, "under_review", got.GetState())
		require.Len(t, got.GetDecisions(), 1)
		_, err := eh.c(t, dYubei).Requirements.GetRequirement(ctx, &exchangev1.GetRequirementRequest{Id: hh.GetId()})
		requireReason(t, err, codes.PermissionDenied, "NOT_INVOLVED")
	})
	t.Run("concurrent reviews: exactly one applies", func(t *testing.T) {
		var wg sync.WaitGroup
		errs := make([]error, 4)
		for i := range errs {
			wg.Add(1)
			go func() { defer wg.Done(); _, errs[i] = eh.decide(t, dCoordinator, hh.GetId(), "accept_complete", "") }()
		}
		wg.Wait()
		ok := 0
		for _, err := range errs {
			if err == nil {
				ok++
				continue
			}
			require.Contains(t, []string{"REQUIREMENT_CHANGED", "REQUIREMENT_STATE_INVALID"}, sdk.Reason(err), err.Error())
		}
		require.Equal(t, 1, ok)
		got := eh.get(t, dPolice, hh.GetId())
		require.Equal(t, "awaiting_provider", got.GetState())
		require.Len(t, got.GetDecisions(), 2)
		// Accepted Friday 02-13: 5 working days are 02-14 (make-up), 02-24 … 02-27.
		require.Equal(t, time.Date(2026, 2, 28, 0, 0, 0, 0, cstZone), got.GetDeadline().AsTime().In(cstZone))
	})
	t.Run("refusal without a legal basis is rejected, with one accepted", func(t *testing.T) {
		_, err := eh.decide(t, dPolice, hh.GetId(), "refuse", "  ")
		requireReason(t, err, codes.InvalidArgument, "LEGAL_BASIS_REQUIRED")
		_, err = eh.decide(t, dPolice, hh.GetId(), "refuse", "x")
		requireReason(t, err, codes.InvalidArgument, "LEGAL_BASIS_KIND_INVALID")
		_, err = eh.decide(t, dPolice, hh.GetId(), "refuse", "law:x:第一条")
		requireReason(t, err, codes.InvalidArgument, "LEGAL_BASIS_TITLE_INVALID")
		require.Len(t, eh.get(t, dFund, hh.GetId()).GetDecisions(), 2)
		r, err := eh.decide(t, dPolice, hh.GetId(), "refuse", "法律:《中华人民共和国个人信息保护法》:第三十四条")
		require.NoError(t, err)
		require.Equal(t, "refused", r.GetState())
		d := r.GetDecisions()[2]
		require.Equal(t, "《中华人民共和国个人信息保护法》第三十四条（法律）", d.GetLegalBasis().GetCitation())
		require.Equal(t, "law", d.GetLegalBasis().GetKind(), "the Chinese kind name is stored as its code")
		require.Equal(t, eh.code(t, dPolice), d.GetBy())
		require.Contains(t, d.GetEvidence(), "GXHUB-SM2 ")
		require.NotEmpty(t, d.GetBodyDigest())
	})
	t.Run("provider grants a reviewed requirement", func(t *testing.T) {
		r := eh.file(t, dFund, "500000-GA-0001", "name", "household_address")
		_, err := eh.decide(t, dCoordinator, r.GetId(), "accept_complete", "")
		require.NoError(t, err)
		g, err := eh.decide(t, dPolice, r.GetId(), "grant", "")
		require.NoError(t, err)
		require.Equal(t, "granted", g.GetState())
		require.Nil(t, g.GetDeadline())
	})
	t.Run("unpublished resource: 10 working days to answer", func(t *testing.T) {
		r := eh.file(t, dFund, "500000-BDC-0001", "certificate_number", "owner_name", "location")
		a, err := eh.decide(t, dCoordinator, r.GetId(), "accept_complete", "")
		require.NoError(t, err)
		// Accepted 02-13: 02-14 (make-up), 02-24…02-27, 02-28 (make-up), 03-02…03-05 → the
		// 10th working day is 03-05.
		require.Equal(t, time.Date(2026, 3, 6, 0, 0, 0, 0, cstZone), a.GetDeadline().AsTime().In(cstZone))
	})
	t.Run("not_shared goes straight to the coordinator", func(t *testing.T) {
		r := eh.file(t, dFund, "500000-GA-0009", "fingerprint")
		require.Equal(t, "escalated", r.GetState())
		_, err := eh.decide(t, dPolice, r.GetId(), "grant", "")
		requireReason(t, err, codes.FailedPrecondition, "COORDINATOR_DECIDES")
		_, err = eh.decide(t, dCoordinator, r.GetId(), "confirm_refusal", "")
		requireReason(t, err, codes.InvalidArgument, "LEGAL_BASIS_REQUIRED")
		c, err := eh.decide(t, dCoordinator, r.GetId(), "confirm_refusal", "law:中华人民共和国居民身份证法:第六条")
		require.NoError(t, err)
		require.Equal(t, "refused", c.GetState())
	})

	marriage := eh.file(t, dFund, "500000-MZ-0001", "marital_status", "spouse_id_number")
	t.Run("overdue → escalated → ordered", func(t *testing.T) {
		clk.Set(time.Date(2026, 2, 24, 23, 59, 0, 0, cstZone))
		require.Equal(t, "under_review", eh.get(t, dFund, marriage.GetId()).GetState(), "in time until the deadline")
		clk.Set(time.Date(2026, 2, 25, 0, 0, 0, 0, cstZone))
		esc, err := eh.c(t, dCoordinator).Requirements.ListRequirements(ctx, &exchangev1.ListRequirementsRequest{State: "escalated"})
		require.NoError(t, err)
		var ids []string
		for _, r := range esc.GetRequirements() {
			ids = append(ids, r.GetId())
		}
		require.Contains(t, ids, marriage.GetId(), "the sweep on read escalated it")
		got := eh.get(t, dCivil, marriage.GetId())
		require.Equal(t, "escalated", got.GetState())
		last := got.GetDecisions()[len(got.GetDecisions())-1]
		require.Equal(t, "escalate", last.GetAction())
		require.Equal(t, "system", last.GetBy())
		require.Empty(t, last.GetEvidence())
		_, err = eh.decide(t, dCivil, marriage.GetId(), "order_share", "")
		requireReason(t, err, codes.PermissionDenied, "ROLE_REQUIRED")
		o, err := eh.decide(t, dCoordinator, marriage.GetId(), "order_share", "")
		require.NoError(t, err)
		require.Equal(t, "granted", o.GetState())
		require.Equal(t, "order_share", o.GetDecisions()[len(o.GetDecisions())-1].GetAction())
	})
	t.Run("listing", func(t *testing.T) {
		mine, err := eh.c(t, dFund).Requirements.ListRequirements(ctx, &exchangev1.ListRequirementsRequest{State: "granted"})
		require.NoError(t, err)
		require.Len(t, mine.GetRequirements(), 3) // licence, household, marriage
		prov, err := eh.c(t, dPolice).Requirements.ListRequirements(ctx, &exchangev1.ListRequirementsRequest{Provider: eh.code(t, dPolice)})
		require.NoError(t, err)
		require.Len(t, prov.GetRequirements(), 3)
		_, err = eh.c(t, dPolice).Requirements.ListRequirements(ctx, &exchangev1.ListRequirementsRequest{Consumer: fund})
		requireReason(t, err, codes.PermissionDenied, "NOT_INVOLVED")
	})
	t.Run("exemptions follow the grants and the e-certificates the applicant holds", func(t *testing.T) {
		const applicant = "11010519491231002X"
		exemptions := func(c *sdk.Client) map[string]*exchangev1.Exemption {
			ex, err := c.Matters.GetExemptions(ctx, &exchangev1.GetExemptionsRequest{Code: "500000-GJJ-0001", Applicant: strings.ToLower(applicant)})
			require.NoError(t, err)
			require.Equal(t, "id_number", ex.GetApplicantKind())
			got := map[string]*exchangev1.Exemption{}
			for _, e := range ex.GetExemptions() {
				got[e.GetMaterial().GetId()] = e
			}
			return got
		}
		got := exemptions(eh.c(t, dFund))
		require.False(t, got["id_proof"].GetExempt(), "a known e-certificate type is not enough: the applicant must hold one")
		require.Contains(t, got["id_proof"].GetReason(), "holds no e-certificate of type 11999999000000029N001")

		idProof := eh.issueIDProof(t, dCivil, applicant, "王示例", "2026000101")
		got = exemptions(eh.c(t, dFund))
		require.True(t, got["id_proof"].GetExempt(), got["id_proof"].GetReason())
		require.Equal(t, "ecertificate", got["id_proof"].GetSource())
		require.Equal(t, idProof, got["id_proof"].GetEcert())
		require.True(t, got["household_register"].GetExempt())
		require.Equal(t, "sharing", got["household_register"].GetSource())
		require.True(t, got["marriage_proof"].GetExempt())
		require.Equal(t, marriage.GetId(), got["marriage_proof"].GetRequirement())
		require.False(t, got["property_certificate"].GetExempt())
		require.Contains(t, got["property_certificate"].GetReason(), "awaiting_provider")
		require.False(t, got["purchase_contract"].GetExempt())
		// The same matter for a department without grants: only the e-certificate is exempt.
		for _, e := range exemptions(eh.c(t, dYubei)) {
			require.Equal(t, e.GetMaterial().GetId() == "id_proof", e.GetExempt(), e.GetReason())
		}
		_, err := eh.c(t, dFund).Matters.GetExemptions(ctx, &exchangev1.GetExemptionsRequest{Code: "500000-GJJ-0001", Applicant: "123"})
		requireReason(t, err, codes.InvalidArgument, "APPLICANT_INVALID")

		// Collect: the e-certificate is fetched from the registry and verified, the shared
		// materials are pulled, and the case records both with how they were obtained.
		fund := eh.c(t, dFund)
		_, err = fund.Cases.OpenCase(ctx, &exchangev1.OpenCaseRequest{Number: "GJJ-2026-0001", Matter: "500000-GJJ-0001", Applicant: applicant})
		require.NoError(t, err)
		col, err := fund.Matters.CollectMaterials(ctx, &exchangev1.CollectMaterialsRequest{Code: "500000-GJJ-0001", CaseNumber: "GJJ-2026-0001"})
		require.NoError(t, err)
		byID := map[string]*exchangev1.CollectedMaterial{}
		for _, m := range col.GetMaterials() {
			byID[m.GetExemption().GetMaterial().GetId()] = m
		}
		ec := byID["id_proof"].GetEcert()
		require.NotNil(t, ec, byID["id_proof"].GetErrorMessage())
		require.Equal(t, "VALID", ec.GetVerdict(), ec.GetReason())
		require.Equal(t, idProof, ec.GetIdentifier())
		require.NotEmpty(t, ec.GetSealed())
		require.NotNil(t, byID["household_register"].GetPull())
		sources := map[string]string{}
		for _, m := range col.GetCase().GetMaterials() {
			sources[m.GetMaterial()] = m.GetSource()
		}
		require.Equal(t, map[string]string{"id_proof": "ecertificate", "household_register": "sharing", "marriage_proof": "sharing"}, sources)
		use := eh.lastAudit(t, server.KindCase)
		require.Equal(t, "ecert:"+idProof, use.Resource, "fetching the e-certificate for the case is audited")
		require.Equal(t, "GJJ-2026-0001", use.Case)

		// A suspended e-certificate exempts nothing.
		_, err = eh.c(t, dCivil).ECert.ChangeECertStatus(ctx, &certsv1.ChangeECertStatusRequest{Identifier: idProof, Action: certsv1.StatusAction_STATUS_ACTION_SUSPEND, Reason: "核查中"})
		require.NoError(t, err)
		got = exemptions(eh.c(t, dFund))
		require.False(t, got["id_proof"].GetExempt())
		require.Contains(t, got["id_proof"].GetReason(), "is suspended, not active")
	})
	t.Run("revoke: by the consumer, not the provider; exemption ends", func(t *testing.T) {
		_, err := eh.decide(t, dCivil, marriage.GetId(), "revoke", "")
		requireReason(t, err, codes.PermissionDenied, "NOT_REQUIREMENT_CONSUMER")
		r, err := eh.decide(t, dFund, marriage.GetId(), "revoke", "")
		require.NoError(t, err)
		require.Equal(t, "revoked", r.GetState())
		_, err = eh.decide(t, dFund, marriage.GetId(), "revoke", "")
		requireReason(t, err, codes.FailedPrecondition, "REQUIREMENT_STATE_INVALID")
		ex, err := eh.c(t, dFund).Matters.GetExemptions(ctx, &exchangev1.GetExemptionsRequest{Code: "500000-GJJ-0001", Applicant: "11010519491231002X"})
		require.NoError(t, err)
		for _, e := range ex.GetExemptions() {
			if e.GetMaterial().GetId() == "marriage_proof" {
				require.False(t, e.GetExempt())
				require.Contains(t, e.GetReason(), "revoked")
			}
		}
	})
	t.Run("filing is checked against the catalogue", func(t *testing.T) {
		_, err := eh.c(t, dFund).Requirements.FileRequirement(ctx, &exchangev1.FileRequirementRequest{
			Resource: "500000-GA-0001", Items: []string{"salary"}, MatterCodes: []string{"M-1"}, LegalDuty: "x"})
		requireReason(t, err, codes.InvalidArgument, "DATA_ITEM_UNKNOWN")
		_, err = eh.c(t, dFund).Requirements.FileRequirement(ctx, &exchangev1.FileRequirementRequest{
			Resource: "NO-SUCH-RES", Items: []string{"x"}, MatterCodes: []string{"M-1"}, LegalDuty: "x"})
		requireReason(t, err, codes.NotFound, "RESOURCE_NOT_FOUND")
		_, err = eh.c(t, dCoordinator).Requirements.FileRequirement(ctx, &exchangev1.FileRequirementRequest{
			Resource: "500000-GA-0001", Items: []string{"name"}, MatterCodes: []string{"M-1"}, LegalDuty: "x"})
		requireReason(t, err, codes.PermissionDenied, "ROLE_REQUIRED")
		_, err = eh.c(t, dFund).Requirements.FileRequirement(ctx, &exchangev1.FileRequirementRequest{
			Resource: "500000-GA-0001", Items: []string{"name"}, MatterCodes: []string{"500000-GJJ-0001", "999999-XX-0001"}, LegalDuty: "x"})
		requireReason(t, err, codes.InvalidArgument, "MATTER_UNKNOWN")
		_, err = eh.c(t, dFund).Requirements.FileRequirement(ctx, &exchangev1.FileRequirementRequest{
			Resource: "500000-GA-0001", Items: []string{"name"}, MatterCodes: []string{"500000-GJJ-0001"}, LegalDuty: strings.Repeat("职", 1<<20)})
		requireReason(t, err, codes.InvalidArgument, "TEXT_TOO_LONG")
		all, err := eh.c(t, dCoordinator).Requirements.ListRequirements(ctx, &exchangev1.ListRequirementsRequest{})
		require.NoError(t, err)
		require.Len(t, all.GetRequirements(), 6, "refused filings wrote nothing")
	})
}

func TestMatterService(t *testing.T) {
	clk := &clock{t: time.Date(2026, 3, 2, 10, 0, 0, 0, cstZone)}
	eh := startHubAt(t, clk)
	ctx := context.Background()
	basis := &exchangev1.LegalBasis{Kind: "行政法规", Title: "优化营商环境条例", Article: "第三十五条", DocumentNumber: "国务院令第722号"}
	m := &exchangev1.Matter{Code: "500112-QYKB-0001", Name: "企业开办", Department: eh.code(t, dYubei), TimeLimitDays: 3, LegalBasis: basis,
		Materials: []*exchangev1.Material{
			{Id: "business_licence", Name: "营业执照", Resource: "500000-SCJG-0001", Items: []string{"uscc", "name"}},
			{Id: "articles", Name: "公司章程"},
		}}
	_, err := eh.c(t, dYubei).Matters.DefineMatter(ctx, &exchangev1.DefineMatterRequest{Matter: m})
	requireReason(t, err, codes.PermissionDenied, "ROLE_REQUIRED") // the coordinator keeps the registry
	coord := eh.c(t, dCoordinator)
	d, err := coord.Matters.DefineMatter(ctx, &exchangev1.DefineMatterRequest{Matter: m})
	require.NoError(t, err)
	require.Equal(t, int32(1), d.GetMatter().GetVersion())
	require.Equal(t, eh.code(t, dYubei), d.GetMatter().GetDepartment())
	require.Equal(t, eh.code(t, dCoordinator), d.GetMatter().GetUpdatedBy())
	require.Equal(t, "《优化营商环境条例》（国务院令第722号）第三十五条（行政法规）", d.GetMatter().GetLegalBasis().GetCitation())

	for _, tc := range []struct {
		name   string
		mut    func(*exchangev1.Matter)
		reason string
	}{
		{"unknown data item", func(b *exchangev1.Matter) {
			b.Materials = []*exchangev1.Material{{Id: "a", Name: "A", Resource: "500000-SCJG-0001", Items: []string{"salary"}}}
		}, "DATA_ITEM_UNKNOWN"},
		{"unknown department", func(b *exchangev1.Matter) { b.Department = "91350100M000100Y43" }, "MATTER_DEPARTMENT_UNKNOWN"},
		{"free-text basis", func(b *exchangev1.Matter) {
			b.LegalBasis = &exchangev1.LegalBasis{Kind: "law", Title: "x", Article: "第一条"}
		}, "LEGAL_BASIS_TITLE_INVALID"},
		{"no time limit", func(b *exchangev1.Matter) { b.TimeLimitDays = 0 }, "MATTER_TIME_LIMIT_INVALID"},
	} {
		t.Run("fail/"+tc.name, func(t *testing.T) {
			b := proto.Clone(m).(*exchangev1.Matter)
			b.Code = "500112-QYKB-0002"
			tc.mut(b)
			_, err := coord.Matters.DefineMatter(ctx, &exchangev1.DefineMatterRequest{Matter: b})
			requireReason(t, err, codes.InvalidArgument, tc.reason)
		})
	}
	_, err = coord.Matters.DefineMatter(ctx, &exchangev1.DefineMatterRequest{Matter: m})
	requireReason(t, err, codes.AlreadyExists, "MATTER_EXISTS")
	v2m := proto.Clone(m).(*exchangev1.Matter)
	v2m.Name, v2m.Version = "企业开办一件事", 1
	v2, err := coord.Matters.DefineMatter(ctx, &exchangev1.DefineMatterRequest{Matter: v2m})
	require.NoError(t, err)
	require.Equal(t, int32(2), v2.GetMatter().GetVersion())
	got, err := eh.c(t, dPolice).Matters.GetMatter(ctx, &exchangev1.GetMatterRequest{Code: m.Code})
	require.NoError(t, err)
	require.Equal(t, "企业开办一件事", got.GetName())
	l, err := eh.c(t, dPolice).Matters.ListMatters(ctx, &exchangev1.ListMattersRequest{})
	require.NoError(t, err)
	require.Len(t, l.GetMatters(), 4) // the three demo matters and this one
	audited := eh.auditKinds(t, server.KindMatterChange)
	require.Len(t, audited, 2, "both versions are audited")
	require.Equal(t, m.Code, audited[1].Matter)

	// The licence is unconditional: one filing exempts it, for a company applicant.
	_, err = eh.c(t, dYubei).Requirements.FileRequirement(ctx, &exchangev1.FileRequirementRequest{
		Resource: "500000-SCJG-0001", Items: []string{"uscc", "name"}, MatterCodes: []string{m.Code}, LegalDuty: "《市场主体登记管理条例》"})
	require.NoError(t, err)
	ex, err := eh.c(t, dYubei).Matters.GetExemptions(ctx, &exchangev1.GetExemptionsRequest{Code: m.Code, Applicant: "91350100M000100Y43"})
	require.NoError(t, err)
	require.Equal(t, "uscc", ex.GetApplicantKind())
	require.True(t, ex.GetExemptions()[0].GetExempt(), ex.GetExemptions()[0].GetReason())
	require.False(t, ex.GetExemptions()[1].GetExempt())
	require.True(t, strings.HasPrefix(ex.GetExemptions()[1].GetReason(), "must be submitted"))

	t.Run("collect: the exempt material is pulled for the open case in one call, and recorded in it", func(t *testing.T) {
		const company = "91350100M000100Y43"
		_, err := eh.c(t, dMarket).Records.Publish(ctx, &exchangev1.PublishRequest{Resource: "500000-SCJG-0001", BatchId: "collect-1",
			Changes: []*exchangev1.RecordChange{{Op: exchangev1.ChangeOp_CHANGE_OP_UPSERT, Subject: company,
				Fields: map[string]string{"uscc": company, "name": "福州示例科技有限公司", "legal_representative": "张三"}}}})
		require.NoError(t, err)
		yubei := eh.c(t, dYubei)
		_, err = yubei.Matters.CollectMaterials(ctx, &exchangev1.CollectMaterialsRequest{Code: m.Code, Applicant: company})
		requireReason(t, err, codes.InvalidArgument, "CASE_NUMBER_MISSING")
		_, err = yubei.Matters.CollectMaterials(ctx, &exchangev1.CollectMaterialsRequest{Code: m.Code, CaseNumber: "YB2026030200001"})
		requireReason(t, err, codes.FailedPrecondition, "CASE_NOT_FOUND")
		_, err = yubei.Cases.OpenCase(ctx, &exchangev1.OpenCaseRequest{Number: "YB2026030200001", Matter: m.Code, Applicant: company})
		require.NoError(t, err)
		_, err = yubei.Matters.CollectMaterials(ctx, &exchangev1.CollectMaterialsRequest{Code: m.Code, Applicant: "91350100M000200Y98", CaseNumber: "YB2026030200001"})
		requireReason(t, err, codes.InvalidArgument, "APPLICANT_MISMATCH")

		col, err := yubei.Matters.CollectMaterials(ctx, &exchangev1.CollectMaterialsRequest{Code: m.Code, CaseNumber: "YB2026030200001"})
		require.NoError(t, err)
		require.Len(t, col.GetMaterials(), 2)
		licence, articles := col.GetMaterials()[0], col.GetMaterials()[1]
		require.True(t, licence.GetExemption().GetExempt())
		require.Empty(t, licence.GetErrorReason(), licence.GetErrorMessage())
		info, err := yubei.Audit.GetLogInfo(ctx, &auditv1.GetLogInfoRequest{})
		require.NoError(t, err)
		hubKey, err := sm.ParsePublicKeyPEM([]byte(info.GetPullKeyPem()))
		require.NoError(t, err)
		res, err := sdk.VerifyPull(licence.GetPull(), hubKey)
		require.NoError(t, err, "the collected material is signed by the hub")
		require.Equal(t, "YB2026030200001", res.GetCaseNumber())
		require.Equal(t, m.Code, res.GetMatterCode())
		require.Len(t, res.GetRecords(), 1)
		require.Equal(t, map[string]string{"uscc": company, "name": "福州示例科技有限公司"}, res.GetRecords()[0].GetFields(), "only the material's items")
		require.NotEmpty(t, licence.GetPull().GetAuditReferences())
		require.False(t, articles.GetExemption().GetExempt())
		require.Nil(t, articles.GetPull(), "a material to submit is not pulled")
		mats := col.GetCase().GetMaterials()
		require.Len(t, mats, 1, "the case holds what was obtained and how")
		require.Equal(t, "business_licence", mats[0].GetMaterial())
		require.Equal(t, "sharing", mats[0].GetSource())
		require.Equal(t, res.GetPullId(), mats[0].GetPullId())
		require.Equal(t, licence.GetPull().GetAuditReferences(), mats[0].GetAuditReferences())
		digest := sdk.PayloadDigest(licence.GetPull())
		require.Equal(t, hex.EncodeToString(digest[:]), mats[0].GetDigest())

		_, err = yubei.Cases.CloseCase(ctx, &exchangev1.CloseCaseRequest{Number: "YB2026030200001"})
		require.NoError(t, err)
		_, err = yubei.Matters.CollectMaterials(ctx, &exchangev1.CollectMaterialsRequest{Code: m.Code, CaseNumber: "YB2026030200001"})
		requireReason(t, err, codes.FailedPrecondition, "CASE_CLOSED")
	})

	t.Run("REST: exemptions and decisions over the gateway", func(t *testing.T) {
		id, err := identity.Load(eh.dirs[dYubei], nil)
		require.NoError(t, err)
		post := func(path, body string) (int, map[string]any) {
			h, err := reqsig.Sign(id.Key, id.Code, "POST", path, []byte(body), clk.Now())
			require.NoError(t, err)
			return eh.rest(t, "POST", path, h, []byte(body))
		}
		code, body := post("/v1/matters/"+m.Code+":exemptions", `{"applicant":"91350100M000100Y43"}`)
		require.Equal(t, http.StatusOK, code, body)
		require.Equal(t, true, body["exemptions"].([]any)[0].(map[string]any)["exempt"])
		f, err := eh.c(t, dYubei).Requirements.FileRequirement(ctx, &exchangev1.FileRequirementRequest{
			Resource: "500000-GA-0001", Items: []string{"name"}, MatterCodes: []string{m.Code}, LegalDuty: "x"})
		require.NoError(t, err)
		path := "/v1/requirements/" + f.GetRequirement().GetId() + ":decide"
		code, body = post(path, `{"action":"refuse","legal_basis":"x"}`)
		require.Equal(t, http.StatusBadRequest, code, body)
		require.Equal(t, "REQUEST_MALFORMED", body["reason"], "a free-text basis does not even parse: it is a structure")
		code, body = post(path, `{"action":"refuse","legal_basis":{"kind":"law","title":"中华人民共和国个人信息保护法","article":"第十三条"}}`)
		require.Equal(t, http.StatusForbidden, code, body)
		require.Equal(t, "NOT_REQUIREMENT_PROVIDER", body["reason"])
		code, body = post(path, `{"action":"withdraw"}`)
		require.Equal(t, http.StatusOK, code, body)
		require.Equal(t, "withdrawn", body["requirement"].(map[string]any)["state"])
	})
}

// BenchmarkRequirementWorkflow measures one conditional requirement through the signed
// gRPC API on a running hub with SQLite: file, coordinator accepts, provider grants (three
// signed calls, each a compare-and-set decision with its evidence and an audit record).
func BenchmarkRequirementWorkflow(b *testing.B) {
	clk := &clock{t: time.Date(2026, 3, 2, 10, 0, 0, 0, cstZone)}
	eh := startHubAt(b, clk)
	ctx := context.Background()
	fund, coord, police := eh.c(b, dFund), eh.c(b, dCoordinator), eh.c(b, dPolice)
	b.ResetTimer()
	for b.Loop() {
		f, err := fund.Requirements.FileRequirement(ctx, &exchangev1.FileRequirementRequest{Resource: "500000-GA-0001",
			Items: []string{"name"}, MatterCodes: []string{"500000-GJJ-0001"}, LegalDuty: "《住房公积金管理条例》"})
		require.NoError(b, err)
		id := f.GetRequirement().GetId()
		_, err = coord.Requirements.DecideRequirement(ctx, &exchangev1.DecideRequirementRequest{Id: id, Action: "accept_complete"})
		require.NoError(b, err)
		_, err = police.Requirements.DecideRequirement(ctx, &exchangev1.DecideRequirementRequest{Id: id, Action: "grant"})
		require.NoError(b, err)
	}
}

// BenchmarkCatalogSearch measures a signed catalogue search (Chinese substring) over 500
// resources on a running hub with SQLite.
func BenchmarkCatalogSearch(b *testing.B) {
	clk := &clock{t: time.Date(2026, 3, 2, 10, 0, 0, 0, cstZone)}
	eh := startHubAt(b, clk)
	ctx := context.Background()
	market := eh.c(b, dMarket)
	for i := range 500 {
		_, err := market.Catalog.RegisterResource(ctx, &exchangev1.RegisterResourceRequest{Resource: &exchangev1.Resource{
			Code: fmt.Sprintf("500000-SCJG-B%03d", i), Name: fmt.Sprintf("市场主体信息%03d", i), SubjectKind: "uscc", ShareType: "unconditional",
			UpdateCycle: "daily", ProvisionMethod: "pull_api", ScopeRegion: "500000",
			Items: []*exchangev1.DataItem{{Name: "name", Title: "名称", Type: "string", Sensitivity: "public"}}}})
		require.NoError(b, err)
	}
	yubei := eh.c(b, dYubei)
	b.ResetTimer()
	for b.Loop() {
		resp, err := yubei.Catalog.SearchResources(ctx, &exchangev1.SearchResourcesRequest{Query: "主体信息1", PageSize: 20})
		require.NoError(b, err)
		require.Len(b, resp.GetResources(), 20)
	}
}
