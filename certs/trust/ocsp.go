package trust

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/sha1"
	"encoding/asn1"
	"errors"
	"fmt"
	"math/big"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/emmansun/gmsm/smx509"
	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"

	"github.com/gxhub/gxhub/certs/pki"
	"github.com/gxhub/gxhub/certs/ses"
	"github.com/gxhub/gxhub/certs/sm"
)

// OCSP (RFC 6960) object identifiers.
var (
	OIDOCSPBasic   = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 48, 1, 1}
	oidSHA1        = asn1.ObjectIdentifier{1, 3, 14, 3, 2, 26}
	oidSM2WithSM3  = asn1.ObjectIdentifier{1, 2, 156, 10197, 1, 501}
	oidOCSPSigning = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 3, 9}
)

// CertID identifies a certificate to an OCSP responder.
type CertID struct {
	HashAlg        asn1.ObjectIdentifier
	IssuerNameHash []byte
	IssuerKeyHash  []byte
	Serial         *big.Int
}

// NewCertID makes the CertID of a certificate with serial issued by issuer, hashed with
// SM3 (GM/T 0014) or, when sha1 is true, SHA-1 (RFC 5019).
func NewCertID(issuer *smx509.Certificate, serial *big.Int, useSHA1 bool) (CertID, error) {
	var spki struct {
		Alg asn1.RawValue
		Key asn1.BitString
	}
	if _, err := asn1.Unmarshal(issuer.RawSubjectPublicKeyInfo, &spki); err != nil {
		return CertID{}, fmt.Errorf("issuer public key: %w", err)
	}
	id := CertID{HashAlg: ses.OIDSM3, Serial: serial}
	h := func(b []byte) []byte { d := sm.Sum(b); return d[:] }
	if useSHA1 {
		id.HashAlg = oidSHA1
		h = func(b []byte) []byte { d := sha1.Sum(b); return d[:] }
	}
	id.IssuerNameHash, id.IssuerKeyHash = h(issuer.RawSubject), h(spki.Key.Bytes)
	return id, nil
}

func (c CertID) add(b *cryptobyte.Builder) {
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { b.AddASN1ObjectIdentifier(c.HashAlg) })
		b.AddASN1OctetString(c.IssuerNameHash)
		b.AddASN1OctetString(c.IssuerKeyHash)
		b.AddASN1BigInt(c.Serial)
	})
}

func (c CertID) equal(o CertID) bool {
	return c.HashAlg.Equal(o.HashAlg) && bytes.Equal(c.IssuerNameHash, o.IssuerNameHash) && bytes.Equal(c.IssuerKeyHash, o.IssuerKeyHash) &&
		c.Serial != nil && o.Serial != nil && c.Serial.Cmp(o.Serial) == 0
}

// MarshalOCSPRequest encodes an unsigned OCSP request for one certificate.
func MarshalOCSPRequest(id CertID) ([]byte, error) {
	var b cryptobyte.Builder
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { // OCSPRequest
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { // TBSRequest
			b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { // requestList
				b.AddASN1(cbasn1.SEQUENCE, id.add) // Request
			})
		})
	})
	return b.Bytes()
}

// OCSPResponse is a parsed basic OCSP response (one certificate's answer is picked out by
// Single).
type OCSPResponse struct {
	TBS        []byte // received DER of tbsResponseData (the signature covers it)
	SigAlg     asn1.ObjectIdentifier
	Signature  []byte
	Certs      []*smx509.Certificate
	ProducedAt time.Time
	Responses  []SingleResponse
	// ResponderName is the DER Name of a byName responder ID; ResponderKeyHash the SHA-1 of
	// a byKey one.
	ResponderName    []byte
	ResponderKeyHash []byte
}

// SingleResponse is one certificate's status in a response.
type SingleResponse struct {
	ID         CertID
	Status     int // 0 good, 1 revoked, 2 unknown
	RevokedAt  time.Time
	Reason     int
	ThisUpdate time.Time
	NextUpdate time.Time
}

var errOCSP = errors.New("malformed OCSP response")

// ParseOCSPResponse reads an OCSPResponse; it fails unless the status is successful and
// the response is a basic one.
func ParseOCSPResponse(der []byte) (*OCSPResponse, error) {
	in := cryptobyte.String(der)
	var resp, rb cryptobyte.String
	var status int
	if !in.ReadASN1(&resp, cbasn1.SEQUENCE) || !in.Empty() || !resp.ReadASN1Enum(&status) {
		return nil, errOCSP
	}
	if status != 0 {
		return nil, fmt.Errorf("the OCSP responder answered status %d (%s)", status, ocspStatusText(status))
	}
	var typ asn1.ObjectIdentifier
	var body, octets cryptobyte.String
	if !resp.ReadASN1(&rb, cbasn1.Tag(0).ContextSpecific().Constructed()) || !rb.ReadASN1(&body, cbasn1.SEQUENCE) ||
		!body.ReadASN1ObjectIdentifier(&typ) || !body.ReadASN1(&octets, cbasn1.OCTET_STRING) {
		return nil, errOCSP
	}
	if !typ.Equal(OIDOCSPBasic) {
		return nil, fmt.Errorf("OCSP response type %s is not the basic type", typ)
	}
	var basic, tbs, alg cryptobyte.String
	var sig asn1.BitString
	r := &OCSPResponse{}
	if !octets.ReadASN1(&basic, cbasn1.SEQUENCE) || !basic.ReadASN1Element(&tbs, cbasn1.SEQUENCE) ||
		!basic.ReadASN1(&alg, cbasn1.SEQUENCE) || !alg.ReadASN1ObjectIdentifier(&r.SigAlg) || !basic.ReadASN1BitString(&sig) {
		return nil, errOCSP
	}
	r.TBS, r.Signature = bytes.Clone(tbs), bytes.Clone(sig.Bytes)
	var certs, seq cryptobyte.String
	var has bool
	if !basic.ReadOptionalASN1(&certs, &has, cbasn1.Tag(0).ContextSpecific().Constructed()) {
		return nil, errOCSP
	}
	if has && certs.ReadASN1(&seq, cbasn1.SEQUENCE) {
		for !seq.Empty() {
			var c cryptobyte.String
			if !seq.ReadASN1Element(&c, cbasn1.SEQUENCE) {
				return nil, errOCSP
			}
			if cert, err := smx509.ParseCertificate(c); err == nil {
				r.Certs = append(r.Certs, cert)
			}
		}
	}
	return r, r.parseTBS()
}

func (r *OCSPResponse) parseTBS() error {
	tbs := cryptobyte.String(r.TBS)
	var data cryptobyte.String
	if !tbs.ReadASN1(&data, cbasn1.SEQUENCE) || !data.SkipOptionalASN1(cbasn1.Tag(0).ContextSpecific().Constructed()) {
		return errOCSP
	}
	var rid cryptobyte.String
	var tag cbasn1.Tag
	if !data.ReadAnyASN1(&rid, &tag) {
		return errOCSP
	}
	switch tag {
	case cbasn1.Tag(1).ContextSpecific().Constructed():
		var name cryptobyte.String
		if !rid.ReadASN1Element(&name, cbasn1.SEQUENCE) {
			return errOCSP
		}
		r.ResponderName = bytes.Clone(name)
	case cbasn1.Tag(2).ContextSpecific().Constructed():
		var kh cryptobyte.String
		if !rid.ReadASN1(&kh, cbasn1.OCTET_STRING) {
			return errOCSP
		}
		r.ResponderKeyHash = bytes.Clone(kh)
	default:
		return errOCSP
	}
	var list cryptobyte.String
	if !data.ReadASN1GeneralizedTime(&r.ProducedAt) || !data.ReadASN1(&list, cbasn1.SEQUENCE) {
		return errOCSP
	}
	for !list.Empty() {
		var sr, cid, alg cryptobyte.String
		var s SingleResponse
		s.ID.Serial = new(big.Int)
		if !list.ReadASN1(&sr, cbasn1.SEQUENCE) || !sr.ReadASN1(&cid, cbasn1.SEQUENCE) || !cid.ReadASN1(&alg, cbasn1.SEQUENCE) ||
			!alg.ReadASN1ObjectIdentifier(&s.ID.HashAlg) || !cid.ReadASN1Bytes(&s.ID.IssuerNameHash, cbasn1.OCTET_STRING) ||
			!cid.ReadASN1Bytes(&s.ID.IssuerKeyHash, cbasn1.OCTET_STRING) || !cid.ReadASN1Integer(s.ID.Serial) {
			return errOCSP
		}
		var st cryptobyte.String
		var stTag cbasn1.Tag
		if !sr.ReadAnyASN1(&st, &stTag) {
			return errOCSP
		}
		switch stTag {
		case cbasn1.Tag(0).ContextSpecific():
			s.Status = 0
		case cbasn1.Tag(1).ContextSpecific().Constructed():
			s.Status = 1
			if !st.ReadASN1GeneralizedTime(&s.RevokedAt) || !optional0(&st, func(v *cryptobyte.String) bool { return v.ReadASN1Enum(&s.Reason) }) {
				return errOCSP
			}
		case cbasn1.Tag(2).ContextSpecific():
			s.Status = 2
		default:
			return errOCSP
		}
		if !sr.ReadASN1GeneralizedTime(&s.ThisUpdate) || !optional0(&sr, func(v *cryptobyte.String) bool { return v.ReadASN1GeneralizedTime(&s.NextUpdate) }) {
			return errOCSP
		}
		r.Responses = append(r.Responses, s)
		if len(r.Responses) > 64 {
			return errOCSP
		}
	}
	return nil
}

// optional0 reads an optional [0] EXPLICIT element with read; false on a malformed one.
func optional0(s *cryptobyte.String, read func(*cryptobyte.String) bool) bool {
	var v cryptobyte.String
	var has bool
	if !s.ReadOptionalASN1(&v, &has, cbasn1.Tag(0).ContextSpecific().Constructed()) {
		return false
	}
	return !has || read(&v)
}

func ocspStatusText(s int) string {
	switch s {
	case 1:
		return "malformedRequest"
	case 2:
		return "internalError"
	case 3:
		return "tryLater"
	case 5:
		return "sigRequired"
	case 6:
		return "unauthorized"
	}
	return "unknown"
}

// VerifySignature checks that the response was signed by issuer itself or by a responder
// certificate issuer delegated (signed by issuer, with the OCSPSigning extended key usage,
// valid at producedAt). SM2 with SM3 only.
func (r *OCSPResponse) VerifySignature(issuer *smx509.Certificate) (*smx509.Certificate, error) {
	if !r.SigAlg.Equal(oidSM2WithSM3) {
		return nil, fmt.Errorf("the OCSP response is signed with %s, not SM2-with-SM3", r.SigAlg)
	}
	for _, cand := range append([]*smx509.Certificate{issuer}, r.Certs...) {
		pub, ok := cand.PublicKey.(*ecdsa.PublicKey)
		if !ok || sm.Verify(pub, r.TBS, r.Signature) != nil {
			continue
		}
		if cand == issuer || bytes.Equal(cand.Raw, issuer.Raw) {
			return issuer, nil
		}
		if cand.CheckSignatureFrom(issuer) != nil {
			return nil, fmt.Errorf("the OCSP responder %q was not certified by %q", cand.Subject.String(), issuer.Subject.String())
		}
		delegated := false
		for _, u := range cand.ExtKeyUsage {
			delegated = delegated || u == smx509.ExtKeyUsageOCSPSigning
		}
		if !delegated {
			return nil, fmt.Errorf("the OCSP responder %q lacks the OCSPSigning extended key usage", cand.Subject.String())
		}
		if r.ProducedAt.Before(cand.NotBefore) || r.ProducedAt.After(cand.NotAfter) {
			return nil, fmt.Errorf("the OCSP responder certificate %q was not valid when the response was produced", cand.Subject.String())
		}
		return cand, nil
	}
	return nil, errors.New("the OCSP response's signature verifies with neither the issuer nor a certificate it carries")
}

// OCSP answers revocation questions from the responder a certificate names in its
// authority information access, when the hub can reach it. Answers are cached until
// their nextUpdate (at most MaxAge).
type OCSP struct {
	Client *http.Client
	// Issuers returns the CA certificates that may have issued the certificates asked
	// about (the trust anchors and intermediates).
	Issuers func() []*smx509.Certificate
	Now     func() time.Time
	// MaxAge bounds how long an answer is reused; zero means one hour.
	MaxAge time.Duration

	cache sync.Map // string → cachedOCSP
}

type cachedOCSP struct {
	st    Status
	until time.Time
}

// ocspSkew is the clock difference tolerated between the hub and a responder.
const ocspSkew = 5 * time.Minute

func (o *OCSP) now() time.Time {
	if o.Now != nil {
		return o.Now()
	}
	return time.Now()
}

// CertificateStatus implements Checker.
func (o *OCSP) CertificateStatus(ctx context.Context, cert *ses.Certificate, _ time.Time) (Status, error) {
	if cert == nil || cert.X509 == nil {
		return Status{}, errors.New("OCSP: the certificate was parsed leniently; its responder cannot be read")
	}
	var url string
	for _, u := range cert.X509.OCSPServer {
		if strings.HasPrefix(u, "http://") || strings.HasPrefix(u, "https://") {
			url = u
			break
		}
	}
	if url == "" {
		return Status{}, fmt.Errorf("%q names no http(s) OCSP responder", cert.Subject)
	}
	var issuer *smx509.Certificate
	if o.Issuers != nil {
		for _, c := range o.Issuers() {
			if bytes.Equal(c.RawSubject, cert.X509.RawIssuer) && cert.X509.CheckSignatureFrom(c) == nil {
				issuer = c
				break
			}
		}
	}
	if issuer == nil {
		return Status{}, fmt.Errorf("OCSP: the issuer %q is not in the trust store, so its responder's answer cannot be checked", cert.Issuer)
	}
	key := url + "|" + string(issuer.Raw) + "|" + cert.SerialNumber.String()
	now := o.now()
	if c, ok := o.cache.Load(key); ok && now.Before(c.(cachedOCSP).until) {
		return c.(cachedOCSP).st, nil
	}
	id, err := NewCertID(issuer, cert.SerialNumber, false)
	if err != nil {
		return Status{}, err
	}
	req, err := MarshalOCSPRequest(id)
	if err != nil {
		return Status{}, err
	}
	body, err := post(ctx, o.Client, url, "application/ocsp-request", "application/ocsp-response", req)
	if err != nil {
		return Status{}, fmt.Errorf("OCSP: %w", err)
	}
	resp, err := ParseOCSPResponse(body)
	if err != nil {
		return Status{}, fmt.Errorf("OCSP %s: %w", url, err)
	}
	if _, err := resp.VerifySignature(issuer); err != nil {
		return Status{}, fmt.Errorf("OCSP %s: %w", url, err)
	}
	var single *SingleResponse
	for i := range resp.Responses {
		if resp.Responses[i].ID.equal(id) {
			single = &resp.Responses[i]
		}
	}
	switch {
	case single == nil:
		return Status{}, fmt.Errorf("OCSP %s: the response does not answer for this certificate", url)
	case single.ThisUpdate.After(now.Add(ocspSkew)):
		return Status{}, fmt.Errorf("OCSP %s: the answer's thisUpdate %s is in the future", url, fmtTime(single.ThisUpdate))
	case !single.NextUpdate.IsZero() && now.After(single.NextUpdate.Add(ocspSkew)):
		return Status{}, fmt.Errorf("OCSP %s: the answer is stale (nextUpdate %s)", url, fmtTime(single.NextUpdate))
	case single.Status == 2:
		return Status{}, fmt.Errorf("OCSP %s: the responder does not know the certificate", url)
	}
	st := Status{Source: fmt.Sprintf("OCSP %s, thisUpdate %s", url, fmtTime(single.ThisUpdate))}
	if single.Status == 1 {
		st.Revoked, st.RevokedAt, st.Reason = true, single.RevokedAt, pki.ReasonText(single.Reason)
		st.Compromise = single.Reason == pki.ReasonKeyCompromise || single.Reason == pki.ReasonCACompromise || single.Reason == pki.ReasonAACompromise
	}
	maxAge := o.MaxAge
	if maxAge == 0 {
		maxAge = time.Hour
	}
	until := now.Add(maxAge)
	if !single.NextUpdate.IsZero() && single.NextUpdate.Before(until) {
		until = single.NextUpdate
	}
	o.cache.Store(key, cachedOCSP{st: st, until: until})
	return st, nil
}
