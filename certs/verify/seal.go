package verify

import (
	"bytes"
	"fmt"

	"github.com/gxhub/gxhub/certs/ofd"
	"github.com/gxhub/gxhub/certs/ses"
	"github.com/gxhub/gxhub/certs/sm"
)

// signature verifies one SES_Signature. data is what dataHash must digest; sigPath is the
// package path the propertyInfo should name (OFD only).
func (v *verifier) signature(scope string, der, data []byte, haveData bool, sigPath string) error {
	sig, err := ses.ParseSignature(der)
	if err != nil {
		v.r.add(scope, "signature.parse", Fail, "SES_Signature cannot be parsed: %v", err)
		return nil
	}
	v.r.add(scope, "signature.parse", Pass, "SES_Signature V%d (TBS_Sign.version %d, seal V%d, vendor %q)", sig.Version, sig.TBSVersion, sig.Seal.Version, sig.Seal.Info.Header.VID)
	at := sig.TimeInfo
	info := Signed{
		Scope: scope, Type: "Seal", SigningTime: at,
		SigningTimeSource: fmt.Sprintf("TBS_Sign.timeInfo, %s %q, signer-asserted", sig.TimeInfoKind, sig.TimeInfoText),
		SealVersion:       sig.Seal.Version, SealVendor: sig.Seal.Info.Header.VID,
		SealID: sig.Seal.Info.ESID, SealName: sig.Seal.Info.Property.Name,
		SealValidFrom: sig.Seal.Info.Property.ValidStart, SealValidTo: sig.Seal.Info.Property.ValidEnd,
	}
	if sig.TimeInfoKind == ses.TimeGeneralized || sig.TimeInfoKind == ses.TimeUTC {
		info.SigningTimeSource = fmt.Sprintf("TBS_Sign.timeInfo (%s), signer-asserted", sig.TimeInfoKind)
	}

	// Timestamp first: a verified one gives the trusted signing time for every later check.
	trustedTime := false
	var tsaCert *ses.Certificate
	if len(sig.TimeStamp) > 0 {
		ts, err := ses.VerifyTimeStamp(sig.TimeStamp, sig.Value)
		if err == nil {
			tsaCert, err = ses.ParseCertificate(ts.TSA.Raw)
		}
		if err != nil {
			v.r.add(scope, "timestamp", Fail, "%v", err)
		} else {
			v.r.add(scope, "timestamp", Pass, "RFC 3161 token from %q over the signature value, genTime %s (timeInfo said %s); genTime is the signing time for the validity checks", tsaCert.Subject, fmtTime(ts.Info.GenTime), fmtTime(sig.TimeInfo))
			at = ts.Info.GenTime
			trustedTime = true
			info.SigningTime = at
			info.SigningTimeSource = fmt.Sprintf("timestamp genTime from TSA %q", tsaCert.Subject)
		}
	} else {
		v.r.add(scope, "timestamp", Note, "no timestamp: the signing time is the signer-asserted timeInfo")
	}

	// Data hash.
	switch {
	case !haveData:
		v.r.add(scope, "signature.data_hash", Unknown, "no signed data given: dataHash (%x) not compared", sig.DataHash)
	default:
		sum := sm.Sum(data)
		if bytes.Equal(sum[:], sig.DataHash) {
			v.r.add(scope, "signature.data_hash", Pass, "dataHash = SM3 of the signed data (%s)", dataLabel(sigPath))
		} else {
			v.r.add(scope, "signature.data_hash", Fail, "dataHash %x != SM3(%s) %x: the signed data was changed after signing", sig.DataHash, dataLabel(sigPath), sum[:])
		}
	}
	if sigPath != "" {
		if p, err := ofd.Resolve("", sig.PropertyInfo); err == nil && p == sigPath {
			v.r.add(scope, "signature.property_info", Pass, "propertyInfo names this Signature.xml")
		} else {
			v.r.add(scope, "signature.property_info", Note, "propertyInfo %q does not name %s (the dataHash check still binds the bytes)", sig.PropertyInfo, sigPath)
		}
	}

	// Outer signature.
	signer, err := sig.VerifyOuter()
	if signer == nil {
		v.r.add(scope, "signer.certificate", Fail, "%v", err)
		v.r.add(scope, "signature.outer", Fail, "no usable signer certificate")
	} else {
		info.Signer, info.SignerLenient = signer.Subject, signer.Lenient
		if signer.Lenient {
			v.r.add(scope, "signer.certificate", Pass, "parsed leniently (public key, names, validity only): smx509 refused it: %s", signer.StrictError)
		} else {
			v.r.add(scope, "signer.certificate", Pass, "%s", signer.Subject)
		}
		if err != nil {
			if d := sig.DiagnoseOuter(); d != "" {
				err = fmt.Errorf("%w; %s", err, d)
			}
			v.r.add(scope, "signature.outer", Fail, "%v", err)
		} else {
			v.r.add(scope, "signature.outer", Pass, "SM2 (default UID, Z) valid over DER(TBS_Sign) as received, %s value", ses.ValueEncoding(sig.Value))
			v.signers[scope] = signer
		}
	}

	// Seal and binding.
	maker := v.sealChecks(scope, sig.Seal, &info)
	switch ok, how := sig.Seal.ListsCert(sig.Cert); {
	case ok:
		v.r.add(scope, "signer.in_seal", Pass, "%s", how)
	case len(sig.Seal.Info.Property.Certs) == 0 && len(sig.Seal.Info.Property.Digests) == 0:
		v.r.add(scope, "signer.in_seal", Fail, "the seal's certList holds no certificates or digests (entries %q): the signer cannot be bound to the seal", sig.Seal.Info.Property.CertIDs)
	default:
		v.r.add(scope, "signer.in_seal", Fail, "the signer certificate is not in the seal's certificate list: this signer may not use this seal")
	}

	// Validity at the signing time.
	if signer != nil {
		if signer.ValidAt(at) {
			v.r.add(scope, "signer.validity_at_signing", Pass, "signing time %s within %s .. %s", fmtTime(at), fmtTime(signer.NotBefore), fmtTime(signer.NotAfter))
		} else {
			v.r.add(scope, "signer.validity_at_signing", Fail, "signing time %s outside the signer certificate's validity %s .. %s", fmtTime(at), fmtTime(signer.NotBefore), fmtTime(signer.NotAfter))
		}
	}
	p := sig.Seal.Info.Property
	if !at.Before(p.ValidStart) && !at.After(p.ValidEnd) {
		v.r.add(scope, "seal.validity_at_signing", Pass, "signing time %s within the seal's validity %s .. %s", fmtTime(at), fmtTime(p.ValidStart), fmtTime(p.ValidEnd))
	} else {
		v.r.add(scope, "seal.validity_at_signing", Fail, "signing time %s outside the seal's validity %s .. %s", fmtTime(at), fmtTime(p.ValidStart), fmtTime(p.ValidEnd))
	}

	// Chains and revocation.
	if signer != nil {
		v.chain(scope, "signer", signer, at)
		v.revocation(scope, "signer", signer, at, trustedTime)
	}
	if maker != nil {
		v.chain(scope, "maker", maker, p.CreateDate)
		v.revocation(scope, "maker", maker, p.CreateDate, false)
	}
	v.sealStatus(scope, sig.Seal, at, trustedTime)

	if tsaCert != nil {
		v.chain(scope, "tsa", tsaCert, at)
		v.revocation(scope, "tsa", tsaCert, at, true)
	}
	v.r.Signed = append(v.r.Signed, info)
	return nil
}

// sealFile compares a Seal.esl named by Signature.xml with the seal inside the signature
// (the embedded one is what the signature covers; a different file would mislead a reader).
func (v *verifier) sealFile(pkg *ofd.Package, scope, path string, sv []byte) {
	b, err := pkg.ReadFile(path)
	if err != nil {
		v.r.add(scope, "seal.file", Note, "Seal BaseLoc %s: %v", path, err)
		return
	}
	sig, err := ses.ParseSignature(sv)
	if err != nil {
		return // already reported by signature.parse
	}
	if bytes.Equal(b, sig.Seal.Raw) {
		v.r.add(scope, "seal.file", Pass, "%s is the seal embedded in the signature", path)
	} else {
		v.r.add(scope, "seal.file", Note, "%s differs from the seal embedded in the signature (the embedded seal is the one verified)", path)
	}
}

func dataLabel(sigPath string) string {
	if sigPath == "" {
		return "data file"
	}
	return sigPath
}

// sealChecks verifies the seal's maker signature and the maker certificate at the seal's
// creation date. It returns the maker certificate when it could be parsed.
func (v *verifier) sealChecks(scope string, seal *ses.Seal, info *Signed) *ses.Certificate {
	maker, err := seal.VerifyMaker()
	if maker == nil {
		v.r.add(scope, "maker.certificate", Fail, "%v", err)
		v.r.add(scope, "seal.maker_signature", Fail, "no usable maker certificate")
		return nil
	}
	info.Maker = maker.Subject
	if maker.Lenient {
		v.r.add(scope, "maker.certificate", Pass, "parsed leniently: smx509 refused it: %s", maker.StrictError)
	} else {
		v.r.add(scope, "maker.certificate", Pass, "%s", maker.Subject)
	}
	if err != nil {
		v.r.add(scope, "seal.maker_signature", Fail, "%v", err)
	} else {
		v.r.add(scope, "seal.maker_signature", Pass, "valid over %s, %s value", seal.MakerMessageDescription(), ses.ValueEncoding(seal.SignedValue))
	}
	cd := seal.Info.Property.CreateDate
	// The maker signs at createDate (maker-asserted). A maker certificate that had expired
	// by then fails. A createDate before the certificate's notBefore is inconsistent but
	// seen in real tax seals (Jiangsu: createDate 2019-10-11, maker certificate from
	// 2019-10-16), so it is reported as unknown rather than failed.
	switch {
	case maker.ValidAt(cd):
		v.r.add(scope, "maker.validity_at_seal_creation", Pass, "seal createDate %s within the maker certificate's validity %s .. %s", fmtTime(cd), fmtTime(maker.NotBefore), fmtTime(maker.NotAfter))
	case cd.After(maker.NotAfter):
		v.r.add(scope, "maker.validity_at_seal_creation", Fail, "seal createDate %s is after the maker certificate expired (%s .. %s): the seal was made with an expired certificate", fmtTime(cd), fmtTime(maker.NotBefore), fmtTime(maker.NotAfter))
	default:
		v.r.add(scope, "maker.validity_at_seal_creation", Unknown, "seal createDate %s precedes the maker certificate's validity %s .. %s (the createDate is maker-asserted)", fmtTime(cd), fmtTime(maker.NotBefore), fmtTime(maker.NotAfter))
	}
	return maker
}

func (v *verifier) standaloneSeal(der []byte) {
	const scope = "SESeal"
	seal, err := ses.ParseSeal(der)
	if err != nil {
		v.r.add(scope, "seal.parse", Fail, "SESeal cannot be parsed: %v", err)
		return
	}
	p := seal.Info.Property
	v.r.add(scope, "seal.parse", Pass, "SESeal V%d (header.version %d, vendor %q), %d certificate(s), %d digest(s) in certList", seal.Version, seal.Info.Header.Version, seal.Info.Header.VID, len(p.Certs), len(p.Digests))
	info := Signed{Scope: scope, Type: "SESeal", SealVersion: seal.Version, SealVendor: seal.Info.Header.VID, SealID: seal.Info.ESID, SealName: p.Name, SealValidFrom: p.ValidStart, SealValidTo: p.ValidEnd}
	maker := v.sealChecks(scope, seal, &info)
	if v.opts.At.IsZero() {
		v.r.add(scope, "seal.validity", Unknown, "a standalone seal has no signing time; valid %s .. %s (give a time to check it)", fmtTime(p.ValidStart), fmtTime(p.ValidEnd))
	} else if at := v.opts.At; !at.Before(p.ValidStart) && !at.After(p.ValidEnd) {
		v.r.add(scope, "seal.validity", Pass, "%s within %s .. %s", fmtTime(at), fmtTime(p.ValidStart), fmtTime(p.ValidEnd))
	} else {
		v.r.add(scope, "seal.validity", Fail, "%s outside the seal's validity %s .. %s", fmtTime(at), fmtTime(p.ValidStart), fmtTime(p.ValidEnd))
	}
	if len(seal.TimeStamp) > 0 {
		v.r.add(scope, "seal.timestamp", Unknown, "a %d-byte timeStamp is present but not verified", len(seal.TimeStamp))
	}
	if maker != nil {
		v.chain(scope, "maker", maker, p.CreateDate)
		v.revocation(scope, "maker", maker, p.CreateDate, false)
	}
	at := v.opts.At
	if at.IsZero() {
		at = v.r.VerifiedAt
	}
	v.sealStatus(scope, seal, at, false)
	v.r.Signed = append(v.r.Signed, info)
}
