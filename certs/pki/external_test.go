package pki

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/emmansun/gmsm/smx509"
	"github.com/stretchr/testify/require"
)

// External certificates made by other SM2 stacks (certs/testdata/external, see its README).
func readExternalCerts(t *testing.T, name string) []*smx509.Certificate {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "testdata", "external", "certs", name))
	require.NoError(t, err, "the external test data is part of the repository")
	certs, err := ParseCertsPEM(b)
	require.NoError(t, err, name)
	return certs
}

func TestExternalChains(t *testing.T) {
	chain := readExternalCerts(t, "tongsuo_sm2_chain-ca.crt")
	require.Len(t, chain, 2)
	var roots, inter []*smx509.Certificate
	for _, c := range chain {
		if bytes.Equal(c.RawIssuer, c.RawSubject) {
			roots = append(roots, c)
		} else {
			inter = append(inter, c)
		}
	}
	require.Len(t, roots, 1)
	leaf := readExternalCerts(t, "tongsuo_sm2_client_sign.crt")[0]
	expired := readExternalCerts(t, "tongsuo_sm2_client_sign_expire.crt")[0]
	ofdrwRoot := readExternalCerts(t, "ofdrw_ROOT_cert.derived.pem")[0]
	ofdrwUser := readExternalCerts(t, "ofdrw_USER_cert.derived.pem")[0]
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

	cases := []struct {
		name         string
		cert         *smx509.Certificate
		roots, inter []*smx509.Certificate
		at           time.Time
		want         string
	}{
		{"Tongsuo leaf", leaf, roots, inter, at, ""},
		{"Tongsuo leaf without its sub CA", leaf, roots, nil, at, "does not chain to a trusted root"},
		{"Tongsuo expired leaf", expired, roots, inter, at, "had expired"},
		{"Tongsuo expired leaf at its signing time", expired, roots, inter, time.Date(2000, 6, 1, 0, 0, 0, 0, time.UTC), "outside its validity"},
		{"Tongsuo sub CA as a leaf", inter[0], roots, nil, at, "is a CA certificate"},
		// ofdrw's ROOT signs USER but lacks keyCertSign: a strict verifier refuses the chain.
		{"ofdrw root without keyCertSign", ofdrwUser, []*smx509.Certificate{ofdrwRoot}, nil, time.Date(2021, 6, 1, 0, 0, 0, 0, time.UTC), "lacks keyCertSign"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := VerifySigningCert(tc.cert, tc.roots, tc.inter, tc.at)
			if tc.want == "" {
				require.NoError(t, err)
				return
			}
			require.ErrorContains(t, err, tc.want)
		})
	}
	t.Run("Tongsuo leaf is not a department certificate", func(t *testing.T) {
		_, err := VerifyDepartmentCert(leaf, roots, inter, at)
		require.ErrorContains(t, err, "carries no 统一社会信用代码")
	})
}
