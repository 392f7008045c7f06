package ecert

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/gxhub/gxhub/certs/ofd"
)

// LicenceTagNS is the namespace of the custom tag file that carries a licence's GB/T 36903
// metadata inside its GB/T 36905 OFD file.
const LicenceTagNS = "urn:gb:36903-2018:ecert"

// licenceTag is the custom tag file: the metadata (canonical JSON, what the issuer states)
// and, for each shown field, the text object on the licence page that shows it.
type licenceTag struct {
	XMLName  xml.Name   `xml:"Licence"`
	NS       string     `xml:"xmlns,attr"`
	Version  int        `xml:"Version,attr"`
	Metadata string     `xml:"Metadata"`
	Fields   []tagField `xml:"Field"`
}

type tagField struct {
	Code  string `xml:"Code,attr"` // ZZBS, ZZBH, CZZT, …
	Value string `xml:"Value"`     // the value as shown
	Ref   tagRef `xml:"ObjectRef"` // the TextObject showing it
}

type tagRef struct {
	PageRef string `xml:"PageRef,attr"`
	ID      string `xml:",chardata"`
}

// Field is one licence field a page shows: its code, its value and the text object.
type Field struct {
	Code, Label, Value string
	PageID, ObjectID   string
}

// LicenceFile is what a GB/T 36905 licence file states: the metadata and the fields its
// page shows.
type LicenceFile struct {
	Metadata *Metadata
	Fields   []Field
}

// face lists the fields shown on the licence page, in order.
func face(m *Metadata, t CertType) []Field {
	until := m.ValidUntil.String()
	if until == "" {
		until = "长期"
	}
	f := []Field{
		{Code: "ZZMC", Label: "证照名称", Value: m.Name},
		{Code: "ZZBH", Label: "证照编号", Value: m.Number},
		{Code: "CZZT", Label: "持证主体", Value: m.HolderName},
		{Code: "CZZTDM", Label: m.HolderTypeName, Value: m.HolderCode},
		{Code: "ZZYXQQSRQ", Label: "有效期自", Value: m.ValidFrom.String()},
		{Code: "ZZYXQJZRQ", Label: "有效期至", Value: until},
	}
	for _, it := range t.Items {
		if v := m.Items[it.Key]; v != "" {
			f = append(f, Field{Code: "ITEM_" + it.Key, Label: it.Name, Value: v})
		}
	}
	return append(f,
		Field{Code: "ZZBFJG", Label: "颁发机构", Value: m.IssuerName},
		Field{Code: "ZZBFRQ", Label: "颁发日期", Value: m.IssueDate.String()},
		Field{Code: "ZZBS", Label: "证照标识", Value: m.Identifier})
}

func esc(s string) string {
	var b strings.Builder
	_ = xml.EscapeText(&b, []byte(s))
	return b.String()
}

// NewLicenceOFD lays out a licence as an unsigned GB/T 36905 OFD file: one A4
// page showing the licence's fields, the GB/T 36903 metadata in a custom tag file whose
// fields point at the text objects that show them, and the metadata also as OFD.xml custom
// data (ZZBS, ZZMC, …). Seal it with the issuer's seal (ofd.Seal) before handing it out.
func NewLicenceOFD(m *Metadata, cat *Catalogue) ([]byte, error) {
	if err := m.Validate(cat); err != nil {
		return nil, err
	}
	t, _ := cat.Lookup(m.TypeCode)
	js, err := m.CanonicalJSON()
	if err != nil {
		return nil, err
	}
	fields := face(m, t)
	var page bytes.Buffer
	page.WriteString(`<?xml version="1.0" encoding="UTF-8"?>` + "\n")
	page.WriteString(`<ofd:Page xmlns:ofd="http://www.ofdspec.org/2016"><ofd:Area><ofd:PhysicalBox>0 0 210 297</ofd:PhysicalBox></ofd:Area><ofd:Content><ofd:Layer ID="3">`)
	fmt.Fprintf(&page, `<ofd:TextObject ID="4" Boundary="20 20 170 14" Font="2" Size="9"><ofd:FillColor Value="160 0 0"/><ofd:TextCode X="0" Y="10">%s</ofd:TextCode></ofd:TextObject>`, esc(t.Name))
	id := 5
	var tag licenceTag
	tag.NS, tag.Version, tag.Metadata = LicenceTagNS, 1, string(js)
	for i, f := range fields {
		y := 45 + 7*i
		fmt.Fprintf(&page, `<ofd:TextObject ID="%d" Boundary="20 %d 50 7" Font="2" Size="4"><ofd:TextCode X="0" Y="5">%s</ofd:TextCode></ofd:TextObject>`, id, y, esc(f.Label))
		fmt.Fprintf(&page, `<ofd:TextObject ID="%d" Boundary="72 %d 118 7" Font="2" Size="4"><ofd:TextCode X="0" Y="5">%s</ofd:TextCode></ofd:TextObject>`, id+1, y, esc(f.Value))
		tag.Fields = append(tag.Fields, tagField{Code: f.Code, Value: f.Value, Ref: tagRef{PageRef: "1", ID: fmt.Sprint(id + 1)}})
		id += 2
	}
	page.WriteString(`</ofd:Layer></ofd:Content></ofd:Page>`)
	if 45+7*len(fields) > 280 {
		return nil, fmt.Errorf("licence %s has %d fields: more than one page holds", m.Identifier, len(fields))
	}
	tagXML, err := xml.Marshal(tag)
	if err != nil {
		return nil, err
	}
	var custom strings.Builder
	for _, d := range m.CustomData() {
		fmt.Fprintf(&custom, `<ofd:CustomData Name="%s">%s</ofd:CustomData>`, esc(d.Name), esc(d.Value))
	}
	files := []struct{ name, body string }{
		{"OFD.xml", `<?xml version="1.0" encoding="UTF-8"?>` + "\n" + `<ofd:OFD xmlns:ofd="http://www.ofdspec.org/2016" DocType="OFD" Version="1.1"><ofd:DocBody><ofd:DocInfo>` +
			`<ofd:DocID>` + esc(strings.ReplaceAll(m.Identifier, ".", "")) + `</ofd:DocID><ofd:Title>` + esc(m.Name) + `</ofd:Title><ofd:Author>` + esc(m.IssuerName) + `</ofd:Author>` +
			`<ofd:CreationDate>` + m.IssueDate.String() + `</ofd:CreationDate><ofd:Creator>gxhub</ofd:Creator><ofd:CustomDatas>` + custom.String() + `</ofd:CustomDatas></ofd:DocInfo>` +
			`<ofd:DocRoot>Doc_0/Document.xml</ofd:DocRoot></ofd:DocBody></ofd:OFD>`},
		{"Doc_0/Document.xml", `<?xml version="1.0" encoding="UTF-8"?>` + "\n" + `<ofd:Document xmlns:ofd="http://www.ofdspec.org/2016"><ofd:CommonData><ofd:MaxUnitID>` + fmt.Sprint(id) +
			`</ofd:MaxUnitID><ofd:PageArea><ofd:PhysicalBox>0 0 210 297</ofd:PhysicalBox></ofd:PageArea><ofd:PublicRes>PublicRes.xml</ofd:PublicRes></ofd:CommonData>` +
			`<ofd:Pages><ofd:Page ID="1" BaseLoc="Pages/Page_0/Content.xml"/></ofd:Pages><ofd:CustomTags>Tags/CustomTags.xml</ofd:CustomTags></ofd:Document>`},
		{"Doc_0/PublicRes.xml", `<?xml version="1.0" encoding="UTF-8"?>` + "\n" + `<ofd:Res xmlns:ofd="http://www.ofdspec.org/2016" BaseLoc="Res"><ofd:Fonts><ofd:Font ID="2" FontName="宋体" FamilyName="宋体"/></ofd:Fonts></ofd:Res>`},
		{"Doc_0/Pages/Page_0/Content.xml", page.String()},
		{"Doc_0/Tags/CustomTags.xml", `<?xml version="1.0" encoding="UTF-8"?>` + "\n" + `<ofd:CustomTags xmlns:ofd="http://www.ofdspec.org/2016"><ofd:CustomTag NameSpace="` + LicenceTagNS + `"><ofd:FileLoc>Licence.xml</ofd:FileLoc></ofd:CustomTag></ofd:CustomTags>`},
		{"Doc_0/Tags/Licence.xml", `<?xml version="1.0" encoding="UTF-8"?>` + "\n" + string(tagXML)},
	}
	var order []string
	m2 := map[string][]byte{}
	for _, f := range files {
		order = append(order, f.name)
		m2[f.name] = []byte(f.body)
	}
	return ofd.Pack(order, m2)
}

// ErrNotLicence is returned by ParseLicenceTag for a custom tag file that is not a
// licence's.
var ErrNotLicence = errors.New("not a GB/T 36903 licence tag")

// ParseLicenceTag reads a licence's custom tag file: the metadata and the fields the page
// shows. It returns ErrNotLicence for other tag files.
func ParseLicenceTag(b []byte) (*LicenceFile, error) {
	var tag licenceTag
	d := xml.NewDecoder(bytes.NewReader(b))
	if err := d.Decode(&tag); err != nil || tag.XMLName.Local != "Licence" {
		return nil, ErrNotLicence
	}
	if tag.NS != LicenceTagNS {
		return nil, ErrNotLicence
	}
	if tag.Version != 1 {
		return nil, fmt.Errorf("licence tag version %d is not supported (1)", tag.Version)
	}
	var m Metadata
	if err := jsonStrict([]byte(tag.Metadata), &m); err != nil {
		return nil, fmt.Errorf("licence tag metadata: %w", err)
	}
	out := &LicenceFile{Metadata: &m}
	for _, f := range tag.Fields {
		out.Fields = append(out.Fields, Field{Code: f.Code, Value: f.Value, PageID: strings.TrimSpace(f.Ref.PageRef), ObjectID: strings.TrimSpace(f.Ref.ID)})
	}
	return out, nil
}

// CheckFace compares the fields the licence tag says the page shows with the metadata and
// with the text the page really shows (shown maps a page ID and text object ID to its
// text). It returns the problems found.
func (l *LicenceFile) CheckFace(shown func(pageID, objectID string) (string, bool)) []string {
	want := map[string]string{}
	for _, f := range face(l.Metadata, CertType{}) {
		want[f.Code] = f.Value
	}
	for k, v := range l.Metadata.Items {
		want["ITEM_"+k] = v
	}
	var probs []string
	seen := map[string]bool{}
	for _, f := range l.Fields {
		seen[f.Code] = true
		if w, ok := want[f.Code]; !ok || w != f.Value {
			probs = append(probs, fmt.Sprintf("field %s says %q, the metadata %q", f.Code, f.Value, w))
			continue
		}
		got, ok := shown(f.PageID, f.ObjectID)
		switch {
		case !ok:
			probs = append(probs, fmt.Sprintf("field %s points at text object %s of page %s, which does not exist", f.Code, f.ObjectID, f.PageID))
		case strings.TrimSpace(got) != f.Value:
			probs = append(probs, fmt.Sprintf("page %s shows %q for %s, the metadata says %q", f.PageID, got, f.Code, f.Value))
		}
	}
	var missing []string
	for _, c := range []string{"ZZBS", "ZZBH", "CZZT", "CZZTDM", "ZZBFJG"} {
		if !seen[c] {
			missing = append(missing, c)
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		probs = append(probs, "the page does not show "+strings.Join(missing, ", "))
	}
	return probs
}

// jsonStrict decodes one JSON value, refusing unknown fields and trailing data.
func jsonStrict(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return errors.New("trailing data after the JSON value")
	}
	return nil
}
