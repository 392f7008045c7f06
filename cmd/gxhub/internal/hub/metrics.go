package hub

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"
	"google.golang.org/grpc/status"
)

type metrics struct {
	rpcs    *prometheus.CounterVec
	rpcTime *prometheus.HistogramVec
	rest    *prometheus.CounterVec
	// inFlight counts requests being served (gRPC and REST): a drain waits for it to
	// reach zero.
	inFlight prometheus.Gauge
}

func newMetrics(reg *prometheus.Registry) *metrics {
	m := &metrics{
		rpcs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gxhub_grpc_requests_total", Help: "gRPC requests by method and status code.",
		}, []string{"method", "code"}),
		rpcTime: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "gxhub_request_duration_seconds", Help: "Request latency by transport and method.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
		}, []string{"transport", "method"}),
		rest: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gxhub_http_requests_total", Help: "REST requests by method and HTTP status.",
		}, []string{"method", "status"}),
		inFlight: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "gxhub_requests_in_flight", Help: "Requests (gRPC and REST) being served now; a graceful shutdown waits for them.",
		}),
	}
	reg.MustRegister(m.rpcs, m.rpcTime, m.rest, m.inFlight)
	return m
}

func (m *metrics) unary(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	start := time.Now()
	m.inFlight.Inc()
	defer m.inFlight.Dec()
	resp, err := handler(ctx, req)
	m.rpcs.WithLabelValues(info.FullMethod, status.Code(err).String()).Inc()
	m.rpcTime.WithLabelValues("grpc", info.FullMethod).Observe(time.Since(start).Seconds())
	return resp, err
}

type statusRecorder struct {
	http.ResponseWriter
	code int
}

// Unwrap lets http.ResponseController reach the connection (a streamed response flushes).
func (r *statusRecorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

func (r *statusRecorder) WriteHeader(code int) {
	r.code = code
	r.ResponseWriter.WriteHeader(code)
}

func (m *metrics) http(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		m.inFlight.Inc()
		defer m.inFlight.Dec()
		rec := &statusRecorder{ResponseWriter: w, code: http.StatusOK}
		next.ServeHTTP(rec, r)
		// Label by method only: paths carry codes and ids (unbounded cardinality).
		m.rest.WithLabelValues(r.Method, strconv.Itoa(rec.code)).Inc()
		m.rpcTime.WithLabelValues("rest", r.Method).Observe(time.Since(start).Seconds())
	})
}
