// Package keystore is the one way the hub keeps private keys and secrets at rest: its SM2
// CA and signing keys, the ECDSA key of its TLS certificate, and raw secrets such as the
// subject HMAC key (ca/subject-key). Every file goes through Files:
//
//   - with a password, keys are PKCS#8 "ENCRYPTED PRIVATE KEY" (PBES2, PBKDF2-SHA256,
//     AES-256-CBC: `openssl pkey -passin` reads them) and secrets are an "ENCRYPTED SECRET"
//     PEM block (SM4-GCM under a PBKDF2-SM3 key of the password);
//   - without one, keys are plain PKCS#8 and secrets raw bytes, and Files.Encrypted reports
//     false so that the hub can warn;
//   - a plaintext file found while a password is set is encrypted in place on load (the
//     migration for data directories written before a password was configured).
//
// Signers is the seam for keys that never enter the hub's memory (an HSM through PKCS#11,
// a cloud KMS): a crypto.Signer per named key. Files is its only implementation today.
package keystore

import (
	"crypto"
	"crypto/cipher"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"

	"github.com/emmansun/gmsm/pkcs"
	"github.com/emmansun/gmsm/pkcs8"

	"github.com/gxhub/gxhub/certs/sm"
)

// Signers hands out the hub's keys as crypto.Signer values, by name (for Files, the key
// file's path). An implementation that keeps keys in an HSM or KMS returns a Signer whose
// Sign runs on the device. For SM2 keys Sign follows gmsm's convention: with
// sm2.DefaultSM2SignerOpts (or any *sm2.SM2SignerOption with ForceGMSign) the input is the
// message and the signer computes Z (user ID 1234567812345678) and SM3 itself; the
// signature is DER. smx509.CreateCertificate, CreateRevocationList and crypto/tls all
// accept such a Signer.
type Signers interface {
	Signer(name string) (crypto.Signer, error)
}

// Files stores keys and secrets as files, encrypted with Password when it is non-empty.
type Files struct {
	Password []byte
	// Upgraded, if set, is told each file that was found in plaintext and encrypted in place.
	Upgraded func(path string)
}

var _ Signers = Files{}

// Encrypted reports whether keys and secrets are encrypted at rest.
func (f Files) Encrypted() bool { return len(f.Password) > 0 }

// Signer implements Signers with the SM2 key at path (created on first use).
func (f Files) Signer(path string) (crypto.Signer, error) { return f.SM2(path) }

// SM2 loads the SM2 private key at path, generating and saving it when the file does not exist.
func (f Files) SM2(path string) (*sm.PrivateKey, error) {
	k, err := f.LoadSM2(path)
	if !errors.Is(err, fs.ErrNotExist) {
		return k, err
	}
	if k, err = sm.GenerateKey(); err != nil {
		return nil, err
	}
	return k, f.SaveSM2(path, k)
}

// LoadSM2 reads the SM2 private key at path (an error wrapping fs.ErrNotExist when absent).
func (f Files) LoadSM2(path string) (*sm.PrivateKey, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	k, err := sm.ParsePrivateKeyPEM(b, f.Password)
	if err != nil {
		return nil, fmt.Errorf("%s: %w (is the password file the one the key was written with?)", path, err)
	}
	if f.Encrypted() && !isEncryptedPEM(b) {
		if err := f.SaveSM2(path, k); err != nil {
			return nil, fmt.Errorf("encrypt %s in place: %w", path, err)
		}
		f.upgraded(path)
	}
	return k, nil
}

// SaveSM2 writes key to path (mode 0600, directory 0700).
func (f Files) SaveSM2(path string, key *sm.PrivateKey) error {
	p, err := sm.MarshalPrivateKeyPEM(key, f.Password)
	if err != nil {
		return err
	}
	return WriteFile(path, p, 0o600)
}

// ECDSA loads the ECDSA P-256 key at path (the TLS keys), generating it when absent.
func (f Files) ECDSA(path string) (*ecdsa.PrivateKey, error) {
	k, err := f.LoadECDSA(path)
	if !errors.Is(err, fs.ErrNotExist) {
		return k, err
	}
	if k, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
		return nil, err
	}
	return k, f.SaveECDSA(path, k)
}

// keyEncryption matches certs/sm's: PBES2 / PBKDF2-SHA256 / AES-256-CBC.
var keyEncryption = pkcs.NewPBESEncrypter(pkcs.AES256CBC, pkcs.NewPBKDF2Opts(pkcs.SHA256, 16, 200_000))

// LoadECDSA reads an ECDSA key: PKCS#8 (plain or encrypted) or SEC 1 "EC PRIVATE KEY" (how
// the hub wrote TLS keys before this package).
func (f Files) LoadECDSA(path string) (*ecdsa.PrivateKey, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	block, _ := pem.Decode(b)
	if block == nil {
		return nil, fmt.Errorf("%s: no PEM block: expected an EC private key", path)
	}
	var k *ecdsa.PrivateKey
	switch block.Type {
	case "ENCRYPTED PRIVATE KEY":
		if !f.Encrypted() {
			return nil, fmt.Errorf("%s is encrypted: give the hub's password file (ca_password_file)", path)
		}
		k, err = pkcs8.ParsePKCS8PrivateKeyECDSA(block.Bytes, f.Password)
	case "PRIVATE KEY":
		k, err = pkcs8.ParsePKCS8PrivateKeyECDSA(block.Bytes)
	case "EC PRIVATE KEY":
		k, err = x509.ParseECPrivateKey(block.Bytes)
	default:
		err = fmt.Errorf("PEM block %q is not a private key", block.Type)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w (is the password file the one the key was written with?)", path, err)
	}
	if f.Encrypted() && block.Type != "ENCRYPTED PRIVATE KEY" {
		if err := f.SaveECDSA(path, k); err != nil {
			return nil, fmt.Errorf("encrypt %s in place: %w", path, err)
		}
		f.upgraded(path)
	}
	return k, nil
}

// SaveECDSA writes an ECDSA key to path as PKCS#8, encrypted when a password is set.
func (f Files) SaveECDSA(path string, key *ecdsa.PrivateKey) error {
	der, err := pkcs8.MarshalPrivateKey(key, f.Password, keyEncryption)
	if err != nil {
		return fmt.Errorf("marshal ECDSA key: %w", err)
	}
	typ := "PRIVATE KEY"
	if f.Encrypted() {
		typ = "ENCRYPTED PRIVATE KEY"
	}
	return WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600)
}

// Secret parameters.
const (
	secretBlock      = "ENCRYPTED SECRET"
	secretIterations = 200_000
)

// Secret loads the secret at path (at least size bytes), generating size random bytes when
// the file does not exist. Unencrypted secrets are stored raw, as the hub always has.
func (f Files) Secret(path string, size int) ([]byte, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		s := make([]byte, size)
		if _, err := rand.Read(s); err != nil {
			return nil, err
		}
		return s, f.SaveSecret(path, s)
	}
	if err != nil {
		return nil, err
	}
	s, encrypted, err := f.openSecret(path, b)
	if err != nil {
		return nil, err
	}
	if len(s) < size {
		return nil, fmt.Errorf("%s holds %d bytes; at least %d are needed", path, len(s), size)
	}
	if f.Encrypted() && !encrypted {
		if err := f.SaveSecret(path, s); err != nil {
			return nil, fmt.Errorf("encrypt %s in place: %w", path, err)
		}
		f.upgraded(path)
	}
	return s, nil
}

func (f Files) openSecret(path string, b []byte) ([]byte, bool, error) {
	block, _ := pem.Decode(b)
	if block == nil || block.Type != secretBlock {
		return b, false, nil // a raw secret
	}
	if !f.Encrypted() {
		return nil, true, fmt.Errorf("%s is encrypted: give the hub's password file (ca_password_file)", path)
	}
	iter, err := strconv.Atoi(block.Headers["Iterations"])
	if err != nil || iter < 1000 {
		return nil, true, fmt.Errorf("%s: Iterations header %q is not a count of at least 1000", path, block.Headers["Iterations"])
	}
	salt, err1 := hex.DecodeString(block.Headers["Salt"])
	nonce, err2 := hex.DecodeString(block.Headers["Nonce"])
	if err1 != nil || err2 != nil || block.Headers["Cipher"] != "SM4-GCM" || block.Headers["KDF"] != "PBKDF2-SM3" {
		return nil, true, fmt.Errorf("%s: the ENCRYPTED SECRET headers must be KDF PBKDF2-SM3, Cipher SM4-GCM, hex Salt and Nonce", path)
	}
	aead, err := secretCipher(f.Password, salt, iter)
	if err != nil {
		return nil, true, err
	}
	if len(nonce) != aead.NonceSize() {
		return nil, true, fmt.Errorf("%s: nonce of %d bytes, want %d", path, len(nonce), aead.NonceSize())
	}
	s, err := aead.Open(nil, nonce, block.Bytes, []byte(secretBlock))
	if err != nil {
		return nil, true, fmt.Errorf("%s does not decrypt: wrong password file?", path)
	}
	return s, true, nil
}

// SaveSecret writes secret to path (0600): raw without a password, encrypted with one.
func (f Files) SaveSecret(path string, secret []byte) error {
	if !f.Encrypted() {
		return WriteFile(path, secret, 0o600)
	}
	salt, nonce := make([]byte, 16), make([]byte, 12)
	if _, err := rand.Read(salt); err != nil {
		return err
	}
	if _, err := rand.Read(nonce); err != nil {
		return err
	}
	aead, err := secretCipher(f.Password, salt, secretIterations)
	if err != nil {
		return err
	}
	block := &pem.Block{Type: secretBlock, Headers: map[string]string{
		"KDF": "PBKDF2-SM3", "Iterations": strconv.Itoa(secretIterations), "Salt": hex.EncodeToString(salt),
		"Cipher": "SM4-GCM", "Nonce": hex.EncodeToString(nonce),
	}, Bytes: aead.Seal(nil, nonce, secret, []byte(secretBlock))}
	return WriteFile(path, pem.EncodeToMemory(block), 0o600)
}

func secretCipher(password, salt []byte, iter int) (cipher.AEAD, error) {
	k, err := sm.PasswordKey(string(password), salt, iter)
	if err != nil {
		return nil, err
	}
	return sm.NewSM4GCM(k)
}

// Protected reports whether the key or secret file at path is encrypted (false for a file
// that does not exist).
func Protected(path string) (bool, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	block, _ := pem.Decode(b)
	return block != nil && (block.Type == "ENCRYPTED PRIVATE KEY" || block.Type == secretBlock), nil
}

func isEncryptedPEM(b []byte) bool {
	for {
		block, rest := pem.Decode(b)
		if block == nil {
			return false
		}
		if block.Type == "ENCRYPTED PRIVATE KEY" {
			return true
		}
		b = rest
	}
}

func (f Files) upgraded(path string) {
	if f.Upgraded != nil {
		f.Upgraded(path)
	}
}

// WriteFile writes data to path atomically (a synced temporary file renamed over it),
// creating the directory (0700) when missing.
func WriteFile(path string, data []byte, perm os.FileMode) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(perm); err != nil {
		tmp.Close()
		return err
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
