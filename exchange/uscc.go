package exchange

import "github.com/gxhub/gxhub/exchange/uscc"

// ValidateUSCC checks a 统一社会信用代码 against GB 32100-2015 (see uscc.Validate): 18
// characters from the GB 32100 set, an assigned registration-authority and
// organisation-type code, a 6-digit region code and the check character.
func ValidateUSCC(code string) error { return uscc.Validate(code) }

// USCCCheckChar returns the GB 32100 check character of the first 17 characters of a
// 统一社会信用代码 (see uscc.CheckChar).
func USCCCheckChar(first17 string) (byte, error) { return uscc.CheckChar(first17) }
