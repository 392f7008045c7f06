package ecert

import (
	"bytes"
	"crypto/ecdsa"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/emmansun/gmsm/smx509"

	"github.com/gxhub/gxhub/certs/jws"
	"github.com/gxhub/gxhub/certs/pki"
	"github.com/gxhub/gxhub/certs/sm"
)

// SealedType is the JWS "typ" of a sealed licence (the compact signed form for APIs and
// QR codes).
const SealedType = "gxhub-ecert+jws"

// ChinaTime is UTC+8, in which licence dates (validity days) are reckoned.
var ChinaTime = time.FixedZone("CST", 8*3600)

// Errors wrapped by VerifySealed, so that callers can tell the outcome apart.
var (
	// ErrNotIssuer: the signing certificate belongs to another department than the
	// licence's issuing authority.
	ErrNotIssuer = errors.New("the licence is not signed by its issuing authority")
	// ErrLicenceNotValid: the licence's own validity period does not include the day of use.
	ErrLicenceNotValid = errors.New("the licence is not valid on that day")
)

type sealedPayload struct {
	V        int       `json:"v"`
	IssuedAt int64     `json:"iat"`
	Licence  *Metadata `json:"ecert"`
	// Certs holds the signer's certificate (DER) first, then CA certificates above it.
	Certs [][]byte `json:"x5c,omitempty"`
}

// CertFingerprint is the "kid" naming a signing certificate: lower-case hex SM3 of its DER.
func CertFingerprint(cert *smx509.Certificate) string {
	sum := sm.Sum(cert.Raw)
	return hex.EncodeToString(sum[:])
}

// Seal signs a licence as the issuing department: m must validate against cat, cert must be
// the department certificate of the issuing authority (its code = m.IssuerCode) and valid
// at signedAt, and key its private key. The signer certificate and chain (the CAs above it,
// without the root) are embedded so that the licence verifies offline.
func Seal(m *Metadata, cat *Catalogue, key *sm.PrivateKey, cert *smx509.Certificate, chain []*smx509.Certificate, signedAt time.Time) (string, error) {
	return seal(m, cat, key, cert, chain, signedAt, true)
}

// SealBare is Seal without embedded certificates: a shorter token (for QR codes) whose
// verifier finds the signing certificate by its fingerprint (VerifyOptions.Resolve).
func SealBare(m *Metadata, cat *Catalogue, key *sm.PrivateKey, cert *smx509.Certificate, signedAt time.Time) (string, error) {
	return seal(m, cat, key, cert, nil, signedAt, false)
}

func seal(m *Metadata, cat *Catalogue, key *sm.PrivateKey, cert *smx509.Certificate, chain []*smx509.Certificate, signedAt time.Time, embed bool) (string, error) {
	if m == nil || key == nil || cert == nil {
		return "", errors.New("seal licence: licence, key and certificate are required")
	}
	if err := m.Validate(cat); err != nil {
		return "", fmt.Errorf("seal licence: %w", err)
	}
	if !key.PublicKey.Equal(cert.PublicKey) {
		return "", errors.New("seal licence: the key does not belong to the certificate")
	}
	code, err := pki.DepartmentCode(cert)
	if err != nil {
		return "", fmt.Errorf("seal licence: %w", err)
	}
	if code != m.IssuerCode {
		return "", fmt.Errorf("seal licence: %w: the certificate is department %s's, the licence's issuer is %s", ErrNotIssuer, code, m.IssuerCode)
	}
	if signedAt.Before(cert.NotBefore) || signedAt.After(cert.NotAfter) {
		return "", fmt.Errorf("seal licence: the signing certificate is not valid at %s (valid %s..%s)", signedAt.UTC().Format(time.RFC3339), cert.NotBefore.UTC().Format(time.RFC3339), cert.NotAfter.UTC().Format(time.RFC3339))
	}
	p := sealedPayload{V: 1, IssuedAt: signedAt.Unix(), Licence: m}
	if embed {
		p.Certs = [][]byte{cert.Raw}
		for _, c := range chain {
			if !bytes.Equal(c.RawSubject, c.RawIssuer) {
				p.Certs = append(p.Certs, c.Raw)
			}
		}
	}
	payload, err := json.Marshal(p)
	if err != nil {
		return "", fmt.Errorf("seal licence: %w", err)
	}
	return jws.Sign(key, CertFingerprint(cert), SealedType, payload)
}

// VerifyOptions configures VerifySealed.
type VerifyOptions struct {
	// Catalogue holds the licence types the verifier knows (required).
	Catalogue *Catalogue
	// Roots are the trusted root CA certificates (required).
	Roots []*smx509.Certificate
	// Intermediates are extra CA certificates (the token's embedded ones are used too).
	Intermediates []*smx509.Certificate
	// Resolve finds the signing certificate by its fingerprint when the token embeds none.
	Resolve func(kid string) (*smx509.Certificate, error)
	// UsedAt is when the licence is used; its date (UTC+8) must lie in the licence's
	// validity period. Zero means now.
	UsedAt time.Time
}

// Verified is a licence whose seal checked out.
type Verified struct {
	// Licence is the signed metadata.
	Licence *Metadata
	// SignedAt is the signing time the issuer stated (iat).
	SignedAt time.Time
	// Signer is the issuing department's certificate.
	Signer *smx509.Certificate
}

// VerifySealed checks a sealed licence: the JWS type and SM2 signature over the received
// bytes, the signer certificate's chain, key usage and validity at the signing time, that
// the signer is the licence's issuing authority, the metadata against the catalogue, and
// the licence's validity on the day of use. Registry status (suspended, revoked, annulled)
// and certificate revocation are not known to the token: check them separately.
func VerifySealed(token string, opts VerifyOptions) (*Verified, error) {
	t, err := jws.Parse(token)
	if err != nil {
		return nil, fmt.Errorf("sealed licence: %w", err)
	}
	if t.Type != SealedType {
		return nil, fmt.Errorf("sealed licence: JWS type %q is not %q", t.Type, SealedType)
	}
	var p sealedPayload
	if err := json.Unmarshal(t.UnverifiedPayload(), &p); err != nil {
		return nil, fmt.Errorf("sealed licence: payload is not a licence: %w", err)
	}
	if p.V != 1 || p.Licence == nil || p.IssuedAt <= 0 {
		return nil, fmt.Errorf("sealed licence: unsupported payload (v=%d) or missing licence or iat", p.V)
	}
	var signer *smx509.Certificate
	inter := append([]*smx509.Certificate(nil), opts.Intermediates...)
	for i, der := range p.Certs {
		c, err := smx509.ParseCertificate(der)
		if err != nil {
			return nil, fmt.Errorf("sealed licence: embedded certificate %d: %w", i+1, err)
		}
		if i == 0 {
			signer = c
		} else {
			inter = append(inter, c)
		}
	}
	if signer == nil {
		if opts.Resolve == nil {
			return nil, fmt.Errorf("sealed licence: no embedded certificate and no resolver for kid %s", t.KeyID)
		}
		if signer, err = opts.Resolve(t.KeyID); err != nil {
			return nil, fmt.Errorf("sealed licence: find the signing certificate %s: %w", t.KeyID, err)
		}
	}
	if CertFingerprint(signer) != t.KeyID {
		return nil, fmt.Errorf("sealed licence: kid %s does not name the signing certificate (%s)", t.KeyID, CertFingerprint(signer))
	}
	pub, ok := signer.PublicKey.(*ecdsa.PublicKey)
	if !ok {
		return nil, errors.New("sealed licence: the signing certificate has no SM2 key")
	}
	if _, err := t.Verify(pub); err != nil {
		return nil, fmt.Errorf("sealed licence: %w", err)
	}
	signedAt := time.Unix(p.IssuedAt, 0)
	code, err := pki.VerifyDepartmentCert(signer, opts.Roots, inter, signedAt)
	if err != nil {
		return nil, fmt.Errorf("sealed licence: signer certificate at the signing time %s: %w", signedAt.UTC().Format(time.RFC3339), err)
	}
	m := p.Licence
	if code != m.IssuerCode {
		return nil, fmt.Errorf("sealed licence: %w: signed by department %s (%s), the licence's issuer is %s", ErrNotIssuer, code, signer.Subject.CommonName, m.IssuerCode)
	}
	if err := m.Validate(opts.Catalogue); err != nil {
		return nil, fmt.Errorf("sealed licence: %w", err)
	}
	usedAt := opts.UsedAt
	if usedAt.IsZero() {
		usedAt = time.Now()
	}
	if day := DateOf(usedAt.In(ChinaTime)); !m.ValidOn(day) {
		until := m.ValidUntil.String()
		if until == "" {
			until = "长期"
		}
		return nil, fmt.Errorf("sealed licence %s: %w: %s is outside %s..%s", m.Identifier, ErrLicenceNotValid, day, m.ValidFrom, until)
	}
	return &Verified{Licence: m, SignedAt: signedAt, Signer: signer}, nil
}
