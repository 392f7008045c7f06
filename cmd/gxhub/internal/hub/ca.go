package hub

import (
	"crypto/ecdsa"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/emmansun/gmsm/smx509"

	"github.com/gxhub/gxhub/certs/keystore"
	"github.com/gxhub/gxhub/certs/pki"
	"github.com/gxhub/gxhub/exchange"
)

// Validity periods of the hub's SM2 hierarchy.
const (
	rootValidity       = 20 * 365 * 24 * time.Hour
	issuingValidity    = 10 * 365 * 24 * time.Hour
	departmentValidity = 2 * 365 * 24 * time.Hour
)

// CA is the hub's SM2 certificate hierarchy: a root and an issuing CA that certifies
// departments' signing keys. Keys live under DATA_DIR/ca, encrypted when a password is set.
type CA struct {
	Root    *pki.CA
	Issuing *pki.CA
	mu      sync.Mutex
}

// EnsureCA loads the hierarchy from dir, creating it on first start. Keys are read and
// written through ks (a plaintext key is encrypted in place when ks has a password).
func EnsureCA(dir string, ks keystore.Files, now time.Time) (*CA, error) {
	rootDir, issDir := filepath.Join(dir, "root"), filepath.Join(dir, "issuing")
	for _, d := range []string{rootDir, issDir} {
		if err := protectKey(ks, filepath.Join(d, pki.KeyFile)); err != nil {
			return nil, err
		}
	}
	password := ks.Password
	root, err := pki.LoadCA(rootDir, password)
	if errors.Is(err, os.ErrNotExist) {
		if root, err = pki.NewRootCA(pkix.Name{CommonName: "gxhub SM2 Root CA", Organization: []string{"gxhub"}, Country: []string{"CN"}}, now.Add(-time.Hour), rootValidity); err != nil {
			return nil, fmt.Errorf("create hub root CA: %w", err)
		}
		if err := root.Save(rootDir, password); err != nil {
			return nil, fmt.Errorf("save hub root CA: %w", err)
		}
	} else if err != nil {
		return nil, fmt.Errorf("load hub root CA from %s (wrong ca_password_file?): %w", rootDir, err)
	}
	iss, err := pki.LoadCA(issDir, password)
	if errors.Is(err, os.ErrNotExist) {
		if iss, err = root.NewIssuingCA(pkix.Name{CommonName: "gxhub SM2 Department CA", Organization: []string{"gxhub"}, Country: []string{"CN"}}, now.Add(-time.Hour), issuingValidity); err != nil {
			return nil, fmt.Errorf("create hub issuing CA: %w", err)
		}
		if err := iss.Save(issDir, password); err != nil {
			return nil, fmt.Errorf("save hub issuing CA: %w", err)
		}
	} else if err != nil {
		return nil, fmt.Errorf("load hub issuing CA from %s: %w", issDir, err)
	}
	return &CA{Root: root, Issuing: iss}, nil
}

// protectKey encrypts the SM2 key file at path in place when ks has a password and the file
// is still plaintext (a data directory started before ca_password_file was set).
func protectKey(ks keystore.Files, path string) error {
	if !ks.Encrypted() {
		return nil
	}
	if ok, err := keystore.Protected(path); err != nil || ok {
		return err
	}
	if _, err := ks.LoadSM2(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}

// RootPEM is the root certificate in PEM.
func (c *CA) RootPEM() string { return string(pki.EncodeCertsPEM(c.Root.Cert)) }

// IssuingPEM is the issuing CA certificate in PEM.
func (c *CA) IssuingPEM() string { return string(pki.EncodeCertsPEM(c.Issuing.Cert)) }

// ChainPEM is the issuing CA followed by the root.
func (c *CA) ChainPEM() string { return string(pki.EncodeCertsPEM(c.Issuing.Cert, c.Root.Cert)) }

// IssueDepartment implements server.DepartmentIssuer.
func (c *CA) IssueDepartment(pub *ecdsa.PublicKey, d *exchange.Department, now time.Time) ([]byte, string, string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	cert, err := c.Issuing.IssueDepartmentCert(pub, pki.DepartmentSubject{Code: d.Code, Name: d.Name, Region: d.Region}, now.Add(-5*time.Minute), departmentValidity)
	if err != nil {
		return nil, "", "", fmt.Errorf("issue department certificate: %w", err)
	}
	return cert.Raw, fmt.Sprintf("%x", cert.SerialNumber), c.ChainPEM(), nil
}

// operatorValidity is how long an operator certificate is valid: a year, renewed by
// enrolling again.
const operatorValidity = 365 * 24 * time.Hour

// IssueOperator implements server.OperatorIssuer.
func (c *CA) IssueOperator(pub *ecdsa.PublicKey, d *exchange.Department, name string, now time.Time) (*smx509.Certificate, string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	cert, err := c.Issuing.IssueOperatorCert(pub, pki.DepartmentSubject{Code: d.Code, Name: d.Name, Region: d.Region}, name, now.Add(-5*time.Minute), operatorValidity)
	if err != nil {
		return nil, "", err
	}
	return cert, c.ChainPEM(), nil
}

func pemCertDER(der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}
