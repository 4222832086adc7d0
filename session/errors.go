package session

import (
	"errors"
	"net/http"
	"strings"

	"github.com/aitutor/aitutor/store"
)

// Errors of providers, turns and sessions.
var (
	// ErrUnsupportedAudio: the audio format cannot be read.
	ErrUnsupportedAudio = errors.New("unsupported audio format")
	// ErrNoSpeech: the audio holds no speech (nothing is transcribed or charged).
	ErrNoSpeech = errors.New("no speech in the audio")
	// ErrProvider: a provider call failed.
	ErrProvider = errors.New("provider failed")
	// ErrProviderTimeout: a provider call did not answer in time.
	ErrProviderTimeout = errors.New("provider timed out")
	// ErrConversationMismatch: a conversation was continued with another membership than the
	// one that pays for it.
	ErrConversationMismatch = errors.New("conversation belongs to another membership")
	// ErrHubFull: MAX_SESSIONS sessions are live on this instance.
	ErrHubFull = errors.New("too many live sessions")
	// ErrHubClosed: the server is shutting down.
	ErrHubClosed = errors.New("server is shutting down")
	// ErrTooManySessions: the user has MAX_SESSIONS_PER_USER sessions open.
	ErrTooManySessions = errors.New("too many sessions for this user")
)

// Problem is how an error is shown to a client: the HTTP status of a REST answer, and the code
// and message of both a REST error body and a WebSocket error event. Retryable errors may
// succeed when tried again unchanged.
type Problem struct {
	Status    int
	Code      string
	Message   string
	Retryable bool
}

// problems is the one mapping of the domain errors of the store and the session to what
// clients see; REST handlers and WebSocket sessions both use it.
var problems = []struct {
	err error
	p   Problem
}{
	{store.ErrNotFound, Problem{http.StatusNotFound, "not_found", "not found", false}},
	{store.ErrEmailTaken, Problem{http.StatusConflict, "email_taken", "an account with this e-mail already exists", false}},
	{store.ErrForbidden, Problem{http.StatusForbidden, "forbidden", "this belongs to another user", false}},
	{store.ErrQuotaExhausted, Problem{http.StatusPaymentRequired, "quota_exhausted", "this membership has no chat uses left; nothing was sent to the tutor", false}},
	{store.ErrMembershipExpired, Problem{http.StatusPaymentRequired, "membership_expired", "this membership has expired; nothing was sent to the tutor", false}},
	{store.ErrMembershipRevoked, Problem{http.StatusPaymentRequired, "membership_revoked", "this membership was revoked; nothing was sent to the tutor", false}},
	{store.ErrPlanNotForSale, Problem{http.StatusNotFound, "plan_not_for_sale", "this plan is no longer sold", false}},
	{store.ErrPlanTarget, Problem{http.StatusForbidden, "plan_not_available", "this plan is not sold to your customer type", false}},
	{store.ErrPlanOtherCompany, Problem{http.StatusForbidden, "plan_not_available", "this plan is sold to the members of another company", false}},
	{store.ErrPlanAlreadyUsed, Problem{http.StatusConflict, "plan_already_used", "this plan can be bought once per account, and this account has bought it already", false}},
	{store.ErrInvalidCode, Problem{http.StatusNotFound, "invalid_code", "no company has this code; check it and try again", false}},
	{store.ErrCodeExpired, Problem{http.StatusGone, "code_expired", "this company code has expired; ask your company for a new one", false}},
	{store.ErrCodeDisabled, Problem{http.StatusGone, "code_expired", "this company code is no longer valid; ask your company for a new one", false}},
	{store.ErrCompanyFull, Problem{http.StatusConflict, "company_full", "this company has no free seat; ask its administrator", false}},
	{store.ErrAlreadyInCompany, Problem{http.StatusConflict, "already_in_company", "this account belongs to another company; leave it first", false}},
	{store.ErrNotInCompany, Problem{http.StatusConflict, "not_in_company", "this account does not belong to a company", false}},
	{store.ErrCodeTaken, Problem{http.StatusConflict, "code_taken", "this code is already in use (codes are compared without case, spaces and hyphens); choose another", false}},
	{store.ErrCompanyNameTaken, Problem{http.StatusConflict, "company_name_taken", "a company with this name already exists", false}},
	{store.ErrPlanOfOtherCompany, Problem{http.StatusConflict, "plan_of_other_company", "this plan belongs to another company; assign it to that company's members or use a plan of no company", false}},
	{store.ErrIdempotencyReused, Problem{http.StatusUnprocessableEntity, "idempotency_key_reused", "this Idempotency-Key was already used for a different request", false}},
	{store.ErrIdempotencyBusy, Problem{http.StatusConflict, "idempotency_key_in_flight", "a request with this Idempotency-Key is still being processed; retry shortly", true}},
	{store.ErrBadCursor, Problem{http.StatusBadRequest, "bad_request", "the page cursor is malformed; use nextCursor of the previous page", false}},
	{store.ErrAnalysisExhausted, Problem{http.StatusPaymentRequired, "quota_exhausted", "this membership has no analysis uses left; nothing was charged", false}},
	{ErrNothingToReview, Problem{http.StatusBadRequest, "nothing_to_review", "the conversation has no turns to review yet", false}},
	{ErrReviewInvalid, Problem{http.StatusBadGateway, "review_failed", "the review could not be written; the analysis use was refunded", true}},
	{ErrUnsupportedAudio, Problem{http.StatusUnsupportedMediaType, "unsupported_media_type", "this audio format is not supported", false}},
	{ErrNoSpeech, Problem{http.StatusBadRequest, "no_speech", "no speech was heard in the audio; nothing was charged", false}},
	{ErrConversationMismatch, Problem{http.StatusBadRequest, "conversation_mismatch", "this conversation belongs to another membership; continue it with that membership or start a new one", false}},
	{ErrProviderTimeout, Problem{http.StatusGatewayTimeout, "provider_timeout", "the speech or chat provider did not answer in time; nothing was charged for this turn", true}},
	{ErrProvider, Problem{http.StatusBadGateway, "provider_error", "the speech or chat provider failed; nothing was charged for this turn", true}},
	{ErrTooManySessions, Problem{http.StatusTooManyRequests, "too_many_sessions", "too many tutor sessions are open for this account; close one and try again", true}},
	{ErrHubFull, Problem{http.StatusServiceUnavailable, "unavailable", "the server has no room for another session; try again shortly", true}},
	{ErrHubClosed, Problem{http.StatusServiceUnavailable, "unavailable", "the server is restarting; try again in a moment", true}},
	{store.ErrAudioUnavailable, Problem{http.StatusServiceUnavailable, "audio_unavailable", "the audio store does not answer; try again in a moment", true}},
}

// ProblemOf maps a domain error to what the client sees; ok is false for unexpected errors,
// which are a 500 "internal".
func ProblemOf(err error) (p Problem, ok bool) {
	for _, d := range problems {
		if errors.Is(err, d.err) {
			p = d.p
			if d.err == ErrUnsupportedAudio {
				p.Message += ": " + lastClause(err.Error(), 200) // the engine says what it reads
			}
			return p, true
		}
	}
	if store.IsUnavailable(err) {
		return problemUnavailable, true
	}
	return Problem{Status: http.StatusInternalServerError, Code: "internal", Message: "internal server error"}, false
}

// problemUnavailable: the database could not be reached; nothing was charged or changed.
var problemUnavailable = Problem{http.StatusServiceUnavailable, "unavailable", "the service is briefly unavailable (its database does not answer); nothing was charged — try again in a moment", true}

// lastClause is the part of an error message after its last ": " (the most specific one), at
// most n bytes.
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
