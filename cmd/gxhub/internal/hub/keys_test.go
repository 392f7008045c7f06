package hub_test

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gxhub/gxhub/certs/keystore"
	"github.com/gxhub/gxhub/cmd/gxhub/internal/config"
	"github.com/gxhub/gxhub/cmd/gxhub/internal/hub"
)

// hubKeyFiles are every private key and secret a hub keeps under DATA_DIR.
var hubKeyFiles = []string{
	"ca/root/key.pem", "ca/issuing/key.pem", "ca/hub-signing-key.pem", "ca/sealmaker/key.pem",
	"ca/subject-key", "tls/ca-key.pem", "tls/server-key.pem",
}

// TestKeysAtRest: a hub started without a password warns and keeps its keys in plaintext;
// the first start with ca_password_file encrypts every one of them in place (CA, signing,
// seal-maker, TLS keys and the subject HMAC key), keeping the same keys; afterwards a start
// with a wrong password or none is refused instead of generating new keys.
func TestKeysAtRest(t *testing.T) {
	dir := t.TempDir()
	open := func(pwFile string) (*hub.Hub, string, error) {
		cfg := config.Default()
		cfg.DataDir = dir
		cfg.Listen = "127.0.0.1:0"
		cfg.CAPasswordFile = pwFile
		var logBuf bytes.Buffer
		h, err := hub.New(context.Background(), cfg, slog.New(slog.NewTextHandler(&logBuf, nil)))
		return h, logBuf.String(), err
	}
	h, log, err := open("")
	require.NoError(t, err)
	require.Contains(t, log, "stored unencrypted")
	rootPEM, signingPub := h.CA.RootPEM(), h.SigningKey.PublicKey
	subject := h.Audit.SubjectKey("500101199001011234")
	require.NoError(t, h.Close())
	for _, f := range hubKeyFiles {
		ok, err := keystore.Protected(filepath.Join(dir, f))
		require.NoError(t, err)
		require.False(t, ok, f)
		_, err = os.Stat(filepath.Join(dir, f))
		require.NoError(t, err, "the hub did not write %s", f)
	}

	pw := filepath.Join(t.TempDir(), "pw")
	require.NoError(t, os.WriteFile(pw, []byte("a long hub password\n"), 0o600))
	h, log, err = open(pw)
	require.NoError(t, err)
	require.NotContains(t, log, "stored unencrypted")
	require.Equal(t, rootPEM, h.CA.RootPEM(), "the CA changed instead of being encrypted")
	require.True(t, h.SigningKey.PublicKey.Equal(&signingPub))
	require.Equal(t, subject, h.Audit.SubjectKey("500101199001011234"), "the subject key changed")
	require.NoError(t, h.Close())
	for _, f := range hubKeyFiles {
		ok, err := keystore.Protected(filepath.Join(dir, f))
		require.NoError(t, err)
		require.True(t, ok, "%s is still plaintext", f)
		require.Contains(t, log, f[strings.LastIndex(f, "/")+1:], "the log does not say %s was encrypted", f)
	}
	before := snapshot(t, dir)

	wrong := filepath.Join(t.TempDir(), "wrong")
	require.NoError(t, os.WriteFile(wrong, []byte("another password"), 0o600))
	for _, p := range []string{wrong, ""} {
		_, _, err := open(p)
		require.Error(t, err, "a hub started with password file %q", p)
	}
	require.Equal(t, before, snapshot(t, dir), "a refused start rewrote a key file")
}

func snapshot(t *testing.T, dir string) map[string]string {
	out := map[string]string{}
	for _, f := range hubKeyFiles {
		b, err := os.ReadFile(filepath.Join(dir, f))
		require.NoError(t, err)
		out[f] = string(b)
	}
	return out
}
