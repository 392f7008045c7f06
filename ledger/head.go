package ledger

import (
	"context"
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// TreeHead is the state of a Merkle log at one size: its RFC 6962 root hash
// with SM3 as the hash function.
type TreeHead struct {
	// LogID names the log (e.g. "gxhub.example.gov.cn/audit"). It must be
	// 1 to 256 bytes of printable UTF-8 without white space.
	LogID string
	// Size is the number of leaves.
	Size uint64
	// Root is the Merkle tree hash of the first Size leaves; for Size 0 it
	// is SM3 of the empty string.
	Root []byte
	// Time is when the head was produced.
	Time time.Time
}

// Tree-head encoding, version 1: the bytes an SM2 signature over a head
// covers ([TreeHead.SignedBytes]) are these five lines, each ended by "\n":
//
//	gxhub/ledger/tree-head/v1
//	log <LogID>
//	size <Size in decimal>
//	root <Root in standard base64 with padding>
//	time <Time as decimal Unix nanoseconds>
const treeHeadHeader = "gxhub/ledger/tree-head/v1"

// Validate reports whether h can be signed and verified. The error wraps
// [ErrInvalid].
func (h *TreeHead) Validate() error {
	if err := validToken("log id", h.LogID); err != nil {
		return err
	}
	if len(h.Root) != DigestSize {
		return fmt.Errorf("%w: tree head root is %d bytes, want %d (SM3)", ErrInvalid, len(h.Root), DigestSize)
	}
	if h.Time.IsZero() {
		return fmt.Errorf("%w: tree head has no time", ErrInvalid)
	}
	return nil
}

// SignedBytes returns the canonical encoding of h that signatures cover
// (see the format above). It fails with [ErrInvalid] if h is not valid.
func (h *TreeHead) SignedBytes() ([]byte, error) {
	if err := h.Validate(); err != nil {
		return nil, err
	}
	var b strings.Builder
	b.WriteString(treeHeadHeader + "\n")
	b.WriteString("log " + h.LogID + "\n")
	b.WriteString("size " + strconv.FormatUint(h.Size, 10) + "\n")
	b.WriteString("root " + base64.StdEncoding.EncodeToString(h.Root) + "\n")
	b.WriteString("time " + strconv.FormatInt(h.Time.UnixNano(), 10) + "\n")
	return []byte(b.String()), nil
}

// SignedTreeHead is a [TreeHead] with the log's SM2 signature over
// [TreeHead.SignedBytes].
type SignedTreeHead struct {
	TreeHead
	// KeyID identifies the signing key (see [Signer.KeyID]).
	KeyID string
	// Signature is the DER-encoded SM2 signature (default user ID).
	Signature []byte
}

// SameHead reports whether a and b describe the same tree state (log, size
// and root); time and signature may differ.
func SameHead(a, b TreeHead) bool {
	return a.LogID == b.LogID && a.Size == b.Size && string(a.Root) == string(b.Root)
}

// Signer signs tree heads and anchor blocks. The sm2sig package provides
// one over an SM2 private key with the default user ID.
type Signer interface {
	// KeyID returns a stable identifier of the public key, stored next to
	// each signature so verifiers can pick the right key.
	KeyID() string
	// Sign returns a signature over msg (the message itself, not a digest:
	// SM2 hashes Z‖msg with SM3 internally). Errors are returned as is;
	// callers treat them as transient ([ErrUnavailable]) when they wrap it.
	Sign(ctx context.Context, msg []byte) ([]byte, error)
}

// Verifier checks signatures made by a [Signer].
type Verifier interface {
	// KeyID returns the identifier of the verification key; it equals the
	// matching Signer's KeyID.
	KeyID() string
	// Verify returns nil if sig is a valid signature of msg, and an error
	// wrapping [ErrVerification] otherwise.
	Verify(msg, sig []byte) error
}

// MaxTokenLength bounds log ids and key ids, in bytes.
const MaxTokenLength = 256

func validToken(what, s string) error {
	if s == "" || len(s) > MaxTokenLength {
		return fmt.Errorf("%w: %s must be 1 to %d bytes, got %d", ErrInvalid, what, MaxTokenLength, len(s))
	}
	if !utf8.ValidString(s) {
		return fmt.Errorf("%w: %s %q is not valid UTF-8", ErrInvalid, what, s)
	}
	for _, r := range s {
		if r <= ' ' || r == 0x7f || !unicode.IsPrint(r) {
			return fmt.Errorf("%w: %s %q contains white space or a control character", ErrInvalid, what, s)
		}
	}
	return nil
}
