package rpc

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/gxhub/gxhub/certs/sm"
	"github.com/gxhub/gxhub/exchange"
	"github.com/gxhub/gxhub/sdk/reqsig"
)

// Caller is the verified department behind a request.
type Caller struct {
	Department *exchange.Department
	// Operator is the operator who signed with its own certificate (nil: the department's
	// own key signed, or a browser session acts for the department).
	Operator *exchange.Operator
	// OperatorRoles are the roles the policy gives Operator in its department (D1).
	OperatorRoles []string
	// SignerCert is the DER certificate whose key signed the request.
	SignerCert []byte
	Claims     *reqsig.Claims
	// Evidence is the verified Authorization value (GXHUB-SM2 JWS) and BodyDigest the SM3
	// of the body it covers: stored with decisions so that they cannot be denied.
	Evidence   string
	BodyDigest string

	evidenceKept atomic.Bool // the envelope is in the evidence store
	evidenceMu   sync.Mutex  // one store of the envelope, however many records attribute to it at once
	evidenceSum  []byte      // SM3 of the envelope, once computed (under evidenceMu)
}

// KeepEvidence returns the SM3 of the caller's envelope, having had put store it once: the
// records of one request (a batch pull appends one per entry, concurrently) keep its
// envelope once; the first stores it, the others wait for it and reuse the digest.
func (c *Caller) KeepEvidence(put func(digest []byte) error) ([]byte, error) {
	c.evidenceMu.Lock()
	defer c.evidenceMu.Unlock()
	if c.evidenceSum == nil {
		d := sm.Sum([]byte(c.Envelope()))
		c.evidenceSum = d[:]
	}
	if !c.evidenceKept.Load() {
		if err := put(c.evidenceSum); err != nil {
			return nil, err
		}
		c.evidenceKept.Store(true)
	}
	return slices.Clone(c.evidenceSum), nil
}

type callerKey struct{}

// WithCaller returns ctx carrying c.
func WithCaller(ctx context.Context, c *Caller) context.Context {
	return context.WithValue(ctx, callerKey{}, c)
}

// CallerFrom returns the verified caller, if the request was signed.
func CallerFrom(ctx context.Context) (*Caller, bool) {
	c, ok := ctx.Value(callerKey{}).(*Caller)
	return c, ok
}

// RequireCaller returns the verified caller or an Unauthenticated error saying how to sign.
// An operator signing with its own key must hold a role that allows the RPC being served
// (OperatorMethods).
func RequireCaller(ctx context.Context) (*Caller, error) {
	if c, ok := CallerFrom(ctx); ok {
		if err := AuthorizeOperator(c, methodOf(ctx)); err != nil {
			return nil, err
		}
		return c, nil
	}
	_, err := reqsig.Parse("")
	return nil, SignatureErr(err)
}

// SignatureErr translates a refused request signature (reqsig's own error) into the
// hub's unauthenticated error with the same reason and public message.
func SignatureErr(err error) error {
	var se *reqsig.Error
	if errors.As(err, &se) {
		return exchange.Wrap(exchange.KindUnauthenticated, se.Reason, se.Err, "%s", se.Msg)
	}
	return err
}

// OperatorID is how the caller's operator is recorded: its certificate serial, "" when the
// department's own key signed.
func (c *Caller) OperatorID() string {
	if c == nil || c.Operator == nil {
		return ""
	}
	return c.Operator.Serial
}

// Envelope is the compact JWS the caller signed ("" for a browser session).
func (c *Caller) Envelope() string {
	scheme, tok, ok := strings.Cut(strings.TrimSpace(c.Evidence), " ")
	if !ok || !strings.EqualFold(scheme, reqsig.Scheme) {
		return ""
	}
	return strings.TrimSpace(tok)
}

// RequireRole returns the caller if its department holds role.
func RequireRole(ctx context.Context, role exchange.Role) (*Caller, error) {
	c, err := RequireCaller(ctx)
	if err != nil {
		return nil, err
	}
	if !c.Department.HasRole(role) {
		return nil, exchange.Errorf(exchange.KindPermissionDenied, "ROLE_REQUIRED",
			"department %s (%s) does not hold the %s role needed for this operation", c.Department.Code, c.Department.Name, role)
	}
	return c, nil
}
