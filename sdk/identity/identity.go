// Package identity reads and writes a department's identity directory: the files a
// department needs to act at a hub through the SDK or gxctl --identity DIR.
//
//	key.pem       the department's SM2 private key (PKCS#8; encrypted if a password is used)
//	cert.pem      its signing certificate issued by the hub's SM2 CA
//	ca-chain.pem  the hub's issuing and root SM2 CA certificates
//	tls-ca.pem    the hub's transport CA (absent for a plain-HTTP hub)
//	identity.json {"code", "name", "hub_url"}; an operator's identity (gxctl operator add)
//	              adds "operator" (its certificate serial) and "operator_name"
//
// An operator's directory holds the operator's own key and certificate; requests made with
// it are signed with key id "code/serial" and act for the department as that operator.
package identity

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/gxhub/gxhub/certs/sm"
)

// Identity is a department's credentials for one hub.
type Identity struct {
	Code   string `json:"code"`
	Name   string `json:"name"`
	HubURL string `json:"hub_url"`
	// Operator is the operator's certificate serial (hex) when this is an operator's
	// identity; "" for the department's own.
	Operator     string         `json:"operator,omitempty"`
	OperatorName string         `json:"operator_name,omitempty"`
	Key          *sm.PrivateKey `json:"-"`
	CertPEM      []byte         `json:"-"`
	CAChainPEM   []byte         `json:"-"`
	TLSCAPEM     []byte         `json:"-"`
}

// Load reads an identity directory. password decrypts an encrypted key.
func Load(dir string, password []byte) (*Identity, error) {
	meta, err := os.ReadFile(filepath.Join(dir, "identity.json"))
	if err != nil {
		return nil, fmt.Errorf("identity directory %s: %w (expected identity.json, key.pem, cert.pem written by `gxhub serve --demo` or `gxctl department register`)", dir, err)
	}
	var id Identity
	if err := json.Unmarshal(meta, &id); err != nil {
		return nil, fmt.Errorf("%s/identity.json: %w", dir, err)
	}
	if id.Code == "" {
		return nil, fmt.Errorf("%s/identity.json has no department code", dir)
	}
	keyPEM, err := os.ReadFile(filepath.Join(dir, "key.pem"))
	if err != nil {
		return nil, fmt.Errorf("identity key: %w", err)
	}
	if id.Key, err = sm.ParsePrivateKeyPEM(keyPEM, password); err != nil {
		return nil, fmt.Errorf("%s/key.pem: %w", dir, err)
	}
	if id.CertPEM, err = os.ReadFile(filepath.Join(dir, "cert.pem")); err != nil {
		return nil, fmt.Errorf("identity certificate: %w", err)
	}
	pub, err := sm.ParsePublicKeyPEM(id.CertPEM)
	if err != nil {
		return nil, fmt.Errorf("%s/cert.pem: %w", dir, err)
	}
	if !id.Key.PublicKey.Equal(pub) {
		return nil, fmt.Errorf("%s: key.pem does not belong to cert.pem", dir)
	}
	id.CAChainPEM, _ = os.ReadFile(filepath.Join(dir, "ca-chain.pem"))
	if b, err := os.ReadFile(filepath.Join(dir, "tls-ca.pem")); err == nil {
		id.TLSCAPEM = b
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	return &id, nil
}

// KeyID is the key id requests made with this identity are signed with: the department
// code, or "code/serial" for an operator.
func (id *Identity) KeyID() string {
	if id.Operator == "" {
		return id.Code
	}
	return id.Code + "/" + id.Operator
}

// Save writes the identity to dir (created 0700; key 0600).
func (id *Identity) Save(dir string, password []byte) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	keyPEM, err := sm.MarshalPrivateKeyPEM(id.Key, password)
	if err != nil {
		return err
	}
	meta, err := json.MarshalIndent(id, "", "  ")
	if err != nil {
		return err
	}
	files := []struct {
		name string
		data []byte
		perm os.FileMode
	}{
		{"key.pem", keyPEM, 0o600},
		{"cert.pem", id.CertPEM, 0o644},
		{"ca-chain.pem", id.CAChainPEM, 0o644},
		{"tls-ca.pem", id.TLSCAPEM, 0o644},
		{"identity.json", append(meta, '\n'), 0o644}, // last: its presence marks a complete identity
	}
	for _, f := range files {
		if f.data == nil {
			continue
		}
		if err := writeAtomic(filepath.Join(dir, f.name), f.data, f.perm); err != nil {
			return fmt.Errorf("write %s: %w", f.name, err)
		}
	}
	return nil
}

func writeAtomic(path string, data []byte, perm os.FileMode) error {
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, perm)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
