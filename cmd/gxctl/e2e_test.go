package main_test

import (
	"bufio"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gxhub/gxhub/certs/keystore"
	"github.com/gxhub/gxhub/exchange"
)

// buildBinaries builds gxhub and gxctl once per test binary run.
func buildBinaries(t *testing.T) (gxhub, gxctl string) {
	t.Helper()
	dir := t.TempDir()
	out, err := exec.Command("go", "build", "-o", dir+"/", "github.com/gxhub/gxhub/cmd/gxhub", "github.com/gxhub/gxhub/cmd/gxctl").CombinedOutput()
	require.NoError(t, err, "%s", out)
	return filepath.Join(dir, "gxhub"), filepath.Join(dir, "gxctl")
}

func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	return ln.Addr().String()
}

type hubProc struct {
	cmd  *exec.Cmd
	url  string
	out  []string
	done chan struct{}
}

// startGxhub runs `gxhub serve --demo` and waits for the URL line.
func startGxhub(t *testing.T, bin, dataDir, addr string) *hubProc {
	t.Helper()
	cmd := exec.Command(bin, "serve", "--demo", "--data-dir", dataDir, "--listen", addr)
	cmd.Env = append(os.Environ(), "GXHUB_AUDIT_HEAD_INTERVAL=200ms")
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	cmd.Stderr = os.Stderr
	if !testing.Verbose() {
		cmd.Stderr = io.Discard
	}
	require.NoError(t, cmd.Start())
	p := &hubProc{cmd: cmd, done: make(chan struct{})}
	lines := make(chan string)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	deadline := time.After(60 * time.Second)
	for p.url == "" {
		select {
		case l, ok := <-lines:
			require.True(t, ok, "gxhub exited before serving; output: %v", p.out)
			p.out = append(p.out, l)
			if u, ok := strings.CutPrefix(l, "gxhub serving on "); ok {
				p.url = u
			}
		case <-deadline:
			t.Fatalf("gxhub did not report its URL: %v", p.out)
		}
	}
	go func() {
		for range lines {
		}
		_ = cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() { p.stop(t) })
	return p
}

func (p *hubProc) stop(t *testing.T) {
	select {
	case <-p.done:
		return
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(20 * time.Second):
		_ = p.cmd.Process.Kill()
		t.Error("gxhub did not stop on SIGTERM within 20s")
	}
}

func (p *hubProc) identities() []string {
	var dirs []string
	for _, l := range p.out {
		if strings.HasPrefix(l, "  ") && strings.Contains(l, string(filepath.Separator)+"demo"+string(filepath.Separator)) {
			dirs = append(dirs, strings.TrimSpace(l))
		}
	}
	return dirs
}

func gxctl(t *testing.T, bin string, args ...string) (string, int) {
	t.Helper()
	out, err := exec.Command(bin, args...).CombinedOutput()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else {
		require.NoError(t, err)
	}
	return string(out), code
}

// selfSignedCA writes a fresh ECDSA CA certificate (PEM) and returns its path.
func selfSignedCA(t *testing.T) string {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "another CA"}, IsCA: true, BasicConstraintsValid: true,
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	path := filepath.Join(t.TempDir(), "other-ca.pem")
	require.NoError(t, os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600))
	return path
}

func TestEndToEnd(t *testing.T) {
	gxhubBin, gxctlBin := buildBinaries(t)
	data := t.TempDir()
	addr := freePort(t)
	hub := startGxhub(t, gxhubBin, data, addr)
	require.True(t, strings.HasPrefix(hub.url, "https://"))
	ids := hub.identities()
	require.GreaterOrEqual(t, len(ids), 5, "demo identities: %v", hub.out)
	coordinator, market := ids[0], ids[1]

	out, code := gxctl(t, gxctlBin, "--identity", market, "health")
	require.Equal(t, 0, code, out)
	out, code = gxctl(t, gxctlBin, "--identity", market, "--json", "health")
	require.Equal(t, 0, code, out)
	var health map[string]any
	require.NoError(t, json.Unmarshal([]byte(out), &health), out)
	require.Equal(t, true, health["healthy"], out)
	out, code = gxctl(t, gxctlBin, "--identity", market, "whoami")
	require.Equal(t, 0, code, out)
	require.Contains(t, out, "重庆市市场监督管理局")

	// Where no hub answers, gxctl says where it looked and what to check.
	down := "https://" + freePort(t)
	for _, args := range [][]string{{"whoami"}, {"health"}} {
		out, code = gxctl(t, gxctlBin, append([]string{"--identity", market, "--hub", down}, args...)...)
		require.Equal(t, 1, code, out)
		require.Contains(t, out, "cannot reach the hub at "+down)
		require.Contains(t, out, "Is `gxhub serve` running there?")
	}
	otherCA := selfSignedCA(t) // a CA that did not issue the hub's certificate
	out, code = gxctl(t, gxctlBin, "--identity", market, "--ca", otherCA, "whoami")
	require.Equal(t, 1, code, out)
	require.Contains(t, out, "TLS certificate is not trusted")
	require.Contains(t, out, "--ca")
	out, code = gxctl(t, gxctlBin, "--identity", market, "--hub", strings.Replace(hub.url, "https:", "http:", 1), "whoami")
	require.Equal(t, 1, code, out)
	require.Contains(t, out, "another protocol")
	// health --wait waits for a hub that is not there yet, within its limit.
	out, code = gxctl(t, gxctlBin, "--hub", down, "--ca", filepath.Join(data, "tls", "ca.pem"), "health", "--wait", "1s")
	require.Equal(t, 1, code, out)
	require.Contains(t, out, "cannot reach the hub")

	// The policy as tables whose columns are the model's.
	out, code = gxctl(t, gxctlBin, "--identity", coordinator, "policy", "show")
	require.Equal(t, 0, code, out)
	require.Regexp(t, `(?m)^TYPE +PRIORITY +SUB +DOM +OBJ +ACT +SHARE +STATE +PURPOSE +ITEMS +SCOPE +CAS +OWNER +EFT +REASON$`, out)
	require.Regexp(t, `(?m)^p +10 +\* .* deny +NOT_SHARED$`, out)
	out, code = gxctl(t, gxctlBin, "--identity", market, "department", "list", "--page-size", "3")
	require.Equal(t, 0, code, out)
	require.Contains(t, out, "重庆市公安局", "all pages are fetched")

	// curl-style REST: the header printed by sign-request works once, over TLS.
	pool := x509.NewCertPool()
	caPEM, err := os.ReadFile(filepath.Join(data, "tls", "ca.pem"))
	require.NoError(t, err)
	pool.AppendCertsFromPEM(caPEM)
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}, Timeout: 10 * time.Second}
	header, code := gxctl(t, gxctlBin, "--identity", market, "sign-request", "/v1/whoami")
	require.Equal(t, 0, code, header)
	name, value, ok := strings.Cut(strings.TrimSpace(header), ": ")
	require.True(t, ok)
	do := func(h string) (int, string) {
		req, _ := http.NewRequest("GET", hub.url+"/v1/whoami", nil)
		if h != "" {
			req.Header.Set(name, h)
		}
		resp, err := hc.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	st, body := do(value)
	require.Equal(t, 200, st, body)
	st, body = do(value)
	require.Equal(t, 401, st, body)
	require.Contains(t, body, "REQUEST_REPLAYED")
	st, body = do("")
	require.Equal(t, 401, st, body)
	require.Contains(t, body, "REQUEST_UNSIGNED")

	// A coordinator registers a new department; the new identity works at once.
	newDir := filepath.Join(t.TempDir(), "new")
	out, code = gxctl(t, gxctlBin, "--identity", coordinator, "department", "register", "--code", "11500112MB0000001X",
		"--name", "x", "--level", "county", "--region", "500112", "--role", "consumer", "--out", newDir, "--plaintext-key")
	require.Equal(t, 1, code, "an invalid code is refused: %s", out)
	require.Contains(t, out, "DEPARTMENT_CODE_INVALID")
	out, code = gxctl(t, gxctlBin, "--identity", market, "department", "register", "--code", "11500112000000090B",
		"--name", "x", "--level", "county", "--region", "500112", "--role", "consumer", "--out", newDir, "--plaintext-key")
	require.Equal(t, 1, code, "only a coordinator registers: %s", out)
	require.Contains(t, out, "ROLE_REQUIRED")

	code18 := validCode(t)
	regArgs := []string{"--identity", coordinator, "department", "register", "--code", code18,
		"--name", "重庆市渝北区医疗保障局", "--level", "county", "--region", "500112", "--role", "consumer", "--role", "provider", "--out", newDir}
	// The new key is encrypted by default: without a password (and no terminal to type it
	// in) nothing is registered.
	out, code = gxctl(t, gxctlBin, regArgs...)
	require.Equal(t, 2, code, out)
	require.Contains(t, out, "--plaintext-key")
	keyPW := filepath.Join(t.TempDir(), "key-password")
	require.NoError(t, os.WriteFile(keyPW, []byte("渝北医保 key password\n"), 0o600))
	out, code = gxctl(t, gxctlBin, append(regArgs, "--key-password-file", keyPW)...)
	require.Equal(t, 0, code, out)
	encrypted, err := keystore.Protected(filepath.Join(newDir, "key.pem"))
	require.NoError(t, err)
	require.True(t, encrypted, "the new department's key was written in plaintext")
	out, code = gxctl(t, gxctlBin, "--identity", newDir, "whoami")
	require.Equal(t, 2, code, "an encrypted key is used without its password: %s", out)
	require.Contains(t, out, "--password-file")
	out, code = gxctl(t, gxctlBin, "--identity", newDir, "--password-file", keyPW, "whoami")
	require.Equal(t, 0, code, out)
	require.Contains(t, out, "重庆市渝北区医疗保障局")

	// The registration is an audit record: fetch its receipt, verify it offline with the
	// pinned log key, and see a tampered receipt refused.
	keyFile := filepath.Join(t.TempDir(), "log-key.pem")
	out, code = gxctl(t, gxctlBin, "--identity", market, "audit", "key")
	require.Equal(t, 0, code, out)
	require.NoError(t, os.WriteFile(keyFile, []byte(out), 0o600))
	receipt := filepath.Join(t.TempDir(), "receipt.json")
	require.Eventually(t, func() bool {
		out, code = gxctl(t, gxctlBin, "--identity", coordinator, "audit", "proof", "0", "-o", receipt)
		return code == 0 && strings.Contains(out, "anchored in block")
	}, 20*time.Second, 200*time.Millisecond, "record 0 gets anchored: %s", out)
	out, code = gxctl(t, gxctlBin, "audit", "verify", receipt, "--log-key", keyFile)
	require.Equal(t, 0, code, out)
	require.Contains(t, out, "VALID")
	raw, err := os.ReadFile(receipt)
	require.NoError(t, err)
	tampered := strings.Replace(string(raw), `"Outcome"`, `"Outcome"`, 1)
	var rj map[string]any
	require.NoError(t, json.Unmarshal(raw, &rj))
	leaf := rj["Leaf"].(string)
	b, err := base64.StdEncoding.DecodeString(leaf)
	require.NoError(t, err)
	b[len(b)-1] ^= 1
	tampered = strings.Replace(tampered, leaf, base64.StdEncoding.EncodeToString(b), 1)
	bad := filepath.Join(t.TempDir(), "tampered.json")
	require.NoError(t, os.WriteFile(bad, []byte(tampered), 0o600))
	out, code = gxctl(t, gxctlBin, "audit", "verify", bad, "--log-key", keyFile)
	require.Equal(t, 1, code, out)
	require.Contains(t, out, "INVALID")
	for _, tc := range []struct {
		file  string
		code  int
		valid bool
	}{{receipt, 0, true}, {bad, 1, false}} {
		out, code = gxctl(t, gxctlBin, "--json", "audit", "verify", tc.file, "--log-key", keyFile)
		require.Equal(t, tc.code, code, out)
		var v map[string]any
		require.NoError(t, json.Unmarshal([]byte(out), &v), out)
		require.Equal(t, tc.valid, v["valid"], out)
		require.Equal(t, true, v["pinned_key"], out)
	}

	// The whole log as published without the API (C2SP tlog-tiles): rebuilt from the hash
	// tiles and checked against the checkpoint signed with the pinned log key; refused
	// with another key.
	tlsCA := filepath.Join(data, "tls", "ca.pem")
	out, code = gxctl(t, gxctlBin, "--ca", tlsCA, "audit", "verify", "--tiles", hub.url, "--log-key", keyFile)
	require.Equal(t, 0, code, out)
	require.Regexp(t, `VALID: log \S+ at \S+: [1-9][0-9]* records, root \S+ rebuilt from [1-9][0-9]* tiles`, out)
	otherKey := filepath.Join(t.TempDir(), "other.pem")
	out, code = gxctl(t, gxctlBin, "sm2", "keygen", "--out", otherKey, "--pub", otherKey+".pub")
	require.Equal(t, 0, code, out)
	out, code = gxctl(t, gxctlBin, "--ca", tlsCA, "audit", "verify", "--tiles", hub.url, "--log-key", otherKey+".pub")
	require.Equal(t, 1, code, out)
	require.Contains(t, out, "INVALID")

	// Restart on the same data directory: same CA, same departments, identities still valid.
	hub.stop(t)
	hub = startGxhub(t, gxhubBin, data, addr)
	out, code = gxctl(t, gxctlBin, "--identity", newDir, "--password-file", keyPW, "whoami")
	require.Equal(t, 0, code, "registered department survives a restart: %s", out)
	out, code = gxctl(t, gxctlBin, "--identity", market, "whoami")
	require.Equal(t, 0, code, "demo identities survive a restart: %s", out)

	// A plaintext identity (as the demo writes them) is encrypted in place; afterwards it
	// works only with its password, and a short password is refused without touching it.
	plainCopy := filepath.Join(t.TempDir(), "market")
	require.NoError(t, os.CopyFS(plainCopy, os.DirFS(market)))
	short := filepath.Join(t.TempDir(), "short")
	require.NoError(t, os.WriteFile(short, []byte("1234567"), 0o600))
	out, code = gxctl(t, gxctlBin, "--identity", plainCopy, "identity", "encrypt", "--new-password-file", short)
	require.Equal(t, 2, code, out)
	encrypted, err = keystore.Protected(filepath.Join(plainCopy, "key.pem"))
	require.NoError(t, err)
	require.False(t, encrypted)
	out, code = gxctl(t, gxctlBin, "--identity", plainCopy, "identity", "encrypt", "--new-password-file", keyPW)
	require.Equal(t, 0, code, out)
	encrypted, err = keystore.Protected(filepath.Join(plainCopy, "key.pem"))
	require.NoError(t, err)
	require.True(t, encrypted)
	out, code = gxctl(t, gxctlBin, "--identity", plainCopy, "whoami")
	require.Equal(t, 2, code, out)
	out, code = gxctl(t, gxctlBin, "--identity", plainCopy, "--password-file", keyPW, "whoami")
	require.Equal(t, 0, code, out)

	// Usage errors exit 2.
	_, code = gxctl(t, gxctlBin, "whoami")
	require.Equal(t, 2, code)
	_, code = gxctl(t, gxctlBin, "--identity", filepath.Join(data, "nope"), "whoami")
	require.Equal(t, 2, code)
}

// validCode builds a 统一社会信用代码 for a county-level organ in 500112 with valid GB 11714
// and GB 32100 check characters.
func validCode(t *testing.T) string {
	t.Helper()
	return validCodeOrg(t, "22334455")
}

// validCodeOrg is validCode for an 8-digit organisation code body.
func validCodeOrg(t testing.TB, org string) string {
	t.Helper()
	code, err := exchange.NewUSCC("11", "500112", org)
	require.NoError(t, err)
	return code
}
