package ses

import (
	"bytes"
	"crypto/sha256"
	"encoding/asn1"
	"errors"
	"fmt"
	"math/big"
	"time"

	"crypto/x509/pkix"

	"github.com/emmansun/gmsm/pkcs7"
	"github.com/emmansun/gmsm/smx509"
	"github.com/gxhub/gxhub/certs/sm"
	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

var (
	// OIDTSTInfo is id-ct-TSTInfo (RFC 3161), the content type of a timestamp token.
	OIDTSTInfo = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 16, 1, 4}
	oidSHA256  = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 1}
)

// TSTInfo is the RFC 3161 TSTInfo structure.
type TSTInfo struct {
	Version        int
	Policy         asn1.ObjectIdentifier
	MessageImprint MessageImprint
	SerialNumber   *big.Int
	GenTime        time.Time     `asn1:"generalized"`
	Accuracy       Accuracy      `asn1:"optional"`
	Ordering       bool          `asn1:"optional,default:false"`
	Nonce          *big.Int      `asn1:"optional"`
	TSA            asn1.RawValue `asn1:"optional,explicit,tag:0"`
	Extensions     asn1.RawValue `asn1:"optional,tag:1"`
}

// Accuracy is the TSTInfo accuracy (a SEQUENCE: typed so that an optional RawValue does
// not swallow the nonce that follows an absent accuracy).
type Accuracy struct {
	Seconds int `asn1:"optional"`
	Millis  int `asn1:"optional,tag:0"`
	Micros  int `asn1:"optional,tag:1"`
}

// MessageImprint is the hash a timestamp covers.
type MessageImprint struct {
	HashAlgorithm pkix.AlgorithmIdentifier
	HashedMessage []byte
}

// TimeStamp is a verified timestamp token.
type TimeStamp struct {
	Info TSTInfo
	TSA  *smx509.Certificate
}

// VerifyTimeStamp checks an RFC 3161 TimeStampToken (CMS SignedData over TSTInfo, SM2 or
// another algorithm gmsm supports) that must cover `covered` (the SES signature value):
// the token signature and its messageDigest attribute, the content type, the TSA
// certificate's timeStamping usage, and messageImprint = SM3 or SHA-256 of covered. The
// TSA's chain is not checked here (the caller checks it at GenTime).
func VerifyTimeStamp(token, covered []byte) (ts *TimeStamp, err error) {
	// gmsm's pkcs7 BER converter panics on some malformed input (e.g. "0\x82"): accept only
	// one well-formed DER element, and turn any remaining panic into an error.
	in := cryptobyte.String(token)
	var el cryptobyte.String
	if !in.ReadASN1Element(&el, cbasn1.SEQUENCE) || !in.Empty() {
		return nil, errors.New("timestamp token is not a single DER SEQUENCE")
	}
	defer func() {
		if r := recover(); r != nil {
			ts, err = nil, fmt.Errorf("timestamp token is malformed (CMS parser failed: %v)", r)
		}
	}()
	p7, err := pkcs7.Parse(token)
	if err != nil {
		return nil, fmt.Errorf("timestamp token is not CMS SignedData: %w", err)
	}
	if len(p7.Signers) != 1 {
		return nil, fmt.Errorf("timestamp token has %d signers, want 1", len(p7.Signers))
	}
	var ct asn1.ObjectIdentifier
	if err := p7.UnmarshalSignedAttribute(pkcs7.OIDAttributeContentType, &ct); err != nil {
		return nil, fmt.Errorf("timestamp token has no content-type attribute: %w", err)
	}
	if !ct.Equal(OIDTSTInfo) {
		return nil, fmt.Errorf("timestamp token content type is %s, not id-ct-TSTInfo", ct)
	}
	if err := p7.Verify(); err != nil {
		return nil, fmt.Errorf("timestamp token signature: %w", err)
	}
	tsa := p7.GetOnlySigner()
	if tsa == nil {
		return nil, errors.New("timestamp token does not carry the TSA certificate")
	}
	okEKU := false
	for _, u := range tsa.ExtKeyUsage {
		if u == smx509.ExtKeyUsageTimeStamping {
			okEKU = true
		}
	}
	if !okEKU {
		return nil, fmt.Errorf("TSA certificate %q lacks the timeStamping extended key usage", tsa.Subject.String())
	}
	ts = &TimeStamp{TSA: tsa}
	rest, err := asn1.Unmarshal(p7.Content, &ts.Info)
	if err != nil || len(rest) != 0 {
		return nil, fmt.Errorf("timestamp TSTInfo is malformed: %v", err)
	}
	var want []byte
	switch alg := ts.Info.MessageImprint.HashAlgorithm.Algorithm; {
	case alg.Equal(OIDSM3):
		d := sm.Sum(covered)
		want = d[:]
	case alg.Equal(oidSHA256):
		d := sha256.Sum256(covered)
		want = d[:]
	default:
		return nil, fmt.Errorf("timestamp messageImprint uses hash %s; only SM3 and SHA-256 are accepted", alg)
	}
	if !bytes.Equal(want, ts.Info.MessageImprint.HashedMessage) {
		return nil, errors.New("timestamp messageImprint does not match the signature value: the token belongs to another signature")
	}
	if !tsa.NotBefore.Before(ts.Info.GenTime) || tsa.NotAfter.Before(ts.Info.GenTime) {
		return nil, fmt.Errorf("timestamp genTime %s is outside the TSA certificate's validity", ts.Info.GenTime.UTC().Format(time.RFC3339))
	}
	return ts, nil
}
