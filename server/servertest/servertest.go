// Package servertest starts a real aitutor server for tests: a fresh PostgreSQL database
// (storetest), the OpenAI simulator over real HTTP (or the given providers), and the HTTP
// server on a loopback port. Helpers create users, sign tokens, call the REST API and dial the
// WebSocket.
package servertest

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/aitutor/aitutor/server"
	"github.com/aitutor/aitutor/session"
	"github.com/aitutor/aitutor/session/openai"
	"github.com/aitutor/aitutor/session/openaisim"
	"github.com/aitutor/aitutor/store"
	"github.com/aitutor/aitutor/store/storetest"
	"github.com/aitutor/aitutor/web"
)

// Secret signs the test server's tokens.
const Secret = "servertest-secret-0123456789-abcdefghijklmnop"

// Options change the test server.
type Options struct {
	Env       map[string]string  // configuration variables on top of the test defaults
	Profile   *openaisim.Profile // simulator latencies (default "fast")
	Providers *session.Providers // use these engines instead of the simulator
	Now       func() time.Time   // the store's and the jobs' clock
	Logger    *slog.Logger       // default: warnings and errors to the test log
	Store     *store.Store       // use this database instead of a fresh one (its migrations applied)
	// Env["AUDIO_STORE"] = "s3" keeps stored audio in a fresh bucket of the test object store
	// (storetest.S3) unless Env names another with S3_ENDPOINT.
}

// Env is a running test server.
type Env struct {
	T      testing.TB
	URL    string // http://127.0.0.1:port
	Store  *store.Store
	Sim    *openaisim.Server // nil with Options.Providers
	Server *server.Server
	Config server.Config
	HTTP   *httptest.Server

	deps server.Deps
}

// New starts a server for the test; everything stops when the test ends.
func New(t testing.TB, opts Options) *Env {
	t.Helper()
	vars := map[string]string{
		"APP_ENV": "test", "JWT_SECRET": Secret, "AI_PROVIDER": "sim", "AUTH_RATE_LIMIT": "1000",
		"GREETING_RATE_LIMIT": "10000",
		"JOIN_RATE_LIMIT":     "10000",
		"DATABASE_URL":        "postgres://unused/unused",
	}
	for k, v := range opts.Env {
		vars[k] = v
	}
	if vars["AUDIO_STORE"] == server.AudioStoreS3 && vars["S3_ENDPOINT"] == "" {
		// A fresh bucket of the test object store (SeaweedFS), as the environment would name it.
		s3 := storetest.S3(t)
		vars["S3_ENDPOINT"], vars["S3_BUCKET"], vars["S3_REGION"] = s3.Endpoint, s3.Bucket, s3.Region
		vars["AWS_ACCESS_KEY_ID"], vars["AWS_SECRET_ACCESS_KEY"] = s3.AccessKey, s3.SecretKey
	}
	cfg, err := server.Load(func(k string) string { return vars[k] })
	if err != nil {
		t.Fatalf("servertest: %v", err)
	}
	var storeOpts []store.Option
	if opts.Now != nil {
		storeOpts = append(storeOpts, store.WithClock(opts.Now))
	}
	if cfg.AudioStore == server.AudioStoreS3 {
		objects, err := store.NewObjects(cfg.S3)
		if err != nil {
			t.Fatalf("servertest: %v", err)
		}
		if err := objects.Ensure(context.Background()); err != nil {
			t.Fatalf("servertest: %v", err)
		}
		storeOpts = append(storeOpts, store.WithObjects(objects))
	}
	st := opts.Store
	if st == nil {
		st = storetest.New(t, storeOpts...)
	}
	env := &Env{T: t, Store: st, Config: cfg}
	var providers session.Providers
	if opts.Providers != nil {
		providers = *opts.Providers
	} else {
		p := openaisim.Profiles["fast"]
		if opts.Profile != nil {
			p = *opts.Profile
		}
		env.Sim = openaisim.New(p)
		simHTTP := httptest.NewServer(env.Sim.Handler())
		httpClient := openai.NewHTTPClient()
		t.Cleanup(func() {
			simHTTP.Close()
			httpClient.CloseIdleConnections()
		})
		providers = openai.New(openai.Config{
			APIKey: "test", BaseURL: simHTTP.URL + "/v1", HTTPClient: httpClient,
			ChatModel: cfg.ChatModel, STTModel: cfg.STTModel, TTSModel: cfg.TTSModel,
		}).Providers("sim")
	}
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: levelFromEnv()}))
	}
	env.deps = server.Deps{Store: st, Providers: providers, Logger: logger, Now: opts.Now, Web: web.Handler()}
	srv, err := server.New(cfg, env.deps)
	if err != nil {
		t.Fatalf("servertest: %v", err)
	}
	env.Server = srv
	env.HTTP = httptest.NewServer(srv.Handler())
	env.URL = env.HTTP.URL
	t.Cleanup(func() {
		env.Server.Close()
		env.HTTP.Close()
		http.DefaultClient.CloseIdleConnections()
	})
	return env
}

// Restart restarts the server as a deploy does: the live sessions are drained (their turns
// finish, then 1001 and a retryable error event), the server stops, and after down a new server
// on the same database serves the same address, so that clients reconnect to it.
func (e *Env) Restart(down time.Duration) {
	e.T.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := e.Server.Drain(ctx); err != nil {
		e.T.Errorf("servertest: drain: %v", err)
	}
	addr := e.HTTP.Listener.Addr().String()
	e.Server.Close()
	e.HTTP.CloseClientConnections()
	e.HTTP.Close()
	time.Sleep(down)
	srv, err := server.New(e.Config, e.deps)
	if err != nil {
		e.T.Fatalf("servertest: %v", err)
	}
	var ln net.Listener
	for i := 0; ; i++ {
		if ln, err = net.Listen("tcp", addr); err == nil {
			break
		}
		if i == 50 {
			e.T.Fatalf("servertest: listen on %s again: %v", addr, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	hs := httptest.NewUnstartedServer(srv.Handler())
	hs.Listener.Close()
	hs.Listener = ln
	hs.Start()
	e.Server, e.HTTP = srv, hs
}

func levelFromEnv() slog.Level {
	if os.Getenv("TEST_LOG") == "debug" {
		return slog.LevelDebug
	}
	return slog.LevelWarn
}

// testWriter sends log lines to the test log (and drops them after the test ends).
type testWriter struct{ t testing.TB }

var logMu sync.Mutex

func (w testWriter) Write(p []byte) (int, error) {
	logMu.Lock()
	defer logMu.Unlock()
	defer func() { recover() }() //nolint:errcheck // logging after the test ended panics
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// User creates a user (role "user" or "admin", customer type B2C unless given) and returns it
// with a token.
func (e *Env) User(email, role string, customerType ...string) (store.User, string) {
	e.T.Helper()
	ct := store.B2C
	if len(customerType) > 0 {
		ct = customerType[0]
	}
	u, err := e.Store.CreateUser(context.Background(), store.NewUser{Name: strings.Split(email, "@")[0], Email: email, Role: role, CustomerType: ct})
	if err != nil {
		e.T.Fatalf("servertest: create user: %v", err)
	}
	tok, err := server.NewTokens([]byte(Secret), time.Hour).Issue(u)
	if err != nil {
		e.T.Fatal(err)
	}
	return u, tok
}

// Plan creates a plan.
func (e *Env) Plan(name string, chatUses *int, target string) store.Plan {
	e.T.Helper()
	p, err := e.Store.CreatePlan(context.Background(), store.NewPlan{Name: name, DurationDays: 30, ChatUses: chatUses, Target: target, Price: 500})
	if err != nil {
		e.T.Fatal(err)
	}
	return p
}

// Membership buys plan for user.
func (e *Env) Membership(user store.User, plan store.Plan) store.Membership {
	e.T.Helper()
	r, err := e.Store.Purchase(context.Background(), user.ID, plan.ID, "")
	if err != nil {
		e.T.Fatal(err)
	}
	return r.Membership
}

// Learner creates a learner with a membership of chatUses uses (nil: unlimited).
func (e *Env) Learner(email string, chatUses *int) (store.User, string, store.Membership) {
	e.T.Helper()
	u, tok := e.User(email, store.RoleUser)
	m := e.Membership(u, e.Plan("plan for "+email, chatUses, store.B2C))
	return u, tok, m
}

// Response is a REST answer.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
}

// JSON decodes the body into v.
func (r Response) JSON(t testing.TB, v any) {
	t.Helper()
	if err := json.Unmarshal(r.Body, v); err != nil {
		t.Fatalf("decoding %s: %v", r.Body, err)
	}
}

// ErrorCode is the code of an error answer.
func (r Response) ErrorCode() string {
	code, _ := r.errorBody()
	return code
}

// ErrorMessage is the message of an error answer.
func (r Response) ErrorMessage() string {
	_, msg := r.errorBody()
	return msg
}

func (r Response) errorBody() (code, message string) {
	var e struct {
		Error struct{ Code, Message string } `json:"error"`
	}
	json.Unmarshal(r.Body, &e) //nolint:errcheck
	return e.Error.Code, e.Error.Message
}

// Do calls the API. body may be nil, a []byte, a string (sent as is) or a value sent as JSON.
func (e *Env) Do(method, path, token string, body any, headers ...string) Response {
	e.T.Helper()
	var rd io.Reader
	contentType := "application/json"
	switch b := body.(type) {
	case nil:
	case []byte:
		rd = bytes.NewReader(b)
	case string:
		rd = strings.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			e.T.Fatal(err)
		}
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, e.URL+path, rd)
	if err != nil {
		e.T.Fatal(err)
	}
	if rd != nil {
		req.Header.Set("Content-Type", contentType)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.T.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return Response{Status: resp.StatusCode, Header: resp.Header, Body: data}
}

// WSURL is the WebSocket URL of a membership's tutor session.
func (e *Env) WSURL(membershipID string) string {
	return "ws" + strings.TrimPrefix(e.URL, "http") + "/api/tutor/ws?membershipId=" + membershipID
}

// Dial opens a tutor session with a bearer token; it fails the test unless the upgrade works.
func (e *Env) Dial(token, membershipID string) *websocket.Conn {
	e.T.Helper()
	h := http.Header{}
	h.Set("Authorization", "Bearer "+token)
	conn, resp, err := websocket.DefaultDialer.Dial(e.WSURL(membershipID), h)
	if err != nil {
		status := 0
		if resp != nil {
			status = resp.StatusCode
		}
		e.T.Fatalf("dial: %v (HTTP %d)", err, status)
	}
	e.T.Cleanup(func() { conn.Close() })
	return conn
}
