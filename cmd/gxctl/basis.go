package main

import (
	"strings"

	"github.com/spf13/cobra"

	exchangev1 "github.com/gxhub/gxhub/sdk/api/exchange/v1"
)

// basisFlags are the flags of a structured legal basis (依据): the shorthand
// --legal-basis KIND:TITLE:ARTICLE[:NUMBER] and one flag per field, which override it.
type basisFlags struct{ short, kind, title, article, number string }

func (b *basisFlags) add(cmd *cobra.Command, what string) {
	fl := cmd.Flags()
	fl.StringVar(&b.short, "legal-basis", "", what+": KIND:TITLE:ARTICLE[:文号], e.g. 法律:中华人民共和国居民身份证法:第六条第三款 "+
		"(KIND: law/法律, administrative_regulation/行政法规, local_regulation/地方性法规, rule/规章, superior_rule/上级部门规定, government_approval/政府批准文件)")
	fl.StringVar(&b.kind, "basis-kind", "", "legal basis kind (see --legal-basis)")
	fl.StringVar(&b.title, "basis-title", "", "legal basis document title, e.g. 中华人民共和国个人信息保护法")
	fl.StringVar(&b.article, "basis-article", "", "legal basis article, e.g. 第十三条第一款")
	fl.StringVar(&b.number, "basis-number", "", "legal basis document number (文号), e.g. 渝府函〔2024〕15号")
}

// changed reports whether any basis flag was given.
func (b *basisFlags) changed(cmd *cobra.Command) bool {
	for _, n := range []string{"legal-basis", "basis-kind", "basis-title", "basis-article", "basis-number"} {
		if cmd.Flags().Changed(n) {
			return true
		}
	}
	return false
}

// build returns the basis the flags give (nil when none was given). The hub validates it;
// a shorthand without ':' is sent as a title without kind, which the hub refuses with the
// list of kinds.
func (b *basisFlags) build(cmd *cobra.Command) *exchangev1.LegalBasis {
	if !b.changed(cmd) {
		return nil
	}
	out := shortBasis(b.short)
	set := func(name string, dst *string, v string) {
		if cmd.Flags().Changed(name) {
			*dst = v
		}
	}
	set("basis-kind", &out.Kind, b.kind)
	set("basis-title", &out.Title, b.title)
	set("basis-article", &out.Article, b.article)
	set("basis-number", &out.DocumentNumber, b.number)
	return out
}

// shortBasis reads the shorthand KIND:TITLE:ARTICLE[:文号] ("" gives an empty basis; text
// without ':' is a title without kind, which the hub refuses with the list of kinds).
func shortBasis(s string) *exchangev1.LegalBasis {
	out := &exchangev1.LegalBasis{}
	if s == "" {
		return out
	}
	p := strings.SplitN(s, ":", 4)
	if len(p) == 1 {
		out.Title = p[0]
		return out
	}
	out.Kind, out.Title = p[0], p[1]
	if len(p) > 2 {
		out.Article = p[2]
	}
	if len(p) > 3 {
		out.DocumentNumber = p[3]
	}
	return out
}
