// Package cms reads and checks SignedData of GB/T 35275 (SM2 cryptographic message syntax,
// GM/T 0010) and RFC 5652 with SM2/SM3: what OFD signatures of Type="Sign" carry in their
// SignedValue.dat, and what a standalone .p7s holds.
//
// Signatures are checked over the bytes that were received: with signed attributes, the SM2
// signature (default user ID, Z) covers the DER SET OF of the attributes exactly as they
// arrived (the [0] IMPLICIT tag replaced by SET, RFC 5652 §5.4), never a re-encoding; the
// messageDigest attribute must be the SM3 of the content. The parser is strict DER with
// cryptobyte and never panics.
//
// gmsm's pkcs7 package is not used for checking: it re-encodes the signed attributes before
// verifying, skips parse errors of the SignedData, and checks the signing time against the
// signer certificate itself; here every step is a separate, reported check.
package cms

import (
	"bytes"
	"encoding/asn1"
	"errors"
	"fmt"
	"math/big"
	"time"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"

	"github.com/gxhub/gxhub/certs/ses"
	"github.com/gxhub/gxhub/certs/sm"
)

// Object identifiers of GB/T 35275 (GM/T 0010) and RFC 5652.
var (
	OIDGMSignedData   = asn1.ObjectIdentifier{1, 2, 156, 10197, 6, 1, 4, 2, 2}
	OIDGMData         = asn1.ObjectIdentifier{1, 2, 156, 10197, 6, 1, 4, 2, 1}
	OIDSignedData     = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 2}
	OIDData           = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 1}
	OIDContentType    = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 3}
	OIDMessageDigest  = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 4}
	OIDSigningTime    = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 5}
	OIDTimeStampToken = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 16, 2, 14}
	OIDSM3            = asn1.ObjectIdentifier{1, 2, 156, 10197, 1, 401}
	OIDSM2Sign        = asn1.ObjectIdentifier{1, 2, 156, 10197, 1, 301, 1}
	OIDSM2            = asn1.ObjectIdentifier{1, 2, 156, 10197, 1, 301}
	OIDSM2WithSM3     = asn1.ObjectIdentifier{1, 2, 156, 10197, 1, 501}
)

// ErrFormat is wrapped by every parse error.
var ErrFormat = errors.New("malformed SignedData")

// ErrUnsupported is wrapped by errors about well-formed input this package cannot check
// (another algorithm, no signer certificate, several signers).
var ErrUnsupported = errors.New("unsupported SignedData")

func formatErr(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrFormat, fmt.Sprintf(format, args...))
}

// Attribute is one signed or unsigned attribute with its values as received (DER).
type Attribute struct {
	Type   asn1.ObjectIdentifier
	Values [][]byte
}

// SignerInfo is one SignerInfo.
type SignerInfo struct {
	Version int64
	// IssuerRaw and Serial identify the signer certificate (issuerAndSerialNumber), or
	// SubjectKeyID does ([0] subjectKeyIdentifier).
	IssuerRaw    []byte
	Serial       *big.Int
	SubjectKeyID []byte
	DigestAlg    asn1.ObjectIdentifier
	// SignedAttrsRaw is the received [0] IMPLICIT element; nil when absent.
	SignedAttrsRaw []byte
	SignedAttrs    []Attribute
	SigAlg         asn1.ObjectIdentifier
	Signature      []byte
	UnsignedAttrs  []Attribute
}

// SignedData is a parsed ContentInfo holding SignedData.
type SignedData struct {
	Raw []byte
	// GM says the outer content type is GB/T 35275's (1.2.156.10197.6.1.4.2.2) rather than
	// RFC 5652's.
	GM               bool
	Version          int64
	DigestAlgorithms []asn1.ObjectIdentifier
	EContentType     asn1.ObjectIdentifier
	// EContent is the encapsulated content; nil when detached.
	EContent     []byte
	Certificates [][]byte
	Signers      []SignerInfo
}

// maxInput bounds what Parse accepts.
const maxInput = 16 << 20

// LooksLike reports whether der starts like a ContentInfo holding SignedData (GB/T 35275
// or RFC 5652), without parsing the rest.
func LooksLike(der []byte) bool {
	s := cryptobyte.String(der)
	var ci cryptobyte.String
	var oid asn1.ObjectIdentifier
	if !s.ReadASN1(&ci, cbasn1.SEQUENCE) || !ci.ReadASN1ObjectIdentifier(&oid) {
		return false
	}
	return oid.Equal(OIDGMSignedData) || oid.Equal(OIDSignedData)
}

// Parse reads a DER ContentInfo holding SignedData.
func Parse(der []byte) (*SignedData, error) {
	if len(der) > maxInput {
		return nil, formatErr("%d bytes, above the %d-byte limit", len(der), maxInput)
	}
	in := cryptobyte.String(der)
	var ci, content cryptobyte.String
	var oid asn1.ObjectIdentifier
	if !in.ReadASN1(&ci, cbasn1.SEQUENCE) || !in.Empty() {
		return nil, formatErr("not one DER SEQUENCE (ContentInfo)")
	}
	if !ci.ReadASN1ObjectIdentifier(&oid) {
		return nil, formatErr("ContentInfo has no content type")
	}
	sd := &SignedData{Raw: der}
	switch {
	case oid.Equal(OIDGMSignedData):
		sd.GM = true
	case oid.Equal(OIDSignedData):
	default:
		return nil, fmt.Errorf("%w: content type %s is not SignedData (GB/T 35275 %s or RFC 5652 %s)", ErrUnsupported, oid, OIDGMSignedData, OIDSignedData)
	}
	if !ci.ReadASN1(&content, cbasn1.Tag(0).ContextSpecific().Constructed()) || !ci.Empty() {
		return nil, formatErr("ContentInfo has no [0] content")
	}
	var body cryptobyte.String
	if !content.ReadASN1(&body, cbasn1.SEQUENCE) || !content.Empty() {
		return nil, formatErr("SignedData is not a SEQUENCE")
	}
	if !body.ReadASN1Integer(&sd.Version) {
		return nil, formatErr("SignedData version")
	}
	var algs cryptobyte.String
	if !body.ReadASN1(&algs, cbasn1.SET) {
		return nil, formatErr("digestAlgorithms")
	}
	for !algs.Empty() {
		a, err := readAlg(&algs)
		if err != nil {
			return nil, fmt.Errorf("digestAlgorithms: %w", err)
		}
		sd.DigestAlgorithms = append(sd.DigestAlgorithms, a)
	}
	var eci cryptobyte.String
	if !body.ReadASN1(&eci, cbasn1.SEQUENCE) || !eci.ReadASN1ObjectIdentifier(&sd.EContentType) {
		return nil, formatErr("encapContentInfo")
	}
	if !eci.Empty() {
		var ec, octets cryptobyte.String
		if !eci.ReadASN1(&ec, cbasn1.Tag(0).ContextSpecific().Constructed()) || !eci.Empty() {
			return nil, formatErr("encapContentInfo eContent")
		}
		if !ec.ReadASN1(&octets, cbasn1.OCTET_STRING) || !ec.Empty() {
			return nil, formatErr("eContent is not one OCTET STRING (constructed BER strings are not DER)")
		}
		sd.EContent = append([]byte{}, octets...)
	}
	var certs cryptobyte.String
	var has bool
	if !body.ReadOptionalASN1(&certs, &has, cbasn1.Tag(0).ContextSpecific().Constructed()) {
		return nil, formatErr("certificates")
	}
	for has && !certs.Empty() {
		var c cryptobyte.String
		var tag cbasn1.Tag
		if !certs.ReadAnyASN1Element(&c, &tag) {
			return nil, formatErr("certificate entry")
		}
		if tag == cbasn1.SEQUENCE {
			sd.Certificates = append(sd.Certificates, append([]byte{}, c...))
		}
		if len(sd.Certificates) > 32 {
			return nil, formatErr("more than 32 certificates")
		}
	}
	if !body.SkipOptionalASN1(cbasn1.Tag(1).ContextSpecific().Constructed()) {
		return nil, formatErr("crls")
	}
	var infos cryptobyte.String
	if !body.ReadASN1(&infos, cbasn1.SET) || !body.Empty() {
		return nil, formatErr("signerInfos")
	}
	for !infos.Empty() {
		si, err := readSignerInfo(&infos)
		if err != nil {
			return nil, err
		}
		sd.Signers = append(sd.Signers, si)
		if len(sd.Signers) > 8 {
			return nil, formatErr("more than 8 signers")
		}
	}
	return sd, nil
}

func readAlg(s *cryptobyte.String) (asn1.ObjectIdentifier, error) {
	var a cryptobyte.String
	var oid asn1.ObjectIdentifier
	if !s.ReadASN1(&a, cbasn1.SEQUENCE) || !a.ReadASN1ObjectIdentifier(&oid) {
		return nil, formatErr("AlgorithmIdentifier")
	}
	return oid, nil // parameters (NULL or absent) are ignored
}

func readSignerInfo(s *cryptobyte.String) (SignerInfo, error) {
	var si SignerInfo
	var body cryptobyte.String
	if !s.ReadASN1(&body, cbasn1.SEQUENCE) || !body.ReadASN1Integer(&si.Version) {
		return si, formatErr("SignerInfo")
	}
	switch {
	case body.PeekASN1Tag(cbasn1.SEQUENCE):
		var ias, issuer cryptobyte.String
		si.Serial = new(big.Int)
		if !body.ReadASN1(&ias, cbasn1.SEQUENCE) || !ias.ReadASN1Element(&issuer, cbasn1.SEQUENCE) || !ias.ReadASN1Integer(si.Serial) {
			return si, formatErr("SignerInfo issuerAndSerialNumber")
		}
		si.IssuerRaw = append([]byte{}, issuer...)
	case body.PeekASN1Tag(cbasn1.Tag(0).ContextSpecific()):
		var ski cryptobyte.String
		if !body.ReadASN1(&ski, cbasn1.Tag(0).ContextSpecific()) {
			return si, formatErr("SignerInfo subjectKeyIdentifier")
		}
		si.SubjectKeyID = append([]byte{}, ski...)
	default:
		return si, formatErr("SignerInfo sid")
	}
	var err error
	if si.DigestAlg, err = readAlg(&body); err != nil {
		return si, fmt.Errorf("SignerInfo digestAlgorithm: %w", err)
	}
	if body.PeekASN1Tag(cbasn1.Tag(0).ContextSpecific().Constructed()) {
		var el cryptobyte.String
		if !body.ReadASN1Element(&el, cbasn1.Tag(0).ContextSpecific().Constructed()) {
			return si, formatErr("signedAttrs")
		}
		si.SignedAttrsRaw = append([]byte{}, el...)
		inner := cryptobyte.String(si.SignedAttrsRaw)
		var attrs cryptobyte.String
		inner.ReadASN1(&attrs, cbasn1.Tag(0).ContextSpecific().Constructed())
		if si.SignedAttrs, err = readAttrs(attrs); err != nil {
			return si, fmt.Errorf("signedAttrs: %w", err)
		}
	}
	if si.SigAlg, err = readAlg(&body); err != nil {
		return si, fmt.Errorf("SignerInfo signatureAlgorithm: %w", err)
	}
	var sig cryptobyte.String
	if !body.ReadASN1(&sig, cbasn1.OCTET_STRING) {
		return si, formatErr("SignerInfo signature")
	}
	si.Signature = append([]byte{}, sig...)
	if body.PeekASN1Tag(cbasn1.Tag(1).ContextSpecific().Constructed()) {
		var attrs cryptobyte.String
		if !body.ReadASN1(&attrs, cbasn1.Tag(1).ContextSpecific().Constructed()) {
			return si, formatErr("unsignedAttrs")
		}
		if si.UnsignedAttrs, err = readAttrs(attrs); err != nil {
			return si, fmt.Errorf("unsignedAttrs: %w", err)
		}
	}
	if !body.Empty() {
		return si, formatErr("trailing data in SignerInfo")
	}
	return si, nil
}

func readAttrs(s cryptobyte.String) ([]Attribute, error) {
	var out []Attribute
	for !s.Empty() {
		var a, vals cryptobyte.String
		var at Attribute
		if !s.ReadASN1(&a, cbasn1.SEQUENCE) || !a.ReadASN1ObjectIdentifier(&at.Type) || !a.ReadASN1(&vals, cbasn1.SET) || !a.Empty() {
			return nil, formatErr("Attribute")
		}
		for !vals.Empty() {
			var v cryptobyte.String
			var tag cbasn1.Tag
			if !vals.ReadAnyASN1Element(&v, &tag) {
				return nil, formatErr("attribute value")
			}
			at.Values = append(at.Values, append([]byte{}, v...))
		}
		out = append(out, at)
		if len(out) > 64 {
			return nil, formatErr("more than 64 attributes")
		}
	}
	return out, nil
}

// Attr returns the single value of the attribute typ; found is false when absent, err is
// set when it occurs more than once or holds more than one value (RFC 5652 §11).
func Attr(attrs []Attribute, typ asn1.ObjectIdentifier) (value []byte, found bool, err error) {
	for _, a := range attrs {
		if !a.Type.Equal(typ) {
			continue
		}
		if found {
			return nil, true, formatErr("attribute %s occurs twice", typ)
		}
		if len(a.Values) != 1 {
			return nil, true, formatErr("attribute %s has %d values, want 1", typ, len(a.Values))
		}
		value, found = a.Values[0], true
	}
	return value, found, nil
}

// IsData reports whether a content type is plain data (RFC 5652 id-data or GB/T 35275's).
func IsData(oid asn1.ObjectIdentifier) bool { return oid.Equal(OIDData) || oid.Equal(OIDGMData) }

// SignerCertificate finds the certificate that si names among the embedded ones and parses
// it (strictly, or leniently when a real CA certificate breaks a strict rule).
func (sd *SignedData) SignerCertificate(si *SignerInfo) (*ses.Certificate, error) {
	for _, der := range sd.Certificates {
		c, err := ses.ParseCertificate(der)
		if err != nil {
			continue
		}
		match := false
		switch {
		case si.Serial != nil:
			match = bytes.Equal(c.RawIssuer, si.IssuerRaw) && c.SerialNumber != nil && c.SerialNumber.Cmp(si.Serial) == 0
		case si.SubjectKeyID != nil && c.X509 != nil:
			match = bytes.Equal(c.X509.SubjectKeyId, si.SubjectKeyID)
		}
		if match {
			return c, nil
		}
	}
	return nil, fmt.Errorf("%w: the SignedData carries no certificate for its signer (issuer and serial or key identifier): nothing names who signed", ErrUnsupported)
}

// Others returns the embedded certificates other than the signer's (possible intermediates).
func (sd *SignedData) Others(signer *ses.Certificate) [][]byte {
	var out [][]byte
	for _, c := range sd.Certificates {
		if !bytes.Equal(c, signer.Raw) {
			out = append(out, c)
		}
	}
	return out
}

// CheckAlgorithms reports an ErrUnsupported error unless si uses SM3 and SM2.
func CheckAlgorithms(si *SignerInfo) error {
	if !si.DigestAlg.Equal(OIDSM3) {
		return fmt.Errorf("%w: digest algorithm %s is not SM3 (%s)", ErrUnsupported, si.DigestAlg, OIDSM3)
	}
	if !si.SigAlg.Equal(OIDSM2Sign) && !si.SigAlg.Equal(OIDSM2WithSM3) && !si.SigAlg.Equal(OIDSM2) {
		return fmt.Errorf("%w: signature algorithm %s is not SM2 (%s or %s)", ErrUnsupported, si.SigAlg, OIDSM2Sign, OIDSM2WithSM3)
	}
	return nil
}

// SignedMessage returns the bytes the SM2 signature covers: the DER SET OF the signed
// attributes as received (the [0] IMPLICIT tag byte replaced by SET), or the content itself
// when there are no signed attributes.
func (si *SignerInfo) SignedMessage(content []byte) []byte {
	if si.SignedAttrsRaw == nil {
		return content
	}
	m := append([]byte{}, si.SignedAttrsRaw...)
	m[0] = 0x31 // SET, constructed
	return m
}

// MessageDigest checks the messageDigest attribute against SM3(content); it returns the
// digest found.
func (si *SignerInfo) MessageDigest(content []byte) ([]byte, error) {
	v, found, err := Attr(si.SignedAttrs, OIDMessageDigest)
	if err != nil {
		return nil, err
	}
	if !found {
		return nil, formatErr("signed attributes lack messageDigest")
	}
	s := cryptobyte.String(v)
	var d cryptobyte.String
	if !s.ReadASN1(&d, cbasn1.OCTET_STRING) || !s.Empty() {
		return nil, formatErr("messageDigest is not an OCTET STRING")
	}
	sum := sm.Sum(content)
	if !bytes.Equal(d, sum[:]) {
		return d, fmt.Errorf("messageDigest %x != SM3 of the signed content %x: the content was changed after signing", []byte(d), sum[:])
	}
	return d, nil
}

// ContentType returns the contentType attribute.
func (si *SignerInfo) ContentType() (asn1.ObjectIdentifier, bool, error) {
	v, found, err := Attr(si.SignedAttrs, OIDContentType)
	if err != nil || !found {
		return nil, found, err
	}
	var oid asn1.ObjectIdentifier
	s := cryptobyte.String(v)
	if !s.ReadASN1ObjectIdentifier(&oid) || !s.Empty() {
		return nil, true, formatErr("contentType attribute is not an OBJECT IDENTIFIER")
	}
	return oid, true, nil
}

// SigningTime returns the signingTime attribute (signer-asserted).
func (si *SignerInfo) SigningTime() (time.Time, bool, error) {
	v, found, err := Attr(si.SignedAttrs, OIDSigningTime)
	if err != nil || !found {
		return time.Time{}, found, err
	}
	s := cryptobyte.String(v)
	var t time.Time
	switch {
	case s.PeekASN1Tag(cbasn1.UTCTime):
		if !s.ReadASN1UTCTime(&t) {
			return t, true, formatErr("signingTime UTCTime")
		}
	case s.PeekASN1Tag(cbasn1.GeneralizedTime):
		if !s.ReadASN1GeneralizedTime(&t) {
			return t, true, formatErr("signingTime GeneralizedTime")
		}
	default:
		return t, true, formatErr("signingTime is neither UTCTime nor GeneralizedTime")
	}
	return t.UTC(), true, nil
}

// TimeStampToken returns the RFC 3161 / GB/T 20520 timestamp token among the unsigned
// attributes, if any (it must cover the signature value).
func (si *SignerInfo) TimeStampToken() ([]byte, bool, error) {
	return Attr(si.UnsignedAttrs, OIDTimeStampToken)
}

// VerifySignature checks the SM2 signature (default user ID) of si with the signer's key
// over SignedMessage(content).
func (si *SignerInfo) VerifySignature(signer *ses.Certificate, content []byte) error {
	if err := sm.Verify(signer.PublicKey, si.SignedMessage(content), si.Signature); err != nil {
		what := "the DER SET of the signed attributes as received"
		if si.SignedAttrsRaw == nil {
			what = "the content (no signed attributes)"
		}
		return fmt.Errorf("SM2 signature over %s: %w", what, err)
	}
	return nil
}

// IsBareSM2Signature reports whether b is a bare SM2 signature value (DER SEQUENCE{r, s} or
// raw 64-byte r‖s) rather than a SignedData: it names no signer.
func IsBareSM2Signature(b []byte) bool {
	if len(b) == sm.RawSignatureSize {
		return true
	}
	s := cryptobyte.String(b)
	var seq cryptobyte.String
	r, t := new(big.Int), new(big.Int)
	return s.ReadASN1(&seq, cbasn1.SEQUENCE) && s.Empty() && seq.ReadASN1Integer(r) && seq.ReadASN1Integer(t) && seq.Empty()
}
