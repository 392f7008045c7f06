package pki

import (
	"bytes"
	"encoding/asn1"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/emmansun/gmsm/smx509"
)

// DepartmentCode returns the 统一社会信用代码 a department or seal-maker certificate
// carries: from the 1.2.156.10260.4.1.4 extension and/or the subject serialNumber. When
// both are present they must agree; the code must pass the GB 32100 check.
func DepartmentCode(cert *smx509.Certificate) (string, error) {
	if cert == nil {
		return "", errors.New("department code: no certificate")
	}
	var fromExt string
	for _, e := range cert.Extensions {
		if !e.Id.Equal(OIDOrganizationCode) {
			continue
		}
		var s string
		if rest, err := asn1.Unmarshal(e.Value, &s); err != nil || len(rest) != 0 {
			// Some CAs put the bare string in the extension value instead of a DER string.
			s = string(bytes.TrimSpace(e.Value))
		}
		fromExt = s
		break
	}
	fromSubject := cert.Subject.SerialNumber
	code := fromExt
	switch {
	case fromExt != "" && fromSubject != "" && fromExt != fromSubject:
		return "", fmt.Errorf("department code: the certificate's subject serialNumber %q and its code extension %q disagree", fromSubject, fromExt)
	case code == "":
		code = fromSubject
	}
	if code == "" {
		return "", fmt.Errorf("department code: certificate %q carries no 统一社会信用代码 (no subject serialNumber, no extension %s)", cert.Subject.CommonName, OIDOrganizationCode)
	}
	if err := CheckUSCC(code); err != nil {
		return "", fmt.Errorf("department code: %w", err)
	}
	return code, nil
}

// IsSealMakerCert reports whether cert has the seal-maker profile (OU = SealMakerOU).
func IsSealMakerCert(cert *smx509.Certificate) bool {
	return cert != nil && slices.Contains(cert.Subject.OrganizationalUnit, SealMakerOU)
}

// VerifyDepartmentCert checks that cert is a department signing certificate valid at
// `at` (the signing time): it chains to one of roots through intermediates, every
// certificate on the chain is within its validity at `at`, it is not a CA, it has the
// digitalSignature key usage and it carries a valid department code, which it returns.
// A seal-maker certificate is not accepted here (see VerifySealMakerCert).
func VerifyDepartmentCert(cert *smx509.Certificate, roots, intermediates []*smx509.Certificate, at time.Time) (code string, err error) {
	if IsSealMakerCert(cert) {
		return "", fmt.Errorf("certificate %q is a seal-maker certificate, not a department signing certificate", cert.Subject.CommonName)
	}
	return verifyEndEntity(cert, roots, intermediates, at)
}

// VerifySealMakerCert is VerifyDepartmentCert for seal-maker (制章人) certificates.
func VerifySealMakerCert(cert *smx509.Certificate, roots, intermediates []*smx509.Certificate, at time.Time) (code string, err error) {
	if cert != nil && !IsSealMakerCert(cert) {
		return "", fmt.Errorf("certificate %q is not a seal-maker certificate (no OU %q)", cert.Subject.CommonName, SealMakerOU)
	}
	return verifyEndEntity(cert, roots, intermediates, at)
}

func verifyEndEntity(cert *smx509.Certificate, roots, intermediates []*smx509.Certificate, at time.Time) (string, error) {
	if err := VerifySigningCert(cert, roots, intermediates, at); err != nil {
		return "", err
	}
	return DepartmentCode(cert)
}

// VerifySigningCert checks any end-entity signing certificate, ours or a vendor's, at `at`
// (the signing time): not a CA, digitalSignature or contentCommitment key usage, within its
// validity, and chained to one of roots through intermediates with every certificate on
// the chain valid at `at`. Unlike VerifyDepartmentCert it needs no department code.
func VerifySigningCert(cert *smx509.Certificate, roots, intermediates []*smx509.Certificate, at time.Time) error {
	if cert == nil {
		return errors.New("verify certificate: no certificate")
	}
	name := cert.Subject.CommonName
	if at.IsZero() {
		return errors.New("verify certificate: no verification time given (use the signing time)")
	}
	if cert.IsCA {
		return fmt.Errorf("certificate %q is a CA certificate and cannot be used as a signing certificate", name)
	}
	if cert.KeyUsage&smx509.KeyUsageDigitalSignature == 0 && cert.KeyUsage&smx509.KeyUsageContentCommitment == 0 {
		return fmt.Errorf("certificate %q does not allow digital signatures (key usage lacks digitalSignature and contentCommitment)", name)
	}
	if err := checkValidity(cert, at); err != nil {
		return err
	}
	if len(roots) == 0 {
		return errors.New("verify certificate: no trusted root certificates configured")
	}
	rootPool := smx509.NewCertPool()
	for _, r := range roots {
		rootPool.AddCert(r)
	}
	interPool := smx509.NewCertPool()
	for _, c := range intermediates {
		interPool.AddCert(c)
	}
	chains, err := cert.Verify(smx509.VerifyOptions{
		Roots:         rootPool,
		Intermediates: interPool,
		CurrentTime:   at,
		KeyUsages:     []smx509.ExtKeyUsage{smx509.ExtKeyUsageAny},
	})
	if err != nil {
		return explainVerifyError(cert, err, at, append(slices.Clip(intermediates), roots...))
	}
	if len(chains) == 0 {
		return fmt.Errorf("certificate %q: no chain to a trusted root", name)
	}
	return nil
}

// checkValidity reports a clear error when at is outside cert's validity.
func checkValidity(cert *smx509.Certificate, at time.Time) error {
	switch {
	case at.Before(cert.NotBefore):
		return fmt.Errorf("certificate %q (serial %x) is not yet valid at %s: valid %s..%s", cert.Subject.CommonName, cert.SerialNumber, fmtTime(at), fmtTime(cert.NotBefore), fmtTime(cert.NotAfter))
	case at.After(cert.NotAfter):
		return fmt.Errorf("certificate %q (serial %x) had expired at %s: valid %s..%s", cert.Subject.CommonName, cert.SerialNumber, fmtTime(at), fmtTime(cert.NotBefore), fmtTime(cert.NotAfter))
	}
	return nil
}

func explainVerifyError(cert *smx509.Certificate, err error, at time.Time, candidates []*smx509.Certificate) error {
	name := cert.Subject.CommonName
	var inv smx509.CertificateInvalidError
	if errors.As(err, &inv) {
		switch inv.Reason {
		case smx509.Expired:
			if inv.Cert != nil {
				if verr := checkValidity(inv.Cert, at); verr != nil {
					return fmt.Errorf("certificate %q: an issuer on its chain is outside its validity: %w", name, verr)
				}
			}
			return fmt.Errorf("certificate %q: a certificate on its chain is outside its validity at %s: %w", name, fmtTime(at), err)
		case smx509.NotAuthorizedToSign:
			return fmt.Errorf("certificate %q was signed by a certificate that is not a CA: %w", name, err)
		case smx509.TooManyIntermediates:
			return fmt.Errorf("certificate %q: the chain is longer than a CA's path length allows: %w", name, err)
		}
	}
	var ua smx509.UnknownAuthorityError
	if errors.As(err, &ua) {
		for _, c := range candidates {
			if !bytes.Equal(c.RawSubject, cert.RawIssuer) || c.CheckSignature(cert.SignatureAlgorithm, cert.RawTBSCertificate, cert.Signature) != nil {
				continue
			}
			if !c.IsCA {
				return fmt.Errorf("certificate %q was signed by %q, which is not a CA: %w", name, c.Subject.CommonName, err)
			}
			if c.KeyUsage != 0 && c.KeyUsage&smx509.KeyUsageCertSign == 0 {
				return fmt.Errorf("certificate %q was signed by %q, whose key usage lacks keyCertSign: %w", name, c.Subject.CommonName, err)
			}
		}
		return fmt.Errorf("certificate %q (issuer %q) does not chain to a trusted root: wrong issuer, missing intermediate, or a bad signature: %w", name, cert.Issuer.CommonName, err)
	}
	return fmt.Errorf("certificate %q does not verify: %w", name, err)
}
