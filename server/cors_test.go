package server_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/aitutor/aitutor/server"
	"github.com/aitutor/aitutor/server/servertest"
)

// TestCORS: browsers on the origins in ALLOWED_ORIGINS may call the API with credentials (the
// prototype's axios sends withCredentials), on preflights and on answers, errors included;
// other origins get no CORS headers; with "*" any origin may call, never with credentials.
func TestCORS(t *testing.T) {
	t.Parallel()
	const school = "https://school.example"
	type answer struct{ origin, credentials string }
	cases := []struct {
		name    string
		allowed string
		origin  string
		want    answer
	}{
		{"listed origin", "https://other.example," + school, school, answer{school, "true"}},
		{"listed origin, other case", school, "https://SCHOOL.example", answer{"https://SCHOOL.example", "true"}},
		{"foreign origin", school, "https://evil.example", answer{}},
		{"a subdomain of a listed origin", school, "https://evil.school.example", answer{}},
		{"listed host on another port", school, "https://school.example:8443", answer{}},
		{"wildcard", "*", "https://anyone.example", answer{"*", ""}},
		{"wildcard beside a listed origin", school + ",*", school, answer{"*", ""}},
		{"same origin only (unset)", "", school, answer{}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			env := servertest.New(t, servertest.Options{Env: map[string]string{"ALLOWED_ORIGINS": tc.allowed}})
			_, tok := env.User("ann@example.com", "user")
			check := func(what string, r servertest.Response) {
				t.Helper()
				got := answer{r.Header.Get("Access-Control-Allow-Origin"), r.Header.Get("Access-Control-Allow-Credentials")}
				if got != tc.want {
					t.Errorf("%s: Allow-Origin %q, Allow-Credentials %q; want %q, %q", what, got.origin, got.credentials, tc.want.origin, tc.want.credentials)
				}
				if tc.want.origin != "" && tc.want.origin != "*" && !strings.Contains(strings.Join(r.Header.Values("Vary"), ","), "Origin") {
					t.Errorf("%s: an answer that depends on the Origin lacks Vary: Origin", what)
				}
			}
			pre := env.Do(http.MethodOptions, "/api/tutor/chat", "", nil, "Origin", tc.origin,
				"Access-Control-Request-Method", "POST", "Access-Control-Request-Headers", "authorization")
			if tc.allowed != "" && pre.Status != http.StatusNoContent {
				t.Errorf("preflight: status %d", pre.Status)
			}
			check("preflight", pre)
			if tc.want.origin != "" {
				if h := pre.Header.Get("Access-Control-Allow-Headers"); !strings.Contains(h, "Authorization") || !strings.Contains(h, "Idempotency-Key") {
					t.Errorf("preflight allows headers %q", h)
				}
			}
			check("GET /api/users/me", env.Do(http.MethodGet, "/api/users/me", tok, nil, "Origin", tc.origin))
			// Errors carry them too, or the page sees a network error instead of the status.
			r := env.Do(http.MethodGet, "/api/users/me", "", nil, "Origin", tc.origin)
			want(t, r, http.StatusUnauthorized)
			check("401", r)
			check("404", env.Do(http.MethodGet, "/api/no-such-route", tok, nil, "Origin", tc.origin))
		})
	}
}

// TestAllowedOriginsConfig: ALLOWED_ORIGINS lists exact origins; patterns are refused at start.
func TestAllowedOriginsConfig(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		value string
		ok    bool
	}{
		{"https://school.example, http://localhost:3000/", true},
		{"*", true},
		{"https://*.school.example", false},
		{"school.example", false},
		{"https://school.example/app", false},
	} {
		vars := map[string]string{"APP_ENV": "test", "JWT_SECRET": servertest.Secret, "DATABASE_URL": "postgres://x/y", "ALLOWED_ORIGINS": tc.value}
		_, err := server.Load(func(k string) string { return vars[k] })
		if (err == nil) != tc.ok {
			t.Errorf("ALLOWED_ORIGINS=%q: err %v, want ok=%v", tc.value, err, tc.ok)
		}
		if err != nil && !strings.Contains(err.Error(), "ALLOWED_ORIGINS") {
			t.Errorf("ALLOWED_ORIGINS=%q: the error %q does not name the variable", tc.value, err)
		}
	}
}
