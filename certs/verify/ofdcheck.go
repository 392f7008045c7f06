package verify

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"strings"

	"github.com/gxhub/gxhub/certs/ofd"
	"github.com/gxhub/gxhub/certs/sm"
)

// sigState is what one signature's checks amount to, for coverage: only the references of
// an intact signature cover files.
type sigState int

const (
	intact    sigState = iota // every check that bears on integrity held (trust may be unknown)
	broken                    // a check failed
	unchecked                 // the verifier cannot check this signature
)

// stateSince judges the checks of scope added since index start.
func (v *verifier) stateSince(scope string, start int) sigState {
	st := intact
	for _, c := range v.r.Checks[start:] {
		if c.Scope != scope {
			continue
		}
		switch c.Status {
		case Fail:
			return broken
		case NotSupported:
			st = unchecked
		}
	}
	return st
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
	rend := pkg.Rendered()

	covered := map[string]sigState{}   // path → best state of a signature whose reference to it matched
	coveredBy := map[string][]string{} // path → intact signatures covering it
	sigData := map[string]bool{}       // signature lists, Signature.xml, SignedValue, Seal files
	nsig, nchecked := 0, 0
	for i, d := range docs {
		if d.SignaturesPath != "" {
			sigData[d.SignaturesPath] = true
		}
		if len(d.Signatures) == 0 {
			v.r.add(fmt.Sprintf("DocBody %d", i), "signatures", Fail, "DocBody %d (%s) carries no signature: a reader shows it as a document of this file, and nobody signed it", i, d.Root)
		}
		for _, s := range d.Signatures {
			nsig++
			if err := v.ctx.Err(); err != nil {
				return err
			}
			for _, p := range []string{s.Path, s.SignedValuePath, s.SealPath} {
				if p != "" {
					sigData[p] = true
				}
			}
			st, refs, mismatched := v.ofdSignature(pkg, s)
			if st != unchecked {
				nchecked++
			}
			mark := func(p string, st sigState) {
				if old, ok := covered[p]; !ok || st < old {
					covered[p] = st
				}
			}
			for _, p := range refs {
				mark(p, st)
				if st == intact {
					coveredBy[p] = append(coveredBy[p], s.Path)
				}
			}
			for _, p := range mismatched { // reported by its reference check
				mark(p, broken)
			}
		}
	}
	switch {
	case nsig == 0:
		v.r.add("", "signatures", Fail, "the document carries no signature (no Signatures.xml entries)")
	case nchecked == 0:
		v.r.add("", "signatures", NotSupported, "none of the %d signature(s) is of a kind this verifier can check", nsig)
	default:
		v.r.add("", "signatures", Pass, "%d signature(s) checked of %d in total", nchecked, nsig)
	}
	v.coverage(pkg, rend, covered, sigData)
	v.licence(pkg, rend, coveredBy)
	return nil
}

// ofdSignature checks one signature of an OFD package and returns its state, the package
// paths whose reference digests matched and those whose digests did not.
func (v *verifier) ofdSignature(pkg *ofd.Package, s *ofd.Signature) (sigState, []string, []string) {
	scope := s.Path
	start := len(v.r.Checks)
	if s.Type != "Seal" && s.Type != "Sign" {
		v.r.add(scope, "signature.type", NotSupported, "Type=%q is neither Seal (GB/T 38540 electronic seal) nor Sign (GB/T 35275 digital signature): this verifier cannot check it", s.Type)
		var refs []string // what it claims to cover, for coverage only
		for _, ref := range s.References {
			if ref.Err == nil {
				refs = append(refs, ref.Path)
			}
		}
		return unchecked, refs, nil
	}
	if s.Method != "" && s.Method != sm2WithSM3 && s.Method != "SM2" {
		v.r.add(scope, "signature.method", NotSupported, "SignatureMethod %q is not SM2-with-SM3 (%s): this verifier checks SM2 signatures only", s.Method, sm2WithSM3)
	}
	refs, mismatched := v.references(pkg, scope, s)
	sv, err := pkg.ReadFile(s.SignedValuePath)
	if err != nil {
		v.r.add(scope, "signature.parse", Fail, "SignedValue: %v", err)
		return broken, refs, mismatched
	}
	n := len(v.r.Signed)
	if s.Type == "Seal" {
		_ = v.signature(scope, sv, s.XML, true, s.Path)
		if s.SealPath != "" {
			v.sealFile(pkg, scope, s.SealPath, sv)
		}
	} else {
		v.signedData(scope, sv, s.XML, s.Path, s.DateTime)
	}
	if len(v.r.Signed) > n {
		v.r.Signed[n].Provider = s.Provider
	}
	return v.stateSince(scope, start), refs, mismatched
}

const sm2WithSM3 = "1.2.156.10197.1.501"

// references checks each Reference digest of a signature and returns the paths that match
// and those that do not.
func (v *verifier) references(pkg *ofd.Package, scope string, s *ofd.Signature) (ok, mismatched []string) {
	method := strings.TrimSpace(s.CheckMethod)
	sum := func(b []byte) []byte { d := sm.Sum(b); return d[:] }
	switch strings.ToUpper(method) {
	case "1.2.156.10197.1.401", "SM3", "":
		v.r.add(scope, "references.check_method", Pass, "CheckMethod %q: SM3", method)
	case "1.2.156.10197.1.401.2":
		v.r.add(scope, "references.check_method", Pass, "CheckMethod %q is the HMAC-SM3 OID; vendors use it for plain SM3, checked as SM3", method)
	case "2.16.840.1.101.3.4.2.1", "SHA256", "SHA-256":
		v.r.add(scope, "references.check_method", Pass, "CheckMethod %q: SHA-256", method)
		sum = func(b []byte) []byte { d := sha256.Sum256(b); return d[:] }
	default:
		v.r.add(scope, "references.check_method", NotSupported, "CheckMethod %q is neither SM3 nor SHA-256: the reference digests cannot be checked", method)
		sum = nil
	}
	if len(s.References) == 0 {
		v.r.add(scope, "references", Fail, "Signature.xml lists no References: the signature covers no document content")
	}
	for _, ref := range s.References {
		name := "reference[" + ref.Path + "]"
		if ref.Path == "" {
			name = "reference[" + ref.FileRef + "]"
		}
		switch {
		case ref.Err != nil:
			v.r.add(scope, name, Fail, "%v", ref.Err)
		case sum == nil:
			v.r.add(scope, name, NotSupported, "not checked: unsupported CheckMethod")
		default:
			data, err := pkg.ReadFile(ref.Path)
			if err != nil {
				v.r.add(scope, name, Fail, "referenced file missing or unreadable: %v", err)
				continue
			}
			if bytes.Equal(sum(data), ref.CheckValue) {
				v.r.add(scope, name, Pass, "digest matches")
				ok = append(ok, ref.Path)
			} else {
				v.r.add(scope, name, Fail, "digest mismatch: the file was changed after signing")
				mismatched = append(mismatched, ref.Path)
			}
		}
	}
	return ok, mismatched
}

// maxCoverageChecks bounds the per-file coverage failures listed one by one.
const maxCoverageChecks = 20

// coverage applies the rule of docs/CERTS.md: every file a reader renders, reached from
// OFD.xml's DocBody entries, must be covered by a reference of an intact signature.
func (v *verifier) coverage(pkg *ofd.Package, rend *ofd.Rendering, covered map[string]sigState, sigData map[string]bool) {
	var uncovered, uncheckable, byBroken []ofd.Part
	n := 0
	for _, p := range rend.Parts {
		if p.Path == "OFD.xml" {
			continue
		}
		n++
		st, ok := covered[p.Path]
		switch {
		case ok && st == intact:
		case ok && st == unchecked:
			uncheckable = append(uncheckable, p)
		case ok && st == broken:
			// Its signature failed other checks: the report is INVALID already.
			byBroken = append(byBroken, p)
		default:
			uncovered = append(uncovered, p)
		}
	}
	for i, p := range uncovered {
		if i == maxCoverageChecks {
			v.r.add("", "coverage[…]", Fail, "and %d more rendered file(s) not covered by any signature", len(uncovered)-i)
			break
		}
		v.r.add("", "coverage["+p.Path+"]", Fail, "%s is not covered by any signature that checked out: a reader shows it (reached from %s), so it could have been changed or added after signing", p.Describe(), orDash(p.From))
	}
	for _, p := range rend.Unread {
		v.r.add("", "coverage.unread", NotSupported, "cannot read %s to find what a reader shows from it", p.Describe())
	}
	var list []string
	for _, p := range uncovered {
		list = append(list, p.Role)
	}
	switch {
	case len(rend.Bodies) == 0:
		v.r.add("", "references.coverage", Fail, "OFD.xml has no readable DocBody: what a reader shows cannot be determined")
	case len(uncovered) > 0:
		v.r.add("", "references.coverage", Fail, "%d of %d rendered file(s) not covered by any signature: %s", len(uncovered), n, strings.Join(list, ", "))
	case len(uncheckable) > 0:
		var l []string
		for _, p := range uncheckable {
			l = append(l, p.Describe())
		}
		v.r.add("", "references.coverage", NotSupported, "%d rendered file(s) are covered only by signatures this verifier cannot check: %s", len(uncheckable), strings.Join(l, ", "))
	case len(rend.Unread) > 0:
		v.r.add("", "references.coverage", NotSupported, "what a reader shows could not be followed through every file (see coverage.unread)")
	case len(byBroken) > 0:
		v.r.add("", "references.coverage", Note, "every file a reader shows is referenced with a matching digest, but %d of them only by signatures that failed other checks (see those checks)", len(byBroken))
	default:
		v.r.add("", "references.coverage", Pass, "every file a reader shows (%d reached from OFD.xml: document root, pages, templates, resources, annotations, attachments, tags) is covered by a signature that checked out", n)
	}
	for _, p := range rend.Problems {
		v.r.add("", "coverage.structure", Note, "%s", p)
	}
	if len(rend.Missing) > 0 {
		var l []string
		for _, p := range rend.Missing {
			l = append(l, p.Describe())
		}
		v.r.add("", "coverage.missing", Note, "referenced but not in the package (a reader shows nothing for them): %s", strings.Join(l, ", "))
	}
	if _, ok := covered["OFD.xml"]; !ok {
		v.r.add("", "coverage.entry_point", Note, "OFD.xml is not covered by a signature: which document a reader opens is checked above (its document root must be signed), but its document information (title, author, custom data) is not signed")
	}
	var loose, unshown []string
	for _, name := range pkg.Names() {
		if sigData[name] || name == "OFD.xml" || rend.Has(name) {
			continue
		}
		if _, ok := covered[name]; ok {
			unshown = append(unshown, name)
		} else {
			loose = append(loose, name)
		}
	}
	if len(unshown) > 0 {
		v.r.add("", "coverage.unshown", Note, "%d signed file(s) no reader reaches from OFD.xml (what was signed is not what is shown): %s", len(unshown), strings.Join(unshown, ", "))
	}
	if len(loose) > 0 {
		v.r.add("", "coverage.unreferenced", Note, "%d file(s) no reader reaches and no signature covers (not shown, so not part of what was signed): %s", len(loose), strings.Join(loose, ", "))
	}
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
