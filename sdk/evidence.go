package sdk

import (
	"bytes"
	"crypto/ecdsa"
	"encoding/pem"
	"errors"
	"fmt"
	"time"

	"github.com/emmansun/gmsm/smx509"

	"github.com/gxhub/gxhub/certs/pki"
	"github.com/gxhub/gxhub/certs/sm"
	"github.com/gxhub/gxhub/exchange"
	"github.com/gxhub/gxhub/ledger"
	"github.com/gxhub/gxhub/sdk/reqsig"
)

// Requester is what a verified signed request proves about who asked (E5, E6).
type Requester struct {
	Department   string    // the department code in the signer's certificate
	Operator     string    // the operator's certificate serial; "" when the department's own key signed
	OperatorName string    // the operator's name (certificate common name)
	SignerSerial string    // serial of the certificate that signed
	SignedAt     time.Time // the signing time in the envelope
	Method, Path string    // what was asked for
	BodyDigest   string    // base64url SM3 of the request body
	// TrustedRoot tells whether the chain ended at a root given by the caller (pinned);
	// false means at the root inside the receipt.
	TrustedRoot bool
}

// MaxRequestLag is how far apart a record's time and its request's signing time may be: the
// hub accepts a signature within its clock skew (max_clock_skew: 5 minutes by default, at
// most 1 hour) and records the act as it serves it.
const MaxRequestLag = time.Hour + 5*time.Minute

// VerifyRequestEvidence checks offline that ev is the signed request behind rec: SM3 of
// the envelope is rec's request digest; the envelope's SM2 signature verifies with the
// signer's certificate; that certificate was valid at the signing time and chains to the
// hub's root (trustedRootPEM, or the root in ev when empty); the certificate names the
// department (and, for an operator, the operator) the envelope and the record name; and
// the signing time is within MaxRequestLag of the record's time. It does not check whether
// the certificate was revoked (the hub refused revoked and suspended signers when it
// accepted the request).
func VerifyRequestEvidence(rec ledger.Record, ev *RequestEvidence, trustedRootPEM string) (*Requester, error) {
	if len(rec.RequestDigest) == 0 {
		return nil, errors.New("the record does not commit to a signed request")
	}
	if ev == nil || ev.Envelope == "" {
		return nil, errors.New("the record commits to a signed request but the receipt does not carry it: fetch the receipt as an auditor or as the acting department")
	}
	if d := sm.Sum([]byte(ev.Envelope)); !bytes.Equal(d[:], rec.RequestDigest) {
		return nil, errors.New("the signed request in the receipt is not the one the record commits to (SM3 of the envelope differs from the record's request digest)")
	}
	req, err := reqsig.Parse(reqsig.Scheme + " " + ev.Envelope)
	if err != nil {
		return nil, fmt.Errorf("signed request: %w", err)
	}
	cert, err := firstCert(ev.SignerCertPEM)
	if err != nil {
		return nil, fmt.Errorf("signer certificate: %w", err)
	}
	pub, ok := cert.PublicKey.(*ecdsa.PublicKey)
	if !ok {
		return nil, errors.New("signer certificate: no SM2 key")
	}
	claims, err := req.VerifyOffline(pub)
	if err != nil {
		return nil, fmt.Errorf("signed request: %w", err)
	}
	signed := time.Unix(claims.Time, 0).UTC()
	if signed.Before(cert.NotBefore) || signed.After(cert.NotAfter) {
		return nil, fmt.Errorf("the signer's certificate (serial %x) is valid %s to %s, not at the signing time %s",
			cert.SerialNumber, cert.NotBefore.UTC().Format(time.RFC3339), cert.NotAfter.UTC().Format(time.RFC3339), signed.Format(time.RFC3339))
	}
	trusted := trustedRootPEM != ""
	rootPEM := trustedRootPEM
	chain := []byte(ev.CAChainPEM)
	if !trusted {
		rootPEM = ev.CAChainPEM
	}
	if err := verifyChain(cert, chain, []byte(rootPEM), signed); err != nil {
		return nil, err
	}
	// Who the certificate names must be who the envelope and the record name.
	if cert.Subject.SerialNumber != req.Department {
		return nil, fmt.Errorf("the envelope names department %s but the signer's certificate is for %q", req.Department, cert.Subject.SerialNumber)
	}
	isOperator := len(cert.Subject.OrganizationalUnit) > 0 && cert.Subject.OrganizationalUnit[0] == pki.OperatorOU
	serial := cert.SerialNumber.Text(16)
	switch {
	case req.Operator != "" && (!isOperator || req.Operator != serial):
		return nil, fmt.Errorf("the envelope names operator %s but the signer's certificate (serial %s) is not that operator's", req.Operator, serial)
	case req.Operator == "" && isOperator:
		return nil, fmt.Errorf("the envelope names department %s's own key but the signer's certificate is operator %s's", req.Department, serial)
	}
	if rec.Department != req.Department || rec.Operator != req.Operator {
		return nil, fmt.Errorf("the record names %s but the signed request is by %s", exchange.OperatorID(rec.Department, rec.Operator), exchange.OperatorID(req.Department, req.Operator))
	}
	if lag := rec.Time.Sub(signed); lag > MaxRequestLag || lag < -MaxRequestLag {
		return nil, fmt.Errorf("the request was signed at %s but the record is of %s (more than %s apart)", signed.Format(time.RFC3339), rec.Time.UTC().Format(time.RFC3339), MaxRequestLag)
	}
	out := &Requester{Department: req.Department, Operator: req.Operator, SignerSerial: serial, SignedAt: signed,
		Method: claims.Method, Path: claims.Path, BodyDigest: claims.BodyDigest, TrustedRoot: trusted}
	if isOperator {
		out.OperatorName = cert.Subject.CommonName
	}
	return out, nil
}

func firstCert(pemText string) (*smx509.Certificate, error) {
	b, _ := pem.Decode([]byte(pemText))
	if b == nil || b.Type != "CERTIFICATE" {
		return nil, errors.New("no PEM certificate")
	}
	return smx509.ParseCertificate(b.Bytes)
}

// verifyChain checks that cert chains through the certificates of chainPEM to a root of
// rootsPEM (self-signed certificates), at time at.
func verifyChain(cert *smx509.Certificate, chainPEM, rootsPEM []byte, at time.Time) error {
	roots, inter := smx509.NewCertPool(), smx509.NewCertPool()
	nroots := 0
	rs, err := pki.ParseCertsPEM(rootsPEM)
	if err != nil {
		return fmt.Errorf("root CA certificates: %w", err)
	}
	cs, err := pki.ParseCertsPEM(chainPEM)
	if err != nil {
		return fmt.Errorf("CA chain: %w", err)
	}
	for _, c := range rs {
		if bytes.Equal(c.RawIssuer, c.RawSubject) {
			roots.AddCert(c)
			nroots++
		}
	}
	if nroots == 0 {
		return errors.New("signer certificate: no root CA certificate to check its chain against")
	}
	for _, c := range cs {
		if !bytes.Equal(c.RawIssuer, c.RawSubject) {
			inter.AddCert(c)
		}
	}
	if _, err := cert.Verify(smx509.VerifyOptions{Roots: roots, Intermediates: inter, CurrentTime: at, KeyUsages: []smx509.ExtKeyUsage{smx509.ExtKeyUsageAny}}); err != nil {
		return fmt.Errorf("signer certificate does not chain to the hub's root at the signing time: %w", err)
	}
	return nil
}
