// Package fabrictest brings the native Fabric test network (testnet/up.sh)
// up and down for tests of the Fabric anchorer, in a run folder of the
// caller's choosing. The network needs testnet/build.sh's binaries (built on
// first use, a few minutes) and runs as plain processes on 127.0.0.1.
package fabrictest

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Enabled reports whether Fabric tests should run: GXHUB_FABRIC=1 or CI=true.
func Enabled() bool {
	return os.Getenv("GXHUB_FABRIC") == "1" || os.Getenv("CI") == "true"
}

// SkipUnlessEnabled skips t loudly unless [Enabled].
func SkipUnlessEnabled(t testing.TB, what string) {
	t.Helper()
	if Enabled() {
		return
	}
	t.Skip("\n" + strings.Repeat("!", 78) + "\n" +
		"SKIPPED: " + what + " needs GXHUB_FABRIC=1 (or CI=true).\n" +
		"It builds Fabric v2.5.9 (testnet/build.sh, ~2.5 min cold) and runs a network on 127.0.0.1.\n" +
		strings.Repeat("!", 78))
}

// Network is a running test network.
type Network struct {
	// Root is the repository root; Run the run folder.
	Root, Run string
	// File is the connection profile, Run/network.json.
	File string
	// Output is what up.sh printed.
	Output string
	// Took is how long up.sh took.
	Took time.Duration
}

// RepoRoot finds the repository root (the folder holding testnet/up.sh)
// from the working directory upwards.
func RepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "testnet", "up.sh")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("fabrictest: testnet/up.sh not found above the working directory; run the test inside the gxhub repository")
		}
		dir = parent
	}
}

func script(ctx context.Context, root, run, name string, env ...string) (string, error) {
	cmd := exec.CommandContext(ctx, filepath.Join(root, "testnet", name))
	cmd.Dir = filepath.Join(root, "testnet")
	cmd.Env = append(append(os.Environ(), "GXHUB_TESTNET_RUN="+run), env...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("fabrictest: testnet/%s failed: %w; output:\n%s\n(the process logs are under %s/logs)", name, err, out, run)
	}
	return string(out), nil
}

// Up builds the Fabric binaries if needed and starts a network in run (a
// new folder). Call Down when done, also after a failed Up.
func Up(ctx context.Context, run string) (*Network, error) {
	root, err := RepoRoot()
	if err != nil {
		return nil, err
	}
	n := &Network{Root: root, Run: run, File: filepath.Join(run, "network.json")}
	if _, err := script(ctx, root, run, "build.sh"); err != nil {
		return n, err
	}
	// up.sh skips ports in use, but two test binaries starting networks at the same
	// moment (go test ./... runs packages in parallel) could pick the same free range:
	// start each search at a random base between 18050 and 31950 instead.
	var env []string
	if os.Getenv("GXHUB_TESTNET_PORT") == "" {
		env = append(env, fmt.Sprintf("GXHUB_TESTNET_PORT=%d", 18050+100*rand.IntN(140)))
	}
	start := time.Now()
	out, err := script(ctx, root, run, "up.sh", env...)
	n.Output, n.Took = out, time.Since(start)
	return n, err
}

// Down stops the network and removes its run folder (testnet/down.sh),
// unless GXHUB_TESTNET_KEEP=1.
func (n *Network) Down() error {
	if n == nil {
		return nil
	}
	if os.Getenv("GXHUB_TESTNET_KEEP") == "1" {
		fmt.Fprintf(os.Stderr, "GXHUB_TESTNET_KEEP=1: network left running in %s; stop it with GXHUB_TESTNET_RUN=%s testnet/down.sh\n", n.Run, n.Run)
		return nil
	}
	_, err := script(context.Background(), n.Root, n.Run, "down.sh")
	return err
}

// Start brings a network up for t in a temporary folder and tears it down
// when t ends.
func Start(t testing.TB) *Network {
	t.Helper()
	dir, err := os.MkdirTemp("", "gxhub-fabric-")
	if err != nil {
		t.Fatal(err)
	}
	n, err := Up(context.Background(), filepath.Join(dir, "run"))
	t.Cleanup(func() {
		if err := n.Down(); err != nil {
			t.Errorf("tear down the Fabric network: %v", err)
		}
		if os.Getenv("GXHUB_TESTNET_KEEP") != "1" {
			_ = os.RemoveAll(dir)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("Fabric network up in %v (%s)", n.Took.Round(time.Millisecond), n.Run)
	return n
}
