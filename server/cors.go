package server

import (
	"slices"
	"strings"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"
)

// cors answers browsers that call the API from the origins in ALLOWED_ORIGINS; nil when it is
// unset (same origin only: browsers need no CORS headers then).
//
// Listed origins may call with credentials (Access-Control-Allow-Credentials: true, and the
// caller's exact origin, never *), on preflights and on every answer, errors included: the
// prototype's frontend sends each request with axios's withCredentials, and Chromium refuses
// such a request's answer without them. That grants a listed origin nothing more than its
// bearer token does: aitutor reads no cookies. With "*" anywhere in the list any origin may
// call, but never with credentials (browsers refuse credentials with *, and reflecting every
// Origin with credentials would hand them to any site).
func (s *Server) cors() echo.MiddlewareFunc {
	if len(s.cfg.AllowedOrigins) == 0 {
		return nil
	}
	cfg := middleware.CORSConfig{
		AllowHeaders:  []string{echo.HeaderAuthorization, echo.HeaderContentType, "Idempotency-Key"},
		ExposeHeaders: []string{echo.HeaderXRequestID, "Idempotent-Replayed"},
		MaxAge:        600,
	}
	if slices.Contains(s.cfg.AllowedOrigins, "*") {
		cfg.AllowOrigins = []string{"*"}
	} else {
		// Exact origins only, as for the WebSocket upgrade (originAllowed): no patterns.
		cfg.AllowOriginFunc = func(origin string) (bool, error) { return s.originListed(origin), nil }
		cfg.AllowCredentials = true
	}
	return middleware.CORSWithConfig(cfg)
}

// originListed says whether origin is one of ALLOWED_ORIGINS (scheme, host and port;
// case-insensitive).
func (s *Server) originListed(origin string) bool {
	return slices.ContainsFunc(s.cfg.AllowedOrigins, func(o string) bool { return strings.EqualFold(o, origin) })
}
