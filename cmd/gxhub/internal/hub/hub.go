// Package hub assembles a running gxhub from its configuration: the store, the SM2 CA
// that certifies departments, the transport TLS, the gRPC services, the REST gateway (in
// process, no loopback hop), and the operational endpoints (/healthz, /readyz, /metrics,
// /openapi.json). cmd/gxhub calls New and Serve.
package hub

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/reflection"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/gxhub/gxhub/certs/keystore"
	"github.com/gxhub/gxhub/certs/pki"
	certsserver "github.com/gxhub/gxhub/certs/server"
	"github.com/gxhub/gxhub/certs/sm"
	"github.com/gxhub/gxhub/cmd/gxhub/internal/config"
	"github.com/gxhub/gxhub/cmd/gxhub/internal/web"
	"github.com/gxhub/gxhub/exchange"
	"github.com/gxhub/gxhub/exchange/server"
	"github.com/gxhub/gxhub/exchange/store"
	"github.com/gxhub/gxhub/exchange/store/postgres"
	"github.com/gxhub/gxhub/exchange/store/sqlite"
	"github.com/gxhub/gxhub/exchange/store/sqlstore"
	ledgerserver "github.com/gxhub/gxhub/ledger/server"
	"github.com/gxhub/gxhub/ledger/witness"
	"github.com/gxhub/gxhub/policy/casbinpolicy"
	adminv1 "github.com/gxhub/gxhub/sdk/api/admin/v1"
	auditv1 "github.com/gxhub/gxhub/sdk/api/audit/v1"
	certsv1 "github.com/gxhub/gxhub/sdk/api/certs/v1"
	exchangev1 "github.com/gxhub/gxhub/sdk/api/exchange/v1"
	admingw "github.com/gxhub/gxhub/sdk/api/gateway/admin/v1"
	auditgw "github.com/gxhub/gxhub/sdk/api/gateway/audit/v1"
	certsgw "github.com/gxhub/gxhub/sdk/api/gateway/certs/v1"
	exchangegw "github.com/gxhub/gxhub/sdk/api/gateway/exchange/v1"
	"github.com/gxhub/gxhub/sdk/api/openapi"
)

// Hub is an assembled, not yet serving, gxhub.
type Hub struct {
	Config   config.Config
	Log      *slog.Logger
	Store    store.Store
	CA       *CA
	Calendar *server.LiveCalendar // embedded or --calendar years, published years, provisional years
	Auth     *server.Authenticator
	TLS      *tls.Config // nil when insecure
	Audit    *Audit
	// SigningKey is the hub's tree-head key: it signs the audit log's tree heads and
	// checkpoints (and the backup manifests that carry them). Its public key is published
	// by AuditService.GetLogInfo.
	SigningKey *sm.PrivateKey
	// AnchorKey signs the embedded anchor chain's blocks; PullKey signs pull responses.
	// Each of the three keys has one purpose and a certificate from the hub CA saying so
	// (docs/AUDIT.md); all are created on the first start that lacks them.
	AnchorKey, PullKey *sm.PrivateKey
	// Witnesses collects the witnesses' cosignatures of the log's checkpoints; nil when
	// none is configured.
	Witnesses *witness.Collector
	// Keys keeps every private key and secret under DATA_DIR (CA, signing, seal-maker, TLS,
	// subject key), encrypted with ca_password_file when it is set.
	Keys keystore.Files
	// Decider decides pulls with the casbin policy kept in the store (reloaded on change).
	Decider *casbinpolicy.Decider
	// Requirements runs the requirement workflow; Serve sweeps it for overdue steps.
	Requirements *server.Requirements
	// Puller is the pull use case (exchange.Puller) over the store, the policy, the hub's
	// key and the audit log.
	Puller *exchange.Puller
	// Objections tracks objections; Serve sweeps it for overdue answers.
	Objections *server.Objections
	deadlines  exchange.Deadlines

	// Federation serves agreements with other hubs and forwards pulls to them
	// (docs/FEDERATION.md); FederationKey signs the hub's messages to its peers.
	Federation    *server.Federation
	FederationKey *sm.PrivateKey
	// Trust is the verifier's trust store (anchors, CRL sources); Serve refreshes its CRLs.
	Trust *certsserver.TrustStore

	grpc *grpc.Server
	// snapshots serve the request path's reference rows from memory (nil: a store
	// without a snapshot version).
	snapshots *server.Snapshots
	// subscriptions serve the subscription streams and push to webhooks.
	subscriptions *server.Subscriptions
	// freshness pushes providers' freshness alerts (FollowAlerts).
	freshness *server.Freshness
	handler   http.Handler
	web       *web.UI
	metrics   *prometheus.Registry
	now       func() time.Time
	// progress tells the operator what a (possibly long) start is doing.
	progress func(format string, args ...any)
}

// Option adjusts a Hub under construction.
type Option func(*Hub)

// WithDeadlines sets the jurisdiction's requirement workflow deadlines in working days
// (default exchange.DefaultDeadlines); New validates them.
func WithDeadlines(d exchange.Deadlines) Option { return func(h *Hub) { h.deadlines = d } }

// WithClock replaces time.Now (tests).
func WithClock(now func() time.Time) Option { return func(h *Hub) { h.now = now } }

// WithProgress has New and SeedDemo report each step of a start (opening and migrating the
// store, the CA, the audit log, demo data) to fn, one line each.
func WithProgress(fn func(format string, args ...any)) Option {
	return func(h *Hub) { h.progress = fn }
}

func (h *Hub) step(format string, args ...any) {
	if h.progress != nil {
		h.progress(format, args...)
	}
}

// New opens the store, loads or creates the CAs and TLS material, and builds the handlers.
func New(ctx context.Context, cfg config.Config, log *slog.Logger, opts ...Option) (*Hub, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	h := &Hub{Config: cfg, Log: log, now: time.Now}
	for _, o := range opts {
		o(h)
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("create data directory %s: %w", cfg.DataDir, err)
	}
	baseCalendar, err := loadCalendar(cfg.CalendarFile)
	if err != nil {
		return nil, err
	}
	if cfg.Store.Driver == "postgres" {
		h.step("opening the PostgreSQL store")
	} else {
		h.step("opening the SQLite store %s", filepath.Join(cfg.DataDir, sqlite.FileName))
	}
	migrated := sqlstore.WithMigrationProgress(func(version int, name string) {
		h.step("database schema: applied step %d (%s)", version, name)
	})
	if h.Store, err = openStore(ctx, cfg, migrated); err != nil {
		return nil, err
	}
	h.Calendar = &server.LiveCalendar{Base: baseCalendar, Store: h.Store.CalendarYears(), Log: log}
	password, err := config.ReadPassword(cfg.CAPasswordFile)
	if err != nil {
		h.Store.Close()
		return nil, err
	}
	h.Keys = keystore.Files{Password: password, Upgraded: func(path string) {
		log.Info("a plaintext key file was encrypted in place with ca_password_file", slog.String("path", path))
	}}
	if !h.Keys.Encrypted() {
		log.Warn("the hub's private keys and secrets (CA, signing, seal-maker and TLS keys, the subject key) are stored unencrypted: set ca_password_file (GXHUB_CA_PASSWORD_FILE) in production")
	}
	h.step("loading the hub CA from %s (created on first start)", filepath.Join(cfg.DataDir, "ca"))
	if h.CA, err = EnsureCA(filepath.Join(cfg.DataDir, "ca"), h.Keys, h.now()); err != nil {
		h.Store.Close()
		return nil, err
	}
	h.step("opening the audit log %s", cfg.AuditLogID)
	if err := h.openAudit(ctx); err != nil {
		h.Store.Close()
		return nil, err
	}
	tlsDir := filepath.Join(cfg.DataDir, "tls")
	if !cfg.Insecure {
		host, _, _ := net.SplitHostPort(cfg.Listen)
		hosts := cfg.TLSHosts
		if host != "" && host != "0.0.0.0" && host != "::" {
			hosts = append([]string{host}, hosts...)
		}
		if h.TLS, err = EnsureTLS(tlsDir, hosts, h.Keys, h.now()); err != nil {
			h.Close()
			return nil, err
		}
	}
	h.Auth = &server.Authenticator{Store: h.Store, MaxSkew: cfg.MaxClockSkew, Now: h.now, StartedAt: h.now()}
	// Departments, certificate statuses, requirements and catalogue entries served from
	// memory at each request's snapshot version (zero staleness; server.Snapshots).
	if v, ok := h.Store.(server.SnapshotVersioner); ok {
		h.snapshots = &server.Snapshots{Versions: v}
		h.Auth.Snapshots = h.snapshots
	}
	if err := h.build(tlsDir); err != nil {
		h.Close()
		return nil, err
	}
	return h, nil
}

func openStore(ctx context.Context, cfg config.Config, opts ...sqlstore.Option) (store.Store, error) {
	switch cfg.Store.Driver {
	case "postgres":
		return postgres.Open(ctx, cfg.Store.PostgresDSN, opts...)
	default:
		return sqlite.Open(ctx, cfg.DataDir, opts...)
	}
}

func (h *Hub) build(tlsDir string) error {
	log := h.Log
	h.metrics = prometheus.NewRegistry()
	h.metrics.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m := newMetrics(h.metrics)

	admin := &server.Admin{Store: h.Store, Issuer: h.CA, Auth: h.Auth, Audit: h.Audit.Writer, Log: log, Now: h.now}
	cal := &server.Calendar{Live: h.Calendar, Store: h.Store, Audit: h.Audit.Writer, Log: log, Now: h.now}
	h.registerCalendarMetrics(h.metrics)
	h.registerCertificateMetrics(h.metrics)
	h.registerOutboxMetrics(h.metrics)
	trust := &server.Trust{RootPEM: h.CA.RootPEM(), IssuingPEM: []string{h.CA.IssuingPEM()}}
	if b, err := os.ReadFile(TLSFiles{Dir: tlsDir}.CACert()); err == nil {
		trust.TLSCAPEM = string(b)
	}

	opts := append(server.GRPCAuth(h.Auth, log), grpc.ChainUnaryInterceptor(m.unary), grpc.MaxRecvMsgSize(server.MaxBodyBytes))
	h.grpc = grpc.NewServer(opts...)
	adminv1.RegisterAdminServiceServer(h.grpc, admin)
	exchangev1.RegisterCalendarServiceServer(h.grpc, cal)
	certsv1.RegisterTrustServiceServer(h.grpc, trust)
	pubPEM, err := sm.MarshalPublicKeyPEM(&h.SigningKey.PublicKey)
	if err != nil {
		return err
	}
	audit := &ledgerserver.Audit{Log: h.Audit.Log, Heads: h.Audit.Storage, Anchors: h.Audit.Anchorer, LogID: h.Audit.LogID,
		KeyID: h.Audit.Signer.KeyID(), PublicPEM: string(pubPEM), Keys: h.Audit.Keys}
	if h.Witnesses != nil {
		audit.Cosigned = func(ctx context.Context) ([]byte, error) {
			note, _, err := h.Witnesses.Cosigned(ctx)
			return note, err
		}
	}
	h.wireAuditQueries(audit)
	h.Audit.Tampering = &ledgerserver.Tampering{Log: log, Audit: h.Audit.Log, Now: h.now}
	audit.Tampering = h.Audit.Tampering
	h.metrics.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "gxhub_audit_tampered_records",
		Help: "Audit records found not to match the log's tree (altered in the database after they were logged) since this process started; /readyz lists them."},
		func() float64 { return float64(h.Audit.Tampering.Count()) }))
	auditv1.RegisterAuditServiceServer(h.grpc, audit)
	// Data exchange: pulls (A3, A6), publishing and objections (A4), freshness (A5), policy (D1–D3).
	if err := casbinpolicy.Seed(context.Background(), h.Store.Policies(), h.now()); err != nil {
		return fmt.Errorf("seed the default pull policy: %w", err)
	}
	h.Decider = casbinpolicy.New(h.Store.Policies())
	h.Auth.Roles = h.Decider // operators' roles are the policy's g rules (D1)
	operators := &server.Operators{Store: h.Store, Issuer: h.CA, Decider: h.Decider, Audit: h.Audit.Writer, Log: log, Now: h.now}
	adminv1.RegisterOperatorServiceServer(h.grpc, operators)
	evidence := &ledgerserver.EvidenceService{Log: h.Audit.Log, Evidence: h.Store.Evidence(), CAChainPEM: h.CA.ChainPEM()}
	auditv1.RegisterEvidenceServiceServer(h.grpc, evidence)
	signer := &server.PullSigner{Key: h.PullKey}
	h.Puller = server.NewPuller(h.Store, h.Decider, signer, h.Audit.Log, h.Audit.SubjectKey, h.Calendar, h.now)
	h.Puller.Requirements, h.Puller.Catalog = h.snapshots.Requirements(h.Puller.Requirements), h.snapshots.Catalog(h.Puller.Catalog)
	integrity := prometheus.NewCounter(prometheus.CounterOpts{Name: "gxhub_data_integrity_failures_total",
		Help: "Record versions refused because the stored data no longer matches what the provider published (DATA_INTEGRITY): altered in the database."})
	h.metrics.MustRegister(integrity)
	if v, ok := h.Puller.Voucher.(*server.Voucher); ok {
		v.Alarm, v.Failed, v.Index = log, integrity.Inc, h.Audit.Index
	}
	pulls := &server.Pulls{Puller: h.Puller, Signer: signer}
	pullBatches := &server.PullBatches{Puller: h.Puller, Signer: signer}
	// Batch files (A9, provision method batch_file): served like pulls, kept in the store.
	pulls.Batches = &server.BatchFiles{Puller: h.Puller, Feed: h.Store.Records(), Signer: signer, Store: h.Store, Audit: h.Audit.Writer,
		SubjectKey: h.Audit.SubjectKey, Log: log}
	changes := &server.ChangeBroadcast{}
	records := &server.Records{Store: h.Store, Audit: h.Audit.Writer, SubjectKey: h.Audit.SubjectKey, Log: log, Now: h.now, Changes: changes}
	// Subscriptions (A1/A2 provision method subscription): every change answered by the pull use case.
	subscriber := &exchange.Subscriber{Puller: h.Puller, Feed: h.Store.Records(), Signal: changes}
	subscriptions := &server.Subscriptions{Signer: signer, Subscriber: subscriber,
		Dispatcher: &server.WebhookDispatcher{Store: h.Store, Subscriber: subscriber, Signer: signer, Audit: h.Audit.Writer, Log: log,
			MaxAttempts: h.Config.Webhooks.MaxAttempts, Backoff: h.Config.Webhooks.Backoff, Now: h.now}}
	h.subscriptions = subscriptions
	h.Objections = &server.Objections{Store: h.Store, Calendar: h.Calendar, DefaultDays: h.Config.Deadlines.ObjectionDays,
		Audit: h.Audit.Writer, SubjectKey: h.Audit.SubjectKey, Log: log, Now: h.now}
	objections := h.Objections
	freshness := &server.Freshness{Store: h.Store, Calendar: h.Calendar, Audit: h.Audit.Writer, Log: log, Now: h.now, Changes: changes}
	h.freshness = freshness
	subscriptions.Dispatcher.Freshness = freshness // providers' freshness-alert webhooks
	pol := &server.Policy{Store: h.Store, Decider: h.Decider, Audit: h.Audit.Writer, Validate: casbinpolicy.ValidateRule, Model: casbinpolicy.Model, Log: log, Now: h.now}
	exchangev1.RegisterPullServiceServer(h.grpc, pulls)
	exchangev1.RegisterPullBatchServiceServer(h.grpc, pullBatches)
	exchangev1.RegisterSubscriptionServiceServer(h.grpc, subscriptions)
	exchangev1.RegisterRecordServiceServer(h.grpc, records)
	exchangev1.RegisterObjectionServiceServer(h.grpc, objections)
	exchangev1.RegisterFreshnessServiceServer(h.grpc, freshness)
	exchangev1.RegisterPolicyServiceServer(h.grpc, pol)
	h.metrics.MustRegister(server.NewFreshnessCollector(freshness))
	verifySvc, ecertSvc, sealSvc, err := h.certServices()
	if err != nil {
		return err
	}
	certsv1.RegisterVerifyServiceServer(h.grpc, verifySvc)
	certsv1.RegisterTrustStoreServiceServer(h.grpc, h.Trust)
	certsv1.RegisterECertServiceServer(h.grpc, ecertSvc)
	certsv1.RegisterSealServiceServer(h.grpc, sealSvc)
	if h.deadlines == (exchange.Deadlines{}) {
		h.deadlines = exchange.DefaultDeadlines()
	}
	if err := h.deadlines.Validate(); err != nil {
		return err
	}
	catalog := &server.Catalog{Store: h.Store, Changes: &exchange.ChangeControl{Calendar: h.Calendar, Days: h.Config.Deadlines.ProposalDays},
		Audit: h.Audit.Writer, Log: log, Now: h.now}
	h.Requirements = &server.Requirements{Store: h.Store, Workflow: &exchange.Workflow{Calendar: h.Calendar, Deadlines: h.deadlines},
		Audit: h.Audit.Writer, Log: log, Now: h.now}
	cal.Requirements = h.Requirements // a publication recomputes provisional deadlines
	// Cases and matters (A7, A8): the registry, exemptions checked against the e-certificate
	// registry, and collection for a case through the same pull use case.
	cases := &server.Cases{Store: h.Store, Audit: h.Audit.Writer, SubjectKey: h.Audit.SubjectKey, Log: log, Now: h.now}
	exemptions := &exchange.ExemptionFinder{Matters: h.Store.Matters(), Catalog: h.Store.Catalog(), Requirements: server.ConsumerRequirements{Store: h.Store}, ECerts: ecertSvc}
	matters := &server.Matters{Store: h.Store, Exemptions: exemptions, Signer: signer, Audit: h.Audit.Writer, SubjectKey: h.Audit.SubjectKey, Log: log, Now: h.now,
		Collector: &exchange.Collector{Cases: h.Store.Cases(), Materials: server.AuditedMaterials{Store: h.Store, Audit: h.Audit.Writer, SubjectKey: h.Audit.SubjectKey, Now: h.now}, Exemptions: exemptions, Puller: h.Puller, Now: h.now}}
	exchangev1.RegisterCatalogServiceServer(h.grpc, catalog)
	exchangev1.RegisterRequirementServiceServer(h.grpc, h.Requirements)
	exchangev1.RegisterMatterServiceServer(h.grpc, matters)
	exchangev1.RegisterCaseServiceServer(h.grpc, cases)
	if err := h.buildFederation(); err != nil {
		return err
	}
	exchangev1.RegisterFederationServiceServer(h.grpc, h.Federation)
	// gRPC server reflection (v1 and v1alpha): grpcurl, Postman and Kreya list and
	// describe the services. Public, like /openapi.json (server.PublicStreams).
	reflection.Register(h.grpc)

	gw := runtime.NewServeMux(
		runtime.WithErrorHandler(server.GatewayErrorHandler(log)),
		runtime.WithMarshalerOption(runtime.MIMEWildcard, &runtime.JSONPb{
			MarshalOptions:   protojson.MarshalOptions{EmitUnpopulated: true, UseProtoNames: true},
			UnmarshalOptions: protojson.UnmarshalOptions{DiscardUnknown: false},
		}),
		runtime.WithIncomingHeaderMatcher(func(string) (string, bool) { return "", false }),
	)
	ctx := context.Background()
	// The gateway calls the service implementations directly: no loopback hop. Errors are
	// mapped by the gateway's error handler.
	if err := admingw.RegisterAdminServiceHandlerServer(ctx, gw, admin); err != nil {
		return err
	}
	if err := exchangegw.RegisterCalendarServiceHandlerServer(ctx, gw, cal); err != nil {
		return err
	}
	if err := certsgw.RegisterTrustServiceHandlerServer(ctx, gw, trust); err != nil {
		return err
	}
	if err := admingw.RegisterOperatorServiceHandlerServer(ctx, gw, operators); err != nil {
		return err
	}
	if err := auditgw.RegisterEvidenceServiceHandlerServer(ctx, gw, evidence); err != nil {
		return err
	}
	if err := auditgw.RegisterAuditServiceHandlerServer(ctx, gw, audit); err != nil {
		return err
	}
	for _, err := range []error{
		exchangegw.RegisterPullServiceHandlerServer(ctx, gw, pulls),
		exchangegw.RegisterPullBatchServiceHandlerServer(ctx, gw, pullBatches),
		exchangegw.RegisterRecordServiceHandlerServer(ctx, gw, records),
		exchangegw.RegisterObjectionServiceHandlerServer(ctx, gw, objections),
		exchangegw.RegisterFreshnessServiceHandlerServer(ctx, gw, freshness),
		exchangegw.RegisterPolicyServiceHandlerServer(ctx, gw, pol),
		exchangegw.RegisterSubscriptionServiceHandlerServer(ctx, gw, subscriptions),
		// Registered after the generated handlers, so it serves the streaming route.
		gw.HandlePath(http.MethodPost, "/v1/subscriptions:follow", subscriptions.ServeREST(log)),
		gw.HandlePath(http.MethodPost, "/v1/freshness/alerts:follow", freshness.ServeAlertsREST(log)),
		gw.HandlePath(http.MethodGet, "/v1/batches/{batch_id}/file", pulls.Batches.ServeDownload),
	} {
		if err != nil {
			return err
		}
	}
	if err := certsgw.RegisterVerifyServiceHandlerServer(ctx, gw, verifySvc); err != nil {
		return err
	}
	if err := certsgw.RegisterTrustStoreServiceHandlerServer(ctx, gw, h.Trust); err != nil {
		return err
	}
	if err := certsgw.RegisterECertServiceHandlerServer(ctx, gw, ecertSvc); err != nil {
		return err
	}
	if err := certsgw.RegisterSealServiceHandlerServer(ctx, gw, sealSvc); err != nil {
		return err
	}
	if err := exchangegw.RegisterCatalogServiceHandlerServer(ctx, gw, catalog); err != nil {
		return err
	}
	if err := exchangegw.RegisterRequirementServiceHandlerServer(ctx, gw, h.Requirements); err != nil {
		return err
	}
	if err := exchangegw.RegisterMatterServiceHandlerServer(ctx, gw, matters); err != nil {
		return err
	}
	if err := exchangegw.RegisterCaseServiceHandlerServer(ctx, gw, cases); err != nil {
		return err
	}
	if err := exchangegw.RegisterFederationServiceHandlerServer(ctx, gw, h.Federation); err != nil {
		return err
	}

	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		if err := h.Store.Ping(ctx); err != nil {
			log.Warn("not ready", slog.String("error", err.Error()))
			http.Error(w, "store unavailable", http.StatusServiceUnavailable)
			return
		}
		_, _ = w.Write([]byte("ready\n" + h.calendarReadiness(ctx) + h.Audit.Tampering.Readiness() + h.certificateReadiness(ctx)))
	})
	mux.Handle("GET /metrics", promhttp.HandlerFor(h.metrics, promhttp.HandlerOpts{Registry: h.metrics}))
	mux.HandleFunc("GET /openapi.json", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(openapi.Spec)
	})
	mux.HandleFunc("GET /openapi.yaml", func(w http.ResponseWriter, _ *http.Request) { // OpenAPI 3.0
		w.Header().Set("Content-Type", "application/yaml")
		_, _ = w.Write(openapi.SpecV3)
	})
	// Browser pages (docs/WEB.md): a session cookie authenticates reads and verifications.
	var sessions server.SessionStore
	if st, ok := h.Store.(interface{ Sessions() sqlstore.Sessions }); ok {
		sessions = st.Sessions()
	}
	if h.web, err = web.New(web.Options{Auth: h.Auth, Sessions: sessions, Insecure: h.Config.Insecure, Log: log, Now: h.now}); err != nil {
		return err
	}
	mux.Handle("/ui/", h.web)
	mux.Handle("GET /{$}", http.RedirectHandler("/ui/", http.StatusFound))
	mux.Handle("GET /v1/trust/crl", m.http(http.HandlerFunc(h.serveCRL)))
	// The audit log for auditors and mirrors without the API (C2SP tlog-tiles, read-only).
	tiles := m.http(h.tilesHandler())
	mux.Handle("GET /checkpoint", tiles)
	mux.Handle("GET /tile/", tiles)
	// Other hubs under a federation agreement: each request is signed by the calling hub's
	// federation key, which the agreement pins (docs/FEDERATION.md).
	mux.Handle("POST "+server.PeerPath, m.http(h.Federation))
	mux.Handle("/v1/", m.http(server.HTTPAuthSessions(h.Auth, h.web.Sessions, log, gw)))

	grpcServer := h.grpc
	h.handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ProtoMajor == 2 && strings.HasPrefix(r.Header.Get("Content-Type"), "application/grpc") {
			grpcServer.ServeHTTP(w, r)
			return
		}
		mux.ServeHTTP(w, r)
	})
	return nil
}

// revokedCertificates are the department certificates the coordinator revoked or suspended
// and the operator certificates their departments' admins revoked or suspended: everything
// the issuing CA's CRL lists.
func (h *Hub) revokedCertificates(ctx context.Context) ([]exchange.CertStatus, error) {
	out, err := h.Store.CertStatuses().List(ctx)
	if err != nil {
		return nil, err
	}
	for after := ""; ; {
		ds, err := h.Store.Departments().List(ctx, store.DepartmentFilter{}, after, 1000)
		if err != nil {
			return nil, err
		}
		for _, d := range ds {
			ops, err := h.Store.Operators().List(ctx, d.Code)
			if err != nil {
				return nil, err
			}
			for _, o := range ops {
				switch o.Status {
				case exchange.OperatorRevoked:
					// The admin's reason is free text; RFC 5280 has no code for it.
					out = append(out, exchange.CertStatus{Serial: o.Serial, Subject: d.Code, State: exchange.CertRevoked, Reason: 0, Since: o.StatusAt})
				case exchange.OperatorSuspended:
					out = append(out, exchange.CertStatus{Serial: o.Serial, Subject: d.Code, State: exchange.CertSuspended, Reason: exchange.ReasonCertificateHold, Since: o.StatusAt})
				}
			}
		}
		if len(ds) < 1000 {
			return out, nil
		}
		after = ds[len(ds)-1].Code
	}
}

// serveCRL publishes the issuing CA's CRL (public, like the trust bundle): DER
// (application/pkix-crl) by default, PEM with ?format=pem. It is issued fresh from the
// store on each request, so it lists every revocation and suspension made on any replica.
func (h *Hub) serveCRL(w http.ResponseWriter, r *http.Request) {
	format := r.URL.Query().Get("format")
	if format != "" && format != "der" && format != "pem" {
		server.WriteHTTPError(w, r, h.Log, exchange.Errorf(exchange.KindInvalid, "FORMAT_INVALID", "format %q: use der (the default) or pem", format))
		return
	}
	statuses, err := h.revokedCertificates(r.Context())
	if err != nil {
		server.WriteHTTPError(w, r, h.Log, err)
		return
	}
	der, err := h.CA.CRL(statuses, h.now())
	if err != nil {
		server.WriteHTTPError(w, r, h.Log, err)
		return
	}
	w.Header().Set("Cache-Control", "no-cache")
	if format == "pem" {
		w.Header().Set("Content-Type", "application/x-pem-file")
		_, _ = w.Write(pki.EncodeCRLPEM(der))
		return
	}
	w.Header().Set("Content-Type", "application/pkix-crl")
	_, _ = w.Write(der)
}

// Handler is the hub's whole HTTP handler (gRPC, REST and operational endpoints).
func (h *Hub) Handler() http.Handler { return h.handler }

// Serve serves on ln until ctx is done, then shuts down gracefully: it stops accepting,
// lets requests in flight finish for up to Config.ShutdownTimeout ("drained"), then closes
// what is left. It logs each step, so that a clean stop is told apart from a crash.
func (h *Hub) Serve(ctx context.Context, ln net.Listener) error {
	h.web.SetPublicURL(h.PublicURL(ln.Addr()))
	h.Federation.Card.URL = h.PublicURL(ln.Addr()) // before serving: the card is signed on first use
	var protocols http.Protocols
	protocols.SetHTTP1(true)
	protocols.SetHTTP2(true)
	if h.TLS == nil {
		protocols.SetUnencryptedHTTP2(true)
	}
	srv := &http.Server{
		Handler:           h.handler,
		TLSConfig:         h.TLS,
		Protocols:         &protocols,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       120 * time.Second,
		ErrorLog:          slog.NewLogLogger(h.Log.Handler(), slog.LevelWarn),
	}
	bg, stopBG := context.WithCancel(ctx)
	defer stopBG()
	go h.purgeNonces(bg)
	go h.Audit.Writer.Run(bg, time.Second)
	go h.sweepRequirements(bg)
	go h.Trust.Run(bg, h.Config.Verify.CRLRefresh)
	go h.watchCalendar(bg)
	if h.Witnesses != nil {
		go h.Witnesses.Run(bg, h.Config.AuditHeadInterval, h.Audit.Log.Head)
	}
	h.subscriptions.Stopping = bg.Done() // before serving: streams end when the hub stops
	h.freshness.Stopping = bg.Done()
	go h.subscriptions.Dispatcher.Run(bg)
	errc := make(chan error, 1)
	go func() {
		if h.TLS != nil {
			errc <- srv.ServeTLS(ln, "", "")
		} else {
			errc <- srv.Serve(ln)
		}
	}()
	h.Log.Info("ready", slog.String("addr", ln.Addr().String()), slog.String("public_url", h.PublicURL(ln.Addr())))
	select {
	case err := <-errc:
		h.Log.Error("serving stopped", slog.String("error", err.Error()))
		return err
	case <-ctx.Done():
	}
	deadline := h.Config.ShutdownTimeout
	h.Log.Info("draining requests in flight", slog.Duration("deadline", deadline))
	start := time.Now()
	sctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()
	// gRPC calls are HTTP/2 streams of this server (ServeHTTP), so Shutdown waits for
	// them like for REST requests. (grpc.Server.GracefulStop would close them: its drain
	// of a ServeHTTP transport is a close.)
	err := srv.Shutdown(sctx)
	if err != nil {
		h.Log.Warn("drain deadline passed: closing the connections still open", slog.Duration("deadline", deadline), slog.String("error", err.Error()))
		h.grpc.Stop()
		err = srv.Close()
	} else {
		h.Log.Info("drained", slog.Duration("took", time.Since(start).Round(time.Millisecond)))
	}
	if err2 := <-errc; !errors.Is(err2, http.ErrServerClosed) && err == nil {
		err = err2
	}
	return err
}

// sweepRequirements escalates requirements and objections past their working-day deadline
// every minute (reads escalate what they touch in between).
func (h *Hub) sweepRequirements(ctx context.Context) {
	t := time.NewTicker(time.Minute)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if n, err := h.Requirements.Sweep(ctx); err != nil && ctx.Err() == nil {
				h.Log.Warn("escalate overdue requirements", slog.String("error", err.Error()))
			} else if n > 0 {
				h.Log.Info("escalated overdue requirements", slog.Int("count", n))
			}
			if n, err := h.Objections.Sweep(ctx); err != nil && ctx.Err() == nil {
				h.Log.Warn("escalate overdue objections", slog.String("error", err.Error()))
			} else if n > 0 {
				h.Log.Info("escalated overdue objections", slog.Int("count", n))
			}
		}
	}
}

func (h *Hub) purgeNonces(ctx context.Context) {
	t := time.NewTicker(time.Minute)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if _, err := h.Store.Nonces().Purge(ctx, h.now()); err != nil && ctx.Err() == nil {
				h.Log.Warn("purge expired nonces", slog.String("error", err.Error()))
			}
			if _, err := h.web.Purge(ctx, h.now()); err != nil && ctx.Err() == nil {
				h.Log.Warn("purge expired web sessions", slog.String("error", err.Error()))
			}
		}
	}
}

// Close flushes the audit log and releases the store.
func (h *Hub) Close() error {
	return errors.Join(h.closeAudit(), h.Store.Close())
}

// PublicURL is the audience of web sign-in tokens for the listener at addr: public_url when
// configured, otherwise derived from the listen address (a wildcard host becomes the first
// tls_hosts entry, else 127.0.0.1) and the port the listener got. Never from a request.
func (h *Hub) PublicURL(addr net.Addr) string {
	if h.Config.PublicURL != "" {
		return server.NormalizeAudience(h.Config.PublicURL)
	}
	u := h.URL(addr)
	if host, _, _ := net.SplitHostPort(h.Config.Listen); (host == "" || host == "0.0.0.0" || host == "::") && len(h.Config.TLSHosts) > 0 {
		_, port, _ := net.SplitHostPort(addr.String())
		scheme, _, _ := strings.Cut(u, "://")
		u = scheme + "://" + net.JoinHostPort(h.Config.TLSHosts[0], port)
	}
	return server.NormalizeAudience(u)
}

// URL is the base URL clients use for a listener address.
func (h *Hub) URL(addr net.Addr) string {
	scheme := "https"
	if h.TLS == nil {
		scheme = "http"
	}
	host, port, _ := net.SplitHostPort(addr.String())
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "127.0.0.1"
	}
	return scheme + "://" + net.JoinHostPort(host, port)
}
