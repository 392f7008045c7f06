package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/gxhub/gxhub/sdk"
	"github.com/gxhub/gxhub/sdk/identity"
)

// Global flags shared by the hub-facing commands.
var global struct {
	identity     string
	passwordFile string
	hub          string
	caFile       string
	json         bool
	timeout      time.Duration
	utc          bool
}

func init() {
	f := root.PersistentFlags()
	f.StringVar(&global.identity, "identity", os.Getenv("GXCTL_IDENTITY"), "department identity directory (key.pem, cert.pem, identity.json); env GXCTL_IDENTITY")
	f.StringVar(&global.passwordFile, "password-file", "", "file with the password of an encrypted identity key")
	f.StringVar(&global.hub, "hub", os.Getenv("GXCTL_HUB"), "hub URL (default: hub_url of the identity); env GXCTL_HUB")
	f.StringVar(&global.caFile, "ca", "", "PEM file of the hub's TLS CA (default: tls-ca.pem of the identity)")
	f.BoolVar(&global.json, "json", false, "print JSON instead of a table")
	f.DurationVar(&global.timeout, "timeout", 30*time.Second, "time limit for the call")
}

// loadIdentity loads --identity, or returns nil when required is false and none is set.
func loadIdentity(required bool) (*identity.Identity, error) {
	if global.identity == "" {
		if required {
			return nil, exitf(2, "this command acts as a department: pass --identity DIR (e.g. gxhub-data/demo/<code>, printed by `gxhub serve --demo`)")
		}
		return nil, nil
	}
	pw, err := identityKeyPassword(global.identity)
	if err != nil {
		return nil, err
	}
	id, err := identity.Load(global.identity, pw)
	if err != nil {
		return nil, exitf(2, "%v", err)
	}
	if global.caFile != "" {
		if id.TLSCAPEM, err = os.ReadFile(global.caFile); err != nil {
			return nil, exitf(2, "--ca: %v", err)
		}
	}
	return id, nil
}

// dial connects as the identity (or anonymously for public calls).
func dial(ctx context.Context, requireIdentity bool) (*sdk.Client, error) {
	id, err := loadIdentity(requireIdentity)
	if err != nil {
		return nil, err
	}
	var opts []sdk.Option
	if global.hub != "" {
		opts = append(opts, sdk.WithURL(global.hub))
	}
	if id == nil && global.hub == "" {
		return nil, exitf(2, "no hub: pass --hub URL or --identity DIR")
	}
	if id == nil && global.caFile != "" {
		b, err := os.ReadFile(global.caFile)
		if err != nil {
			return nil, exitf(2, "--ca: %v", err)
		}
		id = nil
		opts = append(opts, sdk.WithTLSCA(b))
	}
	dialedURL = global.hub
	if dialedURL == "" && id != nil {
		dialedURL = id.HubURL
	}
	c, err := sdk.Dial(ctx, id, opts...)
	if err != nil {
		return nil, exitf(2, "%v", err)
	}
	return c, nil
}

// dialedURL is the hub URL the last dial used, for error messages.
var dialedURL string

func callContext() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), global.timeout)
}

// callErr turns an API error into a message naming the reason; a hub that cannot be
// reached gets a message saying where it was looked for and what to check.
func callErr(err error) error {
	if msg := unreachable(dialedURL, err); msg != "" {
		return exitf(1, "%s", msg)
	}
	if st, ok := status.FromError(err); ok {
		reason := sdk.Reason(err)
		if reason != "" {
			return exitf(1, "%s (%s): %s", st.Code(), reason, st.Message())
		}
		return exitf(1, "%s: %s", st.Code(), st.Message())
	}
	return exitf(1, "%v", err)
}

// printJSON prints a proto message as JSON.
func printProto(w io.Writer, m proto.Message) error {
	b, err := protojson.MarshalOptions{Multiline: true, Indent: "  ", UseProtoNames: true, EmitUnpopulated: true}.Marshal(m)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(w, string(b))
	return err
}

func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// httpClient returns an HTTP client trusting the hub's TLS CA (for /healthz etc.).
func httpClient(id *identity.Identity) (*http.Client, error) {
	pool, err := x509.SystemCertPool()
	if err != nil {
		pool = x509.NewCertPool()
	}
	var caPEM []byte
	if global.caFile != "" {
		if caPEM, err = os.ReadFile(global.caFile); err != nil {
			return nil, exitf(2, "--ca: %v", err)
		}
	} else if id != nil {
		caPEM = id.TLSCAPEM
	}
	if len(caPEM) > 0 {
		pool.AppendCertsFromPEM(caPEM)
	}
	return &http.Client{Timeout: global.timeout, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}}, nil
}

func hubURL(id *identity.Identity) (string, error) {
	if global.hub != "" {
		return strings.TrimRight(global.hub, "/"), nil
	}
	if id != nil && id.HubURL != "" {
		return strings.TrimRight(id.HubURL, "/"), nil
	}
	return "", exitf(2, "no hub: pass --hub URL or --identity DIR")
}

// connect dials the hub (as --identity, or anonymously when requireIdentity is false and
// none is given) and returns the client with a call context bounded by --timeout; done
// closes both.
func connect(cmd *cobra.Command, requireIdentity bool) (*sdk.Client, context.Context, func(), error) {
	c, err := dial(cmd.Context(), requireIdentity)
	if err != nil {
		return nil, nil, nil, err
	}
	ctx, cancel := callContext()
	return c, ctx, func() { cancel(); c.Close() }, nil
}

// unreachable explains an error that means no hub answered at url, or "" for any other
// error: where gxctl looked, whether a hub runs there, and the TLS trust to check.
func unreachable(url string, err error) string {
	if err == nil {
		return ""
	}
	msg := err.Error()
	if st, ok := status.FromError(err); ok {
		if st.Code() != codes.Unavailable {
			return ""
		}
		msg = st.Message()
	}
	where := url
	if where == "" {
		where = "the hub"
	}
	switch {
	case strings.Contains(msg, "x509:") || strings.Contains(msg, "certificate"):
		return fmt.Sprintf("cannot reach the hub at %s: its TLS certificate is not trusted (%s).\n"+
			"Pass the hub's TLS CA with --ca FILE (gxhub prints it at start: DATA_DIR/tls/ca.pem), or use an identity whose tls-ca.pem is current", where, lastLine(msg))
	case strings.Contains(msg, "server preface") || strings.Contains(msg, "first record does not look like a TLS handshake") ||
		strings.Contains(msg, "http: server gave HTTP response to HTTPS client"):
		return fmt.Sprintf("cannot reach the hub at %s: it speaks another protocol (%s).\n"+
			"Use https:// for a hub with TLS (the default) and http:// only for one started with --insecure", where, lastLine(msg))
	case strings.Contains(msg, "connection refused") || strings.Contains(msg, "no such host") ||
		strings.Contains(msg, "i/o timeout") || strings.Contains(msg, "network is unreachable") || strings.Contains(msg, "Error while dialing"):
		return fmt.Sprintf("cannot reach the hub at %s (%s).\n"+
			"Is `gxhub serve` running there? Check the URL (--hub, or hub_url in the identity's identity.json)", where, lastLine(msg))
	}
	return ""
}

// lastLine keeps the innermost part of a wrapped network error ("dial tcp …: connection refused").
func lastLine(msg string) string {
	msg = strings.TrimSuffix(strings.TrimSpace(msg), `"`)
	if i := strings.LastIndex(msg, "dial tcp "); i >= 0 {
		return msg[i:]
	}
	if i := strings.LastIndex(msg, "x509: "); i >= 0 {
		return msg[i:]
	}
	if i := strings.Index(msg, "desc = \""); i >= 0 {
		return msg[i+len("desc = \""):]
	}
	return msg
}
