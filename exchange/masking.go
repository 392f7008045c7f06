package exchange

import (
	"fmt"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"
)

// MaskRule is how the hub masks (脱敏) a data item's value before it leaves the hub, unless
// the requirement it is delivered under approves clear text for the item. The rules are a
// closed set: a provider picks one per item in the catalogue, it cannot write its own.
type MaskRule string

// Mask rules.
const (
	MaskNone     MaskRule = "none"      // 不脱敏: the value as published (public and internal items only)
	MaskFull     MaskRule = "full"      // 全部遮蔽: "***" whatever the value
	MaskIDNumber MaskRule = "id_number" // 证件号码: first 6 and last 4 characters kept, 110101********1234
	MaskName     MaskRule = "name"      // 姓名: the surname kept (欧阳 and other two-character surnames too), 张**
	MaskPhone    MaskRule = "phone"     // 电话号码: last 4 digits kept, *******8000
	MaskAddress  MaskRule = "address"   // 地址: up to the district or county (区/县/旗, or a county-level 市), 重庆市渝北区***
)

// MaskRules lists the rules.
var MaskRules = []MaskRule{MaskNone, MaskFull, MaskIDNumber, MaskName, MaskPhone, MaskAddress}

// ParseMaskRule accepts a rule's name.
func ParseMaskRule(s string) (MaskRule, error) {
	r := MaskRule(strings.TrimSpace(s))
	if slices.Contains(MaskRules, r) {
		return r, nil
	}
	names := make([]string, len(MaskRules))
	for i, m := range MaskRules {
		names[i] = string(m)
	}
	return "", Errorf(KindInvalid, "MASK_RULE_INVALID", "masking rule %q is not one of %s", s, strings.Join(names, ", "))
}

// personal reports whether the sensitivity is personal information (个人信息).
func (s Sensitivity) personal() bool {
	return s == SensitivityPersonal || s == SensitivitySensitivePersonal
}

// MaskRule is the rule the hub applies to the item: the catalogued one, or for a personal
// item catalogued without one, full masking. A public or internal item without a rule is
// delivered as published.
func (it DataItem) MaskRule() MaskRule {
	switch {
	case it.Mask != "":
		return it.Mask
	case it.Sensitivity.personal():
		return MaskFull
	}
	return MaskNone
}

// validateMask checks an item's masking rule: one of the closed set, and never none for
// personal information (clear text of such an item is approved per requirement, not by the
// catalogue).
func (it DataItem) validateMask() error {
	if it.Mask == "" {
		return nil
	}
	if _, err := ParseMaskRule(string(it.Mask)); err != nil {
		return Errorf(KindInvalid, "MASK_RULE_INVALID", "data item %q: %v", it.Name, err)
	}
	if it.Mask == MaskNone && it.Sensitivity.personal() {
		return Errorf(KindInvalid, "MASK_RULE_REQUIRED",
			"data item %q is %s information: it is masked (full, id_number, name, phone or address); clear text is approved per requirement, with a legal basis for sensitive personal items", it.Name, it.Sensitivity)
	}
	return nil
}

// Apply masks v by the rule. An empty value stays empty.
func (r MaskRule) Apply(v string) string {
	if v == "" || r == MaskNone {
		return v
	}
	rs := []rune(v)
	switch r {
	case MaskIDNumber:
		if len(rs) > 10 {
			return string(rs[:6]) + strings.Repeat("*", len(rs)-10) + string(rs[len(rs)-4:])
		}
	case MaskPhone:
		if len(rs) > 4 {
			var b strings.Builder
			for _, c := range rs[:len(rs)-4] {
				if unicode.IsDigit(c) {
					c = '*'
				}
				b.WriteRune(c)
			}
			return b.String() + string(rs[len(rs)-4:])
		}
	case MaskName:
		if n := surnameLen(rs); n < len(rs) {
			return string(rs[:n]) + strings.Repeat("*", len(rs)-n)
		}
	case MaskAddress:
		if n := districtEnd(rs); n > 0 {
			return string(rs[:n]) + "***"
		}
	}
	return "***"
}

// compoundSurnames are the two-character surnames (复姓) the name rule keeps whole.
var compoundSurnames = []string{"欧阳", "司马", "诸葛", "上官", "东方", "皇甫", "尉迟", "公孙", "慕容", "长孙", "宇文", "司徒", "夏侯", "令狐", "端木", "西门", "南宫", "独孤", "轩辕", "呼延", "澹台", "公冶", "申屠", "太史", "钟离", "闻人", "万俟", "赫连", "濮阳", "单于"}

// surnameLen is how many runes of a name the surname takes: two for a 复姓, else one; for
// a name in Latin letters, its first word.
func surnameLen(rs []rune) int {
	if len(rs) > 2 && slices.Contains(compoundSurnames, string(rs[:2])) {
		return 2
	}
	if len(rs) > 0 && !unicode.Is(unicode.Han, rs[0]) {
		if i := slices.IndexFunc(rs, unicode.IsSpace); i > 0 {
			return i
		}
	}
	return 1
}

// streetMarkers begin the part of an address below the district (street, town, road,
// number): the address rule keeps nothing from there on.
var streetMarkers = []string{"街道", "镇", "乡", "路", "街", "巷", "村", "号", "小区", "社区", "大道", "胡同", "弄"}

// districtEnd is the length in runes of an address's part up to the district or county
// level: up to the first 区, 县 or 旗 before any street-level word, else up to the last 市
// before it (a county-level city); 0 when neither is found.
func districtEnd(rs []rune) int {
	s := string(rs)
	street := len(s)
	for _, m := range streetMarkers {
		if i := strings.Index(s, m); i >= 0 && i < street {
			street = i
		}
	}
	head := s[:street]
	if i := strings.IndexAny(head, "区县旗"); i > 0 {
		_, w := utf8.DecodeRuneInString(head[i:])
		return utf8.RuneCountInString(head[:i+w])
	}
	if i := strings.LastIndex(head, "市"); i > 0 {
		return utf8.RuneCountInString(head[:i+len("市")])
	}
	return 0
}

// ClearText is a requirement's request for one data item in clear text instead of masked.
// Basis is the legal basis that needs the clear value: required for a sensitive personal
// item (敏感个人信息), structured like the basis of a refusal.
type ClearText struct {
	Item  string
	Basis LegalBasis
}

// checkClearText checks a requirement's clear-text requests against its items and the
// resource: each names an item the requirement asks for, once; a sensitive personal item
// cites a valid legal basis; a verify-only requirement returns no value, clear or masked.
func checkClearText(r *Requirement, res *Resource) error {
	if len(r.ClearText) > 0 && r.VerifyOnly {
		return Errorf(KindInvalid, "CLEAR_TEXT_VERIFY_ONLY", "a verify-only requirement returns no value at all: drop the clear-text requests or file a pull requirement")
	}
	seen := map[string]bool{}
	for i := range r.ClearText {
		c := &r.ClearText[i]
		c.Item = strings.TrimSpace(c.Item)
		if !slices.Contains(r.Items, c.Item) {
			return Errorf(KindInvalid, "CLEAR_TEXT_ITEM_UNKNOWN", "clear text is asked for %q, which is not one of the items of the requirement (%s)", c.Item, strings.Join(r.Items, ", "))
		}
		if seen[c.Item] {
			return Errorf(KindInvalid, "DATA_ITEM_DUPLICATE", "clear text for %q is asked twice", c.Item)
		}
		seen[c.Item] = true
		it, _ := res.Item(c.Item)
		if it.Sensitivity == SensitivitySensitivePersonal || !c.Basis.IsZero() {
			c.Basis = c.Basis.Normalize()
			if err := c.Basis.Validate(fmt.Sprintf("the legal basis for clear text of %s item %s", it.Sensitivity, c.Item)); err != nil {
				return err
			}
		}
	}
	return nil
}

// ClearFor returns the requirement's clear-text request for the item, if it made one.
func (r *Requirement) ClearFor(item string) (ClearText, bool) {
	i := slices.IndexFunc(r.ClearText, func(c ClearText) bool { return c.Item == item })
	if i < 0 {
		return ClearText{}, false
	}
	return r.ClearText[i], true
}

// Disclosure is what a granted requirement receives of each data item: the clear value or
// the masked value. It is the one place deliveries (pulls, subscriptions, batch files) get
// their values from. An item is clear only when its catalogue rule is none, or when the
// requirement asked clear text for it and — for a sensitive personal item — cites a valid
// legal basis; this is checked here on every delivery, whatever the stored requirement or a
// policy says.
type Disclosure struct {
	rules  map[string]MaskRule // items delivered masked, by rule
	masked []string            // their names, in the order asked
	clear  []string            // personal items approved in clear text, with their basis
}

// NewDisclosure decides the disclosure of items (already checked to be approved and
// catalogued) under rq.
func NewDisclosure(rq *Requirement, res *Resource, items []string) *Disclosure {
	d := &Disclosure{rules: map[string]MaskRule{}}
	for _, name := range items {
		it, _ := res.Item(name)
		rule := it.MaskRule()
		if rule == MaskNone {
			continue
		}
		if clearApproved(rq, it) {
			c, _ := rq.ClearFor(name)
			note := name
			if !c.Basis.IsZero() {
				note += " under " + c.Basis.Citation()
			}
			d.clear = append(d.clear, note)
			continue
		}
		d.rules[name] = rule
		d.masked = append(d.masked, name)
	}
	return d
}

// clearApproved reports whether rq approves clear text of the item.
func clearApproved(rq *Requirement, it DataItem) bool {
	if rq.VerifyOnly {
		return false
	}
	c, ok := rq.ClearFor(it.Name)
	if !ok {
		return false
	}
	if it.Sensitivity == SensitivitySensitivePersonal {
		return c.Basis.Validate("clear text basis") == nil
	}
	return true
}

// Masked lists the items delivered masked, in the order they were asked.
func (d *Disclosure) Masked() []string { return d.masked }

// Note says, for the audit record of a delivery, which items were masked and which were
// delivered in clear text by the requirement's approval (and on which legal basis).
func (d *Disclosure) Note() string {
	var parts []string
	if len(d.masked) > 0 {
		parts = append(parts, "masked: "+strings.Join(d.masked, ", "))
	}
	if len(d.clear) > 0 {
		parts = append(parts, "clear text approved: "+strings.Join(d.clear, "; "))
	}
	if len(parts) == 0 {
		return ""
	}
	return "; " + strings.Join(parts, "; ")
}

// Value is what is delivered of one item's value.
func (d *Disclosure) Value(item, v string) string {
	if rule, ok := d.rules[item]; ok {
		return rule.Apply(v)
	}
	return v
}

// Fields returns the record's fields of the items, each clear or masked as decided.
func (d *Disclosure) Fields(fields map[string]string, items []string) map[string]string {
	out := make(map[string]string, len(items))
	for _, it := range items {
		if v, ok := fields[it]; ok {
			out[it] = d.Value(it, v)
		}
	}
	return out
}

// Unmasking lists, in words, how next protects personal data items less than cur: an item
// of personal information made less sensitive, or given a masking rule other than full
// masking. Such a change is a proposal the coordinator decides (CatalogChange), whether or
// not requirements are granted on the resource: the catalogue is not a way around masking.
func Unmasking(cur, next *Resource) []string {
	var out []string
	for _, it := range cur.Items {
		if !it.Sensitivity.personal() {
			continue
		}
		n, ok := next.Item(it.Name)
		if !ok {
			continue
		}
		switch {
		case sensitivityRank[n.Sensitivity] < sensitivityRank[it.Sensitivity]:
			out = append(out, fmt.Sprintf("lowers the sensitivity of data item %s (%s → %s)", it.Name, it.Sensitivity, n.Sensitivity))
		case n.MaskRule() != it.MaskRule() && n.MaskRule() != MaskFull:
			out = append(out, fmt.Sprintf("loosens the masking of data item %s (%s → %s)", it.Name, it.MaskRule(), n.MaskRule()))
		}
	}
	return out
}
