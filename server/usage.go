package server

import (
	"fmt"
	"net/http"
	"strings"
	"unicode/utf8"

	"github.com/labstack/echo/v4"

	"github.com/aitutor/aitutor/session"
	"github.com/aitutor/aitutor/store"
)

// usageEntry is a ledger row with what it means in words.
type usageEntry struct {
	store.LedgerEntry
	Description string `json:"description"`
}

type usageResponse struct {
	Summary store.UsageSummary `json:"summary"`
	Ledger  []usageEntry       `json:"ledger"`
}

// myUsage: GET /api/users/me/usage[?limit=50] — signed-in users: their own charges and refunds,
// newest first, each described in words, and the totals.
func (s *Server) myUsage(c echo.Context) error {
	limit, err := intQuery(c, "limit", 50, 1, 500)
	if err != nil {
		return err
	}
	return s.usage(c, currentUser(c).ID, limit)
}

func (s *Server) usage(c echo.Context, userID string, limit int) error {
	ctx := c.Request().Context()
	sum, err := s.store.UsageSummaryByUser(ctx, userID)
	if err != nil {
		return err
	}
	ledger, err := s.store.LedgerByUser(ctx, userID, limit)
	if err != nil {
		return err
	}
	out := usageResponse{Summary: sum, Ledger: make([]usageEntry, len(ledger))}
	for i, e := range ledger {
		out.Ledger[i] = usageEntry{LedgerEntry: e, Description: describeUsage(e)}
	}
	return c.JSON(http.StatusOK, out)
}

// resourceAnalysis is the ledger resource of analysis uses (conversation reviews); the others
// are chat uses.
const resourceAnalysis = "analysis"

// describeUsage says what a charge or refund was for, in words a learner reads in their usage
// history.
func describeUsage(e store.LedgerEntry) string {
	if e.Resource == resourceAnalysis {
		return describeReviewUsage(e)
	}
	said := ""
	if e.UserText != "" {
		said = fmt.Sprintf(": “%s”", shorten(e.UserText, 80))
	}
	if e.Kind == "refund" {
		switch e.Reason {
		case session.RefundNotHeard:
			return "Refunded: the reply was stopped before you heard its first sentence" + said
		case session.RefundDisconnected:
			return "Refunded: the connection closed before you heard the reply" + said
		case session.RefundProviderError:
			return "Refunded: the tutor could not answer" + said
		case session.RefundNoSpeech:
			return "Refunded: no words were recognised in what you said"
		case session.RefundSTTFailed:
			return "Refunded: what you said could not be transcribed"
		case session.RefundSuperseded:
			return "Refunded: you spoke again before the tutor answered" + said
		case session.RefundReconciled:
			return "Refunded: the conversation was interrupted before the answer reached you" + said
		}
		return "Refunded" + said
	}
	var what string
	switch e.Reason {
	case session.ChannelVoice:
		what = "Spoken conversation turn"
	case session.ChannelText:
		what = "Typed conversation turn"
	case session.ChannelUpload:
		what = "Recorded message"
	default:
		what = "Conversation turn"
	}
	switch {
	case e.Outcome != nil && *e.Outcome == store.OutcomeRefunded:
		return what + said + " (refunded)"
	case e.TurnStatus == store.TurnInterrupted:
		return what + said + " (you interrupted the answer after its first sentence)"
	case e.Outcome == nil:
		return what + said + " (in progress)"
	}
	return what + said
}

// describeReviewUsage describes an analysis use: the charge of a conversation review, or its
// refund when the review could not be written (a provider failure or time-out, a draft that did
// not validate twice, or a crash that the reconciler settled).
func describeReviewUsage(e store.LedgerEntry) string {
	if e.Kind == "refund" {
		if e.Reason == session.RefundReconciled {
			return "Refunded: the review could not be written (it was interrupted)"
		}
		return "Refunded: the review could not be written"
	}
	switch {
	case e.Outcome != nil && *e.Outcome == store.OutcomeRefunded:
		return "Conversation review (refunded: it could not be written)"
	case e.Outcome == nil:
		return "Conversation review (being written)"
	}
	return "Conversation review"
}

// shorten keeps the first n characters of s, on a word boundary.
func shorten(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)[:n]
	cut := string(r)
	if i := strings.LastIndex(cut, " "); i > n/2 {
		cut = cut[:i]
	}
	return cut + "…"
}
