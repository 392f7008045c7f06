package verify

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/emmansun/gmsm/smx509"

	"github.com/gxhub/gxhub/certs/cms"
	"github.com/gxhub/gxhub/certs/ses"
)

// signedData verifies a GB/T 35275 SignedData (an OFD Type="Sign" SignedValue, or a
// standalone .p7s) whose content is data (for OFD: the exact bytes of Signature.xml, named
// sigPath); nil data means the content is encapsulated or not given. dateTime is the
// Signature.xml SignatureDateTime, used as the signing time when the SignedData states none.
func (v *verifier) signedData(scope string, der, data []byte, sigPath, dateTime string) {
	if !cms.LooksLike(der) {
		switch {
		case cms.IsBareSM2Signature(der):
			v.r.add(scope, "signature.parse", NotSupported, "the SignedValue is a bare SM2 signature value with no certificate: nothing names the signer, so it cannot be checked")
		case data != nil && isSESSignature(der):
			v.r.add(scope, "signature.type", Note, `declared Type="Sign", but the SignedValue is an SES_Signature (electronic seal): checked as a seal`)
			_ = v.signature(scope, der, data, true, sigPath)
			return
		default:
			v.r.add(scope, "signature.parse", Fail, "the SignedValue is neither a GB/T 35275 SignedData nor an SES_Signature")
		}
		v.r.Signed = append(v.r.Signed, Signed{Scope: scope, Type: "Sign"})
		return
	}
	info := Signed{Scope: scope, Type: "Sign"}
	defer func() { v.r.Signed = append(v.r.Signed, info) }()
	sd, err := cms.Parse(der)
	if err != nil {
		st := Fail
		if errors.Is(err, cms.ErrUnsupported) {
			st = NotSupported
		}
		v.r.add(scope, "signature.parse", st, "%v", err)
		return
	}
	form := "GB/T 35275"
	if !sd.GM {
		form = "RFC 5652"
	}
	attached := "detached content"
	if sd.EContent != nil {
		attached = fmt.Sprintf("%d bytes of encapsulated content", len(sd.EContent))
	}
	v.r.add(scope, "signature.parse", Pass, "%s SignedData (eContentType %s, %d certificate(s), %s)", form, sd.EContentType, len(sd.Certificates), attached)
	if len(sd.Signers) != 1 {
		v.r.add(scope, "signature.signers", NotSupported, "%d SignerInfos: this verifier checks SignedData with exactly one signer", len(sd.Signers))
		return
	}
	si := &sd.Signers[0]
	if err := cms.CheckAlgorithms(si); err != nil {
		v.r.add(scope, "signature.algorithm", NotSupported, "%v", err)
		return
	}
	signer, err := sd.SignerCertificate(si)
	if err != nil {
		v.r.add(scope, "signer.certificate", NotSupported, "%v", err)
		return
	}
	info.Signer, info.SignerLenient = signer.Subject, signer.Lenient
	if signer.Lenient {
		v.r.add(scope, "signer.certificate", Pass, "parsed leniently (public key, names, validity only): smx509 refused it: %s", signer.StrictError)
	} else {
		v.r.add(scope, "signer.certificate", Pass, "%s", signer.Subject)
	}

	// What was signed.
	content, have := data, data != nil
	switch {
	case sd.EContent != nil && have && !bytes.Equal(sd.EContent, data):
		v.r.add(scope, "signature.content", Fail, "the SignedData encapsulates other content than %s: it signs something else", dataLabel(sigPath))
		return
	case sd.EContent != nil && !have:
		content, have = sd.EContent, true
	}
	label := dataLabel(sigPath)
	if sd.EContent != nil && data == nil {
		label = "the encapsulated content"
	}
	if si.SignedAttrsRaw != nil {
		ct, found, err := si.ContentType()
		switch {
		case err != nil:
			v.r.add(scope, "signature.content_type", Fail, "%v", err)
		case !found:
			v.r.add(scope, "signature.content_type", Fail, "the signed attributes lack contentType (RFC 5652 §11.1 requires it)")
		case ct.Equal(sd.EContentType) || (cms.IsData(ct) && cms.IsData(sd.EContentType)):
			v.r.add(scope, "signature.content_type", Pass, "signed contentType %s matches eContentType %s", ct, sd.EContentType)
		default:
			v.r.add(scope, "signature.content_type", Fail, "signed contentType %s differs from eContentType %s", ct, sd.EContentType)
		}
		if have {
			if _, err := si.MessageDigest(content); err != nil {
				v.r.add(scope, "signature.data_hash", Fail, "%v", err)
			} else {
				v.r.add(scope, "signature.data_hash", Pass, "messageDigest = SM3 of the signed data (%s)", label)
			}
		} else {
			v.r.add(scope, "signature.data_hash", Unknown, "no signed data given: messageDigest not compared")
		}
	} else {
		v.r.add(scope, "signature.data_hash", Note, "no signed attributes: the signature covers the content directly")
	}
	switch {
	case si.SignedAttrsRaw == nil && !have:
		v.r.add(scope, "signature.outer", Unknown, "no signed data given and no signed attributes: the signature cannot be checked without the content")
	default:
		if err := si.VerifySignature(signer, content); err != nil {
			v.r.add(scope, "signature.outer", Fail, "%v", err)
		} else if si.SignedAttrsRaw != nil {
			v.r.add(scope, "signature.outer", Pass, "SM2 (default UID, Z) valid over the DER SET of the signed attributes as received")
			v.signers[scope] = signer
		} else {
			v.r.add(scope, "signature.outer", Pass, "SM2 (default UID, Z) valid over %s", label)
			v.signers[scope] = signer
		}
	}

	// Signing time: a verified timestamp, else the signed signingTime, else the signed
	// SignatureDateTime of Signature.xml.
	var at time.Time
	trusted := false
	var tsaCert *ses.Certificate
	tok, found, err := si.TimeStampToken()
	switch {
	case err != nil:
		v.r.add(scope, "timestamp", Fail, "%v", err)
	case found:
		ts, err := ses.VerifyTimeStamp(tok, si.Signature)
		if err == nil {
			tsaCert, err = ses.ParseCertificate(ts.TSA.Raw)
		}
		if err != nil {
			v.r.add(scope, "timestamp", Fail, "%v", err)
		} else {
			at, trusted = ts.Info.GenTime, true
			info.SigningTimeSource = fmt.Sprintf("timestamp genTime from TSA %q", tsaCert.Subject)
			v.r.add(scope, "timestamp", Pass, "RFC 3161 token from %q over the signature value, genTime %s; genTime is the signing time for the validity checks", tsaCert.Subject, fmtTime(at))
		}
	default:
		v.r.add(scope, "timestamp", Note, "no timestamp: the signing time is signer-asserted")
	}
	if at.IsZero() {
		st, found, err := si.SigningTime()
		switch {
		case err != nil:
			v.r.add(scope, "signature.signing_time", Fail, "%v", err)
		case found:
			at, info.SigningTimeSource = st, "signingTime signed attribute, signer-asserted"
		}
	}
	if at.IsZero() && dateTime != "" {
		if t, err := parseDateTime(dateTime); err == nil {
			at, info.SigningTimeSource = t, "SignatureDateTime of "+label+" (signed), signer-asserted"
		}
	}
	info.SigningTime = at
	if at.IsZero() {
		v.r.add(scope, "signer.validity_at_signing", Unknown, "the signature states no signing time: the certificate's validity at signing cannot be checked")
		at = v.r.VerifiedAt
	} else if signer.ValidAt(at) {
		v.r.add(scope, "signer.validity_at_signing", Pass, "signing time %s within %s .. %s", fmtTime(at), fmtTime(signer.NotBefore), fmtTime(signer.NotAfter))
	} else {
		v.r.add(scope, "signer.validity_at_signing", Fail, "signing time %s outside the signer certificate's validity %s .. %s", fmtTime(at), fmtTime(signer.NotBefore), fmtTime(signer.NotAfter))
	}
	var extra []*smx509.Certificate
	for _, der := range sd.Others(signer) {
		if c, err := smx509.ParseCertificate(der); err == nil {
			extra = append(extra, c)
		}
	}
	v.chain(scope, "signer", signer, at, extra...)
	v.revocation(scope, "signer", signer, at, trusted)
	if tsaCert != nil {
		v.chain(scope, "tsa", tsaCert, at)
		v.revocation(scope, "tsa", tsaCert, at, true)
	}
}

func isSESSignature(der []byte) bool {
	_, err := ses.ParseSignature(der)
	return err == nil
}

// parseDateTime reads the SignatureDateTime forms vendors write.
func parseDateTime(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	for _, layout := range []string{"20060102150405Z", "20060102150405Z0700", time.RFC3339, "2006-01-02 15:04:05", "2006-01-02T15:04:05"} {
		if t, err := time.Parse(layout, s); err == nil {
			if !strings.ContainsAny(s, "Z+") && strings.Count(s, "-") <= 2 {
				// No zone written: OFD vendors write China time.
				t = time.Date(t.Year(), t.Month(), t.Day(), t.Hour(), t.Minute(), t.Second(), 0, time.FixedZone("CST", 8*3600))
			}
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("SignatureDateTime %q is not a recognised time", s)
}
