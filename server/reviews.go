package server

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/aitutor/aitutor/session"
)

// reviewConversation: POST /api/conversations/:id/review — signed-in users, own conversations:
// a review of the conversation as it is now, paid with one analysis use of the membership that
// pays for the conversation. 201 with a new review; 200 with the stored one when nothing was
// said since it was written (nothing is charged). 402 when the membership has no analysis use
// left (or expired, or was revoked), 400 nothing_to_review, 502/504 when it could not be
// written (the use is refunded).
func (s *Server) reviewConversation(c echo.Context) error {
	id := c.Param("id")
	if err := validUUID("id", id); err != nil {
		return newError(http.StatusNotFound, "not_found", "no such conversation")
	}
	r, created, err := s.tutor.ReviewConversation(c.Request().Context(), currentUser(c).ID, id)
	if err != nil {
		return reviewError(err)
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	return c.JSON(status, r)
}

// reviewError words the shared problems of providers and memberships for a review (their
// messages speak of chat turns); the codes and statuses stay.
func reviewError(err error) error {
	p, ok := session.ProblemOf(err)
	if !ok {
		return err
	}
	msg := map[string]string{
		"provider_error":     "the reviewer failed; the analysis use was refunded — try again",
		"provider_timeout":   "the reviewer did not answer in time; the analysis use was refunded — try again",
		"membership_expired": "the membership that pays for this conversation has expired; no review was written",
		"membership_revoked": "the membership that pays for this conversation was revoked; no review was written",
	}[p.Code]
	if msg == "" {
		return err
	}
	return newError(p.Status, p.Code, "%s", msg)
}

// getReview: GET /api/conversations/:id/review — signed-in users, own conversations: the latest
// review, or 404.
func (s *Server) getReview(c echo.Context) error {
	id := c.Param("id")
	if err := validUUID("id", id); err != nil {
		return newError(http.StatusNotFound, "not_found", "no such conversation")
	}
	r, err := s.tutor.LatestReview(c.Request().Context(), currentUser(c).ID, id)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, r)
}

// progressPoint is one review in a learner's progress over time.
type progressPoint struct {
	ReviewID       string          `json:"reviewId"`
	ConversationID string          `json:"conversationId"`
	CreatedAt      string          `json:"createdAt"`
	CEFR           string          `json:"cefr"`
	Fluency        session.Fluency `json:"fluency"`
	Corrections    int             `json:"corrections"`
}

type profileResponse struct {
	session.Profile
	// Progress is the learner's reviews, oldest first: their level and fluency over time.
	Progress []progressPoint `json:"progress"`
}

// myProfile: GET /api/users/me/profile — signed-in users: what the tutor remembers of them
// (level, recurring mistakes, topics, goals) and their progress over their last 50 reviews.
func (s *Server) myProfile(c echo.Context) error {
	ctx := c.Request().Context()
	u := currentUser(c)
	p, err := s.tutor.LearnerProfile(ctx, u.ID)
	if err != nil {
		return err
	}
	rs, err := s.tutor.ReviewsOf(ctx, u.ID, 50)
	if err != nil {
		return err
	}
	out := profileResponse{Profile: p, Progress: make([]progressPoint, 0, len(rs))}
	for i := len(rs) - 1; i >= 0; i-- {
		r := rs[i]
		out.Progress = append(out.Progress, progressPoint{
			ReviewID: r.ID, ConversationID: r.ConversationID, CreatedAt: r.CreatedAt.UTC().Format("2006-01-02T15:04:05Z07:00"),
			CEFR: r.Level.CEFR, Fluency: r.Fluency, Corrections: len(r.Corrections),
		})
	}
	return c.JSON(http.StatusOK, out)
}

// forgetProfile: DELETE /api/users/me/profile — signed-in users: the tutor forgets what it
// remembered of them (their reviews stay). 204.
func (s *Server) forgetProfile(c echo.Context) error {
	if err := s.tutor.ForgetProfile(c.Request().Context(), currentUser(c).ID); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}
