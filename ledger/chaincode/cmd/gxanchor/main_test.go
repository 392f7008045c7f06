package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestTLSFromEnv(t *testing.T) {
	dir := t.TempDir()
	key, cert, ca := filepath.Join(dir, "k.pem"), filepath.Join(dir, "c.pem"), filepath.Join(dir, "ca.pem")
	for _, f := range []string{key, cert, ca} {
		require.NoError(t, os.WriteFile(f, []byte("pem of "+filepath.Base(f)), 0o600))
	}
	tests := []struct {
		name          string
		key, cert, ca string
		wantErr       string
		wantDisabled  bool
	}{
		{name: "no TLS", wantDisabled: true},
		{name: "key and cert", key: key, cert: cert},
		{name: "key, cert and client CA", key: key, cert: cert, ca: ca},
		{name: "key without cert", key: key, wantErr: "set both"},
		{name: "missing key file", key: filepath.Join(dir, "nope"), cert: cert, wantErr: "read TLS key"},
		{name: "missing client CA file", key: key, cert: cert, ca: filepath.Join(dir, "nope"), wantErr: "read TLS client CA"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("CHAINCODE_TLS_KEY_FILE", tc.key)
			t.Setenv("CHAINCODE_TLS_CERT_FILE", tc.cert)
			t.Setenv("CHAINCODE_TLS_CLIENT_CA_FILE", tc.ca)
			p, err := tlsFromEnv()
			if tc.wantErr != "" {
				require.ErrorContains(t, err, tc.wantErr)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.wantDisabled, p.Disabled)
			if !tc.wantDisabled {
				require.Equal(t, "pem of k.pem", string(p.Key))
				require.Equal(t, "pem of c.pem", string(p.Cert))
			}
			if tc.ca != "" {
				require.Equal(t, "pem of ca.pem", string(p.ClientCACerts))
			}
		})
	}
}

func TestRunNeedsAddressAndID(t *testing.T) {
	t.Setenv("CHAINCODE_SERVER_ADDRESS", "")
	t.Setenv("CHAINCODE_ID", "gxanchor_1.0:abc")
	require.ErrorContains(t, run(), "CHAINCODE_SERVER_ADDRESS")
}
