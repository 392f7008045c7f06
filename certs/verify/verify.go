// Package verify checks sealed documents and seals: OFD packages (GB/T 33190) signed with
// GB/T 38540 / GM/T 0031 electronic signatures, SES_Signature files with their signed data,
// and standalone seals. Verify returns a Report that lists every check with pass, fail or
// unknown and a reason; a report is valid when no check failed (unknown checks, such as a
// chain without configured trust roots, do not fail it).
//
// Times are checked at the signing time (TBS_Sign.timeInfo), never at "now": archived
// documents stay verifiable after their certificates and seals expire.
package verify

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/emmansun/gmsm/smx509"
	"github.com/gxhub/gxhub/certs/ofd"
	"github.com/gxhub/gxhub/certs/ses"
	"github.com/gxhub/gxhub/certs/sm"
)

// RevocationStatus is a revocation source's answer about one certificate or seal.
type RevocationStatus struct {
	Revoked   bool
	RevokedAt time.Time
	Reason    string
	Source    string // e.g. "CRL issued 2026-01-01 by ..."
}

// RevocationChecker answers whether a certificate was revoked. Implementations (CRL, OCSP,
// the hub's registry) live outside this package; return an error when the status cannot be
// determined, which reports the check as unknown.
type RevocationChecker interface {
	CertificateStatus(ctx context.Context, cert *ses.Certificate, at time.Time) (RevocationStatus, error)
}

// SealStatusChecker is optionally implemented by a RevocationChecker that also knows the
// status of seals (a seal registry); it is found by type assertion.
type SealStatusChecker interface {
	SealStatus(ctx context.Context, seal *ses.Seal, at time.Time) (RevocationStatus, error)
}

// Options configure Verify. The zero value verifies cryptography and validity windows and
// reports chain and revocation as unknown.
type Options struct {
	// Roots are the trust anchors for signer and maker chains; nil reports chains as unknown.
	Roots []*smx509.Certificate
	// RequireChain makes "issuer not in trust store" a failure instead of unknown.
	RequireChain bool
	// Intermediates may help to build chains.
	Intermediates []*smx509.Certificate
	// Revocation, when set, is asked about signer and maker certificates.
	Revocation RevocationChecker
	// Data is the signed data for a standalone SES_Signature input (the Signature.xml whose
	// SM3 is dataHash).
	Data []byte
	// At is the time at which a standalone seal's validity window is checked (it has no
	// signing time). Zero reports that check as unknown.
	At time.Time
	// Kind forces the input kind instead of auto-detection.
	Kind Kind
	// Name labels the input in the report (e.g. the file name).
	Name string
	// Limits bound OFD package resources; zero means ofd.DefaultLimits.
	Limits ofd.Limits
	// Now is the clock for Report.VerifiedAt; nil means time.Now.
	Now func() time.Time
}

// ErrInput is wrapped by Verify errors about input that is not a recognisable OFD package,
// seal or SES_Signature (as opposed to recognised input that fails verification, which
// yields an invalid Report).
var ErrInput = errors.New("unrecognised or unreadable input")

// Detect guesses the kind of input: a zip (possibly with bytes before it) is OFD; DER that
// parses as SES_Signature is a signature; DER that parses as SESeal is a seal.
//
// DER is tried before searching for a zip directory anywhere in the input, because seals
// may embed a small OFD as their picture (GOMAIN tax seals do).
func Detect(input []byte) (Kind, error) {
	if bytes.HasPrefix(input, []byte("PK\x03\x04")) {
		return KindOFD, nil
	}
	if len(input) > 0 && input[0] == 0x30 {
		if _, err := ses.ParseSignature(input); err == nil {
			return KindSignature, nil
		}
		if _, err := ses.ParseSeal(input); err == nil {
			return KindSeal, nil
		}
	}
	if bytes.Contains(input, []byte("PK\x05\x06")) && bytes.Contains(input, []byte("PK\x01\x02")) {
		return KindOFD, nil // a zip with bytes before it (KingGrid)
	}
	if len(input) > 0 && input[0] == 0x30 {
		// Tell signature and seal apart by shape so that a damaged file still gets a report.
		if k := shapeKind(input); k != "" {
			return k, nil
		}
	}
	return "", fmt.Errorf("%w: neither an OFD zip nor a DER SESeal/SES_Signature", ErrInput)
}

// shapeKind classifies a damaged DER structure: SES_Signature's first field starts with an
// INTEGER (TBS_Sign.version), SESeal's first field starts with SES_Header (a SEQUENCE).
func shapeKind(b []byte) Kind {
	hdr := func(b []byte) int { // length of a DER header, 0 if malformed
		if len(b) < 2 {
			return 0
		}
		if b[1] < 0x80 {
			return 2
		}
		n := int(b[1] & 0x7f)
		if n == 0 || n > 4 || len(b) < 2+n {
			return 0
		}
		return 2 + n
	}
	h := hdr(b)
	if h == 0 || len(b) <= h || b[h] != 0x30 {
		return ""
	}
	h2 := hdr(b[h:])
	if h2 == 0 || len(b) <= h+h2 {
		return ""
	}
	switch b[h+h2] {
	case 0x02:
		return KindSignature
	case 0x30:
		return KindSeal
	}
	return ""
}

// Verify checks input (an OFD package, a SES_Signature with opts.Data, or a seal) and
// returns a report. The error is non-nil only when the input cannot be recognised or read
// at all (wrapping ErrInput) or ctx is done.
func Verify(ctx context.Context, input []byte, opts Options) (*Report, error) {
	kind := opts.Kind
	if kind == "" {
		var err error
		if kind, err = Detect(input); err != nil {
			return nil, err
		}
	}
	now := time.Now
	if opts.Now != nil {
		now = opts.Now
	}
	v := &verifier{ctx: ctx, opts: opts, r: &Report{Input: opts.Name, Kind: kind, VerifiedAt: now().UTC()}}
	var err error
	switch kind {
	case KindOFD:
		err = v.ofdPackage(input)
	case KindSignature:
		scope := "SES_Signature"
		err = v.signature(scope, input, opts.Data, opts.Data != nil, "")
	case KindSeal:
		v.standaloneSeal(input)
	default:
		return nil, fmt.Errorf("%w: unknown kind %q", ErrInput, kind)
	}
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	v.r.finish()
	return v.r, nil
}

type verifier struct {
	ctx  context.Context
	opts Options
	r    *Report
}

func (v *verifier) ofdPackage(input []byte) error {
	pkg, err := ofd.Open(input, v.opts.Limits)
	if err != nil {
		if errors.Is(err, ofd.ErrUnsafe) {
			v.r.add("", "container", Fail, "%v", err)
			return nil
		}
		return fmt.Errorf("%w: %v", ErrInput, err)
	}
	docs, err := pkg.Documents()
	if err != nil {
		v.r.add("", "container", Fail, "%v", err)
		return nil
	}
	v.r.add("", "container", Pass, "OFD package with %d files, %d document(s)", len(pkg.Names()), len(docs))
	covered := map[string]bool{}
	nsig, nseal := 0, 0
	for _, d := range docs {
		if d.SignaturesPath != "" {
			covered[d.SignaturesPath] = true
		}
		for _, s := range d.Signatures {
			nsig++
			if err := v.ctx.Err(); err != nil {
				return err
			}
			if v.ofdSignature(pkg, s, covered) {
				nseal++
			}
		}
	}
	switch {
	case nsig == 0:
		v.r.add("", "signatures", Fail, "the document carries no signature (no Signatures.xml entries)")
		return nil
	case nseal == 0:
		v.r.add("", "signatures", Fail, "none of the %d signature(s) is a seal signature this verifier can check", nsig)
	default:
		v.r.add("", "signatures", Pass, "%d seal signature(s) checked, %d signature(s) in total", nseal, nsig)
	}
	var uncovered []string
	for _, n := range pkg.Names() {
		if !covered[n] {
			uncovered = append(uncovered, n)
		}
	}
	if len(uncovered) == 0 {
		v.r.add("", "references.coverage", Pass, "every file of the package is covered by a signature reference or is signature data")
	} else {
		v.r.add("", "references.coverage", Unknown, "%d file(s) not covered by any signature (content added after signing would not be detected): %s", len(uncovered), strings.Join(uncovered, ", "))
	}
	return nil
}

// ofdSignature checks one signature of an OFD package; it reports whether it was a seal
// signature (checked) rather than an unsupported kind.
func (v *verifier) ofdSignature(pkg *ofd.Package, s *ofd.Signature, covered map[string]bool) bool {
	scope := s.Path
	covered[s.Path] = true
	covered[s.SignedValuePath] = true
	if s.SealPath != "" {
		covered[s.SealPath] = true
	}
	if s.Type != "Seal" {
		v.r.add(scope, "signature.type", Unknown, "Type=%q signatures (GB/T 35275 SignedData without a seal) are not checked by this verifier", s.Type)
		return false
	}
	if s.Method != "" && s.Method != ses.OIDSM2WithSM3.String() {
		v.r.add(scope, "signature.method", Fail, "SignatureMethod %q is not SM2-with-SM3 (%s)", s.Method, ses.OIDSM2WithSM3)
	}
	// References.
	method := strings.TrimSpace(s.CheckMethod)
	switch strings.ToUpper(method) {
	case "1.2.156.10197.1.401", "SM3", "":
		v.r.add(scope, "references.check_method", Pass, "CheckMethod %q: SM3", method)
	case "1.2.156.10197.1.401.2":
		v.r.add(scope, "references.check_method", Pass, "CheckMethod %q is the HMAC-SM3 OID; vendors use it for plain SM3, checked as SM3", method)
	default:
		v.r.add(scope, "references.check_method", Fail, "CheckMethod %q is not SM3; digests cannot be checked", method)
		method = "unsupported"
	}
	if len(s.References) == 0 {
		v.r.add(scope, "references", Fail, "Signature.xml lists no References: the signature covers no document content")
	}
	for _, ref := range s.References {
		name := "reference[" + ref.Path + "]"
		if ref.Path == "" {
			name = "reference[" + ref.FileRef + "]"
		}
		covered[ref.Path] = true
		switch {
		case ref.Err != nil:
			v.r.add(scope, name, Fail, "%v", ref.Err)
		case method == "unsupported":
			v.r.add(scope, name, Unknown, "not checked: unsupported CheckMethod")
		default:
			data, err := pkg.ReadFile(ref.Path)
			if err != nil {
				v.r.add(scope, name, Fail, "referenced file missing or unreadable: %v", err)
				continue
			}
			sum := sm.Sum(data)
			if bytes.Equal(sum[:], ref.CheckValue) {
				v.r.add(scope, name, Pass, "SM3 digest matches")
			} else {
				v.r.add(scope, name, Fail, "digest mismatch: the file was changed after signing")
			}
		}
	}
	sv, err := pkg.ReadFile(s.SignedValuePath)
	if err != nil {
		v.r.add(scope, "signature.parse", Fail, "SignedValue: %v", err)
		return true
	}
	n := len(v.r.Signed)
	_ = v.signature(scope, sv, s.XML, true, s.Path)
	if len(v.r.Signed) > n {
		v.r.Signed[n].Provider = s.Provider
	}
	if s.SealPath != "" {
		v.sealFile(pkg, scope, s.SealPath, sv)
	}
	return true
}

// sealFile compares a Seal.esl named by Signature.xml with the seal inside the signature
// (the embedded one is what the signature covers; a different file would mislead a reader).
func (v *verifier) sealFile(pkg *ofd.Package, scope, path string, sv []byte) {
	b, err := pkg.ReadFile(path)
	if err != nil {
		v.r.add(scope, "seal.file", Unknown, "Seal BaseLoc %s: %v", path, err)
		return
	}
	sig, err := ses.ParseSignature(sv)
	if err != nil {
		return // already reported by signature.parse
	}
	if bytes.Equal(b, sig.Seal.Raw) {
		v.r.add(scope, "seal.file", Pass, "%s is the seal embedded in the signature", path)
	} else {
		v.r.add(scope, "seal.file", Unknown, "%s differs from the seal embedded in the signature (the embedded seal is the one verified)", path)
	}
}

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
		Scope: scope, SigningTime: at,
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
		v.r.add(scope, "timestamp", Unknown, "no timestamp: the signing time is the signer-asserted timeInfo")
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
			v.r.add(scope, "signature.property_info", Unknown, "propertyInfo %q does not name %s (the dataHash check still binds the bytes)", sig.PropertyInfo, sigPath)
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
	}
	v.r.Signed = append(v.r.Signed, info)
	return nil
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
	info := Signed{Scope: scope, SealVersion: seal.Version, SealVendor: seal.Info.Header.VID, SealID: seal.Info.ESID, SealName: p.Name, SealValidFrom: p.ValidStart, SealValidTo: p.ValidEnd}
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
