package gxanchor

// An independent, deliberately naive RFC 6962 §2.1 implementation (MTH, PROOF/SUBPROOF)
// over SM3, used to cross-check Hasher with transparency-dev/merkle's verifier and to
// produce trees and consistency proofs for the contract tests.

import "github.com/emmansun/gmsm/sm3"

func refLeaf(d []byte) []byte {
	s := sm3.Sum(append([]byte{0x00}, d...))
	return s[:]
}

func refNode(l, r []byte) []byte {
	s := sm3.Sum(append(append([]byte{0x01}, l...), r...))
	return s[:]
}

// split returns the largest power of two smaller than n (n > 1).
func split(n int) int {
	k := 1
	for k<<1 < n {
		k <<= 1
	}
	return k
}

// refMTH is MTH(D[n]) of RFC 6962 §2.1.
func refMTH(d [][]byte) []byte {
	switch len(d) {
	case 0:
		s := sm3.Sum(nil)
		return s[:]
	case 1:
		return refLeaf(d[0])
	}
	k := split(len(d))
	return refNode(refMTH(d[:k]), refMTH(d[k:]))
}

// refConsistency is PROOF(m, D[n]) of RFC 6962 §2.1.2.
func refConsistency(m int, d [][]byte) [][]byte {
	if m == 0 || m == len(d) {
		return nil
	}
	return refSubproof(m, d, true)
}

func refSubproof(m int, d [][]byte, b bool) [][]byte {
	n := len(d)
	if m == n {
		if b {
			return nil
		}
		return [][]byte{refMTH(d)}
	}
	k := split(n)
	if m <= k {
		return append(refSubproof(m, d[:k], b), refMTH(d[k:]))
	}
	return append(refSubproof(m-k, d[k:], false), refMTH(d[:k]))
}

func leaves(n int, tag string) [][]byte {
	d := make([][]byte, n)
	for i := range d {
		d[i] = []byte(tag + "-record-" + string(rune('A'+i%26)) + "-" + itoa(i))
	}
	return d
}

func itoa(i int) string {
	if i == 0 {
		return "0"
	}
	var b []byte
	for ; i > 0; i /= 10 {
		b = append([]byte{byte('0' + i%10)}, b...)
	}
	return string(b)
}
