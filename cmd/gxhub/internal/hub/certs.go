package hub

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/emmansun/gmsm/smx509"

	"github.com/gxhub/gxhub/certs/keystore"
	"github.com/gxhub/gxhub/certs/pki"
	certsserver "github.com/gxhub/gxhub/certs/server"
	"github.com/gxhub/gxhub/certs/sm"
	"github.com/gxhub/gxhub/certs/verify"
)

// sealMakerValidity is the validity of the hub's seal-maker certificate.
const sealMakerValidity = 5 * 365 * 24 * time.Hour

// SealMakerSubject names the hub's seal-making system in its seal-maker certificate.
var SealMakerSubject = DemoDepartment{OrgCode: "GXHUB001", Name: "gxhub 电子印章制作系统", Region: "100000"}

// EnsureSealMaker loads the hub's seal-maker key and certificate from dir (DATA_DIR/ca/sealmaker),
// issuing them from the issuing CA's seal-maker profile on first start.
func (c *CA) EnsureSealMaker(dir string, ks keystore.Files, now time.Time) (*certsserver.SealMaker, error) {
	keyPath, certPath := filepath.Join(dir, "key.pem"), filepath.Join(dir, "cert.pem")
	if key, err := ks.LoadSM2(keyPath); err == nil {
		cb, err := os.ReadFile(certPath)
		if err != nil {
			return nil, fmt.Errorf("seal-maker certificate: %w", err)
		}
		certs, err := pki.ParseCertsPEM(cb)
		if err != nil || len(certs) == 0 {
			return nil, fmt.Errorf("seal-maker certificate %s: %v", certPath, err)
		}
		return &certsserver.SealMaker{Key: key, Cert: certs[0]}, nil
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("seal-maker key: %w", err)
	}
	code, err := SealMakerSubject.Code()
	if err != nil {
		return nil, err
	}
	key, err := sm.GenerateKey()
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	cert, err := c.Issuing.IssueSealMakerCert(&key.PublicKey, pki.DepartmentSubject{Code: code, Name: SealMakerSubject.Name, Region: SealMakerSubject.Region}, now.Add(-5*time.Minute), sealMakerValidity)
	c.mu.Unlock()
	if err != nil {
		return nil, err
	}
	if err := keystore.WriteFile(certPath, pki.EncodeCertsPEM(cert), 0o644); err != nil {
		return nil, err
	}
	if err := ks.SaveSM2(keyPath, key); err != nil {
		return nil, err
	}
	return &certsserver.SealMaker{Key: key, Cert: cert}, nil
}

// extraRoots reads every PEM certificate in DATA_DIR/trust/*.pem: roots trusted for
// verification in addition to the hub's own root (e.g. a provincial seal CA).
func extraRoots(dataDir string) ([]*smx509.Certificate, error) {
	files, err := filepath.Glob(filepath.Join(dataDir, "trust", "*.pem"))
	if err != nil {
		return nil, err
	}
	sort.Strings(files)
	var out []*smx509.Certificate
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		certs, err := pki.ParseCertsPEM(b)
		if err != nil {
			return nil, fmt.Errorf("extra trust root %s: %w", f, err)
		}
		out = append(out, certs...)
	}
	return out, nil
}

// certServices builds the trust store and the verification, e-certificate and seal services.
func (h *Hub) certServices() (*certsserver.VerifyService, *certsserver.ECertService, *certsserver.SealService, error) {
	maker, err := h.CA.EnsureSealMaker(filepath.Join(h.Config.DataDir, "ca", "sealmaker"), h.Keys, h.now())
	if err != nil {
		return nil, nil, nil, fmt.Errorf("seal maker: %w", err)
	}
	extra, err := extraRoots(h.Config.DataDir)
	if err != nil {
		return nil, nil, nil, err
	}
	keyID := ""
	if h.Audit != nil && h.Audit.Signer != nil {
		keyID = h.Audit.Signer.KeyID()
	}
	inter := []*smx509.Certificate{h.CA.Issuing.Cert}
	h.Trust = &certsserver.TrustStore{Store: h.Store, Audit: h.Audit.Writer, Index: h.Audit.Index, Log: h.Log, Now: h.now, HubRoot: h.CA.Root.Cert, HubIntermediates: inter, FileAnchors: extra}
	if err := h.Trust.Reload(context.Background()); err != nil {
		return nil, nil, nil, fmt.Errorf("trust store: %w", err)
	}
	v, e, s := certsserver.NewCerts(&certsserver.Certs{
		Store: h.Store, Audit: h.Audit.Writer, Log: h.Log, Now: h.now,
		Trust: h.Trust, Intermediates: inter, TSA: h.Config.Verify.TSAURL, Gate: verify.NewGate(h.Config.Verify.MaxConcurrent),
		HubKey: h.SigningKey, HubKeyID: keyID, Maker: maker,
	})
	return v, e, s, nil
}
