package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/gxhub/gxhub/sdk"
	"github.com/gxhub/gxhub/sdk/reqsig"
)

// transport is "grpc" (the SDK) or "rest" (signed JSON over HTTPS, as curl would send it).
var transport = "grpc"

var (
	restOnce   sync.Once
	restClient *http.Client
	restErr    error
)

// restHTTP returns one HTTP client for every department (they share the hub's TLS CA).
func restHTTP(c *sdk.Client) (*http.Client, error) {
	restOnce.Do(func() {
		pool, err := x509.SystemCertPool()
		if err != nil {
			pool = x509.NewCertPool()
		}
		if ca := c.Identity().TLSCAPEM; len(ca) > 0 && !pool.AppendCertsFromPEM(ca) {
			restErr = fmt.Errorf("the identity's TLS CA holds no certificate")
			return
		}
		restClient = &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{
			TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}, MaxIdleConnsPerHost: 256, ForceAttemptHTTP2: true}}
	})
	return restClient, restErr
}

// restError is a refusal over REST, carrying the hub's reason.
type restError struct {
	Status  int
	Reason  string `json:"reason"`
	Message string `json:"message"`
}

func (e *restError) Error() string {
	return fmt.Sprintf("HTTP %d %s: %s", e.Status, e.Reason, e.Message)
}

// restCall sends one signed REST request as c's department; req (may be nil) is sent as
// JSON and the reply decoded into out (may be nil).
func restCall(ctx context.Context, c *sdk.Client, method, path string, req, out proto.Message) error {
	hc, err := restHTTP(c)
	if err != nil {
		return err
	}
	var body []byte
	if req != nil {
		if body, err = protojson.Marshal(req); err != nil {
			return err
		}
	}
	id := c.Identity()
	h, err := reqsig.Sign(id.Key, id.KeyID(), method, path, body, time.Now())
	if err != nil {
		return err
	}
	hreq, err := http.NewRequestWithContext(ctx, method, hubURL(c)+path, bytes.NewReader(body))
	if err != nil {
		return err
	}
	hreq.Header.Set("Authorization", h)
	if body != nil {
		hreq.Header.Set("Content-Type", "application/json")
	}
	resp, err := hc.Do(hreq)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		e := &restError{Status: resp.StatusCode}
		_ = json.Unmarshal(raw, e)
		return e
	}
	if out != nil {
		return protojson.UnmarshalOptions{DiscardUnknown: true}.Unmarshal(raw, out)
	}
	return nil
}

// hubURLOverride is --hub (REST needs the URL; the SDK keeps its own).
var hubURLOverride string

func hubURL(c *sdk.Client) string {
	if hubURLOverride != "" {
		return hubURLOverride
	}
	return c.Identity().HubURL
}
