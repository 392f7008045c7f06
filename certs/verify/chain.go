package verify

import (
	"bytes"
	"crypto/ecdsa"
	"errors"
	"fmt"
	"time"

	"github.com/emmansun/gmsm/smx509"
	"github.com/gxhub/gxhub/certs/ses"
	"github.com/gxhub/gxhub/certs/sm"
)

// chain checks cert (who = "signer" or "maker") against opts.Roots at time at. An issuer
// that is not in the trust store is unknown (unless RequireChain); a chain that is found but
// broken (expired at that time, wrong key usage, bad signature) fails.
func (v *verifier) chain(scope, who string, cert *ses.Certificate, at time.Time, extra ...*smx509.Certificate) {
	name := who + ".chain"
	if len(v.opts.Roots) == 0 {
		v.r.add(scope, name, Unknown, "no trust roots configured: issuer %q not checked", cert.Issuer)
		return
	}
	if isAnchor(cert, v.opts.Roots) {
		if cert.ValidAt(at) {
			v.r.add(scope, name, Pass, "the certificate is itself a configured trust anchor (valid at %s)", fmtTime(at))
		} else {
			v.r.add(scope, name, Fail, "the certificate is a configured trust anchor but not valid at %s", fmtTime(at))
		}
		return
	}
	intermediates := append(append([]*smx509.Certificate{}, v.opts.Intermediates...), extra...)
	notTrusted := func(format string, args ...any) {
		st := Unknown
		if v.opts.RequireChain {
			st = Fail
		}
		v.r.add(scope, name, st, format, args...)
	}
	if cert.X509 != nil {
		roots, inter := smx509.NewCertPool(), smx509.NewCertPool()
		for _, c := range v.opts.Roots {
			roots.AddCert(c)
		}
		for _, c := range intermediates {
			inter.AddCert(c)
		}
		chains, err := cert.X509.Verify(smx509.VerifyOptions{
			Roots: roots, Intermediates: inter, CurrentTime: at,
			KeyUsages: []smx509.ExtKeyUsage{smx509.ExtKeyUsageAny},
		})
		var ua smx509.UnknownAuthorityError
		switch {
		case err == nil:
			root := chains[0][len(chains[0])-1]
			v.r.add(scope, name, Pass, "chains to trusted root %q at %s", root.Subject.String(), fmtTime(at))
		case errors.As(err, &ua) && !issuerKnown(cert.X509, v.opts.Roots, intermediates):
			notTrusted("issuer not in trust store: %q", cert.Issuer)
		case outsideValidity(cert.X509, at) && untrustedApartFromValidity(cert.X509, roots, inter):
			// The certificate itself is outside its validity at the checked time (the
			// validity checks report that on their own); apart from that its issuer is not
			// in the trust store: the chain is not trusted, not broken.
			notTrusted("issuer not in trust store: %q", cert.Issuer)
		default:
			v.r.add(scope, name, Fail, "chain to the trust roots is broken at %s: %v", fmtTime(at), err)
		}
		return
	}
	// Lenient certificate: smx509 cannot build its chain; check its issuer's signature directly.
	for _, iss := range append(append([]*smx509.Certificate{}, v.opts.Roots...), intermediates...) {
		if !bytes.Equal(iss.RawSubject, cert.RawIssuer) {
			continue
		}
		ipub, err := issuerKey(iss)
		if err != nil {
			continue
		}
		if err := sm.Verify(ipub, cert.RawTBS, cert.SignatureValue); err != nil {
			v.r.add(scope, name, Fail, "certificate (parsed leniently) is not signed by %q: %v", iss.Subject.String(), err)
			return
		}
		if !iss.IsCA || (iss.KeyUsage != 0 && iss.KeyUsage&smx509.KeyUsageCertSign == 0) {
			v.r.add(scope, name, Fail, "issuer %q is not a CA allowed to sign certificates", iss.Subject.String())
			return
		}
		if at.Before(iss.NotBefore) || at.After(iss.NotAfter) {
			v.r.add(scope, name, Fail, "issuer %q not valid at %s", iss.Subject.String(), fmtTime(at))
			return
		}
		if isRoot(iss, v.opts.Roots) {
			v.r.add(scope, name, Pass, "signed by trusted root %q (certificate parsed leniently; direct issuer check)", iss.Subject.String())
			return
		}
		roots := smx509.NewCertPool()
		for _, c := range v.opts.Roots {
			roots.AddCert(c)
		}
		if _, err := iss.Verify(smx509.VerifyOptions{Roots: roots, CurrentTime: at, KeyUsages: []smx509.ExtKeyUsage{smx509.ExtKeyUsageAny}}); err != nil {
			v.r.add(scope, name, Fail, "intermediate %q does not chain to the trust roots at %s: %v", iss.Subject.String(), fmtTime(at), err)
			return
		}
		v.r.add(scope, name, Pass, "signed by %q which chains to the trust roots (certificate parsed leniently)", iss.Subject.String())
		return
	}
	notTrusted("issuer not in trust store: %q (certificate parsed leniently)", cert.Issuer)
}

func outsideValidity(c *smx509.Certificate, at time.Time) bool {
	return at.Before(c.NotBefore) || at.After(c.NotAfter)
}

// untrustedApartFromValidity verifies c at a time inside its own validity and reports
// whether the chain then fails only for an unknown authority.
func untrustedApartFromValidity(c *smx509.Certificate, roots, inter *smx509.CertPool) bool {
	_, err := c.Verify(smx509.VerifyOptions{Roots: roots, Intermediates: inter, CurrentTime: c.NotBefore,
		KeyUsages: []smx509.ExtKeyUsage{smx509.ExtKeyUsageAny}})
	var ua smx509.UnknownAuthorityError
	return errors.As(err, &ua)
}

// issuerKnown reports whether a trusted or intermediate certificate is c's issuer: then a
// failed chain is broken (e.g. the CA may not sign certificates, or c was altered), not just
// unknown. A certificate counts by its name unless it is plainly another CA of that name:
// c's authority key identifier names a different key and that key does not verify c (two
// hubs' CAs, or two vendors', may bear the same name; a document from the other one is
// untrusted here, not broken).
func issuerKnown(c *smx509.Certificate, pools ...[]*smx509.Certificate) bool {
	for _, p := range pools {
		for _, iss := range p {
			if !bytes.Equal(iss.RawSubject, c.RawIssuer) {
				continue
			}
			if len(c.AuthorityKeyId) > 0 && len(iss.SubjectKeyId) > 0 && !bytes.Equal(c.AuthorityKeyId, iss.SubjectKeyId) &&
				iss.CheckSignature(c.SignatureAlgorithm, c.RawTBSCertificate, c.Signature) != nil {
				continue
			}
			return true
		}
	}
	return false
}

// isAnchor reports whether cert itself is one of the configured trust anchors (a pinned
// signer or seal-maker certificate).
func isAnchor(cert *ses.Certificate, roots []*smx509.Certificate) bool {
	for _, r := range roots {
		if bytes.Equal(r.Raw, cert.Raw) {
			return true
		}
	}
	return false
}

func isRoot(c *smx509.Certificate, roots []*smx509.Certificate) bool {
	for _, r := range roots {
		if bytes.Equal(r.Raw, c.Raw) {
			return true
		}
	}
	return false
}

func issuerKey(c *smx509.Certificate) (*ecdsa.PublicKey, error) {
	k, ok := c.PublicKey.(*ecdsa.PublicKey)
	if !ok {
		return nil, fmt.Errorf("issuer key is %T, not SM2", c.PublicKey)
	}
	return k, nil
}

func (v *verifier) revocation(scope, who string, cert *ses.Certificate, at time.Time, trusted bool) {
	name := who + ".revocation"
	if isAnchor(cert, v.opts.Roots) {
		v.r.add(scope, name, Pass, "the certificate is itself a configured trust anchor: it is trusted until it is removed from the trust store (trust anchors are not checked for revocation, RFC 5280 §6.1)")
		return
	}
	if v.opts.Revocation == nil {
		v.r.add(scope, name, Unknown, "no revocation source configured")
		return
	}
	st, err := v.opts.Revocation.CertificateStatus(v.ctx, cert, at)
	v.revocationOutcome(scope, name, st, err, at, trusted)
}

func (v *verifier) sealStatus(scope string, seal *ses.Seal, at time.Time, trusted bool) {
	const name = "seal.revocation"
	sc, ok := v.opts.Revocation.(SealStatusChecker)
	if !ok {
		v.r.add(scope, name, Unknown, "no seal status source configured")
		return
	}
	st, err := sc.SealStatus(v.ctx, seal, at)
	v.revocationOutcome(scope, name, st, err, at, trusted)
}

// revocationOutcome reports a revocation answer as check name.
func (v *verifier) revocationOutcome(scope, name string, st RevocationStatus, err error, at time.Time, trusted bool) {
	status, reason := JudgeRevocation(st, err, at, trusted)
	v.r.add(scope, name, status, "%s", reason)
}

// JudgeRevocation turns a revocation source's answer about a certificate used at `at` into
// a check outcome. trusted says whether `at` comes from a verified timestamp: a revocation
// after a trusted signing time does not affect the signature, after a signer-asserted one
// it cannot be ruled out (unknown). A revocation for key compromise fails whatever its time.
func JudgeRevocation(st RevocationStatus, err error, at time.Time, trusted bool) (Status, string) {
	src := ""
	if st.Source != "" {
		src = " (" + st.Source + ")"
	}
	switch {
	case err != nil:
		return Unknown, fmt.Sprintf("revocation status not available: %v", err)
	case !st.Revoked:
		return Pass, "not revoked" + src
	case st.Compromise:
		return Fail, fmt.Sprintf("revoked at %s for %s: signatures made before then are suspect too%s", fmtTime(st.RevokedAt), st.Reason, src)
	case st.RevokedAt.IsZero() || !st.RevokedAt.After(at):
		return Fail, fmt.Sprintf("revoked at %s (reason %q), not after the time checked %s%s", fmtTime(st.RevokedAt), st.Reason, fmtTime(at), src)
	case trusted:
		return Pass, fmt.Sprintf("revoked at %s, after the timestamped signing time %s%s", fmtTime(st.RevokedAt), fmtTime(at), src)
	default:
		return Unknown, fmt.Sprintf("revoked at %s, after the time checked %s; that time is signer-asserted (no verified timestamp)%s", fmtTime(st.RevokedAt), fmtTime(at), src)
	}
}
