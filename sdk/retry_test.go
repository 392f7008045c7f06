package sdk

import (
	"context"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"

	"github.com/gxhub/gxhub/certs/sm"
	adminv1 "github.com/gxhub/gxhub/sdk/api/admin/v1"
	"github.com/gxhub/gxhub/sdk/identity"
	"github.com/gxhub/gxhub/sdk/reqsig"
)

// flakyAdmin fails the first failures calls of each method with code, and records the
// signature header of every attempt.
type flakyAdmin struct {
	adminv1.UnimplementedAdminServiceServer
	code     codes.Code
	failures int
	mu       sync.Mutex
	headers  map[string][]string
	bodies   map[string][][]byte
}

func (f *flakyAdmin) attempt(ctx context.Context, method string, req proto.Message) error {
	md, _ := metadata.FromIncomingContext(ctx)
	body, _ := proto.MarshalOptions{Deterministic: true}.Marshal(req)
	f.mu.Lock()
	defer f.mu.Unlock()
	f.headers[method] = append(f.headers[method], md.Get("authorization")...)
	f.bodies[method] = append(f.bodies[method], body)
	if len(f.headers[method]) <= f.failures {
		return status.Error(f.code, "hub busy")
	}
	return nil
}

func (f *flakyAdmin) WhoAmI(ctx context.Context, req *adminv1.WhoAmIRequest) (*adminv1.WhoAmIResponse, error) {
	if err := f.attempt(ctx, "/gxhub.admin.v1.AdminService/WhoAmI", req); err != nil {
		return nil, err
	}
	return &adminv1.WhoAmIResponse{}, nil
}

func (f *flakyAdmin) RegisterDepartment(ctx context.Context, req *adminv1.RegisterDepartmentRequest) (*adminv1.RegisterDepartmentResponse, error) {
	if err := f.attempt(ctx, "/gxhub.admin.v1.AdminService/RegisterDepartment", req); err != nil {
		return nil, err
	}
	return &adminv1.RegisterDepartmentResponse{}, nil
}

func TestRetryResignsIdempotentCallsOnly(t *testing.T) {
	key, err := sm.GenerateKey()
	require.NoError(t, err)
	id := &identity.Identity{Code: "11500000000000019A", Key: key}
	fast := RetryPolicy{Attempts: 4, Initial: time.Millisecond, Max: 4 * time.Millisecond}
	for _, tc := range []struct {
		name     string
		code     codes.Code
		failures int
		policy   *RetryPolicy
		method   string
		call     func(*Client) error
		wantCode codes.Code
		attempts int
	}{
		{"unavailable then success", codes.Unavailable, 2, &fast, "/gxhub.admin.v1.AdminService/WhoAmI", whoami, codes.OK, 3},
		{"resource exhausted then success", codes.ResourceExhausted, 3, &fast, "/gxhub.admin.v1.AdminService/WhoAmI", whoami, codes.OK, 4},
		{"gives up after the attempts", codes.Unavailable, 10, &fast, "/gxhub.admin.v1.AdminService/WhoAmI", whoami, codes.Unavailable, 4},
		{"other codes are not retried", codes.PermissionDenied, 10, &fast, "/gxhub.admin.v1.AdminService/WhoAmI", whoami, codes.PermissionDenied, 1},
		{"writes are never retried", codes.Unavailable, 2, &fast, "/gxhub.admin.v1.AdminService/RegisterDepartment", register, codes.Unavailable, 1},
		{"retries off", codes.Unavailable, 2, &RetryPolicy{Attempts: 1}, "/gxhub.admin.v1.AdminService/WhoAmI", whoami, codes.Unavailable, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := &flakyAdmin{code: tc.code, failures: tc.failures, headers: map[string][]string{}, bodies: map[string][][]byte{}}
			gs := grpc.NewServer()
			adminv1.RegisterAdminServiceServer(gs, srv)
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			require.NoError(t, err)
			go func() { _ = gs.Serve(ln) }()
			t.Cleanup(gs.Stop)
			c, err := Dial(context.Background(), id, WithURL("http://"+ln.Addr().String()), WithRetry(*tc.policy))
			require.NoError(t, err)
			t.Cleanup(func() { _ = c.Close() })

			err = tc.call(c)
			require.Equal(t, tc.wantCode, status.Code(err), "%v", err)
			hs := srv.headers[tc.method]
			require.Len(t, hs, tc.attempts)
			nonces := map[string]bool{}
			for i, h := range hs {
				r, err := reqsig.Parse(h)
				require.NoError(t, err)
				claims, err := r.Verify(&key.PublicKey, reqsig.Expect{Method: "POST", Path: tc.method, Body: srv.bodies[tc.method][i], Now: time.Now()})
				require.NoError(t, err, "attempt %d carries a valid signature", i+1)
				require.False(t, nonces[claims.Nonce], "attempt %d reuses a nonce", i+1)
				nonces[claims.Nonce] = true
			}
		})
	}
}

func whoami(c *Client) error {
	_, err := c.Admin.WhoAmI(context.Background(), &adminv1.WhoAmIRequest{})
	return err
}

func register(c *Client) error {
	_, err := c.Admin.RegisterDepartment(context.Background(), &adminv1.RegisterDepartmentRequest{PublicKeyPem: "x"})
	return err
}

// TestIdempotentMethodsExist keeps the retry set in step with the protos: a renamed RPC
// would silently lose its retries.
func TestIdempotentMethodsExist(t *testing.T) {
	for m := range IdempotentMethods {
		t.Run(m, func(t *testing.T) {
			svc, name, ok := cutMethod(m)
			require.True(t, ok, "method %q must look like /pkg.Service/Method", m)
			d, err := protoregistry.GlobalFiles.FindDescriptorByName(protoreflect.FullName(svc))
			require.NoError(t, err, "service of %s", m)
			sd, ok := d.(protoreflect.ServiceDescriptor)
			require.True(t, ok)
			require.NotNil(t, sd.Methods().ByName(protoreflect.Name(name)), "%s has no method %s", svc, name)
		})
	}
}

func cutMethod(m string) (svc, name string, ok bool) {
	if len(m) < 2 || m[0] != '/' {
		return "", "", false
	}
	for i := len(m) - 1; i > 0; i-- {
		if m[i] == '/' {
			return m[1:i], m[i+1:], i > 1 && i < len(m)-1
		}
	}
	return "", "", false
}
