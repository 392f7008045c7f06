package sdk

import (
	"context"
	"crypto/ecdsa"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"iter"
	"math/rand/v2"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/gxhub/gxhub/certs/sm"
	exchangev1 "github.com/gxhub/gxhub/sdk/api/exchange/v1"
	"github.com/gxhub/gxhub/sdk/reqsig"
)

// Change is one verified delivery of a subscription: the change (cursor, idempotency key,
// subject, version it created) and the signed pull result that answers it.
type Change struct {
	Cursor         int64
	IdempotencyKey string
	Subject        string
	ChangeVersion  int64
	// Result is the hub-signed pull result, verified with the hub key given to Follow.
	Result *exchangev1.PullResult
	// Response is the delivery's pull response as received (payload, signature, audit
	// references), to keep as evidence.
	Response *exchangev1.PullResponse
}

// Follow subscribes to changes of the records of a case (SubscriptionService.Subscribe)
// and yields each delivery, its signature verified with hubKey, in cursor order. After a
// disconnect (the hub restarting, the network failing: codes Unavailable) it subscribes
// again after the last cursor yielded, waiting with backoff, so a caller sees every change
// once: a delivery at or before the last cursor (the hub delivers at least once) is
// dropped. Start after a cursor you have processed with req.After. It ends when ctx ends,
// when the loop body breaks, or with the error the hub gave (a refusal, a closed case) as
// the last yield.
func (c *Client) Follow(ctx context.Context, req *exchangev1.SubscribeRequest, hubKey *ecdsa.PublicKey) iter.Seq2[*Change, error] {
	return func(yield func(*Change, error) bool) {
		if c.id == nil {
			yield(nil, errors.New("subscriptions are signed: dial with the department's identity"))
			return
		}
		after := req.GetAfter()
		wait := DefaultRetryPolicy.Initial
		for {
			r := &exchangev1.SubscribeRequest{RequirementId: req.GetRequirementId(), MatterCode: req.GetMatterCode(),
				CaseNumber: req.GetCaseNumber(), Operator: req.GetOperator(), After: after, UntilCaughtUp: req.GetUntilCaughtUp()}
			received, err := c.followOnce(ctx, r, hubKey, func(ch *Change) bool {
				if ch.Cursor <= after {
					return true // delivered before: at least once, seen once
				}
				after = ch.Cursor
				return yield(ch, nil)
			})
			switch {
			case errors.Is(err, errStop):
				return
			case err == nil:
				return // caught up (UntilCaughtUp)
			case ctx.Err() != nil:
				yield(nil, ctx.Err())
				return
			case status.Code(err) != codes.Unavailable:
				yield(nil, err)
				return
			}
			if received {
				wait = DefaultRetryPolicy.Initial
			}
			d := wait - rand.N(wait/2+1)
			t := time.NewTimer(d)
			select {
			case <-ctx.Done():
				t.Stop()
				yield(nil, ctx.Err())
				return
			case <-t.C:
			}
			wait = min(wait*2, 30*time.Second)
		}
	}
}

var errStop = errors.New("the caller stopped following")

// followOnce runs one signed Subscribe call; received says whether any delivery came.
func (c *Client) followOnce(ctx context.Context, req *exchangev1.SubscribeRequest, hubKey *ecdsa.PublicKey, each func(*Change) bool) (received bool, err error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	body, err := deterministic.Marshal(req)
	if err != nil {
		return false, err
	}
	h, err := reqsig.Sign(c.id.Key, c.id.Code, "POST", exchangev1.SubscriptionService_Subscribe_FullMethodName, body, c.now())
	if err != nil {
		return false, err
	}
	stream, err := c.Subscriptions.Subscribe(metadata.AppendToOutgoingContext(ctx, "authorization", h), req)
	if err != nil {
		return false, err
	}
	for {
		d, err := stream.Recv()
		if err != nil {
			if errors.Is(err, io.EOF) {
				return received, nil
			}
			return received, err
		}
		received = true
		result, err := VerifyPull(d.GetResponse(), hubKey)
		if err != nil {
			return received, fmt.Errorf("delivery at cursor %d: %w", d.GetCursor(), err)
		}
		if !each(&Change{Cursor: d.GetCursor(), IdempotencyKey: d.GetIdempotencyKey(), Subject: d.GetSubject(),
			ChangeVersion: d.GetChangeVersion(), Result: result, Response: d.GetResponse()}) {
			return received, errStop
		}
	}
}

// VerifyWebhook checks a delivery the hub POSTed to a webhook: sigHeader (the
// Gxhub-Signature header: base64 of the hub's SM2 signature, DER) over exactly body, with
// hubKey (the key you trust: AuditService.GetLogInfo publishes it), then the pull response
// inside (VerifyPull). It returns the delivery and its verified pull result. Process a
// delivery once per idempotency_key: the hub sends a delivery again until your endpoint
// answers 2xx.
func VerifyWebhook(body []byte, sigHeader string, hubKey *ecdsa.PublicKey) (*exchangev1.Delivery, *exchangev1.PullResult, error) {
	if hubKey == nil {
		return nil, nil, errors.New("no hub key to verify with: fetch it from AuditService.GetLogInfo and keep it")
	}
	sig, err := base64.StdEncoding.DecodeString(sigHeader)
	if err != nil || len(sig) == 0 {
		return nil, nil, errors.New("the Gxhub-Signature header is missing or not base64")
	}
	if err := sm.Verify(hubKey, body, sig); err != nil {
		return nil, nil, fmt.Errorf("the hub's signature over the webhook body does not verify: %w", err)
	}
	var d exchangev1.Delivery
	if err := protojson.Unmarshal(body, &d); err != nil {
		return nil, nil, fmt.Errorf("the signed webhook body is not a Delivery: %w", err)
	}
	res, err := VerifyPull(d.GetResponse(), hubKey)
	if err != nil {
		return nil, nil, err
	}
	return &d, res, nil
}
