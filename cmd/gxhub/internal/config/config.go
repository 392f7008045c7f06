// Package config is gxhub's typed configuration: defaults, a YAML or JSON file, GXHUB_*
// environment variables and command-line flags, applied in that order (later wins), then
// validated as a whole. Only cmd/ uses it; library packages receive plain values.
package config

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"reflect"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Config is everything `gxhub serve` needs.
type Config struct {
	// Listen is the host:port serving gRPC and REST (TLS unless Insecure).
	Listen string `yaml:"listen" env:"LISTEN"`
	// DataDir holds the SQLite database, the hub's CA and TLS material, and demo identities.
	DataDir string `yaml:"data_dir" env:"DATA_DIR"`
	// Insecure serves plain HTTP (h2c for gRPC). For local use only.
	Insecure bool `yaml:"insecure" env:"INSECURE"`
	// Demo seeds the demo departments and writes their identities under DataDir/demo.
	Demo bool `yaml:"demo" env:"DEMO"`
	// Store selects the persistence back-end.
	Store StoreConfig `yaml:"store"`
	// CalendarFile overrides the embedded working-day calendar (same JSON shape).
	CalendarFile string `yaml:"calendar_file" env:"CALENDAR_FILE"`
	// MaxClockSkew is how far a request's signing time may be from the hub's clock.
	MaxClockSkew time.Duration `yaml:"max_clock_skew" env:"MAX_CLOCK_SKEW"`
	// CAPasswordFile holds the password protecting the hub CA's private keys at rest.
	CAPasswordFile string `yaml:"ca_password_file" env:"CA_PASSWORD_FILE"`
	// TLSHosts are extra DNS names or IPs for the hub's TLS certificate.
	TLSHosts []string `yaml:"tls_hosts" env:"TLS_HOSTS"`
	// PublicURL is the base URL departments and browsers reach the hub at (scheme, host,
	// port; no path): the audience of web sign-in tokens. Empty: derived from Listen (a
	// wildcard listen host is replaced by the first TLSHosts entry, else 127.0.0.1).
	PublicURL string `yaml:"public_url" env:"PUBLIC_URL"`
	// AuditLogID names the audit log in its signed tree heads.
	AuditLogID string `yaml:"audit_log_id" env:"AUDIT_LOG_ID"`
	// AuditHeadInterval is how often a new signed tree head is published (and anchored).
	AuditHeadInterval time.Duration `yaml:"audit_head_interval" env:"AUDIT_HEAD_INTERVAL"`
	// Anchor selects where signed tree heads are anchored: embedded (a hash chain of
	// SM2-signed blocks in the hub's own store, the default) or fabric (the gxanchor
	// chaincode on a Hyperledger Fabric channel, endorsed by every department's peer).
	Anchor string `yaml:"anchor" env:"ANCHOR"`
	// FabricNetwork is the Fabric connection profile (network.json, as testnet/up.sh
	// writes it) used when Anchor is fabric. The hub acts as its first organisation.
	FabricNetwork string `yaml:"fabric_network" env:"FABRIC_NETWORK"`
	// SubjectKeyFile holds the secret of the keyed hash of data subjects in audit records
	// (default DATA_DIR/ca/subject-key). Replicas sharing a database must share it.
	SubjectKeyFile string `yaml:"subject_key_file" env:"SUBJECT_KEY_FILE"`
	// Deadlines are the requirement workflow's limits in working days; set them per
	// jurisdiction (defaults follow a provincial rule: 2, 5, and 10 for unpublished data).
	Deadlines DeadlineConfig `yaml:"deadlines"`
	// LogLevel is debug, info, warn or error; LogFormat is text or json.
	LogLevel  string `yaml:"log_level" env:"LOG_LEVEL"`
	LogFormat string `yaml:"log_format" env:"LOG_FORMAT"`
	// ShutdownTimeout bounds graceful shutdown.
	ShutdownTimeout time.Duration `yaml:"shutdown_timeout" env:"SHUTDOWN_TIMEOUT"`
	// Verify configures document verification and sealing (docs/CERTS.md).
	Verify VerifyConfig `yaml:"verify"`
	// Witnesses cosign the audit log's checkpoints (docs/AUDIT.md), each given as
	// "NAME URL KEYFILE": the witness's name, its base URL (gxctl witness serve) and the
	// PEM file of its cosigning public key (gxctl witness init prints it).
	Witnesses []string `yaml:"witnesses" env:"WITNESSES"`
	// Webhooks configures the push of subscription deliveries to consumers' endpoints.
	Webhooks WebhookConfig `yaml:"webhooks"`
	// Federation is the hub's identity towards other hubs (docs/FEDERATION.md); without
	// hub_id the hub signs no agreement.
	Federation FederationConfig `yaml:"federation"`
}

// FederationConfig is the hub's identity card towards other hubs.
type FederationConfig struct {
	// HubID is a short name other hubs know this hub by (e.g. cq-province).
	HubID string `yaml:"hub_id" env:"FEDERATION_HUB_ID"`
	// Name is the hub's full name; Level its administrative level (provincial, municipal,
	// county); Region its 6-digit 行政区划代码.
	Name   string `yaml:"name" env:"FEDERATION_NAME"`
	Level  string `yaml:"level" env:"FEDERATION_LEVEL"`
	Region string `yaml:"region" env:"FEDERATION_REGION"`
}

// WebhookConfig bounds the retries of a webhook delivery.
type WebhookConfig struct {
	// MaxAttempts is how many times one delivery is POSTed before it is dead-lettered.
	MaxAttempts int `yaml:"max_attempts" env:"WEBHOOK_MAX_ATTEMPTS"`
	// Backoff is the wait after the first failed attempt; it doubles up to 5 minutes.
	Backoff time.Duration `yaml:"backoff" env:"WEBHOOK_BACKOFF"`
}

// Witness is one parsed entry of Config.Witnesses.
type Witness struct{ Name, URL, KeyFile string }

// ParseWitnesses parses Config.Witnesses.
func (c *Config) ParseWitnesses() ([]Witness, error) {
	var out []Witness
	seen := map[string]bool{}
	for _, w := range c.Witnesses {
		f := strings.Fields(w)
		if len(f) != 3 {
			return nil, fmt.Errorf("witnesses: %q must be \"NAME URL KEYFILE\" (e.g. \"auditor-office http://10.0.0.7:7380 /etc/gxhub/auditor-witness.pem\")", w)
		}
		if !strings.HasPrefix(f[1], "http://") && !strings.HasPrefix(f[1], "https://") {
			return nil, fmt.Errorf("witnesses: %q: the URL must start with http:// or https://", w)
		}
		if seen[f[0]] {
			return nil, fmt.Errorf("witnesses: %s is named twice", f[0])
		}
		seen[f[0]] = true
		out = append(out, Witness{Name: f[0], URL: f[1], KeyFile: f[2]})
	}
	return out, nil
}

// VerifyConfig configures the verifier's revocation sources and time-stamping.
type VerifyConfig struct {
	// TSAURL is the RFC 3161 (GB/T 20520) time-stamping authority that SealService.Timestamp
	// asks; empty: sealing without timestamps.
	TSAURL string `yaml:"tsa_url" env:"TSA_URL"`
	// CRLRefresh is how often the CRL sources are fetched (sooner when a CRL's nextUpdate
	// comes first).
	CRLRefresh time.Duration `yaml:"crl_refresh" env:"CRL_REFRESH"`
	// MaxConcurrent bounds the verifications running at once (each may hold up to 64 MiB).
	MaxConcurrent int `yaml:"max_concurrent" env:"VERIFY_MAX_CONCURRENT"`
}

// DeadlineConfig holds the working-day limits of the requirement workflow.
type DeadlineConfig struct {
	// ReviewDays is the coordinator's completeness review of a conditional requirement.
	ReviewDays int `yaml:"review_days" env:"DEADLINE_REVIEW_DAYS"`
	// AnswerDays is the provider's answer to a complete requirement.
	AnswerDays int `yaml:"answer_days" env:"DEADLINE_ANSWER_DAYS"`
	// AnswerUnpublishedDays replaces AnswerDays when the resource is not published yet.
	AnswerUnpublishedDays int `yaml:"answer_unpublished_days" env:"DEADLINE_ANSWER_UNPUBLISHED_DAYS"`
	// ObjectionDays is the provider's answer to an objection, for resources that set no
	// deadline of their own; unanswered, the objection escalates to the coordinator.
	ObjectionDays int `yaml:"objection_days" env:"DEADLINE_OBJECTION_DAYS"`
	// ProposalDays is the coordinator's decision on a proposal to narrow a resource.
	ProposalDays int `yaml:"proposal_days" env:"DEADLINE_PROPOSAL_DAYS"`
}

// StoreConfig selects SQLite (embedded, default) or PostgreSQL.
type StoreConfig struct {
	Driver      string `yaml:"driver" env:"STORE_DRIVER"`
	PostgresDSN string `yaml:"postgres_dsn" env:"POSTGRES_DSN"`
}

// Default returns the embedded defaults.
func Default() Config {
	return Config{
		Listen:            "127.0.0.1:8443",
		DataDir:           "gxhub-data",
		Store:             StoreConfig{Driver: "sqlite"},
		Deadlines:         DeadlineConfig{ReviewDays: 2, AnswerDays: 5, AnswerUnpublishedDays: 10, ObjectionDays: 5, ProposalDays: 5},
		MaxClockSkew:      5 * time.Minute,
		AuditLogID:        "gxhub/audit",
		AuditHeadInterval: 5 * time.Second,
		Anchor:            "embedded",
		LogLevel:          "info",
		LogFormat:         "text",
		ShutdownTimeout:   15 * time.Second,
		Verify:            VerifyConfig{CRLRefresh: time.Hour, MaxConcurrent: 4},
		Webhooks:          WebhookConfig{MaxAttempts: 8, Backoff: time.Second},
	}
}

// LoadFile overlays a YAML (or JSON) file onto c. Unknown keys are errors.
func (c *Config) LoadFile(path string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("read config file: %w", err)
	}
	dec := yaml.NewDecoder(strings.NewReader(string(b)))
	dec.KnownFields(true)
	if err := dec.Decode(c); err != nil && !errors.Is(err, io.EOF) { // io.EOF: empty file
		return fmt.Errorf("config file %s: %w", path, err)
	}
	return nil
}

// LoadEnv overlays GXHUB_* variables (lookup is os.LookupEnv in production).
func (c *Config) LoadEnv(lookup func(string) (string, bool)) error {
	return loadEnv(reflect.ValueOf(c).Elem(), lookup)
}

func loadEnv(v reflect.Value, lookup func(string) (string, bool)) error {
	t := v.Type()
	for i := range t.NumField() {
		f, fv := t.Field(i), v.Field(i)
		if f.Type.Kind() == reflect.Struct && f.Type != reflect.TypeOf(time.Duration(0)) {
			if err := loadEnv(fv, lookup); err != nil {
				return err
			}
			continue
		}
		name := f.Tag.Get("env")
		if name == "" {
			continue
		}
		raw, ok := lookup("GXHUB_" + name)
		if !ok {
			continue
		}
		if err := setValue(fv, raw); err != nil {
			return fmt.Errorf("environment variable GXHUB_%s=%q: %w", name, raw, err)
		}
	}
	return nil
}

func setValue(fv reflect.Value, raw string) error {
	switch fv.Interface().(type) {
	case string:
		fv.SetString(raw)
	case bool:
		b, err := strconv.ParseBool(raw)
		if err != nil {
			return errors.New("want true or false")
		}
		fv.SetBool(b)
	case int:
		n, err := strconv.Atoi(raw)
		if err != nil {
			return errors.New("want a whole number")
		}
		fv.SetInt(int64(n))
	case time.Duration:
		d, err := time.ParseDuration(raw)
		if err != nil {
			return errors.New("want a duration such as 5m or 30s")
		}
		fv.SetInt(int64(d))
	case []string:
		var out []string
		for _, s := range strings.Split(raw, ",") {
			if s = strings.TrimSpace(s); s != "" {
				out = append(out, s)
			}
		}
		fv.Set(reflect.ValueOf(out))
	default:
		return fmt.Errorf("unsupported type %s", fv.Type())
	}
	return nil
}

// Validate checks the whole configuration and reports every problem at once.
func (c *Config) Validate() error {
	var errs []error
	if _, port, err := net.SplitHostPort(c.Listen); err != nil {
		errs = append(errs, fmt.Errorf("listen %q must be host:port, e.g. 127.0.0.1:8443", c.Listen))
	} else if p, err := strconv.Atoi(port); err != nil || p < 0 || p > 65535 {
		errs = append(errs, fmt.Errorf("listen %q has an invalid port", c.Listen))
	}
	if u := c.PublicURL; u != "" {
		if pu, err := url.Parse(u); err != nil || (pu.Scheme != "https" && pu.Scheme != "http") || pu.Host == "" || strings.Trim(pu.Path, "/") != "" || pu.RawQuery != "" || pu.User != nil {
			errs = append(errs, fmt.Errorf("public_url %q must be the hub's base URL, scheme://host[:port] without a path, e.g. https://hub.example.gov.cn:8443", u))
		}
	}
	if strings.TrimSpace(c.DataDir) == "" {
		errs = append(errs, errors.New("data_dir must be set (--data-dir)"))
	}
	switch c.Store.Driver {
	case "sqlite":
	case "postgres":
		if c.Store.PostgresDSN == "" {
			errs = append(errs, errors.New("store.driver postgres needs store.postgres_dsn (GXHUB_POSTGRES_DSN or --postgres-dsn)"))
		}
	default:
		errs = append(errs, fmt.Errorf("store.driver %q: use sqlite or postgres", c.Store.Driver))
	}
	if c.Verify.CRLRefresh < time.Minute || c.Verify.CRLRefresh > 7*24*time.Hour {
		errs = append(errs, fmt.Errorf("verify.crl_refresh %s must be between 1m and 168h", c.Verify.CRLRefresh))
	}
	if c.Webhooks.MaxAttempts < 1 || c.Webhooks.MaxAttempts > 100 {
		errs = append(errs, fmt.Errorf("webhooks.max_attempts %d must be 1..100", c.Webhooks.MaxAttempts))
	}
	if c.Webhooks.Backoff <= 0 || c.Webhooks.Backoff > 5*time.Minute {
		errs = append(errs, fmt.Errorf("webhooks.backoff %s must be more than 0 and at most 5m", c.Webhooks.Backoff))
	}
	if c.Verify.MaxConcurrent < 1 || c.Verify.MaxConcurrent > 256 {
		errs = append(errs, fmt.Errorf("verify.max_concurrent %d must be 1..256", c.Verify.MaxConcurrent))
	}
	if u := c.Verify.TSAURL; u != "" && !strings.HasPrefix(u, "http://") && !strings.HasPrefix(u, "https://") {
		errs = append(errs, fmt.Errorf("verify.tsa_url %q must be an http(s) URL of an RFC 3161 time-stamping authority", u))
	}
	if c.MaxClockSkew < time.Second || c.MaxClockSkew > time.Hour {
		errs = append(errs, fmt.Errorf("max_clock_skew %s must be between 1s and 1h", c.MaxClockSkew))
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		errs = append(errs, fmt.Errorf("log_level %q: use debug, info, warn or error", c.LogLevel))
	}
	switch c.LogFormat {
	case "text", "json":
	default:
		errs = append(errs, fmt.Errorf("log_format %q: use text or json", c.LogFormat))
	}
	if strings.TrimSpace(c.AuditLogID) == "" || strings.ContainsAny(c.AuditLogID, " \t\n") {
		errs = append(errs, fmt.Errorf("audit_log_id %q must be non-empty without white space", c.AuditLogID))
	}
	if c.AuditHeadInterval < 100*time.Millisecond || c.AuditHeadInterval > time.Hour {
		errs = append(errs, fmt.Errorf("audit_head_interval %s must be between 100ms and 1h", c.AuditHeadInterval))
	}
	switch c.Anchor {
	case "embedded":
	case "fabric":
		if strings.TrimSpace(c.FabricNetwork) == "" {
			errs = append(errs, errors.New("anchor fabric needs fabric_network, the Fabric connection profile (GXHUB_FABRIC_NETWORK or --fabric-network; testnet/up.sh writes testnet/.run/network.json)"))
		} else if _, err := os.Stat(c.FabricNetwork); err != nil {
			errs = append(errs, fmt.Errorf("fabric_network %q: %w; start the network (make testnet-up) or fix the path", c.FabricNetwork, err))
		}
		// The publisher gives each anchoring one interval; a Fabric commit takes ~0.3 s.
		if c.AuditHeadInterval < 500*time.Millisecond {
			errs = append(errs, fmt.Errorf("audit_head_interval %s is too short for Fabric anchoring (a commit takes about 0.3 s): use at least 500ms", c.AuditHeadInterval))
		}
	default:
		errs = append(errs, fmt.Errorf("anchor %q: use embedded or fabric", c.Anchor))
	}
	for name, d := range map[string]int{"deadlines.review_days": c.Deadlines.ReviewDays, "deadlines.answer_days": c.Deadlines.AnswerDays,
		"deadlines.answer_unpublished_days": c.Deadlines.AnswerUnpublishedDays, "deadlines.objection_days": c.Deadlines.ObjectionDays,
		"deadlines.proposal_days": c.Deadlines.ProposalDays} {
		if d < 1 || d > 60 {
			errs = append(errs, fmt.Errorf("%s %d must be between 1 and 60 working days", name, d))
		}
	}
	if _, err := c.ParseWitnesses(); err != nil {
		errs = append(errs, err)
	}
	if c.ShutdownTimeout <= 0 {
		errs = append(errs, errors.New("shutdown_timeout must be positive"))
	}
	if len(errs) > 0 {
		return fmt.Errorf("invalid configuration: %w", errors.Join(errs...))
	}
	return nil
}

// ReadPassword reads the CA password file (trailing newline removed); "" reads nothing.
func ReadPassword(path string) ([]byte, error) {
	if path == "" {
		return nil, nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("CA password file: %w", err)
	}
	p := []byte(strings.TrimRight(string(b), "\r\n"))
	if len(p) < 8 {
		return nil, fmt.Errorf("CA password in %s must be at least 8 characters", path)
	}
	return p, nil
}
