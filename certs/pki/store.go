package pki

import (
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/emmansun/gmsm/smx509"

	"github.com/gxhub/gxhub/certs/sm"
)

// File names used by Save and LoadCA inside a CA directory.
const (
	CertFile  = "cert.pem"
	ChainFile = "chain.pem"
	KeyFile   = "key.pem"
)

// Save writes the CA to dir (created 0700 if missing): cert.pem, chain.pem (the issuers
// above, only when there are any) and key.pem (mode 0600; PKCS#8 encrypted with PBES2 /
// AES-256-CBC when password is non-empty).
func (ca *CA) Save(dir string, password []byte) error {
	if ca == nil || ca.Cert == nil || ca.Key == nil {
		return errors.New("save CA: no certificate or no key")
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("save CA: create %s: %w", dir, err)
	}
	keyPEM, err := sm.MarshalPrivateKeyPEM(ca.Key, password)
	if err != nil {
		return fmt.Errorf("save CA: %w", err)
	}
	if err := writeFile(filepath.Join(dir, KeyFile), keyPEM, 0o600); err != nil {
		return fmt.Errorf("save CA: %w", err)
	}
	if err := writeFile(filepath.Join(dir, CertFile), EncodeCertsPEM(ca.Cert), 0o644); err != nil {
		return fmt.Errorf("save CA: %w", err)
	}
	chainPath := filepath.Join(dir, ChainFile)
	if len(ca.Chain) > 0 {
		if err := writeFile(chainPath, EncodeCertsPEM(ca.Chain...), 0o644); err != nil {
			return fmt.Errorf("save CA: %w", err)
		}
	} else if err := os.Remove(chainPath); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("save CA: remove stale %s: %w", chainPath, err)
	}
	return nil
}

// writeFile writes data atomically (temporary file then rename) with the given mode.
func writeFile(path string, data []byte, mode os.FileMode) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(mode); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// LoadCA reads a CA written by Save. It checks that the key matches the certificate and
// that each certificate in the chain signed the one below it.
func LoadCA(dir string, password []byte) (*CA, error) {
	certPEM, err := os.ReadFile(filepath.Join(dir, CertFile))
	if err != nil {
		return nil, fmt.Errorf("load CA: %w", err)
	}
	certs, err := ParseCertsPEM(certPEM)
	if err != nil {
		return nil, fmt.Errorf("load CA: %s: %w", CertFile, err)
	}
	ca := &CA{Cert: certs[0]}
	chainPEM, err := os.ReadFile(filepath.Join(dir, ChainFile))
	switch {
	case err == nil:
		if ca.Chain, err = ParseCertsPEM(chainPEM); err != nil {
			return nil, fmt.Errorf("load CA: %s: %w", ChainFile, err)
		}
	case !errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("load CA: %w", err)
	}
	keyPEM, err := os.ReadFile(filepath.Join(dir, KeyFile))
	if err != nil {
		return nil, fmt.Errorf("load CA: %w", err)
	}
	if ca.Key, err = sm.ParsePrivateKeyPEM(keyPEM, password); err != nil {
		return nil, fmt.Errorf("load CA: %s: %w", KeyFile, err)
	}
	if err := ca.check(); err != nil {
		return nil, fmt.Errorf("load CA from %s: %w", dir, err)
	}
	below := ca.Cert
	for _, c := range ca.Chain {
		if err := below.CheckSignatureFrom(c); err != nil {
			return nil, fmt.Errorf("load CA: %s: %q is not signed by %q: %w", ChainFile, below.Subject.CommonName, c.Subject.CommonName, err)
		}
		below = c
	}
	return ca, nil
}

// EncodeCertsPEM encodes certificates as consecutive "CERTIFICATE" PEM blocks.
func EncodeCertsPEM(certs ...*smx509.Certificate) []byte {
	var out []byte
	for _, c := range certs {
		if c == nil {
			continue
		}
		out = append(out, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})...)
	}
	return out
}

// ParseCertsPEM parses every "CERTIFICATE" block in data (other blocks are skipped). It
// fails when there is none or one does not parse.
func ParseCertsPEM(data []byte) ([]*smx509.Certificate, error) {
	var certs []*smx509.Certificate
	for {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			continue
		}
		c, err := smx509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("certificate %d: %w", len(certs)+1, err)
		}
		certs = append(certs, c)
	}
	if len(certs) == 0 {
		return nil, errors.New("no CERTIFICATE PEM block found")
	}
	return certs, nil
}
