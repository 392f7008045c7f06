package pki

import (
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"

	"github.com/emmansun/gmsm/smx509"

	"github.com/gxhub/gxhub/certs/sm"
)

// CreateCSR makes a PKCS#10 certificate request (PEM) for a department's own key, signed
// with it (SM2-with-SM3, default user ID) as proof of possession. The CA decides the final
// subject; the request's subject only proposes it.
func CreateCSR(key *sm.PrivateKey, d DepartmentSubject) ([]byte, error) {
	if key == nil {
		return nil, errors.New("create CSR: no SM2 key")
	}
	subject := pkix.Name{CommonName: d.Name, SerialNumber: d.Code, Country: []string{"CN"}}
	if d.Name != "" {
		subject.Organization = []string{d.Name}
	}
	if d.Region != "" {
		subject.Locality = []string{d.Region}
	}
	der, err := smx509.CreateCertificateRequest(rand.Reader, &smx509.CertificateRequest{
		Subject:            subject,
		SignatureAlgorithm: smx509.SM2WithSM3,
	}, key)
	if err != nil {
		return nil, fmt.Errorf("create CSR: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der}), nil
}

// ParseCSR reads a certificate request (PEM or DER), checks its signature — the proof
// that the requester holds the private key — and returns its SM2 public key and the
// subject it proposes (as a DepartmentSubject; fields it lacks are empty).
func ParseCSR(data []byte) (*ecdsa.PublicKey, DepartmentSubject, error) {
	der := data
	if block, _ := pem.Decode(data); block != nil {
		if block.Type != "CERTIFICATE REQUEST" && block.Type != "NEW CERTIFICATE REQUEST" {
			return nil, DepartmentSubject{}, fmt.Errorf("parse CSR: PEM block is %q, expected \"CERTIFICATE REQUEST\"", block.Type)
		}
		der = block.Bytes
	}
	csr, err := smx509.ParseCertificateRequest(der)
	if err != nil {
		return nil, DepartmentSubject{}, fmt.Errorf("parse CSR: %w", err)
	}
	pub, ok := csr.PublicKey.(*ecdsa.PublicKey)
	if !ok || !sm.IsSM2PublicKey(pub) {
		return nil, DepartmentSubject{}, errors.New("parse CSR: the request's key is not an SM2 key")
	}
	if err := csr.CheckSignature(); err != nil {
		return nil, DepartmentSubject{}, fmt.Errorf("parse CSR: the request is not signed by its own key (proof of possession fails; it must be SM2-with-SM3 with the default user ID 1234567812345678): %w", err)
	}
	d := DepartmentSubject{Code: csr.Subject.SerialNumber, Name: csr.Subject.CommonName}
	if d.Name == "" && len(csr.Subject.Organization) > 0 {
		d.Name = csr.Subject.Organization[0]
	}
	if len(csr.Subject.Locality) > 0 {
		d.Region = csr.Subject.Locality[0]
	} else if len(csr.Subject.Province) > 0 {
		d.Region = csr.Subject.Province[0]
	}
	return pub, d, nil
}
