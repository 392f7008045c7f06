package ledger_test

import (
	"bytes"
	"encoding/hex"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gxhub/gxhub/ledger"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

func goldenRecord() ledger.Record {
	r := ledger.Record{
		Kind:           ledger.KindPull,
		Time:           time.Date(2026, 11, 21, 8, 30, 15, 123456789, time.FixedZone("CST", 8*3600)),
		Department:     "110000-公安厅",
		Operator:       "op-0042",
		Resource:       "res/population/basic",
		DataItems:      []string{"姓名", "身份证号", "address"},
		Matter:         "M-11000-0001",
		Case:           "CASE-2026-000123",
		Outcome:        ledger.OutcomeGranted,
		Reason:         "",
		ResponseDigest: bytes.Repeat([]byte{0xab}, 32),
		RequestID:      "req-7f3c",
	}
	for i := range r.Subject {
		r.Subject[i] = byte(i)
	}
	return r
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		require.NoError(t, os.MkdirAll("testdata", 0o755))
		require.NoError(t, os.WriteFile(path, got, 0o644))
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err, "run `go test ./ledger -update` to create %s", path)
	require.Equal(t, string(want), string(got), "encoding changed: this breaks every stored log; bump the version instead")
}

func TestRecordGolden(t *testing.T) {
	r := goldenRecord()
	leaf, err := r.MarshalBinary()
	require.NoError(t, err)
	golden(t, "record-v1.hex", []byte(hex.Dump(leaf)))

	var back ledger.Record
	require.NoError(t, back.UnmarshalBinary(leaf))
	require.True(t, r.Time.Equal(back.Time))
	back.Time = r.Time
	require.Equal(t, r, back)
}

func TestRecordRoundTrip(t *testing.T) {
	tests := map[string]func(*ledger.Record){
		"ok/minimal": func(r *ledger.Record) {
			*r = ledger.Record{Kind: ledger.KindPolicyChange, Time: time.Unix(0, 1), Department: "d", Outcome: ledger.OutcomeOK}
		},
		"ok/denied with reason": func(r *ledger.Record) {
			r.Outcome, r.Reason = ledger.OutcomeDenied, "不予共享: 《条例》第十条"
		},
		"ok/no subject":         func(r *ledger.Record) { r.Subject = ledger.SubjectKey{} },
		"ok/empty data item":    func(r *ledger.Record) { r.DataItems = []string{"", "x"} },
		"ok/long field":         func(r *ledger.Record) { r.Reason = strings.Repeat("原因", 5000) },
		"ok/before 1970":        func(r *ledger.Record) { r.Time = time.Date(1969, 7, 20, 20, 17, 0, 0, time.UTC) },
		"ok/no response digest": func(r *ledger.Record) { r.ResponseDigest = nil },
		"ok/many data items":    func(r *ledger.Record) { r.DataItems = strings.Split(strings.Repeat("a,", 300), ",") },
	}
	for name, mod := range tests {
		t.Run(name, func(t *testing.T) {
			r := goldenRecord()
			mod(&r)
			leaf, err := r.MarshalBinary()
			require.NoError(t, err)
			var back ledger.Record
			require.NoError(t, back.UnmarshalBinary(leaf))
			again, err := back.MarshalBinary()
			require.NoError(t, err)
			require.Equal(t, leaf, again)
			require.True(t, r.Time.Equal(back.Time))
			require.Equal(t, r.Subject, back.Subject)
			require.Equal(t, r.DataItems, back.DataItems)
			require.Equal(t, r.Reason, back.Reason)
		})
	}
}

func TestRecordEncodingIsDeterministicAndDistinct(t *testing.T) {
	base := goldenRecord()
	a, err := base.MarshalBinary()
	require.NoError(t, err)
	b, err := base.MarshalBinary()
	require.NoError(t, err)
	require.Equal(t, a, b)
	// Same instant in another zone encodes identically.
	other := base
	other.Time = base.Time.UTC()
	c, err := other.MarshalBinary()
	require.NoError(t, err)
	require.Equal(t, a, c)
	// Moving bytes between adjacent fields must change the encoding.
	shifted := base
	shifted.Operator, shifted.Resource = base.Operator+base.Resource[:3], base.Resource[3:]
	d, err := shifted.MarshalBinary()
	require.NoError(t, err)
	require.NotEqual(t, a, d)
	items := base
	items.DataItems = []string{"姓名身份证号", "address"}
	e, err := items.MarshalBinary()
	require.NoError(t, err)
	require.NotEqual(t, a, e)
}

func TestRecordValidate(t *testing.T) {
	tests := map[string]func(*ledger.Record){
		"fail/no kind":          func(r *ledger.Record) { r.Kind = "" },
		"fail/no time":          func(r *ledger.Record) { r.Time = time.Time{} },
		"fail/time too late":    func(r *ledger.Record) { r.Time = time.Date(2300, 1, 1, 0, 0, 0, 0, time.UTC) },
		"fail/no department":    func(r *ledger.Record) { r.Department = "" },
		"fail/no outcome":       func(r *ledger.Record) { r.Outcome = "" },
		"fail/short digest":     func(r *ledger.Record) { r.ResponseDigest = []byte{1, 2, 3} },
		"fail/bad utf8":         func(r *ledger.Record) { r.Operator = "\xff\xfe" },
		"fail/bad utf8 in item": func(r *ledger.Record) { r.DataItems = []string{"ok", "\xc3"} },
	}
	for name, mod := range tests {
		t.Run(name, func(t *testing.T) {
			r := goldenRecord()
			mod(&r)
			_, err := r.MarshalBinary()
			require.ErrorIs(t, err, ledger.ErrInvalid)
		})
	}
}

func TestRecordDecodeRejects(t *testing.T) {
	r := goldenRecord()
	leaf, err := r.MarshalBinary()
	require.NoError(t, err)
	// Find the subject field (tag 7, length 32) to build a zero-subject forgery.
	zeroSubj := bytes.Clone(leaf)
	i := bytes.Index(zeroSubj, append([]byte{7, 32}, r.Subject[:4]...))
	require.Positive(t, i)
	copy(zeroSubj[i+2:i+34], make([]byte, 32))
	// Non-minimal uvarint for the kind length (4 → 0x84 0x00).
	nonMin := append(append(bytes.Clone(leaf[:6]), 0x84, 0x00), leaf[7:]...)
	tests := map[string][]byte{
		"fail/empty":              nil,
		"fail/bad magic":          append([]byte("XXXX"), leaf[4:]...),
		"fail/future version":     append(append([]byte("GXAR"), 2), leaf[5:]...),
		"fail/truncated":          leaf[:len(leaf)-1],
		"fail/trailing byte":      append(bytes.Clone(leaf), 0),
		"fail/zero subject bytes": zeroSubj,
		"fail/non-minimal length": nonMin,
		"fail/missing field":      leaf[:5+2+len(r.Kind)],
	}
	for name, data := range tests {
		t.Run(name, func(t *testing.T) {
			var back ledger.Record
			err := back.UnmarshalBinary(data)
			require.ErrorIs(t, err, ledger.ErrInvalid)
		})
	}
	t.Run("fail/every single-byte truncation", func(t *testing.T) {
		for n := range len(leaf) {
			var back ledger.Record
			require.Error(t, back.UnmarshalBinary(leaf[:n]), "prefix of %d bytes", n)
		}
	})
}

func FuzzRecordUnmarshal(f *testing.F) {
	r := goldenRecord()
	leaf, _ := r.MarshalBinary()
	f.Add(leaf)
	f.Fuzz(func(t *testing.T, data []byte) {
		var rec ledger.Record
		if err := rec.UnmarshalBinary(data); err != nil {
			return
		}
		again, err := rec.MarshalBinary()
		if err != nil || !bytes.Equal(again, data) {
			t.Fatalf("decoded record does not re-encode to its input: %v", err)
		}
	})
}

func TestNormalizeSubject(t *testing.T) {
	require.Equal(t, "11010519491231002X", ledger.NormalizeSubject(" 11010519491231002x\n"))
	require.Equal(t, "91350100M000100Y43", ledger.NormalizeSubject("91350100m000100y43"))
	require.Equal(t, "张三", ledger.NormalizeSubject("张三"))
}

func TestHeadAndAnchorGolden(t *testing.T) {
	at := time.Date(2026, 11, 21, 8, 0, 0, 5, time.UTC)
	h := ledger.TreeHead{LogID: "gxhub.test/audit", Size: 42, Root: bytes.Repeat([]byte{0x11}, 32), Time: at}
	hb, err := h.SignedBytes()
	require.NoError(t, err)
	a := ledger.Anchor{
		Height: 2, PrevHash: bytes.Repeat([]byte{0x22}, 32), Time: at.Add(time.Second),
		Head:        ledger.SignedTreeHead{TreeHead: h, KeyID: "logkey", Signature: []byte{1, 2, 3}},
		Consistency: [][]byte{bytes.Repeat([]byte{0x33}, 32), bytes.Repeat([]byte{0x44}, 32)},
		KeyID:       "anchorkey",
	}
	ab, err := a.SignedBytes()
	require.NoError(t, err)
	golden(t, "tree-head-v1.txt", hb)
	golden(t, "anchor-block-v1.txt", ab)

	bad := map[string]func(){
		"fail/log id with space": func() { h.LogID = "a b" },
		"fail/log id too long":   func() { h.LogID = strings.Repeat("x", 257) },
		"fail/log id bad utf8":   func() { h.LogID = "log\xff" },
		"fail/log id non-print":  func() { h.LogID = "log\u200b" },
		"fail/short root":        func() { h.Root = []byte{1} },
		"fail/no time":           func() { h.Time = time.Time{} },
	}
	for name, mod := range bad {
		t.Run(name, func(t *testing.T) {
			saved := h
			mod()
			_, err := h.SignedBytes()
			h = saved
			require.ErrorIs(t, err, ledger.ErrInvalid)
		})
	}
	a.Height = 0
	_, err = a.SignedBytes()
	require.ErrorIs(t, err, ledger.ErrInvalid)
}

func TestErrors(t *testing.T) {
	cause := errors.New("boom")
	pe := &ledger.ProofError{Kind: "consistency", Size: 3, Err: cause}
	require.ErrorIs(t, pe, ledger.ErrInconsistent)
	require.ErrorIs(t, pe, ledger.ErrVerification)
	require.ErrorIs(t, pe, cause)
	require.NotErrorIs(t, &ledger.ProofError{Kind: "inclusion"}, ledger.ErrInconsistent)
	require.ErrorIs(t, &ledger.ForkError{}, ledger.ErrVerification)
	ce := &ledger.ChainError{Height: 2, Reason: "x", Err: cause}
	require.ErrorIs(t, ce, ledger.ErrVerification)
	require.ErrorIs(t, ce, cause)
	require.ErrorIs(t, ledger.ErrClosed, ledger.ErrUnavailable)
	var target *ledger.ProofError
	require.ErrorAs(t, errors.Join(errors.New("ctx"), pe), &target)
	require.Equal(t, uint64(3), target.Size)
}

// TestRecordRequestDigest: a record with a request digest is encoded as version 2 (golden),
// one without keeps version 1's bytes; a version 2 leaf without the digest, a digest of the
// wrong size, or a version 1 leaf with a digest appended are refused, so that each record
// has one leaf and the digest cannot be added to or stripped from an existing leaf.
func TestRecordRequestDigest(t *testing.T) {
	r := goldenRecord()
	v1, err := r.MarshalBinary()
	require.NoError(t, err)
	r.RequestDigest = bytes.Repeat([]byte{0xcd}, 32)
	v2, err := r.MarshalBinary()
	require.NoError(t, err)
	golden(t, "record-v2.hex", []byte(hex.Dump(v2)))
	require.Equal(t, byte(2), v2[4])
	require.Equal(t, v1[5:], v2[5:len(v1)], "version 2 is version 1 plus field 0x0e")

	var back ledger.Record
	require.NoError(t, back.UnmarshalBinary(v2))
	require.Equal(t, r.RequestDigest, back.RequestDigest)

	strip := append([]byte{}, v2[:len(v1)]...) // version byte 2, no field 0x0e
	require.ErrorIs(t, back.UnmarshalBinary(strip), ledger.ErrInvalid)
	grafted := append(append([]byte{}, v1...), v2[len(v1):]...) // version byte 1 with field 0x0e
	require.ErrorIs(t, back.UnmarshalBinary(grafted), ledger.ErrInvalid)
	short := append(append([]byte{}, v2[:len(v1)]...), 0x0e, 31)
	short = append(short, bytes.Repeat([]byte{1}, 31)...)
	require.ErrorIs(t, back.UnmarshalBinary(short), ledger.ErrInvalid)
	r.RequestDigest = []byte{1, 2, 3}
	_, err = r.MarshalBinary()
	require.ErrorIs(t, err, ledger.ErrInvalid)
}
