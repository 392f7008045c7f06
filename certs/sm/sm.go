// Package sm is gxhub's adapter over github.com/emmansun/gmsm for the SM2 signature
// algorithm and the SM3 hash. Every SM2 signature made or checked here uses the default
// user ID "1234567812345678" and the Z value (GM/T 0009), which is what OpenSSL 3
// (with -pkeyopt distid:1234567812345678), sm-crypto and the vendors' seal systems use.
//
// Signatures are produced as DER (SEQUENCE{r, s}); Verify accepts DER and the raw
// 64-byte r‖s form some vendors emit, and always checks over the bytes it is given.
package sm

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/asn1"
	"errors"
	"fmt"
	"hash"
	"math/big"

	"github.com/emmansun/gmsm/sm2"
	"github.com/emmansun/gmsm/sm3"
)

// DefaultUID is the SM2 signer identity used for Z (GM/T 0009-2012 §10).
const DefaultUID = "1234567812345678"

// RawSignatureSize is the size of a raw r‖s SM2 signature.
const RawSignatureSize = 64

// PrivateKey is an SM2 private key.
type PrivateKey = sm2.PrivateKey

// ErrBadSignature is returned (wrapped) by Verify when a well-formed signature does not verify.
var ErrBadSignature = errors.New("SM2 signature does not verify")

// GenerateKey makes a new SM2 key pair from crypto/rand.
func GenerateKey() (*PrivateKey, error) {
	k, err := sm2.GenerateKey(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generate SM2 key: %w", err)
	}
	return k, nil
}

// Sign signs msg with the default user ID (SM3 over Z‖msg) and returns a DER signature.
func Sign(key *PrivateKey, msg []byte) ([]byte, error) {
	if key == nil {
		return nil, errors.New("sign: no SM2 private key")
	}
	sig, err := sm2.SignASN1(rand.Reader, key, msg, sm2.DefaultSM2SignerOpts)
	if err != nil {
		return nil, fmt.Errorf("SM2 sign: %w", err)
	}
	return sig, nil
}

// SignRaw is Sign returning the raw 64-byte r‖s form (as used by JWS).
func SignRaw(key *PrivateKey, msg []byte) ([]byte, error) {
	der, err := Sign(key, msg)
	if err != nil {
		return nil, err
	}
	return DERToRaw(der)
}

// Verify checks sig over msg with pub and the default user ID. sig may be DER or raw r‖s.
// It returns nil when the signature is valid, an error wrapping ErrBadSignature when it is
// well-formed but wrong, and another error when it cannot be parsed or the key is not SM2.
func Verify(pub *ecdsa.PublicKey, msg, sig []byte) error {
	if pub == nil {
		return errors.New("verify: no public key")
	}
	if !sm2.IsSM2PublicKey(pub) {
		return errors.New("verify: the public key is not on the SM2 curve (an ECDSA/RSA key cannot verify an SM2 signature)")
	}
	der := sig
	if len(sig) == RawSignatureSize && !looksLikeDER(sig) {
		var err error
		if der, err = RawToDER(sig); err != nil {
			return err
		}
	} else if _, _, err := parseDER(sig); err != nil {
		return fmt.Errorf("verify: signature is neither DER SEQUENCE{r,s} nor raw 64-byte r‖s: %w", err)
	}
	if !sm2.VerifyASN1WithSM2(pub, nil, msg, der) {
		return ErrBadSignature
	}
	return nil
}

// looksLikeDER reports whether a 64-byte value is in fact a complete DER signature
// (possible only for unusually short r and s).
func looksLikeDER(b []byte) bool {
	_, _, err := parseDER(b)
	return err == nil
}

type derSig struct{ R, S *big.Int }

func parseDER(b []byte) (r, s *big.Int, err error) {
	var v derSig
	rest, err := asn1.Unmarshal(b, &v)
	if err != nil {
		return nil, nil, err
	}
	if len(rest) != 0 {
		return nil, nil, errors.New("trailing bytes after signature")
	}
	if v.R == nil || v.S == nil || v.R.Sign() <= 0 || v.S.Sign() <= 0 {
		return nil, nil, errors.New("r and s must be positive")
	}
	if v.R.BitLen() > 256 || v.S.BitLen() > 256 {
		return nil, nil, errors.New("r or s longer than 256 bits")
	}
	return v.R, v.S, nil
}

// DERToRaw converts a DER SM2 signature to raw 64-byte r‖s.
func DERToRaw(der []byte) ([]byte, error) {
	r, s, err := parseDER(der)
	if err != nil {
		return nil, fmt.Errorf("signature is not DER SEQUENCE{r,s}: %w", err)
	}
	out := make([]byte, RawSignatureSize)
	r.FillBytes(out[:32])
	s.FillBytes(out[32:])
	return out, nil
}

// RawToDER converts a raw 64-byte r‖s signature to DER.
func RawToDER(raw []byte) ([]byte, error) {
	if len(raw) != RawSignatureSize {
		return nil, fmt.Errorf("raw SM2 signature must be %d bytes (r‖s), got %d", RawSignatureSize, len(raw))
	}
	r := new(big.Int).SetBytes(raw[:32])
	s := new(big.Int).SetBytes(raw[32:])
	if r.Sign() == 0 || s.Sign() == 0 {
		return nil, errors.New("raw SM2 signature has a zero r or s")
	}
	return asn1.Marshal(derSig{r, s})
}

// Sum returns the SM3 digest of b.
func Sum(b []byte) [32]byte { return sm3.Sum(b) }

// New returns a streaming SM3 hash.
func New() interface {
	Write([]byte) (int, error)
	Sum([]byte) []byte
	Reset()
	Size() int
	BlockSize() int
} {
	return sm3.New()
}

// HashSize is the size of an SM3 digest in bytes.
const HashSize = 32

// NewHash returns a new SM3 hash (for hmac.New and other hash.Hash users).
func NewHash() hash.Hash { return sm3.New() }

// Curve is the SM2 curve.
func Curve() elliptic.Curve { return sm2.P256() }

// IsSM2PublicKey reports whether pub is a key on the SM2 curve.
func IsSM2PublicKey(pub any) bool { return sm2.IsSM2PublicKey(pub) }

// NewPrivateKeyFromInt returns the SM2 private key with scalar d (deterministic keys for
// tests and fixtures).
func NewPrivateKeyFromInt(d *big.Int) (*PrivateKey, error) { return sm2.NewPrivateKeyFromInt(d) }

// VerifyDER checks a DER SEQUENCE{r,s} SM2 signature (default user ID) over msg; unlike
// Verify it accepts no raw r‖s form.
func VerifyDER(pub *ecdsa.PublicKey, msg, der []byte) error {
	if pub == nil || !sm2.IsSM2PublicKey(pub) {
		return errors.New("verify: the public key is not on the SM2 curve")
	}
	if !sm2.VerifyASN1WithSM2(pub, nil, msg, der) {
		return ErrBadSignature
	}
	return nil
}

// VerifyDigestDER checks a DER SM2 signature over a digest computed by the caller (no
// SM2 user-ID preprocessing: GM/T 0031's signature over the data hash).
func VerifyDigestDER(pub *ecdsa.PublicKey, digest, der []byte) bool {
	return sm2.VerifyASN1(pub, digest, der)
}
