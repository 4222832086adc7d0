package server

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/aitutor/aitutor/session"
	"github.com/aitutor/aitutor/store"
)

// realtimeWS: GET /v1/realtime[?model=][&membershipId=][&conversationId=] — signed-in users,
// from an allowed Origin: the OpenAI-Realtime-compatible endpoint (docs/realtime.md) on the same
// sessions, pipeline, quotas and limits as protocol v1. The token is the Authorization bearer
// (what the official Node client sends) or the browser subprotocol
// "openai-insecure-api-key.<jwt>" beside "realtime". The membership is membershipId (query, or
// the X-Aitutor-Membership header), or the user's single usable membership; a conversation is
// continued with conversationId (query, or X-Aitutor-Conversation). model is accepted and
// reported back; the tutor answers whatever it names. Refusals are plain HTTP answers, as on
// /api/tutor/ws, plus 400 membership_required when the user has several usable memberships and
// named none.
func (s *Server) realtimeWS(c echo.Context) error {
	r := c.Request()
	if origin := r.Header.Get("Origin"); origin != "" && !s.originAllowed(origin, r.Host) {
		return newError(http.StatusForbidden, "origin_not_allowed", "this Origin may not open tutor sessions")
	}
	u, err := s.authenticateRequest(r.Context(), r)
	if err != nil {
		return err
	}
	c.Set("user", u)
	membershipID := firstOf(c.QueryParam("membershipId"), r.Header.Get("X-Aitutor-Membership"))
	conversationID := firstOf(c.QueryParam("conversationId"), r.Header.Get("X-Aitutor-Conversation"))
	if conversationID != "" {
		if err := validUUID("conversationId", conversationID); err != nil {
			return err
		}
	}
	var m store.Membership
	if membershipID != "" {
		if err := validUUID("membershipId", membershipID); err != nil {
			return err
		}
		if m, err = s.store.UserMembership(r.Context(), u.ID, membershipID); err != nil {
			return err
		}
	} else if m, err = s.usableMembership(c, u.ID); err != nil {
		return err
	}
	if err := m.Usable(s.store.Now()); err != nil {
		return err
	}
	if !websocketRequested(r) {
		return badRequest("this route speaks the OpenAI Realtime API over WebSocket; see docs/realtime.md")
	}
	model := c.QueryParam("model")
	if model == "" {
		model = "aitutor"
	}
	logger := s.logger.With("request_id", c.Response().Header().Get(echo.HeaderXRequestID), "wire", "realtime")
	err = s.sessions.Open(c.Response(), r, session.Params{
		User: u, Membership: m, ConversationID: conversationID, Logger: logger, Realtime: true, Model: truncate(model, 100),
	})
	if err == nil {
		c.Response().Status = http.StatusSwitchingProtocols
	}
	return err
}

// usableMembership is the user's one membership that can pay for a turn.
func (s *Server) usableMembership(c echo.Context, userID string) (store.Membership, error) {
	ms, err := s.store.MembershipsByUser(c.Request().Context(), userID)
	if err != nil {
		return store.Membership{}, err
	}
	now := s.store.Now()
	var usable []store.Membership
	for _, m := range ms {
		if m.Usable(now) == nil {
			usable = append(usable, m)
		}
	}
	switch len(usable) {
	case 1:
		return usable[0], nil
	case 0:
		if len(ms) > 0 {
			return ms[0], nil // refused below with why it cannot pay
		}
		return store.Membership{}, newError(http.StatusPaymentRequired, "no_membership", "this account has no membership; buy a plan first")
	}
	return store.Membership{}, newError(http.StatusBadRequest, "membership_required",
		"this account has several usable memberships: name one with ?membershipId= or the X-Aitutor-Membership header")
}

func firstOf(vals ...string) string {
	for _, v := range vals {
		if v != "" {
			return v
		}
	}
	return ""
}
