package server_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aitutor/aitutor/server/servertest"
	"github.com/aitutor/aitutor/session"
	"github.com/aitutor/aitutor/session/openaisim"
	"github.com/aitutor/aitutor/store"
)

// Contract tests for the prototype's own frontend (github.com/0biglife/ai-tutor-front, Next.js
// with axios), which schools still run against aitutor: built with
// NEXT_PUBLIC_API_URL=<server>/api, NEXT_PUBLIC_ROOT_URL=<server> and a learner's token, served
// from another origin that is in ALLOWED_ORIGINS. Every request here is sent as Chromium sends
// that frontend's: axios with withCredentials, so a CORS preflight first and an answer the page
// may read only with Access-Control-Allow-Credentials; a bearer token; JSON bodies; the
// recorder's upload as multipart "audio" (voice.webm, Opus at 48 kHz) + "membershipId"; audio
// paths joined to NEXT_PUBLIC_ROOT_URL by string concatenation. What each answer must hold is
// what its TypeScript types and components read. web/prototype_test.go runs the same calls in
// real Chromium.

// prototypeOrigin is where the prototype's frontend is served (its Next.js dev server).
const prototypeOrigin = "http://localhost:3000"

// prototypeClient calls the API as the prototype's frontend does from a browser.
type prototypeClient struct {
	t      *testing.T
	api    string // NEXT_PUBLIC_API_URL
	root   string // NEXT_PUBLIC_ROOT_URL
	origin string
	token  string // NEXT_PUBLIC_TEST_BEARER_TOKEN
}

func newPrototypeClient(t *testing.T, env *servertest.Env, token string) prototypeClient {
	return prototypeClient{t: t, api: env.URL + "/api", root: env.URL, origin: prototypeOrigin, token: token}
}

// in is the client failing the (sub)test t.
func (p prototypeClient) in(t *testing.T) prototypeClient {
	p.t = t
	return p
}

// getJSON and postJSON are axios's get and post with a JSON body (axios drops Content-Type when
// there is no body).
func (p prototypeClient) getJSON(path string) servertest.Response {
	p.t.Helper()
	return p.send(http.MethodGet, path, "", nil)
}

func (p prototypeClient) postJSON(path string, body any) servertest.Response {
	p.t.Helper()
	b, err := json.Marshal(body)
	if err != nil {
		p.t.Fatal(err)
	}
	return p.send(http.MethodPost, path, "application/json", b)
}

// upload posts the recorder's blob as the tutor page does: the part "audio" named voice.webm
// with the Blob's type, then "membershipId". With a FormData body axios leaves Content-Type to
// the browser (multipart/form-data with a boundary).
func (p prototypeClient) upload(membershipID string, webm []byte) servertest.Response {
	p.t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	h := textproto.MIMEHeader{}
	h.Set("Content-Disposition", `form-data; name="audio"; filename="voice.webm"`)
	h.Set("Content-Type", "audio/webm")
	part, _ := mw.CreatePart(h)
	part.Write(webm)                            //nolint:errcheck
	mw.WriteField("membershipId", membershipID) //nolint:errcheck
	mw.Close()
	return p.send(http.MethodPost, "/tutor/chat", mw.FormDataContentType(), body.Bytes())
}

// send makes the browser's two requests: the preflight (the Authorization header, and a JSON
// Content-Type, are not CORS-safelisted) and the credentialed request. It fails the test where
// Chromium would refuse the page the answer.
func (p prototypeClient) send(method, path, contentType string, body []byte) servertest.Response {
	p.t.Helper()
	requested := []string{"authorization"}
	if strings.HasPrefix(contentType, "application/json") {
		requested = append(requested, "content-type")
	}
	pre := p.raw(http.MethodOptions, path, nil,
		"Access-Control-Request-Method", method, "Access-Control-Request-Headers", strings.Join(requested, ","))
	if pre.Status < 200 || pre.Status > 299 {
		p.t.Fatalf("preflight of %s %s: status %d, want 2xx", method, path, pre.Status)
	}
	p.wantCredentialedCORS(pre, "preflight of "+method+" "+path)
	if methods := listHeader(pre.Header, "Access-Control-Allow-Methods"); !slices.Contains(methods, method) {
		p.t.Fatalf("preflight of %s %s allows methods %v", method, path, methods)
	}
	allowed := listHeader(pre.Header, "Access-Control-Allow-Headers")
	for _, h := range requested {
		if !slices.ContainsFunc(allowed, func(a string) bool { return strings.EqualFold(a, h) }) {
			p.t.Fatalf("preflight of %s %s allows headers %v, not %s", method, path, allowed, h)
		}
	}
	hdr := []string{"Authorization", "Bearer " + p.token, "Accept", "application/json, text/plain, */*"}
	if contentType != "" {
		hdr = append(hdr, "Content-Type", contentType)
	}
	r := p.raw(method, path, body, hdr...)
	p.wantCredentialedCORS(r, method+" "+path)
	return r
}

// raw sends one request with the page's Origin.
func (p prototypeClient) raw(method, path string, body []byte, headers ...string) servertest.Response {
	p.t.Helper()
	req, err := http.NewRequest(method, p.api+path, bytes.NewReader(body))
	if err != nil {
		p.t.Fatal(err)
	}
	req.Header.Set("Origin", p.origin)
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		p.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return servertest.Response{Status: resp.StatusCode, Header: resp.Header, Body: data}
}

// wantCredentialedCORS: Chromium shows a credentialed answer to the page only when it names the
// page's origin exactly and allows credentials.
func (p prototypeClient) wantCredentialedCORS(r servertest.Response, what string) {
	p.t.Helper()
	if got := r.Header.Get("Access-Control-Allow-Origin"); got != p.origin {
		p.t.Fatalf("%s: Access-Control-Allow-Origin %q, want %q (status %d: %s)", what, got, p.origin, r.Status, r.Body)
	}
	if got := r.Header.Get("Access-Control-Allow-Credentials"); got != "true" {
		p.t.Fatalf("%s: Access-Control-Allow-Credentials %q, want \"true\": the browser refuses a credentialed answer without it (status %d)", what, got, r.Status)
	}
}

// audio fetches a path the API returned as the frontend's audio elements do: joined to
// NEXT_PUBLIC_ROOT_URL, a no-cors media request for a range.
func (p prototypeClient) audio(path string) servertest.Response {
	p.t.Helper()
	if !strings.HasPrefix(path, "/") || strings.HasPrefix(path, "//") {
		p.t.Fatalf("audio URL %q: the frontend prefixes it with NEXT_PUBLIC_ROOT_URL (%s), so it must be a path", path, p.root)
	}
	req, _ := http.NewRequest(http.MethodGet, p.root+path, nil)
	req.Header.Set("Range", "bytes=0-")
	req.Header.Set("Accept-Encoding", "identity;q=1, *;q=0")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		p.t.Fatalf("GET %s%s: %v", p.root, path, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusPartialContent {
		p.t.Fatalf("GET %s%s: status %d: %s", p.root, path, resp.StatusCode, data)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "audio/") {
		p.t.Fatalf("GET %s%s: Content-Type %q, want audio/*", p.root, path, ct)
	}
	return servertest.Response{Status: resp.StatusCode, Header: resp.Header, Body: data}
}

func listHeader(h http.Header, name string) []string {
	var out []string
	for _, v := range h.Values(name) {
		for _, s := range strings.Split(v, ",") {
			if s = strings.TrimSpace(s); s != "" {
				out = append(out, s)
			}
		}
	}
	return out
}

// jsType is a decoded JSON value's type as the frontend's code sees it.
func jsType(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case string:
		return "string"
	case float64:
		return "number"
	case bool:
		return "boolean"
	case []any:
		return "array"
	case map[string]any:
		return "object"
	}
	return fmt.Sprintf("%T", v)
}

// wantShape fails unless obj has every field with one of the types listed ("string",
// "number|null"; a trailing "?" allows the field to be absent).
func wantShape(t *testing.T, what string, obj any, fields map[string]string) map[string]any {
	t.Helper()
	m, ok := obj.(map[string]any)
	if !ok {
		t.Fatalf("%s is %s, want an object", what, jsType(obj))
	}
	for name, spec := range fields {
		v, present := m[name]
		if !present {
			if !strings.HasSuffix(spec, "?") {
				t.Errorf("%s has no %q", what, name)
			}
			continue
		}
		if types := strings.Split(strings.TrimSuffix(spec, "?"), "|"); !slices.Contains(types, jsType(v)) {
			t.Errorf("%s.%s is %s (%v), want %s", what, name, jsType(v), v, spec)
		}
	}
	return m
}

func decodeAny(t *testing.T, r servertest.Response) any {
	t.Helper()
	var v any
	if err := json.Unmarshal(r.Body, &v); err != nil {
		t.Fatalf("decoding %s: %v", r.Body, err)
	}
	return v
}

// The fields the frontend's types declare and its components read. region and profileImage are
// null when unset: the frontend reads them as `region ?? <the browser's time zone>` and as an
// avatar's src, which both treat null as "none" (an empty string would blank the region line).
var (
	prototypeUser = map[string]string{
		"id": "string", "name": "string", "email": "string", "region": "string|null",
		"profileImage": "string|null?", "customerType": "string", "memberships": "array",
	}
	prototypeMembership = map[string]string{
		"id": "string", "plan": "object", "startedAt": "string", "expiresAt": "string",
		"remainingChatUses": "number|null", "remainingAnalysisUses": "number|null",
		"grantedByAdmin": "boolean", "isExpired": "boolean",
	}
	prototypePlan = map[string]string{
		"id": "string", "name": "string", "description": "string", "durationDays": "number",
		"features": "object", "target": "string", "price": "number", "active": "boolean?",
	}
	prototypeFeatures = map[string]string{"chatUses": "number|null", "analysisUses": "number|null"}
	prototypeChat     = map[string]string{
		"userText": "string", "assistantText": "string", "ttsUrl": "string", "userAudioUrl": "string",
		"membershipId": "string", "chatUses": "number",
	}
)

func wantPrototypePlan(t *testing.T, what string, v any) map[string]any {
	t.Helper()
	p := wantShape(t, what, v, prototypePlan)
	wantShape(t, what+".features", p["features"], prototypeFeatures)
	if target := p["target"]; target != store.B2C && target != store.B2B {
		t.Errorf("%s.target = %v, want B2C or B2B", what, target)
	}
	return p
}

// wantPrototypeUser checks GET /users/me and returns its memberships by id.
func wantPrototypeUser(t *testing.T, r servertest.Response) map[string]map[string]any {
	t.Helper()
	u := wantShape(t, "user", decodeAny(t, r), prototypeUser)
	out := map[string]map[string]any{}
	for i, v := range u["memberships"].([]any) {
		what := fmt.Sprintf("user.memberships[%d]", i)
		m := wantShape(t, what, v, prototypeMembership)
		wantPrototypePlan(t, what+".plan", m["plan"])
		for _, f := range []string{"startedAt", "expiresAt"} {
			if _, err := time.Parse(time.RFC3339Nano, m[f].(string)); err != nil {
				t.Errorf("%s.%s = %v: not an ISO 8601 time for new Date(): %v", what, f, m[f], err)
			}
		}
		out[m["id"].(string)] = m
	}
	return out
}

// recordedUploads remembers what the transcriber was sent.
type recordedUploads struct {
	mu    sync.Mutex
	names []string
	data  [][]byte
}

func (u *recordedUploads) transcript(name string, data []byte) string {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.names = append(u.names, name)
	u.data = append(u.data, data)
	return openaisim.DefaultTranscript
}

func (u *recordedUploads) last() (string, []byte) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if len(u.names) == 0 {
		return "", nil
	}
	return u.names[len(u.names)-1], u.data[len(u.data)-1]
}

func TestPrototypeFrontend(t *testing.T) {
	t.Parallel()
	env := servertest.New(t, servertest.Options{Env: map[string]string{"ALLOWED_ORIGINS": prototypeOrigin + ",https://school.example"}})
	uploads := &recordedUploads{}
	env.Sim.SetTranscript(uploads.transcript)
	ctx := t.Context()
	krwPlan := func(name string, uses *int, target string, price int64) store.Plan {
		p, err := env.Store.CreatePlan(ctx, store.NewPlan{Name: name, Description: name + " plan", DurationDays: 30, ChatUses: uses, AnalysisUses: intp(5), Target: target, Price: price, Currency: "KRW"})
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	starter := krwPlan("Starter", intp(2), store.B2C, 9900)
	unlimited := krwPlan("Unlimited", nil, store.B2C, 29000)
	team := krwPlan("Team", intp(200), store.B2B, 199000)
	learner, token := env.User("learner@example.com", store.RoleUser)
	free := env.Membership(learner, unlimited)
	_, companyToken := env.User("employee@example.com", store.RoleUser, store.B2B)
	webm := servertest.WebMRecording(t, "I would like to practise ordering food in a restaurant.")
	p := newPrototypeClient(t, env, token)

	var boughtID string
	t.Run("home: GET /users/me", func(t *testing.T) {
		p := p.in(t)
		r := p.getJSON("/users/me")
		want(t, r, http.StatusOK)
		ms := wantPrototypeUser(t, r)
		if len(ms) != 1 || ms[free.ID] == nil || ms[free.ID]["remainingChatUses"] != nil {
			t.Fatalf("memberships %v, want the unlimited one (remainingChatUses null)", ms)
		}
	})

	t.Run("membership page: GET /membership lists the learner's plans", func(t *testing.T) {
		p := p.in(t)
		r := p.getJSON("/membership")
		want(t, r, http.StatusOK)
		plans, ok := decodeAny(t, r).([]any)
		if !ok {
			t.Fatalf("GET /membership: %s, want an array", r.Body)
		}
		var ids []string
		for i, v := range plans {
			pl := wantPrototypePlan(t, fmt.Sprintf("plans[%d]", i), v)
			if pl["target"] != store.B2C {
				t.Errorf("a B2C learner is offered %v (%v)", pl["name"], pl["target"])
			}
			ids = append(ids, pl["id"].(string))
			// The frontend prints ₩ and price.toLocaleString(): a KRW price is whole won.
			if pl["id"] == starter.ID && pl["price"] != float64(9900) {
				t.Errorf("Starter costs %v, want 9900 (won)", pl["price"])
			}
		}
		if !slices.Contains(ids, starter.ID) || !slices.Contains(ids, unlimited.ID) || slices.Contains(ids, team.ID) {
			t.Fatalf("plans %v: want Starter and Unlimited, not Team", ids)
		}
	})

	t.Run("membership page: the Next.js server's own GET /membership", func(t *testing.T) {
		// The page is rendered on the Next.js server, which fetches the plans itself: no
		// browser, no Origin, no CORS.
		r := env.Do(http.MethodGet, "/api/membership", token, nil, "Accept", "application/json, text/plain, */*")
		want(t, r, http.StatusOK)
		if plans, ok := decodeAny(t, r).([]any); !ok || len(plans) != 2 {
			t.Fatalf("plans %s", r.Body)
		}
	})

	t.Run("membership page: a company learner sees company plans", func(t *testing.T) {
		r := newPrototypeClient(t, env, companyToken).getJSON("/membership")
		want(t, r, http.StatusOK)
		plans := decodeAny(t, r).([]any)
		if len(plans) != 1 || plans[0].(map[string]any)["id"] != team.ID {
			t.Fatalf("a B2B learner sees %s", r.Body)
		}
	})

	t.Run("membership page: POST /membership {planId} buys", func(t *testing.T) {
		p := p.in(t)
		r := p.postJSON("/membership", map[string]string{"planId": starter.ID})
		want(t, r, http.StatusCreated)
		boughtID = decodeAny(t, r).(map[string]any)["id"].(string)
		// The page then fetches the user again and marks the plan as owned.
		ms := wantPrototypeUser(t, p.getJSON("/users/me"))
		m := ms[boughtID]
		if m == nil || m["plan"].(map[string]any)["id"] != starter.ID || m["isExpired"] != false || m["remainingChatUses"] != float64(2) {
			t.Fatalf("after the purchase: %v", ms)
		}
	})

	t.Run("membership page: typing a company code does not sell company plans", func(t *testing.T) {
		// The frontend checks its company code in the browser; the server sells B2B plans to
		// B2B learners only, and says so in an answer the page can read.
		p := p.in(t)
		r := p.postJSON("/membership", map[string]string{"planId": team.ID})
		want(t, r, http.StatusForbidden, "plan_not_available")
	})

	t.Run("tutor: POST /tutor/init {text}, then the welcome speech", func(t *testing.T) {
		p := p.in(t)
		r := p.postJSON("/tutor/init", map[string]string{"text": "Hello! I am your English tutor. Shall we practise together?"})
		want(t, r, http.StatusOK)
		init := wantShape(t, "init", decodeAny(t, r), map[string]string{"ttsUrl": "string", "ttsAbsoluteUrl": "string"})
		a := p.audio(init["ttsUrl"].(string))
		if _, rate, err := session.ParseWAV(a.Body); err != nil || rate != session.OutputSampleRate {
			t.Fatalf("the welcome speech: %v, %d Hz", err, rate)
		}
		if init["ttsAbsoluteUrl"] != p.root+init["ttsUrl"].(string) {
			t.Errorf("ttsAbsoluteUrl %v, want %s%v", init["ttsAbsoluteUrl"], p.root, init["ttsUrl"])
		}
	})

	chat := func(t *testing.T, membershipID string) map[string]any {
		t.Helper()
		p := p.in(t)
		r := p.upload(membershipID, webm)
		want(t, r, http.StatusOK)
		a := wantShape(t, "chat", decodeAny(t, r), prototypeChat)
		if a["membershipId"] != membershipID || a["userText"] != openaisim.DefaultTranscript || a["assistantText"] == "" {
			t.Fatalf("chat answer %s", r.Body)
		}
		// The reply plays from NEXT_PUBLIC_ROOT_URL + ttsUrl; the microphone comes back when it ends.
		reply := p.audio(a["ttsUrl"].(string))
		if samples, rate, err := session.ParseWAV(reply.Body); err != nil || rate != session.OutputSampleRate || len(samples) < rate {
			t.Fatalf("reply audio: %v, %d Hz, %d samples", err, rate, len(samples))
		}
		// The learner's own bubble replays the upload, as it was sent.
		if mine := p.audio(a["userAudioUrl"].(string)); !bytes.Equal(mine.Body, webm) || mine.Header.Get("Content-Type") != "audio/webm" {
			t.Fatalf("userAudioUrl gave %d bytes of %s, want the %d bytes uploaded", len(mine.Body), mine.Header.Get("Content-Type"), len(webm))
		}
		if name, data := uploads.last(); !strings.HasSuffix(name, ".webm") || !bytes.Equal(data, webm) {
			t.Fatalf("the transcriber got %q (%d bytes), want the webm as uploaded", name, len(data))
		}
		return a
	}

	t.Run("tutor: POST /tutor/chat with voice.webm on a limited membership", func(t *testing.T) {
		// The frontend opens its "chat expired" dialog when chatUses <= 0.
		p := p.in(t)
		if a := chat(t, boughtID); a["chatUses"] != float64(1) || a["unlimited"] != false {
			t.Fatalf("first turn: chatUses %v, unlimited %v; want 1, false", a["chatUses"], a["unlimited"])
		}
		if a := chat(t, boughtID); a["chatUses"] != float64(0) {
			t.Fatalf("last turn: chatUses %v, want 0 (the dialog opens)", a["chatUses"])
		}
		r := p.upload(boughtID, webm)
		want(t, r, http.StatusPaymentRequired, "quota_exhausted")
		p.wantCredentialedCORS(r, "an exhausted membership's answer")
	})

	t.Run("tutor: POST /tutor/chat on an unlimited membership", func(t *testing.T) {
		for turn := 1; turn <= 2; turn++ {
			a := chat(t, free.ID)
			uses := a["chatUses"].(float64)
			if uses <= 0 || uses != math.MaxInt32 || a["unlimited"] != true || a["remainingChatUses"] != nil {
				t.Fatalf("turn %d: chatUses %v, unlimited %v, remainingChatUses %v: want a positive number (%d), true, null",
					turn, a["chatUses"], a["unlimited"], a["remainingChatUses"], math.MaxInt32)
			}
		}
	})

	t.Run("another site gets no answer", func(t *testing.T) {
		evil := p.in(t)
		evil.origin = "https://evil.example"
		pre := evil.raw(http.MethodOptions, "/users/me", nil, "Access-Control-Request-Method", "GET", "Access-Control-Request-Headers", "authorization")
		r := evil.raw(http.MethodGet, "/users/me", nil, "Authorization", "Bearer "+token)
		for _, res := range []servertest.Response{pre, r} {
			if res.Header.Get("Access-Control-Allow-Origin") != "" || res.Header.Get("Access-Control-Allow-Credentials") != "" {
				t.Fatalf("a foreign origin got CORS headers: %v", res.Header)
			}
		}
	})
}
