// Package server is aitutor's HTTP side: configuration, routing, authentication (JWT and roles),
// the REST handlers, the WebSocket upgrade, scheduled jobs, metrics and health.
package server

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/aitutor/aitutor/session"
	"github.com/aitutor/aitutor/store"
)

// Deps are the parts that main wires into the server.
type Deps struct {
	Store     *store.Store
	Providers session.Providers
	Logger    *slog.Logger
	// Now is the clock of the scheduled jobs; time.Now when nil.
	Now func() time.Time
	// Web serves the browser UI at /; nil for none.
	Web http.Handler
}

// Server is the aitutor HTTP server.
type Server struct {
	cfg      Config
	store    *store.Store
	logger   *slog.Logger
	tokens   *Tokens
	echo     *echo.Echo
	registry *prometheus.Registry
	metrics  *httpMetrics
	tutor    *session.Tutor
	sessions *session.Hub
	now      func() time.Time

	greetLimit  *userLimiter  // POST /api/tutor/init per account
	joinLimit   *userLimiter  // POST /api/companies/join per account
	joinIPLimit *userLimiter  // failed POST /api/companies/join per client IP
	uploads     chan struct{} // POST /api/tutor/chat answered at once (MAX_UPLOADS)
}

// New builds the server and its routes.
func New(cfg Config, d Deps) (*Server, error) {
	if d.Store == nil || d.Logger == nil {
		return nil, errors.New("server: Store and Logger are required")
	}
	if err := cfg.RequireJWT(); err != nil {
		return nil, err
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	reg := prometheus.NewRegistry()
	s := &Server{
		cfg:      cfg,
		store:    d.Store,
		logger:   d.Logger,
		tokens:   NewTokens(cfg.JWTSecret, cfg.TokenTTL),
		registry: reg,
		metrics:  newHTTPMetrics(reg),
		now:      d.Now,

		greetLimit:  newUserLimiter(cfg.GreetingRateLimit, max(int(cfg.GreetingRateLimit/2), 3)),
		joinLimit:   newUserLimiter(cfg.JoinRateLimit, max(int(cfg.JoinRateLimit), 1)),
		joinIPLimit: newUserLimiter(cfg.JoinRateLimit, max(int(cfg.JoinRateLimit), 1)),
		uploads:     make(chan struct{}, cfg.MaxUploads),
	}
	tutor, err := session.NewTutor(session.TutorConfig{
		Providers:      d.Providers,
		Store:          d.Store,
		Logger:         d.Logger,
		Voice:          cfg.TTSVoice,
		AudioRetention: cfg.AudioRetention,
		Timeouts:       cfg.Timeouts,
		Registerer:     reg,
	})
	if err != nil {
		return nil, err
	}
	s.tutor = tutor
	s.sessions = session.NewHub(tutor, session.HubConfig{
		IdleTimeout:        cfg.SessionIdleTimeout,
		MaxDuration:        cfg.SessionMaxDuration,
		MaxSessions:        cfg.MaxSessions,
		MaxSessionsPerUser: cfg.MaxSessionsPerUser,
		PongWait:           cfg.PongWait,
		PingPeriod:         cfg.PingPeriod,
		CheckOrigin:        s.originAllowed,
		Registry:           d.Store,
		Instance:           instanceName(),
	})
	s.echo = s.routes(d.Web)
	return s, nil
}

// Handler is the HTTP handler of every route.
func (s *Server) Handler() http.Handler { return s.echo }

func (s *Server) routes(web http.Handler) *echo.Echo {
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.HTTPErrorHandler = s.handleError
	e.IPExtractor = echo.ExtractIPDirect()
	if len(s.cfg.TrustedProxies) > 0 {
		// Behind a reverse proxy the client is the X-Forwarded-For entry before the proxies.
		opts := []echo.TrustOption{echo.TrustLoopback(false), echo.TrustLinkLocal(false), echo.TrustPrivateNet(false)}
		for _, n := range s.cfg.TrustedProxies {
			opts = append(opts, echo.TrustIPRange(n))
		}
		e.IPExtractor = echo.ExtractIPFromXFFHeader(opts...)
	}

	e.Use(middleware.RequestIDWithConfig(middleware.RequestIDConfig{TargetHeader: echo.HeaderXRequestID}))
	e.Use(s.recoverPanics)
	e.Use(s.requestLog())
	e.Use(s.metrics.middleware)
	e.Use(middleware.SecureWithConfig(middleware.SecureConfig{
		XSSProtection:         "0",
		ContentTypeNosniff:    "nosniff",
		XFrameOptions:         "DENY",
		ReferrerPolicy:        "same-origin",
		ContentSecurityPolicy: "default-src 'self'; img-src 'self' data:; media-src 'self' blob: data:; connect-src 'self' ws: wss:; style-src 'self' 'unsafe-inline'; script-src 'self'; frame-ancestors 'none'",
	}))
	if cors := s.cors(); cors != nil {
		e.Use(cors)
	}

	// Operations: anyone (they reveal nothing about users). With METRICS_ADDR set, /metrics is
	// served only on that private listener.
	e.GET("/healthz", s.healthz)
	e.GET("/readyz", s.readyz)
	s.metrics.handler = s.metricsHandler()
	if s.cfg.MetricsAddr == "" {
		e.GET("/metrics", echo.WrapHandler(s.metrics.handler))
	} else {
		e.GET("/metrics", func(echo.Context) error {
			return newError(http.StatusNotFound, "not_found", "metrics are served on METRICS_ADDR")
		})
	}

	api := e.Group("/api", middleware.BodyLimit("1M"))
	// Counted in PostgreSQL: the limit holds across every instance.
	authLimit := middleware.RateLimiterWithConfig(middleware.RateLimiterConfig{
		Store: &sharedLimiter{store: s.store, prefix: "auth:", window: authWindow, limit: authWindowLimit(s.cfg.AuthRateLimit), logger: s.logger},
		DenyHandler: func(c echo.Context, _ string, _ error) error {
			return newError(http.StatusTooManyRequests, "rate_limited", "too many attempts; wait a moment and try again")
		},
	})
	// Anyone (rate limited per client IP).
	api.POST("/auth/signup", s.signup, authLimit)
	api.POST("/auth/login", s.login, authLimit)
	// Anyone: the plans a new account can buy, for the visitors' home page.
	api.GET("/plans/public", s.publicPlans)
	// Anyone holding the unguessable id (audio elements cannot send a bearer token).
	api.GET("/audio/:id", s.audio)

	// Signed-in users.
	user := api.Group("", s.authenticate)
	user.GET("/users/me", s.me)
	user.GET("/membership", s.listPlansForSale)
	user.POST("/membership", s.buyPlan)
	user.POST("/tutor/init", s.tutorInit)
	user.GET("/users/me/usage", s.myUsage)
	user.GET("/conversations", s.listConversations)
	user.GET("/conversations/:id", s.getConversation)
	user.POST("/conversations/:id/review", s.reviewConversation)
	user.GET("/conversations/:id/review", s.getReview)
	user.GET("/users/me/profile", s.myProfile)
	user.DELETE("/users/me/profile", s.forgetProfile)
	user.POST("/companies/join", s.joinCompany)
	user.POST("/companies/leave", s.leaveCompany)
	e.POST("/api/tutor/chat", s.tutorChat, middleware.BodyLimit(fmt.Sprintf("%dB", maxUploadBytes+1<<20)), s.authenticate)
	// The WebSocket upgrades authenticate themselves, so that failures are plain HTTP answers.
	e.GET("/api/tutor/ws", s.tutorWS)
	e.GET("/v1/realtime", s.realtimeWS)

	// Administrators only.
	admin := api.Group("/admin", s.authenticate, requireAdmin)
	admin.POST("/plan", s.adminCreatePlan)
	admin.GET("/plans", s.adminListPlans)
	admin.POST("/plans/:planId/delete", s.adminDeletePlan)
	admin.DELETE("/plans/:planId", s.adminDeletePlan)
	admin.GET("/users", s.adminListUsers)
	admin.GET("/users/:userId", s.adminGetUser)
	admin.GET("/users/:userId/usage", s.adminUserUsage)
	admin.POST("/users/:userId/plans/:planId/assign", s.adminAssignPlan)
	admin.POST("/users/:userId/memberships/:membershipId/delete", s.adminRevokeMembership)
	admin.DELETE("/users/:userId/memberships/:membershipId", s.adminRevokeMembership)
	admin.GET("/metrics/turns", s.adminTurnMetrics)
	admin.GET("/companies", s.adminListCompanies)
	admin.POST("/companies", s.adminCreateCompany)
	admin.GET("/companies/:id", s.adminGetCompany)
	admin.POST("/companies/:id/codes", s.adminAddCompanyCode)
	admin.POST("/companies/:id/codes/:codeId/disable", s.adminDisableCompanyCode)
	admin.POST("/companies/:id/members/:userId/delete", s.adminRemoveCompanyMember)
	admin.POST("/companies/:id/plans/:planId/assign", s.adminAssignPlanToCompany)

	// Unknown /api paths are JSON 404s, never the UI.
	api.Any("/*", func(echo.Context) error { return newError(http.StatusNotFound, "not_found", "no such route") })
	if web != nil {
		e.Match([]string{http.MethodGet, http.MethodHead}, "/*", echo.WrapHandler(web))
	}
	return e
}

// recoverPanics turns a panic in a handler into a logged 500; no panic reaches a client.
func (s *Server) recoverPanics(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) (err error) {
		defer func() {
			if r := recover(); r != nil {
				if r == http.ErrAbortHandler {
					panic(r)
				}
				s.logger.Error("panic in handler", "path", c.Path(), "panic", r,
					"request_id", c.Response().Header().Get(echo.HeaderXRequestID))
				err = fmt.Errorf("panic: %v", r)
			}
		}()
		return next(c)
	}
}

func (s *Server) requestLog() echo.MiddlewareFunc {
	return middleware.RequestLoggerWithConfig(middleware.RequestLoggerConfig{
		LogStatus: true, LogURIPath: true, LogMethod: true, LogLatency: true, LogRequestID: true,
		LogRemoteIP: true, LogError: true, HandleError: true,
		LogValuesFunc: func(c echo.Context, v middleware.RequestLoggerValues) error {
			level := slog.LevelInfo
			if v.Status >= 500 {
				level = slog.LevelError
			} else if v.Status == statusClientClosed {
				level = slog.LevelDebug
			} else if c.Path() == "/healthz" || c.Path() == "/readyz" || c.Path() == "/metrics" || strings.HasPrefix(c.Path(), "/api/audio") {
				level = slog.LevelDebug
			}
			attrs := []slog.Attr{
				slog.String("request_id", v.RequestID), slog.String("method", v.Method),
				slog.String("path", v.URIPath), slog.Int("status", v.Status),
				slog.Float64("ms", float64(v.Latency.Microseconds())/1000), slog.String("ip", v.RemoteIP),
			}
			if u := currentUser(c); u.ID != "" {
				attrs = append(attrs, slog.String("user", u.ID))
			}
			s.logger.LogAttrs(c.Request().Context(), level, "request", attrs...)
			return nil
		},
	})
}

// bindJSON decodes a JSON request body into v: 415 when it is not JSON, 400 when malformed.
func bindJSON(c echo.Context, v any) error {
	req := c.Request()
	if ct := req.Header.Get(echo.HeaderContentType); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || (mt != echo.MIMEApplicationJSON && !strings.HasSuffix(mt, "+json")) {
			return newError(http.StatusUnsupportedMediaType, "unsupported_media_type", "send the body as application/json")
		}
	}
	dec := json.NewDecoder(req.Body)
	if err := dec.Decode(v); err != nil {
		var maxErr *http.MaxBytesError
		var typeErr *json.UnmarshalTypeError
		var httpErr *echo.HTTPError
		switch {
		case errors.Is(err, io.EOF):
			return badRequest("the request body is empty; send a JSON object")
		case errors.As(err, &maxErr), errors.As(err, &httpErr) && httpErr.Code == http.StatusRequestEntityTooLarge:
			return newError(http.StatusRequestEntityTooLarge, "payload_too_large", "the request body is too large")
		case errors.As(err, &typeErr):
			return badRequest("field %q has the wrong type (want %s)", typeErr.Field, typeErr.Type)
		default:
			return badRequest("malformed JSON: %v", err)
		}
	}
	if dec.More() {
		return badRequest("malformed JSON: more than one value in the body")
	}
	return nil
}

// Run serves on the configured port until ctx is cancelled, then shuts down gracefully: stop
// accepting, let live turns finish and close the sessions (1001), stop the jobs.
func (s *Server) Run(ctx context.Context) error {
	sched, err := s.StartJobs()
	if err != nil {
		return err
	}
	// What a crash left unsettled is refunded before new turns start.
	s.reconcileCharges(ctx, s.now())
	ln, err := net.Listen("tcp", fmt.Sprintf(":%d", s.cfg.Port))
	if err != nil {
		sched.Shutdown() //nolint:errcheck
		return fmt.Errorf("server: listen on port %d: %w", s.cfg.Port, err)
	}
	// Slow clients cannot hold connections: the headers within 10 s, a whole request (a 25 MB
	// upload on a slow line included) within ReadTimeout, an answer within WriteTimeout. A
	// WebSocket session sets its own deadlines once upgraded.
	httpServer := &http.Server{
		Handler:           s.echo,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       s.cfg.HTTPReadTimeout,
		WriteTimeout:      s.cfg.HTTPWriteTimeout,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(s.logger.Handler(), slog.LevelWarn),
	}
	errc := make(chan error, 1)
	if s.cfg.TLSCertFile != "" {
		// HTTPS and wss:// on the same port: the official Realtime clients always use wss://.
		httpServer.TLSConfig = &tls.Config{MinVersion: tls.VersionTLS12}
		go func() { errc <- httpServer.ServeTLS(ln, s.cfg.TLSCertFile, s.cfg.TLSKeyFile) }()
	} else {
		go func() { errc <- httpServer.Serve(ln) }()
	}
	if s.cfg.MetricsAddr != "" {
		stopMetrics, err := servePrivate("METRICS_ADDR", s.cfg.MetricsAddr, s.metrics.handler, s.logger)
		if err != nil {
			httpServer.Close()
			sched.Shutdown() //nolint:errcheck
			return err
		}
		defer stopMetrics()
	}
	if s.cfg.DebugAddr != "" {
		stopDebug, err := serveDebug(s.cfg.DebugAddr, s.logger)
		if err != nil {
			httpServer.Close()
			sched.Shutdown() //nolint:errcheck
			return err
		}
		defer stopDebug()
	}
	s.logger.Info("listening", "port", s.cfg.Port, "tls", s.cfg.TLSCertFile != "", "providers", s.tutor.ProviderName())

	select {
	case err := <-errc:
		sched.Shutdown() //nolint:errcheck
		return fmt.Errorf("server: %w", err)
	case <-ctx.Done():
	}
	return s.shutdown(httpServer, sched)
}

// shutdown stops in order, each step under its own deadline: drain the live sessions (their
// turns finish, then 1001 and a retryable event: clients reconnect and continue elsewhere),
// stop HTTP, stop the jobs, let the background writes finish.
func (s *Server) shutdown(httpServer *http.Server, sched interface{ Shutdown() error }) error {
	s.logger.Info("shutting down", "timeout", s.cfg.ShutdownTimeout, "sessions", s.sessions.Live())
	var errs []error
	step := func(name string, d time.Duration, f func(context.Context) error) {
		ctx, cancel := context.WithTimeout(context.Background(), d)
		defer cancel()
		if err := f(ctx); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", name, err))
		}
	}
	step("sessions", s.cfg.ShutdownTimeout, s.sessions.Shutdown)
	step("http", 5*time.Second, httpServer.Shutdown)
	step("jobs", 5*time.Second, func(context.Context) error { return sched.Shutdown() })
	step("writes", 10*time.Second, s.tutor.Close)
	s.logger.Info("stopped")
	return errors.Join(errs...)
}

// Close ends every live session at once and waits for the background writes (tests; Run shuts
// down gracefully instead).
func (s *Server) Close() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	s.sessions.Shutdown(ctx) //nolint:errcheck
	s.tutor.Close(ctx)       //nolint:errcheck
}

// Drain closes the live sessions as a shutdown does (their turns finish, then 1001 and a
// retryable event) without stopping HTTP: tests use it to restart a server under clients.
func (s *Server) Drain(ctx context.Context) error { return s.sessions.Shutdown(ctx) }

// Live is the number of live WebSocket sessions on this instance.
func (s *Server) Live() int { return s.sessions.Live() }

// instanceName names this process among the instances on one database.
func instanceName() string {
	host, _ := os.Hostname()
	return fmt.Sprintf("%s/%d/%d", host, os.Getpid(), time.Now().UnixNano()%1e6)
}
