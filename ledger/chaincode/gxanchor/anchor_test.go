package gxanchor

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/asn1"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"testing"
	"time"

	"github.com/emmansun/gmsm/sm2"
	"github.com/emmansun/gmsm/smx509"
	"github.com/stretchr/testify/require"
)

// memState is an in-memory State (a map), standing in for Fabric's world state.
type memState map[string][]byte

func (m memState) GetState(k string) ([]byte, error) { return m[k], nil }
func (m memState) PutState(k string, v []byte) error {
	m[k] = append([]byte(nil), v...)
	return nil
}

// failingState fails every read, like a peer that cannot reach its state database.
type failingState struct{}

func (failingState) GetState(string) ([]byte, error) {
	return nil, errors.New("state database unavailable")
}
func (failingState) PutState(string, []byte) error { return errors.New("state database unavailable") }

type signer struct {
	key    *sm2.PrivateKey
	pubPEM string
}

func newSigner(t *testing.T) signer {
	t.Helper()
	k, err := sm2.GenerateKey(rand.Reader)
	require.NoError(t, err)
	der, err := smx509.MarshalPKIXPublicKey(&k.PublicKey)
	require.NoError(t, err)
	return signer{key: k, pubPEM: string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))}
}

const testTime = int64(1763755200000000000)

// head signs the head of the tree over d with s.
func (s signer) head(t *testing.T, logID string, d [][]byte) Head {
	t.Helper()
	root := refMTH(d)
	ts := testTime + int64(len(d))*1000
	sig, err := sm2.SignASN1(rand.Reader, s.key, SignedMessage(logID, uint64(len(d)), root, ts), sm2.DefaultSM2SignerOpts)
	require.NoError(t, err)
	return Head{LogID: logID, Size: uint64(len(d)), RootHash: b64(root), Time: ts, Signature: b64(sig)}
}

var b64 = base64.StdEncoding.EncodeToString

func b64Proof(p [][]byte) []string {
	out := make([]string, len(p))
	for i, n := range p {
		out[i] = b64(n)
	}
	return out
}

func txN(i int) Tx {
	return Tx{ID: fmt.Sprintf("tx%03d", i), Time: time.Date(2026, 11, 21, 20, 0, i, 0, time.UTC)}
}

func TestSignedMessage(t *testing.T) {
	// The same bytes as the hub's ledger.TreeHead.SignedBytes for this head.
	root, _ := hex.DecodeString("1ab21d8355cfa17f8e61194831e81a8f22bec8c728fefb747ed035eb5082aa2b")
	require.Equal(t,
		"gxhub/ledger/tree-head/v1\nlog gxhub.example.gov.cn/audit\nsize 0\nroot GrIdg1XPoX+OYRlIMegajyK+yMco/vt0ftA161CCqis=\ntime 1763755200000000000\n",
		string(SignedMessage("gxhub.example.gov.cn/audit", 0, root, 1763755200000000000)))
}

func TestInitLog(t *testing.T) {
	a, b := newSigner(t), newSigner(t)
	p256, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	p256DER, err := smx509.MarshalPKIXPublicKey(&p256.PublicKey)
	require.NoError(t, err)
	p256PEM := string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: p256DER}))

	st := memState{}
	info, err := InitLog(st, txN(1), "dept1.audit", a.pubPEM)
	require.NoError(t, err)
	require.Equal(t, "tx001", info.TxID)
	require.Len(t, info.KeyID, 32)

	tests := []struct {
		name, logID, pem string
		want             error
	}{
		{"same key again is a no-op", "dept1.audit", a.pubPEM, nil},
		{"different key for a registered log", "dept1.audit", b.pubPEM, ErrLogExists},
		{"second log", "dept2.audit", b.pubPEM, nil},
		{"empty log id", "", a.pubPEM, ErrInvalid},
		{"log id with slash and Chinese", "gxhub.example.gov.cn/审计", a.pubPEM, nil},
		{"log id with space", "a b", a.pubPEM, ErrInvalid},
		{"log id with newline", "a\nb", a.pubPEM, ErrInvalid},
		{"not PEM", "x", "hello", ErrInvalid},
		{"NIST P-256 key", "x", p256PEM, ErrInvalid},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := InitLog(st, txN(2), tc.logID, tc.pem)
			if tc.want != nil {
				require.ErrorIs(t, err, tc.want)
				require.True(t, IsRefusal(err))
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.logID, got.LogID)
		})
	}
	got, err := GetLog(st, "dept1.audit")
	require.NoError(t, err)
	require.Equal(t, "tx001", got.TxID, "re-registering the same key must not overwrite")
	_, err = GetLog(st, "nope")
	require.ErrorIs(t, err, ErrUnknownLog)
}

func TestAnchorHeadSequence(t *testing.T) {
	s := newSigner(t)
	const logID = "gxhub:audit"
	st := memState{}
	_, err := InitLog(st, txN(0), logID, s.pubPEM)
	require.NoError(t, err)

	_, err = LatestHead(st, logID)
	require.ErrorIs(t, err, ErrNotFound)

	d := leaves(40, "seq")
	prev := 0
	for i, size := range []int{0, 1, 2, 3, 7, 8, 9, 16, 17, 31, 40} {
		var p []string
		if i > 0 {
			p = b64Proof(refConsistency(prev, d[:size]))
		}
		h := s.head(t, logID, d[:size])
		a, created, err := AnchorHead(st, txN(i+1), h, p)
		require.NoError(t, err, "size %d", size)
		require.True(t, created)
		require.Equal(t, h, a.Head())
		require.Equal(t, txN(i+1).ID, a.TxID)
		require.Equal(t, uint64(i+1), a.Height)
		require.Equal(t, nilIfEmpty(p), nilIfEmpty(a.Consistency))
		byHeight, err := AnchorAt(st, logID, a.Height)
		require.NoError(t, err)
		require.Equal(t, a, byHeight)

		latest, err := LatestHead(st, logID)
		require.NoError(t, err)
		require.Equal(t, a, latest)
		prev = size
	}
	for _, size := range []uint64{0, 8, 40} {
		a, err := HeadAt(st, logID, size)
		require.NoError(t, err)
		require.Equal(t, b64(refMTH(d[:size])), a.RootHash)
	}
	_, err = HeadAt(st, logID, 5)
	require.ErrorIs(t, err, ErrNotFound)
}

func TestAnchorHeadRefusals(t *testing.T) {
	s, other := newSigner(t), newSigner(t)
	const logID = "gxhub:audit"
	d := leaves(20, "main")
	forked := append(append([][]byte{}, d[:5]...), leaves(15, "fork")...) // same first 5 leaves

	// setup: heads of size 4 and 10 anchored.
	setup := func(t *testing.T) memState {
		st := memState{}
		_, err := InitLog(st, txN(0), logID, s.pubPEM)
		require.NoError(t, err)
		_, _, err = AnchorHead(st, txN(1), s.head(t, logID, d[:4]), nil)
		require.NoError(t, err)
		_, _, err = AnchorHead(st, txN(2), s.head(t, logID, d[:10]), b64Proof(refConsistency(4, d[:10])))
		require.NoError(t, err)
		return st
	}
	good := func(t *testing.T) Head { return s.head(t, logID, d[:15]) }
	goodProof := b64Proof(refConsistency(10, d[:15]))

	tests := []struct {
		name  string
		head  func(t *testing.T) Head
		proof []string
		want  error // nil: accepted
	}{
		{"valid extension", good, goodProof, nil},
		{"resubmitting the latest head is a no-op", func(t *testing.T) Head { return s.head(t, logID, d[:10]) }, nil, nil},
		{"resubmitting an older anchored head is stale", func(t *testing.T) Head { return s.head(t, logID, d[:4]) }, nil, ErrStale},
		{"fork at the latest size", func(t *testing.T) Head { return s.head(t, logID, forked[:10]) }, nil, ErrFork},
		{"smaller size from a forked tree", func(t *testing.T) Head { return s.head(t, logID, forked[:3]) }, nil, ErrStale},
		{"fork at an older anchored size", func(t *testing.T) Head { h := s.head(t, logID, d[:4]); return resign(t, s, h, refMTH(forked[6:10])) }, nil, ErrFork},
		{"smaller size never anchored", func(t *testing.T) Head { return s.head(t, logID, d[:7]) }, nil, ErrStale},
		{"forked tree with its own valid proof", func(t *testing.T) Head { return s.head(t, logID, forked[:15]) }, b64Proof(refConsistency(10, forked[:15])), ErrInconsistent},
		{"forked tree with the real proof", func(t *testing.T) Head { return s.head(t, logID, forked[:15]) }, goodProof, ErrInconsistent},
		{"valid head, proof for other sizes", good, b64Proof(refConsistency(4, d[:15])), ErrInconsistent},
		{"valid head, no proof", good, nil, ErrInconsistent},
		{"valid head, proof element altered", good, func() []string {
			p := append([]string{}, goodProof...)
			p[0] = b64(refLeaf([]byte("x")))
			return p
		}(), ErrInconsistent},
		{"signed by another key", func(t *testing.T) Head { return other.head(t, logID, d[:15]) }, goodProof, ErrBadSignature},
		{"timestamp altered after signing", func(t *testing.T) Head { h := good(t); h.Time++; return h }, goodProof, ErrBadSignature},
		{"signature not base64", func(t *testing.T) Head { h := good(t); h.Signature = "!!"; return h }, goodProof, ErrInvalid},
		{"root not base64", func(t *testing.T) Head { h := good(t); h.RootHash = "zz!"; return h }, goodProof, ErrInvalid},
		{"root too short", func(t *testing.T) Head { h := good(t); h.RootHash = b64(make([]byte, 31)); return h }, goodProof, ErrInvalid},
		{"proof element not base64", good, []string{"xyz!"}, ErrInvalid},
		{"raw r‖s signature is accepted", func(t *testing.T) Head { h := good(t); h.Signature = b64(derToRaw(t, h.Signature)); return h }, goodProof, nil},
		{"zero timestamp", func(t *testing.T) Head { h := good(t); h.Time = 0; return h }, goodProof, ErrInvalid},
		{"unknown log", func(t *testing.T) Head { return s.head(t, "other", d[:15]) }, goodProof, ErrUnknownLog},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			st := setup(t)
			before := len(st)
			latestBefore, err := LatestHead(st, logID)
			require.NoError(t, err)
			h := tc.head(t)
			a, created, err := AnchorHead(st, txN(9), h, tc.proof)
			if tc.want != nil {
				require.ErrorIs(t, err, tc.want)
				require.True(t, IsRefusal(err))
				require.Contains(t, err.Error(), tc.want.Error(), "message must carry the code for gateway clients")
				require.Len(t, st, before, "a refused head must not change state")
				latest, err := LatestHead(st, logID)
				require.NoError(t, err)
				require.Equal(t, latestBefore, latest)
				return
			}
			require.NoError(t, err)
			require.Equal(t, h.RootHash, a.RootHash)
			der, err := base64.StdEncoding.DecodeString(a.Signature)
			require.NoError(t, err)
			require.Equal(t, byte(0x30), der[0], "signatures are stored as DER")
			if !created {
				require.Len(t, st, before)
			}
		})
	}
}

// resign returns h with another root, properly signed: the signature is valid, only the
// tree is different.
func resign(t *testing.T, s signer, h Head, root []byte) Head {
	t.Helper()
	sig, err := sm2.SignASN1(rand.Reader, s.key, SignedMessage(h.LogID, h.Size, root, h.Time), sm2.DefaultSM2SignerOpts)
	require.NoError(t, err)
	h.RootHash = b64(root)
	h.Signature = b64(sig)
	return h
}

func derToRaw(t *testing.T, sigB64 string) []byte {
	t.Helper()
	der, err := base64.StdEncoding.DecodeString(sigB64)
	require.NoError(t, err)
	var rs struct{ R, S *big.Int }
	_, err = asn1.Unmarshal(der, &rs)
	require.NoError(t, err)
	raw := make([]byte, 64)
	rs.R.FillBytes(raw[:32])
	rs.S.FillBytes(raw[32:])
	return raw
}

func nilIfEmpty(s []string) []string {
	if len(s) == 0 {
		return nil
	}
	return s
}

func TestAnchorHeadFirstHead(t *testing.T) {
	s := newSigner(t)
	d := leaves(5, "first")
	tests := []struct {
		name  string
		head  Head
		proof []string
		want  error
	}{
		{"first head needs no proof", s.head(t, "l", d), nil, nil},
		{"first head with a proof", s.head(t, "l", d), b64Proof(refConsistency(2, d)), ErrInvalid},
		{"size 0 with a non-empty root", resign(t, s, s.head(t, "l", nil), refMTH(d)), nil, ErrInvalid},
		{"size 0 with the empty root", s.head(t, "l", nil), nil, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			st := memState{}
			_, err := InitLog(st, txN(0), "l", s.pubPEM)
			require.NoError(t, err)
			_, _, err = AnchorHead(st, txN(1), tc.head, tc.proof)
			if tc.want != nil {
				require.ErrorIs(t, err, tc.want)
				return
			}
			require.NoError(t, err)
		})
	}
}

func TestStateFailureIsNotARefusal(t *testing.T) {
	s := newSigner(t)
	_, _, err := AnchorHead(failingState{}, txN(1), s.head(t, "l", leaves(2, "x")), nil)
	require.Error(t, err)
	require.Contains(t, err.Error(), "state database unavailable")
	require.False(t, IsRefusal(err))
}
