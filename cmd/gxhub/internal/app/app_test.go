package app

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gxhub/gxhub/cmd/gxhub/internal/config"
)

// syncBuffer is an io.Writer the test reads while the hub writes to it.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// waitFor waits (generously) until cond holds.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

var urlRE = regexp.MustCompile(`gxhub serving on (http://\S+)`)

// startServe runs Serve in the background and returns its URL, its log, and a function
// that stops it with a cause and returns Serve's error.
func startServe(t *testing.T, mutate func(*config.Config)) (string, *syncBuffer, *syncBuffer, func(cause error) error) {
	t.Helper()
	cfg := config.Default()
	cfg.DataDir = t.TempDir()
	cfg.Listen = "127.0.0.1:0"
	cfg.Insecure = true
	if mutate != nil {
		mutate(&cfg)
	}
	stdout, stderr := &syncBuffer{}, &syncBuffer{}
	ctx, cancel := context.WithCancelCause(context.Background())
	done := make(chan error, 1)
	go func() { done <- Serve(ctx, cfg, stdout, stderr) }()
	waitFor(t, "the serving line", func() bool { return urlRE.MatchString(stdout.String()) })
	url := urlRE.FindStringSubmatch(stdout.String())[1]
	stopped := false
	stop := func(cause error) error {
		stopped = true
		cancel(cause)
		return <-done
	}
	t.Cleanup(func() {
		if !stopped {
			_ = stop(errors.New("test ended"))
		}
	})
	return url, stdout, stderr, stop
}

// logMessages returns the msg= values of the text log, in order.
func logMessages(log string) []string {
	var out []string
	for _, m := range regexp.MustCompile(`msg=("[^"]*"|\S+)`).FindAllStringSubmatch(log, -1) {
		out = append(out, strings.Trim(m[1], `"`))
	}
	return out
}

func TestLifecycleLogLines(t *testing.T) {
	url, stdout, stderr, stop := startServe(t, func(c *config.Config) { c.Demo = true })
	resp, err := http.Get(url + "/readyz")
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, 200, resp.StatusCode)
	require.NoError(t, stop(errors.New("signal terminated")))

	msgs := logMessages(stderr.String())
	var order []string
	for _, m := range msgs {
		switch m {
		case "starting", "ready", "shutdown requested", "draining requests in flight", "drained", "stopped":
			order = append(order, m)
		}
	}
	require.Equal(t, []string{"starting", "ready", "shutdown requested", "draining requests in flight", "drained", "stopped"}, order, "log:\n%s", stderr.String())
	require.Contains(t, stderr.String(), `msg="shutdown requested" by="signal terminated"`)
	// A first start says what it does while it migrates and seeds.
	out := stdout.String()
	require.Contains(t, out, "gxhub: opening the SQLite store")
	require.Contains(t, out, "gxhub: database schema: applied step 1 ")
	require.Contains(t, out, "gxhub: demo department 1/8")
}

// inFlight reads gxhub_requests_in_flight from /metrics.
func inFlight(t *testing.T, url string) int {
	t.Helper()
	resp, err := http.Get(url + "/metrics")
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	m := regexp.MustCompile(`(?m)^gxhub_requests_in_flight (\d+)`).FindSubmatch(b)
	require.NotNil(t, m, "gxhub_requests_in_flight missing from /metrics")
	n := 0
	fmt.Sscan(string(m[1]), &n)
	return n
}

// A request in flight when shutdown is requested is answered before the hub stops; one
// that does not finish within shutdown_timeout is cut off and the log says so.
func TestGracefulDrain(t *testing.T) {
	for _, finish := range []bool{true, false} {
		t.Run(fmt.Sprintf("request finishes=%v", finish), func(t *testing.T) {
			url, _, stderr, stop := startServe(t, func(c *config.Config) { c.ShutdownTimeout = 3 * time.Second })
			host := strings.TrimPrefix(url, "http://")
			conn, err := net.Dial("tcp", host)
			require.NoError(t, err)
			defer conn.Close()
			// A REST request whose body is still on its way: the handler is reading it.
			body := `{"resource":"x","batch_id":"y"}`
			_, err = fmt.Fprintf(conn, "POST /v1/resources/x/records:publish HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s", host, len(body), body[:5])
			require.NoError(t, err)
			waitFor(t, "the request to be in flight", func() bool { return inFlight(t, url) == 1 })
			stopped := make(chan error, 1)
			go func() { stopped <- stop(errors.New("signal terminated")) }()
			waitFor(t, "the drain to start", func() bool { return strings.Contains(stderr.String(), "draining requests in flight") })
			if finish {
				_, err = io.WriteString(conn, body[5:])
				require.NoError(t, err)
				r, err := http.ReadResponse(bufio.NewReader(conn), nil)
				require.NoError(t, err, "the request in flight is answered during the drain")
				r.Body.Close()
				require.Equal(t, http.StatusUnauthorized, r.StatusCode, "an unsigned publish is refused, but answered")
				require.NoError(t, <-stopped)
				require.Contains(t, stderr.String(), "msg=drained")
			} else {
				require.NoError(t, <-stopped)
				require.Contains(t, stderr.String(), "drain deadline passed")
				require.NotContains(t, stderr.String(), "msg=drained")
			}
			require.Contains(t, stderr.String(), "msg=stopped")
		})
	}
}
