package ecert

import (
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/emmansun/gmsm/smx509"
	"github.com/stretchr/testify/require"

	"github.com/gxhub/gxhub/certs/jws"
	"github.com/gxhub/gxhub/certs/pki"
	"github.com/gxhub/gxhub/certs/sm"
)

var pkiStart = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

type sealFixture struct {
	cat       *Catalogue
	m         *Metadata
	root      *pki.CA
	issuing   *pki.CA
	key       *sm.PrivateKey
	cert      *smx509.Certificate // the issuing department's certificate, valid 2026-01-01 + 1 year
	otherKey  *sm.PrivateKey
	otherCert *smx509.Certificate // another department's
	signedAt  time.Time
	opts      VerifyOptions
}

func newSealFixture(t *testing.T) *sealFixture {
	t.Helper()
	cat, m := newLicence(t)
	root, err := pki.NewRootCA(pkix.Name{CommonName: "ecert test root"}, pkiStart, 10*365*24*time.Hour)
	require.NoError(t, err)
	issuing, err := root.NewIssuingCA(pkix.Name{CommonName: "ecert test issuing"}, pkiStart, 5*365*24*time.Hour)
	require.NoError(t, err)
	key, err := sm.GenerateKey()
	require.NoError(t, err)
	cert, err := issuing.IssueDepartmentCert(&key.PublicKey, pki.DepartmentSubject{Code: issuer, Name: m.IssuerName, Region: "浙江省杭州市"}, pkiStart, 365*24*time.Hour)
	require.NoError(t, err)
	otherKey, err := sm.GenerateKey()
	require.NoError(t, err)
	otherCert, err := issuing.IssueDepartmentCert(&otherKey.PublicKey, pki.DepartmentSubject{Code: company, Name: "另一个部门"}, pkiStart, 365*24*time.Hour)
	require.NoError(t, err)
	return &sealFixture{
		cat: cat, m: m, root: root, issuing: issuing, key: key, cert: cert, otherKey: otherKey, otherCert: otherCert,
		signedAt: time.Date(2026, 3, 2, 9, 30, 0, 0, ChinaTime),
		opts: VerifyOptions{
			Catalogue: cat,
			Roots:     []*smx509.Certificate{root.Cert},
			UsedAt:    time.Date(2026, 6, 1, 10, 0, 0, 0, ChinaTime),
		},
	}
}

// forge signs an arbitrary payload as Seal would, bypassing Seal's own checks.
func (f *sealFixture) forge(t *testing.T, key *sm.PrivateKey, cert *smx509.Certificate, p sealedPayload) string {
	t.Helper()
	b, err := json.Marshal(p)
	require.NoError(t, err)
	tok, err := jws.Sign(key, CertFingerprint(cert), SealedType, b)
	require.NoError(t, err)
	return tok
}

func TestSealAndVerify(t *testing.T) {
	f := newSealFixture(t)
	tok, err := Seal(f.m, f.cat, f.key, f.cert, []*smx509.Certificate{f.issuing.Cert, f.root.Cert}, f.signedAt)
	require.NoError(t, err)
	t.Logf("sealed licence: %d bytes as compact JWS (signer + issuing CA certificates embedded)", len(tok))

	v, err := VerifySealed(tok, f.opts)
	require.NoError(t, err)
	require.Equal(t, f.m, v.Licence)
	require.True(t, v.SignedAt.Equal(f.signedAt))
	require.True(t, v.Signer.Equal(f.cert))

	t.Run("still valid after the signer certificate expired", func(t *testing.T) {
		opts := f.opts
		opts.UsedAt = time.Date(2028, 1, 1, 0, 0, 0, 0, ChinaTime) // the licence has no end date
		_, err := VerifySealed(tok, opts)
		require.NoError(t, err)
	})
	t.Run("resolver when no certificate is embedded", func(t *testing.T) {
		bare, err := SealBare(f.m, f.cat, f.key, f.cert, f.signedAt)
		require.NoError(t, err)
		t.Logf("bare sealed licence: %d bytes as compact JWS (no certificates)", len(bare))
		opts := f.opts
		_, err = VerifySealed(bare, opts)
		require.ErrorContains(t, err, "no resolver")
		opts.Intermediates = []*smx509.Certificate{f.issuing.Cert}
		opts.Resolve = func(kid string) (*smx509.Certificate, error) {
			if kid == CertFingerprint(f.cert) {
				return f.cert, nil
			}
			return nil, errors.New("unknown kid")
		}
		_, err = VerifySealed(bare, opts)
		require.NoError(t, err)
		opts.Resolve = func(string) (*smx509.Certificate, error) { return f.otherCert, nil }
		_, err = VerifySealed(bare, opts)
		require.ErrorContains(t, err, "does not name the signing certificate")
	})

	// tokens that must be refused
	parts := strings.Split(tok, ".")
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	require.NoError(t, err)
	altered := strings.Replace(string(payload), "张三", "李四", 1)
	require.NotEqual(t, string(payload), altered)
	tampered := parts[0] + "." + base64.RawURLEncoding.EncodeToString([]byte(altered)) + "." + parts[2]

	otherLicence := *f.m
	otherLicence.IssuerCode = company
	id, err := NewIdentifier(f.m.TypeCode, company, "2026000123", 1)
	require.NoError(t, err)
	otherLicence.Identifier = id.String()

	expiredAt := pkiStart.Add(400 * 24 * time.Hour)
	invalidLicence := *f.m
	invalidLicence.Items = map[string]string{}
	presented, err := Present(tok, company, "办理变更登记", "", f.signedAt, time.Hour, f.key, "hub")
	require.NoError(t, err)
	otherRoot, err := pki.NewRootCA(pkix.Name{CommonName: "ecert test root"}, pkiStart, 365*24*time.Hour)
	require.NoError(t, err)

	cases := []struct {
		name  string
		token string
		opts  func(*VerifyOptions)
		is    error
		want  string
	}{
		{"tampered payload", tampered, nil, sm.ErrBadSignature, "does not verify"},
		{"signed by another department", f.forge(t, f.otherKey, f.otherCert, sealedPayload{V: 1, IssuedAt: f.signedAt.Unix(), Licence: f.m, Certs: [][]byte{f.otherCert.Raw, f.issuing.Cert.Raw}}), nil, ErrNotIssuer, "signed by department " + company},
		{"signer certificate expired at signing", f.forge(t, f.key, f.cert, sealedPayload{V: 1, IssuedAt: expiredAt.Unix(), Licence: f.m, Certs: [][]byte{f.cert.Raw, f.issuing.Cert.Raw}}), nil, nil, "had expired"},
		{"signed before the certificate existed", f.forge(t, f.key, f.cert, sealedPayload{V: 1, IssuedAt: pkiStart.Add(-time.Hour).Unix(), Licence: f.m, Certs: [][]byte{f.cert.Raw, f.issuing.Cert.Raw}}), nil, nil, "not yet valid"},
		{"licence of another issuer signed by ours", f.forge(t, f.key, f.cert, sealedPayload{V: 1, IssuedAt: f.signedAt.Unix(), Licence: &otherLicence, Certs: [][]byte{f.cert.Raw, f.issuing.Cert.Raw}}), nil, ErrNotIssuer, ""},
		{"invalid metadata", f.forge(t, f.key, f.cert, sealedPayload{V: 1, IssuedAt: f.signedAt.Unix(), Licence: &invalidLicence, Certs: [][]byte{f.cert.Raw, f.issuing.Cert.Raw}}), nil, nil, "required item"},
		{"no iat", f.forge(t, f.key, f.cert, sealedPayload{V: 1, Licence: f.m, Certs: [][]byte{f.cert.Raw}}), nil, nil, "missing licence or iat"},
		{"unknown version", f.forge(t, f.key, f.cert, sealedPayload{V: 2, IssuedAt: f.signedAt.Unix(), Licence: f.m, Certs: [][]byte{f.cert.Raw}}), nil, nil, "v=2"},
		{"garbage certificate", f.forge(t, f.key, f.cert, sealedPayload{V: 1, IssuedAt: f.signedAt.Unix(), Licence: f.m, Certs: [][]byte{[]byte("junk")}}), nil, nil, "embedded certificate 1"},
		{"presentation token given as licence", presented, nil, nil, "is not \"gxhub-ecert+jws\""},
		{"not a JWS", "abc", nil, nil, "not a compact JWS"},
		{"used before validity", tok, func(o *VerifyOptions) { o.UsedAt = time.Date(2026, 3, 1, 23, 0, 0, 0, ChinaTime) }, ErrLicenceNotValid, "2026-03-01"},
		{"untrusted root", tok, func(o *VerifyOptions) { o.Roots = []*smx509.Certificate{otherRoot.Cert} }, nil, "trusted root"},
		{"type unknown to the verifier", tok, func(o *VerifyOptions) { o.Catalogue, _ = NewCatalogue() }, nil, "not in the catalogue"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			opts := f.opts
			if tc.opts != nil {
				tc.opts(&opts)
			}
			v, err := VerifySealed(tc.token, opts)
			require.Error(t, err)
			require.Nil(t, v)
			if tc.is != nil {
				require.ErrorIs(t, err, tc.is)
			}
			if tc.want != "" {
				require.ErrorContains(t, err, tc.want)
			}
		})
	}

	t.Run("licence with an end date, used after it", func(t *testing.T) {
		m := *f.m
		m.ValidUntil = Date{2026, time.May, 31}
		tok, err := Seal(&m, f.cat, f.key, f.cert, []*smx509.Certificate{f.issuing.Cert}, f.signedAt)
		require.NoError(t, err)
		_, err = VerifySealed(tok, f.opts) // used 2026-06-01
		require.ErrorIs(t, err, ErrLicenceNotValid)
		opts := f.opts
		opts.UsedAt = time.Date(2026, 5, 31, 23, 59, 0, 0, ChinaTime) // the last day, China time
		_, err = VerifySealed(tok, opts)
		require.NoError(t, err)
	})
}

func TestSealRefuses(t *testing.T) {
	f := newSealFixture(t)
	invalid := *f.m
	invalid.Number = ""
	cases := []struct {
		name string
		do   func() error
		is   error
		want string
	}{
		{"other department's certificate", func() error {
			_, err := Seal(f.m, f.cat, f.otherKey, f.otherCert, nil, f.signedAt)
			return err
		}, ErrNotIssuer, company},
		{"key of another certificate", func() error {
			_, err := Seal(f.m, f.cat, f.otherKey, f.cert, nil, f.signedAt)
			return err
		}, nil, "does not belong"},
		{"certificate expired", func() error {
			_, err := Seal(f.m, f.cat, f.key, f.cert, nil, pkiStart.Add(400*24*time.Hour))
			return err
		}, nil, "not valid at"},
		{"invalid metadata", func() error {
			_, err := Seal(&invalid, f.cat, f.key, f.cert, nil, f.signedAt)
			return err
		}, nil, "certificate_number"},
		{"CA certificate", func() error {
			_, err := Seal(f.m, f.cat, f.issuing.Key, f.issuing.Cert, nil, f.signedAt)
			return err
		}, nil, "carries no"},
		{"nil", func() error {
			_, err := Seal(nil, f.cat, f.key, f.cert, nil, f.signedAt)
			return err
		}, nil, "required"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.do()
			require.Error(t, err)
			if tc.is != nil {
				require.ErrorIs(t, err, tc.is)
			}
			require.ErrorContains(t, err, tc.want)
		})
	}
}

func TestPresentation(t *testing.T) {
	f := newSealFixture(t)
	sealed, err := Seal(f.m, f.cat, f.key, f.cert, []*smx509.Certificate{f.issuing.Cert}, f.signedAt)
	require.NoError(t, err)
	other := *f.m
	other.Items = map[string]string{}
	for k, v := range f.m.Items {
		other.Items[k] = v
	}
	other.Items["business_scope"] = "软件开发；技术服务"
	otherSealed, err := Seal(&other, f.cat, f.key, f.cert, []*smx509.Certificate{f.issuing.Cert}, f.signedAt)
	require.NoError(t, err)

	hubKey, err := sm.GenerateKey()
	require.NoError(t, err)
	wrongKey, err := sm.GenerateKey()
	require.NoError(t, err)
	const approver = "11220000013544541J"
	now := time.Date(2026, 6, 1, 10, 0, 0, 0, ChinaTime)
	tok, err := Present(sealed, approver, "办理企业变更登记", "330100-000-XK-00-1", now, 30*time.Minute, hubKey, "hub-present-1")
	require.NoError(t, err)

	pr, err := VerifyPresentation(tok, sealed, &hubKey.PublicKey, approver, now.Add(10*time.Minute))
	require.NoError(t, err)
	require.Equal(t, f.m.Identifier, pr.Identifier)
	require.Equal(t, f.m.HolderCode, pr.Holder)
	require.Equal(t, "办理企业变更登记", pr.Purpose)
	require.Len(t, pr.ID, 32)

	cases := []struct {
		name     string
		token    string
		sealed   string
		pub      *sm.PrivateKey
		audience string
		at       time.Time
		is       error
		want     string
	}{
		{"expired", tok, sealed, hubKey, approver, now.Add(30 * time.Minute), ErrPresentationExpired, "outside"},
		{"before issue", tok, sealed, hubKey, approver, now.Add(-time.Second), ErrPresentationExpired, "outside"},
		{"another approver", tok, sealed, hubKey, company, now, nil, "not " + company},
		{"another licence", tok, otherSealed, hubKey, approver, now, nil, "another sealed licence"},
		{"wrong signer", tok, sealed, wrongKey, approver, now, sm.ErrBadSignature, ""},
		{"licence given as presentation", sealed, sealed, hubKey, approver, now, nil, "is not \"gxhub-ecert-present+jws\""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := VerifyPresentation(tc.token, tc.sealed, &tc.pub.PublicKey, tc.audience, tc.at)
			require.Error(t, err)
			if tc.is != nil {
				require.ErrorIs(t, err, tc.is)
			}
			if tc.want != "" {
				require.ErrorContains(t, err, tc.want)
			}
		})
	}

	t.Run("forged window longer than allowed", func(t *testing.T) {
		b, err := json.Marshal(Presentation{ID: "x", Identifier: f.m.Identifier, SealedSM3: SealedDigest(sealed), Holder: f.m.HolderCode,
			Audience: approver, Purpose: "p", IssuedAt: now.Unix(), ExpiresAt: now.Add(48 * time.Hour).Unix()})
		require.NoError(t, err)
		forged, err := jws.Sign(hubKey, "hub", PresentationType, b)
		require.NoError(t, err)
		_, err = VerifyPresentation(forged, sealed, &hubKey.PublicKey, approver, now.Add(time.Hour))
		require.ErrorContains(t, err, "longer than")
	})
	t.Run("present refuses", func(t *testing.T) {
		_, err := Present(sealed, approver, " ", "", now, time.Hour, hubKey, "hub")
		require.ErrorContains(t, err, "purpose")
		_, err = Present(sealed, "", "p", "", now, time.Hour, hubKey, "hub")
		require.ErrorContains(t, err, "audience")
		_, err = Present(sealed, approver, "p", "", now, 25*time.Hour, hubKey, "hub")
		require.ErrorContains(t, err, "at most")
		_, err = Present(tok, approver, "p", "", now, time.Hour, hubKey, "hub")
		require.ErrorContains(t, err, "not a sealed licence")
	})
}
