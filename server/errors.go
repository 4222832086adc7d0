package server

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/aitutor/aitutor/session"
	"github.com/aitutor/aitutor/store"
)

// statusClientClosed is logged when the client hung up before the answer (nginx's 499).
const statusClientClosed = 499

// apiError is an error with the status and code that the client sees:
// {"error":{"code":"...","message":"..."}}.
type apiError struct {
	Status  int
	Code    string
	Message string
}

func (e *apiError) Error() string { return e.Code + ": " + e.Message }

func newError(status int, code, format string, args ...any) *apiError {
	return &apiError{Status: status, Code: code, Message: fmt.Sprintf(format, args...)}
}

func badRequest(format string, args ...any) *apiError {
	return newError(http.StatusBadRequest, "bad_request", format, args...)
}

// domainErrors maps the store's and the session's named errors to what the client sees.
var domainErrors = []struct {
	err error
	api apiError
}{
	{store.ErrNotFound, apiError{http.StatusNotFound, "not_found", "not found"}},
	{store.ErrEmailTaken, apiError{http.StatusConflict, "email_taken", "an account with this e-mail already exists"}},
	{store.ErrForbidden, apiError{http.StatusForbidden, "forbidden", "this belongs to another user"}},
	{store.ErrQuotaExhausted, apiError{http.StatusPaymentRequired, "quota_exhausted", "this membership has no chat uses left"}},
	{store.ErrMembershipExpired, apiError{http.StatusPaymentRequired, "membership_expired", "this membership has expired"}},
	{store.ErrMembershipRevoked, apiError{http.StatusPaymentRequired, "membership_revoked", "this membership was revoked"}},
	{store.ErrPlanNotForSale, apiError{http.StatusNotFound, "plan_not_for_sale", "this plan is no longer sold"}},
	{store.ErrPlanTarget, apiError{http.StatusForbidden, "plan_not_available", "this plan is not sold to your customer type"}},
	{store.ErrIdempotencyReused, apiError{http.StatusUnprocessableEntity, "idempotency_key_reused", "this Idempotency-Key was already used for a different request"}},
	{store.ErrIdempotencyBusy, apiError{http.StatusConflict, "idempotency_key_in_flight", "a request with this Idempotency-Key is still being processed; retry shortly"}},
	{session.ErrUnsupportedAudio, apiError{http.StatusUnsupportedMediaType, "unsupported_media_type", "this audio format is not supported"}},
	{session.ErrNoSpeech, apiError{http.StatusBadRequest, "no_speech", "no speech was heard in the audio"}},
	{session.ErrConversationMismatch, apiError{http.StatusBadRequest, "conversation_mismatch", "this conversation belongs to another membership; start a new one"}},
	{session.ErrProvider, apiError{http.StatusBadGateway, "provider_error", "the speech or chat provider failed; nothing was charged for this turn"}},
	{session.ErrProviderTimeout, apiError{http.StatusServiceUnavailable, "provider_timeout", "the speech or chat provider did not answer in time; nothing was charged for this turn"}},
}

// toAPIError turns any error into what the client sees; ok is false for unexpected errors (500).
func toAPIError(err error) (*apiError, bool) {
	var ae *apiError
	if errors.As(err, &ae) {
		return ae, true
	}
	var he *echo.HTTPError
	if errors.As(err, &he) {
		msg := http.StatusText(he.Code)
		if m, ok := he.Message.(string); ok && m != "" {
			msg = m
		}
		return &apiError{Status: he.Code, Code: codeForStatus(he.Code), Message: strings.ToLower(msg[:1]) + msg[1:]}, true
	}
	for _, d := range domainErrors {
		if errors.Is(err, d.err) {
			e := d.api
			if d.err == session.ErrUnsupportedAudio {
				e.Message += ": " + lastClause(err.Error(), 200) // the engine says what it reads
			}
			return &e, true
		}
	}
	return &apiError{Status: http.StatusInternalServerError, Code: "internal", Message: "internal server error"}, false
}

func codeForStatus(status int) string {
	switch status {
	case http.StatusBadRequest:
		return "bad_request"
	case http.StatusUnauthorized:
		return "unauthorized"
	case http.StatusForbidden:
		return "forbidden"
	case http.StatusNotFound:
		return "not_found"
	case http.StatusMethodNotAllowed:
		return "method_not_allowed"
	case http.StatusRequestEntityTooLarge:
		return "payload_too_large"
	case http.StatusUnsupportedMediaType:
		return "unsupported_media_type"
	case http.StatusTooManyRequests:
		return "rate_limited"
	case http.StatusServiceUnavailable:
		return "unavailable"
	}
	return strings.ReplaceAll(strings.ToLower(http.StatusText(status)), " ", "_")
}

type errorBody struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

// handleError is echo's error handler: every error leaves as {"error":{"code","message"}}.
func (s *Server) handleError(err error, c echo.Context) {
	if c.Response().Committed {
		return
	}
	if errors.Is(err, context.Canceled) && c.Request().Context().Err() != nil {
		// The client went away; nobody reads the answer. 499 as nginx logs it.
		c.Response().WriteHeader(statusClientClosed)
		return
	}
	ae, ok := toAPIError(err)
	if !ok {
		s.logger.ErrorContext(c.Request().Context(), "request failed",
			"request_id", c.Response().Header().Get(echo.HeaderXRequestID),
			"method", c.Request().Method, "path", c.Path(), "err", err)
	}
	var body errorBody
	body.Error.Code, body.Error.Message = ae.Code, ae.Message
	if c.Request().Method == http.MethodHead {
		err = c.NoContent(ae.Status)
	} else {
		err = c.JSON(ae.Status, body)
	}
	if err != nil {
		s.logger.Debug("writing error response", "err", err)
	}
}

// lastClause is the part of an error message after its last ": " (the most specific one),
// at most n bytes.
func lastClause(msg string, n int) string {
	if i := strings.LastIndex(msg, ": "); i >= 0 {
		msg = msg[i+2:]
	}
	msg = strings.TrimSpace(msg)
	if len(msg) > n {
		msg = msg[:n]
	}
	return msg
}
