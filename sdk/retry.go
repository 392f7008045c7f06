package sdk

import (
	"context"
	"math/rand/v2"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// RetryPolicy says how often and how patiently a Client retries an idempotent call that
// failed with Unavailable (hub restarting, connection lost) or ResourceExhausted (hub
// shedding load). Only the read-only methods in IdempotentMethods are retried: a call that
// writes (publish, pull, file a requirement, issue a licence, verify — verification and
// pulls append audit records) is never sent twice by the SDK; retry those yourself when you
// know the outcome. Each attempt is signed afresh, because the hub accepts a request nonce
// only once.
type RetryPolicy struct {
	// Attempts is the most calls made, the first included (1 = no retry).
	Attempts int
	// Initial is the wait before the first retry; each further wait doubles, up to Max,
	// with up to 50% random jitter subtracted so that many clients do not retry in step.
	Initial, Max time.Duration
}

// DefaultRetryPolicy is what Dial uses unless WithRetry says otherwise: 4 attempts,
// 200 ms, 400 ms, 800 ms apart (less jitter). The caller's context deadline always wins.
var DefaultRetryPolicy = RetryPolicy{Attempts: 4, Initial: 200 * time.Millisecond, Max: 2 * time.Second}

// WithRetry sets the retry policy of idempotent calls; RetryPolicy{Attempts: 1} turns
// retries off.
func WithRetry(p RetryPolicy) Option { return func(o *options) { o.retry = &p } }

// IdempotentMethods are the full gRPC method names the Client retries: calls that only read
// and leave no audit record, so sending one twice has the same effect as sending it once.
var IdempotentMethods = map[string]bool{
	"/gxhub.admin.v1.AdminService/WhoAmI":                     true,
	"/gxhub.admin.v1.AdminService/ListDepartments":            true,
	"/gxhub.admin.v1.AdminService/GetDepartment":              true,
	"/gxhub.audit.v1.AuditService/GetLogInfo":                 true,
	"/gxhub.audit.v1.AuditService/GetTreeHead":                true,
	"/gxhub.audit.v1.AuditService/GetConsistencyProof":        true,
	"/gxhub.audit.v1.AuditService/GetAnchor":                  true,
	"/gxhub.audit.v1.AuditService/GetInclusionProof":          true,
	"/gxhub.audit.v1.AuditService/GetRecord":                  true,
	"/gxhub.audit.v1.AuditService/SearchRecords":              true,
	"/gxhub.audit.v1.AuditService/ListAnomalies":              true,
	"/gxhub.certs.v1.TrustService/GetTrustBundle":             true,
	"/gxhub.certs.v1.ECertService/ListCertTypes":              true,
	"/gxhub.certs.v1.ECertService/GetECertStatus":             true,
	"/gxhub.certs.v1.ECertService/ListECerts":                 true,
	"/gxhub.certs.v1.SealService/ListSeals":                   true,
	"/gxhub.exchange.v1.CalendarService/GetWorkday":           true,
	"/gxhub.exchange.v1.CalendarService/AddWorkingDays":       true,
	"/gxhub.exchange.v1.CalendarService/CountWorkingDays":     true,
	"/gxhub.exchange.v1.CatalogService/GetResource":           true,
	"/gxhub.exchange.v1.CatalogService/ListResourceVersions":  true,
	"/gxhub.exchange.v1.CatalogService/SearchResources":       true,
	"/gxhub.exchange.v1.FreshnessService/ListFreshness":       true,
	"/gxhub.exchange.v1.FreshnessService/ListFreshnessAlerts": true,
	"/gxhub.exchange.v1.MatterService/GetMatter":              true,
	"/gxhub.exchange.v1.MatterService/ListMatters":            true,
	"/gxhub.exchange.v1.MatterService/GetExemptions":          true,
	"/gxhub.exchange.v1.PolicyService/GetPolicy":              true,
	"/gxhub.exchange.v1.PolicyService/ListPolicyChanges":      true,
	"/gxhub.exchange.v1.RecordService/GetRecordHistory":       true,
	"/gxhub.exchange.v1.ObjectionService/ListObjections":      true,
	"/gxhub.exchange.v1.RequirementService/GetRequirement":    true,
	"/gxhub.exchange.v1.RequirementService/ListRequirements":  true,

	// Working-day calendar years and publications (F5).
	"/gxhub.exchange.v1.CalendarService/ListCalendarYears":        true,
	"/gxhub.exchange.v1.CalendarService/ListCalendarPublications": true,
}

// retryable reports whether a failed attempt may be repeated.
func retryable(err error) bool {
	switch status.Code(err) {
	case codes.Unavailable, codes.ResourceExhausted:
		return true
	}
	return false
}

// retryInterceptor retries idempotent methods. It must be the outer interceptor, with
// signing inside it, so that each attempt carries a fresh signature and nonce.
func retryInterceptor(p RetryPolicy, idempotent map[string]bool) grpc.UnaryClientInterceptor {
	return func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
		if p.Attempts <= 1 || !idempotent[method] {
			return invoker(ctx, method, req, reply, cc, opts...)
		}
		wait := p.Initial
		for attempt := 1; ; attempt++ {
			err := invoker(ctx, method, req, reply, cc, opts...)
			if err == nil || attempt >= p.Attempts || !retryable(err) {
				return err
			}
			d := wait
			if d > 0 {
				d -= rand.N(d/2 + 1)
			}
			t := time.NewTimer(d)
			select {
			case <-ctx.Done():
				t.Stop()
				return err
			case <-t.C:
			}
			if wait *= 2; p.Max > 0 && wait > p.Max {
				wait = p.Max
			}
		}
	}
}
