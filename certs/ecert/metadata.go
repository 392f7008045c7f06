package ecert

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Date is a calendar date (no time of day, no zone), encoded in JSON as "2006-01-02".
type Date struct {
	Year  int
	Month time.Month
	Day   int
}

// ParseDate parses "2006-01-02" (or the compact "20060102").
func ParseDate(s string) (Date, error) {
	layout := "2006-01-02"
	if len(s) == 8 {
		layout = "20060102"
	}
	t, err := time.Parse(layout, s)
	if err != nil {
		return Date{}, fmt.Errorf("date %q: want YYYY-MM-DD", s)
	}
	return DateOf(t), nil
}

// DateOf returns the date of t in t's location.
func DateOf(t time.Time) Date {
	y, m, d := t.Date()
	return Date{y, m, d}
}

// IsZero reports whether d is unset.
func (d Date) IsZero() bool { return d == Date{} }

// String formats d as "2006-01-02" ("" when zero).
func (d Date) String() string {
	if d.IsZero() {
		return ""
	}
	return fmt.Sprintf("%04d-%02d-%02d", d.Year, int(d.Month), d.Day)
}

// Compact formats d as "20060102" (the form of the national catalogue's date fields).
func (d Date) Compact() string {
	if d.IsZero() {
		return ""
	}
	return fmt.Sprintf("%04d%02d%02d", d.Year, int(d.Month), d.Day)
}

// Before reports whether d is before e.
func (d Date) Before(e Date) bool {
	return d.Year < e.Year || d.Year == e.Year && (d.Month < e.Month || d.Month == e.Month && d.Day < e.Day)
}

// MarshalJSON encodes d as "2006-01-02", or null when zero.
func (d Date) MarshalJSON() ([]byte, error) {
	if d.IsZero() {
		return []byte("null"), nil
	}
	return json.Marshal(d.String())
}

// UnmarshalJSON decodes "2006-01-02" or "20060102" (null leaves d zero).
func (d *Date) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		*d = Date{}
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("date: %w", err)
	}
	v, err := ParseDate(s)
	if err != nil {
		return err
	}
	*d = v
	return nil
}

// Metadata is a licence's GB/T 36903 metadata. JSON names follow the national catalogue
// interface; the comment of each field gives the Chinese element and the code under which
// it goes into OFD CustomData (see CustomData).
type Metadata struct {
	// Identifier is the GB/T 36904 identifier (证照标识, ZZBS).
	Identifier string `json:"certificate_identifier"`
	// Name is the licence name (证照名称, ZZMC), normally the type name.
	Name string `json:"certificate_name"`
	// TypeCode is the licence type code (证照类型代码, ZZLXDM).
	TypeCode string `json:"certificate_type_code"`
	// TypeName is the licence type name (证照类型名称).
	TypeName string `json:"certificate_type_name"`
	// Number is the number printed on the licence (证照编号, ZZBH).
	Number string `json:"certificate_number"`
	// Version is the three-digit version (证照版本号), as in the identifier.
	Version string `json:"certificate_version"`
	// IssuerName is the issuing authority (证照颁发机构, ZZBFJG).
	IssuerName string `json:"certificate_issuing_authority_name"`
	// IssuerCode is the issuing authority's USCC (证照颁发机构代码, ZZBFJGDM).
	IssuerCode string `json:"certificate_issuing_authority_code"`
	// IssueDate is the issue date (证照颁发日期, ZZBFRQ).
	IssueDate Date `json:"certificate_issuing_date"`
	// DefinerName is the defining authority (证照定义机构名称).
	DefinerName string `json:"certificate_define_authority_name"`
	// DefinerCode is the defining authority's USCC (证照定义机构代码).
	DefinerCode string `json:"certificate_define_authority_code"`
	// HolderName is the holder (持证主体, CZZT).
	HolderName string `json:"certificate_holder_name"`
	// HolderCode is the holder's code (持证主体代码, CZZTDM).
	HolderCode string `json:"certificate_holder_code"`
	// HolderType is the holder code type (持证主体代码类型代码, CZZTDMLXDM).
	HolderType HolderType `json:"certificate_holder_type"`
	// HolderTypeName is its name (持证主体代码类型, CZZTDMLX).
	HolderTypeName string `json:"certificate_holder_type_name"`
	// ValidFrom is the first day of validity (证照有效期起始日期, ZZYXQQSRQ).
	ValidFrom Date `json:"certificate_validate_start"`
	// ValidUntil is the last day of validity (证照有效期截止日期, ZZYXQJZRQ); zero means
	// valid without end (长期).
	ValidUntil Date `json:"certificate_validate_end"`
	// AreaCode is the 6-digit administrative area the licence belongs to (证照所属管辖属地编码).
	AreaCode string `json:"certificate_area_code,omitempty"`
	// Items are the licence face's information items, by ItemSpec.Key.
	Items map[string]string `json:"items,omitempty"`
	// Extensions are extra business information (扩展业务信息), exported as KZ_<key>.
	Extensions map[string]string `json:"extensions,omitempty"`
}

// NewMetadata starts the metadata of a licence of type t with identifier id: the type,
// definer, issuer code, version and holder-type fields are filled in; the caller fills the
// rest and calls Validate.
func NewMetadata(t CertType, id Identifier) (*Metadata, error) {
	if id.TypeCode != t.Code {
		return nil, fmt.Errorf("identifier type code %s is not the type's code %s (%s)", id.TypeCode, t.Code, t.Name)
	}
	s := id.String()
	if s == "" {
		_, err := id.CheckChar()
		return nil, err
	}
	return &Metadata{
		Identifier:     s,
		Name:           t.Name,
		TypeCode:       t.Code,
		TypeName:       t.Name,
		Version:        fmt.Sprintf("%03d", id.Version),
		IssuerCode:     id.IssuerCode,
		DefinerName:    t.DefinerName,
		DefinerCode:    t.DefinerCode(),
		HolderType:     t.HolderType,
		HolderTypeName: t.HolderType.Name(),
		Items:          map[string]string{},
	}, nil
}

// Validate checks the metadata against itself and the catalogue: the identifier parses and
// agrees with the type, issuer and version fields; the type is catalogued and its names,
// definer and holder type agree; the holder code is valid for its type; dates are ordered;
// required items are present and no item is unknown to the type. All problems are
// reported together.
func (m *Metadata) Validate(cat *Catalogue) error {
	var errs []error
	add := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }

	id, err := ParseIdentifier(m.Identifier)
	if err != nil {
		errs = append(errs, err)
	} else {
		if id.TypeCode != m.TypeCode {
			add("identifier type code %s differs from certificate_type_code %s", id.TypeCode, m.TypeCode)
		}
		if id.IssuerCode != m.IssuerCode {
			add("identifier issuer code %s differs from certificate_issuing_authority_code %s", id.IssuerCode, m.IssuerCode)
		}
		if fmt.Sprintf("%03d", id.Version) != m.Version {
			add("identifier version %03d differs from certificate_version %q", id.Version, m.Version)
		}
	}
	for _, f := range []struct{ name, v string }{
		{"certificate_name (证照名称)", m.Name},
		{"certificate_number (证照编号)", m.Number},
		{"certificate_issuing_authority_name (证照颁发机构)", m.IssuerName},
		{"certificate_holder_name (持证主体)", m.HolderName},
	} {
		if strings.TrimSpace(f.v) == "" {
			add("%s is empty", f.name)
		}
	}
	var t CertType
	var typeOK bool
	if cat == nil {
		add("no licence catalogue to check the type against")
	} else if t, typeOK = cat.Lookup(m.TypeCode); !typeOK {
		add("licence type %s is not in the catalogue", m.TypeCode)
	}
	if typeOK {
		if m.TypeName != t.Name {
			add("certificate_type_name %q is not the catalogued name %q", m.TypeName, t.Name)
		}
		if m.DefinerCode != t.DefinerCode() || m.DefinerName != t.DefinerName {
			add("definer %q %s is not the catalogued %q %s", m.DefinerName, m.DefinerCode, t.DefinerName, t.DefinerCode())
		}
		if m.HolderType != t.HolderType {
			add("holder type %q is not the type's %q (%s)", m.HolderType, t.HolderType, t.HolderType.Name())
		}
		for _, it := range t.Items {
			if it.Required && strings.TrimSpace(m.Items[it.Key]) == "" {
				add("required item %s (%s) is missing", it.Key, it.Name)
			}
		}
		keys := make([]string, 0, len(m.Items))
		for k := range m.Items {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			if _, ok := t.item(k); !ok {
				add("item %q is not an item of %s (%s)", k, t.Name, t.Code)
			}
		}
	}
	if m.HolderTypeName != m.HolderType.Name() {
		add("certificate_holder_type_name %q does not name holder type %q (%q)", m.HolderTypeName, m.HolderType, m.HolderType.Name())
	}
	if err := CheckHolderCode(m.HolderType, m.HolderCode); err != nil {
		add("holder code: %v", err)
	}
	if m.IssueDate.IsZero() {
		add("certificate_issuing_date (证照颁发日期) is not set")
	}
	if m.ValidFrom.IsZero() {
		add("certificate_validate_start (证照有效期起始日期) is not set")
	}
	if !m.ValidUntil.IsZero() && m.ValidUntil.Before(m.ValidFrom) {
		add("validity ends (%s) before it starts (%s)", m.ValidUntil, m.ValidFrom)
	}
	if m.AreaCode != "" && (len(m.AreaCode) != 6 || strings.Trim(m.AreaCode, "0123456789") != "") {
		add("certificate_area_code %q must be a 6-digit administrative area code", m.AreaCode)
	}
	for k := range m.Extensions {
		if k == "" || strings.Trim(strings.ToUpper(k), "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_") != "" {
			add("extension key %q must be letters, digits or _", k)
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("licence metadata %s: %w", m.Identifier, errors.Join(errs...))
	}
	return nil
}

// ValidOn reports whether the licence's validity period includes day d.
func (m *Metadata) ValidOn(d Date) bool {
	if m.ValidFrom.IsZero() || d.Before(m.ValidFrom) {
		return false
	}
	return m.ValidUntil.IsZero() || !m.ValidUntil.Before(d)
}

// CanonicalJSON is the metadata's deterministic JSON encoding (fixed field order, sorted
// map keys), the bytes an issuer signs.
func (m *Metadata) CanonicalJSON() ([]byte, error) { return json.Marshal(m) }

// CustomDatum is one OFD CustomData entry (Name attribute, text value).
type CustomDatum struct {
	Name  string
	Value string
}

// CustomData lists the metadata as OFD CustomData entries under the element codes used by
// implementations (ZZMC, ZZLXDM, …; extensions as KZ_<KEY>). Empty fields are left out;
// dates use the compact YYYYMMDD form; a licence without end date gets ZZYXQJZRQ "长期".
func (m *Metadata) CustomData() []CustomDatum {
	var out []CustomDatum
	put := func(name, v string) {
		if v != "" {
			out = append(out, CustomDatum{name, v})
		}
	}
	put("ZZMC", m.Name)
	put("ZZLXDM", m.TypeCode)
	put("ZZBH", m.Number)
	put("ZZBS", m.Identifier)
	put("ZZBFJG", m.IssuerName)
	put("ZZBFJGDM", m.IssuerCode)
	put("ZZBFRQ", m.IssueDate.Compact())
	put("CZZT", m.HolderName)
	put("CZZTDM", m.HolderCode)
	put("CZZTDMLX", m.HolderTypeName)
	put("CZZTDMLXDM", string(m.HolderType))
	put("ZZYXQQSRQ", m.ValidFrom.Compact())
	if m.ValidUntil.IsZero() {
		put("ZZYXQJZRQ", "长期")
	} else {
		put("ZZYXQJZRQ", m.ValidUntil.Compact())
	}
	keys := make([]string, 0, len(m.Extensions))
	for k := range m.Extensions {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		put("KZ_"+strings.ToUpper(k), m.Extensions[k])
	}
	return out
}
