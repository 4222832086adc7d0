package server

import (
	"context"
	"errors"
	"math"
	"net/http"
	"net/url"
	"strings"
	"unicode/utf8"

	"github.com/labstack/echo/v4"

	"github.com/aitutor/aitutor/session"
	"github.com/aitutor/aitutor/store"
)

type initRequest struct {
	MembershipID string `json:"membershipId"`
	Text         string `json:"text"`
}

// initResponse keeps the prototype's ttsUrl, a path (see audioPath); ttsAbsoluteUrl is for
// clients that want the whole URL.
type initResponse struct {
	Text           string `json:"text"`
	AssistantText  string `json:"assistantText"`
	TTSURL         string `json:"ttsUrl"`
	TTSAbsoluteURL string `json:"ttsAbsoluteUrl"`
	MembershipID   string `json:"membershipId,omitempty"`
}

// tutorInit: POST /api/tutor/init {membershipId?, text?} — signed-in users: the tutor's
// greeting (or the given text) and the URL of its speech. It costs no chat use; a given
// membership must be the caller's. Speech is cached by text and voice; each account may ask a
// few times a minute (429 rate_limited), and an account without a usable membership may have
// GREETING_DAILY_LIMIT texts spoken a day that were not cached (429 greeting_limit).
func (s *Server) tutorInit(c echo.Context) error {
	var req initRequest
	if c.Request().ContentLength != 0 {
		if err := bindJSON(c, &req); err != nil {
			return err
		}
	}
	u := currentUser(c)
	ctx := c.Request().Context()
	if req.MembershipID != "" {
		if err := validUUID("membershipId", req.MembershipID); err != nil {
			return err
		}
		if _, err := s.store.UserMembership(ctx, u.ID, req.MembershipID); err != nil {
			return err
		}
	}
	req.Text = strings.TrimSpace(req.Text)
	if utf8.RuneCountInString(req.Text) > 500 {
		return badRequest("text is at most 500 characters")
	}
	if !s.greetLimit.allow(u.ID) {
		return newError(http.StatusTooManyRequests, "rate_limited", "too many greetings; wait a minute and try again")
	}
	// Speech for a custom text that nobody asked for before is capped per day for accounts that
	// cannot pay for a turn: the providers never work without limit for free.
	allow := func() error {
		if req.Text == "" || req.Text == session.Greeting("") || s.canPay(ctx, u.ID) {
			return nil
		}
		if err := s.store.TakeDaily(ctx, u.ID, "custom_greeting", s.cfg.GreetingDailyLimit); err != nil {
			if errors.Is(err, store.ErrLimitReached) {
				return newError(http.StatusTooManyRequests, "greeting_limit",
					"accounts without an active membership may have %d custom greetings spoken a day; buy a plan or try tomorrow", s.cfg.GreetingDailyLimit)
			}
			return err
		}
		return nil
	}
	g, err := s.tutor.Greet(ctx, req.Text, "", allow)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, initResponse{
		Text: g.Text, AssistantText: g.Text, TTSURL: audioPath(g.AudioID), TTSAbsoluteURL: s.audioURL(c, g.AudioID),
		MembershipID: req.MembershipID,
	})
}

// chatResponse is the prototype's answer to an upload — ttsUrl and userAudioUrl as paths (see
// audioPath), chatUses always a number — with the fields newer clients read beside it.
type chatResponse struct {
	UserText             string          `json:"userText"`
	AssistantText        string          `json:"assistantText"`
	TTSURL               string          `json:"ttsUrl"`
	UserAudioURL         string          `json:"userAudioUrl"`
	TTSAbsoluteURL       string          `json:"ttsAbsoluteUrl"`
	UserAudioAbsoluteURL string          `json:"userAudioAbsoluteUrl"`
	MembershipID         string          `json:"membershipId"`
	ChatUses             int             `json:"chatUses"`
	RemainingChatUses    *int            `json:"remainingChatUses"` // null: unlimited
	Unlimited            bool            `json:"unlimited"`
	ConversationID       string          `json:"conversationId"`
	Metrics              session.Metrics `json:"metrics"`
}

// unlimitedChatUses is chatUses for an unlimited membership. The prototype's frontend types
// chatUses as a number, stores it as the membership's remaining uses and opens its "chat
// expired" dialog when chatUses <= 0, which null, 0 and -1 all are. The largest 32-bit integer
// is far more than any plan gives (maxUses) and still an int32 for typed clients, so every such
// check reads "plenty left"; new clients read unlimited and remainingChatUses (null) instead.
const unlimitedChatUses = math.MaxInt32

func (s *Server) newChatResponse(c echo.Context, membershipID string, res session.ExchangeResult) chatResponse {
	out := chatResponse{
		UserText: res.UserText, AssistantText: res.AssistantText,
		TTSURL: audioPath(res.TTSAudioID), UserAudioURL: audioPath(res.UserAudioID),
		TTSAbsoluteURL: s.audioURL(c, res.TTSAudioID), UserAudioAbsoluteURL: s.audioURL(c, res.UserAudioID),
		MembershipID: membershipID, RemainingChatUses: res.Remaining, Unlimited: res.Remaining == nil,
		ConversationID: res.ConversationID, Metrics: res.Metrics,
	}
	out.ChatUses = unlimitedChatUses
	if res.Remaining != nil {
		out.ChatUses = *res.Remaining
	}
	return out
}

// tutorChat: POST /api/tutor/chat multipart (audio, membershipId[, conversationId]) —
// signed-in users, on their own usable membership. One upload-and-wait turn: transcribe,
// charge one chat use, answer, speak. webm/ogg/mp3/wav/m4a/flac up to 25 MB (413 above, 415
// for other types).
func (s *Server) tutorChat(c echo.Context) error {
	r := c.Request()
	// At most MAX_UPLOADS uploads are read and answered at once; the rest wait a moment.
	select {
	case s.uploads <- struct{}{}:
		defer func() { <-s.uploads }()
	default:
		return newError(http.StatusServiceUnavailable, "busy", "too many uploads are being answered; try again in a moment")
	}
	up, err := readUpload(r)
	if err != nil {
		return err
	}
	defer up.close()
	membershipID := up.fields["membershipId"]
	if err := validUUID("membershipId", membershipID); err != nil {
		return err
	}
	conversationID := up.fields["conversationId"]
	if conversationID != "" {
		if err := validUUID("conversationId", conversationID); err != nil {
			return err
		}
	}
	data, err := up.read()
	if err != nil {
		return err
	}
	ext := up.ext
	u := currentUser(c)
	res, err := s.tutor.Exchange(r.Context(), session.ExchangeRequest{
		UserID: u.ID, MembershipID: membershipID, ConversationID: conversationID,
		Audio: session.Audio{Data: data, Format: strings.TrimPrefix(ext, ".")}, Mime: uploadTypes[ext],
	})
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, s.newChatResponse(c, membershipID, res))
}

// canPay reports whether the user has a membership that can pay for a turn now.
func (s *Server) canPay(ctx context.Context, userID string) bool {
	ms, err := s.store.MembershipsByUser(ctx, userID)
	if err != nil {
		return false
	}
	now := s.store.Now()
	for i := range ms {
		if ms[i].Usable(now) == nil {
			return true
		}
	}
	return false
}

// tutorWS: GET /api/tutor/ws?membershipId=<uuid>[&conversationId=<uuid>] — signed-in users,
// on their own usable membership, from an allowed Origin; conversationId continues one of the
// caller's own conversations of that membership. Everything is checked before the upgrade, so
// refusals are plain HTTP answers: 403 bad Origin, 401 no or bad token, 400 bad ids, 404/403
// unknown or foreign membership, 404 unknown or foreign conversation, 400 conversation of
// another membership, 402 expired, revoked or exhausted, 429 too many sessions for the user,
// 503 at capacity or shutting down.
func (s *Server) tutorWS(c echo.Context) error {
	r := c.Request()
	if origin := r.Header.Get("Origin"); origin != "" && !s.originAllowed(origin, r.Host) {
		return newError(http.StatusForbidden, "origin_not_allowed", "this Origin may not open tutor sessions")
	}
	u, err := s.authenticateRequest(r.Context(), r)
	if err != nil {
		return err
	}
	c.Set("user", u)
	membershipID := c.QueryParam("membershipId")
	if err := validUUID("membershipId", membershipID); err != nil {
		return err
	}
	conversationID := c.QueryParam("conversationId")
	if conversationID != "" {
		if err := validUUID("conversationId", conversationID); err != nil {
			return err
		}
	}
	m, err := s.store.UserMembership(r.Context(), u.ID, membershipID)
	if err != nil {
		return err
	}
	if err := m.Usable(s.store.Now()); err != nil {
		return err
	}
	if !websocketRequested(r) {
		return badRequest("this route speaks WebSocket protocol v1 (aitutor.v1); see docs/protocol.md")
	}
	logger := s.logger.With("request_id", c.Response().Header().Get(echo.HeaderXRequestID))
	err = s.sessions.Open(c.Response(), r, session.Params{User: u, Membership: m, ConversationID: conversationID, Logger: logger})
	if err == nil {
		c.Response().Status = http.StatusSwitchingProtocols // for the request log and metrics
	}
	return err
}

// originAllowed: ALLOWED_ORIGINS, or the same origin when it is empty.
func (s *Server) originAllowed(origin, host string) bool {
	if len(s.cfg.AllowedOrigins) == 0 {
		u, err := url.Parse(origin)
		return err == nil && strings.EqualFold(u.Host, host)
	}
	for _, o := range s.cfg.AllowedOrigins {
		if o == "*" || strings.EqualFold(o, origin) {
			return true
		}
	}
	return false
}

func websocketRequested(r *http.Request) bool {
	return strings.EqualFold(r.Header.Get("Upgrade"), "websocket")
}

// websocketProtocols lists the Sec-WebSocket-Protocol entries of a request.
func websocketProtocols(r *http.Request) []string {
	var out []string
	for _, h := range r.Header.Values("Sec-WebSocket-Protocol") {
		for _, p := range strings.Split(h, ",") {
			if p = strings.TrimSpace(p); p != "" {
				out = append(out, p)
			}
		}
	}
	return out
}
