package ses

import (
	"encoding/asn1"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// ErrFormat is wrapped by every parse error.
var ErrFormat = errors.New("malformed SES structure")

func formatErr(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrFormat, fmt.Sprintf(format, args...))
}

// ASN.1 universal tags not named by cryptobyte/asn1.
const (
	tagIA5String       = cbasn1.IA5String
	tagUTF8String      = cbasn1.UTF8String
	tagPrintableString = cbasn1.PrintableString
	tagT61String       = cbasn1.T61String
	tagVisibleString   = cbasn1.Tag(26)
	tagBMPString       = cbasn1.Tag(30)
	tagSeq             = cbasn1.SEQUENCE
	tagCtx0            = cbasn1.Tag(0xa0) // [0] constructed, context-specific
)

// maxInput bounds what the parsers accept (a seal with a large picture is ~1 MB at most).
const maxInput = 64 << 20

// elements splits the content of a SEQUENCE into its TLV elements.
func elements(content cryptobyte.String) ([]tlv, error) {
	var out []tlv
	for !content.Empty() {
		var el cryptobyte.String
		var tag cbasn1.Tag
		if !content.ReadAnyASN1Element(&el, &tag) {
			return nil, formatErr("bad TLV encoding")
		}
		out = append(out, tlv{tag: tag, raw: []byte(el)})
		if len(out) > 64 {
			return nil, formatErr("too many elements in a SEQUENCE")
		}
	}
	return out, nil
}

type tlv struct {
	tag cbasn1.Tag
	raw []byte // full TLV
}

// content returns the value bytes of the element.
func (t tlv) content() []byte {
	s := cryptobyte.String(t.raw)
	var c cryptobyte.String
	var tag cbasn1.Tag
	if !s.ReadAnyASN1(&c, &tag) {
		return nil
	}
	return []byte(c)
}

// seqElements reads a whole input that must be one SEQUENCE and returns its children.
func seqElements(der []byte, what string) ([]tlv, error) {
	s := cryptobyte.String(der)
	var c cryptobyte.String
	if !s.ReadASN1(&c, tagSeq) {
		return nil, formatErr("%s: expected a DER SEQUENCE", what)
	}
	if !s.Empty() {
		return nil, formatErr("%s: %d trailing bytes after the SEQUENCE", what, len(s))
	}
	els, err := elements(c)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	return els, nil
}

func (t tlv) int64(what string) (int64, error) {
	if t.tag != cbasn1.INTEGER {
		return 0, formatErr("%s: expected INTEGER, got tag %d", what, t.tag)
	}
	s := cryptobyte.String(t.raw)
	var v int64
	if !s.ReadASN1Integer(&v) {
		return 0, formatErr("%s: bad INTEGER", what)
	}
	return v, nil
}

func (t tlv) oid(what string) (asn1.ObjectIdentifier, error) {
	s := cryptobyte.String(t.raw)
	var v asn1.ObjectIdentifier
	if t.tag != cbasn1.OBJECT_IDENTIFIER || !s.ReadASN1ObjectIdentifier(&v) {
		return nil, formatErr("%s: expected OBJECT IDENTIFIER", what)
	}
	return v, nil
}

func (t tlv) octets(what string) ([]byte, error) {
	if t.tag != cbasn1.OCTET_STRING {
		return nil, formatErr("%s: expected OCTET STRING, got tag %d", what, t.tag)
	}
	return t.content(), nil
}

// bitBytes returns the bytes of a BIT STRING whose unused-bits count is 0.
func (t tlv) bitBytes(what string) ([]byte, error) {
	if t.tag != cbasn1.BIT_STRING {
		return nil, formatErr("%s: expected BIT STRING, got tag %d", what, t.tag)
	}
	c := t.content()
	if len(c) == 0 {
		return nil, formatErr("%s: empty BIT STRING", what)
	}
	if c[0] != 0 {
		return nil, formatErr("%s: BIT STRING with %d unused bits (a byte string was expected)", what, c[0])
	}
	return c[1:], nil
}

// text returns a character string of any of the usual string types.
func (t tlv) text(what string) (string, error) {
	switch t.tag {
	case tagIA5String, tagUTF8String, tagPrintableString, tagT61String, tagVisibleString:
		c := t.content()
		if !utf8.Valid(c) {
			return "", formatErr("%s: string is not valid UTF-8", what)
		}
		return string(c), nil
	case tagBMPString:
		return decodeBMP(t.content())
	}
	return "", formatErr("%s: expected a character string, got tag %d", what, t.tag)
}

func decodeBMP(b []byte) (string, error) {
	if len(b)%2 != 0 {
		return "", formatErr("BMPString with odd length")
	}
	var sb strings.Builder
	for i := 0; i < len(b); i += 2 {
		sb.WriteRune(rune(b[i])<<8 | rune(b[i+1]))
	}
	return sb.String(), nil
}

// timeLayouts are the textual time forms seen in GeneralizedTime, UTCTime and vendor text.
var timeLayouts = []string{
	"20060102150405Z0700",
	"20060102150405.999999999Z0700",
	"20060102150405",
	"060102150405Z0700",
	"0601021504Z0700",
	"2006-01-02T15:04:05.999999999Z07:00",
	"2006-01-02T15:04:05Z07:00",
	"2006-01-02 15:04:05",
	"2006-01-02T15:04:05",
}

// ParseTimeText parses the time texts seen in seal files and OFD SignatureDateTime. Texts
// without a zone are read as UTC+8 (China Standard Time), which is what vendors write.
func ParseTimeText(s string) (time.Time, error) {
	s = strings.TrimRight(strings.TrimSpace(s), "\x00")
	cst := time.FixedZone("CST", 8*3600)
	for _, l := range timeLayouts {
		var t time.Time
		var err error
		if strings.Contains(l, "Z07") {
			t, err = time.Parse(l, s)
		} else {
			t, err = time.ParseInLocation(l, s, cst)
		}
		if err == nil {
			if strings.HasPrefix(l, "06") && t.Year() >= 2050 { // UTCTime century rule
				t = t.AddDate(-100, 0, 0)
			}
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("unrecognised time text %q", s)
}

// timeValue reads a time in any of GeneralizedTime, UTCTime, BIT STRING text or string text.
func (t tlv) timeValue(what string) (time.Time, TimeInfoKind, string, error) {
	var kind TimeInfoKind
	var text string
	switch t.tag {
	case cbasn1.GeneralizedTime:
		kind, text = TimeGeneralized, string(t.content())
	case cbasn1.UTCTime:
		kind, text = TimeUTC, string(t.content())
	case cbasn1.BIT_STRING:
		b, err := t.bitBytes(what)
		if err != nil {
			return time.Time{}, "", "", err
		}
		kind, text = TimeBitString, string(b)
	case cbasn1.OCTET_STRING:
		kind, text = TimeOther, string(t.content())
	default:
		s, err := t.text(what)
		if err != nil {
			return time.Time{}, "", "", formatErr("%s: expected a time, got tag %d", what, t.tag)
		}
		kind, text = TimeOther, s
	}
	if !utf8.ValidString(text) {
		return time.Time{}, kind, "", formatErr("%s: time text is not valid UTF-8", what)
	}
	v, err := ParseTimeText(text)
	if err != nil {
		return time.Time{}, kind, text, formatErr("%s: %v", what, err)
	}
	return v, kind, text, nil
}

func parseExtDatas(t tlv) ([]ExtData, error) {
	if t.tag != tagSeq {
		return nil, formatErr("extDatas: expected SEQUENCE OF ExtData")
	}
	els, err := elements(cryptobyte.String(t.content()))
	if err != nil {
		return nil, fmt.Errorf("extDatas: %w", err)
	}
	out := make([]ExtData, 0, len(els))
	for i, e := range els {
		f, err := seqElements(e.raw, fmt.Sprintf("extDatas[%d]", i))
		if err != nil {
			return nil, err
		}
		if len(f) < 2 || len(f) > 3 {
			return nil, formatErr("extDatas[%d]: expected 2 or 3 fields, got %d", i, len(f))
		}
		var x ExtData
		if x.ID, err = f[0].oid("extDatas.extnID"); err != nil {
			return nil, err
		}
		v := f[len(f)-1]
		if len(f) == 3 {
			s := cryptobyte.String(f[1].raw)
			if f[1].tag != cbasn1.BOOLEAN || !s.ReadASN1Boolean(&x.Critical) {
				return nil, formatErr("extDatas[%d]: critical must be BOOLEAN", i)
			}
		}
		if x.Value, err = v.octets("extDatas.extnValue"); err != nil {
			return nil, err
		}
		out = append(out, x)
	}
	return out, nil
}

func parseHeader(t tlv) (Header, error) {
	var h Header
	f, err := seqElements(t.raw, "SES_Header")
	if err != nil {
		return h, err
	}
	if len(f) != 3 {
		return h, formatErr("SES_Header: expected 3 fields, got %d", len(f))
	}
	if h.ID, err = f[0].text("header.id"); err != nil {
		return h, err
	}
	if h.Version, err = f[1].int64("header.version"); err != nil {
		return h, err
	}
	if h.VID, err = f[2].text("header.vid"); err != nil {
		return h, err
	}
	if h.ID != "ES" {
		return h, formatErr("SES_Header: id is %q, want \"ES\"", h.ID)
	}
	return h, nil
}

func parsePicture(t tlv) (Picture, error) {
	var p Picture
	f, err := seqElements(t.raw, "SES_ESPictrueInfo")
	if err != nil {
		return p, err
	}
	if len(f) != 4 {
		return p, formatErr("SES_ESPictrueInfo: expected 4 fields, got %d", len(f))
	}
	if p.Type, err = f[0].text("picture.type"); err != nil {
		return p, err
	}
	if p.Data, err = f[1].octets("picture.data"); err != nil {
		return p, err
	}
	if p.Width, err = f[2].int64("picture.width"); err != nil {
		return p, err
	}
	if p.Height, err = f[3].int64("picture.height"); err != nil {
		return p, err
	}
	return p, nil
}

func parseCertList(t tlv, p *Property) error {
	if t.tag != tagSeq {
		return formatErr("certList: expected SEQUENCE, got tag %d", t.tag)
	}
	els, err := elements(cryptobyte.String(t.content()))
	if err != nil {
		return fmt.Errorf("certList: %w", err)
	}
	for i, e := range els {
		switch e.tag {
		case cbasn1.OCTET_STRING:
			p.Certs = append(p.Certs, e.content())
		case tagSeq:
			f, err := seqElements(e.raw, fmt.Sprintf("certList[%d]", i))
			if err != nil {
				return err
			}
			if len(f) != 2 {
				return formatErr("certList[%d]: CertDigestObj needs 2 fields, got %d", i, len(f))
			}
			var d CertDigest
			if d.Type, err = f[0].text("CertDigestObj.type"); err != nil {
				return err
			}
			if d.Value, err = f[1].octets("CertDigestObj.value"); err != nil {
				return err
			}
			p.Digests = append(p.Digests, d)
		default:
			s, err := e.text(fmt.Sprintf("certList[%d]", i))
			if err != nil {
				return formatErr("certList[%d]: neither certificate, digest nor string (tag %d)", i, e.tag)
			}
			p.CertIDs = append(p.CertIDs, s)
		}
	}
	return nil
}

func parseProperty(t tlv, layout int) (Property, error) {
	var p Property
	f, err := seqElements(t.raw, "SES_ESPropertyInfo")
	if err != nil {
		return p, err
	}
	i := 0
	next := func() (tlv, error) {
		if i >= len(f) {
			return tlv{}, formatErr("SES_ESPropertyInfo: too few fields (%d)", len(f))
		}
		i++
		return f[i-1], nil
	}
	var e tlv
	if e, err = next(); err != nil {
		return p, err
	}
	if p.Type, err = e.int64("property.type"); err != nil {
		return p, err
	}
	if e, err = next(); err != nil {
		return p, err
	}
	if p.Name, err = e.text("property.name"); err != nil {
		return p, err
	}
	// V4 has certListType INTEGER before certList; V1 does not. Decide by the tag.
	if e, err = next(); err != nil {
		return p, err
	}
	if e.tag == cbasn1.INTEGER {
		if p.CertListType, err = e.int64("property.certListType"); err != nil {
			return p, err
		}
		if e, err = next(); err != nil {
			return p, err
		}
	} else if layout != V1 {
		return p, formatErr("SES_ESPropertyInfo: certListType missing in a V%d seal", layout)
	}
	if err = parseCertList(e, &p); err != nil {
		return p, err
	}
	times := []*time.Time{&p.CreateDate, &p.ValidStart, &p.ValidEnd}
	names := []string{"createDate", "validStart", "validEnd"}
	for k, dst := range times {
		if e, err = next(); err != nil {
			return p, err
		}
		if e.tag != cbasn1.GeneralizedTime && e.tag != cbasn1.UTCTime {
			return p, formatErr("property.%s: expected UTCTime or GeneralizedTime, got tag %d", names[k], e.tag)
		}
		if *dst, _, _, err = e.timeValue("property." + names[k]); err != nil {
			return p, err
		}
	}
	if i != len(f) {
		return p, formatErr("SES_ESPropertyInfo: %d unexpected trailing fields", len(f)-i)
	}
	return p, nil
}

func parseSealInfo(t tlv, layout int) (SealInfo, error) {
	info := SealInfo{Raw: t.raw}
	f, err := seqElements(t.raw, "SES_SealInfo")
	if err != nil {
		return info, err
	}
	if len(f) < 4 || len(f) > 5 {
		return info, formatErr("SES_SealInfo: expected 4 or 5 fields, got %d", len(f))
	}
	if info.Header, err = parseHeader(f[0]); err != nil {
		return info, err
	}
	if info.ESID, err = f[1].text("esID"); err != nil {
		return info, err
	}
	if info.Property, err = parseProperty(f[2], layout); err != nil {
		return info, err
	}
	if info.Picture, err = parsePicture(f[3]); err != nil {
		return info, err
	}
	if len(f) == 5 {
		ext := f[4]
		if ext.tag == tagCtx0 { // tolerate an EXPLICIT [0] wrapper
			ext = tlv{tag: tagSeq, raw: ext.content()}
		}
		if info.ExtDatas, err = parseExtDatas(ext); err != nil {
			return info, err
		}
	}
	return info, nil
}

// seqHeader returns the DER tag+length prefix of a SEQUENCE with the given content length.
func seqWrap(parts ...[]byte) []byte {
	var b cryptobyte.Builder
	b.AddASN1(tagSeq, func(c *cryptobyte.Builder) {
		for _, p := range parts {
			c.AddBytes(p)
		}
	})
	out, err := b.Bytes()
	if err != nil { // only on absurd lengths; callers bound input size
		return nil
	}
	return out
}

// ParseSeal parses an SESeal (V1, V4 or V5) from DER.
func ParseSeal(der []byte) (*Seal, error) {
	if len(der) > maxInput {
		return nil, formatErr("seal is %d bytes, more than the %d-byte limit", len(der), maxInput)
	}
	f, err := seqElements(der, "SESeal")
	if err != nil {
		return nil, err
	}
	s := &Seal{Raw: der}
	switch len(f) {
	case 2:
		s.Version = V1
	case 4:
		s.Version = V4
	case 5:
		s.Version = V5
	default:
		return nil, formatErr("SESeal: %d fields; V1 has 2, V4 4, V5 5", len(f))
	}
	if f[0].tag != tagSeq {
		return nil, formatErr("SESeal: first field is not SES_SealInfo")
	}
	if s.Info, err = parseSealInfo(f[0], s.Version); err != nil {
		return nil, err
	}
	var certEl, algEl, sigEl tlv
	if s.Version == V1 {
		si, err := seqElements(f[1].raw, "SES_SignInfo")
		if err != nil {
			return nil, err
		}
		if len(si) != 3 {
			return nil, formatErr("SES_SignInfo: expected 3 fields, got %d", len(si))
		}
		certEl, algEl, sigEl = si[0], si[1], si[2]
	} else {
		certEl, algEl, sigEl = f[1], f[2], f[3]
		if s.Info.Header.Version == 5 {
			s.Version = V5
		}
		if len(f) == 5 {
			ts := f[4]
			if ts.tag != tagCtx0 {
				return nil, formatErr("SESeal: fifth field must be [0] timeStamp, got tag %d", ts.tag)
			}
			s.TimeStamp = ts.content()
		}
	}
	if s.MakerCert, err = certEl.octets("seal maker cert"); err != nil {
		return nil, err
	}
	if s.SignAlg, err = algEl.oid("seal signAlgID"); err != nil {
		return nil, err
	}
	if s.SignedValue, err = sigEl.bitBytes("seal signedValue"); err != nil {
		return nil, err
	}
	if s.Version == V1 {
		s.makerMsg = seqWrap(f[0].raw, certEl.raw, algEl.raw)
	} else {
		s.makerMsg = f[0].raw
	}
	return s, nil
}

// ParseSignature parses an SES_Signature (V1 or V4/V5) from DER, including its embedded seal.
func ParseSignature(der []byte) (*Signature, error) {
	if len(der) > maxInput {
		return nil, formatErr("signature is %d bytes, more than the %d-byte limit", len(der), maxInput)
	}
	f, err := seqElements(der, "SES_Signature")
	if err != nil {
		return nil, err
	}
	sig := &Signature{Raw: der}
	switch len(f) {
	case 2:
		sig.Version = V1
	case 4, 5:
		sig.Version = V4
	default:
		return nil, formatErr("SES_Signature: %d fields; V1 has 2, V4 has 4 or 5", len(f))
	}
	if f[0].tag != tagSeq {
		return nil, formatErr("SES_Signature: first field is not TBS_Sign")
	}
	sig.TBSRaw = f[0].raw
	tbs, err := seqElements(f[0].raw, "TBS_Sign")
	if err != nil {
		return nil, err
	}
	want := 5
	if sig.Version == V1 {
		want = 7
	}
	if len(tbs) != want && len(tbs) != want+1 {
		return nil, formatErr("TBS_Sign (V%d): expected %d or %d fields, got %d", sig.Version, want, want+1, len(tbs))
	}
	if sig.TBSVersion, err = tbs[0].int64("TBS_Sign.version"); err != nil {
		return nil, err
	}
	if tbs[1].tag != tagSeq {
		return nil, formatErr("TBS_Sign.eseal: expected SESeal SEQUENCE")
	}
	if sig.Seal, err = ParseSeal(tbs[1].raw); err != nil {
		return nil, fmt.Errorf("TBS_Sign.eseal: %w", err)
	}
	if sig.TimeInfo, sig.TimeInfoKind, sig.TimeInfoText, err = tbs[2].timeValue("TBS_Sign.timeInfo"); err != nil {
		return nil, err
	}
	if sig.DataHash, err = tbs[3].bitBytes("TBS_Sign.dataHash"); err != nil {
		return nil, err
	}
	if sig.PropertyInfo, err = tbs[4].text("TBS_Sign.propertyInfo"); err != nil {
		return nil, err
	}
	rest := tbs[5:]
	if sig.Version == V1 {
		if sig.Cert, err = rest[0].octets("TBS_Sign.cert"); err != nil {
			return nil, err
		}
		if sig.SignAlg, err = rest[1].oid("TBS_Sign.signatureAlgorithm"); err != nil {
			return nil, err
		}
		rest = rest[2:]
	}
	if len(rest) == 1 {
		ext := rest[0]
		if ext.tag == tagCtx0 {
			ext = tlv{tag: tagSeq, raw: ext.content()}
		}
		if sig.ExtDatas, err = parseExtDatas(ext); err != nil {
			return nil, fmt.Errorf("TBS_Sign: %w", err)
		}
	}
	if sig.Version == V1 {
		if sig.Value, err = f[1].bitBytes("SES_Signature.signature"); err != nil {
			return nil, err
		}
		return sig, nil
	}
	if sig.Cert, err = f[1].octets("SES_Signature.cert"); err != nil {
		return nil, err
	}
	if sig.SignAlg, err = f[2].oid("SES_Signature.signatureAlgID"); err != nil {
		return nil, err
	}
	if sig.Value, err = f[3].bitBytes("SES_Signature.signature"); err != nil {
		return nil, err
	}
	if len(f) == 5 {
		ts := f[4]
		switch ts.tag {
		case tagCtx0: // [0] EXPLICIT BIT STRING (ofdrw) or IMPLICIT content
			inner := cryptobyte.String(ts.content())
			var bs cryptobyte.String
			if inner.PeekASN1Tag(cbasn1.BIT_STRING) && inner.ReadASN1(&bs, cbasn1.BIT_STRING) && inner.Empty() && len(bs) > 0 {
				sig.TimeStamp = []byte(bs)[1:]
			} else {
				sig.TimeStamp = ts.content()
			}
		case cbasn1.BIT_STRING: // untagged (Chingliu)
			if sig.TimeStamp, err = ts.bitBytes("SES_Signature.timeStamp"); err != nil {
				return nil, err
			}
		default:
			return nil, formatErr("SES_Signature: fifth field must be the timeStamp, got tag %d", ts.tag)
		}
	}
	return sig, nil
}
