package web_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/aitutor/aitutor/server/servertest"
	"github.com/aitutor/aitutor/store"
)

// The prototype's own frontend (github.com/0biglife/ai-tutor-front) in real Chromium: a page
// served from another origin than the API (testdata/prototype-client.html on a second server,
// at http://localhost:<port>, while the API is at http://127.0.0.1:<port>) makes that
// frontend's calls as its axios instance makes them — fetch with credentials "include" (axios's
// withCredentials) and a bearer token — records the fake microphone with MediaRecorder
// (audio/webm, Opus) and uploads it as voice.webm, and plays the audio paths it is given joined
// to NEXT_PUBLIC_ROOT_URL in audio elements. server/prototype_test.go checks the same contract
// request by request.

// protoAnswer is what the page's call() returns: status 0 when the browser refused the answer.
type protoAnswer struct {
	Status int             `json:"status"`
	Data   json.RawMessage `json:"data"`
	Error  string          `json:"error"`
}

// protoCall makes one call from the page; the test fails when the browser refuses the answer
// or its status is not want.
func protoCall(tb *tab, want int, method, path string, body any) map[string]any {
	tb.t.Helper()
	arg := "undefined"
	if body != nil {
		b, _ := json.Marshal(body)
		arg = string(b)
	}
	a := evalJS[protoAnswer](tb, fmt.Sprintf(`prototypeClient.call(%q, %q, %s)`, method, path, arg))
	return protoResult(tb, want, method+" "+path, a)
}

func protoResult(tb *tab, want int, what string, a protoAnswer) map[string]any {
	tb.t.Helper()
	if a.Status == 0 {
		tb.fatalf("%s: the browser refused the page the answer (%s); see the console below for Chromium's reason", what, a.Error)
	}
	if a.Status != want {
		tb.fatalf("%s: status %d, want %d: %s", what, a.Status, want, a.Data)
	}
	var v map[string]any
	if len(a.Data) > 0 && a.Data[0] == '{' {
		if err := json.Unmarshal(a.Data, &v); err != nil {
			tb.fatalf("%s: %v", what, err)
		}
	}
	return v
}

type playResult struct {
	Outcome  string  `json:"outcome"`
	Src      string  `json:"src"`
	Duration float64 `json:"duration"`
	Error    string  `json:"error"`
}

// protoPlay plays an audio path as the frontend does; untilEnded waits for the end, which is
// when the frontend gives the learner the microphone back.
func protoPlay(tb *tab, path string, untilEnded bool) playResult {
	tb.t.Helper()
	if !strings.HasPrefix(path, "/") {
		tb.fatalf("audio URL %q: the frontend prefixes it with NEXT_PUBLIC_ROOT_URL, so it must be a path", path)
	}
	want := "loaded"
	if untilEnded {
		want = "ended"
	}
	p := evalJS[playResult](tb, fmt.Sprintf(`prototypeClient.play(%q, %t)`, path, untilEnded))
	if p.Outcome != want {
		tb.fatalf("playing %s: %s (%s), want %s", p.Src, p.Outcome, p.Error, want)
	}
	tb.t.Logf("played %s: %s (%.1f s of audio)", p.Src, p.Outcome, p.Duration)
	return p
}

func TestPrototypeFrontendInChromium(t *testing.T) {
	page := httptest.NewServer(http.FileServer(http.Dir("testdata")))
	t.Cleanup(page.Close)
	pageURL, _ := url.Parse(page.URL)
	pageOrigin := "http://localhost:" + pageURL.Port() // another host than the API's 127.0.0.1: cross-site
	env := servertest.New(t, servertest.Options{Env: map[string]string{"ALLOWED_ORIGINS": pageOrigin}})
	ctx := t.Context()
	plan := func(name string, uses *int, target string, price int64) store.Plan {
		p, err := env.Store.CreatePlan(ctx, store.NewPlan{Name: name, Description: name, DurationDays: 30, ChatUses: uses, Target: target, Price: price, Currency: "KRW"})
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	starter := plan("Starter", intp(3), store.B2C, 9900)
	unlimited := plan("Unlimited", nil, store.B2C, 29000)
	plan("Team", intp(200), store.B2B, 199000)
	learner, token := env.User("learner@example.com", store.RoleUser)
	free := env.Membership(learner, unlimited)

	mic := writeMicWAV(t, "prototype.wav", speech(1800*time.Millisecond), silence(400*time.Millisecond))
	tb := newTab(t, newBrowser(t, mic, false), pageOrigin, "prototype")
	tb.do("open the page", chromedp.Navigate(pageOrigin+"/prototype-client.html"))
	// NEXT_PUBLIC_API_URL, NEXT_PUBLIC_ROOT_URL and the learner's token.
	if origin := evalJS[string](tb, fmt.Sprintf(`prototypeClient.configure(%q, %q, %q)`, env.URL+"/api", env.URL, token)); origin != pageOrigin || strings.HasPrefix(env.URL, origin) {
		t.Fatalf("the page runs at %s, the API at %s: want another origin", origin, env.URL)
	}

	// Home: the user, with memberships. What the profile card shows for an unset region is the
	// browser's time zone (region ?? time zone); the membership dates go through new Date().
	me := protoCall(tb, 200, "GET", "/users/me", nil)
	if ms, _ := me["memberships"].([]any); len(ms) != 1 {
		t.Fatalf("memberships %v", me["memberships"])
	}
	if shown := evalJS[string](tb, `prototypeClient.call("GET", "/users/me").then((r) => {
			const m = r.data.memberships[0];
			if (isNaN(new Date(m.startedAt)) || isNaN(new Date(m.expiresAt))) return "bad dates: " + m.startedAt + " " + m.expiresAt;
			return r.data.region ?? Intl.DateTimeFormat().resolvedOptions().timeZone;
		})`); shown == "" || strings.HasPrefix(shown, "bad dates") {
		t.Errorf("the profile card's region line: %q", shown)
	}

	// Membership page: the plans, filtered by target in the page; then a purchase, and the
	// user again.
	plans := evalJS[[]struct {
		ID       string `json:"id"`
		Target   string `json:"target"`
		Price    int64  `json:"price"`
		Features struct {
			ChatUses *int `json:"chatUses"`
		} `json:"features"`
	}](tb, `prototypeClient.call("GET", "/membership").then((r) => r.status === 200 ? r.data : [])`)
	var sawStarter bool
	for _, p := range plans {
		if p.Target != store.B2C {
			t.Errorf("a B2C learner is offered a %s plan", p.Target)
		}
		if p.ID == starter.ID {
			sawStarter = p.Price == 9900 && p.Features.ChatUses != nil && *p.Features.ChatUses == 3
		}
	}
	if !sawStarter {
		t.Fatalf("GET /membership from the page: %+v, want Starter at 9900 (won) with 3 chats", plans)
	}
	bought := protoCall(tb, 201, "POST", "/membership", map[string]string{"planId": starter.ID})
	boughtID, _ := bought["id"].(string)
	if ms, _ := protoCall(tb, 200, "GET", "/users/me", nil)["memberships"].([]any); len(ms) != 2 {
		t.Fatalf("after the purchase: %d memberships", len(ms))
	}

	// Tutor: the welcome speech, played to its end.
	init := protoCall(tb, 200, "POST", "/tutor/init", map[string]string{"text": "Hello! I am your English tutor. Shall we practise together?"})
	ttsURL, _ := init["ttsUrl"].(string)
	protoPlay(tb, ttsURL, true)

	// A recorded turn on each membership.
	rec := evalJS[struct {
		Size      int    `json:"size"`
		MimeType  string `json:"mimeType"`
		TrackRate int    `json:"trackRate"`
	}](tb, `prototypeClient.record(1500)`)
	if rec.Size == 0 || !strings.HasPrefix(rec.MimeType, "audio/webm") {
		t.Fatalf("MediaRecorder made %+v", rec)
	}
	for _, tc := range []struct {
		name         string
		membershipID string
		chatUses     float64 // 0: any positive number
	}{
		{"limited", boughtID, 2},
		{"unlimited", free.ID, 0},
	} {
		a := protoResult(tb, 200, "POST /tutor/chat ("+tc.name+")", evalJS[protoAnswer](tb, fmt.Sprintf(`prototypeClient.chat(%q)`, tc.membershipID)))
		// The page opens its "chat expired" dialog when chatUses <= 0 (true for null).
		uses, isNumber := a["chatUses"].(float64)
		if !isNumber || uses <= 0 || (tc.chatUses != 0 && uses != tc.chatUses) {
			t.Errorf("%s membership: chatUses %v (%T)", tc.name, a["chatUses"], a["chatUses"])
		}
		if (tc.chatUses == 0) != (a["unlimited"] == true) {
			t.Errorf("%s membership: unlimited %v", tc.name, a["unlimited"])
		}
		// The reply plays to its end (then the page gives the microphone back); the
		// learner's bubble replays the recording.
		replyURL, _ := a["ttsUrl"].(string)
		protoPlay(tb, replyURL, true)
		mineURL, _ := a["userAudioUrl"].(string)
		protoPlay(tb, mineURL, false)

		// What Chromium uploaded is MediaRecorder's WebM with Opus at 48 kHz, stored as sent.
		resp, err := http.Get(env.URL + mineURL)
		if err != nil {
			t.Fatal(err)
		}
		upload, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if got := servertest.Probe(t, upload); !got.WebM() || got.Codec != "opus" || got.SampleRate != 48000 || len(upload) != rec.Size {
			t.Errorf("the stored upload: %+v, %d bytes (%s); want MediaRecorder's %d bytes of WebM Opus at 48 kHz", got, len(upload), resp.Header.Get("Content-Type"), rec.Size)
		}
	}
}
