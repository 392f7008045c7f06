package gxanchor

import (
	"github.com/emmansun/gmsm/sm3"
	"github.com/transparency-dev/merkle"
)

// HashSize is the size of an SM3 digest, the size of every node and root hash of the log.
const HashSize = sm3.Size

// RFC 6962 domain-separation prefixes.
const (
	leafPrefix = 0x00
	nodePrefix = 0x01
)

// Hasher is the RFC 6962 Merkle tree hasher with SM3 in place of SHA-256: a leaf hashes to
// SM3(0x00 ‖ leaf), an interior node to SM3(0x01 ‖ left ‖ right), the empty tree to SM3("").
var Hasher merkle.LogHasher = sm3Hasher{}

type sm3Hasher struct{}

// EmptyRoot returns SM3 of the empty string.
func (sm3Hasher) EmptyRoot() []byte {
	s := sm3.Sum(nil)
	return s[:]
}

// HashLeaf returns SM3(0x00 ‖ leaf).
func (sm3Hasher) HashLeaf(leaf []byte) []byte {
	h := sm3.New()
	h.Write([]byte{leafPrefix})
	h.Write(leaf)
	return h.Sum(nil)
}

// HashChildren returns SM3(0x01 ‖ l ‖ r).
func (sm3Hasher) HashChildren(l, r []byte) []byte {
	h := sm3.New()
	h.Write([]byte{nodePrefix})
	h.Write(l)
	h.Write(r)
	return h.Sum(nil)
}

// Size returns HashSize.
func (sm3Hasher) Size() int { return HashSize }
