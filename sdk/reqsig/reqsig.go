// Package reqsig signs and verifies gxhub API requests (REQUIREMENTS E5).
//
// Every request a department sends carries
//
//	Authorization: GXHUB-SM2 <compact JWS>
//
// (gRPC: metadata "authorization" with the same value). The JWS has protected header
// {"alg":"SM2SM3","kid":<department code>,"typ":"gxhub-req+jwt"} (an operator signing with
// its own key: kid "<department code>/<operator certificate serial>") and the payload
//
//	{"m": method, "p": path with query, "d": base64url(SM3(body)), "t": unix seconds, "n": nonce}
//
// For gRPC, m is "POST", p is the full method ("/gxhub.admin.v1.AdminService/WhoAmI") and
// the body is the request message's deterministic protobuf encoding as sent on the wire.
// The hub checks, in this order: the header is present and well formed; the department
// exists; the signature verifies with its registered certificate; the method, path and body
// digest match what was received; the timestamp is within the allowed skew; the nonce was
// not used before. Each failure has its own reason (see the Reason constants).
package reqsig

import (
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/gxhub/gxhub/certs/jws"
	"github.com/gxhub/gxhub/certs/sm"
)

// Scheme is the Authorization scheme.
const Scheme = "GXHUB-SM2"

// Type is the JWS "typ" of a request signature.
const Type = "gxhub-req+jwt"

// HeaderName is the HTTP header (and lower-cased gRPC metadata key) carrying the signature.
const HeaderName = "Authorization"

// MaxSkew is the default largest difference between the signing time and the hub's clock.
const MaxSkew = 5 * time.Minute

// Reasons for refusing a request; stable and machine-readable.
const (
	ReasonUnsigned          = "REQUEST_UNSIGNED"
	ReasonMalformed         = "SIGNATURE_MALFORMED"
	ReasonUnknownDepartment = "DEPARTMENT_UNKNOWN"
	ReasonBadSignature      = "SIGNATURE_INVALID"
	ReasonScopeMismatch     = "SIGNATURE_SCOPE_MISMATCH"
	ReasonBodyDigest        = "BODY_DIGEST_MISMATCH"
	ReasonExpired           = "REQUEST_EXPIRED"
	ReasonCertificate       = "CERTIFICATE_NOT_VALID"
	ReasonReplayed          = "REQUEST_REPLAYED"
)

// Claims is the signed payload.
type Claims struct {
	Method     string `json:"m"`
	Path       string `json:"p"`
	BodyDigest string `json:"d"`
	Time       int64  `json:"t"`
	Nonce      string `json:"n"`
}

// BodyDigest returns base64url(SM3(body)).
func BodyDigest(body []byte) string {
	d := sm.Sum(body)
	return base64.RawURLEncoding.EncodeToString(d[:])
}

// NewNonce returns 128 random bits, base64url.
func NewNonce() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// Sign returns the Authorization header value for a request by department (its code) with
// key, at time now.
func Sign(key *sm.PrivateKey, department, method, path string, body []byte, now time.Time) (string, error) {
	c := Claims{Method: strings.ToUpper(method), Path: path, BodyDigest: BodyDigest(body), Time: now.Unix(), Nonce: NewNonce()}
	payload, err := json.Marshal(c)
	if err != nil {
		return "", err
	}
	tok, err := jws.Sign(key, department, Type, payload)
	if err != nil {
		return "", err
	}
	return Scheme + " " + tok, nil
}

// Request is a parsed signature whose department is known but whose signature is not yet
// checked.
type Request struct {
	Department string
	// Operator is the certificate serial of the operator who signed, "" when the
	// department's own key signed.
	Operator string
	// Envelope is the compact JWS as received: the evidence kept for audited requests.
	Envelope string
	token    *jws.Token
}

// KeyID is the JWS kid naming who signs: the department code, or "code/serial" for an
// operator of the department signing with its own certificate.
func KeyID(department, operatorSerial string) string {
	if operatorSerial == "" {
		return department
	}
	return department + "/" + operatorSerial
}

// Error is a refused request signature. Reason is one of the Reason constants; Msg says
// what is wrong and what to do, and is all a client may be shown; Err is the underlying
// cause (for logs), if any. The hub translates it into its unauthenticated error kind.
type Error struct {
	Reason string
	Msg    string
	Err    error
}

// Error returns the public message.
func (e *Error) Error() string { return e.Msg }

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

func refuse(reason, format string, args ...any) error {
	return &Error{Reason: reason, Msg: fmt.Sprintf(format, args...)}
}

func refuseWrap(reason string, cause error, msg string) error {
	return &Error{Reason: reason, Msg: msg, Err: cause}
}

// Parse reads the Authorization value. A missing value is ReasonUnsigned.
func Parse(header string) (*Request, error) {
	header = strings.TrimSpace(header)
	if header == "" {
		return nil, refuse(ReasonUnsigned, "this API needs a department signature: send %s: %s <compact JWS>, made with the department's SM2 key (gxctl --identity DIR, the SDK, or `gxctl sign-request` for curl)", HeaderName, Scheme)
	}
	scheme, tok, ok := strings.Cut(header, " ")
	if !ok || !strings.EqualFold(scheme, Scheme) {
		return nil, refuse(ReasonMalformed, "%s header must be %q followed by a compact JWS", HeaderName, Scheme+" ")
	}
	t, err := jws.Parse(strings.TrimSpace(tok))
	if err != nil {
		return nil, refuseWrap(ReasonMalformed, err, "the request signature is malformed")
	}
	if t.Type != Type {
		return nil, refuse(ReasonMalformed, "the request signature has typ %q, expected %q", t.Type, Type)
	}
	dept, op, _ := strings.Cut(t.KeyID, "/")
	if dept == "" || strings.Contains(op, "/") {
		return nil, refuse(ReasonMalformed, "the request signature's kid %q must be a department code or code/operator-serial", t.KeyID)
	}
	return &Request{Department: dept, Operator: op, Envelope: strings.TrimSpace(tok), token: t}, nil
}

// Expect is what the hub received, to compare with what was signed.
type Expect struct {
	Method string
	Path   string
	Body   []byte
	// BodyDigest, when set, is used instead of hashing Body.
	BodyDigest string
	Now        time.Time
	MaxSkew    time.Duration
}

// Verify checks the signature with the department's public key, then the claims against
// what was received. It does not check the nonce for replay: the caller records it after
// this succeeds.
func (r *Request) Verify(pub any, e Expect) (*Claims, error) {
	payload, err := r.verifySignature(pub)
	if err != nil {
		return nil, err
	}
	var c Claims
	if err := json.Unmarshal(payload, &c); err != nil {
		return nil, refuseWrap(ReasonMalformed, err, "the signed request claims are not valid JSON")
	}
	if c.Method == "" || c.Path == "" || c.BodyDigest == "" || c.Time == 0 || len(c.Nonce) < 16 || len(c.Nonce) > 128 {
		return nil, refuse(ReasonMalformed, "the signed claims must carry m, p, d, t and a nonce n of 16 to 128 characters")
	}
	if !strings.EqualFold(c.Method, e.Method) || c.Path != e.Path {
		return nil, refuse(ReasonScopeMismatch, "the signature covers %s %s but the request is %s %s: sign the exact method and path (with query) you send", c.Method, c.Path, e.Method, e.Path)
	}
	want := e.BodyDigest
	if want == "" {
		want = BodyDigest(e.Body)
	}
	if subtle.ConstantTimeCompare([]byte(c.BodyDigest), []byte(want)) != 1 {
		return nil, refuse(ReasonBodyDigest, "the body's SM3 digest does not match the signed digest: sign the exact bytes you send (no re-encoding after signing)")
	}
	skew := e.MaxSkew
	if skew <= 0 {
		skew = MaxSkew
	}
	signed := time.Unix(c.Time, 0)
	if d := e.Now.Sub(signed); d > skew || d < -skew {
		return nil, refuse(ReasonExpired, "the request was signed at %s but the hub's time is %s (more than %s apart): sign just before sending and check the clock (NTP)", signed.UTC().Format(time.RFC3339), e.Now.UTC().Format(time.RFC3339), skew)
	}
	return &c, nil
}

// VerifyOffline checks only the signature, with the signer's public key, and returns the
// claims: for evidence checked later by a third party (the method, path, body and time are
// then what the claims say, not compared with a live request).
func (r *Request) VerifyOffline(pub any) (*Claims, error) {
	payload, err := r.verifySignature(pub)
	if err != nil {
		return nil, err
	}
	var c Claims
	if err := json.Unmarshal(payload, &c); err != nil {
		return nil, refuseWrap(ReasonMalformed, err, "the signed request claims are not valid JSON")
	}
	if c.Method == "" || c.Path == "" || c.BodyDigest == "" || c.Time == 0 {
		return nil, refuse(ReasonMalformed, "the signed claims must carry m, p, d and t")
	}
	return &c, nil
}

func (r *Request) verifySignature(pub any) ([]byte, error) {
	k, ok := pub.(*ecdsa.PublicKey)
	if !ok {
		return nil, refuse(ReasonCertificate, "the certificate of %s does not hold an SM2 key", r.signer())
	}
	payload, err := r.token.Verify(k)
	if err != nil {
		if errors.Is(err, sm.ErrBadSignature) {
			return nil, refuse(ReasonBadSignature, "the signature does not verify with the registered certificate of %s: sign with that key", r.signer())
		}
		return nil, refuseWrap(ReasonMalformed, err, "the request signature cannot be checked")
	}
	return payload, nil
}

func (r *Request) signer() string {
	if r.Operator != "" {
		return fmt.Sprintf("operator %s of department %s", r.Operator, r.Department)
	}
	return "department " + r.Department
}

// String formats claims for logs (no body content).
func (c *Claims) String() string {
	return fmt.Sprintf("%s %s t=%d", c.Method, c.Path, c.Time)
}
