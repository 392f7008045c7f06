package pki

import (
	"bufio"
	"crypto/rand"
	"crypto/x509/pkix"
	"encoding/asn1"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/emmansun/gmsm/smx509"
	"github.com/stretchr/testify/require"

	"github.com/gxhub/gxhub/certs/sm"
)

// Real USCCs from the shared vectors (they pass the GB 32100 check).
const (
	codeA = "11330105002500287C"
	codeB = "11430000006122244L"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

const year = 365 * 24 * time.Hour

type fixture struct {
	root, issuing *CA
	deptKey       *sm.PrivateKey
	dept, maker   *smx509.Certificate
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	root, err := NewRootCA(pkix.Name{CommonName: "gxhub 测试根CA", Organization: []string{"gxhub"}, Country: []string{"CN"}}, t0, 20*year)
	require.NoError(t, err)
	issuing, err := root.NewIssuingCA(pkix.Name{CommonName: "gxhub 测试签发CA", Organization: []string{"gxhub"}, Country: []string{"CN"}}, t0, 10*year)
	require.NoError(t, err)
	deptKey, err := sm.GenerateKey()
	require.NoError(t, err)
	dept, err := issuing.IssueDepartmentCert(&deptKey.PublicKey, DepartmentSubject{Code: codeA, Name: "杭州市西湖区市场监督管理局", Region: "浙江省杭州市"}, t0, 2*year)
	require.NoError(t, err)
	makerKey, err := sm.GenerateKey()
	require.NoError(t, err)
	maker, err := issuing.IssueSealMakerCert(&makerKey.PublicKey, DepartmentSubject{Code: codeB, Name: "湖南省电子印章制作系统", Region: "湖南省"}, t0, 2*year)
	require.NoError(t, err)
	return &fixture{root: root, issuing: issuing, deptKey: deptKey, dept: dept, maker: maker}
}

func TestProfiles(t *testing.T) {
	f := newFixture(t)
	limit := new(big.Int).Lsh(big.NewInt(1), 128)
	all := []*smx509.Certificate{f.root.Cert, f.issuing.Cert, f.dept, f.maker}
	for _, c := range all {
		require.Equal(t, smx509.SM2WithSM3, c.SignatureAlgorithm, c.Subject.CommonName)
		require.Positive(t, c.SerialNumber.Sign())
		require.Negative(t, c.SerialNumber.Cmp(limit), "serial over 128 bits")
		require.Len(t, c.SubjectKeyId, 20)
	}
	require.NotEqual(t, f.dept.SerialNumber, f.maker.SerialNumber)

	t.Run("root", func(t *testing.T) {
		c := f.root.Cert
		require.True(t, c.IsCA)
		require.Equal(t, 1, c.MaxPathLen)
		require.Equal(t, smx509.KeyUsageCertSign|smx509.KeyUsageCRLSign, c.KeyUsage)
		require.Empty(t, f.root.Chain)
		require.NoError(t, c.CheckSignatureFrom(c))
	})
	t.Run("issuing", func(t *testing.T) {
		c := f.issuing.Cert
		require.True(t, c.IsCA)
		require.Equal(t, 0, c.MaxPathLen)
		require.True(t, c.MaxPathLenZero)
		require.Equal(t, smx509.KeyUsageCertSign|smx509.KeyUsageCRLSign, c.KeyUsage)
		require.Equal(t, f.root.Cert.SubjectKeyId, c.AuthorityKeyId)
		require.Equal(t, []*smx509.Certificate{f.root.Cert}, f.issuing.Chain)
		require.Equal(t, t0.Add(10*year), c.NotAfter)
	})
	t.Run("department", func(t *testing.T) {
		c := f.dept
		require.False(t, c.IsCA)
		require.Equal(t, smx509.KeyUsageDigitalSignature|smx509.KeyUsageContentCommitment, c.KeyUsage)
		require.Equal(t, "杭州市西湖区市场监督管理局", c.Subject.CommonName)
		require.Equal(t, []string{"杭州市西湖区市场监督管理局"}, c.Subject.Organization)
		require.Equal(t, codeA, c.Subject.SerialNumber)
		require.Equal(t, []string{"浙江省杭州市"}, c.Subject.Locality)
		require.Equal(t, f.issuing.Cert.SubjectKeyId, c.AuthorityKeyId)
		require.False(t, IsSealMakerCert(c))
		code, err := DepartmentCode(c)
		require.NoError(t, err)
		require.Equal(t, codeA, code)
	})
	t.Run("seal maker", func(t *testing.T) {
		require.True(t, IsSealMakerCert(f.maker))
		require.False(t, f.maker.IsCA)
		code, err := DepartmentCode(f.maker)
		require.NoError(t, err)
		require.Equal(t, codeB, code)
	})
}

func TestIssueRejects(t *testing.T) {
	f := newFixture(t)
	key, err := sm.GenerateKey()
	require.NoError(t, err)
	good := DepartmentSubject{Code: codeA, Name: "某局"}
	cases := []struct {
		name string
		do   func() error
		want string
	}{
		{"bad check char", func() error {
			_, err := f.issuing.IssueDepartmentCert(&key.PublicKey, DepartmentSubject{Code: codeA[:17] + "D", Name: "某局"}, t0, year)
			return err
		}, "check character"},
		{"short code", func() error {
			_, err := f.issuing.IssueDepartmentCert(&key.PublicKey, DepartmentSubject{Code: "1234", Name: "某局"}, t0, year)
			return err
		}, "18 characters"},
		{"no name", func() error {
			_, err := f.issuing.IssueDepartmentCert(&key.PublicKey, DepartmentSubject{Code: codeA}, t0, year)
			return err
		}, "name is empty"},
		{"outlives issuer", func() error {
			_, err := f.issuing.IssueDepartmentCert(&key.PublicKey, good, t0, 11*year)
			return err
		}, "not within the CA certificate"},
		{"before issuer", func() error {
			_, err := f.issuing.IssueDepartmentCert(&key.PublicKey, good, t0.Add(-time.Hour), year)
			return err
		}, "not within the CA certificate"},
		{"sub-CA under pathlen 0", func() error {
			_, err := f.issuing.NewIssuingCA(pkix.Name{CommonName: "x"}, t0, year)
			return err
		}, "path length 0"},
		{"zero validity", func() error {
			_, err := NewRootCA(pkix.Name{CommonName: "x"}, t0, 0)
			return err
		}, "validity must be positive"},
		{"empty subject", func() error {
			_, err := NewRootCA(pkix.Name{}, t0, year)
			return err
		}, "CommonName or an Organization"},
		{"nil key", func() error {
			_, err := f.issuing.IssueDepartmentCert(nil, good, t0, year)
			return err
		}, "not an SM2 key"},
		{"leaf as CA", func() error {
			bogus := &CA{Cert: f.dept, Key: f.deptKey}
			_, err := bogus.IssueDepartmentCert(&key.PublicKey, good, t0, year)
			return err
		}, "not a CA certificate"},
		{"key mismatch", func() error {
			bogus := &CA{Cert: f.issuing.Cert, Key: key}
			_, err := bogus.IssueDepartmentCert(&key.PublicKey, good, t0, year)
			return err
		}, "does not match"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			require.ErrorContains(t, tc.do(), tc.want)
		})
	}
}

func TestVerifyDepartmentCert(t *testing.T) {
	f := newFixture(t)
	other := newFixture(t) // an unrelated PKI with the same names
	at := t0.Add(30 * 24 * time.Hour)
	roots := []*smx509.Certificate{f.root.Cert}
	inter := []*smx509.Certificate{f.issuing.Cert}

	// A certificate "issued" by the department's own key (a leaf acting as a CA).
	forgedKey, err := sm.GenerateKey()
	require.NoError(t, err)
	tmpl, err := baseTemplate(pkix.Name{CommonName: "forged", SerialNumber: codeB}, &forgedKey.PublicKey, t0, year)
	require.NoError(t, err)
	tmpl.KeyUsage = smx509.KeyUsageDigitalSignature
	der, err := smx509.CreateCertificate(rand.Reader, tmpl, f.dept, &forgedKey.PublicKey, f.deptKey)
	require.NoError(t, err)
	forged, err := smx509.ParseCertificate(der)
	require.NoError(t, err)

	// An issuing CA that has expired by `late` while its leaf has not.
	shortCA, err := f.root.NewIssuingCA(pkix.Name{CommonName: "short-lived CA"}, t0, 60*24*time.Hour)
	require.NoError(t, err)
	shortLeaf, err := shortCA.IssueDepartmentCert(&f.deptKey.PublicKey, DepartmentSubject{Code: codeA, Name: "某局"}, t0, 60*24*time.Hour)
	require.NoError(t, err)

	cases := []struct {
		name  string
		cert  *smx509.Certificate
		inter []*smx509.Certificate
		roots []*smx509.Certificate
		at    time.Time
		want  string // "" = valid
	}{
		{"ok", f.dept, inter, roots, at, ""},
		{"ok at first second", f.dept, inter, roots, t0, ""},
		{"ok at last second", f.dept, inter, roots, f.dept.NotAfter, ""},
		{"expired", f.dept, inter, roots, t0.Add(3 * year), "had expired"},
		{"not yet valid", f.dept, inter, roots, t0.Add(-time.Hour), "not yet valid"},
		{"wrong issuer", f.dept, []*smx509.Certificate{other.issuing.Cert}, []*smx509.Certificate{other.root.Cert}, at, "does not chain to a trusted root"},
		{"wrong root", f.dept, inter, []*smx509.Certificate{other.root.Cert}, at, "does not chain to a trusted root"},
		{"missing intermediate", f.dept, nil, roots, at, "does not chain to a trusted root"},
		{"CA used as leaf", f.issuing.Cert, nil, roots, at, "is a CA certificate"},
		{"seal maker as department", f.maker, inter, roots, at, "seal-maker certificate"},
		{"signed by a leaf", forged, []*smx509.Certificate{f.issuing.Cert, f.dept}, roots, at, "not a CA"},
		{"short-lived issuing CA, inside its validity", shortLeaf, []*smx509.Certificate{shortCA.Cert}, roots, t0.Add(59 * 24 * time.Hour), ""},
		{"no roots", f.dept, inter, nil, at, "no trusted root"},
		{"no time", f.dept, inter, roots, time.Time{}, "no verification time"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code, err := VerifyDepartmentCert(tc.cert, tc.roots, tc.inter, tc.at)
			if tc.want == "" {
				require.NoError(t, err)
				require.Equal(t, codeA, code)
				return
			}
			require.ErrorContains(t, err, tc.want)
			require.Empty(t, code)
		})
	}

	t.Run("seal maker verifies as seal maker", func(t *testing.T) {
		code, err := VerifySealMakerCert(f.maker, roots, inter, at)
		require.NoError(t, err)
		require.Equal(t, codeB, code)
		_, err = VerifySealMakerCert(f.dept, roots, inter, at)
		require.ErrorContains(t, err, "not a seal-maker certificate")
	})
}

func TestVerifyIssuerExpired(t *testing.T) {
	// The leaf is valid at `at` but its issuing CA is not (a CA whose certificate was
	// back-dated: built by hand since NewIssuingCA refuses such validity).
	f := newFixture(t)
	caKey, err := sm.GenerateKey()
	require.NoError(t, err)
	tmpl, err := baseTemplate(pkix.Name{CommonName: "expired CA"}, &caKey.PublicKey, t0, 24*time.Hour)
	require.NoError(t, err)
	tmpl.IsCA, tmpl.MaxPathLenZero = true, true
	tmpl.KeyUsage = smx509.KeyUsageCertSign | smx509.KeyUsageCRLSign
	der, err := smx509.CreateCertificate(rand.Reader, tmpl, f.root.Cert, &caKey.PublicKey, f.root.Key)
	require.NoError(t, err)
	caCert, err := smx509.ParseCertificate(der)
	require.NoError(t, err)
	leafKey, err := sm.GenerateKey()
	require.NoError(t, err)
	lt, err := baseTemplate(pkix.Name{CommonName: "leaf", SerialNumber: codeA}, &leafKey.PublicKey, t0, year)
	require.NoError(t, err)
	lt.KeyUsage = smx509.KeyUsageDigitalSignature
	der, err = smx509.CreateCertificate(rand.Reader, lt, caCert, &leafKey.PublicKey, caKey)
	require.NoError(t, err)
	leaf, err := smx509.ParseCertificate(der)
	require.NoError(t, err)

	code, err := VerifyDepartmentCert(leaf, []*smx509.Certificate{f.root.Cert}, []*smx509.Certificate{caCert}, t0.Add(time.Hour))
	require.NoError(t, err)
	require.Equal(t, codeA, code)
	_, err = VerifyDepartmentCert(leaf, []*smx509.Certificate{f.root.Cert}, []*smx509.Certificate{caCert}, t0.Add(48*time.Hour))
	require.ErrorContains(t, err, "expired CA")
	require.ErrorContains(t, err, "had expired")
}

func TestDepartmentCode(t *testing.T) {
	f := newFixture(t)
	key, err := sm.GenerateKey()
	require.NoError(t, err)
	mk := func(t *testing.T, serial string, ext []byte) *smx509.Certificate {
		t.Helper()
		tmpl, err := baseTemplate(pkix.Name{CommonName: "x", SerialNumber: serial}, &key.PublicKey, t0, year)
		require.NoError(t, err)
		if ext != nil {
			tmpl.ExtraExtensions = []pkix.Extension{{Id: OIDOrganizationCode, Value: ext}}
		}
		der, err := smx509.CreateCertificate(rand.Reader, tmpl, f.issuing.Cert, &key.PublicKey, f.issuing.Key)
		require.NoError(t, err)
		c, err := smx509.ParseCertificate(der)
		require.NoError(t, err)
		return c
	}
	printable := func(s string) []byte {
		b, err := asn1.MarshalWithParams(s, "printable")
		require.NoError(t, err)
		return b
	}
	utf8 := func(s string) []byte {
		b, err := asn1.MarshalWithParams(s, "utf8")
		require.NoError(t, err)
		return b
	}
	cases := []struct {
		name   string
		serial string
		ext    []byte
		want   string
		errSub string
	}{
		{"both agree", codeA, printable(codeA), codeA, ""},
		{"extension only", "", printable(codeB), codeB, ""},
		{"extension as UTF8String", "", utf8(codeB), codeB, ""},
		{"extension as bare bytes", "", []byte(codeB), codeB, ""},
		{"subject only", codeA, nil, codeA, ""},
		{"disagree", codeA, printable(codeB), "", "disagree"},
		{"none", "", nil, "", "carries no"},
		{"bad check char", codeA[:17] + "0", nil, "", "check character"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code, err := DepartmentCode(mk(t, tc.serial, tc.ext))
			if tc.errSub != "" {
				require.ErrorContains(t, err, tc.errSub)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.want, code)
		})
	}
}

// TestUSCCVectors checks the GB 32100 check character against the shared real codes.
func TestUSCCVectors(t *testing.T) {
	path := filepath.Join("..", "..", "..", "shared", "testdata", "external", "vectors", "uscc_gb32100.tsv")
	fh, err := os.Open(path)
	if os.IsNotExist(err) {
		path = "/work/shared/testdata/external/vectors/uscc_gb32100.tsv"
		fh, err = os.Open(path)
	}
	require.NoError(t, err, "the shared USCC vectors are needed")
	defer fh.Close()
	n := 0
	sc := bufio.NewScanner(fh)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		fields := strings.Split(line, "\t")
		require.GreaterOrEqual(t, len(fields), 2, line)
		code, verdict := fields[0], fields[1]
		t.Run(code, func(t *testing.T) {
			err := CheckUSCC(code)
			if verdict == "VALID" {
				require.NoError(t, err)
				// every other check character must be refused
				for _, c := range "0123456789ABCDEFGHJKLMNPQRTUWXY" { // the GB 32100 alphabet
					if byte(c) != code[17] {
						require.Error(t, CheckUSCC(code[:17]+string(c)))
					}
				}
			} else {
				require.Error(t, err)
			}
		})
		n++
	}
	require.NoError(t, sc.Err())
	require.GreaterOrEqual(t, n, 4, "too few vectors read from %s", path)
	require.ErrorContains(t, CheckUSCC("11330105002500287I"), "check character")
	require.ErrorContains(t, CheckUSCC("1133010500250028IC"), "never occurs in")
}

func TestSaveLoad(t *testing.T) {
	f := newFixture(t)
	cases := []struct {
		name     string
		ca       *CA
		password []byte
	}{
		{"root, encrypted", f.root, []byte("correct horse")},
		{"issuing, plain", f.issuing, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "ca")
			require.NoError(t, tc.ca.Save(dir, tc.password))
			st, err := os.Stat(filepath.Join(dir, KeyFile))
			require.NoError(t, err)
			require.Equal(t, os.FileMode(0o600), st.Mode().Perm())
			keyPEM, err := os.ReadFile(filepath.Join(dir, KeyFile))
			require.NoError(t, err)
			if len(tc.password) > 0 {
				require.Contains(t, string(keyPEM), "ENCRYPTED PRIVATE KEY")
				_, err := LoadCA(dir, []byte("wrong"))
				require.ErrorContains(t, err, "wrong password")
				_, err = LoadCA(dir, nil)
				require.ErrorContains(t, err, "encrypted")
			}
			_, err = os.Stat(filepath.Join(dir, ChainFile))
			require.Equal(t, len(tc.ca.Chain) > 0, err == nil)

			got, err := LoadCA(dir, tc.password)
			require.NoError(t, err)
			require.True(t, got.Cert.Equal(tc.ca.Cert))
			require.True(t, got.Key.Equal(tc.ca.Key))
			require.Len(t, got.Chain, len(tc.ca.Chain))
			// the loaded CA can issue
			key, err := sm.GenerateKey()
			require.NoError(t, err)
			_, err = got.IssueDepartmentCert(&key.PublicKey, DepartmentSubject{Code: codeA, Name: "某局"}, t0, year)
			require.NoError(t, err)
		})
	}

	t.Run("key of another CA", func(t *testing.T) {
		dir := t.TempDir()
		require.NoError(t, f.issuing.Save(dir, nil))
		keyPEM, err := sm.MarshalPrivateKeyPEM(f.root.Key, nil)
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(dir, KeyFile), keyPEM, 0o600))
		_, err = LoadCA(dir, nil)
		require.ErrorContains(t, err, "does not match")
	})
	t.Run("chain of another PKI", func(t *testing.T) {
		other := newFixture(t)
		dir := t.TempDir()
		require.NoError(t, f.issuing.Save(dir, nil))
		require.NoError(t, os.WriteFile(filepath.Join(dir, ChainFile), EncodeCertsPEM(other.root.Cert), 0o644))
		_, err := LoadCA(dir, nil)
		require.ErrorContains(t, err, "is not signed by")
	})
	t.Run("missing dir", func(t *testing.T) {
		_, err := LoadCA(filepath.Join(t.TempDir(), "nope"), nil)
		require.ErrorContains(t, err, "no such file")
	})
}

func TestCertsPEM(t *testing.T) {
	f := newFixture(t)
	data := EncodeCertsPEM(f.dept, f.issuing.Cert, f.root.Cert)
	data = append([]byte("-----BEGIN EC PARAMETERS-----\nBggqgRzPVQGCLQ==\n-----END EC PARAMETERS-----\n"), data...)
	got, err := ParseCertsPEM(data)
	require.NoError(t, err)
	require.Len(t, got, 3)
	require.True(t, got[0].Equal(f.dept))
	require.True(t, got[2].Equal(f.root.Cert))

	_, err = ParseCertsPEM([]byte("nothing"))
	require.ErrorContains(t, err, "no CERTIFICATE")
	_, err = ParseCertsPEM([]byte("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"))
	require.ErrorContains(t, err, "certificate 1")
}
