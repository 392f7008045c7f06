// Package ecverify verifies sealed e-certificates (电子证照, compact SM2 JWS made by
// ecert.Seal) and presentation (亮证) tokens into the same verify.Report that documents and
// seals get, one named check per step, so that an approver sees which step failed: the
// token form, the issuer's SM2 signature, the signer's chain at the signing time, that the
// signer is the licence's issuing authority, the GB/T 36903 metadata, the licence's
// validity on the day of use, and the registry status (suspended, revoked, annulled,
// superseded) at the time of use.
//
// Chain verification results are cached per signer certificate together with the window
// in which every certificate involved is valid, so a warm Verifier skips the chain build.
package ecverify

import (
	"context"
	"crypto/ecdsa"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emmansun/gmsm/smx509"

	"github.com/gxhub/gxhub/certs/ecert"
	"github.com/gxhub/gxhub/certs/jws"
	"github.com/gxhub/gxhub/certs/pki"
	"github.com/gxhub/gxhub/certs/ses"
	"github.com/gxhub/gxhub/certs/sm"
	"github.com/gxhub/gxhub/certs/verify"
)

// Report kinds of e-certificate inputs.
const (
	KindECert        verify.Kind = "ecert"
	KindPresentation verify.Kind = "ecert_presentation"
)

// Status is a registry's answer about one licence version at a time.
type Status = verify.LicenceStatus

// StatusSource answers the registry status of a licence version at a time. It returns an
// error when the status cannot be determined (the check is then unknown); ErrUnregistered
// when the registry does not know the licence.
type StatusSource = verify.LicenceStatusChecker

// ErrUnregistered is returned by a StatusSource that does not know the licence.
var ErrUnregistered = verify.ErrUnregistered

// Verifier verifies sealed licences and presentations. It is safe for concurrent use; its
// fields must not change after first use.
type Verifier struct {
	// Catalogue returns the licence types currently known (required).
	Catalogue func(ctx context.Context) (*ecert.Catalogue, error)
	// Roots are the trusted root CAs (required); Intermediates help build chains.
	Roots, Intermediates []*smx509.Certificate
	// Status, when set, is the registry consulted for the licence's status.
	Status StatusSource
	// Revocation, when set, is asked whether the signing certificate was revoked at the
	// signing time (CRLs, OCSP, the hub's department registry).
	Revocation verify.RevocationChecker
	// Now is the clock (time of use); nil means time.Now.
	Now func() time.Time
	// NoCache disables the chain cache and the cache of parsed certificates.
	NoCache bool

	cache sync.Map // string → chainEntry
	// certs caches parsed embedded certificates by the SM3 of their DER (a department's
	// certificate is embedded in every licence it seals: parsing it was an eighth of a warm
	// verification). Parsed certificates are never modified.
	certs  sync.Map // [32]byte (SM3 of the DER) → *smx509.Certificate
	ncerts atomic.Int64
}

// maxCachedCerts bounds the parsed-certificate cache.
const maxCachedCerts = 4096

// parseCert parses an embedded certificate, through the cache, and returns the SM3 of its
// DER too.
func (v *Verifier) parseCert(der []byte) (*smx509.Certificate, [32]byte, error) {
	k := sm.Sum(der)
	if !v.NoCache {
		if c, ok := v.certs.Load(k); ok {
			return c.(*smx509.Certificate), k, nil
		}
	}
	c, err := smx509.ParseCertificate(der)
	if err != nil {
		return nil, k, err
	}
	if !v.NoCache && v.ncerts.Add(1) <= maxCachedCerts {
		v.certs.Store(k, c)
	}
	return c, k, nil
}

type chainEntry struct {
	code   string
	lo, hi time.Time
}

// sealedPayload mirrors ecert's sealed token payload.
type sealedPayload struct {
	V        int             `json:"v"`
	IssuedAt int64           `json:"iat"`
	Licence  *ecert.Metadata `json:"ecert"`
	Certs    [][]byte        `json:"x5c,omitempty"`
}

// TokenType returns the JWS "typ" of input when it looks like a compact JWS (three
// base64url parts), and "" otherwise. It does not verify anything.
func TokenType(input []byte) string {
	s := strings.TrimSpace(string(input))
	if strings.Count(s, ".") != 2 || len(s) > 1<<20 {
		return ""
	}
	for _, r := range s {
		if !(r == '.' || r == '-' || r == '_' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') {
			return ""
		}
	}
	t, err := jws.Parse(s)
	if err != nil {
		return ""
	}
	return t.Type
}

func (v *Verifier) now() time.Time {
	if v.Now != nil {
		return v.Now()
	}
	return time.Now()
}

type report struct{ r *verify.Report }

func (r report) add(name string, st verify.Status, format string, args ...any) {
	r.r.Checks = append(r.r.Checks, verify.Check{Name: name, Status: st, Reason: fmt.Sprintf(format, args...)})
}

// Finish sets the verdict of a report built outside package verify (see
// verify.Report.Finish): VALID only when every check passed, including the chain, the
// signer's revocation and the registry status.
func Finish(r *verify.Report) { r.Finish() }

// Sealed is what VerifySealed learnt from a token (nil fields when it could not get that far).
type Sealed struct {
	Licence  *ecert.Metadata
	SignedAt time.Time
	Signer   *smx509.Certificate
}

// VerifySealed checks a sealed licence for use at the verifier's current time and returns
// the report (never nil) and what it could read.
func (v *Verifier) VerifySealed(ctx context.Context, token, name string) (*verify.Report, *Sealed) {
	rep := &verify.Report{Input: name, Kind: KindECert, VerifiedAt: v.now().UTC()}
	s := v.sealedChecks(ctx, report{rep}, strings.TrimSpace(token), v.now())
	Finish(rep)
	return rep, s
}

func (v *Verifier) sealedChecks(ctx context.Context, r report, token string, usedAt time.Time) *Sealed {
	t, err := jws.Parse(token)
	if err != nil {
		r.add("ecert.format", verify.Fail, "not a compact SM2 JWS: %v", err)
		return nil
	}
	if t.Type != ecert.SealedType {
		r.add("ecert.format", verify.Fail, "JWS type %q is not a sealed licence (%s)", t.Type, ecert.SealedType)
		return nil
	}
	var p sealedPayload
	if err := json.Unmarshal(t.UnverifiedPayload(), &p); err != nil || p.V != 1 || p.Licence == nil || p.IssuedAt <= 0 {
		r.add("ecert.format", verify.Fail, "payload is not a version-1 sealed licence with iat and ecert (%v)", err)
		return nil
	}
	m := p.Licence
	signedAt := time.Unix(p.IssuedAt, 0).UTC()
	out := &Sealed{Licence: m, SignedAt: signedAt}
	r.r.Signed = append(r.r.Signed, verify.Signed{Scope: "ecert", Type: "ecert", SigningTime: signedAt, SigningTimeSource: "iat of the sealed licence, issuer-asserted",
		SealID: m.Identifier, SealName: m.Name})
	r.add("ecert.format", verify.Pass, "sealed licence %s (%s), signed at %s", m.Identifier, m.Name, signedAt.Format(time.RFC3339))

	var signer *smx509.Certificate
	var inter []*smx509.Certificate
	var sums []byte // the SM3 of each embedded certificate, in order: the chain cache's key
	for i, der := range p.Certs {
		c, sum, err := v.parseCert(der)
		sums = append(sums, sum[:]...)
		if err != nil {
			r.add("signer.certificate", verify.Fail, "embedded certificate %d does not parse: %v", i+1, err)
			return out
		}
		if i == 0 {
			signer = c
		} else {
			inter = append(inter, c)
		}
	}
	if signer == nil {
		r.add("signer.certificate", verify.Fail, "the token embeds no signing certificate (kid %s): verify the licence sealed with its certificate (ecert.Seal), not the bare QR form", t.KeyID)
		return out
	}
	out.Signer = signer
	subject := signer.Subject.String()
	r.r.Signed[len(r.r.Signed)-1].Signer = subject
	if ecert.CertFingerprint(signer) != t.KeyID {
		r.add("signer.certificate", verify.Fail, "kid %s does not name the embedded certificate (%s)", t.KeyID, ecert.CertFingerprint(signer))
		return out
	}
	r.add("signer.certificate", verify.Pass, "%s", subject)
	pub, ok := signer.PublicKey.(*ecdsa.PublicKey)
	if !ok {
		r.add("ecert.signature", verify.Fail, "the signing certificate has no SM2 key")
		return out
	}
	if _, err := t.Verify(pub); err != nil {
		r.add("ecert.signature", verify.Fail, "%v: the token was altered or not signed by this certificate", err)
	} else {
		r.add("ecert.signature", verify.Pass, "SM2 (default UID, SM3) valid over the received JWS signing input")
	}

	code, err := v.chain(signer, inter, sums, signedAt)
	switch {
	case len(v.Roots) == 0:
		r.add("signer.chain", verify.Unknown, "no trust roots configured")
		code, err = pki.DepartmentCode(signer)
		if err != nil {
			r.add("ecert.issuer", verify.Fail, "%v", err)
		}
	case err != nil:
		r.add("signer.chain", verify.Fail, "at the signing time %s: %v", signedAt.Format(time.RFC3339), err)
	default:
		r.add("signer.chain", verify.Pass, "department certificate of %s chains to the trust roots at the signing time %s", code, signedAt.Format(time.RFC3339))
	}
	v.revocation(ctx, r, signer, signedAt)
	if code != "" {
		if code == m.IssuerCode {
			r.add("ecert.issuer", verify.Pass, "signed by the issuing authority %s (%s)", code, m.IssuerName)
		} else {
			r.add("ecert.issuer", verify.Fail, "%v: signed by department %s, the licence's issuing authority is %s", ecert.ErrNotIssuer, code, m.IssuerCode)
		}
	}

	cat, err := v.Catalogue(ctx)
	if err != nil {
		r.add("ecert.metadata", verify.Unknown, "licence catalogue unavailable: %v", err)
	} else if err := m.Validate(cat); err != nil {
		r.add("ecert.metadata", verify.Fail, "%v", err)
	} else {
		r.add("ecert.metadata", verify.Pass, "GB/T 36903 metadata valid for type %s; identifier check character (MOD 37,36) correct", m.TypeCode)
	}

	day := ecert.DateOf(usedAt.In(ecert.ChinaTime))
	until := m.ValidUntil.String()
	if until == "" {
		until = "长期"
	}
	if m.ValidOn(day) {
		r.add("ecert.validity", verify.Pass, "valid on %s (%s..%s)", day, m.ValidFrom, until)
	} else {
		r.add("ecert.validity", verify.Fail, "%v: %s is outside %s..%s", ecert.ErrLicenceNotValid, day, m.ValidFrom, until)
	}

	st, reason := verify.JudgeLicenceStatus(ctx, v.Status, m.Identifier, usedAt)
	r.add("ecert.status", st, "%s", reason)
	return out
}

// revocation asks the revocation source about the signing certificate at the signing time
// (which the licence states itself: a revocation after it stays unknown).
func (v *Verifier) revocation(ctx context.Context, r report, signer *smx509.Certificate, at time.Time) {
	if v.Revocation == nil {
		r.add("signer.revocation", verify.Unknown, "no revocation source configured (offline): the department certificate may have been revoked")
		return
	}
	c, err := ses.ParseCertificate(signer.Raw)
	if err != nil {
		r.add("signer.revocation", verify.Unknown, "%v", err)
		return
	}
	st, err := v.Revocation.CertificateStatus(ctx, c, at)
	status, reason := verify.JudgeRevocation(st, err, at, false)
	r.add("signer.revocation", status, "%s", reason)
}

// chain verifies signer at `at`, using the cache; sums are the SM3 of the DER of signer
// and the embedded certificates, in order.
func (v *Verifier) chain(signer *smx509.Certificate, embedded []*smx509.Certificate, sums []byte, at time.Time) (string, error) {
	if len(v.Roots) == 0 {
		return "", errors.New("no trust roots")
	}
	sum := sm.Sum(sums)
	k := hex.EncodeToString(sum[:])
	if !v.NoCache {
		if e, ok := v.cache.Load(k); ok {
			ce := e.(chainEntry)
			if !at.Before(ce.lo) && !at.After(ce.hi) {
				return ce.code, nil
			}
		}
	}
	inter := append(append([]*smx509.Certificate(nil), v.Intermediates...), embedded...)
	code, err := pki.VerifyDepartmentCert(signer, v.Roots, inter, at)
	if err != nil {
		return "", err
	}
	if !v.NoCache {
		// The window in which every certificate that could be on the chain is valid: a hit
		// inside it gives the same answer as a fresh build.
		lo, hi := signer.NotBefore, signer.NotAfter
		for _, c := range append(append([]*smx509.Certificate(nil), v.Roots...), inter...) {
			if c.NotBefore.After(lo) {
				lo = c.NotBefore
			}
			if c.NotAfter.Before(hi) {
				hi = c.NotAfter
			}
		}
		v.cache.Store(k, chainEntry{code: code, lo: lo, hi: hi})
	}
	return code, nil
}

// Presented is what VerifyPresentation learnt.
type Presented struct {
	Presentation *ecert.Presentation
	Sealed       *Sealed
}

// VerifyPresentation checks a presentation token made by the hub (hubKey) for approver
// audience, with the sealed licence it binds, at the verifier's current time.
func (v *Verifier) VerifyPresentation(ctx context.Context, token, sealed string, hubKey *ecdsa.PublicKey, audience, name string) (*verify.Report, *Presented) {
	now := v.now()
	rep := &verify.Report{Input: name, Kind: KindPresentation, VerifiedAt: now.UTC()}
	r := report{rep}
	out := &Presented{}
	pr, err := ecert.VerifyPresentation(strings.TrimSpace(token), strings.TrimSpace(sealed), hubKey, audience, now)
	switch {
	case err == nil:
		out.Presentation = pr
		r.add("presentation", verify.Pass, "made by the hub for approver %s, purpose %q, valid %s..%s", pr.Audience, pr.Purpose,
			time.Unix(pr.IssuedAt, 0).UTC().Format(time.RFC3339), time.Unix(pr.ExpiresAt, 0).UTC().Format(time.RFC3339))
	case errors.Is(err, ecert.ErrPresentationExpired):
		r.add("presentation.window", verify.Fail, "%v", err)
	case strings.Contains(err.Error(), "made for approver"):
		r.add("presentation.audience", verify.Fail, "%v: only the approver named in the token may use it", err)
	default:
		r.add("presentation", verify.Fail, "%v", err)
	}
	out.Sealed = v.sealedChecks(ctx, r, strings.TrimSpace(sealed), now)
	Finish(rep)
	return rep, out
}
