package hub_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emmansun/gmsm/smx509"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/gxhub/gxhub/certs/pki"
	"github.com/gxhub/gxhub/certs/sm"
	"github.com/gxhub/gxhub/cmd/gxhub/internal/config"
	"github.com/gxhub/gxhub/cmd/gxhub/internal/hub"
	"github.com/gxhub/gxhub/exchange/server"
	"github.com/gxhub/gxhub/exchange/store/postgres/pgtest"
	"github.com/gxhub/gxhub/sdk"
	adminv1 "github.com/gxhub/gxhub/sdk/api/admin/v1"
	auditv1 "github.com/gxhub/gxhub/sdk/api/audit/v1"
	"github.com/gxhub/gxhub/sdk/identity"
)

// registerDepartment has the coordinator register a new consumer department and returns its
// identity (key made here, certificate issued by the hub).
func registerDepartment(t *testing.T, th *testHub, c *sdk.Client, org string) *identity.Identity {
	t.Helper()
	key, err := sm.GenerateKey()
	require.NoError(t, err)
	pub, err := sm.MarshalPublicKeyPEM(&key.PublicKey)
	require.NoError(t, err)
	code := hubCode(t, "500112", org)
	resp, err := c.Admin.RegisterDepartment(context.Background(), &adminv1.RegisterDepartmentRequest{
		Department:   &adminv1.Department{Code: code, Name: "渝北区测试局" + org, Level: adminv1.Level_LEVEL_COUNTY, Region: "500112", Roles: []adminv1.Role{adminv1.Role_ROLE_CONSUMER}},
		PublicKeyPem: string(pub)})
	require.NoError(t, err)
	return &identity.Identity{Code: code, Key: key, CertPEM: []byte(resp.GetCertificatePem()), HubURL: th.url, TLSCAPEM: th.identity(t, 0).TLSCAPEM}
}

func dialAt(t *testing.T, id *identity.Identity, url string, opts ...sdk.Option) *sdk.Client {
	t.Helper()
	c, err := sdk.Dial(context.Background(), id, append([]sdk.Option{sdk.WithURL(url)}, opts...)...)
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	return c
}

func requireRefused(t *testing.T, err error, code codes.Code, reason string) {
	t.Helper()
	require.Equal(t, code, status.Code(err), "%v", err)
	require.Equal(t, reason, sdk.Reason(err), "%v", err)
}

// TestCertificateLifecycle: the coordinator suspends, resumes and revokes a department's
// certificate. Each change applies to the department's very next request (gRPC and REST),
// the rules hold against the coordinator too (revocation is final, resume only what is
// suspended, the serial guard), nobody else may change a certificate, every change is an
// audit record of the coordinator, and the published CRL lists exactly the revoked and
// suspended certificates, verified by OpenSSL.
func TestCertificateLifecycle(t *testing.T) {
	th := startHub(t, nil)
	ctx := context.Background()
	coord := dialAt(t, th.identity(t, 0), th.url)
	market := dialAt(t, th.identity(t, 1), th.url)
	dept := registerDepartment(t, th, coord, "30000001")
	dc := dialAt(t, dept, th.url)
	_, err := dc.Admin.WhoAmI(ctx, &adminv1.WhoAmIRequest{})
	require.NoError(t, err)
	who := func() error { _, err := dc.Admin.WhoAmI(ctx, &adminv1.WhoAmIRequest{}); return err }
	restWho := func() (int, map[string]any) {
		return th.rest(t, "GET", "/v1/whoami", sign(t, dept, "GET", "/v1/whoami", nil, time.Now()), nil)
	}
	var auditIdx []uint64

	_, err = market.Admin.SuspendCertificate(ctx, &adminv1.SuspendCertificateRequest{Code: dept.Code})
	requireRefused(t, err, codes.PermissionDenied, "ROLE_REQUIRED")
	_, err = market.Admin.RevokeCertificate(ctx, &adminv1.RevokeCertificateRequest{Code: dept.Code, Reason: "key_compromise"})
	requireRefused(t, err, codes.PermissionDenied, "ROLE_REQUIRED")

	sus, err := coord.Admin.SuspendCertificate(ctx, &adminv1.SuspendCertificateRequest{Code: dept.Code})
	require.NoError(t, err)
	require.Equal(t, "suspended", sus.GetStatus().GetState())
	auditIdx = append(auditIdx, sus.GetStatus().GetAuditIndex())
	requireRefused(t, who(), codes.Unauthenticated, server.ReasonCertificateSuspended)
	st, body := restWho()
	require.Equal(t, http.StatusUnauthorized, st)
	require.Equal(t, server.ReasonCertificateSuspended, body["reason"], "%v", body)
	_, err = coord.Admin.SuspendCertificate(ctx, &adminv1.SuspendCertificateRequest{Code: dept.Code})
	requireRefused(t, err, codes.FailedPrecondition, "CERTIFICATE_SUSPENDED")

	res, err := coord.Admin.ResumeCertificate(ctx, &adminv1.ResumeCertificateRequest{Code: dept.Code})
	require.NoError(t, err)
	require.Equal(t, "active", res.GetStatus().GetState())
	auditIdx = append(auditIdx, res.GetStatus().GetAuditIndex())
	require.NoError(t, who())
	_, err = coord.Admin.ResumeCertificate(ctx, &adminv1.ResumeCertificateRequest{Code: dept.Code})
	requireRefused(t, err, codes.FailedPrecondition, "CERTIFICATE_NOT_SUSPENDED")

	_, err = coord.Admin.RevokeCertificate(ctx, &adminv1.RevokeCertificateRequest{Code: dept.Code, Reason: "lost it"})
	requireRefused(t, err, codes.InvalidArgument, "REVOCATION_REASON_INVALID")
	_, err = coord.Admin.RevokeCertificate(ctx, &adminv1.RevokeCertificateRequest{Code: dept.Code, Reason: "key_compromise", Serial: "abcdef"})
	requireRefused(t, err, codes.FailedPrecondition, "CERTIFICATE_SERIAL_MISMATCH")
	require.NoError(t, who(), "a refused change changed something")

	d, err := coord.Admin.GetDepartment(ctx, &adminv1.GetDepartmentRequest{Code: dept.Code})
	require.NoError(t, err)
	require.Equal(t, "active", d.GetCertificateState())
	rev, err := coord.Admin.RevokeCertificate(ctx, &adminv1.RevokeCertificateRequest{Code: dept.Code, Reason: "key_compromise", Serial: d.GetCertificateSerial()})
	require.NoError(t, err)
	require.Equal(t, "revoked", rev.GetStatus().GetState())
	require.Equal(t, "key_compromise", rev.GetStatus().GetReason())
	auditIdx = append(auditIdx, rev.GetStatus().GetAuditIndex())
	requireRefused(t, who(), codes.Unauthenticated, server.ReasonCertificateRevoked)
	st, body = restWho()
	require.Equal(t, http.StatusUnauthorized, st)
	require.Equal(t, server.ReasonCertificateRevoked, body["reason"], "%v", body)
	// Revocation is final, for the coordinator as for anyone.
	_, err = coord.Admin.ResumeCertificate(ctx, &adminv1.ResumeCertificateRequest{Code: dept.Code})
	requireRefused(t, err, codes.FailedPrecondition, "CERTIFICATE_REVOKED")
	_, err = coord.Admin.SuspendCertificate(ctx, &adminv1.SuspendCertificateRequest{Code: dept.Code})
	requireRefused(t, err, codes.FailedPrecondition, "CERTIFICATE_REVOKED")
	_, err = coord.Admin.RevokeCertificate(ctx, &adminv1.RevokeCertificateRequest{Code: dept.Code, Reason: "superseded"})
	requireRefused(t, err, codes.FailedPrecondition, "CERTIFICATE_REVOKED")
	requireRefused(t, who(), codes.Unauthenticated, server.ReasonCertificateRevoked)
	d, err = coord.Admin.GetDepartment(ctx, &adminv1.GetDepartmentRequest{Code: dept.Code})
	require.NoError(t, err)
	require.Equal(t, "revoked", d.GetCertificateState())

	// Every change is an audit record made by the coordinator about the department.
	coordCode := th.identity(t, 0).Code
	for _, i := range auditIdx {
		var rec *auditv1.AuditRecord
		require.Eventually(t, func() bool {
			rec, err = coord.Audit.GetRecord(ctx, &auditv1.GetRecordRequest{Index: i})
			return err == nil
		}, 10*time.Second, 20*time.Millisecond, "audit record %d", i)
		require.Equal(t, string(server.KindCertificateStatus), rec.GetKind())
		require.Equal(t, coordCode, rec.GetDepartment())
		require.Equal(t, dept.Code, rec.GetResource())
	}

	// A second department, suspended: the CRL lists both, with their reasons.
	other := registerDepartment(t, th, coord, "30000002")
	_, err = coord.Admin.SuspendCertificate(ctx, &adminv1.SuspendCertificateRequest{Code: other.Code})
	require.NoError(t, err)
	deptCert, err := pki.ParseCertsPEM(dept.CertPEM)
	require.NoError(t, err)
	otherCert, err := pki.ParseCertsPEM(other.CertPEM)
	require.NoError(t, err)
	// An operator certificate its department's admin revoked is listed too.
	clerk := enrolOperator(t, market, "王五", "operator")
	_, err = market.Operators.ChangeOperatorStatus(ctx, &adminv1.ChangeOperatorStatusRequest{Serial: clerk.Operator, Status: adminv1.OperatorStatus_OPERATOR_STATUS_REVOKED, Reason: "left the department"})
	require.NoError(t, err)
	opSerial, ok := new(big.Int).SetString(clerk.Operator, 16)
	require.True(t, ok)
	checkCRL(t, th, map[*big.Int]int{deptCert[0].SerialNumber: pki.ReasonKeyCompromise, otherCert[0].SerialNumber: pki.ReasonCertificateHold, opSerial: pki.ReasonUnspecified},
		[]*big.Int{deptCert[0].SerialNumber, otherCert[0].SerialNumber, opSerial})
	// Resumed, it leaves the CRL.
	_, err = coord.Admin.ResumeCertificate(ctx, &adminv1.ResumeCertificateRequest{Code: other.Code})
	require.NoError(t, err)
	checkCRL(t, th, map[*big.Int]int{deptCert[0].SerialNumber: pki.ReasonKeyCompromise, opSerial: pki.ReasonUnspecified}, []*big.Int{deptCert[0].SerialNumber, opSerial})
}

// checkCRL fetches GET /v1/trust/crl (DER and PEM, unsigned: it is public), checks it with
// the hub's issuing CA, and has OpenSSL parse it and verify its SM2 signature.
func checkCRL(t *testing.T, th *testHub, want map[*big.Int]int, serials []*big.Int) {
	t.Helper()
	get := func(q string) []byte {
		resp, err := th.http.Get(th.url + "/v1/trust/crl" + q)
		require.NoError(t, err)
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, resp.StatusCode, "%s", b)
		return b
	}
	der, pemCRL := get(""), get("?format=pem")
	require.True(t, strings.HasPrefix(string(pemCRL), "-----BEGIN X509 CRL-----"))
	issuing := th.h.CA.Issuing.Cert
	for _, raw := range [][]byte{der, pemCRL} {
		crl, err := pki.ParseCRL(raw)
		require.NoError(t, err)
		require.NoError(t, pki.CheckCRL(crl, issuing, time.Now()))
		require.Len(t, crl.RevokedCertificateEntries, len(want))
		for serial, reason := range want {
			e, ok := pki.FindRevoked(crl, serial)
			require.True(t, ok, "serial %x not in the CRL", serial)
			require.Equal(t, reason, e.Reason)
		}
	}

	if _, err := exec.LookPath("openssl"); err != nil {
		t.Skip("openssl not installed: the CRL was NOT checked with OpenSSL")
	}
	dir := t.TempDir()
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, b, 0o644))
		return p
	}
	derFile, pemFile := write("hub.crl", der), write("hub.crl.pem", pemCRL)
	for _, args := range [][]string{{"-inform", "DER", "-in", derFile}, {"-in", pemFile}} {
		out, err := exec.Command("openssl", append(append([]string{"crl"}, args...), "-noout", "-text")...).CombinedOutput()
		require.NoError(t, err, "%s", out)
		text := strings.ToUpper(string(out))
		require.Contains(t, text, "SM2-WITH-SM3")
		require.Contains(t, text, strings.ToUpper("CN = gxhub SM2 Department CA"))
		for _, s := range serials {
			require.Contains(t, text, strings.ToUpper(s.Text(16)))
		}
		for _, r := range want {
			require.Contains(t, text, strings.ToUpper(map[int]string{pki.ReasonKeyCompromise: "Key Compromise", pki.ReasonCertificateHold: "Certificate Hold", pki.ReasonUnspecified: ""}[r]))
		}
	}
	// The signature, with the issuing CA's key: over the tbsCertList with the SM2 ID.
	crl, err := smx509.ParseRevocationList(der)
	require.NoError(t, err)
	pubDER, err := smx509.MarshalPKIXPublicKey(issuing.PublicKey)
	require.NoError(t, err)
	pubFile := write("issuing-pub.der", pubDER)
	tbs, sig := write("tbs.der", crl.RawTBSRevocationList), write("sig.der", crl.Signature)
	verify := func(pub string) (string, error) {
		out, err := exec.Command("openssl", "pkeyutl", "-verify", "-pubin", "-keyform", "DER", "-inkey", pub, "-rawin", "-digest", "sm3",
			"-pkeyopt", "distid:"+sm.DefaultUID, "-in", tbs, "-sigfile", sig).CombinedOutput()
		return string(out), err
	}
	out, err := verify(pubFile)
	require.NoError(t, err, "%s", out)
	require.Contains(t, out, "Signature Verified Successfully")
	rootDER, err := smx509.MarshalPKIXPublicKey(th.h.CA.Root.Cert.PublicKey)
	require.NoError(t, err)
	out, err = verify(write("root-pub.der", rootDER))
	require.Error(t, err, "the CRL verified under the root's key: %s", out)
	// `openssl crl -CAfile` in OpenSSL 3.0 cannot give the SM2 ID to the CRL signature check:
	// it prints "verify failure" (exit status 0) for every SM2 CRL, which is why the signature
	// is checked with pkeyutl above. An OpenSSL that can must accept the hub's CRL.
	out2, err := exec.Command("openssl", "crl", "-inform", "DER", "-in", derFile, "-CAfile", write("chain.pem", []byte(th.h.CA.ChainPEM())), "-noout").CombinedOutput()
	require.NoError(t, err, "%s", out2)
	if !strings.Contains(string(out2), "verify OK") {
		require.Contains(t, string(out2), "verify failure", "unexpected `openssl crl -CAfile` output")
		t.Log("openssl crl -CAfile cannot check SM2 CRL signatures here (OpenSSL 3.0); pkeyutl verified it")
	}
}

// fetchCRL gets and parses the hub's CRL (DER).
func fetchCRL(t *testing.T, th *testHub) *smx509.RevocationList {
	t.Helper()
	resp, err := th.http.Get(th.url + "/v1/trust/crl")
	require.NoError(t, err)
	der, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.NoError(t, err)
	crl, err := pki.ParseCRL(der)
	require.NoError(t, err)
	return crl
}

// TestRevocationAcrossReplicas: two hubs on one PostgreSQL schema. A department suspended
// and then revoked through one replica is refused at its next request on the other, and a
// resume through the second is seen by the first: the state is read from the shared store
// on every request, so no replica keeps accepting a certificate from a cache.
func TestRevocationAcrossReplicas(t *testing.T) {
	dsn := pgtest.FreshSchemaDSN(t)
	first := startHub(t, func(c *config.Config) { c.Store.Driver, c.Store.PostgresDSN = "postgres", dsn })
	second := startReplica(t, first, dsn)
	ctx := context.Background()
	coord1 := dialAt(t, first.identity(t, 0), first.url)
	coord2 := dialAt(t, first.identity(t, 0), second.url)
	dept := registerDepartment(t, first, coord1, "30000003")
	on1, on2 := dialAt(t, dept, first.url), dialAt(t, dept, second.url)
	who := func(c *sdk.Client) error { _, err := c.Admin.WhoAmI(ctx, &adminv1.WhoAmIRequest{}); return err }
	// Both replicas have the department's certificate in their caches.
	require.NoError(t, who(on1))
	require.NoError(t, who(on2))

	_, err := coord1.Admin.SuspendCertificate(ctx, &adminv1.SuspendCertificateRequest{Code: dept.Code})
	require.NoError(t, err)
	requireRefused(t, who(on2), codes.Unauthenticated, server.ReasonCertificateSuspended)
	requireRefused(t, who(on1), codes.Unauthenticated, server.ReasonCertificateSuspended)
	_, err = coord2.Admin.ResumeCertificate(ctx, &adminv1.ResumeCertificateRequest{Code: dept.Code})
	require.NoError(t, err)
	require.NoError(t, who(on1))
	require.NoError(t, who(on2))
	_, err = coord2.Admin.RevokeCertificate(ctx, &adminv1.RevokeCertificateRequest{Code: dept.Code, Reason: "cessation_of_operation"})
	require.NoError(t, err)
	requireRefused(t, who(on1), codes.Unauthenticated, server.ReasonCertificateRevoked)
	requireRefused(t, who(on2), codes.Unauthenticated, server.ReasonCertificateRevoked)
	// Both replicas publish the same revocation.
	for _, th := range []*testHub{first, second} {
		crl := fetchCRL(t, th)
		require.Len(t, crl.RevokedCertificateEntries, 1)
		require.Equal(t, pki.ReasonCessationOfOperation, crl.RevokedCertificateEntries[0].ReasonCode)
	}
}

// TestRekeyAndRenewal: a department re-keys itself with an overlap (both keys sign until
// the overlap ends, then only the new one; the CRL lists the old certificate as superseded
// only from then), renews with the same key (the old certificate superseded at once), and
// after its certificate is revoked for key compromise only the coordinator can give it a new
// key, which leaves the compromise revocation as it was. The hub's clock is moved by the
// test, so nothing waits for the overlap.
func TestRekeyAndRenewal(t *testing.T) {
	var offset atomic.Int64
	clock := func() time.Time { return time.Now().Add(time.Duration(offset.Load())) }
	cfg := config.Default()
	cfg.DataDir = t.TempDir()
	h, url := serveLogged(t, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), hub.WithClock(clock))
	ctx := context.Background()
	dirs, err := h.SeedDemo(ctx, url)
	require.NoError(t, err)
	th := &testHub{h: h, url: url, dirs: dirs, http: &http.Client{Timeout: 10 * time.Second}}
	pool := x509.NewCertPool()
	caPEM, err := os.ReadFile(filepath.Join(cfg.DataDir, "tls", "ca.pem"))
	require.NoError(t, err)
	require.True(t, pool.AppendCertsFromPEM(caPEM))
	th.http.Transport = &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}

	coord := dialAt(t, th.identity(t, 0), url, sdk.WithClock(clock))
	market := dialAt(t, th.identity(t, 1), url, sdk.WithClock(clock))
	old := registerDepartment(t, th, coord, "30000004")
	oldClient := dialAt(t, old, url, sdk.WithClock(clock))
	whoSerial := func(c *sdk.Client) (string, error) {
		r, err := c.Admin.WhoAmI(ctx, &adminv1.WhoAmIRequest{})
		return r.GetCertificateSerial(), err
	}
	crlSerials := func() map[string]int {
		out := map[string]int{}
		for _, e := range fetchCRL(t, th).RevokedCertificateEntries {
			out[e.SerialNumber.Text(16)] = e.ReasonCode
		}
		return out
	}
	oldSerial, err := whoSerial(oldClient)
	require.NoError(t, err)

	// Nobody else re-keys a department.
	newKey, err := sm.GenerateKey()
	require.NoError(t, err)
	newPub, err := sm.MarshalPublicKeyPEM(&newKey.PublicKey)
	require.NoError(t, err)
	_, err = market.Admin.RekeyDepartment(ctx, &adminv1.RekeyDepartmentRequest{Code: old.Code, PublicKeyPem: string(newPub)})
	requireRefused(t, err, codes.PermissionDenied, "ROLE_REQUIRED")
	_, err = oldClient.Admin.RekeyDepartment(ctx, &adminv1.RekeyDepartmentRequest{PublicKeyPem: string(newPub), OverlapHours: 169})
	requireRefused(t, err, codes.InvalidArgument, "OVERLAP_INVALID")

	// Re-key with a 1-hour overlap.
	rk, err := oldClient.Admin.RekeyDepartment(ctx, &adminv1.RekeyDepartmentRequest{PublicKeyPem: string(newPub), OverlapHours: 1})
	require.NoError(t, err)
	require.Equal(t, oldSerial, rk.GetPreviousSerial())
	require.WithinDuration(t, clock().Add(time.Hour), rk.GetPreviousRevokedAt().AsTime(), time.Minute)
	fresh := &identity.Identity{Code: old.Code, Key: newKey, CertPEM: []byte(rk.GetCertificatePem()), HubURL: url, TLSCAPEM: old.TLSCAPEM}
	newClient := dialAt(t, fresh, url, sdk.WithClock(clock))
	s, err := whoSerial(newClient)
	require.NoError(t, err)
	require.Equal(t, rk.GetDepartment().GetCertificateSerial(), s)
	_, err = whoSerial(oldClient)
	require.NoError(t, err, "the old key no longer signs within the overlap")
	require.NotContains(t, crlSerials(), oldSerial, "the CRL lists a certificate whose overlap has not ended")

	offset.Store(int64(time.Hour + time.Minute))
	_, err = whoSerial(oldClient)
	requireRefused(t, err, codes.Unauthenticated, "SIGNATURE_INVALID")
	_, err = whoSerial(newClient)
	require.NoError(t, err)
	require.Equal(t, pki.ReasonSuperseded, crlSerials()[oldSerial])

	// Renewal with the same key: the previous certificate is superseded at once, the key
	// goes on signing under the new one.
	rn, err := newClient.Admin.RekeyDepartment(ctx, &adminv1.RekeyDepartmentRequest{PublicKeyPem: string(newPub)})
	require.NoError(t, err)
	require.Equal(t, s, rn.GetPreviousSerial())
	require.WithinDuration(t, clock(), rn.GetPreviousRevokedAt().AsTime(), time.Second)
	renewed, err := whoSerial(newClient)
	require.NoError(t, err)
	require.Equal(t, rn.GetDepartment().GetCertificateSerial(), renewed)
	require.Equal(t, pki.ReasonSuperseded, crlSerials()[s])

	// Compromised: revoked; the department cannot re-key itself, the coordinator can.
	_, err = coord.Admin.RevokeCertificate(ctx, &adminv1.RevokeCertificateRequest{Code: old.Code, Reason: "key_compromise"})
	require.NoError(t, err)
	third, err := sm.GenerateKey()
	require.NoError(t, err)
	thirdPub, err := sm.MarshalPublicKeyPEM(&third.PublicKey)
	require.NoError(t, err)
	_, err = newClient.Admin.RekeyDepartment(ctx, &adminv1.RekeyDepartmentRequest{PublicKeyPem: string(thirdPub)})
	requireRefused(t, err, codes.Unauthenticated, server.ReasonCertificateRevoked)
	rc, err := coord.Admin.RekeyDepartment(ctx, &adminv1.RekeyDepartmentRequest{Code: old.Code, PublicKeyPem: string(thirdPub), OverlapHours: 48})
	require.NoError(t, err)
	require.WithinDuration(t, clock(), rc.GetPreviousRevokedAt().AsTime(), time.Second, "a revoked certificate got an overlap")
	thirdClient := dialAt(t, &identity.Identity{Code: old.Code, Key: third, CertPEM: []byte(rc.GetCertificatePem()), HubURL: url, TLSCAPEM: old.TLSCAPEM}, url, sdk.WithClock(clock))
	_, err = whoSerial(thirdClient)
	require.NoError(t, err)
	_, err = whoSerial(newClient)
	require.Error(t, err, "the compromised key signs again after the coordinator's re-key")
	require.Equal(t, pki.ReasonKeyCompromise, crlSerials()[renewed], "the re-key overwrote the compromise revocation")

	// 30 days before the certificates issued today expire, /readyz and /metrics warn about
	// each; the revoked one is not counted.
	get := func(path string) string {
		resp, err := th.http.Get(url + path)
		require.NoError(t, err)
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		return string(b)
	}
	require.NotContains(t, get("/readyz"), "department rekey")
	require.Contains(t, get("/metrics"), "gxhub_department_certificates_expiring 0")
	offset.Store(int64(2*365*24*time.Hour - 30*24*time.Hour))
	ready := get("/readyz")
	require.Contains(t, ready, "warning: the certificate of department "+old.Code)
	require.Contains(t, ready, rc.GetDepartment().GetCertificateSerial())
	n := strings.Count(ready, "department rekey")
	require.Greater(t, n, 1)
	require.Contains(t, get("/metrics"), fmt.Sprintf("gxhub_department_certificates_expiring %d", n))
}
