package sdk

import (
	"context"
	"crypto/ecdsa"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"iter"

	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/gxhub/gxhub/certs/sm"

	exchangev1 "github.com/gxhub/gxhub/sdk/api/exchange/v1"
	"github.com/gxhub/gxhub/sdk/reqsig"
)

// FollowAlerts streams the freshness alerts of the caller's resources (a provider's, A5):
// first one "stale" alert per resource stale now, then one alert each time one becomes
// stale or fresh again. The stream's request is signed like a unary call. It ends when ctx
// ends, with UntilCaughtUp once the current alerts are sent, or at the first error (the
// hub stopping included: follow again, the resources stale then are sent first).
func (c *Client) FollowAlerts(ctx context.Context, req *exchangev1.FollowAlertsRequest) iter.Seq2[*exchangev1.FreshnessAlert, error] {
	return func(yield func(*exchangev1.FreshnessAlert, error) bool) {
		if c.id == nil {
			yield(nil, errors.New("following freshness alerts needs a department identity"))
			return
		}
		ctx, cancel := context.WithCancel(ctx)
		defer cancel()
		body, err := deterministic.Marshal(req)
		if err != nil {
			yield(nil, err)
			return
		}
		h, err := reqsig.Sign(c.id.Key, c.id.Code, "POST", exchangev1.FreshnessService_FollowAlerts_FullMethodName, body, c.now())
		if err != nil {
			yield(nil, err)
			return
		}
		stream, err := c.Freshness.FollowAlerts(metadata.AppendToOutgoingContext(ctx, "authorization", h), req)
		if err != nil {
			yield(nil, err)
			return
		}
		for {
			a, err := stream.Recv()
			if errors.Is(err, io.EOF) {
				return
			}
			if err != nil {
				yield(nil, err)
				return
			}
			if !yield(a, nil) {
				return
			}
		}
	}
}

// VerifyAlertWebhook checks a freshness alert the hub POSTed to a provider's webhook
// (registered with freshness_alerts): sigHeader (Gxhub-Signature: base64 of the hub's SM2
// signature, DER) over exactly body, with hubKey (the pull-response key you trust), then
// decodes the alert. An alert may arrive more than once: its Idempotency-Key is stable.
func VerifyAlertWebhook(body []byte, sigHeader string, hubKey *ecdsa.PublicKey) (*exchangev1.FreshnessAlert, error) {
	if hubKey == nil {
		return nil, errors.New("no hub key to verify with: fetch it from AuditService.GetLogInfo and keep it")
	}
	sig, err := base64.StdEncoding.DecodeString(sigHeader)
	if err != nil {
		return nil, fmt.Errorf("the Gxhub-Signature header is not base64: %w", err)
	}
	if err := sm.Verify(hubKey, body, sig); err != nil {
		return nil, fmt.Errorf("the hub's signature over the alert does not verify: %w", err)
	}
	a := &exchangev1.FreshnessAlert{}
	if err := protojson.Unmarshal(body, a); err != nil {
		return nil, fmt.Errorf("the alert does not decode: %w", err)
	}
	return a, nil
}
