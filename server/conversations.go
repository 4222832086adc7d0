package server

import (
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/aitutor/aitutor/session"
	"github.com/aitutor/aitutor/store"
)

// listConversations: GET /api/conversations[?limit=20][&cursor=] — signed-in users: their own
// conversations that have at least one turn, the most recently active first; nextCursor fetches
// the next page ("" on the last).
func (s *Server) listConversations(c echo.Context) error {
	limit, err := intQuery(c, "limit", 20, 1, 100)
	if err != nil {
		return err
	}
	page, err := s.store.ConversationsByUser(c.Request().Context(), currentUser(c).ID, limit, c.QueryParam("cursor"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, page)
}

// conversationMessage is one turn as the learner's apps show it.
type conversationMessage struct {
	TurnID        string          `json:"turnId"`
	UserText      string          `json:"userText"`
	TutorText     string          `json:"tutorText"`
	Status        string          `json:"status"`
	UserAudioURL  string          `json:"userAudioUrl,omitempty"`
	TutorAudioURL string          `json:"tutorAudioUrl,omitempty"`
	Metrics       session.Metrics `json:"metrics"`
	CreatedAt     time.Time       `json:"createdAt"`
}

type conversationResponse struct {
	store.Conversation
	Messages []conversationMessage `json:"messages"`
}

// getConversation: GET /api/conversations/:id — signed-in users: one of their own
// conversations with its turns in order (what the learner said and what the tutor said, as far
// as it was heard), their timings and the paths of both recordings. Another user's id is 404.
func (s *Server) getConversation(c echo.Context) error {
	id := c.Param("id")
	if err := validUUID("id", id); err != nil {
		return newError(http.StatusNotFound, "not_found", "no such conversation")
	}
	ctx := c.Request().Context()
	conv, err := s.store.UserConversation(ctx, currentUser(c).ID, id)
	if err != nil {
		return err
	}
	msgs, err := s.store.Messages(ctx, conv.ID)
	if err != nil {
		return err
	}
	out := conversationResponse{Conversation: conv, Messages: make([]conversationMessage, len(msgs))}
	for i, m := range msgs {
		out.Messages[i] = conversationMessage{
			TurnID: m.TurnID, UserText: m.UserText, TutorText: m.TutorText, Status: m.Status,
			UserAudioURL: clipPath(m.UserAudioID), TutorAudioURL: clipPath(m.TutorAudioID),
			Metrics: session.Metrics{
				EndpointMs: m.EndpointMs, STTMs: m.STTMs, ChatFirstTokenMs: m.ChatFirstTokenMs,
				FirstSentenceMs: m.FirstSentenceMs, TTSFirstByteMs: m.TTSFirstByteMs,
				FirstAudioMs: m.FirstAudioMs, TotalMs: m.TotalMs,
			},
			CreatedAt: m.CreatedAt,
		}
	}
	return c.JSON(http.StatusOK, out)
}

// clipPath is the path of a stored clip that a message may lack ("" for none).
func clipPath(id *string) string {
	if id == nil {
		return ""
	}
	return audioPath(*id)
}
