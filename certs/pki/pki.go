// Package pki is gxhub's SM2 certificate authority: a root CA, issuing CAs below it,
// department signing certificates, seal-maker (制章人) certificates and certificate
// revocation lists, all X.509 v3 with SM2-with-SM3 signatures (OID 1.2.156.10197.1.501)
// and the default SM2 user ID, so that OpenSSL 3 and other SM2 stacks accept them.
//
// Profiles:
//   - root CA: CA, pathLenConstraint 1, keyCertSign|cRLSign;
//   - issuing CA: CA, pathLenConstraint 0, keyCertSign|cRLSign;
//   - department signing certificate: not a CA, digitalSignature|contentCommitment
//     (non-repudiation); subject CN = O = the department name, serialNumber = its
//     统一社会信用代码 (USCC), L = its region; the USCC is also carried in the GM/T 0015
//     organisation-identifier extension 1.2.156.10260.4.1.4 that Chinese CA clients read;
//   - seal-maker certificate: as a department certificate, with OU = SealMakerOU.
//
// Every certificate gets a random 128-bit serial number, a subject key identifier (SM3 of
// the public key, truncated to 160 bits, RFC 7093 method 1 style) and an authority key
// identifier. Validity is always checked at a given time (the signing time), never
// implicitly "now".
package pki

import (
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"fmt"
	"math/big"
	"time"

	"github.com/emmansun/gmsm/smx509"

	"github.com/gxhub/gxhub/certs/sm"
)

// OIDOrganizationCode is the GM/T 0015-2012 certificate extension for an organisation's
// identifier (组织机构代码); Chinese CAs carry the 18-character USCC, which replaced it,
// in the same extension. The value is a PrintableString.
var OIDOrganizationCode = asn1.ObjectIdentifier{1, 2, 156, 10260, 4, 1, 4}

// SealMakerOU is the organisational unit that marks a seal-maker (制章人) certificate.
const SealMakerOU = "电子印章制作"

// CA is a certificate authority: its certificate, its private key and the certificates
// above it.
type CA struct {
	// Cert is the CA's own certificate.
	Cert *smx509.Certificate
	// Key is the CA's SM2 private key.
	Key *sm.PrivateKey
	// Chain holds the issuers above Cert, nearest first, ending with the root; it is
	// empty for a root CA.
	Chain []*smx509.Certificate
}

// DepartmentSubject names a department (or a seal-making organisation).
type DepartmentSubject struct {
	// Code is the department's 18-character 统一社会信用代码 (GB 32100).
	Code string
	// Name is the department's full name; it becomes the subject O and CN.
	Name string
	// Region is the department's place (e.g. "浙江省杭州市"); it becomes the subject L.
	Region string
}

// NewRootCA creates a self-signed root CA with a new SM2 key, valid from notBefore for
// validity.
func NewRootCA(subject pkix.Name, notBefore time.Time, validity time.Duration) (*CA, error) {
	if err := checkSubject(subject); err != nil {
		return nil, fmt.Errorf("new root CA: %w", err)
	}
	if validity <= 0 {
		return nil, errors.New("new root CA: validity must be positive")
	}
	key, err := sm.GenerateKey()
	if err != nil {
		return nil, fmt.Errorf("new root CA: %w", err)
	}
	tmpl, err := baseTemplate(subject, &key.PublicKey, notBefore, validity)
	if err != nil {
		return nil, fmt.Errorf("new root CA: %w", err)
	}
	tmpl.IsCA = true
	tmpl.MaxPathLen = 1
	tmpl.KeyUsage = smx509.KeyUsageCertSign | smx509.KeyUsageCRLSign
	der, err := smx509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, fmt.Errorf("new root CA: create certificate: %w", err)
	}
	cert, err := smx509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("new root CA: parse the new certificate: %w", err)
	}
	return &CA{Cert: cert, Key: key}, nil
}

// NewIssuingCA creates a CA below ca (pathLenConstraint one less than ca's) with a new SM2
// key. The validity must lie within ca's own.
func (ca *CA) NewIssuingCA(subject pkix.Name, notBefore time.Time, validity time.Duration) (*CA, error) {
	if err := ca.check(); err != nil {
		return nil, fmt.Errorf("new issuing CA: %w", err)
	}
	if err := checkSubject(subject); err != nil {
		return nil, fmt.Errorf("new issuing CA: %w", err)
	}
	if ca.Cert.MaxPathLen == 0 && (ca.Cert.MaxPathLenZero || ca.Cert.BasicConstraintsValid) {
		return nil, fmt.Errorf("new issuing CA: %q has path length 0 and may only issue end-entity certificates; create the issuing CA under the root", ca.Cert.Subject.CommonName)
	}
	key, err := sm.GenerateKey()
	if err != nil {
		return nil, fmt.Errorf("new issuing CA: %w", err)
	}
	tmpl, err := ca.childTemplate(subject, &key.PublicKey, notBefore, validity)
	if err != nil {
		return nil, fmt.Errorf("new issuing CA: %w", err)
	}
	tmpl.IsCA = true
	if ca.Cert.MaxPathLen > 1 {
		tmpl.MaxPathLen = ca.Cert.MaxPathLen - 1
	} else {
		tmpl.MaxPathLen = 0
		tmpl.MaxPathLenZero = true
	}
	tmpl.KeyUsage = smx509.KeyUsageCertSign | smx509.KeyUsageCRLSign
	cert, err := ca.sign(tmpl, &key.PublicKey)
	if err != nil {
		return nil, fmt.Errorf("new issuing CA: %w", err)
	}
	chain := append([]*smx509.Certificate{ca.Cert}, ca.Chain...)
	return &CA{Cert: cert, Key: key, Chain: chain}, nil
}

// IssueDepartmentCert issues a department signing certificate for pub (an SM2 public
// key): digitalSignature and contentCommitment (non-repudiation), not a CA.
func (ca *CA) IssueDepartmentCert(pub *ecdsa.PublicKey, d DepartmentSubject, notBefore time.Time, validity time.Duration) (*smx509.Certificate, error) {
	cert, err := ca.issueEndEntity(pub, d, "", notBefore, validity)
	if err != nil {
		return nil, fmt.Errorf("issue department certificate: %w", err)
	}
	return cert, nil
}

// IssueSealMakerCert issues a seal-maker (制章人) certificate for pub: the key with which
// a seal-making system signs electronic seals (GB/T 38540). It has the department profile
// with OU = SealMakerOU.
func (ca *CA) IssueSealMakerCert(pub *ecdsa.PublicKey, d DepartmentSubject, notBefore time.Time, validity time.Duration) (*smx509.Certificate, error) {
	cert, err := ca.issueEndEntity(pub, d, SealMakerOU, notBefore, validity)
	if err != nil {
		return nil, fmt.Errorf("issue seal-maker certificate: %w", err)
	}
	return cert, nil
}

// OperatorOU is the organisational unit of an operator certificate: a person inside the
// department (CN its name, O and serialNumber the department's), who signs requests with
// an own key (REQUIREMENTS D1, E6).
const OperatorOU = "operator"

// IssueOperatorCert issues an operator certificate for pub: the department profile with
// OU = OperatorOU and CN = the operator's name.
func (ca *CA) IssueOperatorCert(pub *ecdsa.PublicKey, d DepartmentSubject, name string, notBefore time.Time, validity time.Duration) (*smx509.Certificate, error) {
	if name == "" {
		return nil, errors.New("the operator name is empty")
	}
	cert, err := ca.issueEndEntityNamed(pub, d, OperatorOU, name, notBefore, validity)
	if err != nil {
		return nil, fmt.Errorf("issue operator certificate: %w", err)
	}
	return cert, nil
}

func (ca *CA) issueEndEntity(pub *ecdsa.PublicKey, d DepartmentSubject, ou string, notBefore time.Time, validity time.Duration) (*smx509.Certificate, error) {
	return ca.issueEndEntityNamed(pub, d, ou, d.Name, notBefore, validity)
}

func (ca *CA) issueEndEntityNamed(pub *ecdsa.PublicKey, d DepartmentSubject, ou, cn string, notBefore time.Time, validity time.Duration) (*smx509.Certificate, error) {
	if err := ca.check(); err != nil {
		return nil, err
	}
	if err := CheckUSCC(d.Code); err != nil {
		return nil, fmt.Errorf("department code: %w", err)
	}
	if d.Name == "" {
		return nil, errors.New("the department name is empty")
	}
	subject := pkix.Name{
		CommonName:   cn,
		Organization: []string{d.Name},
		SerialNumber: d.Code,
		Country:      []string{"CN"},
	}
	if d.Region != "" {
		subject.Locality = []string{d.Region}
	}
	if ou != "" {
		subject.OrganizationalUnit = []string{ou}
	}
	tmpl, err := ca.childTemplate(subject, pub, notBefore, validity)
	if err != nil {
		return nil, err
	}
	tmpl.IsCA = false
	tmpl.MaxPathLen = -1
	tmpl.KeyUsage = smx509.KeyUsageDigitalSignature | smx509.KeyUsageContentCommitment
	codeExt, err := asn1.MarshalWithParams(d.Code, "printable")
	if err != nil {
		return nil, fmt.Errorf("encode the code extension: %w", err)
	}
	tmpl.ExtraExtensions = []pkix.Extension{{Id: OIDOrganizationCode, Value: codeExt}}
	return ca.sign(tmpl, pub)
}

// check reports whether ca can sign.
func (ca *CA) check() error {
	if ca == nil || ca.Cert == nil || ca.Key == nil {
		return errors.New("the CA has no certificate or no key (load it with LoadCA)")
	}
	if !ca.Cert.IsCA || ca.Cert.KeyUsage&smx509.KeyUsageCertSign == 0 {
		return fmt.Errorf("%q is not a CA certificate with keyCertSign", ca.Cert.Subject.CommonName)
	}
	if !ca.Key.PublicKey.Equal(ca.Cert.PublicKey) {
		return errors.New("the CA key does not match the CA certificate")
	}
	return nil
}

// childTemplate makes a template for a certificate issued by ca and checks that its
// validity lies within ca's.
func (ca *CA) childTemplate(subject pkix.Name, pub *ecdsa.PublicKey, notBefore time.Time, validity time.Duration) (*smx509.Certificate, error) {
	if pub == nil || !sm.IsSM2PublicKey(pub) {
		return nil, errors.New("the subject public key is not an SM2 key")
	}
	if validity <= 0 {
		return nil, errors.New("validity must be positive")
	}
	notAfter := notBefore.Add(validity)
	if notBefore.Before(ca.Cert.NotBefore) || notAfter.After(ca.Cert.NotAfter) {
		return nil, fmt.Errorf("the requested validity %s..%s is not within the CA certificate's %s..%s; shorten it or renew the CA",
			fmtTime(notBefore), fmtTime(notAfter), fmtTime(ca.Cert.NotBefore), fmtTime(ca.Cert.NotAfter))
	}
	return baseTemplate(subject, pub, notBefore, validity)
}

func (ca *CA) sign(tmpl *smx509.Certificate, pub *ecdsa.PublicKey) (*smx509.Certificate, error) {
	der, err := smx509.CreateCertificate(rand.Reader, tmpl, ca.Cert, pub, ca.Key)
	if err != nil {
		return nil, fmt.Errorf("create certificate: %w", err)
	}
	cert, err := smx509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("parse the new certificate: %w", err)
	}
	return cert, nil
}

func baseTemplate(subject pkix.Name, pub *ecdsa.PublicKey, notBefore time.Time, validity time.Duration) (*smx509.Certificate, error) {
	serial, err := randomSerial()
	if err != nil {
		return nil, err
	}
	ski, err := subjectKeyID(pub)
	if err != nil {
		return nil, err
	}
	return &smx509.Certificate{
		SerialNumber:          serial,
		Subject:               subject,
		NotBefore:             notBefore.UTC().Truncate(time.Second),
		NotAfter:              notBefore.Add(validity).UTC().Truncate(time.Second),
		SignatureAlgorithm:    smx509.SM2WithSM3,
		BasicConstraintsValid: true,
		SubjectKeyId:          ski,
	}, nil
}

// randomSerial returns a random positive serial number of up to 128 bits.
func randomSerial() (*big.Int, error) {
	limit := new(big.Int).Lsh(big.NewInt(1), 128)
	for {
		n, err := rand.Int(rand.Reader, limit)
		if err != nil {
			return nil, fmt.Errorf("random serial number: %w", err)
		}
		if n.Sign() > 0 {
			return n, nil
		}
	}
}

// subjectKeyID is the leftmost 160 bits of SM3 over the subjectPublicKey BIT STRING.
func subjectKeyID(pub *ecdsa.PublicKey) ([]byte, error) {
	der, err := smx509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, fmt.Errorf("marshal the public key: %w", err)
	}
	var spki struct {
		Algorithm pkix.AlgorithmIdentifier
		PublicKey asn1.BitString
	}
	if _, err := asn1.Unmarshal(der, &spki); err != nil {
		return nil, fmt.Errorf("parse the public key: %w", err)
	}
	sum := sm.Sum(spki.PublicKey.Bytes)
	return sum[:20], nil
}

func checkSubject(s pkix.Name) error {
	if s.CommonName == "" && len(s.Organization) == 0 {
		return errors.New("the subject needs a CommonName or an Organization")
	}
	return nil
}

func fmtTime(t time.Time) string { return t.UTC().Format(time.RFC3339) }
