package ses_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/gxhub/gxhub/certs/ses"
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
