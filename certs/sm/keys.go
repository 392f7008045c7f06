package sm

import (
	"crypto/ecdsa"
	"encoding/pem"
	"errors"
	"fmt"

	"github.com/emmansun/gmsm/pkcs"
	"github.com/emmansun/gmsm/pkcs8"
	"github.com/emmansun/gmsm/sm2"
	"github.com/emmansun/gmsm/smx509"
)

// keyEncryption is PBES2 with PBKDF2-HMAC-SHA256 and AES-256-CBC: readable by OpenSSL 3
// (`openssl pkey -in key.pem -passin pass:...`).
var keyEncryption = pkcs.NewPBESEncrypter(pkcs.AES256CBC, pkcs.NewPBKDF2Opts(pkcs.SHA256, 16, 200_000))

// MarshalPrivateKeyPEM encodes key as PKCS#8 PEM. With a non-empty password the key is
// encrypted ("ENCRYPTED PRIVATE KEY"); without, it is plain ("PRIVATE KEY").
func MarshalPrivateKeyPEM(key *PrivateKey, password []byte) ([]byte, error) {
	if key == nil {
		return nil, errors.New("marshal key: no SM2 private key")
	}
	der, err := pkcs8.MarshalPrivateKey(key, password, keyEncryption)
	if err != nil {
		return nil, fmt.Errorf("marshal SM2 key as PKCS#8: %w", err)
	}
	typ := "PRIVATE KEY"
	if len(password) > 0 {
		typ = "ENCRYPTED PRIVATE KEY"
	}
	return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), nil
}

// ParsePrivateKeyPEM reads an SM2 private key from PEM: PKCS#8 (plain or encrypted) or
// SEC 1 "EC PRIVATE KEY" as written by `openssl ecparam -name SM2 -genkey`.
func ParsePrivateKeyPEM(data, password []byte) (*PrivateKey, error) {
	for {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			return nil, errors.New("no private key PEM block found: expected PRIVATE KEY, ENCRYPTED PRIVATE KEY or EC PRIVATE KEY")
		}
		switch block.Type {
		case "ENCRYPTED PRIVATE KEY":
			if len(password) == 0 {
				return nil, errors.New("the private key is encrypted: give its password")
			}
			k, err := pkcs8.ParsePKCS8PrivateKeySM2(block.Bytes, password)
			if err != nil {
				return nil, fmt.Errorf("decrypt private key (wrong password or not an SM2 key): %w", err)
			}
			return k, nil
		case "PRIVATE KEY":
			k, err := pkcs8.ParsePKCS8PrivateKeySM2(block.Bytes)
			if err != nil {
				return nil, fmt.Errorf("parse PKCS#8 private key (is it an SM2 key?): %w", err)
			}
			return k, nil
		case "EC PRIVATE KEY":
			k, err := smx509.ParseSM2PrivateKey(block.Bytes)
			if err != nil {
				return nil, fmt.Errorf("parse SEC 1 EC private key (is it on the SM2 curve?): %w", err)
			}
			return k, nil
		}
		// skip other blocks such as "EC PARAMETERS"
	}
}

// MarshalPublicKeyPEM encodes an SM2 public key as a PKIX "PUBLIC KEY" PEM block.
func MarshalPublicKeyPEM(pub *ecdsa.PublicKey) ([]byte, error) {
	if pub == nil || !sm2.IsSM2PublicKey(pub) {
		return nil, errors.New("marshal public key: not an SM2 public key")
	}
	der, err := smx509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, fmt.Errorf("marshal SM2 public key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), nil
}

// ParsePublicKeyPEM reads an SM2 public key from a "PUBLIC KEY" or "CERTIFICATE" PEM block.
func ParsePublicKeyPEM(data []byte) (*ecdsa.PublicKey, error) {
	block, _ := pem.Decode(data)
	if block == nil {
		return nil, errors.New("no PEM block found: expected PUBLIC KEY or CERTIFICATE")
	}
	var pub any
	switch block.Type {
	case "PUBLIC KEY":
		k, err := smx509.ParsePKIXPublicKey(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("parse public key: %w", err)
		}
		pub = k
	case "CERTIFICATE":
		c, err := smx509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("parse certificate: %w", err)
		}
		pub = c.PublicKey
	default:
		return nil, fmt.Errorf("PEM block %q is not a public key or certificate", block.Type)
	}
	ec, ok := pub.(*ecdsa.PublicKey)
	if !ok || !sm2.IsSM2PublicKey(ec) {
		return nil, errors.New("the key is not an SM2 public key")
	}
	return ec, nil
}
