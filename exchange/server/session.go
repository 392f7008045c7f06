package server

import (
	"context"
	"crypto/ecdsa"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"strings"
	"time"

	"github.com/gxhub/gxhub/certs/jws"
	"github.com/gxhub/gxhub/certs/sm"
	"github.com/gxhub/gxhub/exchange"
	"github.com/gxhub/gxhub/sdk/reqsig"
)

// Browser sign-in (REQUIREMENTS E4, docs/WEB.md). The operator's tool signs a short-lived,
// single-use login token with the department key (the browser never sees the key); the hub
// verifies it like a request signature and opens a server-side session identified by an
// HttpOnly cookie. Sessions authenticate read-only REST calls and verification POSTs only;
// writes that must be non-repudiable still need a per-request signature.
const (
	// LoginType is the JWS "typ" of a sign-in token.
	LoginType = "gxhub-login+jwt"
	// LoginTTL is the longest validity (exp − iat) of a sign-in token.
	LoginTTL = 2 * time.Minute
	// LoginGrace is all the hub adds past a sign-in token's exp (network and rounding to
	// whole seconds): the link works until the time `gxctl web` printed, not a clock-skew
	// window longer.
	LoginGrace = 5 * time.Second
	// SessionTTL is how long a browser session lasts.
	SessionTTL = 8 * time.Hour
	// SessionCookie is the name of the session cookie.
	SessionCookie = "gxhub_session"
	// UIHeader must be sent (value "1") with every session-authenticated call: a cross-site
	// form cannot set it, so it guards against CSRF in addition to SameSite=Strict.
	UIHeader = "X-Gxhub-UI"
)

// Refusal reasons of the sign-in and session checks.
const (
	ReasonLoginInvalid   = "LOGIN_TOKEN_INVALID"
	ReasonLoginAudience  = "LOGIN_AUDIENCE_MISMATCH"
	ReasonLoginEarly     = "LOGIN_BEFORE_START"
	ReasonSessionInvalid = "SESSION_INVALID"
	ReasonSessionScope   = "SESSION_NOT_ALLOWED"
	ReasonUIHeader       = "UI_HEADER_REQUIRED"
)

// LoginClaims is the payload of a sign-in token.
type LoginClaims struct {
	Audience string `json:"aud"`   // the hub's base URL, e.g. https://127.0.0.1:8443
	Nonce    string `json:"nonce"` // 16–128 random characters, single use
	IssuedAt int64  `json:"iat"`   // Unix seconds
	Expires  int64  `json:"exp"`   // Unix seconds, at most LoginTTL after iat
}

// SignLogin returns a compact sign-in token (JWS SM2SM3, kid = department, typ LoginType)
// for the hub at audience, valid from now for LoginTTL.
func SignLogin(key *sm.PrivateKey, department, audience string, now time.Time) (string, error) {
	c := LoginClaims{Audience: NormalizeAudience(audience), Nonce: reqsig.NewNonce(), IssuedAt: now.Unix(), Expires: now.Add(LoginTTL).Unix()}
	payload, err := json.Marshal(c)
	if err != nil {
		return "", err
	}
	return jws.Sign(key, department, LoginType, payload)
}

// NormalizeAudience lower-cases scheme and host and drops a trailing slash.
func NormalizeAudience(u string) string {
	u = strings.TrimRight(strings.TrimSpace(u), "/")
	if scheme, rest, ok := strings.Cut(u, "://"); ok {
		return strings.ToLower(scheme) + "://" + strings.ToLower(rest)
	}
	return strings.ToLower(u)
}

// SessionStore keeps browser sessions by the SM3 digest of their id (sqlstore.Sessions).
type SessionStore interface {
	Create(ctx context.Context, idHash, department string, created, expires time.Time) error
	Get(ctx context.Context, idHash string, now time.Time) (department string, expires time.Time, err error)
	Delete(ctx context.Context, idHash string) error
	Purge(ctx context.Context, now time.Time) (int64, error)
}

// Sessions signs departments in from login tokens and authenticates session cookies.
type Sessions struct {
	Auth  *Authenticator
	Store SessionStore
	// TTL is the session lifetime; zero means SessionTTL.
	TTL time.Duration
}

type sessionKey struct{}

// FromSession reports whether the request was authenticated by a browser session (not by a
// request signature). Such a caller has no Evidence: handlers that record decisions must
// refuse it.
func FromSession(ctx context.Context) bool {
	v, _ := ctx.Value(sessionKey{}).(bool)
	return v
}

func loginRefused(format string, args ...any) error {
	return exchange.Errorf(exchange.KindUnauthenticated, ReasonLoginInvalid, format, args...)
}

// Login verifies a sign-in token addressed to audience (the hub's configured public URL —
// never derived from the request, whose Host header the sender chooses) and opens a session. It returns the session id (the cookie value), the
// department and the session's expiry. The token's nonce is spent in the same store as
// request nonces, so a token works once across all replicas.
func (s *Sessions) Login(ctx context.Context, token, audience string) (string, *exchange.Department, time.Time, error) {
	t, err := jws.Parse(strings.TrimSpace(token))
	if err != nil {
		return "", nil, time.Time{}, exchange.Wrap(exchange.KindUnauthenticated, ReasonLoginInvalid, err, "the sign-in token is malformed: copy the whole link `gxctl web` printed: %v", err)
	}
	if t.Type != LoginType {
		return "", nil, time.Time{}, loginRefused("the token has typ %q, expected %q: create a sign-in token with `gxctl --identity DIR web`", t.Type, LoginType)
	}
	dept, cert, err := s.Auth.department(ctx, t.KeyID)
	if err != nil {
		return "", nil, time.Time{}, err
	}
	payload, err := t.Verify(cert.PublicKey.(*ecdsa.PublicKey))
	if err != nil {
		return "", nil, time.Time{}, loginRefused("the sign-in token's signature does not verify with department %s's registered certificate: sign in with that department's own identity", dept.Code)
	}
	var c LoginClaims
	if err := json.Unmarshal(payload, &c); err != nil {
		return "", nil, time.Time{}, loginRefused("the sign-in token's claims are not valid JSON: %v", err)
	}
	if len(c.Nonce) < 16 || len(c.Nonce) > 128 || c.IssuedAt == 0 || c.Expires == 0 || c.Audience == "" {
		return "", nil, time.Time{}, loginRefused("the sign-in token must carry aud, nonce (16–128 characters), iat and exp")
	}
	if audience == "" {
		return "", nil, time.Time{}, exchange.Errorf(exchange.KindUnavailable, ReasonLoginAudience, "the hub's public URL is not known yet, so no sign-in token can be checked: set public_url (--public-url)")
	}
	if NormalizeAudience(c.Audience) != NormalizeAudience(audience) {
		return "", nil, time.Time{}, exchange.Errorf(exchange.KindUnauthenticated, ReasonLoginAudience,
			"the sign-in token is for %s but this hub is %s: run `gxctl --hub %s web`", c.Audience, audience, audience)
	}
	iat, exp := time.Unix(c.IssuedAt, 0), time.Unix(c.Expires, 0)
	if d := exp.Sub(iat); d <= 0 || d > LoginTTL {
		return "", nil, time.Time{}, loginRefused("the sign-in token is valid for %s; at most %s is accepted", d, LoginTTL)
	}
	skew := s.Auth.MaxSkew
	if skew <= 0 {
		skew = reqsig.MaxSkew
	}
	now := s.Auth.now()
	// A token signed ahead of the hub's clock is tolerated by the request skew; past exp,
	// only LoginGrace: a link is good until the time printed with it.
	if now.Before(iat.Add(-skew)) || now.After(exp.Add(LoginGrace)) {
		return "", nil, time.Time{}, exchange.Errorf(exchange.KindUnauthenticated, reqsig.ReasonExpired,
			"the sign-in token was valid %s to %s but the hub's time is %s: create a new one with `gxctl web` (and check the clock)",
			iat.UTC().Format(time.RFC3339), exp.UTC().Format(time.RFC3339), now.UTC().Format(time.RFC3339))
	}
	if st := s.Auth.StartedAt; !st.IsZero() && iat.Before(st.Truncate(time.Second)) {
		return "", nil, time.Time{}, exchange.Errorf(exchange.KindUnauthenticated, ReasonLoginEarly,
			"the sign-in token was signed at %s, before the hub started at %s: create a new one with `gxctl web` (a link made before a restart could have been used already)",
			iat.UTC().Format(time.RFC3339), st.UTC().Format(time.RFC3339))
	}
	if iat.Before(cert.NotBefore) || iat.After(cert.NotAfter) {
		return "", nil, time.Time{}, exchange.Errorf(exchange.KindUnauthenticated, reqsig.ReasonCertificate,
			"department %s's certificate is valid %s to %s, not at the token's signing time %s: renew the certificate",
			dept.Code, cert.NotBefore.UTC().Format(time.RFC3339), cert.NotAfter.UTC().Format(time.RFC3339), iat.UTC().Format(time.RFC3339))
	}
	if err := s.Auth.Store.Nonces().Use(ctx, dept.Code, "login:"+c.Nonce, exp.Add(LoginGrace+time.Minute)); err != nil {
		if exchange.KindOf(err) == exchange.KindUnauthenticated {
			return "", nil, time.Time{}, exchange.Errorf(exchange.KindUnauthenticated, reqsig.ReasonReplayed,
				"this sign-in link was already used: a link signs in once; create a new one with `gxctl web`")
		}
		return "", nil, time.Time{}, err
	}
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", nil, time.Time{}, err
	}
	id := base64.RawURLEncoding.EncodeToString(b)
	ttl := s.TTL
	if ttl <= 0 {
		ttl = SessionTTL
	}
	expires := now.Add(ttl)
	if err := s.Store.Create(ctx, sessionHash(id), dept.Code, now, expires); err != nil {
		return "", nil, time.Time{}, err
	}
	return id, dept, expires, nil
}

func sessionHash(id string) string {
	d := sm.Sum([]byte("gxhub-session:" + id))
	return hex.EncodeToString(d[:])
}

// Caller returns the department of a live session as a Caller without Evidence.
func (s *Sessions) Caller(ctx context.Context, id string) (*Caller, error) {
	if id == "" || len(id) > 128 {
		return nil, exchange.Errorf(exchange.KindUnauthenticated, ReasonSessionInvalid, "the session cookie is malformed: sign in again with `gxctl --identity DIR web`")
	}
	code, _, err := s.Store.Get(ctx, sessionHash(id), s.Auth.now())
	if err != nil {
		if exchange.KindOf(err) == exchange.KindUnauthenticated {
			return nil, exchange.Errorf(exchange.KindUnauthenticated, ReasonSessionInvalid, "the browser session is unknown or expired (sessions last %s): sign in again with `gxctl --identity DIR web`", s.ttl())
		}
		return nil, err
	}
	dept, _, err := s.Auth.department(ctx, code)
	if err != nil {
		return nil, err
	}
	return &Caller{Department: dept}, nil
}

func (s *Sessions) ttl() time.Duration {
	if s.TTL > 0 {
		return s.TTL
	}
	return SessionTTL
}

// Logout ends the session (deleting an unknown session is not an error).
func (s *Sessions) Logout(ctx context.Context, id string) error {
	if id == "" {
		return nil
	}
	return s.Store.Delete(ctx, sessionHash(id))
}

// SessionAllowed reports whether a REST call may be authenticated by a browser session:
// reads (GET) of the listed API areas, verification POSTs (VerifyService.Verify and paths
// ending in ":verify", which change nothing but their audit record), and the read-only
// searches that take a POST body to keep ID numbers out of URLs (audit search, subject
// usage). Verifications include the counter's check of declared values (核验), which
// answers match or mismatch and never a value. Everything else — registrations, decisions, publications, pulls and record
// contents of shared data — needs a per-request signature, so that the department cannot
// deny it.
func SessionAllowed(method, path string) bool {
	switch method {
	case "GET":
		if strings.Contains(path, "/records/") && strings.HasPrefix(path, "/v1/resources/") {
			return false // record contents (history) of shared data
		}
		for _, p := range sessionReadPrefixes {
			if path == p || strings.HasPrefix(path, p+"/") || strings.HasPrefix(path, p+"?") || strings.HasPrefix(path, p+":") {
				return true
			}
		}
		return false
	case "POST":
		switch path {
		case "/v1/verify", "/v1/verifications", "/v1/audit/records:search", "/v1/audit/subject-usage":
			return true
		}
		return strings.HasSuffix(path, ":verify")
	}
	return false
}

// sessionReadPrefixes are the API areas a browser session may read. Data pulls are not
// among them: a pull of shared data is a decision the consumer signs.
var sessionReadPrefixes = []string{
	"/v1/whoami", "/v1/departments", "/v1/audit", "/v1/resources", "/v1/requirements",
	"/v1/matters", "/v1/freshness", "/v1/policy", "/v1/ecert", "/v1/ecerts", "/v1/seals",
	"/v1/trust", "/v1/calendar", "/v1/objections",
}
