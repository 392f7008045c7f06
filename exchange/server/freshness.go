package server

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/gxhub/gxhub/certs/sm"
	"github.com/gxhub/gxhub/exchange"
	"github.com/gxhub/gxhub/exchange/store"
	"github.com/gxhub/gxhub/ledger"
	exchangev1 "github.com/gxhub/gxhub/sdk/api/exchange/v1"
)

// FreshnessOf measures one resource's staleness at now (A5). A store failure reading the
// last update makes the resource count as stale with the failure as its status.
func FreshnessOf(ctx context.Context, s store.Store, cal exchange.WorkingTimer, r *exchange.Resource, now time.Time) exchange.Freshness {
	last, err := s.Records().LastUpdate(ctx, r.Code)
	if err != nil {
		return exchange.Freshness{Resource: r.Code, Limit: r.FreshnessLimit, Stale: true, CalendarStatus: "last update unreadable: " + err.Error()}
	}
	return exchange.ComputeFreshness(cal, r, last, now)
}

// FreshnessToProto converts for the wire.
func FreshnessToProto(f exchange.Freshness, provider string) *exchangev1.ResourceFreshness {
	out := &exchangev1.ResourceFreshness{Resource: f.Resource, Provider: provider, WorkingAge: durationpb.New(f.WorkingAge),
		LimitWorkingDays: int32(f.Limit), Stale: f.Stale, Status: f.CalendarStatus, Provisional: f.Provisional}
	if !f.LastUpdate.IsZero() {
		out.LastUpdate = timestamppb.New(f.LastUpdate)
	}
	return out
}

// Freshness implements gxhub.exchange.v1.FreshnessService: the freshness view, providers'
// alerts, heartbeats, and Prometheus gauges.
type Freshness struct {
	exchangev1.UnimplementedFreshnessServiceServer
	Store    store.Store
	Calendar exchange.WorkingTimer
	// Audit records every heartbeat: a bare heartbeat makes a stale resource fresh.
	Audit *store.AuditWriter
	Log   *slog.Logger
	Now   func() time.Time
	// Changes wakes alert followers at every publish and heartbeat (and is notified by
	// Heartbeat); AlertPoll is how often they measure again otherwise (default 1 min).
	Changes   *ChangeBroadcast
	AlertPoll time.Duration
	// Stopping, when closed, ends the alert streams (the hub is shutting down).
	Stopping <-chan struct{}
}

func (s *Freshness) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

type resourceFreshness struct {
	res *exchange.Resource
	f   exchange.Freshness
}

// all measures every catalogued resource (ordered by code).
func (s *Freshness) all(ctx context.Context, provider string) ([]resourceFreshness, time.Time, error) {
	now := s.now().UTC()
	last, err := s.Store.Records().LastUpdates(ctx)
	if err != nil {
		return nil, now, err
	}
	var out []resourceFreshness
	after := ""
	for {
		page, err := s.Store.Catalog().Search(ctx, store.ResourceFilter{Provider: provider}, after, 1000)
		if err != nil {
			return nil, now, err
		}
		for _, r := range page {
			out = append(out, resourceFreshness{r, exchange.ComputeFreshness(s.Calendar, r, last[r.Code], now)})
		}
		if len(page) < 1000 {
			return out, now, nil
		}
		after = page[len(page)-1].Code
	}
}

// ListFreshness lists every resource's freshness.
func (s *Freshness) ListFreshness(ctx context.Context, req *exchangev1.ListFreshnessRequest) (*exchangev1.ListFreshnessResponse, error) {
	if _, err := RequireCaller(ctx); err != nil {
		return nil, err
	}
	all, now, err := s.all(ctx, "")
	if err != nil {
		return nil, err
	}
	resp := &exchangev1.ListFreshnessResponse{AsOf: timestamppb.New(now)}
	for _, rf := range all {
		if req.GetStaleOnly() && !rf.f.Stale {
			continue
		}
		resp.Resources = append(resp.Resources, FreshnessToProto(rf.f, rf.res.Provider))
	}
	return resp, nil
}

// ListFreshnessAlerts lists the caller's stale resources.
func (s *Freshness) ListFreshnessAlerts(ctx context.Context, _ *exchangev1.ListFreshnessAlertsRequest) (*exchangev1.ListFreshnessAlertsResponse, error) {
	c, err := RequireCaller(ctx)
	if err != nil {
		return nil, err
	}
	all, now, err := s.all(ctx, c.Department.Code)
	if err != nil {
		return nil, err
	}
	resp := &exchangev1.ListFreshnessAlertsResponse{AsOf: timestamppb.New(now)}
	for _, rf := range all {
		if rf.f.Stale {
			resp.Resources = append(resp.Resources, FreshnessToProto(rf.f, rf.res.Provider))
		}
	}
	return resp, nil
}

// Heartbeat lets a provider declare a resource live.
func (s *Freshness) Heartbeat(ctx context.Context, req *exchangev1.HeartbeatRequest) (*exchangev1.ResourceFreshness, error) {
	c, err := RequireRole(ctx, exchange.RoleProvider)
	if err != nil {
		return nil, err
	}
	r, err := s.Store.Catalog().Get(ctx, req.GetResource(), 0)
	if err != nil {
		return nil, err
	}
	if r.Provider != c.Department.Code {
		return nil, exchange.Errorf(exchange.KindPermissionDenied, "NOT_RESOURCE_PROVIDER",
			"department %s does not provide resource %s (its provider is %s): only the provider declares it live", c.Department.Code, r.Code, r.Provider)
	}
	now := s.now().UTC()
	before := FreshnessOf(ctx, s.Store, s.Calendar, r, now)
	what := "heartbeat: live now; last update before it "
	if before.LastUpdate.IsZero() {
		what += "none"
	} else {
		what += before.LastUpdate.UTC().Format(time.RFC3339)
	}
	if before.Stale {
		what += fmt.Sprintf(" (stale: past its %d working days; the heartbeat makes it fresh)", before.Limit)
	}
	digest := sm.Sum([]byte(c.Evidence))
	if _, err := auditedWrite(ctx, s.Audit, func(ctx context.Context) (ledger.Record, error) {
		if err := s.Store.Records().Heartbeat(ctx, r.Code, now); err != nil {
			return ledger.Record{}, err
		}
		return ledger.Record{Kind: KindHeartbeat, Time: now, Department: c.Department.Code, Resource: r.Code, Outcome: ledger.OutcomeOK,
			Reason: what, ResponseDigest: digest[:]}, nil
	}); err != nil {
		return nil, err
	}
	if s.Changes != nil {
		s.Changes.Notify() // alert followers measure again: the resource may be fresh again
	}
	return FreshnessToProto(exchange.ComputeFreshness(s.Calendar, r, now, now), r.Provider), nil
}

// NewFreshnessCollector returns a Prometheus collector exporting, per resource,
// gxhub_resource_stale (1 when stale), gxhub_resource_working_age_seconds and
// gxhub_resource_freshness_limit_working_days, measured at each scrape.
func NewFreshnessCollector(s *Freshness) prometheus.Collector { return &freshnessCollector{s: s} }

var (
	staleDesc = prometheus.NewDesc("gxhub_resource_stale", "1 when the resource is past its freshness limit (or cannot be measured), else 0.", []string{"resource", "provider"}, nil)
	ageDesc   = prometheus.NewDesc("gxhub_resource_working_age_seconds", "Working time since the resource's last publish or heartbeat.", []string{"resource", "provider"}, nil)
	limitDesc = prometheus.NewDesc("gxhub_resource_freshness_limit_working_days", "The resource's freshness limit in working days.", []string{"resource", "provider"}, nil)
)

type freshnessCollector struct{ s *Freshness }

func (c *freshnessCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- staleDesc
	ch <- ageDesc
	ch <- limitDesc
}

func (c *freshnessCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	all, _, err := c.s.all(ctx, "")
	if err != nil {
		ch <- prometheus.NewInvalidMetric(staleDesc, err)
		return
	}
	for _, rf := range all {
		stale := 0.0
		if rf.f.Stale {
			stale = 1
		}
		ch <- prometheus.MustNewConstMetric(staleDesc, prometheus.GaugeValue, stale, rf.res.Code, rf.res.Provider)
		ch <- prometheus.MustNewConstMetric(ageDesc, prometheus.GaugeValue, rf.f.WorkingAge.Seconds(), rf.res.Code, rf.res.Provider)
		ch <- prometheus.MustNewConstMetric(limitDesc, prometheus.GaugeValue, float64(rf.f.Limit), rf.res.Code, rf.res.Provider)
	}
}
