package server

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// healthz: GET /healthz — anyone: the process is up.
func (s *Server) healthz(c echo.Context) error {
	return c.JSON(http.StatusOK, map[string]string{"status": "ok"})
}

// readyz: GET /readyz — anyone: the database answers and the instance is not draining (a load
// balancer sends new sessions elsewhere during a rolling restart).
func (s *Server) readyz(c echo.Context) error {
	if s.sessions.Draining() {
		return newError(http.StatusServiceUnavailable, "draining", "this instance is shutting down; use another")
	}
	ctx, cancel := context.WithTimeout(c.Request().Context(), 2*time.Second)
	defer cancel()
	if err := s.store.Ping(ctx); err != nil {
		return newError(http.StatusServiceUnavailable, "not_ready", "the database does not answer")
	}
	return c.JSON(http.StatusOK, map[string]string{"status": "ready"})
}

// metricsHandler: GET /metrics — Prometheus text format. Keep it off the public internet with
// the reverse proxy (it exposes counts, not user data).
func (s *Server) metricsHandler() http.Handler {
	s.registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return promhttp.HandlerFor(s.registry, promhttp.HandlerOpts{Registry: s.registry})
}

type httpMetrics struct {
	requests *prometheus.HistogramVec
	handler  http.Handler // /metrics
}

func newHTTPMetrics(reg prometheus.Registerer) *httpMetrics {
	m := &httpMetrics{
		requests: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "aitutor_http_request_duration_seconds",
			Help:    "HTTP request latency by route and status.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}, []string{"method", "route", "status"}),
	}
	reg.MustRegister(m.requests)
	return m
}

func (m *httpMetrics) middleware(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		start := time.Now()
		err := next(c)
		status := c.Response().Status
		if err != nil {
			if ae, _ := toAPIError(err); ae != nil {
				status = ae.Status
			}
			if errors.Is(err, context.Canceled) {
				status = statusClientClosed
			}
		}
		route := c.Path()
		if route == "" || route == "/*" || route == "/api/*" {
			route = "other"
		}
		m.requests.WithLabelValues(c.Request().Method, route, strconv.Itoa(status)).Observe(time.Since(start).Seconds())
		return err
	}
}
