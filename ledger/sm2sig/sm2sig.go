// Package sm2sig signs and verifies tree heads and anchor blocks with SM2
// (GB/T 32918, default user ID 1234567812345678, SM3 with Z), implementing
// [ledger.Signer] and [ledger.Verifier] over certs/sm (the one SM2/SM3 adapter).
package sm2sig

import (
	"context"
	"crypto/ecdsa"
	"encoding/hex"
	"errors"
	"fmt"

	"github.com/emmansun/gmsm/smx509"

	"github.com/gxhub/gxhub/certs/sm"
	"github.com/gxhub/gxhub/ledger"
)

// Signer signs with an SM2 private key and the default user ID.
type Signer struct {
	key   *sm.PrivateKey
	keyID string
}

var (
	_ ledger.Signer   = (*Signer)(nil)
	_ ledger.Verifier = (*Verifier)(nil)
)

// NewSigner returns a Signer for key.
func NewSigner(key *sm.PrivateKey) (*Signer, error) {
	if key == nil {
		return nil, fmt.Errorf("%w: nil SM2 private key", ledger.ErrInvalid)
	}
	id, err := KeyID(&key.PublicKey)
	if err != nil {
		return nil, err
	}
	return &Signer{key: key, keyID: id}, nil
}

// KeyID implements [ledger.Signer].
func (s *Signer) KeyID() string { return s.keyID }

// Public returns the public key.
func (s *Signer) Public() *ecdsa.PublicKey { return &s.key.PublicKey }

// Sign implements [ledger.Signer]: a DER SM2 signature over msg with the
// default user ID.
func (s *Signer) Sign(ctx context.Context, msg []byte) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return sm.Sign(s.key, msg)
}

// Verifier verifies SM2 signatures with the default user ID. It accepts
// DER signatures and raw 64-byte r‖s ones.
type Verifier struct {
	pub   *ecdsa.PublicKey
	keyID string
}

// NewVerifier returns a Verifier for pub (an SM2 public key).
func NewVerifier(pub *ecdsa.PublicKey) (*Verifier, error) {
	if pub == nil || pub.Curve != sm.Curve() {
		return nil, fmt.Errorf("%w: not an SM2 public key", ledger.ErrInvalid)
	}
	id, err := KeyID(pub)
	if err != nil {
		return nil, err
	}
	return &Verifier{pub: pub, keyID: id}, nil
}

// ParseVerifier returns a Verifier for a DER SubjectPublicKeyInfo holding an
// SM2 key (e.g. from the hub's published key).
func ParseVerifier(spki []byte) (*Verifier, error) {
	k, err := smx509.ParsePKIXPublicKey(spki)
	if err != nil {
		return nil, fmt.Errorf("%w: parse SM2 public key: %w", ledger.ErrInvalid, err)
	}
	pub, ok := k.(*ecdsa.PublicKey)
	if !ok {
		return nil, fmt.Errorf("%w: public key is %T, want SM2", ledger.ErrInvalid, k)
	}
	return NewVerifier(pub)
}

// KeyID implements [ledger.Verifier].
func (v *Verifier) KeyID() string { return v.keyID }

// Verify implements [ledger.Verifier].
func (v *Verifier) Verify(msg, sig []byte) error {
	if err := sm.Verify(v.pub, msg, sig); err != nil {
		if errors.Is(err, sm.ErrBadSignature) {
			return fmt.Errorf("%w: SM2 signature does not verify with key %s", ledger.ErrVerification, v.keyID)
		}
		return fmt.Errorf("%w: SM2 signature: %w", ledger.ErrVerification, err)
	}
	return nil
}

// KeyID returns the key identifier used in heads and blocks: the hex SM3
// digest of the key's DER SubjectPublicKeyInfo, first 16 bytes.
func KeyID(pub *ecdsa.PublicKey) (string, error) {
	der, err := smx509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return "", fmt.Errorf("%w: marshal SM2 public key: %w", ledger.ErrInvalid, err)
	}
	s := sm.Sum(der)
	return hex.EncodeToString(s[:16]), nil
}
