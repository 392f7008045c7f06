package server

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"sync"

	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/gxhub/gxhub/exchange"
	exchangev1 "github.com/gxhub/gxhub/sdk/api/exchange/v1"
	"github.com/gxhub/gxhub/sdk/reqsig"
)

// Subscriptions implements gxhub.exchange.v1.SubscriptionService: it runs the subscription
// use case (exchange.Subscriber, which answers every change with exchange.Puller.Pull) and
// sends each delivery with the pull response exactly as PullService.Pull encodes it.
type Subscriptions struct {
	exchangev1.UnimplementedSubscriptionServiceServer
	Subscriber *exchange.Subscriber
	Signer     *PullSigner
	// Dispatcher pushes to registered webhooks (RegisterWebhook, ListWebhooks).
	Dispatcher *WebhookDispatcher
	// Stopping, when closed, ends every stream with Unavailable (the hub is shutting
	// down): clients resume after their last cursor, here once restarted or at a replica.
	Stopping <-chan struct{}
}

// Subscribe follows changes for a case.
func (s *Subscriptions) Subscribe(req *exchangev1.SubscribeRequest, stream grpc.ServerStreamingServer[exchangev1.Delivery]) error {
	return s.follow(stream.Context(), req, stream.Send)
}

func (s *Subscriptions) follow(ctx context.Context, req *exchangev1.SubscribeRequest, send func(*exchangev1.Delivery) error) error {
	caller, err := RequireCaller(ctx)
	if err != nil {
		return err
	}
	in := exchange.SubscribeInput{Caller: caller.Department, Operator: req.GetOperator(), RequirementID: req.GetRequirementId(),
		MatterCode: req.GetMatterCode(), CaseNumber: req.GetCaseNumber(), After: req.GetAfter(), UntilCaughtUp: req.GetUntilCaughtUp()}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stopped := make(chan struct{})
	go func() {
		select {
		case <-s.Stopping:
			close(stopped)
			cancel()
		case <-ctx.Done():
		}
	}()
	cursor := in.After
	err = s.Subscriber.Follow(ctx, in, func(d exchange.Delivery) error {
		resp, err := s.Signer.Response(d.Outcome)
		if err != nil {
			return err
		}
		if err := send(deliveryToProto(d, resp)); err != nil {
			return err
		}
		cursor = d.Change.Seq
		return nil
	})
	select {
	case <-stopped:
		return exchange.Errorf(exchange.KindUnavailable, "HUB_STOPPING", "the hub is shutting down: resume after cursor %d", cursor)
	default:
		return err
	}
}

// ServeREST serves POST /v1/subscriptions:follow (behind HTTPAuth, which authenticates the
// signed body): newline-delimited JSON, {"result": Delivery} per change and, if the
// stream ends with an error, a last {"error": {...}} line (the shape of the other REST
// errors). grpc-gateway's in-process handlers do not stream, so this is served here.
func (s *Subscriptions) ServeREST(log *slog.Logger) func(http.ResponseWriter, *http.Request, map[string]string) {
	json := protojson.MarshalOptions{EmitUnpopulated: true, UseProtoNames: true}
	return func(w http.ResponseWriter, r *http.Request, _ map[string]string) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			WriteHTTPError(w, r, log, exchange.Errorf(exchange.KindInvalid, "BODY_UNREADABLE", "request body could not be read: %v", err))
			return
		}
		req := &exchangev1.SubscribeRequest{}
		if err := protojson.Unmarshal(body, req); err != nil {
			WriteHTTPError(w, r, log, exchange.Errorf(exchange.KindInvalid, ReasonRequestMalformed, "the body is not a SubscribeRequest in JSON: %v", err))
			return
		}
		rc := http.NewResponseController(w)
		started := false
		err = s.follow(r.Context(), req, func(d *exchangev1.Delivery) error {
			b, err := json.Marshal(d)
			if err != nil {
				return err
			}
			if !started {
				w.Header().Set("Content-Type", "application/x-ndjson")
				started = true
			}
			line := append(append([]byte(`{"result":`), b...), "}\n"...)
			if _, err := w.Write(line); err != nil {
				return err
			}
			return rc.Flush()
		})
		if err == nil || r.Context().Err() != nil {
			return
		}
		if !started {
			WriteHTTPError(w, r, log, err)
			return
		}
		// Headers are sent: the error is the stream's last line.
		rec := httptestRecorder{header: http.Header{}}
		WriteHTTPError(&rec, r, log, err)
		_, _ = w.Write(append(append([]byte(`{"error":`), rec.body...), '}', '\n'))
		_ = rc.Flush()
	}
}

// httptestRecorder captures what WriteHTTPError writes, to embed it in a stream line.
type httptestRecorder struct {
	header http.Header
	body   []byte
}

func (r *httptestRecorder) Header() http.Header { return r.header }
func (r *httptestRecorder) WriteHeader(int)     {}
func (r *httptestRecorder) Write(b []byte) (int, error) {
	r.body = append(r.body, trimNewline(b)...)
	return len(b), nil
}

func trimNewline(b []byte) []byte {
	for len(b) > 0 && b[len(b)-1] == '\n' {
		b = b[:len(b)-1]
	}
	return b
}

// ChangeBroadcast wakes subscription followers of this hub when a publish commits
// (exchange.ChangeSignal). Followers of other hubs on the same store find the change at
// their next poll.
type ChangeBroadcast struct {
	mu sync.Mutex
	ch chan struct{}
}

// Changed implements exchange.ChangeSignal.
func (b *ChangeBroadcast) Changed() <-chan struct{} {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.ch == nil {
		b.ch = make(chan struct{})
	}
	return b.ch
}

// Notify wakes every follower waiting now.
func (b *ChangeBroadcast) Notify() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.ch != nil {
		close(b.ch)
		b.ch = nil
	}
}

// SignedStreams are the server-streaming RPCs that carry a signed request: the stream's one
// request message is authenticated like a unary request before the handler sees it.
var SignedStreams = map[string]bool{
	exchangev1.SubscriptionService_Subscribe_FullMethodName: true,
	exchangev1.FreshnessService_FollowAlerts_FullMethodName: true,
}

// signedStream authenticates the request message of a signed server stream on receipt
// and carries the caller in its context from then on.
type signedStream struct {
	grpc.ServerStream
	auth    *Authenticator
	method  string
	digests *sync.Map
	ctx     context.Context
	done    bool
}

func (s *signedStream) Context() context.Context {
	if s.ctx != nil {
		return s.ctx
	}
	return s.ServerStream.Context()
}

func (s *signedStream) RecvMsg(m any) error {
	if err := s.ServerStream.RecvMsg(m); err != nil {
		return err
	}
	d, _ := s.digests.LoadAndDelete(m)
	if s.done {
		return exchange.Errorf(exchange.KindInvalid, "STREAM_REQUEST_INVALID", "%s takes one request message", s.method)
	}
	s.done = true
	digest, _ := d.(string)
	if digest == "" {
		digest = reqsig.BodyDigest(nil)
	}
	ctx := s.ServerStream.Context()
	header := ""
	if md, ok := metadata.FromIncomingContext(ctx); ok {
		if v := md.Get("authorization"); len(v) > 0 {
			header = v[0]
		}
	}
	c, err := s.auth.Authenticate(ctx, header, "POST", s.method, digest)
	if err != nil {
		return err
	}
	s.ctx = WithCaller(ctx, c)
	return nil
}
