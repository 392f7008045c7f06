package hub

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/gxhub/gxhub/certs/keystore"
)

// The hub's transport security. Department identity and non-repudiation use SM2 (the
// request signatures, issued by the hub's SM2 CA); the TLS channel uses an ECDSA P-256
// certificate from the hub's own transport CA, because the TLS stacks departments and
// operators use (curl, browsers, Go's crypto/tls) do not implement SM2 cipher suites.
// DATA_DIR/tls/ca.pem is what clients trust (curl --cacert, gxctl --ca).

// TLSFiles are the paths of the transport CA and server certificate.
type TLSFiles struct{ Dir string }

// CACert is the transport CA certificate clients trust.
func (f TLSFiles) CACert() string     { return filepath.Join(f.Dir, "ca.pem") }
func (f TLSFiles) caKey() string      { return filepath.Join(f.Dir, "ca-key.pem") }
func (f TLSFiles) serverCert() string { return filepath.Join(f.Dir, "server.pem") }
func (f TLSFiles) serverKey() string  { return filepath.Join(f.Dir, "server-key.pem") }

// EnsureTLS loads or creates the transport CA and a server certificate valid for hosts
// (plus localhost and the loopback addresses). A server certificate that is missing a
// host, or expires within 30 days, is reissued.
func EnsureTLS(dir string, hosts []string, ks keystore.Files, now time.Time) (*tls.Config, error) {
	f := TLSFiles{Dir: dir}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create TLS directory: %w", err)
	}
	caCert, caKey, err := loadPair(ks, f.CACert(), f.caKey())
	if errors.Is(err, os.ErrNotExist) {
		caCert, caKey, err = newTLSCA(ks, f, now)
	}
	if err != nil {
		return nil, fmt.Errorf("hub transport CA in %s: %w", dir, err)
	}
	want := append([]string{"localhost", "127.0.0.1", "::1"}, hosts...)
	cert, key, err := loadPair(ks, f.serverCert(), f.serverKey())
	if err != nil || !covers(cert, want) || now.Add(30*24*time.Hour).After(cert.NotAfter) || cert.CheckSignatureFrom(caCert) != nil {
		if cert, key, err = newServerCert(ks, f, caCert, caKey, want, now); err != nil {
			return nil, fmt.Errorf("hub TLS server certificate: %w", err)
		}
	}
	return &tls.Config{
		MinVersion:   tls.VersionTLS12,
		Certificates: []tls.Certificate{{Certificate: [][]byte{cert.Raw, caCert.Raw}, PrivateKey: key, Leaf: cert}},
		NextProtos:   []string{"h2", "http/1.1"},
	}, nil
}

func covers(c *x509.Certificate, hosts []string) bool {
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			if !slices.ContainsFunc(c.IPAddresses, ip.Equal) {
				return false
			}
		} else if !slices.Contains(c.DNSNames, h) {
			return false
		}
	}
	return true
}

func loadPair(ks keystore.Files, certPath, keyPath string) (*x509.Certificate, *ecdsa.PrivateKey, error) {
	cb, err := os.ReadFile(certPath)
	if err != nil {
		return nil, nil, err
	}
	cp, _ := pem.Decode(cb)
	if cp == nil {
		return nil, nil, fmt.Errorf("%s is not PEM", certPath)
	}
	cert, err := x509.ParseCertificate(cp.Bytes)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", certPath, err)
	}
	key, err := ks.LoadECDSA(keyPath)
	if err != nil {
		return nil, nil, err
	}
	if !key.PublicKey.Equal(cert.PublicKey) {
		return nil, nil, fmt.Errorf("%s does not belong to %s", keyPath, certPath)
	}
	return cert, key, nil
}

func serial() *big.Int {
	s, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	return s.Add(s, big.NewInt(1))
}

func writePair(ks keystore.Files, certPath, keyPath string, der []byte, key *ecdsa.PrivateKey) error {
	// Key first, each written whole to a temporary file and renamed, so a crash never
	// leaves a certificate without its key.
	if err := ks.SaveECDSA(keyPath, key); err != nil {
		return err
	}
	return keystore.WriteFile(certPath, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644)
}

func newTLSCA(ks keystore.Files, f TLSFiles, now time.Time) (*x509.Certificate, *ecdsa.PrivateKey, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               pkix.Name{CommonName: "gxhub transport CA", Organization: []string{"gxhub"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.AddDate(10, 0, 0),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, err
	}
	if err := writePair(ks, f.CACert(), f.caKey(), der, key); err != nil {
		return nil, nil, err
	}
	cert, err := x509.ParseCertificate(der)
	return cert, key, err
}

func newServerCert(ks keystore.Files, f TLSFiles, ca *x509.Certificate, caKey *ecdsa.PrivateKey, hosts []string, now time.Time) (*x509.Certificate, *ecdsa.PrivateKey, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial(),
		Subject:      pkix.Name{CommonName: hosts[0], Organization: []string{"gxhub"}},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.AddDate(1, 0, 0),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		return nil, nil, err
	}
	if err := writePair(ks, f.serverCert(), f.serverKey(), der, key); err != nil {
		return nil, nil, err
	}
	cert, err := x509.ParseCertificate(der)
	return cert, key, err
}
