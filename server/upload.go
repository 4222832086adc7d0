package server

import (
	"errors"
	"io"
	"mime"
	"net/http"
	"os"
	"path/filepath"
	"strings"

	"github.com/labstack/echo/v4"
)

// maxUploadBytes is Whisper's upload limit, which /api/tutor/chat applies too.
const maxUploadBytes = 25 << 20

// uploadTypes are the audio formats Whisper reads, by file extension and media type.
var uploadTypes = map[string]string{
	".webm": "audio/webm", ".ogg": "audio/ogg", ".oga": "audio/ogg", ".mp3": "audio/mpeg",
	".mpeg": "audio/mpeg", ".mpga": "audio/mpeg", ".wav": "audio/wav", ".m4a": "audio/mp4",
	".mp4": "audio/mp4", ".flac": "audio/flac",
}

var uploadMediaTypes = map[string]string{
	"audio/webm": ".webm", "video/webm": ".webm", "audio/ogg": ".ogg", "application/ogg": ".ogg",
	"audio/mpeg": ".mp3", "audio/mp3": ".mp3", "audio/wav": ".wav", "audio/x-wav": ".wav",
	"audio/wave": ".wav", "audio/vnd.wave": ".wav", "audio/mp4": ".m4a", "audio/x-m4a": ".m4a",
	"audio/m4a": ".m4a", "video/mp4": ".m4a", "audio/aac": ".m4a", "audio/flac": ".flac", "audio/x-flac": ".flac",
}

// audioUpload is a multipart upload of /api/tutor/chat: its small fields, and the audio file
// streamed to a temporary file (never held whole in memory while it arrives).
type audioUpload struct {
	fields map[string]string
	file   *os.File
	size   int64
	ext    string // .webm, .wav, ...
}

func (u *audioUpload) close() {
	if u.file != nil {
		u.file.Close()
		os.Remove(u.file.Name())
	}
}

// read returns the audio's bytes (once the upload is complete and admitted).
func (u *audioUpload) read() ([]byte, error) {
	if _, err := u.file.Seek(0, io.SeekStart); err != nil {
		return nil, err
	}
	return io.ReadAll(u.file)
}

const maxFieldBytes = 1 << 10

// readUpload streams the multipart body of r: text fields up to 1 KiB each, one audio file up
// to maxUploadBytes into a temporary file. 415 when the body or the file is not of a known type,
// 413 when it is too large, 400 when it is malformed or the file is missing or empty.
func readUpload(r *http.Request) (*audioUpload, error) {
	if mt, _, _ := mime.ParseMediaType(r.Header.Get(echo.HeaderContentType)); mt != echo.MIMEMultipartForm {
		return nil, newError(http.StatusUnsupportedMediaType, "unsupported_media_type", "send multipart/form-data with an audio file and membershipId")
	}
	mr, err := r.MultipartReader()
	if err != nil {
		return nil, badRequest("malformed multipart body: %v", err)
	}
	u := &audioUpload{fields: map[string]string{}}
	tooLarge := newError(http.StatusRequestEntityTooLarge, "payload_too_large", "audio uploads are limited to 25 MB")
	fail := func(err error) (*audioUpload, error) {
		u.close()
		var maxErr *http.MaxBytesError
		var he *echo.HTTPError
		if errors.As(err, &maxErr) || (errors.As(err, &he) && he.Code == http.StatusRequestEntityTooLarge) {
			return nil, tooLarge
		}
		var ae *apiError
		if errors.As(err, &ae) {
			return nil, ae
		}
		return nil, badRequest("malformed multipart body: %v", err)
	}
	for {
		part, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			return fail(err)
		}
		name := part.FormName()
		if part.FileName() == "" {
			b, err := io.ReadAll(io.LimitReader(part, maxFieldBytes+1))
			if err != nil {
				return fail(err)
			}
			if len(b) > maxFieldBytes {
				return fail(badRequest("form field %q is too long", truncate(name, 40)))
			}
			u.fields[name] = string(b)
			continue
		}
		if name != "audio" || u.file != nil {
			continue // other files are not read
		}
		ext := strings.ToLower(filepath.Ext(part.FileName()))
		mediaType, _, _ := mime.ParseMediaType(part.Header.Get(echo.HeaderContentType))
		if _, ok := uploadTypes[ext]; !ok {
			ext = uploadMediaTypes[mediaType]
		}
		if ext == "" {
			return fail(newError(http.StatusUnsupportedMediaType, "unsupported_media_type", "audio must be webm, ogg, mp3, wav, m4a or flac"))
		}
		f, err := os.CreateTemp("", "aitutor-upload-*"+ext)
		if err != nil {
			return fail(err)
		}
		u.file, u.ext = f, ext
		n, err := io.Copy(f, io.LimitReader(part, maxUploadBytes+1))
		if err != nil {
			return fail(err)
		}
		if n > maxUploadBytes {
			return fail(tooLarge)
		}
		u.size = n
	}
	if u.file == nil {
		return fail(badRequest("the audio file is missing (form field \"audio\")"))
	}
	if u.size == 0 {
		return fail(badRequest("the audio file is empty"))
	}
	return u, nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}
