package ses_test

import (
	"encoding/pem"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/gxhub/gxhub/certs/ses"
	"github.com/gxhub/gxhub/certs/ses/sestest"
)

func seedAll(f *testing.F, globs ...string) {
	for _, g := range globs {
		files, _ := filepath.Glob(filepath.Join(ext, g))
		for _, p := range files {
			b, err := os.ReadFile(p)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(b)
		}
	}
	f.Add([]byte{})
	f.Add([]byte{0x30, 0x80})
}

func FuzzParseSeal(f *testing.F) {
	seedAll(f, "seal/*")
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := ses.ParseSeal(b)
		if err != nil {
			return
		}
		_ = s.MakerMessage()
		_, _ = s.VerifyMaker()
		_, _ = s.ListsCert(s.MakerCert)
	})
}

func FuzzParseSESSignature(f *testing.F) {
	seedAll(f, "ses/*.dat")
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := ses.ParseSignature(b)
		if err != nil {
			return
		}
		_, _ = s.VerifyOuter()
		_, _ = s.Seal.VerifyMaker()
	})
}

func FuzzVerifyTimeStamp(f *testing.F) {
	fx := sestest.NewFixture(f, false)
	t0 := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
	tsa := fx.CA.NewTSA(f, t0, t0.AddDate(20, 0, 0))
	tok, err := tsa.Stamp([]byte("sig"), t0.AddDate(1, 0, 0))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(tok)
	f.Add([]byte{0x30, 0x03, 0x06, 0x01, 0x00})
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _ = ses.VerifyTimeStamp(b, []byte("sig"))
	})
}

// FuzzParseCertificate: certificates embedded in seals and SES signatures (GB/T 38540
// carries them as DER octet strings), parsed before anything else is known about them.
func FuzzParseCertificate(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join(ext, "certs", "*.pem"))
	for _, p := range files {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		for blk, rest := pem.Decode(b); blk != nil; blk, rest = pem.Decode(rest) {
			f.Add(blk.Bytes)
		}
	}
	f.Add([]byte{0x30, 0x80})
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := ses.ParseCertificate(b)
		if err != nil {
			return
		}
		_ = c.ValidAt(time.Now())
	})
}
