package server

import (
	"bytes"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/aitutor/aitutor/store"
)

// Fuzz targets for what the server decodes from outside: tokens, the Authorization header and
// the WebSocket subprotocols, and multipart uploads. `make test` runs their seed corpora;
// `make fuzz` fuzzes each for a while.

func FuzzVerifyToken(f *testing.F) {
	tokens := NewTokens([]byte("fuzz-secret-fuzz-secret-fuzz-secret"), time.Hour)
	good, _ := tokens.Issue(store.User{ID: "8f5b3c4a-0000-4000-8000-000000000001", Email: "a@b.c", Role: "user"})
	f.Add(good)
	f.Add("")
	f.Add("eyJhbGciOiJub25lIn0.eyJpZCI6IngifQ.")
	f.Add("a.b.c")
	f.Add(good[:len(good)-2])
	f.Fuzz(func(t *testing.T, tok string) {
		c, err := tokens.Verify(tok)
		if err == nil && (c.ID == "" || c.Role == "") {
			t.Fatalf("accepted a token without id or role: %q", tok)
		}
		if err == nil && tok != good {
			// Only a token signed with the secret verifies: re-signing its claims must give it.
			if _, err := tokens.Verify(tok + "x"); err == nil {
				t.Fatalf("a tampered token verified: %q", tok)
			}
		}
	})
}

func FuzzBearerToken(f *testing.F) {
	f.Add("Bearer abc.def.ghi", "aitutor.v1, bearer.abc")
	f.Add("", "aitutor.v1, bearer.abc.def.ghi")
	f.Add("bearer", "bearer.")
	f.Add("Basic dXNlcjpwYXNz", ",,,")
	f.Fuzz(func(t *testing.T, auth, protocols string) {
		r := httptest.NewRequest(http.MethodGet, "/api/tutor/ws", nil)
		if auth != "" {
			r.Header.Set("Authorization", auth)
		}
		if protocols != "" {
			r.Header.Set("Sec-WebSocket-Protocol", protocols)
		}
		bearerToken(r)        // must not panic
		websocketProtocols(r) // nor this
	})
}

func FuzzReadUpload(f *testing.F) {
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	mw.WriteField("membershipId", "8f5b3c4a-0000-4000-8000-000000000001") //nolint:errcheck
	w, _ := mw.CreateFormFile("audio", "voice.webm")
	w.Write([]byte("\x1aE\xdf\xa3 not really webm")) //nolint:errcheck
	mw.Close()
	f.Add(body.Bytes(), mw.Boundary())
	f.Add([]byte("--x\r\nContent-Disposition: form-data; name=\"audio\"; filename=\"a.wav\"\r\n\r\nRIFF\r\n--x--\r\n"), "x")
	f.Add([]byte("garbage"), "b")
	tmp := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte, boundary string) {
		t.Setenv("TMPDIR", tmp)
		r := httptest.NewRequest(http.MethodPost, "/api/tutor/chat", bytes.NewReader(data))
		r.Header.Set("Content-Type", "multipart/form-data; boundary="+boundary)
		up, err := readUpload(r)
		if err == nil {
			if up.size <= 0 || up.size > maxUploadBytes || up.ext == "" {
				t.Fatalf("accepted upload of %d bytes (%q)", up.size, up.ext)
			}
			up.close()
		}
		// Nothing is left behind on disk.
		if left, _ := filepath.Glob(filepath.Join(tmp, "aitutor-upload-*")); len(left) != 0 {
			os.RemoveAll(left[0])
			t.Fatalf("temporary files left: %v", left)
		}
	})
}
