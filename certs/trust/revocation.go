package trust

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/emmansun/gmsm/smx509"

	"github.com/gxhub/gxhub/certs/pki"
	"github.com/gxhub/gxhub/certs/ses"
)

// Status is a revocation source's answer about one certificate (or seal).
type Status struct {
	Revoked   bool
	RevokedAt time.Time
	Reason    string
	// Compromise marks a revocation for key or CA compromise: signatures made before the
	// revocation time are suspect too.
	Compromise bool
	Source     string // e.g. "CRL of \"CN=...\" issued 2026-01-01T00:00:00Z"
}

// Checker answers whether a certificate was revoked at a time; it returns an error when
// it cannot tell (the verifier then reports the check as unknown). It is the shape of
// verify.RevocationChecker.
type Checker interface {
	CertificateStatus(ctx context.Context, cert *ses.Certificate, at time.Time) (Status, error)
}

// SealChecker is a Checker that also knows seals (a seal registry).
type SealChecker interface {
	SealStatus(ctx context.Context, seal *ses.Seal, at time.Time) (Status, error)
}

// CRLs answers from a set of CRLs. A CRL counts only when its signature verifies with an
// issuer certificate among Issuers, it is current (now ≤ nextUpdate) and it was issued at
// or after the time asked about (an older CRL cannot show a revocation in between).
type CRLs struct {
	// Issuers are the CA certificates that may sign the CRLs (anchors, intermediates).
	Issuers []*smx509.Certificate
	Lists   []*smx509.RevocationList
	// Now is the clock for freshness; nil means time.Now.
	Now func() time.Time
}

func (c *CRLs) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}

// CertificateStatus implements Checker.
func (c *CRLs) CertificateStatus(_ context.Context, cert *ses.Certificate, at time.Time) (Status, error) {
	if cert == nil {
		return Status{}, errors.New("no certificate")
	}
	now := c.now()
	var best *smx509.RevocationList
	var bestIssuer *smx509.Certificate
	var problems []error
	seen := false
	for _, l := range c.Lists {
		if !bytes.Equal(l.RawIssuer, cert.RawIssuer) {
			continue
		}
		seen = true
		iss := c.issuerOf(l)
		if iss == nil {
			problems = append(problems, fmt.Errorf("a CRL from %q cannot be checked: its issuer's certificate is not in the trust store", l.Issuer.String()))
			continue
		}
		if err := pki.CheckCRL(l, iss, now); err != nil {
			problems = append(problems, err)
			continue
		}
		if best == nil || l.ThisUpdate.After(best.ThisUpdate) {
			best, bestIssuer = l, iss
		}
	}
	switch {
	case !seen:
		return Status{}, fmt.Errorf("no CRL from the issuer %q is configured", cert.Issuer)
	case best == nil:
		return Status{}, joined(problems)
	case best.ThisUpdate.Before(at):
		return Status{}, fmt.Errorf("the newest CRL from %q (thisUpdate %s) predates the time checked %s: it cannot show a revocation in between; fetch a newer CRL", bestIssuer.Subject.String(), fmtTime(best.ThisUpdate), fmtTime(at))
	}
	src := fmt.Sprintf("CRL of %q issued %s, next update %s", bestIssuer.Subject.String(), fmtTime(best.ThisUpdate), fmtTime(best.NextUpdate))
	r, ok := pki.FindRevoked(best, cert.SerialNumber)
	if !ok {
		return Status{Source: src}, nil
	}
	compromise := r.Reason == pki.ReasonKeyCompromise || r.Reason == pki.ReasonCACompromise || r.Reason == pki.ReasonAACompromise
	return Status{Revoked: true, RevokedAt: r.RevokedAt, Reason: pki.ReasonText(r.Reason), Compromise: compromise, Source: src}, nil
}

func (c *CRLs) issuerOf(l *smx509.RevocationList) *smx509.Certificate {
	for _, iss := range c.Issuers {
		if bytes.Equal(iss.RawSubject, l.RawIssuer) && l.CheckSignatureFrom(iss) == nil {
			return iss
		}
	}
	return nil
}

// Sources asks each checker in turn; the first that can tell answers. When none can, the
// error joins why each could not.
type Sources []Checker

// CertificateStatus implements Checker.
func (s Sources) CertificateStatus(ctx context.Context, cert *ses.Certificate, at time.Time) (Status, error) {
	return s.first("no revocation source configured", func(c Checker) (Status, bool, error) {
		st, err := c.CertificateStatus(ctx, cert, at)
		return st, true, err
	})
}

// SealStatus implements SealChecker through the sources that know seals.
func (s Sources) SealStatus(ctx context.Context, seal *ses.Seal, at time.Time) (Status, error) {
	return s.first("no seal status source configured", func(c Checker) (Status, bool, error) {
		sc, ok := c.(SealChecker)
		if !ok {
			return Status{}, false, nil
		}
		st, err := sc.SealStatus(ctx, seal, at)
		return st, true, err
	})
}

// first returns the first answer of a source that can tell; ask reports whether a source
// applies at all.
func (s Sources) first(none string, ask func(Checker) (Status, bool, error)) (Status, error) {
	var errs []error
	for _, c := range s {
		if c == nil {
			continue
		}
		st, applies, err := ask(c)
		switch {
		case !applies:
		case err == nil:
			return st, nil
		default:
			errs = append(errs, err)
		}
	}
	if len(errs) == 0 {
		return Status{}, errors.New(none)
	}
	return Status{}, joined(errs)
}

// joined is several errors on one line ("a; b"), for reports.
type joined []error

func (j joined) Error() string {
	msgs := make([]string, len(j))
	for i, e := range j {
		msgs[i] = e.Error()
	}
	return strings.Join(msgs, "; ")
}

func (j joined) Unwrap() []error { return j }

func fmtTime(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format(time.RFC3339)
}
