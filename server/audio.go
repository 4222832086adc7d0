package server

import (
	"net/http"

	"github.com/labstack/echo/v4"
)

// audio: GET /api/audio/:id — anyone who holds the id. Ids are random UUIDs handed only to the
// clip's owner (ttsUrl, userAudioUrl, response.done), so the id is the capability; audio
// elements cannot send a bearer token. Clips older than AUDIO_RETENTION are gone (404).
//
// The bytes are streamed through this server from wherever they live (PostgreSQL or the object
// store), never loaded whole, with Range requests (http.ServeContent), which media elements use:
// a range reads only its bytes (a ranged GET of the object, or a substring of the row). The
// server proxies rather than redirecting to a presigned URL, so that the object store can stay
// private, the audio keeps the server's origin (no CORS on the bucket, the prototype's
// frontend unchanged) and a purged clip is gone at once rather than when a signature expires.
// A store that does not answer is 503 audio_unavailable before anything is sent.
func (s *Server) audio(c echo.Context) error {
	id := c.Param("id")
	if err := validUUID("id", id); err != nil {
		return newError(http.StatusNotFound, "not_found", "no such audio")
	}
	a, err := s.store.Audio(c.Request().Context(), id, s.now().Add(-s.cfg.AudioRetention))
	if err != nil {
		return err
	}
	defer a.Body.Close()
	h := c.Response().Header()
	h.Set(echo.HeaderContentType, a.Mime)
	h.Set("Cache-Control", "private, max-age=86400, immutable")
	http.ServeContent(c.Response(), c.Request(), "", a.CreatedAt, a.Body)
	return nil
}

// audioPath is the path of a stored clip from the server's root, "/api/audio/<id>". The
// prototype answered paths ("/uploads/…"), and its frontend joins them to its
// NEXT_PUBLIC_ROOT_URL, so ttsUrl and userAudioUrl stay paths; audioURL is the absolute form.
func audioPath(id string) string {
	if id == "" {
		return ""
	}
	return "/api/audio/" + id
}

// audioURL is the absolute URL of a stored clip, from PUBLIC_URL or the request.
func (s *Server) audioURL(c echo.Context, id string) string {
	if id == "" {
		return ""
	}
	base := s.cfg.PublicURL
	if base == "" {
		base = c.Scheme() + "://" + c.Request().Host
	}
	return base + audioPath(id)
}
