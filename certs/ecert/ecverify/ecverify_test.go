package ecverify

import (
	"context"
	"crypto/x509/pkix"
	"errors"
	"testing"
	"time"

	"github.com/emmansun/gmsm/smx509"
	"github.com/stretchr/testify/require"

	"github.com/gxhub/gxhub/certs/ecert"
	"github.com/gxhub/gxhub/certs/pki"
	"github.com/gxhub/gxhub/certs/ses"
	"github.com/gxhub/gxhub/certs/sm"
	"github.com/gxhub/gxhub/certs/verify"
)

const (
	issuerCode = "11330105002500287C"
	holderCode = "11430000006122244L"
)

var pkiStart = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

type fixture struct {
	cat     *ecert.Catalogue
	m       *ecert.Metadata
	root    *pki.CA
	issuing *pki.CA
	key     *sm.PrivateKey
	cert    *smx509.Certificate
	sealed  string
	usedAt  time.Time
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	cat, err := ecert.DemoCatalogue()
	require.NoError(t, err)
	var bl ecert.CertType
	for _, ty := range cat.Types() {
		if ty.Name == "营业执照" {
			bl = ty
		}
	}
	id, err := ecert.NewIdentifier(bl.Code, issuerCode, "2026000123", 1)
	require.NoError(t, err)
	m, err := ecert.NewMetadata(bl, id)
	require.NoError(t, err)
	m.Number, m.IssuerName, m.IssueDate = "330106000123456", "杭州市西湖区市场监督管理局", ecert.Date{Year: 2026, Month: time.March, Day: 2}
	m.HolderName, m.HolderCode, m.ValidFrom = "杭州某某科技有限公司", holderCode, ecert.Date{Year: 2026, Month: time.March, Day: 2}
	m.ValidUntil = ecert.Date{Year: 2027, Month: time.March, Day: 1}
	m.Items = map[string]string{"entity_name": "杭州某某科技有限公司", "entity_type": "有限责任公司", "legal_representative": "张三",
		"established_on": "2026-03-02", "domicile": "浙江省杭州市西湖区文三路1号", "business_scope": "软件开发"}
	root, err := pki.NewRootCA(pkix.Name{CommonName: "ecverify test root"}, pkiStart, 10*365*24*time.Hour)
	require.NoError(t, err)
	issuing, err := root.NewIssuingCA(pkix.Name{CommonName: "ecverify test issuing"}, pkiStart, 5*365*24*time.Hour)
	require.NoError(t, err)
	key, err := sm.GenerateKey()
	require.NoError(t, err)
	cert, err := issuing.IssueDepartmentCert(&key.PublicKey, pki.DepartmentSubject{Code: issuerCode, Name: m.IssuerName}, pkiStart, 2*365*24*time.Hour)
	require.NoError(t, err)
	sealed, err := ecert.Seal(m, cat, key, cert, []*smx509.Certificate{issuing.Cert}, time.Date(2026, 3, 2, 9, 30, 0, 0, ecert.ChinaTime))
	require.NoError(t, err)
	return &fixture{cat: cat, m: m, root: root, issuing: issuing, key: key, cert: cert, sealed: sealed, usedAt: time.Date(2026, 6, 1, 10, 0, 0, 0, ecert.ChinaTime)}
}

type notRevoked struct{}

func (notRevoked) CertificateStatus(context.Context, *ses.Certificate, time.Time) (verify.RevocationStatus, error) {
	return verify.RevocationStatus{Source: "test"}, nil
}

type revokedAt struct{ at time.Time }

func (r revokedAt) CertificateStatus(context.Context, *ses.Certificate, time.Time) (verify.RevocationStatus, error) {
	return verify.RevocationStatus{Revoked: true, RevokedAt: r.at, Reason: "superseded", Source: "test"}, nil
}

type statusMap map[string]Status

func (s statusMap) ECertStatus(_ context.Context, id string, _ time.Time) (Status, error) {
	st, ok := s[id]
	if !ok {
		return Status{}, ErrUnregistered
	}
	return st, nil
}

func (f *fixture) verifier(status StatusSource) *Verifier {
	return &Verifier{
		Catalogue:  func(context.Context) (*ecert.Catalogue, error) { return f.cat, nil },
		Roots:      []*smx509.Certificate{f.root.Cert},
		Status:     status,
		Revocation: notRevoked{},
		Now:        func() time.Time { return f.usedAt },
	}
}

func status(rep *verify.Report, name string) verify.Status {
	for _, c := range rep.Checks {
		if c.Name == name {
			return c.Status
		}
	}
	return ""
}

func TestVerifySealed(t *testing.T) {
	f := newFixture(t)
	otherRoot, err := pki.NewRootCA(pkix.Name{CommonName: "other root"}, pkiStart, 10*365*24*time.Hour)
	require.NoError(t, err)
	tampered := []byte(f.sealed)
	if i := len(tampered) - 10; tampered[i] == 'A' { // inside the signature, still base64url
		tampered[i] = 'B'
	} else {
		tampered[i] = 'A'
	}
	cases := []struct {
		name    string
		token   string
		edit    func(v *Verifier)
		status  StatusSource
		verdict verify.Verdict
		check   string
		want    verify.Status
	}{
		{"ok/active", f.sealed, nil, statusMap{f.m.Identifier: {Status: "active"}}, verify.Valid, "ecert.status", verify.Pass},
		{"intact/unregistered is unknown", f.sealed, nil, statusMap{}, verify.Intact, "ecert.status", verify.Unknown},
		{"intact/offline: no registry", f.sealed, nil, nil, verify.Intact, "ecert.status", verify.Unknown},
		{"intact/offline: no revocation source", f.sealed, func(v *Verifier) { v.Revocation = nil }, statusMap{f.m.Identifier: {Status: "active"}}, verify.Intact, "signer.revocation", verify.Unknown},
		{"fail/signer revoked", f.sealed, func(v *Verifier) { v.Revocation = revokedAt{time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)} }, statusMap{f.m.Identifier: {Status: "active"}}, verify.Invalid, "signer.revocation", verify.Fail},
		{"fail/revoked", f.sealed, nil, statusMap{f.m.Identifier: {Status: "revoked", Reason: "吊销"}}, verify.Invalid, "ecert.status", verify.Fail},
		{"fail/suspended", f.sealed, nil, statusMap{f.m.Identifier: {Status: "suspended"}}, verify.Invalid, "ecert.status", verify.Fail},
		{"fail/tampered signature", string(tampered), nil, nil, verify.Invalid, "ecert.signature", verify.Fail},
		{"fail/untrusted root", f.sealed, func(v *Verifier) { v.Roots = []*smx509.Certificate{otherRoot.Cert} }, nil, verify.Invalid, "signer.chain", verify.Fail},
		{"fail/used after validity", f.sealed, func(v *Verifier) {
			v.Now = func() time.Time { return time.Date(2027, 3, 2, 12, 0, 0, 0, ecert.ChinaTime) }
		}, nil, verify.Invalid, "ecert.validity", verify.Fail},
		{"fail/not a token", "abc.def.ghi", nil, nil, verify.Invalid, "ecert.format", verify.Fail},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			v := f.verifier(tc.status)
			if tc.edit != nil {
				tc.edit(v)
			}
			rep, _ := v.VerifySealed(context.Background(), tc.token, "licence")
			require.Equal(t, tc.verdict, rep.Verdict, "%+v", rep.Checks)
			require.Equal(t, tc.want, status(rep, tc.check), "%+v", rep.Checks)
		})
	}
}

func TestChainCacheRespectsTime(t *testing.T) {
	f := newFixture(t)
	v := f.verifier(nil)
	// Warm the cache at a time inside the window, then ask at a time after the department
	// certificate expired: the cache must not answer.
	inter := []*smx509.Certificate{f.issuing.Cert}
	a, b := sm.Sum(f.cert.Raw), sm.Sum(f.issuing.Cert.Raw)
	sums := append(a[:], b[:]...)
	_, err := v.chain(f.cert, inter, sums, time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC))
	require.NoError(t, err)
	_, err = v.chain(f.cert, inter, sums, f.cert.NotAfter.Add(time.Hour))
	require.Error(t, err)
}

func TestPresentation(t *testing.T) {
	f := newFixture(t)
	hubKey, err := sm.GenerateKey()
	require.NoError(t, err)
	const approver = "11500000MB1234567X"
	tok, err := ecert.Present(f.sealed, approver, "办理开户", "", f.usedAt, 10*time.Minute, hubKey, "hub")
	require.NoError(t, err)
	active := statusMap{f.m.Identifier: {Status: "active"}}
	cases := []struct {
		name     string
		now      time.Time
		audience string
		check    string
		verdict  verify.Verdict
	}{
		{"ok/in window", f.usedAt.Add(time.Minute), approver, "presentation", verify.Valid},
		{"fail/expired", f.usedAt.Add(11 * time.Minute), approver, "presentation.window", verify.Invalid},
		{"fail/other approver", f.usedAt.Add(time.Minute), holderCode, "presentation.audience", verify.Invalid},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			v := f.verifier(active)
			v.Now = func() time.Time { return tc.now }
			rep, _ := v.VerifyPresentation(context.Background(), tok, f.sealed, &hubKey.PublicKey, tc.audience, "p")
			require.Equal(t, tc.verdict, rep.Verdict, "%+v", rep.Checks)
			want := verify.Fail
			if tc.verdict == verify.Valid {
				want = verify.Pass
			}
			require.Equal(t, want, status(rep, tc.check), "%+v", rep.Checks)
		})
	}
	require.Empty(t, TokenType([]byte("not a token")))
	require.Equal(t, ecert.PresentationType, TokenType([]byte(tok)))
	require.Equal(t, ecert.SealedType, TokenType([]byte(f.sealed+"\n")))
	require.False(t, errors.Is(nil, ErrUnregistered))
}

// BenchmarkVerify compares sealed-licence verification with a cold chain cache (every
// call builds and checks the chain), a warm one, and the raw SM2 verification underneath.
func BenchmarkVerify(b *testing.B) {
	f := newFixture(b)
	ctx := context.Background()
	b.Run("ecert/cold-chain", func(b *testing.B) {
		v := f.verifier(nil)
		v.NoCache = true
		for b.Loop() {
			if rep, _ := v.VerifySealed(ctx, f.sealed, ""); rep.Verdict != verify.Intact {
				b.Fatal(rep.Summary)
			}
		}
	})
	b.Run("ecert/warm-chain", func(b *testing.B) {
		v := f.verifier(nil)
		for b.Loop() {
			if rep, _ := v.VerifySealed(ctx, f.sealed, ""); rep.Verdict != verify.Intact {
				b.Fatal(rep.Summary)
			}
		}
	})
	b.Run("raw-sm2-verify", func(b *testing.B) {
		msg := []byte(f.sealed)
		sig, err := sm.Sign(f.key, msg)
		if err != nil {
			b.Fatal(err)
		}
		for b.Loop() {
			if err := sm.Verify(&f.key.PublicKey, msg, sig); err != nil {
				b.Fatal(err)
			}
		}
	})
}
