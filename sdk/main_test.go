package sdk_test

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gxhub/gxhub/sdk"
	exchangev1 "github.com/gxhub/gxhub/sdk/api/exchange/v1"
	"github.com/gxhub/gxhub/sdk/identity"
)

// demoDir is the data directory of the hub TestMain runs; the examples read the demo
// departments' identity directories below it, as a department reads its own.
var demoDir string

// Demo departments of `gxhub serve --demo` (统一社会信用代码).
const (
	bigData    = "11500000000000019A" // 重庆市大数据应用发展管理局: coordinator, auditor
	market     = "115000000000000275" // 重庆市市场监督管理局: provider, consumer, issuer
	housing    = "11500000000000051M" // 重庆市住房公积金管理中心: consumer, provider
	auditOffic = "11500000000000078D" // 重庆市审计局: auditor
	yubei      = "11500112000000086R" // 重庆市渝北区政务服务管理办公室: consumer
)

// identityDir is where `gxhub serve --demo` wrote the department's identity.
func identityDir(code string) string { return filepath.Join(demoDir, "demo", code) }

// TestMain builds cmd/gxhub, runs `gxhub serve --demo` on a free port in a temporary data
// directory for the examples, and stops it afterwards. Without a hub the examples cannot
// run: a failure to start fails the package.
func TestMain(m *testing.M) {
	os.Exit(runWithHub(m))
}

func runWithHub(m *testing.M) int {
	flag.Parse()
	tmp, err := os.MkdirTemp("", "gxhub-sdk-examples-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "sdk examples:", err)
		return 1
	}
	defer os.RemoveAll(tmp)
	bin := filepath.Join(tmp, "gxhub")
	if out, err := exec.Command("go", "build", "-o", bin, "github.com/gxhub/gxhub/cmd/gxhub").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "sdk examples: go build cmd/gxhub: %v\n%s", err, out)
		return 1
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, "sdk examples:", err)
		return 1
	}
	addr := ln.Addr().String()
	ln.Close()
	demoDir = filepath.Join(tmp, "data")
	hub = &hubProcess{bin: bin, addr: addr, dataDir: demoDir}
	if err := hub.start(); err != nil {
		fmt.Fprintln(os.Stderr, "sdk examples: the demo hub did not start:", err)
		return 1
	}
	defer hub.stop()
	if err := seedScene(); err != nil {
		fmt.Fprintln(os.Stderr, "sdk examples: seeding the scene:", err)
		return 1
	}
	return m.Run()
}

// hub is the running `gxhub serve --demo` (tests may restart it).
var hub *hubProcess

type hubProcess struct {
	bin, addr, dataDir string
	cmd                *exec.Cmd
	done               chan struct{}
}

// start runs the hub and waits until it serves.
func (h *hubProcess) start() error {
	cmd := exec.Command(h.bin, "serve", "--demo", "--data-dir", h.dataDir, "--listen", h.addr)
	cmd.Env = append(os.Environ(), "GXHUB_AUDIT_HEAD_INTERVAL=200ms")
	cmd.Stderr = io.Discard
	if testing.Verbose() {
		cmd.Stderr = os.Stderr
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return err
	}
	h.cmd, h.done = cmd, make(chan struct{})
	ready, done := make(chan struct{}), h.done
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if strings.HasPrefix(sc.Text(), "gxhub serving on ") {
				close(ready)
			}
		}
		_ = cmd.Wait()
		close(done)
	}()
	select {
	case <-ready:
		return nil
	case <-done:
		return fmt.Errorf("gxhub serve --demo exited before serving (run go test -v to see its log)")
	case <-time.After(90 * time.Second):
		h.stop()
		return fmt.Errorf("gxhub serve --demo did not report its URL within 90s")
	}
}

// stop ends the hub with SIGTERM (SIGKILL after 20 s) and waits for it.
func (h *hubProcess) stop() {
	if h.cmd == nil {
		return
	}
	_ = h.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-h.done:
	case <-time.After(20 * time.Second):
		_ = h.cmd.Process.Kill()
		<-h.done
	}
	h.cmd = nil
}

// seedScene gives the audit log something to audit before the examples run, whatever
// their order: 市场监督管理局 publishes a change of address of a demo company.
func seedScene() error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	id, err := identity.Load(identityDir(market), nil)
	if err != nil {
		return err
	}
	c, err := sdk.Dial(ctx, id)
	if err != nil {
		return err
	}
	defer c.Close()
	_, err = c.Records.Publish(ctx, &exchangev1.PublishRequest{Resource: "500000-SCJG-0001", BatchId: "scjg-daily-0001",
		Changes: []*exchangev1.RecordChange{{Op: exchangev1.ChangeOp_CHANGE_OP_UPSERT, Subject: "91500000MA5U000023", Fields: map[string]string{
			"uscc": "91500000MA5U000023", "name": "重庆山城示例餐饮管理有限公司", "legal_representative": "王小明",
			"registered_capital": "80万元人民币", "established_on": "2021-09-01", "address": "重庆市渝中区解放碑街道民族路36号"}}}})
	return err
}
