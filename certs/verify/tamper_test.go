package verify_test

import (
	"bytes"
	"context"
	"fmt"
	"testing"

	"github.com/gxhub/gxhub/certs/ofd"
	"github.com/gxhub/gxhub/certs/ses"
	"github.com/gxhub/gxhub/certs/verify"
	"github.com/stretchr/testify/require"
)

func failedSet(r *verify.Report) map[string]bool {
	m := map[string]bool{}
	for _, c := range r.Failed() {
		m[c.Name] = true
	}
	return m
}

func anyOf(m map[string]bool, names ...string) bool {
	for _, n := range names {
		if m[n] {
			return true
		}
	}
	return false
}

func flip(b []byte, i int) []byte {
	c := bytes.Clone(b)
	c[i] ^= 0x01
	return c
}

// positions returns about n evenly spaced offsets in [lo, hi), always including lo and hi-1.
func positions(lo, hi, n int) []int {
	if hi <= lo {
		return nil
	}
	step := (hi - lo) / n
	if step < 1 {
		step = 1
	}
	var out []int
	for i := lo; i < hi; i += step {
		out = append(out, i)
	}
	if out[len(out)-1] != hi-1 {
		out = append(out, hi-1)
	}
	return out
}

// TestTamperOFD flips bytes systematically in every signed part of a valid real OFD and
// asserts the verification fails naming the check that covers that part.
func TestTamperOFD(t *testing.T) {
	src := read(t, "ofd/v4signed_gomain_chongqing_tax.ofd")
	pkg, err := ofd.Open(src, ofd.Limits{})
	require.NoError(t, err)
	docs, err := pkg.Documents()
	require.NoError(t, err)
	sig := docs[0].Signatures[0]
	ctx := context.Background()
	verifyWith := func(t *testing.T, name string, content []byte) map[string]bool {
		t.Helper()
		out, err := ofd.Rebuild(src, map[string][]byte{name: content})
		require.NoError(t, err)
		r, err := verify.Verify(ctx, out, verify.Options{})
		require.NoError(t, err)
		require.Equal(t, verify.Invalid, r.Verdict)
		return failedSet(r)
	}

	t.Run("referenced files", func(t *testing.T) {
		for _, ref := range sig.References {
			b, err := pkg.ReadFile(ref.Path)
			require.NoError(t, err)
			for _, i := range positions(0, len(b), 8) {
				t.Run(fmt.Sprintf("%s@%d", ref.Path, i), func(t *testing.T) {
					f := verifyWith(t, ref.Path, flip(b, i))
					want := "reference[" + ref.Path + "]"
					if ref.Path == "OFD.xml" { // it is also parsed; a broken OFD.xml fails the container
						require.True(t, anyOf(f, want, "container"), "%v", f)
						return
					}
					require.True(t, f[want], "want %s failed, got %v", want, f)
				})
			}
		}
	})
	t.Run("Signature.xml", func(t *testing.T) {
		for _, i := range positions(0, len(sig.XML), 40) {
			t.Run(fmt.Sprint(i), func(t *testing.T) {
				f := verifyWith(t, sig.Path, flip(sig.XML, i))
				// Either it no longer parses as XML, or the dataHash over its bytes fails.
				require.True(t, anyOf(f, "container", "signature.data_hash"), "%v", f)
			})
		}
	})
	t.Run("SignedValue.dat", func(t *testing.T) {
		sv, err := pkg.ReadFile(sig.SignedValuePath)
		require.NoError(t, err)
		parsed, err := ses.ParseSignature(sv)
		require.NoError(t, err)
		tbsStart := bytes.Index(sv, parsed.TBSRaw)
		tbsEnd := tbsStart + len(parsed.TBSRaw)
		infoStart := bytes.Index(sv, parsed.Seal.Info.Raw)
		infoEnd := infoStart + len(parsed.Seal.Info.Raw)
		require.Positive(t, tbsStart)
		require.Greater(t, infoStart, tbsStart)
		for _, i := range positions(0, len(sv), 120) {
			t.Run(fmt.Sprint(i), func(t *testing.T) {
				f := verifyWith(t, sig.SignedValuePath, flip(sv, i))
				switch {
				case i >= infoStart && i < infoEnd:
					// Inside the seal: the maker signature and the outer signature both cover it.
					require.True(t, f["signature.parse"] || (f["seal.maker_signature"] && f["signature.outer"]), "%v", f)
				case i < tbsEnd:
					require.True(t, anyOf(f, "signature.parse", "signature.outer"), "%v", f)
				default:
					// signer cert, algorithm or signature value
					require.True(t, anyOf(f, "signature.parse", "signature.outer", "signer.certificate", "signer.in_seal"), "%v", f)
				}
			})
		}
	})
	t.Run("unreferenced page added", func(t *testing.T) {
		out, err := ofd.Rebuild(src, map[string][]byte{"Doc_0/Pages/Page_9/Content.xml": []byte("<x/>")})
		require.NoError(t, err)
		r, err := verify.Verify(ctx, out, verify.Options{})
		require.NoError(t, err)
		require.Equal(t, verify.Intact, r.Verdict, "no reader shows it")
		c := one(t, r, "coverage.unreferenced", verify.Note)
		require.Contains(t, c.Reason, "Doc_0/Pages/Page_9/Content.xml")
	})
	t.Run("referenced file removed", func(t *testing.T) {
		out, err := ofd.Rebuild(src, nil)
		require.NoError(t, err)
		// Replace Content.xml's entry name so the reference no longer resolves.
		out = bytes.ReplaceAll(out, []byte("Doc_0/Pages/Page_0/Content.xml"), []byte("Doc_0/Pages/Page_0/Content.xmX"))
		r, err := verify.Verify(ctx, out, verify.Options{})
		require.NoError(t, err)
		require.Contains(t, one(t, r, "reference[Doc_0/Pages/Page_0/Content.xml]", verify.Fail).Reason, "missing")
	})
}

// TestTamperSeal flips bytes across the maker-signed part of real seals.
func TestTamperSeal(t *testing.T) {
	for _, file := range []string{"seal/ofdrw_UserV4.esl", "seal/ofdrw_UserV1.esl", "seal/ofdrw_UserV5_ts.esl"} {
		t.Run(file, func(t *testing.T) {
			b := read(t, file)
			s, err := ses.ParseSeal(b)
			require.NoError(t, err)
			start := bytes.Index(b, s.Info.Raw)
			end := start + len(s.Info.Raw)
			if s.Version == ses.V1 { // the V1 message also covers the maker cert and algorithm
				end = bytes.Index(b, s.SignedValue) - 3
			}
			for _, i := range positions(start, end, 60) {
				r, err := verify.Verify(context.Background(), flip(b, i), verify.Options{Kind: verify.KindSeal})
				require.NoError(t, err)
				f := failedSet(r)
				require.True(t, anyOf(f, "seal.parse", "seal.maker_signature", "maker.certificate"), "offset %d: %v", i, f)
			}
		})
	}
}

// The derived cases T1–T6 of the test-data README, made explicitly.
func TestDerivedTamperCases(t *testing.T) {
	ctx := context.Background()
	src := read(t, "ofd/v4signed_gomain_chongqing_tax.ofd")
	pkg, err := ofd.Open(src, ofd.Limits{})
	require.NoError(t, err)
	content, _ := pkg.ReadFile("Doc_0/Pages/Page_0/Content.xml")
	sigXML, _ := pkg.ReadFile("Doc_0/Signs/Sign_0/Signature.xml")
	sv, _ := pkg.ReadFile("Doc_0/Signs/Sign_0/SignedValue.dat")
	v4 := read(t, "seal/ofdrw_UserV4.esl")
	v1 := read(t, "seal/ofdrw_UserV1.esl")

	replaceOnce := func(t *testing.T, b []byte, old, new string) []byte {
		require.Equal(t, len(old), len(new))
		require.True(t, bytes.Contains(b, []byte(old)), "%q not found", old)
		return bytes.Replace(b, []byte(old), []byte(new), 1)
	}
	rebuild := func(t *testing.T, name string, b []byte) []byte {
		out, err := ofd.Rebuild(src, map[string][]byte{name: b})
		require.NoError(t, err)
		return out
	}
	lastByteFlip := flip(sv, len(sv)-1)
	tests := []struct {
		name  string
		input func(t *testing.T) []byte
		fails []string
	}{
		{"T1 content edit", func(t *testing.T) []byte {
			return rebuild(t, "Doc_0/Pages/Page_0/Content.xml", append(bytes.Clone(content), ' '))
		}, []string{"reference[Doc_0/Pages/Page_0/Content.xml]"}},
		{"T2 Signature.xml edit", func(t *testing.T) []byte {
			return rebuild(t, "Doc_0/Signs/Sign_0/Signature.xml", replaceOnce(t, sigXML, "20201010151120", "20201010151121"))
		}, []string{"signature.data_hash"}},
		{"T3 signature bit flip", func(t *testing.T) []byte {
			return rebuild(t, "Doc_0/Signs/Sign_0/SignedValue.dat", lastByteFlip)
		}, []string{"signature.outer"}},
		{"T4 seal esID edit", func(t *testing.T) []byte {
			return rebuild(t, "Doc_0/Signs/Sign_0/SignedValue.dat", replaceOnce(t, sv, "50011200000399", "50011200000398"))
		}, []string{"seal.maker_signature", "signature.outer"}},
		{"T5 V4 seal name edit", func(t *testing.T) []byte {
			return replaceOnce(t, v4, "OFD R&W", "OFD R+W")
		}, []string{"seal.maker_signature"}},
		{"T6 V1 validEnd edit", func(t *testing.T) []byte {
			return replaceOnce(t, v1, "220422021807Z", "320422021807Z")
		}, []string{"seal.maker_signature"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, err := verify.Verify(ctx, tc.input(t), verify.Options{})
			require.NoError(t, err)
			require.Equal(t, tc.fails, failedNames(r))
		})
	}
}

func TestSignTypeSignatures(t *testing.T) {
	src := read(t, "ofd/v4signed_gomain_chongqing_tax.ofd")
	const head = `<?xml version="1.0" encoding="UTF-8"?><ofd:Signatures xmlns:ofd="http://www.ofdspec.org/2016"><ofd:MaxSignId>2</ofd:MaxSignId>`
	tests := []struct {
		name    string
		entries string
		verdict verify.Verdict
		failed  []string
	}{
		// A seal signature declared as Type="Sign" is recognised and checked as a seal.
		{"only Sign", `<ofd:Signature ID="1" Type="Sign" BaseLoc="/Doc_0/Signs/Sign_0/Signature.xml"/>`, verify.Intact, nil},
		{"Seal and Sign", `<ofd:Signature ID="1" BaseLoc="/Doc_0/Signs/Sign_0/Signature.xml"/><ofd:Signature ID="2" Type="Sign" BaseLoc="Sign_0/Signature.xml"/>`, verify.Intact, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out, err := ofd.Rebuild(src, map[string][]byte{"Doc_0/Signs/Signatures.xml": []byte(head + tc.entries + `</ofd:Signatures>`)})
			require.NoError(t, err)
			r, err := verify.Verify(context.Background(), out, verify.Options{})
			require.NoError(t, err)
			require.Equal(t, tc.verdict, r.Verdict, r.Summary)
			require.Equal(t, tc.failed, failedNames(r))
			require.Contains(t, one(t, r, "signature.type", verify.Note).Reason, "checked as a seal")
		})
	}
}
