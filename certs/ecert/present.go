package ecert

import (
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/gxhub/gxhub/certs/jws"
	"github.com/gxhub/gxhub/certs/sm"
)

// PresentationType is the JWS "typ" of a presentation (亮证) token.
const PresentationType = "gxhub-ecert-present+jws"

// MaxPresentationLifetime is the longest a presentation may be valid.
const MaxPresentationLifetime = 24 * time.Hour

// ErrPresentationExpired is wrapped when a presentation is used outside its time window.
var ErrPresentationExpired = errors.New("the presentation is outside its validity window")

// Presentation lets one approver (Audience) use one sealed licence for one purpose, for a
// limited time: the holder shows it (亮证), the approver checks it with VerifyPresentation.
// It is signed by the party that authenticated the holder (the hub).
type Presentation struct {
	// ID is a random identifier for audit and replay detection (jti).
	ID string `json:"jti"`
	// Identifier is the licence's GB/T 36904 identifier.
	Identifier string `json:"ecert_id"`
	// SealedSM3 is the hex SM3 of the sealed licence token presented with it.
	SealedSM3 string `json:"ecert_sm3"`
	// Holder is the holder's code (持证主体代码) as in the licence.
	Holder string `json:"holder"`
	// Audience is the USCC of the approving department allowed to use it.
	Audience string `json:"aud"`
	// Purpose is the reason for use (用证事由), required.
	Purpose string `json:"purpose"`
	// MatterCode is the government-service matter code (事项编码), if any.
	MatterCode string `json:"matter,omitempty"`
	// IssuedAt and ExpiresAt bound the validity (Unix seconds).
	IssuedAt  int64 `json:"iat"`
	ExpiresAt int64 `json:"exp"`
}

// SealedDigest returns the hex SM3 of a sealed licence token, as bound by a presentation.
func SealedDigest(sealed string) string {
	sum := sm.Sum([]byte(sealed))
	return hex.EncodeToString(sum[:])
}

// Present makes a presentation token for sealed, valid from now for lifetime (at most
// MaxPresentationLifetime), for audience and purpose. It reads the licence identifier and
// holder from the sealed token without verifying it: verify the licence (VerifySealed)
// before presenting it. key signs the token under kid.
func Present(sealed string, audience, purpose, matterCode string, now time.Time, lifetime time.Duration, key *sm.PrivateKey, kid string) (string, error) {
	if strings.TrimSpace(purpose) == "" {
		return "", errors.New("present licence: a purpose (用证事由) is required")
	}
	if audience == "" {
		return "", errors.New("present licence: the approving department (audience) is required")
	}
	if lifetime <= 0 || lifetime > MaxPresentationLifetime {
		return "", fmt.Errorf("present licence: lifetime %s must be positive and at most %s", lifetime, MaxPresentationLifetime)
	}
	t, err := jws.Parse(sealed)
	if err != nil || t.Type != SealedType {
		return "", fmt.Errorf("present licence: not a sealed licence token: %v", err)
	}
	var p sealedPayload
	if err := json.Unmarshal(t.UnverifiedPayload(), &p); err != nil || p.Licence == nil {
		return "", fmt.Errorf("present licence: sealed payload has no licence: %v", err)
	}
	jti := make([]byte, 16)
	if _, err := rand.Read(jti); err != nil {
		return "", fmt.Errorf("present licence: %w", err)
	}
	pr := Presentation{
		ID:         hex.EncodeToString(jti),
		Identifier: p.Licence.Identifier,
		SealedSM3:  SealedDigest(sealed),
		Holder:     p.Licence.HolderCode,
		Audience:   audience,
		Purpose:    purpose,
		MatterCode: matterCode,
		IssuedAt:   now.Unix(),
		ExpiresAt:  now.Add(lifetime).Unix(),
	}
	payload, err := json.Marshal(pr)
	if err != nil {
		return "", fmt.Errorf("present licence: %w", err)
	}
	return jws.Sign(key, kid, PresentationType, payload)
}

// VerifyPresentation checks a presentation token against the sealed licence shown with it:
// the JWS type and signature by pub, that it binds this exact sealed token and its
// identifier and holder, that audience is the approver it was made for, that now lies in
// its window (which is at most MaxPresentationLifetime) and that it states a purpose. The
// sealed licence itself must be checked with VerifySealed.
func VerifyPresentation(token, sealed string, pub *ecdsa.PublicKey, audience string, now time.Time) (*Presentation, error) {
	t, err := jws.Parse(token)
	if err != nil {
		return nil, fmt.Errorf("presentation: %w", err)
	}
	if t.Type != PresentationType {
		return nil, fmt.Errorf("presentation: JWS type %q is not %q", t.Type, PresentationType)
	}
	payload, err := t.Verify(pub)
	if err != nil {
		return nil, fmt.Errorf("presentation: %w", err)
	}
	var pr Presentation
	if err := json.Unmarshal(payload, &pr); err != nil {
		return nil, fmt.Errorf("presentation: payload: %w", err)
	}
	if subtle.ConstantTimeCompare([]byte(pr.SealedSM3), []byte(SealedDigest(sealed))) != 1 {
		return nil, errors.New("presentation: it was made for another sealed licence (SM3 differs)")
	}
	st, err := jws.Parse(sealed)
	if err != nil {
		return nil, fmt.Errorf("presentation: sealed licence: %w", err)
	}
	var sp sealedPayload
	if err := json.Unmarshal(st.UnverifiedPayload(), &sp); err != nil || sp.Licence == nil {
		return nil, errors.New("presentation: the sealed token carries no licence")
	}
	if pr.Identifier != sp.Licence.Identifier || pr.Holder != sp.Licence.HolderCode {
		return nil, errors.New("presentation: identifier or holder differs from the sealed licence")
	}
	if pr.Audience != audience {
		return nil, fmt.Errorf("presentation: made for approver %s, not %s", pr.Audience, audience)
	}
	if strings.TrimSpace(pr.Purpose) == "" {
		return nil, errors.New("presentation: no purpose (用证事由)")
	}
	iat, exp := time.Unix(pr.IssuedAt, 0), time.Unix(pr.ExpiresAt, 0)
	if !exp.After(iat) || exp.Sub(iat) > MaxPresentationLifetime {
		return nil, fmt.Errorf("presentation: window %s..%s is empty or longer than %s", iat.UTC().Format(time.RFC3339), exp.UTC().Format(time.RFC3339), MaxPresentationLifetime)
	}
	if now.Before(iat) || !now.Before(exp) {
		return nil, fmt.Errorf("presentation: %w: %s is outside %s..%s", ErrPresentationExpired, now.UTC().Format(time.RFC3339), iat.UTC().Format(time.RFC3339), exp.UTC().Format(time.RFC3339))
	}
	return &pr, nil
}
