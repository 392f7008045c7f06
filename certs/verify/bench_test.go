package verify_test

import (
	"context"
	"testing"

	"github.com/gxhub/gxhub/certs/ofd"
	"github.com/gxhub/gxhub/certs/ses"
	"github.com/gxhub/gxhub/certs/sm"
	"github.com/gxhub/gxhub/certs/verify"
)

// BenchmarkSM2Verify is one SM2 verification (default UID, Z) of a real outer signature
// over DER(TBS_Sign), the unit cost inside BenchmarkVerifyOFD.
func BenchmarkSM2Verify(b *testing.B) {
	src := read(b, "ofd/v4signed_gomain_chongqing_tax.ofd")
	pkg, err := ofd.Open(src, ofd.Limits{})
	if err != nil {
		b.Fatal(err)
	}
	sv, err := pkg.ReadFile("Doc_0/Signs/Sign_0/SignedValue.dat")
	if err != nil {
		b.Fatal(err)
	}
	s, err := ses.ParseSignature(sv)
	if err != nil {
		b.Fatal(err)
	}
	c, err := ses.ParseCertificate(s.Cert)
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for b.Loop() {
		if err := sm.Verify(c.PublicKey, s.TBSRaw, s.Value); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkVerifyOFD is a full verification of a real signed e-invoice (13 references,
// outer and maker signatures, certificate parsing, report).
func BenchmarkVerifyOFD(b *testing.B) {
	src := read(b, "ofd/v4signed_gomain_chongqing_tax.ofd")
	ctx := context.Background()
	b.SetBytes(int64(len(src)))
	for b.Loop() {
		r, err := verify.Verify(ctx, src, verify.Options{})
		if err != nil || r.Verdict != verify.Intact {
			b.Fatal(err, r.Summary)
		}
	}
}
