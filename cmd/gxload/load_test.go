package main

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gxhub/gxhub/sdk"
)

// startDemoHub builds gxhub and runs `gxhub serve --demo` on a free port; it returns the
// demo identities directory and the hub's process id.
func startDemoHub(t *testing.T) (string, int) {
	t.Helper()
	bin := t.TempDir()
	out, err := exec.Command("go", "build", "-o", bin+"/", "github.com/gxhub/gxhub/cmd/gxhub").CombinedOutput()
	require.NoError(t, err, "%s", out)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	ln.Close()
	data := t.TempDir()
	cmd := exec.Command(filepath.Join(bin, "gxhub"), "serve", "--demo", "--data-dir", data, "--listen", addr)
	cmd.Stderr = io.Discard
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	t.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			_ = cmd.Process.Kill()
		}
	})
	ready := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if strings.HasPrefix(sc.Text(), "gxhub serving on ") {
				close(ready)
			}
		}
	}()
	select {
	case <-ready:
	case <-time.After(60 * time.Second):
		t.Fatal("gxhub did not start")
	}
	return filepath.Join(data, "demo"), cmd.Process.Pid
}

// TestOps drives every operation for a moment against a real demo hub: each must succeed
// without errors (a pull also verifies the hub's signature on every response), and the
// printed report carries the ceiling and the hub's CPU per operation.
func TestOps(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs gxhub")
	}
	dir, pid := startDemoHub(t)
	ids, err := loadIdentities(dir)
	require.NoError(t, err)
	ctx := context.Background()
	var clients []*sdk.Client
	for _, id := range ids {
		c, err := sdk.Dial(ctx, id)
		require.NoError(t, err)
		defer c.Close()
		clients = append(clients, c)
	}
	loadRecords, loadVerifyFile = 50, verifyFile
	for _, name := range opNames() {
		t.Run(name, func(t *testing.T) {
			res, err := Drive(ctx, ops[name], clients, 4, 700*time.Millisecond, 0)
			require.NoError(t, err)
			require.Positive(t, res.OK, "%+v", res)
			require.Zero(t, res.Errors, "%v", res.ErrorReasons)
			require.Positive(t, res.P99)
		})
	}
	for _, name := range []string{"whoami", "pull"} {
		t.Run("rest/"+name, func(t *testing.T) {
			transport = "rest"
			defer func() { transport = "grpc" }()
			res, err := Drive(ctx, ops[name], clients, 4, 700*time.Millisecond, 0)
			require.NoError(t, err)
			require.Equal(t, "rest", res.Transport)
			require.Positive(t, res.OK, "%+v", res)
			require.Zero(t, res.Errors, "%v", res.ErrorReasons)
		})
	}
	t.Run("fail/rest publish", func(t *testing.T) {
		require.ErrorContains(t, run([]string{"--identities", dir, "--op", "publish", "--transport", "rest"}, io.Discard), "--transport")
	})
	t.Run("report", func(t *testing.T) {
		var out bytes.Buffer
		require.NoError(t, run([]string{"--identities", dir, "--op", "whoami", "--duration", "500ms", "--concurrency", "2",
			"--ceiling", "200ms", "--hub-pid", strconv.Itoa(pid)}, &out))
		require.Contains(t, out.String(), "crypto ceiling")
		require.Contains(t, out.String(), "hub CPU per op")
		require.Contains(t, out.String(), "UNITS whoami")
		require.Contains(t, out.String(), "target <= 2")
	})
	t.Run("fail/unknown op", func(t *testing.T) {
		require.ErrorContains(t, run([]string{"--identities", dir, "--op", "nope"}, io.Discard), "unknown --op")
	})
	t.Run("fail/verify without a file", func(t *testing.T) {
		loadVerifyFile = ""
		_, err := Drive(ctx, ops["verify"], clients, 1, 100*time.Millisecond, 0)
		require.ErrorContains(t, err, "--verify-file")
	})
}

// verifyFile is a real sealed OFD from the shared test data (testdata/external).
const verifyFile = "/work/shared/testdata/external/ofd/999_kinggrid_chongqing_test.ofd"
