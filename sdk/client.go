// Package sdk is the Go client of gxhub. A Client signs every call with a department's SM2
// identity (see package reqsig for the scheme) and exposes the typed gRPC service clients.
//
//	id, _ := identity.Load("gxhub-data/demo/11500000MB1234567X", nil)
//	c, _ := sdk.Dial(ctx, id)
//	me, _ := c.Admin.WhoAmI(ctx, &adminv1.WhoAmIRequest{})
package sdk

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/encoding"
	"google.golang.org/grpc/mem"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/proto"

	adminv1 "github.com/gxhub/gxhub/sdk/api/admin/v1"
	auditv1 "github.com/gxhub/gxhub/sdk/api/audit/v1"
	certsv1 "github.com/gxhub/gxhub/sdk/api/certs/v1"
	exchangev1 "github.com/gxhub/gxhub/sdk/api/exchange/v1"
	"github.com/gxhub/gxhub/sdk/identity"
	"github.com/gxhub/gxhub/sdk/reqsig"
)

// Client is a connection to a hub acting as one department.
type Client struct {
	Admin    adminv1.AdminServiceClient
	Calendar exchangev1.CalendarServiceClient
	Trust    certsv1.TrustServiceClient
	Audit    auditv1.AuditServiceClient
	// Catalog, Requirements and Matters are the resource catalogue (with its change
	// proposals), the requirement workflow and the matter registry (gxhub.exchange.v1).
	Catalog      exchangev1.CatalogServiceClient
	Requirements exchangev1.RequirementServiceClient
	Matters      exchangev1.MatterServiceClient
	// Cases are the cases (办件) pulls are made for (一企一事一码).
	Cases exchangev1.CaseServiceClient
	// Verify verifies documents, seals and e-certificates at the hub (B4).
	Verify certsv1.VerifyServiceClient
	// ECert is the e-certificate registry (B3).
	ECert certsv1.ECertServiceClient
	// Seal makes and revokes departments' e-seals and registers sealed documents (B2).
	Seal certsv1.SealServiceClient
	// TrustStore manages the verifier's trust anchors and CRL sources (coordinator).
	TrustStore certsv1.TrustStoreServiceClient
	// Data exchange: pulls (verify responses with VerifyPull), publishing, objections,
	// freshness and the pull policy.
	Pulls      exchangev1.PullServiceClient
	PullBatch  exchangev1.PullBatchServiceClient
	Records    exchangev1.RecordServiceClient
	Objections exchangev1.ObjectionServiceClient
	Freshness  exchangev1.FreshnessServiceClient
	Policy     exchangev1.PolicyServiceClient
	// Subscriptions push changes of records (use Follow: it signs, verifies and resumes).
	Subscriptions exchangev1.SubscriptionServiceClient
	// Operators are the department's operators with their own certificates (D1, E6).
	Operators adminv1.OperatorServiceClient
	// Evidence serves the signed request behind an audit record (E5, E6).
	Evidence auditv1.EvidenceServiceClient
	// Federation: agreements with other hubs, their resources, requirements filed and
	// pulls forwarded to them (docs/FEDERATION.md).
	Federation exchangev1.FederationServiceClient

	conn *grpc.ClientConn
	id   *identity.Identity
	now  func() time.Time
	// base and http serve the REST downloads (batch files) over the same TLS trust.
	base string
	http *http.Client
}

// Option configures Dial.
type Option func(*options)

type options struct {
	url   string
	tlsCA []byte
	now   func() time.Time
	extra []grpc.DialOption
	retry *RetryPolicy
}

// WithURL overrides the hub URL from the identity (https://host:port or http://host:port).
func WithURL(u string) Option { return func(o *options) { o.url = u } }

// WithTLSCA trusts the given PEM CA for the hub's TLS certificate (instead of the
// identity's tls-ca.pem).
func WithTLSCA(pem []byte) Option { return func(o *options) { o.tlsCA = pem } }

// WithClock sets the signing clock (tests).
func WithClock(now func() time.Time) Option { return func(o *options) { o.now = now } }

// WithDialOptions adds gRPC dial options.
func WithDialOptions(d ...grpc.DialOption) Option {
	return func(o *options) { o.extra = append(o.extra, d...) }
}

// Dial connects to the hub named by the identity (or WithURL). With an https URL the hub's
// TLS CA from the identity (tls-ca.pem) is trusted, in addition to the system roots.
// id may be nil for public calls only (calendar, trust bundle).
func Dial(ctx context.Context, id *identity.Identity, opts ...Option) (*Client, error) {
	o := options{now: time.Now}
	if id != nil {
		o.url = id.HubURL
	}
	for _, opt := range opts {
		opt(&o)
	}
	if o.url == "" {
		return nil, errors.New("no hub URL: set hub_url in identity.json or pass WithURL")
	}
	u, err := url.Parse(o.url)
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("hub URL %q must look like https://host:port", o.url)
	}
	var (
		creds  credentials.TransportCredentials
		tlsCfg *tls.Config
	)
	switch u.Scheme {
	case "https":
		pool, err := x509.SystemCertPool()
		if err != nil {
			pool = x509.NewCertPool()
		}
		ca := o.tlsCA
		if ca == nil && id != nil {
			ca = id.TLSCAPEM
		}
		if len(ca) > 0 && !pool.AppendCertsFromPEM(ca) {
			return nil, errors.New("the hub TLS CA PEM holds no certificate")
		}
		tlsCfg = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
		creds = credentials.NewTLS(tlsCfg.Clone())
	case "http":
		creds = insecure.NewCredentials()
	default:
		return nil, fmt.Errorf("hub URL scheme %q: use https (or http for a hub started with --insecure)", u.Scheme)
	}
	retry := DefaultRetryPolicy
	if o.retry != nil {
		retry = *o.retry
	}
	c := &Client{id: id, now: o.now, base: u.Scheme + "://" + u.Host,
		http: &http.Client{Transport: &http.Transport{TLSClientConfig: tlsCfg, Proxy: http.ProxyFromEnvironment, ForceAttemptHTTP2: true}}}
	dopts := append([]grpc.DialOption{
		grpc.WithTransportCredentials(creds),
		grpc.WithDefaultCallOptions(grpc.ForceCodecV2(deterministicCodec{})),
		// Retry outside, signing inside: every attempt gets a fresh signature and nonce.
		grpc.WithChainUnaryInterceptor(retryInterceptor(retry, IdempotentMethods), c.sign),
	}, o.extra...)
	conn, err := grpc.NewClient(u.Host, dopts...)
	if err != nil {
		return nil, fmt.Errorf("connect to hub %s: %w", o.url, err)
	}
	c.conn = conn
	c.Admin = adminv1.NewAdminServiceClient(conn)
	c.Calendar = exchangev1.NewCalendarServiceClient(conn)
	c.Trust = certsv1.NewTrustServiceClient(conn)
	c.Audit = auditv1.NewAuditServiceClient(conn)
	c.Catalog = exchangev1.NewCatalogServiceClient(conn)
	c.Requirements = exchangev1.NewRequirementServiceClient(conn)
	c.Matters = exchangev1.NewMatterServiceClient(conn)
	c.Cases = exchangev1.NewCaseServiceClient(conn)
	c.Verify = certsv1.NewVerifyServiceClient(conn)
	c.ECert = certsv1.NewECertServiceClient(conn)
	c.Seal = certsv1.NewSealServiceClient(conn)
	c.TrustStore = certsv1.NewTrustStoreServiceClient(conn)
	c.Pulls = exchangev1.NewPullServiceClient(conn)
	c.PullBatch = exchangev1.NewPullBatchServiceClient(conn)
	c.Records = exchangev1.NewRecordServiceClient(conn)
	c.Objections = exchangev1.NewObjectionServiceClient(conn)
	c.Freshness = exchangev1.NewFreshnessServiceClient(conn)
	c.Policy = exchangev1.NewPolicyServiceClient(conn)
	c.Subscriptions = exchangev1.NewSubscriptionServiceClient(conn)
	c.Operators = adminv1.NewOperatorServiceClient(conn)
	c.Evidence = auditv1.NewEvidenceServiceClient(conn)
	c.Federation = exchangev1.NewFederationServiceClient(conn)
	return c, nil
}

// Close closes the connection.
func (c *Client) Close() error {
	c.http.CloseIdleConnections()
	return c.conn.Close()
}

// Identity returns the department the client acts as (nil for an anonymous client).
func (c *Client) Identity() *identity.Identity { return c.id }

// sign adds the request signature over the exact bytes the codec will send.
func (c *Client) sign(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
	if c.id == nil {
		return invoker(ctx, method, req, reply, cc, opts...)
	}
	body, err := deterministic.Marshal(req.(proto.Message))
	if err != nil {
		return err
	}
	h, err := reqsig.Sign(c.id.Key, c.id.KeyID(), "POST", method, body, c.now())
	if err != nil {
		return err
	}
	return invoker(metadata.AppendToOutgoingContext(ctx, "authorization", h), method, req, reply, cc, opts...)
}

var deterministic = proto.MarshalOptions{Deterministic: true}

// deterministicCodec encodes messages exactly as sign hashed them.
type deterministicCodec struct{}

func (deterministicCodec) Name() string { return "proto" }

func (deterministicCodec) Marshal(v any) (mem.BufferSlice, error) {
	b, err := deterministic.Marshal(v.(proto.Message))
	if err != nil {
		return nil, err
	}
	return mem.BufferSlice{mem.SliceBuffer(b)}, nil
}

func (deterministicCodec) Unmarshal(data mem.BufferSlice, v any) error {
	return proto.Unmarshal(data.Materialize(), v.(proto.Message))
}

var _ encoding.CodecV2 = deterministicCodec{}
