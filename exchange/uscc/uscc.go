// Package uscc checks 统一社会信用代码 (unified social credit identifiers, GB 32100-2015):
// the one implementation the exchange (subjects, departments) and the PKI (certificate
// subjects) both use. Standard library only.
package uscc

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// 统一社会信用代码 (unified social credit identifier), GB 32100-2015 《法人和其他组织统一社会
// 信用代码编码规则》. Eighteen characters from usccCharset:
//
//	position 1      登记管理部门代码  registration-authority code
//	position 2      机构类别代码      organisation-type code (defined per authority)
//	positions 3–8   登记管理机关行政区划码 (GB/T 2260), six digits
//	positions 9–17  主体标识码 (组织机构代码, GB 11714)
//	position 18     校验码: C18 = 31 − (Σ Ci·Wi mod 31), with 31 written as 0,
//	                Ci the index of character i in usccCharset and Wi = 3^(i−1) mod 31.

// usccCharset is the GB 32100 character set: digits and upper-case letters without I, O,
// S, V and Z. A character's index is its value in the check-character computation.
const usccCharset = "0123456789ABCDEFGHJKLMNPQRTUWXY"

// usccWeights are the weights 3^i mod 31 of positions 1–17.
var usccWeights = [17]int{1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28}

type usccAuthority struct {
	name  string
	types map[byte]string // organisation-type code → name
}

// usccAuthorities is the table of registration-authority codes and, for each, its
// organisation-type codes: GB 32100-2015 表1 《登记管理部门代码和机构类别代码》 (authorities
// 1–9 and Y), plus the two authorities assigned since under that standard by the national
// 统一社会信用代码 administration: A (中央军委改革和编制办公室) and N (农业). Any other
// combination is rejected. Assignments reported elsewhere but not verified against an
// authoritative text are deliberately absent (for example 5-4 村民委员会, 5-5 居民委员会,
// G 公安, J 住房城乡建设, Q 侨联); add a row here, with its source, when one is confirmed.
var usccAuthorities = map[byte]usccAuthority{
	'1': {"机构编制", map[byte]string{'1': "机关", '2': "事业单位", '3': "中央编办直接管理机构编制的群众团体", '9': "其他"}},
	'2': {"外交", map[byte]string{'1': "外国常驻新闻机构", '9': "其他"}},
	'3': {"司法行政", map[byte]string{'1': "律师执业机构", '2': "公证处", '3': "基层法律服务所", '4': "司法鉴定机构", '5': "仲裁委员会", '9': "其他"}},
	'4': {"文化", map[byte]string{'1': "外国在华文化中心", '9': "其他"}},
	'5': {"民政", map[byte]string{'1': "社会团体", '2': "民办非企业单位", '3': "基金会", '9': "其他"}},
	'6': {"旅游", map[byte]string{'1': "外国旅游部门常驻代表机构", '2': "港澳台地区旅游部门常驻内地（大陆）代表机构", '9': "其他"}},
	'7': {"宗教", map[byte]string{'1': "宗教活动场所", '2': "宗教院校", '9': "其他"}},
	'8': {"工会", map[byte]string{'1': "基层工会", '9': "其他"}},
	'9': {"工商", map[byte]string{'1': "企业", '2': "个体工商户", '3': "农民专业合作社"}},
	'A': {"中央军委改革和编制办公室", map[byte]string{'1': "军队事业单位", '9': "其他"}},
	'N': {"农业", map[byte]string{'1': "组级集体经济组织", '2': "村级集体经济组织", '3': "乡镇级集体经济组织", '9': "其他"}},
	'Y': {"其他", map[byte]string{'1': "其他（不再细分机构类别）"}},
}

// Validate checks a 统一社会信用代码 against GB 32100-2015: 18 characters from the GB
// 32100 set (digits and upper-case letters except I, O, S, V, Z), a registration-authority
// code and organisation-type code that the standard's table defines together, a 6-digit
// region code, and the check character. The code must be exactly as printed: no spaces,
// no lower case, no full-width characters. The error says which part is wrong. The
// embedded 组织机构代码 (positions 9–17) is not checked against GB 11714.
func Validate(code string) error {
	if n := utf8.RuneCountInString(code); n != 18 {
		if t := strings.TrimSpace(code); t != code && utf8.RuneCountInString(t) == 18 {
			return errors.New("leading or trailing spaces: remove them")
		}
		return fmt.Errorf("a 统一社会信用代码 has 18 characters, got %d", n)
	}
	if err := checkUSCCChars(code); err != nil {
		return err
	}
	a, ok := usccAuthorities[code[0]]
	if !ok {
		return fmt.Errorf("registration-authority code (position 1) %q is not assigned in GB 32100: it must be one of %s",
			code[0], usccAuthorityList())
	}
	if _, ok := a.types[code[1]]; !ok {
		return fmt.Errorf("organisation-type code (position 2) %q is not defined for registration authority %c (%s): GB 32100 allows %s",
			code[1], code[0], a.name, usccTypeList(a))
	}
	for i := 2; i < 8; i++ {
		if code[i] < '0' || code[i] > '9' {
			return fmt.Errorf("positions 3–8 must be the 6-digit 行政区划代码 (GB/T 2260) of the registering authority, got %q", code[2:8])
		}
	}
	want, err := CheckChar(code[:17])
	if err != nil {
		return err // unreachable: the characters were checked above
	}
	if code[17] != want {
		return fmt.Errorf("check character is %c, expected %c: the code was mistyped", code[17], want)
	}
	return nil
}

// CheckChar returns the GB 32100 check character (position 18) of the first 17
// characters of a 统一社会信用代码. It checks only length and character set, not the
// authority, type or region codes; use Validate on the full code for that.
func CheckChar(first17 string) (byte, error) {
	if n := utf8.RuneCountInString(first17); n != 17 {
		return 0, fmt.Errorf("the check character is computed from the first 17 characters of a 统一社会信用代码, got %d", n)
	}
	if err := checkUSCCChars(first17); err != nil {
		return 0, err // also rejects multi-byte characters, so first17 is 17 bytes below
	}
	sum := 0
	for i := range 17 {
		sum += strings.IndexByte(usccCharset, first17[i]) * usccWeights[i]
	}
	return usccCharset[(31-sum%31)%31], nil
}

// checkUSCCChars reports the first character outside the GB 32100 set.
func checkUSCCChars(s string) error {
	pos := 0
	for _, r := range s {
		pos++
		if r < utf8.RuneSelf && strings.IndexByte(usccCharset, byte(r)) >= 0 {
			continue
		}
		switch {
		case r >= 'a' && r <= 'z':
			return fmt.Errorf("character %q at position %d is lower case: 统一社会信用代码 use upper-case letters", r, pos)
		case r == 'I' || r == 'O' || r == 'S' || r == 'V' || r == 'Z':
			return fmt.Errorf("character %q at position %d never occurs in a 统一社会信用代码 (GB 32100 omits I, O, S, V and Z; 1, 0, 5, U or 2 may be meant)", r, pos)
		case r >= 0xFF10 && r <= 0xFF5A:
			return fmt.Errorf("character %q at position %d is full-width: type the code with half-width (ASCII) digits and letters", r, pos)
		default:
			return fmt.Errorf("character %q at position %d is not allowed: a 统一社会信用代码 uses only digits and the letters %s", r, pos, usccCharset[10:])
		}
	}
	return nil
}

func usccAuthorityList() string {
	var b strings.Builder
	for i := range len(usccCharset) {
		if a, ok := usccAuthorities[usccCharset[i]]; ok {
			if b.Len() > 0 {
				b.WriteString(", ")
			}
			fmt.Fprintf(&b, "%c (%s)", usccCharset[i], a.name)
		}
	}
	return b.String()
}

func usccTypeList(a usccAuthority) string {
	var b strings.Builder
	for i := range len(usccCharset) {
		if name, ok := a.types[usccCharset[i]]; ok {
			if b.Len() > 0 {
				b.WriteString(", ")
			}
			fmt.Fprintf(&b, "%c (%s)", usccCharset[i], name)
		}
	}
	return b.String()
}
