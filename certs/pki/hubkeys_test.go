package pki_test

import (
	"crypto/x509/pkix"
	"testing"
	"time"

	"github.com/emmansun/gmsm/smx509"
	"github.com/stretchr/testify/require"

	"github.com/gxhub/gxhub/certs/pki"
	"github.com/gxhub/gxhub/certs/sm"
)

// TestHubKeyCertPurposes: each hub key certificate verifies for its own purpose only, and
// a department certificate from the same CA verifies for none (it cannot pass as a
// tree-head, anchor or pull key).
func TestHubKeyCertPurposes(t *testing.T) {
	now := time.Now()
	root, err := pki.NewRootCA(pkix.Name{CommonName: "test root"}, now.Add(-time.Hour), 24*time.Hour)
	require.NoError(t, err)
	iss, err := root.NewIssuingCA(pkix.Name{CommonName: "test issuing"}, now.Add(-time.Hour), 12*time.Hour)
	require.NoError(t, err)
	roots, inter := []*smx509.Certificate{root.Cert}, []*smx509.Certificate{iss.Cert}
	purposes := []pki.Purpose{pki.PurposeTreeHead, pki.PurposeAnchor, pki.PurposePull}
	for _, p := range purposes {
		k, err := sm.GenerateKey()
		require.NoError(t, err)
		cert, err := iss.IssueHubKeyCert(&k.PublicKey, p, now.Add(-time.Minute), time.Hour)
		require.NoError(t, err)
		for _, q := range purposes {
			err := pki.VerifyHubKeyCert(cert, q, roots, inter, now)
			if p == q {
				require.NoError(t, err, "%s certificate for its own purpose", p)
			} else {
				require.ErrorContains(t, err, "not the hub's certificate for "+q.String())
			}
		}
		require.Error(t, pki.VerifyHubKeyCert(cert, p, roots, inter, now.Add(2*time.Hour)), "expired")
	}
	k, err := sm.GenerateKey()
	require.NoError(t, err)
	dept, err := iss.IssueDepartmentCert(&k.PublicKey, pki.DepartmentSubject{Code: "11500000000000051M", Name: "审计局"}, now.Add(-time.Minute), time.Hour)
	require.NoError(t, err)
	for _, p := range purposes {
		require.Error(t, pki.VerifyHubKeyCert(dept, p, roots, inter, now))
	}
}
