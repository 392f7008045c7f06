package verify

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/gxhub/gxhub/certs/ecert"
	"github.com/gxhub/gxhub/certs/ofd"
	"github.com/gxhub/gxhub/certs/pki"
)

// LicenceStatus is a registry's answer about one licence version at a time.
type LicenceStatus struct {
	// Status is active, suspended, revoked, annulled or superseded.
	Status string
	Since  time.Time
	Reason string
}

// LicenceStatusChecker answers the registry status of a licence version at a time. It
// returns ErrUnregistered when the registry does not know the licence, another error when
// the status cannot be determined.
type LicenceStatusChecker interface {
	ECertStatus(ctx context.Context, identifier string, at time.Time) (LicenceStatus, error)
}

// ErrUnregistered is returned by a LicenceStatusChecker that does not know the licence.
var ErrUnregistered = errors.New("the licence is not registered here")

// JudgeLicenceStatus asks src about a licence used at usedAt and turns the answer into a
// check outcome: only "active" passes; a registry that does not know the licence, or none
// at all (offline), leaves it unknown.
func JudgeLicenceStatus(ctx context.Context, src LicenceStatusChecker, identifier string, usedAt time.Time) (Status, string) {
	if src == nil {
		return Unknown, "no licence registry consulted (offline): whether the licence was suspended, revoked or annulled is not known"
	}
	st, err := src.ECertStatus(ctx, identifier, usedAt)
	switch {
	case errors.Is(err, ErrUnregistered):
		return Unknown, fmt.Sprintf("%s is not registered at this hub: its status (suspended, revoked, annulled) is unknown here", identifier)
	case err != nil:
		return Unknown, fmt.Sprintf("registry status not available: %v", err)
	case st.Status == "active":
		return Pass, fmt.Sprintf("active at %s (since %s)", usedAt.UTC().Format(time.RFC3339), st.Since.UTC().Format(time.RFC3339))
	}
	reason := ""
	if st.Reason != "" {
		reason = fmt.Sprintf(" (reason %q)", st.Reason)
	}
	return Fail, fmt.Sprintf("%s at %s: %s since %s%s", identifier, usedAt.UTC().Format(time.RFC3339), st.Status, st.Since.UTC().Format(time.RFC3339), reason)
}

// licence checks a GB/T 36905 e-licence file: an OFD whose custom tags carry the licence's
// GB/T 36903 metadata. coveredBy maps a package file to the intact signatures covering it.
func (v *verifier) licence(pkg *ofd.Package, rend *ofd.Rendering, coveredBy map[string][]string) {
	for _, p := range rend.Parts {
		if !strings.HasPrefix(p.Role, "custom tags") {
			continue
		}
		b, err := pkg.ReadFile(p.Path)
		if err != nil {
			continue
		}
		lf, err := ecert.ParseLicenceTag(b)
		if errors.Is(err, ecert.ErrNotLicence) {
			continue
		}
		const scope = "licence"
		if err != nil {
			v.r.add(scope, "ecert.format", Fail, "%s: %v", p.Path, err)
			return
		}
		m := lf.Metadata
		v.r.Signed = append(v.r.Signed, Signed{Scope: scope, Type: "ecert", SealID: m.Identifier, SealName: m.Name})
		v.r.add(scope, "ecert.format", Pass, "GB/T 36905 licence file %s (%s), metadata in %s", m.Identifier, m.Name, p.Path)
		if _, err := ecert.ParseIdentifier(m.Identifier); err != nil {
			v.r.add(scope, "ecert.identifier", Fail, "%v", err)
		} else {
			v.r.add(scope, "ecert.identifier", Pass, "GB/T 36904 identifier, check character (ISO 7064 MOD 37,36) correct")
		}
		v.licenceMetadata(scope, m)
		probs := lf.CheckFace(func(pageID, objectID string) (string, bool) { return pkg.Text(pageID, objectID) })
		if len(probs) > 0 {
			v.r.add(scope, "ecert.face", Fail, "what the page shows is not the signed metadata: %s", strings.Join(probs, "; "))
		} else {
			v.r.add(scope, "ecert.face", Pass, "the page shows the metadata's %d fields", len(lf.Fields))
		}
		v.licenceIssuer(scope, m, coveredBy[p.Path])
		day := ecert.DateOf(v.r.VerifiedAt.In(ecert.ChinaTime))
		until := m.ValidUntil.String()
		if until == "" {
			until = "长期"
		}
		if m.ValidOn(day) {
			v.r.add(scope, "ecert.validity", Pass, "valid on %s (%s..%s)", day, m.ValidFrom, until)
		} else {
			v.r.add(scope, "ecert.validity", Fail, "%v: %s is outside %s..%s", ecert.ErrLicenceNotValid, day, m.ValidFrom, until)
		}
		st, reason := JudgeLicenceStatus(v.ctx, v.opts.Licences, m.Identifier, v.r.VerifiedAt)
		v.r.add(scope, "ecert.status", st, "%s", reason)
		return
	}
}

func (v *verifier) licenceMetadata(scope string, m *ecert.Metadata) {
	cat, err := ecert.DemoCatalogue()
	if v.opts.Catalogue != nil {
		cat, err = v.opts.Catalogue(v.ctx)
	}
	if err != nil {
		v.r.add(scope, "ecert.metadata", Unknown, "licence catalogue unavailable: %v", err)
		return
	}
	if _, ok := cat.Lookup(m.TypeCode); !ok {
		v.r.add(scope, "ecert.metadata", Unknown, "licence type %s is not in the catalogue known here (verify at the hub that registered it)", m.TypeCode)
		return
	}
	if err := m.Validate(cat); err != nil {
		v.r.add(scope, "ecert.metadata", Fail, "%v", err)
		return
	}
	v.r.add(scope, "ecert.metadata", Pass, "GB/T 36903 metadata valid for type %s", m.TypeCode)
}

// licenceIssuer checks that a signature covering the licence metadata was made with the
// issuing authority's certificate.
func (v *verifier) licenceIssuer(scope string, m *ecert.Metadata, sigs []string) {
	var others []string
	for _, s := range sigs {
		c := v.signers[s]
		if c == nil || c.X509 == nil {
			continue
		}
		code, err := pki.DepartmentCode(c.X509)
		if err != nil {
			continue
		}
		if code == m.IssuerCode {
			v.r.add(scope, "ecert.issuer", Pass, "sealed by the issuing authority %s (%s)", code, m.IssuerName)
			return
		}
		others = append(others, code)
	}
	if len(others) > 0 {
		v.r.add(scope, "ecert.issuer", Fail, "%v: sealed by %s, the licence's issuing authority is %s", ecert.ErrNotIssuer, strings.Join(others, ", "), m.IssuerCode)
		return
	}
	v.r.add(scope, "ecert.issuer", Unknown, "no signature covering the licence metadata carries a 统一社会信用代码 to compare with the issuing authority %s", m.IssuerCode)
}
