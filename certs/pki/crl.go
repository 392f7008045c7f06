package pki

import (
	"bytes"
	"crypto/rand"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"time"

	"github.com/emmansun/gmsm/smx509"
)

// Revocation reason codes (RFC 5280 §5.3.1).
const (
	ReasonUnspecified          = 0
	ReasonKeyCompromise        = 1
	ReasonCACompromise         = 2
	ReasonAffiliationChanged   = 3
	ReasonSuperseded           = 4
	ReasonCessationOfOperation = 5
	ReasonCertificateHold      = 6
	ReasonPrivilegeWithdrawn   = 9
	ReasonAACompromise         = 10
)

// RevokedCert is one entry of a certificate revocation list.
type RevokedCert struct {
	// Serial is the revoked certificate's serial number.
	Serial *big.Int
	// RevokedAt is when the revocation took effect.
	RevokedAt time.Time
	// Reason is an RFC 5280 reason code (Reason* constants); 0 omits the extension.
	Reason int
}

// ErrRevoked is wrapped by CheckRevocation's error when the certificate is revoked.
var ErrRevoked = errors.New("certificate revoked")

// CreateCRL issues a CRL (DER) signed by ca listing revoked. Its cRLNumber is thisUpdate in
// milliseconds since the Unix epoch, so CRLs issued later carry larger numbers.
func (ca *CA) CreateCRL(revoked []RevokedCert, thisUpdate, nextUpdate time.Time) ([]byte, error) {
	if err := ca.check(); err != nil {
		return nil, fmt.Errorf("create CRL: %w", err)
	}
	if ca.Cert.KeyUsage&smx509.KeyUsageCRLSign == 0 {
		return nil, fmt.Errorf("create CRL: CA %q lacks the cRLSign key usage", ca.Cert.Subject.CommonName)
	}
	if !nextUpdate.After(thisUpdate) {
		return nil, fmt.Errorf("create CRL: nextUpdate %s must be after thisUpdate %s", fmtTime(nextUpdate), fmtTime(thisUpdate))
	}
	entries := make([]smx509.RevocationListEntry, 0, len(revoked))
	for i, r := range revoked {
		if r.Serial == nil || r.Serial.Sign() <= 0 {
			return nil, fmt.Errorf("create CRL: entry %d has no positive serial number", i)
		}
		if r.RevokedAt.IsZero() {
			return nil, fmt.Errorf("create CRL: entry %d (serial %x) has no revocation time", i, r.Serial)
		}
		if r.Reason < 0 || r.Reason > 10 || r.Reason == 7 {
			return nil, fmt.Errorf("create CRL: entry %d (serial %x) has reason %d, which RFC 5280 does not define", i, r.Serial, r.Reason)
		}
		entries = append(entries, smx509.RevocationListEntry{
			SerialNumber:   r.Serial,
			RevocationTime: r.RevokedAt.UTC().Truncate(time.Second),
			ReasonCode:     r.Reason,
		})
	}
	tmpl := &smx509.RevocationList{
		SignatureAlgorithm:        smx509.SM2WithSM3,
		RevokedCertificateEntries: entries,
		Number:                    big.NewInt(thisUpdate.UnixMilli()),
		ThisUpdate:                thisUpdate.UTC().Truncate(time.Second),
		NextUpdate:                nextUpdate.UTC().Truncate(time.Second),
	}
	der, err := smx509.CreateRevocationList(rand.Reader, tmpl, ca.Cert, ca.Key)
	if err != nil {
		return nil, fmt.Errorf("create CRL: %w", err)
	}
	return der, nil
}

// EncodeCRLPEM wraps a DER CRL in an "X509 CRL" PEM block.
func EncodeCRLPEM(der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "X509 CRL", Bytes: der})
}

// ParseCRL parses a CRL in DER or PEM ("X509 CRL") form. It does not check the signature;
// use CheckCRL or CheckRevocation.
func ParseCRL(data []byte) (*smx509.RevocationList, error) {
	der := data
	if block, _ := pem.Decode(data); block != nil {
		if block.Type != "X509 CRL" {
			return nil, fmt.Errorf("parse CRL: PEM block is %q, expected \"X509 CRL\"", block.Type)
		}
		der = block.Bytes
	}
	crl, err := smx509.ParseRevocationList(der)
	if err != nil {
		return nil, fmt.Errorf("parse CRL: %w", err)
	}
	return crl, nil
}

// CheckCRL checks that crl was issued and signed by issuer and is not stale at now
// (now ≤ nextUpdate).
func CheckCRL(crl *smx509.RevocationList, issuer *smx509.Certificate, now time.Time) error {
	if crl == nil || issuer == nil {
		return errors.New("check CRL: no CRL or no issuer certificate")
	}
	if !bytes.Equal(crl.RawIssuer, issuer.RawSubject) {
		return fmt.Errorf("check CRL: the CRL was issued by %q, not by %q", crl.Issuer.CommonName, issuer.Subject.CommonName)
	}
	if len(crl.AuthorityKeyId) > 0 && len(issuer.SubjectKeyId) > 0 && !bytes.Equal(crl.AuthorityKeyId, issuer.SubjectKeyId) {
		return fmt.Errorf("check CRL: the CRL's authority key identifier does not match %q's key (issued under another key of the same name)", issuer.Subject.CommonName)
	}
	if err := crl.CheckSignatureFrom(issuer); err != nil {
		return fmt.Errorf("check CRL: signature by %q does not verify: %w", issuer.Subject.CommonName, err)
	}
	if !crl.NextUpdate.IsZero() && now.After(crl.NextUpdate) {
		return fmt.Errorf("check CRL: the CRL from %q is stale: nextUpdate %s is before %s; fetch a current CRL", issuer.Subject.CommonName, fmtTime(crl.NextUpdate), fmtTime(now))
	}
	return nil
}

// FindRevoked returns the entry for serial in crl, if any.
func FindRevoked(crl *smx509.RevocationList, serial *big.Int) (RevokedCert, bool) {
	if crl == nil || serial == nil {
		return RevokedCert{}, false
	}
	for _, e := range crl.RevokedCertificateEntries {
		if e.SerialNumber != nil && e.SerialNumber.Cmp(serial) == 0 {
			return RevokedCert{Serial: e.SerialNumber, RevokedAt: e.RevocationTime, Reason: e.ReasonCode}, true
		}
	}
	return RevokedCert{}, false
}

// CheckRevocation tells whether cert, used for a signature made at signedAt, is revoked
// according to crl, which issuer (cert's issuer) must have signed and which must be fresh
// at now and issued no earlier than signedAt. It returns nil when not revoked, an error
// wrapping ErrRevoked when revoked, and another error when the CRL cannot be relied on.
//
// A revocation counts when it took effect at or before signedAt; a revocation for key or
// CA compromise counts whatever its time, since signatures made earlier are suspect too.
func CheckRevocation(cert *smx509.Certificate, crl *smx509.RevocationList, issuer *smx509.Certificate, signedAt, now time.Time) error {
	if cert == nil {
		return errors.New("check revocation: no certificate")
	}
	if !bytes.Equal(cert.RawIssuer, issuer.RawSubject) {
		return fmt.Errorf("check revocation: certificate %q was issued by %q, the CRL's issuer is %q", cert.Subject.CommonName, cert.Issuer.CommonName, issuer.Subject.CommonName)
	}
	if err := CheckCRL(crl, issuer, now); err != nil {
		return err
	}
	if crl.ThisUpdate.Before(signedAt) {
		return fmt.Errorf("check revocation: the CRL (thisUpdate %s) predates the signing time %s and cannot show revocations in between; fetch a newer CRL", fmtTime(crl.ThisUpdate), fmtTime(signedAt))
	}
	r, ok := FindRevoked(crl, cert.SerialNumber)
	if !ok {
		return nil
	}
	compromise := r.Reason == ReasonKeyCompromise || r.Reason == ReasonCACompromise || r.Reason == ReasonAACompromise
	if compromise || !r.RevokedAt.After(signedAt) {
		return fmt.Errorf("%w: %q (serial %x) was revoked at %s, reason %s (signature time %s)",
			ErrRevoked, cert.Subject.CommonName, cert.SerialNumber, fmtTime(r.RevokedAt), ReasonText(r.Reason), fmtTime(signedAt))
	}
	return nil
}

// ReasonText names an RFC 5280 revocation reason code.
func ReasonText(reason int) string {
	switch reason {
	case ReasonUnspecified:
		return "unspecified"
	case ReasonKeyCompromise:
		return "keyCompromise"
	case ReasonCACompromise:
		return "cACompromise"
	case ReasonAffiliationChanged:
		return "affiliationChanged"
	case ReasonSuperseded:
		return "superseded"
	case ReasonCessationOfOperation:
		return "cessationOfOperation"
	case ReasonCertificateHold:
		return "certificateHold"
	case 8:
		return "removeFromCRL"
	case ReasonPrivilegeWithdrawn:
		return "privilegeWithdrawn"
	case ReasonAACompromise:
		return "aACompromise"
	}
	return fmt.Sprintf("unknown(%d)", reason)
}
