package ecert_test

import (
	"bufio"
	"os"
	"strings"
	"testing"

	"github.com/gxhub/gxhub/certs/ecert"
)

// FuzzParseIdentifier: 电子证照标识 in requests (verification, presentation, status).
// A parsed identifier must print back to the text it came from.
func FuzzParseIdentifier(f *testing.F) {
	fh, err := os.Open("testdata/ecert_identifiers.tsv")
	if err != nil {
		f.Fatal(err)
	}
	defer fh.Close()
	sc := bufio.NewScanner(fh)
	for sc.Scan() {
		if line := sc.Text(); line != "" && !strings.HasPrefix(line, "#") {
			f.Add(strings.Split(line, "\t")[0])
		}
	}
	f.Fuzz(func(t *testing.T, s string) {
		id, err := ecert.ParseIdentifier(s)
		if err != nil {
			return
		}
		if got := id.String(); got != s {
			t.Fatalf("ParseIdentifier(%q).String() = %q", s, got)
		}
	})
}
