package pki

import (
	"encoding/pem"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/emmansun/gmsm/smx509"
	"github.com/stretchr/testify/require"

	"github.com/gxhub/gxhub/certs/sm"
)

// opensslPath finds the system OpenSSL 3 (an independent SM2/X.509 implementation).
func opensslPath(t *testing.T) string {
	t.Helper()
	path, err := exec.LookPath("openssl")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("openssl is required in CI for the PKI interop tests")
		}
		t.Skip("openssl not installed: PKI interop with OpenSSL NOT tested")
	}
	return path
}

// runOpenSSL runs openssl and returns its combined output and whether it exited 0.
func runOpenSSL(t *testing.T, args ...string) (string, bool) {
	t.Helper()
	out, err := exec.Command(opensslPath(t), args...).CombinedOutput()
	if err != nil {
		var ee *exec.ExitError
		require.ErrorAs(t, err, &ee, "openssl %s", strings.Join(args, " "))
		return string(out), false
	}
	return string(out), true
}

func writePEM(t *testing.T, dir, name string, certs ...*smx509.Certificate) string {
	t.Helper()
	p := filepath.Join(dir, name)
	require.NoError(t, os.WriteFile(p, EncodeCertsPEM(certs...), 0o644))
	return p
}

// OpenSSL 3.0 applies an SM2 distinguishing ID (-vfyopt distid:...) only to the
// certificate being verified, not to the intermediates above it, so
// `openssl verify -CAfile root.pem -untrusted issuing.pem leaf.pem` fails at depth 1 with
// "certificate signature failure" for every SM2 chain, OpenSSL's own included (checked by
// hand with certificates made by `openssl x509 -req`, and with the Tongsuo test chain).
// Each link is therefore verified by OpenSSL on its own: the issuer as the (partial-chain)
// trust anchor, the subject as the target, with the default SM2 ID.
func opensslVerifyLink(t *testing.T, issuerPEM, certPEM string, at time.Time) (string, bool) {
	t.Helper()
	return runOpenSSL(t, "verify", "-vfyopt", "distid:"+sm.DefaultUID, "-partial_chain",
		"-attime", strconv.FormatInt(at.Unix(), 10), "-CAfile", issuerPEM, certPEM)
}

// opensslVerifySig checks an SM2 signature (DER) over tbs with the public key in pubPEM.
func opensslVerifySig(t *testing.T, dir string, pub any, tbs, sig []byte) (string, bool) {
	t.Helper()
	pubPEM := filepath.Join(dir, "sig-pub.pem")
	der, err := smx509.MarshalPKIXPublicKey(pub)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(pubPEM, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), 0o644))
	tbsFile, sigFile := filepath.Join(dir, "tbs.der"), filepath.Join(dir, "sig.der")
	require.NoError(t, os.WriteFile(tbsFile, tbs, 0o644))
	require.NoError(t, os.WriteFile(sigFile, sig, 0o644))
	return runOpenSSL(t, "pkeyutl", "-verify", "-pubin", "-inkey", pubPEM, "-rawin", "-digest", "sm3",
		"-pkeyopt", "distid:"+sm.DefaultUID, "-in", tbsFile, "-sigfile", sigFile)
}

func TestOpenSSLVerifiesOurCertificates(t *testing.T) {
	opensslPath(t)
	f := newFixture(t)
	other := newFixture(t)
	dir := t.TempDir()
	rootPEM := writePEM(t, dir, "root.pem", f.root.Cert)
	issuingPEM := writePEM(t, dir, "issuing.pem", f.issuing.Cert)
	otherIssuingPEM := writePEM(t, dir, "other-issuing.pem", other.issuing.Cert)
	at := t0.Add(30 * 24 * time.Hour)

	t.Run("root self-signature", func(t *testing.T) {
		c := f.root.Cert
		out, ok := opensslVerifySig(t, t.TempDir(), c.PublicKey, c.RawTBSCertificate, c.Signature)
		require.True(t, ok, out)
		require.Contains(t, out, "Signature Verified Successfully")
		bad := append([]byte(nil), c.RawTBSCertificate...)
		bad[len(bad)-1] ^= 1
		out, ok = opensslVerifySig(t, t.TempDir(), c.PublicKey, bad, c.Signature)
		require.False(t, ok, out)
	})
	t.Run("issuing CA under root", func(t *testing.T) {
		out, ok := opensslVerifyLink(t, rootPEM, issuingPEM, at)
		require.True(t, ok, out)
		require.Contains(t, out, ": OK")
		text, ok := runOpenSSL(t, "x509", "-in", issuingPEM, "-noout", "-text")
		require.True(t, ok, text)
		require.Contains(t, text, "CA:TRUE, pathlen:0")
		require.Contains(t, text, "Certificate Sign, CRL Sign")
		rootText, ok := runOpenSSL(t, "x509", "-in", rootPEM, "-noout", "-text")
		require.True(t, ok, rootText)
		require.Contains(t, rootText, "CA:TRUE, pathlen:1")
	})

	leaves := map[string]*smx509.Certificate{"department": f.dept, "seal maker": f.maker}
	for name, leaf := range leaves {
		leafPEM := writePEM(t, dir, strings.ReplaceAll(name, " ", "_")+".pem", leaf)
		t.Run(name+"/accepted", func(t *testing.T) {
			out, ok := opensslVerifyLink(t, issuingPEM, leafPEM, at)
			require.True(t, ok, out)
			require.Contains(t, out, ": OK")
		})
		t.Run(name+"/wrong issuer refused", func(t *testing.T) {
			out, ok := opensslVerifyLink(t, otherIssuingPEM, leafPEM, at)
			require.False(t, ok, "openssl accepted a certificate under the wrong issuer: %s", out)
		})
		t.Run(name+"/expired refused", func(t *testing.T) {
			out, ok := opensslVerifyLink(t, issuingPEM, leafPEM, t0.Add(3*year))
			require.False(t, ok, out)
			require.Contains(t, out, "expired")
		})
		t.Run(name+"/not yet valid refused", func(t *testing.T) {
			out, ok := opensslVerifyLink(t, issuingPEM, leafPEM, t0.Add(-time.Hour))
			require.False(t, ok, out)
			require.Contains(t, out, "not yet valid")
		})
		t.Run(name+"/text", func(t *testing.T) {
			out, ok := runOpenSSL(t, "x509", "-in", leafPEM, "-noout", "-text")
			require.True(t, ok, out)
			require.Contains(t, out, "SM2-with-SM3")
			require.Contains(t, out, "Digital Signature, Non Repudiation")
			require.Contains(t, out, "CA:FALSE")
			require.Contains(t, out, "X509v3 Subject Key Identifier")
			require.Contains(t, out, "X509v3 Authority Key Identifier")
			require.Contains(t, out, "1.2.156.10260.4.1.4")
			code, err := DepartmentCode(leaf)
			require.NoError(t, err)
			subj, ok := runOpenSSL(t, "x509", "-in", leafPEM, "-noout", "-subject", "-nameopt", "RFC2253,-esc_msb")
			require.True(t, ok, subj)
			require.Contains(t, subj, "serialNumber="+code)
			require.Contains(t, subj, "CN="+leaf.Subject.CommonName)
		})
	}
	t.Run("leaf-signed certificate refused", func(t *testing.T) {
		// the department's key signs a certificate: OpenSSL must refuse the department as an issuer
		k, err := sm.GenerateKey()
		require.NoError(t, err)
		bogus := &CA{Cert: f.dept, Key: f.deptKey}
		tmpl, err := baseTemplate(f.dept.Subject, &k.PublicKey, t0, year)
		require.NoError(t, err)
		tmpl.Subject.CommonName = "signed by a leaf"
		tmpl.KeyUsage = smx509.KeyUsageDigitalSignature
		c, err := bogus.sign(tmpl, &k.PublicKey)
		require.NoError(t, err)
		p := writePEM(t, dir, "leaf-signed.pem", c)
		deptPEM := writePEM(t, dir, "dept-as-issuer.pem", f.dept)
		out, ok := opensslVerifyLink(t, deptPEM, p, at)
		require.False(t, ok, "openssl accepted a certificate issued by a non-CA: %s", out)
	})
}

func TestOpenSSLParsesCRLAndKeys(t *testing.T) {
	opensslPath(t)
	f := newFixture(t)
	dir := t.TempDir()
	thisUpdate := time.Now().Add(-time.Hour)
	der, err := f.issuing.CreateCRL([]RevokedCert{
		{Serial: f.dept.SerialNumber, RevokedAt: thisUpdate.Add(-time.Hour), Reason: ReasonKeyCompromise},
	}, thisUpdate, thisUpdate.Add(7*24*time.Hour))
	require.NoError(t, err)
	crlDER := filepath.Join(dir, "issuing.crl")
	require.NoError(t, os.WriteFile(crlDER, der, 0o644))
	crlPEM := filepath.Join(dir, "issuing.crl.pem")
	require.NoError(t, os.WriteFile(crlPEM, EncodeCRLPEM(der), 0o644))

	t.Run("crl text", func(t *testing.T) {
		for _, args := range [][]string{{"-inform", "DER", "-in", crlDER}, {"-in", crlPEM}} {
			out, ok := runOpenSSL(t, append(append([]string{"crl"}, args...), "-noout", "-text")...)
			require.True(t, ok, out)
			require.Contains(t, out, "SM2-with-SM3")
			require.Contains(t, out, "Key Compromise")
			require.Contains(t, out, "X509v3 CRL Number")
			require.Contains(t, strings.ToUpper(out), strings.ToUpper(f.dept.SerialNumber.Text(16)))
		}
	})
	t.Run("crl signature verified by openssl", func(t *testing.T) {
		// `openssl crl -CAfile` cannot take an SM2 ID in OpenSSL 3.0; check the signature
		// over the tbsCertList directly.
		rl, err := ParseCRL(der)
		require.NoError(t, err)
		out, ok := opensslVerifySig(t, t.TempDir(), f.issuing.Cert.PublicKey, rl.RawTBSRevocationList, rl.Signature)
		require.True(t, ok, out)
		require.Contains(t, out, "Signature Verified Successfully")
		out, ok = opensslVerifySig(t, t.TempDir(), f.root.Cert.PublicKey, rl.RawTBSRevocationList, rl.Signature)
		require.False(t, ok, "the CRL verified under the wrong key: %s", out)
	})
	t.Run("saved CA key readable by openssl", func(t *testing.T) {
		caDir := filepath.Join(dir, "ca")
		require.NoError(t, f.issuing.Save(caDir, []byte("pw-123456")))
		out, ok := runOpenSSL(t, "pkey", "-in", filepath.Join(caDir, KeyFile), "-passin", "pass:pw-123456", "-pubout")
		require.True(t, ok, out)
		pub, err := sm.ParsePublicKeyPEM([]byte(out))
		require.NoError(t, err)
		require.True(t, pub.Equal(f.issuing.Cert.PublicKey))
		out, ok = runOpenSSL(t, "pkey", "-in", filepath.Join(caDir, KeyFile), "-passin", "pass:wrong", "-pubout")
		require.False(t, ok, out)
		out, ok = opensslVerifyLink(t, filepath.Join(caDir, ChainFile), filepath.Join(caDir, CertFile), t0.Add(time.Hour))
		require.True(t, ok, out)
	})
}

// TestOpenSSLFullChain runs the plain three-level check
// `openssl verify -CAfile root.pem -untrusted issuing.pem leaf.pem`. OpenSSL 3.0 fails it at
// depth 1 for every SM2 chain (the SM2 ID is not applied to intermediates); the test then
// requires that a chain made entirely by OpenSSL fails in exactly the same way, so that our
// certificates are never worse than OpenSSL's own. On an OpenSSL that accepts SM2 chains,
// ours must be accepted.
func TestOpenSSLFullChain(t *testing.T) {
	opensslPath(t)
	f := newFixture(t)
	dir := t.TempDir()
	rootPEM := writePEM(t, dir, "root.pem", f.root.Cert)
	issuingPEM := writePEM(t, dir, "issuing.pem", f.issuing.Cert)
	leafPEM := writePEM(t, dir, "leaf.pem", f.dept)
	at := strconv.FormatInt(t0.Add(24*time.Hour).Unix(), 10)
	verify := func(root, inter, leaf string) (string, bool) {
		return runOpenSSL(t, "verify", "-vfyopt", "distid:"+sm.DefaultUID, "-attime", at, "-CAfile", root, "-untrusted", inter, leaf)
	}
	oursOut, oursOK := verify(rootPEM, issuingPEM, leafPEM)
	if oursOK {
		require.Contains(t, oursOut, ": OK")
		return
	}

	// The same shape made by OpenSSL alone.
	o := func(args ...string) {
		t.Helper()
		out, ok := runOpenSSL(t, args...)
		require.True(t, ok, "openssl %s: %s", strings.Join(args, " "), out)
	}
	p := func(name string) string { return filepath.Join(dir, name) }
	distid := "distid:" + sm.DefaultUID
	ext := p("ext.cnf")
	require.NoError(t, os.WriteFile(ext, []byte("[ca]\nbasicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\n[leaf]\nbasicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature,nonRepudiation\n"), 0o644))
	for _, k := range []string{"r", "i", "l"} {
		o("genpkey", "-algorithm", "SM2", "-out", p(k+".key"))
	}
	o("req", "-x509", "-new", "-key", p("r.key"), "-sm3", "-sigopt", distid, "-subj", "/CN=openssl root", "-days", "30",
		"-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign", "-out", p("o-root.pem"))
	o("req", "-new", "-key", p("i.key"), "-sm3", "-sigopt", distid, "-subj", "/CN=openssl issuing", "-out", p("i.csr"))
	o("x509", "-req", "-in", p("i.csr"), "-vfyopt", distid, "-CA", p("o-root.pem"), "-CAkey", p("r.key"), "-sm3", "-sigopt", distid,
		"-days", "20", "-extfile", ext, "-extensions", "ca", "-out", p("o-issuing.pem"))
	o("req", "-new", "-key", p("l.key"), "-sm3", "-sigopt", distid, "-subj", "/CN=openssl leaf", "-out", p("l.csr"))
	o("x509", "-req", "-in", p("l.csr"), "-vfyopt", distid, "-CA", p("o-issuing.pem"), "-CAkey", p("i.key"), "-sm3", "-sigopt", distid,
		"-days", "10", "-extfile", ext, "-extensions", "leaf", "-out", p("o-leaf.pem"))
	// each link of OpenSSL's chain is fine on its own
	out, ok := runOpenSSL(t, "verify", "-vfyopt", distid, "-partial_chain", "-CAfile", p("o-issuing.pem"), p("o-leaf.pem"))
	require.True(t, ok, out)
	now := strconv.FormatInt(time.Now().Unix(), 10)
	theirsOut, theirsOK := runOpenSSL(t, "verify", "-vfyopt", distid, "-attime", now, "-CAfile", p("o-root.pem"), "-untrusted", p("o-issuing.pem"), p("o-leaf.pem"))
	require.False(t, theirsOK, "OpenSSL accepts its own SM2 chain but not ours:\nours: %s\ntheirs: %s", oursOut, theirsOut)
	const depth1 = "error 7 at 1 depth lookup: certificate signature failure"
	require.Contains(t, theirsOut, depth1)
	require.Contains(t, oursOut, depth1, "ours must fail only as OpenSSL's own chain does")
	t.Logf("OpenSSL %s cannot verify any 3-level SM2 chain in one call (its own fails identically: %q); links are verified one by one in TestOpenSSLVerifiesOurCertificates", opensslVersion(t), depth1)
}

func opensslVersion(t *testing.T) string {
	out, _ := runOpenSSL(t, "version")
	return strings.TrimSpace(out)
}
