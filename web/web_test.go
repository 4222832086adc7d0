package web_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/aitutor/aitutor/web"
)

func TestHandler(t *testing.T) {
	srv := httptest.NewServer(web.Handler())
	t.Cleanup(srv.Close)
	get := func(path string, header ...string) *http.Response {
		t.Helper()
		req, err := http.NewRequest(http.MethodGet, srv.URL+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i+1 < len(header); i += 2 {
			req.Header.Set(header[i], header[i+1])
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res
	}

	for _, tc := range []struct {
		path, contentType string
	}{
		{"/", "text/html"},
		{"/js/app.js", "text/javascript"},
		{"/js/tutor/capture-worklet.js", "text/javascript"},
		{"/css/app.css", "text/css"},
		{"/vendor/uplot/uPlot.esm.js", "text/javascript"},
		{"/favicon.svg", "image/svg+xml"},
	} {
		res := get(tc.path)
		if res.StatusCode != http.StatusOK || !strings.HasPrefix(res.Header.Get("Content-Type"), tc.contentType) {
			t.Errorf("GET %s: %d %q, want 200 %s", tc.path, res.StatusCode, res.Header.Get("Content-Type"), tc.contentType)
		}
		etag := res.Header.Get("ETag")
		if etag == "" || res.Header.Get("Cache-Control") != "no-cache" {
			t.Errorf("GET %s: ETag %q, Cache-Control %q: want a validator and no-cache", tc.path, etag, res.Header.Get("Cache-Control"))
			continue
		}
		if again := get(tc.path, "If-None-Match", etag); again.StatusCode != http.StatusNotModified {
			t.Errorf("GET %s with its ETag: %d, want 304", tc.path, again.StatusCode)
		}
	}
	for _, path := range []string{"/js/", "/vendor", "/nope.js", "/../go.mod"} {
		if res := get(path); res.StatusCode != http.StatusNotFound {
			t.Errorf("GET %s: %d, want 404", path, res.StatusCode)
		}
	}
}
