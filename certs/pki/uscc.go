package pki

import (
	"fmt"
	"strings"
)

// usccCharset is the GB 32100-2015 alphabet: digits and the capitals without I, O, S, V, Z.
const usccCharset = "0123456789ABCDEFGHJKLMNPQRTUWXY"

var usccWeights = [17]int{1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28}

// USCCCheckChar computes the GB 32100-2015 check character for the first 17 characters
// of a 统一社会信用代码.
func USCCCheckChar(first17 string) (byte, error) {
	if len(first17) != 17 {
		return 0, fmt.Errorf("need the first 17 characters of a unified social credit code, got %d", len(first17))
	}
	sum := 0
	for i := 0; i < 17; i++ {
		v := strings.IndexByte(usccCharset, first17[i])
		if v < 0 {
			return 0, fmt.Errorf("character %d (%q) is not in the GB 32100 alphabet 0-9A-Y without I, O, S, V, Z", i+1, first17[i])
		}
		sum += v * usccWeights[i]
	}
	c := 31 - sum%31
	if c == 31 {
		c = 0
	}
	return usccCharset[c], nil
}

// CheckUSCC reports whether code is a well-formed 18-character 统一社会信用代码 with a
// correct GB 32100-2015 check character.
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
