package ses

import (
	"crypto/ecdsa"
	"crypto/sha256"
	"encoding/asn1"
	"fmt"
	"math/big"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/emmansun/gmsm/smx509"
	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"

	"github.com/gxhub/gxhub/certs/sm"
)

// Certificate is an X.509 certificate as carried in seal and signature structures. Strict
// parsing with smx509 is tried first; when it refuses (real CA certificates carry e.g. an
// IA5String emailAddress holding UTF-8, or an odd SAN), a lenient parse extracts only the
// public key, names, serial and validity, and Lenient records that.
type Certificate struct {
	Raw          []byte
	X509         *smx509.Certificate // nil when parsed leniently
	Lenient      bool
	StrictError  string // why smx509 refused the certificate (Lenient only)
	PublicKey    *ecdsa.PublicKey
	Subject      string
	Issuer       string
	SerialNumber *big.Int
	NotBefore    time.Time
	NotAfter     time.Time

	// RawTBS, RawIssuer and SignatureValue let a lenient certificate's issuer signature be
	// checked without a strict parse.
	RawTBS         []byte
	RawIssuer      []byte
	SignatureValue []byte
}

// ValidAt reports whether t lies inside the certificate's validity period.
func (c *Certificate) ValidAt(t time.Time) bool {
	return !t.Before(c.NotBefore) && !t.After(c.NotAfter)
}

// ParseCertificate parses a DER certificate strictly, or leniently when smx509 refuses it.
// The public key must be an SM2 key.
func ParseCertificate(der []byte) (*Certificate, error) {
	if len(der) == 0 {
		return nil, fmt.Errorf("certificate: empty")
	}
	if x, err := smx509.ParseCertificate(der); err == nil {
		pub, ok := x.PublicKey.(*ecdsa.PublicKey)
		if !ok || !sm.IsSM2PublicKey(pub) {
			return nil, fmt.Errorf("certificate %q: public key is %T, not SM2", x.Subject.String(), x.PublicKey)
		}
		return &Certificate{
			Raw: der, X509: x, PublicKey: pub, RawTBS: x.RawTBSCertificate, RawIssuer: x.RawIssuer,
			SignatureValue: x.Signature,
			Subject:        x.Subject.String(), Issuer: x.Issuer.String(),
			SerialNumber: x.SerialNumber, NotBefore: x.NotBefore, NotAfter: x.NotAfter,
		}, nil
	} else {
		c, lerr := parseLenient(der)
		if lerr != nil {
			return nil, fmt.Errorf("certificate: strict parse failed (%v); lenient parse failed too: %w", err, lerr)
		}
		c.Lenient = true
		c.StrictError = err.Error()
		return c, nil
	}
}

// parseLenient reads tbsCertificate far enough for signature checks and validity.
func parseLenient(der []byte) (*Certificate, error) {
	s := cryptobyte.String(der)
	var cert, tbsRaw, tbs, issuer, validity, subject, spki cryptobyte.String
	if !s.ReadASN1(&cert, cbasn1.SEQUENCE) || !s.Empty() {
		return nil, fmt.Errorf("not a DER SEQUENCE")
	}
	if !cert.ReadASN1Element(&tbsRaw, cbasn1.SEQUENCE) {
		return nil, fmt.Errorf("no tbsCertificate")
	}
	var sigValue asn1.BitString
	if !cert.SkipASN1(cbasn1.SEQUENCE) || !cert.ReadASN1BitString(&sigValue) {
		return nil, fmt.Errorf("bad signatureAlgorithm or signatureValue")
	}
	tbsCopy := tbsRaw
	if !tbsCopy.ReadASN1(&tbs, cbasn1.SEQUENCE) {
		return nil, fmt.Errorf("no tbsCertificate")
	}
	if !tbs.SkipOptionalASN1(cbasn1.Tag(0).ContextSpecific().Constructed()) {
		return nil, fmt.Errorf("bad version")
	}
	serial := new(big.Int)
	if !tbs.ReadASN1Integer(serial) {
		return nil, fmt.Errorf("bad serialNumber")
	}
	if !tbs.SkipASN1(cbasn1.SEQUENCE) {
		return nil, fmt.Errorf("bad signature algorithm")
	}
	if !tbs.ReadASN1Element(&issuer, cbasn1.SEQUENCE) || !tbs.ReadASN1(&validity, cbasn1.SEQUENCE) ||
		!tbs.ReadASN1Element(&subject, cbasn1.SEQUENCE) || !tbs.ReadASN1Element(&spki, cbasn1.SEQUENCE) {
		return nil, fmt.Errorf("bad issuer/validity/subject/subjectPublicKeyInfo")
	}
	var times [2]time.Time
	for i := range times {
		var el cryptobyte.String
		var tag cbasn1.Tag
		if !validity.ReadAnyASN1Element(&el, &tag) {
			return nil, fmt.Errorf("bad validity")
		}
		t, _, _, err := tlv{tag: tag, raw: el}.timeValue("validity")
		if err != nil || (tag != cbasn1.UTCTime && tag != cbasn1.GeneralizedTime) {
			return nil, fmt.Errorf("bad validity time")
		}
		times[i] = t
	}
	pk, err := smx509.ParsePKIXPublicKey(spki)
	if err != nil {
		return nil, fmt.Errorf("subjectPublicKeyInfo: %w", err)
	}
	pub, ok := pk.(*ecdsa.PublicKey)
	if !ok || !sm.IsSM2PublicKey(pub) {
		return nil, fmt.Errorf("public key is %T, not SM2", pk)
	}
	return &Certificate{
		Raw: der, PublicKey: pub, SerialNumber: serial,
		RawTBS: tbsRaw, RawIssuer: issuer, SignatureValue: sigValue.Bytes,
		Subject: lenientName(subject), Issuer: lenientName(issuer),
		NotBefore: times[0], NotAfter: times[1],
	}, nil
}

var attrNames = map[string]string{
	"2.5.4.3": "CN", "2.5.4.6": "C", "2.5.4.7": "L", "2.5.4.8": "ST", "2.5.4.10": "O",
	"2.5.4.11": "OU", "2.5.4.5": "SERIALNUMBER", "2.5.4.9": "STREET", "2.5.4.17": "POSTALCODE",
	"1.2.840.113549.1.9.1": "emailAddress",
}

// lenientName renders an RDNSequence as "CN=..,O=.." reading every value as text whatever
// its declared string type (that is the point of the lenient path).
func lenientName(name cryptobyte.String) string {
	var seq cryptobyte.String
	if !name.ReadASN1(&seq, cbasn1.SEQUENCE) {
		return ""
	}
	var parts []string
	for !seq.Empty() {
		var set cryptobyte.String
		if !seq.ReadASN1(&set, cbasn1.SET) {
			break
		}
		for !set.Empty() {
			var atv cryptobyte.String
			var oid asn1.ObjectIdentifier
			var val cryptobyte.String
			var tag cbasn1.Tag
			if !set.ReadASN1(&atv, cbasn1.SEQUENCE) || !atv.ReadASN1ObjectIdentifier(&oid) || !atv.ReadAnyASN1(&val, &tag) {
				break
			}
			key := attrNames[oid.String()]
			if key == "" {
				key = oid.String()
			}
			v := string(val)
			if tag == tagBMPString {
				v, _ = decodeBMP(val)
			}
			if !utf8.ValidString(v) {
				v = fmt.Sprintf("#%x", []byte(val))
			}
			parts = append(parts, key+"="+v)
		}
	}
	// pkix.Name.String prints the most significant RDN last; do the same.
	for i, j := 0, len(parts)-1; i < j; i, j = i+1, j-1 {
		parts[i], parts[j] = parts[j], parts[i]
	}
	return strings.Join(parts, ",")
}

func sha256Sum(b []byte) [32]byte { return sha256.Sum256(b) }
