package server

import (
	"context"
	"crypto/ecdsa"
	"fmt"
	"sync"
	"time"

	"github.com/emmansun/gmsm/smx509"

	"github.com/gxhub/gxhub/exchange"
	"github.com/gxhub/gxhub/exchange/store"
	"github.com/gxhub/gxhub/sdk/reqsig"
)

// Authenticator verifies signed requests (REQUIREMENTS E5): signature with the department's
// registered certificate, method/path/body binding, time window, single use of the nonce.
type Authenticator struct {
	Store   store.Store
	MaxSkew time.Duration
	Now     func() time.Time
	// StartedAt, if set, refuses requests signed before it (REQUEST_BEFORE_START): nonces
	// are committed without waiting for stable storage, so after a machine crash the last
	// moments of nonces may be gone; refusing what was signed before this process started
	// keeps such requests from being replayed.
	StartedAt time.Time
	// Roles gives an authenticated operator its roles (the policy's g rules). Without it,
	// operators hold no role.
	Roles RoleReader
	// CacheTTL bounds how long a department's parsed certificate is reused before it is
	// re-read from the store (so replicas see certificate changes within it), when there
	// are no Snapshots.
	CacheTTL time.Duration
	// Snapshots, if set, serves departments and certificate statuses from memory at the
	// request's snapshot version (no staleness: see Snapshots); CacheTTL is then unused.
	Snapshots *Snapshots

	mu    sync.Mutex
	cache map[string]cachedDept
}

type cachedDept struct {
	dept    *exchange.Department
	cert    *smx509.Certificate
	fetched time.Time
}

func (a *Authenticator) now() time.Time {
	if a.Now != nil {
		return a.Now()
	}
	return time.Now()
}

// Authenticate verifies the Authorization value for a request with the given method, path
// and SM3 body digest (base64url), and returns the caller.
func (a *Authenticator) Authenticate(ctx context.Context, header, method, path, bodyDigest string) (*Caller, error) {
	c, err := a.authenticate(ctx, header, method, path, bodyDigest)
	return c, signatureErr(err)
}

func (a *Authenticator) authenticate(ctx context.Context, header, method, path, bodyDigest string) (*Caller, error) {
	req, err := reqsig.Parse(header)
	if err != nil {
		return nil, err
	}
	dept, cert, err := a.department(ctx, req.Department)
	if err != nil {
		return nil, err
	}
	var op *exchange.Operator
	if req.Operator != "" {
		if op, cert, err = a.operator(ctx, dept, req.Operator); err != nil {
			return nil, err
		}
	}
	now := a.now()
	expect := reqsig.Expect{Method: method, Path: path, BodyDigest: bodyDigest, Now: now, MaxSkew: a.MaxSkew}
	claims, err := req.Verify(cert.PublicKey, expect)
	if op == nil && isBadSignature(err) {
		// After a re-key, the department's previous key signs until its superseded
		// certificate's revocation takes effect (the overlap). Never for a request naming an
		// operator: that one is the operator's key or nothing.
		if prev, pclaims, perr := a.verifyPrevious(ctx, dept.Code, req, expect, now); perr != nil {
			return nil, perr
		} else if prev != nil {
			cert, claims, err = prev, pclaims, nil
		}
	}
	if err != nil {
		return nil, err
	}
	signed := time.Unix(claims.Time, 0)
	if signed.Before(cert.NotBefore) || signed.After(cert.NotAfter) {
		return nil, exchange.Errorf(exchange.KindUnauthenticated, reqsig.ReasonCertificate,
			"the certificate of %s (serial %s) is valid %s to %s, not at the signing time %s: renew the certificate",
			reqsig.KeyID(dept.Code, req.Operator), cert.SerialNumber.Text(16), cert.NotBefore.UTC().Format(time.RFC3339), cert.NotAfter.UTC().Format(time.RFC3339), signed.UTC().Format(time.RFC3339))
	}
	if !a.StartedAt.IsZero() && signed.Before(a.StartedAt.Truncate(time.Second)) {
		return nil, exchange.Errorf(exchange.KindUnauthenticated, "REQUEST_BEFORE_START",
			"the request was signed at %s, before the hub started at %s: sign it again (a signature is valid once, for requests made after it)",
			signed.UTC().Format(time.RFC3339), a.StartedAt.UTC().Format(time.RFC3339))
	}
	skew := a.MaxSkew
	if skew <= 0 {
		skew = reqsig.MaxSkew
	}
	// The nonce is recorded only after the signature verified, so nobody can burn another
	// department's nonces. It is kept as long as the timestamp could still be accepted.
	if err := a.Store.Nonces().Use(ctx, dept.Code, claims.Nonce, signed.Add(skew+time.Minute)); err != nil {
		return nil, err
	}
	c := &Caller{Department: dept, Operator: op, SignerCert: cert.Raw, Claims: claims, Evidence: header, BodyDigest: claims.BodyDigest}
	if op != nil && a.Roles != nil {
		if c.OperatorRoles, err = a.Roles.Roles(ctx, op.Serial, dept.Code); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// Refusal reasons of operator signatures.
const (
	ReasonOperatorUnknown   = "OPERATOR_UNKNOWN"
	ReasonOperatorSuspended = "OPERATOR_SUSPENDED"
	ReasonOperatorRevoked   = "OPERATOR_REVOKED"
)

// operator returns the operator who signed for dept, read from the store at every request
// (no cache), so that a suspension or revocation is effective at the next request on every
// replica sharing the store.
func (a *Authenticator) operator(ctx context.Context, dept *exchange.Department, serial string) (*exchange.Operator, *smx509.Certificate, error) {
	o, err := a.Store.Operators().Get(ctx, serial)
	if err != nil {
		if exchange.KindOf(err) == exchange.KindNotFound {
			return nil, nil, exchange.Errorf(exchange.KindUnauthenticated, ReasonOperatorUnknown,
				"the signature names operator %s of department %s, who is not enrolled at this hub: use the identity `gxctl operator add` wrote", serial, dept.Code)
		}
		return nil, nil, err
	}
	if o.Department != dept.Code {
		return nil, nil, exchange.Errorf(exchange.KindUnauthenticated, ReasonOperatorUnknown,
			"operator %s belongs to department %s, not to %s named in the signature", serial, o.Department, dept.Code)
	}
	switch o.Status {
	case exchange.OperatorActive:
	case exchange.OperatorSuspended:
		return nil, nil, exchange.Errorf(exchange.KindUnauthenticated, ReasonOperatorSuspended,
			"operator %s (%s) of department %s is suspended since %s (%s): ask the department's admin to resume it", serial, o.Name, dept.Code, o.StatusAt.Format(time.RFC3339), o.StatusReason)
	default:
		return nil, nil, exchange.Errorf(exchange.KindUnauthenticated, ReasonOperatorRevoked,
			"operator %s (%s) of department %s was revoked at %s (%s): a revoked operator certificate is never accepted again", serial, o.Name, dept.Code, o.StatusAt.Format(time.RFC3339), o.StatusReason)
	}
	cert, err := smx509.ParseCertificate(o.Certificate)
	if err != nil {
		return nil, nil, fmt.Errorf("stored certificate of operator %s does not parse: %w", serial, err)
	}
	return o, cert, nil
}

func (a *Authenticator) department(ctx context.Context, code string) (*exchange.Department, *smx509.Certificate, error) {
	if a.Snapshots != nil && a.Snapshots.Versions != nil {
		v, err := a.Snapshots.get(ctx, "department", code, func() (any, error) {
			d, cert, err := a.readDepartment(ctx, code)
			if err != nil {
				return nil, err
			}
			return cachedDept{dept: d, cert: cert}, nil
		})
		if err != nil {
			return nil, nil, err
		}
		c := v.(cachedDept)
		if err := a.CheckCertificate(ctx, c.dept.CertSerial, "department "+code); err != nil {
			return nil, nil, err
		}
		return c.dept, c.cert, nil
	}
	ttl := a.CacheTTL
	if ttl <= 0 {
		ttl = 30 * time.Second
	}
	a.mu.Lock()
	c, ok := a.cache[code]
	a.mu.Unlock()
	if ok && time.Since(c.fetched) < ttl {
		if err := a.CheckCertificate(ctx, c.dept.CertSerial, "department "+code); err != nil {
			return nil, nil, err
		}
		return c.dept, c.cert, nil
	}
	d, cert, err := a.readDepartment(ctx, code)
	if err != nil {
		return nil, nil, err
	}
	if err := a.CheckCertificate(ctx, d.CertSerial, "department "+code); err != nil {
		return nil, nil, err
	}
	a.mu.Lock()
	if a.cache == nil {
		a.cache = map[string]cachedDept{}
	}
	a.cache[code] = cachedDept{dept: d, cert: cert, fetched: time.Now()}
	a.mu.Unlock()
	return d, cert, nil
}

// readDepartment reads a department and parses its certificate.
func (a *Authenticator) readDepartment(ctx context.Context, code string) (*exchange.Department, *smx509.Certificate, error) {
	d, err := a.Store.Departments().Get(ctx, code)
	if err != nil {
		if exchange.KindOf(err) == exchange.KindNotFound {
			return nil, nil, exchange.Errorf(exchange.KindUnauthenticated, reqsig.ReasonUnknownDepartment,
				"the signature names department %q (kid), which is not registered at this hub: use the identity the hub issued to you", code)
		}
		return nil, nil, err
	}
	cert, err := smx509.ParseCertificate(d.Certificate)
	if err != nil {
		return nil, nil, fmt.Errorf("stored certificate of department %s does not parse: %w", code, err)
	}
	if _, ok := cert.PublicKey.(*ecdsa.PublicKey); !ok {
		return nil, nil, fmt.Errorf("stored certificate of department %s has no EC key", code)
	}
	return d, cert, nil
}

// Forget drops a department from the cache (after its certificate changed).
func (a *Authenticator) Forget(code string) {
	a.mu.Lock()
	delete(a.cache, code)
	a.mu.Unlock()
}
