package hub_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"google.golang.org/genproto/googleapis/api/annotations"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"

	"github.com/gxhub/gxhub/exchange/store/storetest"
	"github.com/gxhub/gxhub/ledger"
	"github.com/gxhub/gxhub/ledger/sm2sig"
	"github.com/gxhub/gxhub/ledger/verify"
	auditv1 "github.com/gxhub/gxhub/sdk/api/audit/v1"
	"github.com/gxhub/gxhub/sdk/api/convert"
	exchangev1 "github.com/gxhub/gxhub/sdk/api/exchange/v1"
	"github.com/gxhub/gxhub/sdk/identity"
)

// TestAuditRoutesKeepOtherDepartmentsLeaves enumerates every index of a real hub's audit
// log and calls every RPC of the audit API (AuditService, EvidenceService, any added to
// gxhub.audit.v1), over gRPC and over its REST route(s), as 渝北 (a
// consumer): no answer may carry a record another department acted in — its leaf, its
// subject key or its request id. 渝北's own records and an auditor's reads keep working.
// A new audit RPC is covered automatically (its REST routes come from its HTTP rule).
func TestAuditRoutesKeepOtherDepartmentsLeaves(t *testing.T) {
	ctx := context.Background()
	dh := startDataHub(t, cst("2026-03-02 09:00"))
	a := storetest.IDNumber(31)
	dh.publish(t, "batch-1", a) // 公安局's publish record
	dh.openCase(t, "YB-A-1", matter1, a)
	_, err := dh.c(dh.yubei).Pulls.Pull(ctx, &exchangev1.PullRequest{RequirementId: dh.granted, MatterCode: matter1, CaseNumber: "YB-A-1", Subjects: []string{a}})
	require.NoError(t, err) // 渝北's own pull record
	_, err = dh.c(dh.sc).Pulls.Pull(ctx, &exchangev1.PullRequest{RequirementId: dh.other, MatterCode: matter1, CaseNumber: "SC-NONE", Subjects: []string{a}})
	require.Error(t, err) // 市场监管局's refused pull of the same subject, audited under its name
	// From here the hub runs on the wall clock: signatures are checked against it.
	dh.clock.Set(time.Now())
	entries := dh.auditFrom(t, 0)
	size := uint64(len(entries))
	// Every record is covered by a signed head before the probes.
	require.Eventually(t, func() bool {
		h, err := dh.c(dh.yubei).Audit.GetTreeHead(ctx, &auditv1.GetTreeHeadRequest{})
		return err == nil && h.GetTreeSize() >= size
	}, 30*time.Second, 20*time.Millisecond)

	// What 渝北 must never see: anything identifying another department's record.
	type secret struct {
		index uint64
		what  string
		grpc  []byte // as it would appear in a protobuf answer
		rest  string // as it would appear in a JSON answer
	}
	var secrets []secret
	var own, others int
	ownSubjects := map[ledger.SubjectKey]bool{} // 渝北 knows these from its own records
	for _, e := range entries {
		if e.Record.Department == dh.yubei.Code {
			own++
			ownSubjects[e.Record.Subject] = true
		}
	}
	for _, e := range entries {
		if e.Record.Department == dh.yubei.Code {
			continue
		}
		others++
		secrets = append(secrets, secret{e.Index, "leaf", e.Leaf, base64.StdEncoding.EncodeToString(e.Leaf)})
		if !e.Record.Subject.IsZero() && !ownSubjects[e.Record.Subject] {
			secrets = append(secrets, secret{e.Index, "subject key", []byte(e.Record.Subject.String()), e.Record.Subject.String()})
		}
		if len(e.Record.RequestID) >= 16 {
			secrets = append(secrets, secret{e.Index, "request id", []byte(e.Record.RequestID), e.Record.RequestID})
		}
	}
	require.Positive(t, own, "渝北 acted in some records")
	require.Positive(t, others, "others acted in some records")

	var services []protoreflect.ServiceDescriptor // every service of the audit API
	protoregistry.GlobalFiles.RangeFilesByPackage("gxhub.audit.v1", func(fd protoreflect.FileDescriptor) bool {
		for i := 0; i < fd.Services().Len(); i++ {
			services = append(services, fd.Services().Get(i))
		}
		return true
	})
	require.NotEmpty(t, services)
	// request sets the index-like fields of an RPC's request to probe record i.
	request := func(md protoreflect.MethodDescriptor, i uint64) (proto.Message, url.Values) {
		mt, err := protoregistry.GlobalTypes.FindMessageByName(md.Input().FullName())
		require.NoError(t, err)
		msg := mt.New()
		q := url.Values{}
		set := func(name string, v uint64) {
			if f := md.Input().Fields().ByName(protoreflect.Name(name)); f != nil {
				msg.Set(f, protoreflect.ValueOfUint64(v))
				q.Set(name, fmt.Sprint(v))
			}
		}
		set("index", i)
		set("height", i+1)
		set("size1", i)
		set("size2", size)
		if f := md.Input().Fields().ByName("subject"); f != nil { // SubjectUsage, SearchRecords
			msg.Set(f, protoreflect.ValueOfString(a))
			q.Set("subject", a)
		}
		if f := md.Input().Fields().ByName("holder_reference"); f != nil {
			msg.Set(f, protoreflect.ValueOfString("probe"))
			q.Set("holder_reference", "probe")
		}
		return msg.Interface(), q
	}
	conn := (&testHub{url: dh.yubei.HubURL}).rawConn(t, dh.yubei.TLSCAPEM, dh.yubei)
	rp := newRESTProbe(t, dh)
	restCall := func(id *identity.Identity, method, pattern string, i uint64, q url.Values) (int, string) {
		path := strings.ReplaceAll(pattern, "{index}", fmt.Sprint(i))
		var body []byte
		if method == http.MethodGet {
			q.Del("index")
			if len(q) > 0 {
				path += "?" + q.Encode()
			}
		} else {
			m := map[string]any{}
			for k := range q {
				m[k] = q.Get(k)
			}
			body, err = json.Marshal(m)
			require.NoError(t, err)
		}
		req, err := http.NewRequestWithContext(ctx, method, dh.yubei.HubURL+path, bytes.NewReader(body))
		require.NoError(t, err)
		req.Header.Set("Authorization", rp.sign(t, id, time.Now(), method, path, body))
		req.Header.Set("Content-Type", "application/json")
		resp, err := rp.hc.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		raw, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		return resp.StatusCode, string(raw)
	}

	for _, service := range services {
		for j := 0; j < service.Methods().Len(); j++ {
			md := service.Methods().Get(j)
			rule, _ := proto.GetExtension(md.Options(), annotations.E_Http).(*annotations.HttpRule)
			require.NotNil(t, rule, "%s has no REST route", md.Name())
			routes := [][2]string{}
			for _, r := range append([]*annotations.HttpRule{rule}, rule.GetAdditionalBindings()...) {
				switch {
				case r.GetGet() != "":
					routes = append(routes, [2]string{http.MethodGet, r.GetGet()})
				case r.GetPost() != "":
					routes = append(routes, [2]string{http.MethodPost, r.GetPost()})
				default:
					t.Fatalf("%s: a REST verb this test does not probe: %v", md.Name(), r)
				}
			}
			t.Run(string(md.Name()), func(t *testing.T) {
				full := "/" + string(service.FullName()) + "/" + string(md.Name())
				mt, err := protoregistry.GlobalTypes.FindMessageByName(md.Output().FullName())
				require.NoError(t, err)
				for i := uint64(0); i < size; i++ {
					req, q := request(md, i)
					out := mt.New().Interface()
					err := conn.Invoke(ctx, full, req, out)
					require.NotEqual(t, codes.Unauthenticated, status.Code(err), "the probe must be authenticated: %v", err)
					if err == nil {
						b, err := proto.Marshal(out)
						require.NoError(t, err)
						for _, s := range secrets {
							require.False(t, bytes.Contains(b, s.grpc), "gRPC %s(%d) gave 渝北 the %s of record %d of another department", md.Name(), i, s.what, s.index)
						}
					}
					for _, r := range routes {
						code, body := restCall(dh.yubei, r[0], r[1], i, q)
						require.NotEqual(t, http.StatusUnauthorized, code, "the probe must be authenticated: %s", body)
						for _, s := range secrets {
							require.NotContains(t, body, s.rest, "%s %s (record %d, status %d) gave 渝北 the %s of record %d of another department", r[0], r[1], i, code, s.what, s.index)
						}
					}
				}
			})
		}
	}

	t.Run("own records and auditors keep their leaves", func(t *testing.T) {
		logKey, err := sm2sig.NewVerifier(dh.h.Audit.Signer.Public())
		require.NoError(t, err)
		for _, e := range entries {
			p, err := dh.c(dh.yubei).Audit.GetInclusionProof(ctx, &auditv1.GetInclusionProofRequest{Index: e.Index})
			require.NoError(t, err, "any signed department gets the path")
			require.NotEmpty(t, p.GetHashes())
			if e.Record.Department == dh.yubei.Code {
				require.Equal(t, e.Leaf, p.GetLeaf(), "the department that acted gets its own leaf")
				_, err := dh.c(dh.yubei).AuditReceipt(ctx, e.Index)
				require.NoError(t, err)
			} else {
				require.Empty(t, p.GetLeaf(), "record %d by %s", e.Index, e.Record.Department)
				_, err := dh.c(dh.yubei).AuditReceipt(ctx, e.Index)
				require.ErrorContains(t, err, "without its leaf")
			}
			code, body := restCall(dh.coordinator, http.MethodGet, "/v1/audit/records/{index}/proof", e.Index, url.Values{})
			require.Equal(t, http.StatusOK, code, body)
			require.Contains(t, body, base64.StdEncoding.EncodeToString(e.Leaf), "an auditor gets every leaf")
			// The path without the leaf still proves the leaf to whoever holds it.
			require.NoError(t, verify.Inclusion(logKey, convert.HeadFromProto(p.GetHead()), e.Index, e.Leaf, p.GetHashes()))
		}
	})
}
