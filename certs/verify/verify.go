// Package verify checks sealed documents and seals: OFD packages (GB/T 33190) signed with
// GB/T 38540 / GM/T 0031 electronic seals (Type="Seal") or GB/T 35275 SignedData
// (Type="Sign"), SES_Signature files with their signed data, standalone GB/T 35275
// SignedData, and standalone seals. Verify returns a Report that lists every check with
// pass, fail, unknown, unsupported or note and a reason, and one verdict:
//
//   - VALID: every check passed, the chains reach a configured trust root, and revocation
//     and registry status were checked;
//   - INTACT (签名完整，信任未确认): the signatures and coverage hold, but trust,
//     revocation or status could not be established (the unknown checks say why);
//   - INVALID: a check failed;
//   - UNSUPPORTED (无法校验): a signature kind the verifier cannot check, or a signer it
//     cannot identify.
//
// An OFD is only as good as what its signatures cover: starting from every DocBody of
// OFD.xml, every file a reader renders (document root, pages, templates, resources, fonts,
// images, annotations, attachments, custom tags) must be covered by the references of a
// signature that checked out, and every DocBody must carry a signature (see ofdcheck.go and
// docs/CERTS.md).
//
// Times are checked at the signing time (TBS_Sign.timeInfo, signingTime, or a verified
// timestamp), never at "now": archived documents stay verifiable after their certificates
// and seals expire.
package verify

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/emmansun/gmsm/smx509"

	"github.com/gxhub/gxhub/certs/cms"
	"github.com/gxhub/gxhub/certs/ecert"
	"github.com/gxhub/gxhub/certs/ofd"
	"github.com/gxhub/gxhub/certs/ses"
	"github.com/gxhub/gxhub/certs/trust"
)

// RevocationStatus is a revocation source's answer about one certificate or seal.
type RevocationStatus = trust.Status

// RevocationChecker answers whether a certificate was revoked. Implementations (CRLs and
// OCSP in certs/trust, the hub's registries) live outside this package; they return an
// error when the status cannot be determined, which reports the check as unknown.
type RevocationChecker = trust.Checker

// SealStatusChecker is optionally implemented by a RevocationChecker that also knows the
// status of seals (a seal registry); it is found by type assertion.
type SealStatusChecker = trust.SealChecker

// Options configure Verify. The zero value verifies cryptography, coverage and validity
// windows and reports chain and revocation as unknown (at best INTACT).
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
	// SM3 is dataHash) or for a detached SignedData.
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
	// Catalogue returns the licence types known, for e-licence files (GB/T 36905); nil
	// means the demo catalogue.
	Catalogue func(ctx context.Context) (*ecert.Catalogue, error)
	// Licences, when set, is the registry asked for an e-licence file's status.
	Licences LicenceStatusChecker
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
		if cms.LooksLike(input) {
			return KindSignedData, nil
		}
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
	return "", fmt.Errorf("%w: neither an OFD zip nor a DER SESeal, SES_Signature or SignedData", ErrInput)
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
	v := &verifier{ctx: ctx, opts: opts, r: &Report{Input: opts.Name, Kind: kind, VerifiedAt: now().UTC()}, signers: map[string]*ses.Certificate{}}
	var err error
	switch kind {
	case KindOFD:
		err = v.ofdPackage(input)
	case KindSignature:
		scope := "SES_Signature"
		err = v.signature(scope, input, opts.Data, opts.Data != nil, "")
	case KindSeal:
		v.standaloneSeal(input)
	case KindSignedData:
		v.signedData("SignedData", input, opts.Data, "", "")
	default:
		return nil, fmt.Errorf("%w: unknown kind %q", ErrInput, kind)
	}
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	v.r.Finish()
	return v.r, nil
}

type verifier struct {
	ctx  context.Context
	opts Options
	r    *Report
	// signers are the signer certificates of signatures whose signature value verified,
	// by scope.
	signers map[string]*ses.Certificate
}
