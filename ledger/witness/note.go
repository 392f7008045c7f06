// Package witness lets other departments vouch for the audit log: the hub publishes
// checkpoints of its log (C2SP tlog-checkpoint, as signed notes), witnesses keep the last
// checkpoint they saw, check a consistency proof for every new one and cosign it
// (C2SP tlog-cosignature), over the HTTP protocol of C2SP tlog-witness. A hub that
// rolls its log back or forks it cannot get the new checkpoint cosigned: the witness
// refuses it and keeps the evidence.
//
// The formats follow the C2SP specifications with SM2 (default user ID) and SM3 in place
// of Ed25519 and SHA-256; docs/AUDIT.md gives them byte by byte:
//
//	checkpoint body   <origin>\n<size>\n<base64 root>\n
//	signature line    — <key name> base64(key id[4] ‖ SM2 DER signature over the body)
//	cosigned message  cosignature/v1\ntime <unix seconds>\n<checkpoint body>
//	cosignature line  — <witness name> base64(key id[4] ‖ time[8, big-endian] ‖ SM2 DER signature)
//	key id            SM3(name ‖ 0x0A ‖ type ‖ PKIX DER public key)[:4], type 0xA1 for a
//	                  log's checkpoint key, 0xA4 for a witness's cosigning key.
package witness

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/emmansun/gmsm/smx509"

	"github.com/gxhub/gxhub/certs/sm"
	"github.com/gxhub/gxhub/ledger"
	"github.com/gxhub/gxhub/ledger/sm2sig"
)

// Key types hashed into a key id (C2SP signed-note reserves the type byte; these two are
// gxhub's SM2 types).
const (
	TypeCheckpoint  byte = 0xA1
	TypeCosignature byte = 0xA4
)

const sigPrefix = "\u2014 " // "— ": every signature line of a signed note starts with it

// Checkpoint is one state of a log (C2SP tlog-checkpoint): its origin (the log id), size
// and root hash.
type Checkpoint struct {
	Origin string
	Size   uint64
	Root   []byte
}

// FromHead is the checkpoint of a tree head.
func FromHead(h ledger.TreeHead) Checkpoint {
	return Checkpoint{Origin: h.LogID, Size: h.Size, Root: h.Root}
}

// Body is the checkpoint text the signatures cover.
func (c Checkpoint) Body() []byte {
	return []byte(c.Origin + "\n" + strconv.FormatUint(c.Size, 10) + "\n" + base64.StdEncoding.EncodeToString(c.Root) + "\n")
}

// ParseBody parses a checkpoint body (extension lines are not accepted: gxhub emits none).
func ParseBody(b []byte) (Checkpoint, error) {
	s := string(b)
	if !strings.HasSuffix(s, "\n") {
		return Checkpoint{}, errors.New("checkpoint: body must end with a newline")
	}
	lines := strings.Split(strings.TrimSuffix(s, "\n"), "\n")
	if len(lines) != 3 {
		return Checkpoint{}, fmt.Errorf("checkpoint: want 3 lines (origin, size, root), got %d", len(lines))
	}
	if lines[0] == "" || strings.IndexFunc(lines[0], unicode.IsSpace) >= 0 {
		return Checkpoint{}, fmt.Errorf("checkpoint: origin %q must be non-empty without white space", lines[0])
	}
	size, err := strconv.ParseUint(lines[1], 10, 64)
	if err != nil || strconv.FormatUint(size, 10) != lines[1] {
		return Checkpoint{}, fmt.Errorf("checkpoint: size %q is not a decimal number", lines[1])
	}
	root, err := base64.StdEncoding.DecodeString(lines[2])
	if err != nil || len(root) != ledger.DigestSize {
		return Checkpoint{}, fmt.Errorf("checkpoint: root %q is not %d bytes of base64", lines[2], ledger.DigestSize)
	}
	return Checkpoint{Origin: lines[0], Size: size, Root: root}, nil
}

// Signature is one signature line of a signed note.
type Signature struct {
	Name string
	// Blob is the decoded base64: key id (4 bytes), then the type's signature bytes.
	Blob []byte
}

// Line formats s as a signature line (with its trailing newline).
func (s Signature) Line() string {
	return sigPrefix + s.Name + " " + base64.StdEncoding.EncodeToString(s.Blob) + "\n"
}

// Note is a signed note: a body and its signature lines.
type Note struct {
	Body       []byte
	Signatures []Signature
}

// Marshal is the note's text: body, an empty line, the signature lines.
func (n Note) Marshal() []byte {
	var b bytes.Buffer
	b.Write(n.Body)
	b.WriteString("\n")
	for _, s := range n.Signatures {
		b.WriteString(s.Line())
	}
	return b.Bytes()
}

// ParseNote splits a signed note into its body and signature lines.
func ParseNote(text []byte) (Note, error) {
	s := string(text)
	i := strings.LastIndex(s, "\n\n")
	if i < 0 {
		return Note{}, errors.New("signed note: no empty line between the body and the signatures")
	}
	n := Note{Body: []byte(s[:i+1])}
	rest := s[i+2:]
	if !strings.HasSuffix(rest, "\n") {
		return Note{}, errors.New("signed note: the last signature line must end with a newline")
	}
	for _, line := range strings.Split(strings.TrimSuffix(rest, "\n"), "\n") {
		sig, err := ParseSignatureLine(line)
		if err != nil {
			return Note{}, err
		}
		n.Signatures = append(n.Signatures, sig)
	}
	if len(n.Signatures) == 0 {
		return Note{}, errors.New("signed note: no signature")
	}
	return n, nil
}

// ParseSignatureLine parses "— name base64" (without the newline).
func ParseSignatureLine(line string) (Signature, error) {
	if !strings.HasPrefix(line, sigPrefix) {
		return Signature{}, fmt.Errorf("signed note: %q is not a signature line (— name signature)", line)
	}
	name, b64, ok := strings.Cut(strings.TrimPrefix(line, sigPrefix), " ")
	if !ok || name == "" {
		return Signature{}, fmt.Errorf("signed note: signature line %q has no key name", line)
	}
	blob, err := base64.StdEncoding.DecodeString(b64)
	if err != nil || len(blob) < 5 {
		return Signature{}, fmt.Errorf("signed note: signature of %q is not base64 of a key id and a signature", name)
	}
	return Signature{Name: name, Blob: blob}, nil
}

// KeyID is the 4-byte id of (name, type, pub).
func KeyID(name string, typ byte, pub *ecdsa.PublicKey) ([4]byte, error) {
	der, err := smx509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return [4]byte{}, fmt.Errorf("key id of %s: %w", name, err)
	}
	h := sm.NewHash()
	h.Write([]byte(name))
	h.Write([]byte{'\n', typ})
	h.Write(der)
	var id [4]byte
	copy(id[:], h.Sum(nil))
	return id, nil
}

// Key is a named SM2 public key of one type: a log's checkpoint key or a witness's
// cosigning key.
type Key struct {
	Name string
	Type byte
	id   [4]byte
	v    *sm2sig.Verifier
}

// NewKey returns the verification key name/typ/pub.
func NewKey(name string, typ byte, pub *ecdsa.PublicKey) (*Key, error) {
	if name == "" || strings.IndexFunc(name, unicode.IsSpace) >= 0 || strings.Contains(name, "+") {
		return nil, fmt.Errorf("key name %q must be non-empty, without white space or '+'", name)
	}
	v, err := sm2sig.NewVerifier(pub)
	if err != nil {
		return nil, err
	}
	id, err := KeyID(name, typ, pub)
	if err != nil {
		return nil, err
	}
	return &Key{Name: name, Type: typ, id: id, v: v}, nil
}

// ID is the key's 4-byte id.
func (k *Key) ID() [4]byte { return k.id }

// Signer signs checkpoints or cosignatures under a named key.
type Signer struct {
	Key
	s ledger.Signer
}

// NewSigner returns a Signer of type typ for name with s (an SM2 signer, e.g.
// sm2sig.Signer) whose public key is pub.
func NewSigner(name string, typ byte, s ledger.Signer, pub *ecdsa.PublicKey) (*Signer, error) {
	k, err := NewKey(name, typ, pub)
	if err != nil {
		return nil, err
	}
	if k.v.KeyID() != s.KeyID() {
		return nil, fmt.Errorf("signer of %s: the public key does not belong to the signing key", name)
	}
	return &Signer{Key: *k, s: s}, nil
}

// SignCheckpoint returns the signed note of c, signed by s (TypeCheckpoint).
func (s *Signer) SignCheckpoint(ctx context.Context, c Checkpoint) ([]byte, error) {
	if s.Type != TypeCheckpoint {
		return nil, errors.New("sign checkpoint: not a checkpoint key")
	}
	body := c.Body()
	sig, err := s.s.Sign(ctx, body)
	if err != nil {
		return nil, fmt.Errorf("sign checkpoint %d: %w", c.Size, err)
	}
	return Note{Body: body, Signatures: []Signature{{Name: s.Name, Blob: append(s.id[:], sig...)}}}.Marshal(), nil
}

// cosignedMessage is what a cosignature covers (tlog-cosignature v1).
func cosignedMessage(body []byte, t uint64) []byte {
	return append([]byte("cosignature/v1\ntime "+strconv.FormatUint(t, 10)+"\n"), body...)
}

// Cosign returns s's cosignature (TypeCosignature) of the checkpoint body at time t.
func (s *Signer) Cosign(ctx context.Context, body []byte, t time.Time) (Signature, error) {
	if s.Type != TypeCosignature {
		return Signature{}, errors.New("cosign: not a cosigning key")
	}
	ts := uint64(t.Unix())
	sig, err := s.s.Sign(ctx, cosignedMessage(body, ts))
	if err != nil {
		return Signature{}, fmt.Errorf("cosign: %w", err)
	}
	blob := append(s.id[:], binary.BigEndian.AppendUint64(nil, ts)...)
	return Signature{Name: s.Name, Blob: append(blob, sig...)}, nil
}

// ErrNoSignature means a note carries no valid signature by the key asked for.
var ErrNoSignature = fmt.Errorf("%w: no valid signature by the required key", ledger.ErrVerification)

// Verify checks sig against body with k: the name and key id must match and the SM2
// signature must verify. For a cosignature it returns the cosigning time.
func (k *Key) Verify(body []byte, sig Signature) (time.Time, error) {
	if sig.Name != k.Name || !bytes.Equal(sig.Blob[:4], k.id[:]) {
		return time.Time{}, fmt.Errorf("%w: signature by %q (key id %x), want %q (key id %x)", ErrNoSignature, sig.Name, sig.Blob[:4], k.Name, k.id)
	}
	switch k.Type {
	case TypeCheckpoint:
		if err := k.v.Verify(body, sig.Blob[4:]); err != nil {
			return time.Time{}, fmt.Errorf("signature of %s: %w", k.Name, err)
		}
		return time.Time{}, nil
	case TypeCosignature:
		if len(sig.Blob) < 4+8+8 {
			return time.Time{}, fmt.Errorf("%w: cosignature of %s is too short", ledger.ErrVerification, k.Name)
		}
		ts := binary.BigEndian.Uint64(sig.Blob[4:12])
		if err := k.v.Verify(cosignedMessage(body, ts), sig.Blob[12:]); err != nil {
			return time.Time{}, fmt.Errorf("cosignature of %s: %w", k.Name, err)
		}
		return time.Unix(int64(ts), 0).UTC(), nil
	}
	return time.Time{}, fmt.Errorf("key %s has unknown type %#x", k.Name, k.Type)
}

// VerifyNote finds k's signature in n and verifies it.
func (k *Key) VerifyNote(n Note) (time.Time, error) {
	var firstErr error
	for _, s := range n.Signatures {
		if s.Name != k.Name || !bytes.Equal(s.Blob[:4], k.id[:]) {
			continue
		}
		t, err := k.Verify(n.Body, s)
		if err == nil {
			return t, nil
		}
		firstErr = err
	}
	if firstErr != nil {
		return time.Time{}, firstErr
	}
	return time.Time{}, fmt.Errorf("%w: the note carries no signature of %s", ErrNoSignature, k.Name)
}

// ErrThreshold means fewer witnesses cosigned a checkpoint than required.
var ErrThreshold = fmt.Errorf("%w: not enough witness cosignatures", ledger.ErrVerification)

// VerifyCosigned checks a cosigned checkpoint note offline: the log's signature by
// logKey, and valid cosignatures by at least threshold of witnesses (each counted once).
// It returns the checkpoint and the names of the witnesses whose cosignature verified.
func VerifyCosigned(note []byte, logKey *Key, witnesses []*Key, threshold int) (Checkpoint, []string, error) {
	n, err := ParseNote(note)
	if err != nil {
		return Checkpoint{}, nil, fmt.Errorf("%w: %v", ledger.ErrVerification, err)
	}
	c, err := ParseBody(n.Body)
	if err != nil {
		return Checkpoint{}, nil, fmt.Errorf("%w: %v", ledger.ErrVerification, err)
	}
	if logKey.Type != TypeCheckpoint || c.Origin != logKey.Name {
		return Checkpoint{}, nil, fmt.Errorf("%w: checkpoint of log %q, the log key is %q's", ledger.ErrVerification, c.Origin, logKey.Name)
	}
	if _, err := logKey.VerifyNote(n); err != nil {
		return Checkpoint{}, nil, err
	}
	var ok []string
	var missing []string
	for _, w := range witnesses {
		if w.Type != TypeCosignature {
			return Checkpoint{}, nil, fmt.Errorf("%w: key %s is not a witness's cosigning key", ledger.ErrInvalid, w.Name)
		}
		if _, err := w.VerifyNote(n); err != nil {
			missing = append(missing, fmt.Sprintf("%s (%v)", w.Name, err))
			continue
		}
		ok = append(ok, w.Name)
	}
	if len(ok) < threshold {
		return c, ok, fmt.Errorf("%w: %d of the %d named witnesses cosigned checkpoint %d, %d required; missing: %s",
			ErrThreshold, len(ok), len(witnesses), c.Size, threshold, strings.Join(missing, "; "))
	}
	return c, ok, nil
}
