package pki

import (
	"fmt"

	"github.com/gxhub/gxhub/exchange/uscc"
)

// USCCCheckChar computes the GB 32100-2015 check character for the first 17 characters
// of a 统一社会信用代码 (see uscc.CheckChar).
func USCCCheckChar(first17 string) (byte, error) { return uscc.CheckChar(first17) }

// CheckUSCC reports whether code is a well-formed 18-character 统一社会信用代码 with a
// correct GB 32100-2015 check character. Unlike uscc.Validate it does not check
// the registration-authority table: certificates from other issuers are read as they come.
func CheckUSCC(code string) error {
	if len(code) != 18 {
		return fmt.Errorf("a unified social credit code (统一社会信用代码) has 18 characters, %q has %d", code, len(code))
	}
	want, err := USCCCheckChar(code[:17])
	if err != nil {
		return fmt.Errorf("unified social credit code %q: %w", code, err)
	}
	if code[17] != want {
		return fmt.Errorf("unified social credit code %q has check character %q, GB 32100 gives %q: the code is mistyped", code, code[17], want)
	}
	return nil
}
