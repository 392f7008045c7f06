package main_test

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// rolesBlocks returns the sh blocks of a Markdown document, in order.
func rolesBlocks(t *testing.T, doc string) []string {
	t.Helper()
	var blocks []string
	var cur []string
	in := false
	sc := bufio.NewScanner(strings.NewReader(doc))
	for sc.Scan() {
		line := sc.Text()
		switch {
		case !in && strings.TrimSpace(line) == "```sh":
			in, cur = true, nil
		case in && strings.TrimSpace(line) == "```":
			in = false
			blocks = append(blocks, strings.Join(cur, "\n"))
		case in:
			cur = append(cur, line)
		}
	}
	require.False(t, in, "an sh block is not closed")
	return blocks
}

// expectedExit matches a one-line command whose comment names its exit code ("exit 3"),
// expectedFailure one whose comment says it is refused.
var (
	expectedExit    = regexp.MustCompile(`^(\S.*?)\s+(#.*\bexit (\d+)\b.*)$`)
	expectedFailure = regexp.MustCompile(`^(\S.*?)\s+(# refused\b.*)$`)
)

// rolesScript turns the document's blocks into the script the test runs, with the only
// changes the document's "Verified" section declares.
func rolesScript(t *testing.T, blocks []string, port, witnessPort string) string {
	t.Helper()
	var b strings.Builder
	b.WriteString("set -euo pipefail\n")
	heredoc := ""
	mustFail := []string(nil) // the lines of a "! command" being collected
	for i, block := range blocks {
		fmt.Fprintf(&b, "echo '=== ROLES block %d'\n", i+1)
		for _, line := range strings.Split(block, "\n") {
			if heredoc != "" { // inside a here-document: verbatim
				b.WriteString(line + "\n")
				if strings.TrimSpace(line) == heredoc {
					heredoc = ""
				}
				continue
			}
			if m := regexp.MustCompile(`<<-?'?"?([A-Z]+)'?"?`).FindStringSubmatch(line); m != nil {
				heredoc = m[1]
			}
			line = strings.ReplaceAll(line, "127.0.0.1:8443", "127.0.0.1:"+port)
			line = strings.ReplaceAll(line, "127.0.0.1:7380", "127.0.0.1:"+witnessPort)
			if strings.HasPrefix(strings.TrimSpace(line), "go build ") {
				b.WriteString("# (built by the test) " + line + "\n")
				continue
			}
			// "! command" (possibly continued with \) must fail.
			if mustFail != nil || strings.HasPrefix(line, "! ") {
				if mustFail == nil {
					line = strings.TrimPrefix(line, "! ")
				}
				mustFail = append(mustFail, line)
				if strings.HasSuffix(strings.TrimSpace(line), "\\") {
					continue
				}
				last, comment := mustFail[len(mustFail)-1], ""
				if i := strings.Index(last, " # "); i >= 0 {
					last, comment = last[:i], strings.TrimSpace(last[i:])
				}
				mustFail[len(mustFail)-1] = last
				cmd := strings.Join(mustFail, "\n")
				fmt.Fprintf(&b, "if %s\nthen echo 'ROLES: expected to fail but succeeded: %s' >&2; exit 97; fi  %s\n", cmd, strings.ReplaceAll(strings.Fields(cmd)[0]+" …", "'", ""), comment)
				mustFail = nil
				continue
			}
			if m := expectedExit.FindStringSubmatch(line); m != nil {
				fmt.Fprintf(&b, "set +e; %s; rc=$?; set -e  %s\n[ $rc -eq %s ] || { echo \"ROLES: exit $rc, the page says %s: %s\" >&2; exit 97; }\n",
					m[1], m[2], m[3], m[3], strings.NewReplacer(`"`, "", "$", "").Replace(m[1]))
				continue
			}
			if m := expectedFailure.FindStringSubmatch(line); m != nil {
				fmt.Fprintf(&b, "if %s; then echo 'ROLES: expected to fail but succeeded: %s' >&2; exit 97; fi  %s\n", m[1], strings.ReplaceAll(m[1], "'", ""), m[2])
				continue
			}
			b.WriteString(line + "\n")
		}
		require.Nil(t, mustFail, "block %d ends inside a ! command", i+1)
	}
	b.WriteString("echo ROLES-DONE\n")
	return b.String()
}

// TestRolesDocument runs docs/ROLES.md's commands in order against a fresh hub, read
// from the document itself, so that the document cannot drift from the code.
func TestRolesDocument(t *testing.T) {
	for _, tool := range []string{"bash", "curl", "jq", "base64"} {
		if _, err := exec.LookPath(tool); err != nil {
			if os.Getenv("CI") == "true" {
				t.Fatalf("%s is required under CI=true (.ci/setup.sh installs it): %v", tool, err)
			}
			t.Skipf("SKIPPING the ROLES.md run: %s not found (%v)", tool, err)
		}
	}
	gxhubBin, gxctlBin := buildBinaries(t)
	doc, err := os.ReadFile(filepath.Join("..", "..", "docs", "ROLES.md"))
	require.NoError(t, err)
	blocks := rolesBlocks(t, string(doc))
	require.Greater(t, len(blocks), 10, "docs/ROLES.md has its sh blocks")
	port := strings.TrimPrefix(freePort(t), "127.0.0.1:")
	witnessPort := strings.TrimPrefix(freePort(t), "127.0.0.1:")
	script := rolesScript(t, blocks, port, witnessPort)

	work := t.TempDir()
	bin := filepath.Join(work, "bin")
	require.NoError(t, os.MkdirAll(bin, 0o755))
	for _, b := range []string{gxhubBin, gxctlBin} {
		require.NoError(t, os.Symlink(b, filepath.Join(bin, filepath.Base(b))))
	}
	certs, err := filepath.Abs(filepath.Join("..", "..", "certs"))
	require.NoError(t, err)
	require.NoError(t, os.Symlink(certs, filepath.Join(work, "certs")))
	require.NoError(t, os.WriteFile(filepath.Join(work, "roles.sh"), []byte(script), 0o644))

	cmd := exec.Command("bash", "-x", "roles.sh")
	cmd.Dir = work
	cmd.Env = append(os.Environ(), "PATH="+bin+string(os.PathListSeparator)+os.Getenv("PATH"), "GXHUB_AUDIT_HEAD_INTERVAL=200ms", "TERM=dumb")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // the hub the script starts is in its group
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	require.NoError(t, cmd.Start())
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	t.Cleanup(func() { _ = syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM) })
	var runErr error
	select {
	case runErr = <-done:
	case <-time.After(15 * time.Minute):
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		runErr = <-done
	}
	_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM) // the hub
	log := out.String()
	if runErr != nil || !strings.Contains(log, "\nROLES-DONE") {
		hubLog, _ := os.ReadFile(filepath.Join(work, "roles-demo.log"))
		t.Fatalf("docs/ROLES.md failed (%v). Script output:\n%s\n--- hub log:\n%s", runErr, tail(log, 12000), tail(string(hubLog), 4000))
	}
	if testing.Verbose() {
		t.Logf("docs/ROLES.md run:\n%s", log)
	}
	// What the page says the commands show.
	for _, want := range []string{
		"signature verified",                    // consumer pull
		"valid: SM2 signature",                  // gxctl sm2 verify over the REST payload
		"records published to 500000-SCJG-0002", // provider publish
		"VALID",                                 // verification and the offline receipt check
		"INVALID",                               // one vendor file of the batch
		"重庆市渝北区民政局",                             // the registered department's whoami
	} {
		require.Contains(t, log, want, "docs/ROLES.md run output")
	}
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "…" + s[len(s)-n:]
}
