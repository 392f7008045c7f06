package exchange_test

import (
	"testing"

	"github.com/gxhub/gxhub/exchange"
)

// FuzzValidateIDNumber feeds the check of pulled and published subjects (公民身份号码,
// GB 11643): it must never panic; an accepted number has 18 characters, a valid date of
// birth and the right check character, and no other check character is accepted.
func FuzzValidateIDNumber(f *testing.F) {
	f.Add("11010519491231002X")
	f.Add("500112199001010000")
	f.Add("50011219900230001X")
	f.Add("")
	f.Add("１1010519491231002X")
	f.Fuzz(func(t *testing.T, s string) {
		if exchange.ValidateIDNumber(s) != nil {
			return
		}
		if len(s) != 18 {
			t.Fatalf("accepted %q of %d bytes", s, len(s))
		}
		if c := exchange.IDNumberCheckChar(s[:17]); c != s[17] {
			t.Fatalf("accepted %q whose check character should be %c", s, c)
		}
		for _, c := range []byte("0123456789X") {
			if c != s[17] && exchange.ValidateIDNumber(s[:17]+string(c)) == nil {
				t.Fatalf("accepted %q and %q", s, s[:17]+string(c))
			}
		}
	})
}
