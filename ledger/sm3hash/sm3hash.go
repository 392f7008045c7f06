// Package sm3hash provides the SM3 hash functions of the audit ledger: the
// RFC 6962 Merkle tree hasher with SM3 in place of SHA-256 (leaf hash
// SM3(0x00 || leaf), node hash SM3(0x01 || left || right), empty root
// SM3("")), implementing transparency-dev/merkle's LogHasher, and the
// HMAC-SM3 keyed hash of data subjects.
package sm3hash

import (
	"crypto/hmac"
	"fmt"

	"github.com/transparency-dev/merkle"

	"github.com/gxhub/gxhub/certs/sm"
	"github.com/gxhub/gxhub/ledger"
)

// RFC 6962 domain-separation prefixes.
const (
	LeafPrefix = 0x00
	NodePrefix = 0x01
)

// Hasher is the RFC 6962 tree hasher with SM3. The zero value is ready to use.
type Hasher struct{}

// Default is the hasher used throughout the ledger.
var Default = Hasher{}

var _ merkle.LogHasher = Hasher{}

// EmptyRoot returns SM3 of the empty string, the root of an empty tree.
func (Hasher) EmptyRoot() []byte {
	s := sm.Sum(nil)
	return s[:]
}

// HashLeaf returns SM3(0x00 || leaf).
func (Hasher) HashLeaf(leaf []byte) []byte {
	h := sm.NewHash()
	h.Write([]byte{LeafPrefix})
	h.Write(leaf)
	return h.Sum(nil)
}

// HashChildren returns SM3(0x01 || l || r).
func (Hasher) HashChildren(l, r []byte) []byte {
	h := sm.NewHash()
	b := make([]byte, 0, 1+len(l)+len(r))
	b = append(b, NodePrefix)
	b = append(b, l...)
	b = append(b, r...)
	h.Write(b)
	return h.Sum(nil)
}

// Size returns 32, the SM3 digest size.
func (Hasher) Size() int { return sm.HashSize }

// Sum returns the plain SM3 digest of b (used for response digests and
// anchor block hashes).
func Sum(b []byte) []byte {
	s := sm.Sum(b)
	return s[:]
}

// MinSubjectKeyLen is the minimum length of the subject HMAC key.
const MinSubjectKeyLen = 16

// SubjectKeyer returns a [ledger.SubjectKeyFunc] computing
// HMAC-SM3(key, ledger.NormalizeSubject(subject)). key is the hub's
// configured subject key (at least 16 bytes, ideally 32 random bytes); it
// must stay the same for the life of the log, or old records become
// unsearchable. An empty subject gives the zero key (no subject).
func SubjectKeyer(key []byte) (ledger.SubjectKeyFunc, error) {
	if len(key) < MinSubjectKeyLen {
		return nil, fmt.Errorf("%w: subject HMAC key is %d bytes; configure at least %d random bytes", ledger.ErrInvalid, len(key), MinSubjectKeyLen)
	}
	k := append([]byte(nil), key...)
	return func(subject string) ledger.SubjectKey {
		var out ledger.SubjectKey
		s := ledger.NormalizeSubject(subject)
		if s == "" {
			return out
		}
		m := hmac.New(sm.NewHash, k)
		m.Write([]byte(s))
		copy(out[:], m.Sum(nil))
		return out
	}, nil
}
