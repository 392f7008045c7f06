package exchange

import (
	"encoding/json"
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"
)

// LegalBasisKind is the kind of document a refusal or a not-shared classification cites.
// Seed 004 Art. 30(二): a department may refuse sharing only on a law, a regulation, a rule,
// a superior department's provision or a government approval (没有法律、法规、规章、上级主管
// 部门规定或经市政府批准外，不得拒绝).
type LegalBasisKind string

// Legal basis kinds.
const (
	BasisLaw                      LegalBasisKind = "law"                       // 法律
	BasisAdministrativeRegulation LegalBasisKind = "administrative_regulation" // 行政法规
	BasisLocalRegulation          LegalBasisKind = "local_regulation"          // 地方性法规
	BasisRule                     LegalBasisKind = "rule"                      // 规章
	BasisSuperiorRule             LegalBasisKind = "superior_rule"             // 上级部门规定
	BasisGovernmentApproval       LegalBasisKind = "government_approval"       // 政府批准文件
)

// LegalBasisKinds lists the kinds in the order of seed 004 Art. 30(二).
var LegalBasisKinds = []LegalBasisKind{BasisLaw, BasisAdministrativeRegulation, BasisLocalRegulation, BasisRule, BasisSuperiorRule, BasisGovernmentApproval}

var basisKindTitles = map[LegalBasisKind]string{
	BasisLaw: "法律", BasisAdministrativeRegulation: "行政法规", BasisLocalRegulation: "地方性法规",
	BasisRule: "规章", BasisSuperiorRule: "上级部门规定", BasisGovernmentApproval: "政府批准文件",
}

// Title returns the kind's Chinese name (法律, 行政法规, …), or the kind itself if unknown.
func (k LegalBasisKind) Title() string {
	if t, ok := basisKindTitles[k]; ok {
		return t
	}
	return string(k)
}

// ParseLegalBasisKind accepts a kind's name (law, rule, …) or its Chinese name (法律, 规章, …).
func ParseLegalBasisKind(s string) (LegalBasisKind, error) {
	s = strings.TrimSpace(s)
	for _, k := range LegalBasisKinds {
		if strings.EqualFold(s, string(k)) || s == basisKindTitles[k] {
			return k, nil
		}
	}
	return "", Errorf(KindInvalid, "LEGAL_BASIS_KIND_INVALID", "legal basis kind %q is not one of %s: a refusal rests on a law, a regulation, a rule, a superior department's provision or a government approval (seed 004 Art. 30(二))", s, basisKindList())
}

func basisKindList() string {
	parts := make([]string, len(LegalBasisKinds))
	for i, k := range LegalBasisKinds {
		parts[i] = string(k) + " (" + basisKindTitles[k] + ")"
	}
	return strings.Join(parts, ", ")
}

// LegalBasis is a structured citation: which kind of document, its title, the article (条、
// 款、项) and, optionally, its document number (文号). A refusal of a requirement and a
// resource registered as not shared (不予共享) must carry a valid one.
type LegalBasis struct {
	Kind      LegalBasisKind
	Title     string // e.g. 中华人民共和国居民身份证法 (without 《》)
	Article   string // e.g. 第六条第三款
	DocNumber string // 文号, e.g. 渝府发〔2020〕12号; required for a government approval
}

// IsZero reports whether no basis is given.
func (b LegalBasis) IsZero() bool { return b == LegalBasis{} }

// Normalize trims the fields and removes 《》 around the title.
func (b LegalBasis) Normalize() LegalBasis {
	b.Kind = LegalBasisKind(strings.TrimSpace(string(b.Kind)))
	b.Title = strings.TrimSpace(b.Title)
	b.Title = strings.TrimSpace(strings.TrimSuffix(strings.TrimPrefix(b.Title, "《"), "》"))
	b.Article = strings.TrimSpace(b.Article)
	b.DocNumber = strings.TrimSpace(b.DocNumber)
	if k, err := ParseLegalBasisKind(string(b.Kind)); err == nil {
		b.Kind = k
	}
	return b
}

var (
	articleRE   = regexp.MustCompile(`^第[零〇一二三四五六七八九十百千0-9]+条`)
	articleChar = func(r rune) bool {
		return strings.ContainsRune("零〇一二三四五六七八九十百千0123456789第条款项目之、，,和及与（）() ", r)
	}
	// 文号: issuer, year in brackets and number (国发〔2016〕51号), or a numbered order
	// without a year (国务院令第722号).
	docNumberRE = regexp.MustCompile(`^[^\s]{1,40}((〔|\[|【|（|\()(19|20)[0-9]{2}(〕|\]|】|）|\))[0-9]+|第[0-9]+)号$`)
)

// Validate checks the citation: a known kind; a title of 2 to 128 characters holding at
// least two Chinese characters or four letters (so "x" or "-" is refused); an article such
// as 第六条第三款 (several joined by 、); a document number such as 国发〔2016〕51号 when
// given. A government approval may omit the article but must give its document number.
// field names the citation in errors (e.g. "legal_basis").
func (b LegalBasis) Validate(field string) error {
	bad := func(reason, format string, args ...any) error {
		return Errorf(KindInvalid, reason, field+": "+format, args...)
	}
	if b.IsZero() {
		return bad("LEGAL_BASIS_REQUIRED",
			"cite the legal basis: kind (%s), document title, article (条/款) and, if it has one, the document number (文号)", basisKindList())
	}
	if _, err := ParseLegalBasisKind(string(b.Kind)); err != nil {
		return bad("LEGAL_BASIS_KIND_INVALID", "kind %q is not one of %s: a refusal rests on a law, a regulation, a rule, a superior department's provision or a government approval (seed 004 Art. 30(二)), never on an internal rule", b.Kind, basisKindList())
	}
	n := utf8.RuneCountInString(b.Title)
	if n < 2 || n > 128 || strings.ContainsAny(b.Title, "《》\n\r\t") {
		return bad("LEGAL_BASIS_TITLE_INVALID", "document title %q must be 2 to 128 characters, the title as published (e.g. 中华人民共和国居民身份证法), without 《》 inside", b.Title)
	}
	han, letters := 0, 0
	for _, r := range b.Title {
		switch {
		case unicode.Is(unicode.Han, r):
			han++
		case unicode.IsLetter(r):
			letters++
		}
	}
	if han < 2 && letters < 4 {
		return bad("LEGAL_BASIS_TITLE_INVALID", "document title %q does not name a document: give the title as published (e.g. 中华人民共和国个人信息保护法)", b.Title)
	}
	if b.Article == "" {
		if b.Kind != BasisGovernmentApproval {
			return bad("LEGAL_BASIS_ARTICLE_MISSING", "name the article of %s that applies (e.g. 第六条第三款)", b.Title)
		}
	} else if utf8.RuneCountInString(b.Article) > 64 || !articleRE.MatchString(b.Article) || strings.IndexFunc(b.Article, func(r rune) bool { return !articleChar(r) }) >= 0 {
		return bad("LEGAL_BASIS_ARTICLE_INVALID", "article %q must read like 第六条, 第六条第三款 or 第三条、第六条第三款 (at most 64 characters)", b.Article)
	}
	if b.DocNumber == "" {
		if b.Kind == BasisGovernmentApproval {
			return bad("LEGAL_BASIS_DOC_NUMBER_MISSING", "a government approval is cited by its document number (文号, e.g. 渝府函〔2024〕15号)")
		}
	} else if utf8.RuneCountInString(b.DocNumber) > 64 || !docNumberRE.MatchString(b.DocNumber) {
		return bad("LEGAL_BASIS_DOC_NUMBER_INVALID", "document number %q must read like 国发〔2016〕51号 (issuer, year, number, 号) or 国务院令第722号", b.DocNumber)
	}
	return nil
}

// Citation renders the basis for people: 《中华人民共和国居民身份证法》第六条第三款（法律）, with
// the document number after the title when there is one. A basis recorded before citations
// were structured (no kind) renders as its stored text.
func (b LegalBasis) Citation() string {
	if b.IsZero() {
		return ""
	}
	if b.Kind == "" {
		return b.Title
	}
	var s strings.Builder
	s.WriteString("《" + b.Title + "》")
	if b.DocNumber != "" {
		s.WriteString("（" + b.DocNumber + "）")
	}
	s.WriteString(b.Article)
	s.WriteString("（" + b.Kind.Title() + "）")
	return s.String()
}

// String is the citation.
func (b LegalBasis) String() string { return b.Citation() }

// UnmarshalJSON reads the structured form, and also a plain string: legal bases stored before
// they were structured come back as a basis without kind whose title is the stored text, so
// that they stay readable (Citation) but never pass Validate again.
func (b *LegalBasis) UnmarshalJSON(data []byte) error {
	var s string
	if err := json.Unmarshal(data, &s); err == nil {
		*b = LegalBasis{Title: s}
		return nil
	}
	type plain LegalBasis
	var p plain
	if err := json.Unmarshal(data, &p); err != nil {
		return err
	}
	*b = LegalBasis(p)
	return nil
}
