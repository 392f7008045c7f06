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

func readPasswordFile() ([]byte, error) {
	if global.passwordFile == "" {
		return nil, nil
	}
	b, err := os.ReadFile(global.passwordFile)
	if err != nil {
		return nil, err
	}
	return []byte(strings.TrimRight(string(b), "\r\n")), nil
}

// loadIdentity loads --identity, or returns nil when required is false and none is set.
func loadIdentity(required bool) (*identity.Identity, error) {
	if global.identity == "" {
		if required {
			return nil, exitf(2, "this command acts as a department: pass --identity DIR (e.g. gxhub-data/demo/<code>, printed by `gxhub serve --demo`)")
		}
		return nil, nil
	}
	pw, err := readPasswordFile()
	if err != nil {
		return nil, exitf(2, "password file: %v", err)
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
	c, err := sdk.Dial(ctx, id, opts...)
	if err != nil {
		return nil, exitf(2, "%v", err)
	}
	return c, nil
}

func callContext() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), global.timeout)
}

// callErr turns an API error into a message naming the reason.
func callErr(err error) error {
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
