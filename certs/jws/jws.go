// Package jws is gxhub's adapter over github.com/go-jose/go-jose/v4 for compact JWS
// signed with SM2: the private algorithm "SM2SM3" (SM2 with the default user ID and Z,
// SM3), signatures as raw 64-byte r‖s as JWS requires. Keys are found by "kid". Only
// SM2SM3 is ever accepted: a token claiming ES256 (or anything else) is refused before any
// key is touched, so an SM2 key can never be used under another algorithm.
package jws

import (
	"crypto/ecdsa"
	"errors"
	"fmt"
	"strings"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/gxhub/gxhub/certs/sm"
)

// Alg is the JWS "alg" value for SM2 with SM3.
const Alg jose.SignatureAlgorithm = "SM2SM3"

var allowed = []jose.SignatureAlgorithm{Alg}

type opaqueSigner struct {
	key *sm.PrivateKey
	kid string
}

func (s opaqueSigner) Public() *jose.JSONWebKey {
	return &jose.JSONWebKey{Key: &s.key.PublicKey, KeyID: s.kid, Algorithm: string(Alg)}
}

func (s opaqueSigner) Algs() []jose.SignatureAlgorithm { return allowed }

func (s opaqueSigner) SignPayload(payload []byte, alg jose.SignatureAlgorithm) ([]byte, error) {
	if alg != Alg {
		return nil, fmt.Errorf("SM2 keys sign only with %s, not %s", Alg, alg)
	}
	return sm.SignRaw(s.key, payload)
}

// Sign returns a compact JWS over payload with protected header {alg: SM2SM3, kid, typ}.
func Sign(key *sm.PrivateKey, kid, typ string, payload []byte) (string, error) {
	if key == nil {
		return "", errors.New("jws: no SM2 key")
	}
	opts := (&jose.SignerOptions{}).WithType(jose.ContentType(typ))
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: Alg, Key: opaqueSigner{key: key, kid: kid}}, opts)
	if err != nil {
		return "", fmt.Errorf("jws: %w", err)
	}
	obj, err := signer.Sign(payload)
	if err != nil {
		return "", fmt.Errorf("jws sign: %w", err)
	}
	return obj.CompactSerialize()
}

// Token is a parsed, not yet verified, compact JWS.
type Token struct {
	KeyID        string
	Type         string
	obj          *jose.JSONWebSignature
	signingInput []byte // the received "header.payload" bytes
}

// Parse parses a compact JWS whose algorithm is SM2SM3 and which names its key by kid.
func Parse(compact string) (*Token, error) {
	obj, err := jose.ParseSignedCompact(compact, allowed)
	if err != nil {
		return nil, fmt.Errorf("not a compact JWS signed with %s: %w", Alg, err)
	}
	if len(obj.Signatures) != 1 {
		return nil, errors.New("JWS must carry exactly one signature")
	}
	h := obj.Signatures[0].Protected
	if h.Algorithm != string(Alg) {
		return nil, fmt.Errorf("JWS algorithm %q refused: only %s is accepted", h.Algorithm, Alg)
	}
	if _, ok := h.ExtraHeaders["b64"]; ok {
		return nil, errors.New(`JWS "b64" header is not supported`)
	}
	if _, ok := h.ExtraHeaders["crit"]; ok {
		return nil, errors.New(`JWS "crit" header is not supported`)
	}
	if h.KeyID == "" {
		return nil, errors.New(`JWS protected header has no "kid": it must name the signing department`)
	}
	typ, _ := h.ExtraHeaders[jose.HeaderType].(string)
	input := compact[:strings.LastIndexByte(compact, '.')]
	return &Token{KeyID: h.KeyID, Type: typ, obj: obj, signingInput: []byte(input)}, nil
}

// UnverifiedPayload returns the payload without checking the signature. Use it only to
// route (for example to pick a key); never trust it.
func (t *Token) UnverifiedPayload() []byte { return t.obj.UnsafePayloadWithoutVerification() }

// Verify checks the SM2 signature with pub over the received signing input
// (BASE64URL(header) "." BASE64URL(payload)) and returns the payload. A wrong signature
// yields an error wrapping sm.ErrBadSignature.
func (t *Token) Verify(pub *ecdsa.PublicKey) ([]byte, error) {
	sig := t.obj.Signatures[0].Signature
	if len(sig) != sm.RawSignatureSize {
		return nil, fmt.Errorf("JWS signature must be %d bytes (r‖s), got %d", sm.RawSignatureSize, len(sig))
	}
	if err := sm.Verify(pub, t.signingInput, sig); err != nil {
		return nil, fmt.Errorf("JWS signature does not verify with the key of %q: %w", t.KeyID, err)
	}
	return t.obj.UnsafePayloadWithoutVerification(), nil
}
