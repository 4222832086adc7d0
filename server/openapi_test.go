package server

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/labstack/echo/v4"
	"gopkg.in/yaml.v3"

	"github.com/aitutor/aitutor/session"
	"github.com/aitutor/aitutor/store"
)

// The tests in this file hold docs/openapi.yaml to the router: every registered route is
// documented, every documented operation is registered, and what an operation says about
// authentication is what its middleware does.

const openapiFile = "../docs/openapi.yaml"

// openapiSpec is the part of the OpenAPI document these tests read.
type openapiSpec struct {
	Paths map[string]map[string]yaml.Node `yaml:"paths"`
}

type openapiOperation struct {
	OperationID string                 `yaml:"operationId"`
	Security    *[]map[string][]string `yaml:"security"`
	Responses   map[string]yaml.Node   `yaml:"responses"`
}

var openapiMethods = []string{"get", "put", "post", "delete", "options", "head", "patch", "trace"}

// loadOpenAPI returns the documented operations by "METHOD /path".
func loadOpenAPI(t *testing.T) map[string]openapiOperation {
	t.Helper()
	data, err := os.ReadFile(openapiFile)
	if err != nil {
		t.Fatalf("reading the API description: %v", err)
	}
	var spec openapiSpec
	if err := yaml.Unmarshal(data, &spec); err != nil {
		t.Fatalf("%s: %v", openapiFile, err)
	}
	if len(spec.Paths) == 0 {
		t.Fatalf("%s documents no paths", openapiFile)
	}
	ops := map[string]openapiOperation{}
	for path, item := range spec.Paths {
		for key, node := range item {
			if !slices.Contains(openapiMethods, key) {
				continue // parameters, summary, ... of the path item
			}
			var op openapiOperation
			if err := node.Decode(&op); err != nil {
				t.Fatalf("%s: %s %s: %v", openapiFile, key, path, err)
			}
			ops[strings.ToUpper(key)+" "+path] = op
		}
	}
	return ops
}

// routeOnlyServer builds the server's router without a database: nothing in New touches the
// store, and the requests these tests send stop before any handler reaches it, except where
// noted.
func routeOnlyServer(t *testing.T) *Server {
	t.Helper()
	env := map[string]string{"APP_ENV": "test", "JWT_SECRET": "openapi-test-secret-0123456789-abcdefghij"}
	cfg, err := Load(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	engines := openapiNoEngines{}
	s, err := New(cfg, Deps{
		Store:     new(store.Store),
		Providers: session.Providers{Name: "none", STT: engines, Chat: engines, TTS: engines},
		Logger:    slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatal(err)
	}
	// Stopped with the test: its session registry's heartbeat would otherwise reach the store,
	// which has no database, 30 s later while the package's other tests still run.
	t.Cleanup(s.Close)
	return s
}

// openapiNoEngines stands in for the speech and chat providers, which these tests never call.
type openapiNoEngines struct{}

var errNoEngines = errors.New("no engines in this test")

func (openapiNoEngines) Transcribe(context.Context, session.Audio) (string, error) {
	return "", errNoEngines
}

func (openapiNoEngines) StreamChat(context.Context, session.ChatRequest) (session.ChatStream, error) {
	return nil, errNoEngines
}

func (openapiNoEngines) Synthesize(context.Context, string, string) (io.ReadCloser, error) {
	return nil, errNoEngines
}

var echoParam = regexp.MustCompile(`:([A-Za-z0-9_]+)`)

// openapiPath turns echo's /users/:userId into OpenAPI's /users/{userId}.
func openapiPath(echoPath string) string { return echoParam.ReplaceAllString(echoPath, "{$1}") }

// registeredRoutes lists the router's routes as "METHOD /path", without the catch-alls (the
// web UI at /*, the JSON 404 at /api/*) and the not-found routes that echo adds for groups.
func registeredRoutes(s *Server) []string {
	var out []string
	for _, r := range s.echo.Routes() {
		if r.Method == echo.RouteNotFound || r.Path == "/*" || r.Path == "/api/*" {
			continue
		}
		out = append(out, r.Method+" "+openapiPath(r.Path))
	}
	slices.Sort(out)
	return slices.Compact(out)
}

func TestOpenAPIDocumentsEveryRoute(t *testing.T) {
	s := routeOnlyServer(t)
	ops := loadOpenAPI(t)
	routes := registeredRoutes(s)
	if len(routes) < 20 {
		t.Fatalf("only %d routes registered: %v", len(routes), routes)
	}
	for _, r := range routes {
		if _, ok := ops[r]; !ok {
			t.Errorf("route %s is registered but not documented in %s", r, openapiFile)
		}
	}
	for op := range ops {
		if !slices.Contains(routes, op) {
			t.Errorf("%s documents %s, which the server does not register", openapiFile, op)
		}
	}
}

// TestOpenAPISecurityMatchesMiddleware sends every documented operation a request without a
// token: operations documented with a security requirement must answer 401 and document it;
// operations documented as public (security: []) must not.
func TestOpenAPISecurityMatchesMiddleware(t *testing.T) {
	s := routeOnlyServer(t)
	for key, op := range loadOpenAPI(t) {
		t.Run(key, func(t *testing.T) {
			if op.Security == nil {
				t.Fatal("the operation must state its security (security: [] for anyone)")
			}
			method, path, _ := strings.Cut(key, " ")
			// Placeholders that are not UUIDs keep handlers away from the database.
			target := regexp.MustCompile(`\{[^}]+\}`).ReplaceAllString(path, "x")
			req := httptest.NewRequest(method, target, nil)
			rec := httptest.NewRecorder()
			// The store has no database: a public handler that reaches it (GET /readyz) panics
			// and is answered 500 by the recovery middleware. Only 401 or not matters here.
			s.echo.ServeHTTP(rec, req)

			_, documents401 := op.Responses["401"]
			if secured := len(*op.Security) > 0; secured {
				if rec.Code != http.StatusUnauthorized {
					t.Errorf("documented as needing a token, but without one it answers %d: %s", rec.Code, rec.Body)
				}
				if !documents401 {
					t.Error("needs a token but does not document the 401 answer")
				}
				if strings.HasPrefix(path, "/api/admin/") {
					if _, ok := op.Responses["403"]; !ok {
						t.Error("an admin route must document the 403 answer to non-admins")
					}
				}
			} else if rec.Code == http.StatusUnauthorized {
				t.Errorf("documented for anyone, but without a token it answers 401: %s", rec.Body)
			}
		})
	}
}
