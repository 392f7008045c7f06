package verify_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/gxhub/gxhub/certs/ofd"
	"github.com/gxhub/gxhub/certs/verify"
)

// FuzzVerify runs the whole verifier (detection, OFD, seals, signatures, timestamps) on
// arbitrary input: it must return a report or an error, never panic.
func FuzzVerify(f *testing.F) {
	for _, g := range []string{"ofd/*.ofd", "seal/*", "ses/*.dat"} {
		files, _ := filepath.Glob(filepath.Join(ext, g))
		for _, p := range files {
			b, err := os.ReadFile(p)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(b)
		}
	}
	data := read(f, "ses/ofdrw_Signature.xml")
	lim := ofd.Limits{MaxArchiveSize: 1 << 22, MaxEntries: 200, MaxFileSize: 1 << 21, MaxTotalSize: 1 << 22}
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := verify.Verify(context.Background(), b, verify.Options{Data: data, Limits: lim})
		if err == nil && r == nil {
			t.Fatal("nil report without error")
		}
		if err == nil && r.Valid() && len(r.Checks) == 0 {
			t.Fatal("valid report with no checks")
		}
	})
}
