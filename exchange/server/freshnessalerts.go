package server

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/gxhub/gxhub/exchange"
	exchangev1 "github.com/gxhub/gxhub/sdk/api/exchange/v1"
)

// Freshness alert states.
const (
	AlertStale = "stale"
	AlertFresh = "fresh"
)

// FollowAlerts pushes the caller's freshness alerts (A5: providers are alerted): first
// its resources stale now, then one alert each time one of its resources becomes stale
// or fresh again. Staleness is measured again at every publish and heartbeat of this hub
// (Changes) and every AlertPoll (working time passes without any event).
func (s *Freshness) FollowAlerts(req *exchangev1.FollowAlertsRequest, stream grpc.ServerStreamingServer[exchangev1.FreshnessAlert]) error {
	return s.followAlerts(stream.Context(), req, stream.Send)
}

func (s *Freshness) followAlerts(ctx context.Context, req *exchangev1.FollowAlertsRequest, send func(*exchangev1.FreshnessAlert) error) error {
	c, err := RequireRole(ctx, exchange.RoleProvider)
	if err != nil {
		return err
	}
	poll := s.AlertPoll
	if poll <= 0 {
		poll = time.Minute
	}
	stale := map[string]bool{} // as last sent; absent: fresh, nothing sent
	for {
		var wake <-chan struct{}
		if s.Changes != nil {
			wake = s.Changes.Changed() // before measuring: a publish after it still wakes us
		}
		all, now, err := s.all(ctx, c.Department.Code)
		if err != nil {
			return err
		}
		for _, rf := range all {
			if rf.f.Stale == stale[rf.res.Code] {
				continue
			}
			state := AlertFresh
			if rf.f.Stale {
				state = AlertStale
			}
			if err := send(&exchangev1.FreshnessAlert{State: state, Freshness: FreshnessToProto(rf.f, rf.res.Provider), At: timestamppb.New(now)}); err != nil {
				return err
			}
			stale[rf.res.Code] = rf.f.Stale
		}
		if req.GetUntilCaughtUp() {
			return nil
		}
		t := time.NewTimer(poll)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-s.Stopping:
			t.Stop()
			return exchange.Errorf(exchange.KindUnavailable, "HUB_STOPPING", "the hub is shutting down: follow the alerts again (the resources stale then are sent first)")
		case <-wake:
		case <-t.C:
		}
		t.Stop()
	}
}

// ServeAlertsREST serves POST /v1/freshness/alerts:follow (behind HTTPAuth): newline-
// delimited JSON, {"result": FreshnessAlert} per alert, a last {"error": …} line if the
// stream ends with an error.
func (s *Freshness) ServeAlertsREST(log *slog.Logger) func(http.ResponseWriter, *http.Request, map[string]string) {
	return serveNDJSON(log, func() proto.Message { return &exchangev1.FollowAlertsRequest{} },
		func(ctx context.Context, req proto.Message, send func(proto.Message) error) error {
			return s.followAlerts(ctx, req.(*exchangev1.FollowAlertsRequest), func(a *exchangev1.FreshnessAlert) error { return send(a) })
		})
}

// serveNDJSON serves a server stream over REST as newline-delimited JSON (grpc-gateway's
// in-process handlers do not stream).
func serveNDJSON(log *slog.Logger, newReq func() proto.Message, follow func(ctx context.Context, req proto.Message, send func(proto.Message) error) error) func(http.ResponseWriter, *http.Request, map[string]string) {
	json := protojson.MarshalOptions{EmitUnpopulated: true, UseProtoNames: true}
	return func(w http.ResponseWriter, r *http.Request, _ map[string]string) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			WriteHTTPError(w, r, log, exchange.Errorf(exchange.KindInvalid, "BODY_UNREADABLE", "request body could not be read: %v", err))
			return
		}
		req := newReq()
		if err := protojson.Unmarshal(body, req); err != nil {
			WriteHTTPError(w, r, log, exchange.Errorf(exchange.KindInvalid, ReasonRequestMalformed, "the body is not a %s in JSON: %v", req.ProtoReflect().Descriptor().Name(), err))
			return
		}
		rc := http.NewResponseController(w)
		started := false
		err = follow(r.Context(), req, func(m proto.Message) error {
			b, err := json.Marshal(m)
			if err != nil {
				return err
			}
			if !started {
				w.Header().Set("Content-Type", "application/x-ndjson")
				started = true
			}
			if _, err := w.Write(append(append([]byte(`{"result":`), b...), "}\n"...)); err != nil {
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
		rec := httptestRecorder{header: http.Header{}}
		WriteHTTPError(&rec, r, log, err)
		_, _ = w.Write(append(append([]byte(`{"error":`), rec.body...), '}', '\n'))
		_ = rc.Flush()
	}
}
