package exchange

import "fmt"

// OrgCodeCheckChar returns the check character of a GB 11714-1997 organisation code
// (组织机构代码) for its first 8 characters (digits or A–Z): weights 3,7,9,10,5,8,4,2,
// C9 = 11 − (Σ mod 11), written X for 10 and 0 for 11. Positions 9–17 of a 统一社会信用代码
// are such a code.
func OrgCodeCheckChar(first8 string) (byte, error) {
	if len(first8) != 8 {
		return 0, fmt.Errorf("organisation code body %q must be 8 characters", first8)
	}
	weights := [8]int{3, 7, 9, 10, 5, 8, 4, 2}
	sum := 0
	for i := range 8 {
		r := first8[i]
		var v int
		switch {
		case r >= '0' && r <= '9':
			v = int(r - '0')
		case r >= 'A' && r <= 'Z':
			v = int(r-'A') + 10
		default:
			return 0, fmt.Errorf("organisation code body %q: only digits and A–Z are allowed", first8)
		}
		sum += v * weights[i]
	}
	switch c := 11 - sum%11; c {
	case 10:
		return 'X', nil
	case 11:
		return '0', nil
	default:
		return byte('0' + c), nil
	}
}

// NewUSCC builds a 统一社会信用代码 from the registration authority and organisation type
// (e.g. "11" for 机构编制/机关), the 6-digit region and an 8-character organisation code
// body, adding both check characters. The result passes ValidateUSCC.
func NewUSCC(authorityAndType, region, orgBody string) (string, error) {
	c9, err := OrgCodeCheckChar(orgBody)
	if err != nil {
		return "", err
	}
	body := authorityAndType + region + orgBody + string(c9)
	c18, err := USCCCheckChar(body)
	if err != nil {
		return "", err
	}
	code := body + string(c18)
	if err := ValidateUSCC(code); err != nil {
		return "", err
	}
	return code, nil
}
