package server

import (
	"context"
	"log/slog"
	"sync"

	"google.golang.org/grpc"
	"google.golang.org/grpc/encoding"
	"google.golang.org/grpc/mem"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/proto"

	"github.com/gxhub/gxhub/exchange"
	"github.com/gxhub/gxhub/sdk/reqsig"
)

// PublicMethods are the RPCs callable without a signature (read-only reference data).
// Everything else requires a signed request. The REST side uses PublicPaths, and a test
// checks the two agree with the OpenAPI document.
var PublicMethods = map[string]bool{
	"/gxhub.exchange.v1.CalendarService/GetWorkday":       true,
	"/gxhub.exchange.v1.CalendarService/AddWorkingDays":   true,
	"/gxhub.exchange.v1.CalendarService/CountWorkingDays": true,
	"/gxhub.certs.v1.TrustService/GetTrustBundle":         true,
	"/gxhub.audit.v1.AuditService/GetLogInfo":             true,
	"/gxhub.audit.v1.AuditService/GetTreeHead":            true,
	"/gxhub.audit.v1.AuditService/GetConsistencyProof":    true,
	"/gxhub.audit.v1.AuditService/GetAnchor":              true,

	// Working-day calendar years and publications (F5).
	"/gxhub.exchange.v1.CalendarService/ListCalendarYears":        true,
	"/gxhub.exchange.v1.CalendarService/ListCalendarPublications": true,
}

// PublicStreams are the streaming RPCs served: gRPC server reflection only (v1 and
// v1alpha), so that grpcurl, Postman or Kreya discover the services. It describes the API
// (as /openapi.json does) and reads no data. Every other stream is refused.
var PublicStreams = map[string]bool{
	"/grpc.reflection.v1.ServerReflection/ServerReflectionInfo":      true,
	"/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo": true,
}

// digestCodec is the server's proto codec. It records the SM3 digest of every request
// message's received bytes, so the signature is checked over exactly what arrived.
type digestCodec struct {
	digests *sync.Map // proto.Message pointer → base64url SM3
}

func (digestCodec) Name() string { return "proto" }

func (c digestCodec) Marshal(v any) (mem.BufferSlice, error) {
	b, err := proto.Marshal(v.(proto.Message))
	if err != nil {
		return nil, err
	}
	return mem.BufferSlice{mem.SliceBuffer(b)}, nil
}

func (c digestCodec) Unmarshal(data mem.BufferSlice, v any) error {
	b := data.Materialize()
	if err := proto.Unmarshal(b, v.(proto.Message)); err != nil {
		return err
	}
	c.digests.Store(v, reqsig.BodyDigest(b))
	return nil
}

var _ encoding.CodecV2 = digestCodec{}

// GRPCAuth returns the server options that authenticate every unary RPC: a codec that
// records request digests and an interceptor that verifies the signature in the
// "authorization" metadata, refuses unsigned calls to non-public methods, and maps errors.
func GRPCAuth(a *Authenticator, log *slog.Logger) []grpc.ServerOption {
	digests := &sync.Map{}
	intercept := func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		d, _ := digests.LoadAndDelete(req)
		digest, _ := d.(string)
		header := ""
		if md, ok := metadata.FromIncomingContext(ctx); ok {
			if v := md.Get("authorization"); len(v) > 0 {
				header = v[0]
			}
		}
		if header != "" || !PublicMethods[info.FullMethod] {
			if digest == "" {
				digest = reqsig.BodyDigest(nil)
			}
			// One read of the snapshot version serves the whole request (Snapshots).
			pinned, err := a.Snapshots.Pin(ctx)
			if err != nil {
				return nil, ToStatus(ctx, log, err)
			}
			ctx = pinned
			c, err := a.Authenticate(ctx, header, "POST", info.FullMethod, digest)
			if err != nil {
				return nil, ToStatus(ctx, log, err)
			}
			if err := authorizeOperator(c, info.FullMethod); err != nil {
				return nil, ToStatus(ctx, log, err)
			}
			ctx = WithCaller(ctx, c)
		}
		resp, err := handler(ctx, req)
		return resp, ToStatus(ctx, log, err)
	}
	stream := func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
		if SignedStreams[info.FullMethod] {
			return ToStatus(ss.Context(), log, handler(srv, &signedStream{ServerStream: ss, auth: a, method: info.FullMethod, digests: digests}))
		}
		if !PublicStreams[info.FullMethod] {
			return ToStatus(ss.Context(), log, exchange.Errorf(exchange.KindPermissionDenied, "STREAM_NOT_ALLOWED",
				"%s is not served: gxhub's RPCs are signed, and unary but for SignedStreams", info.FullMethod))
		}
		return handler(srv, &forgetDigests{ServerStream: ss, digests: digests})
	}
	return []grpc.ServerOption{grpc.ForceServerCodecV2(digestCodec{digests: digests}), grpc.ChainUnaryInterceptor(intercept),
		grpc.ChainStreamInterceptor(stream)}
}

// forgetDigests drops the digest the codec recorded for each message a public stream
// receives (only unary requests are authenticated by it), so they do not accumulate.
type forgetDigests struct {
	grpc.ServerStream
	digests *sync.Map
}

func (f *forgetDigests) RecvMsg(m any) error {
	err := f.ServerStream.RecvMsg(m)
	f.digests.Delete(m)
	return err
}
