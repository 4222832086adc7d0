package server_test

import (
	"bytes"
	"context"
	"io"
	"math"
	"mime/multipart"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aitutor/aitutor/server/servertest"
	"github.com/aitutor/aitutor/session"
	"github.com/aitutor/aitutor/session/client"
	"github.com/aitutor/aitutor/session/openaisim"
	"github.com/aitutor/aitutor/store"
)

// upload posts a multipart body to /api/tutor/chat.
func upload(t *testing.T, env *servertest.Env, token string, fields map[string]string, filename, contentType string, audio []byte) servertest.Response {
	t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	for k, v := range fields {
		mw.WriteField(k, v) //nolint:errcheck
	}
	if filename != "" {
		h := make(map[string][]string)
		h["Content-Disposition"] = []string{`form-data; name="audio"; filename="` + filename + `"`}
		h["Content-Type"] = []string{contentType}
		w, _ := mw.CreatePart(h)
		w.Write(audio) //nolint:errcheck
	}
	mw.Close()
	req, _ := http.NewRequest("POST", env.URL+"/api/tutor/chat", &body)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return servertest.Response{Status: resp.StatusCode, Header: resp.Header, Body: data}
}

func speechWAV() []byte {
	return session.WAV(client.EncodeSamples(client.Join(client.Voice(1200*time.Millisecond, 16000), client.Silence(300*time.Millisecond, 16000))), 16000)
}

type chatAnswer struct {
	UserText             string          `json:"userText"`
	AssistantText        string          `json:"assistantText"`
	TTSURL               string          `json:"ttsUrl"`
	UserAudioURL         string          `json:"userAudioUrl"`
	TTSAbsoluteURL       string          `json:"ttsAbsoluteUrl"`
	UserAudioAbsoluteURL string          `json:"userAudioAbsoluteUrl"`
	MembershipID         string          `json:"membershipId"`
	ChatUses             *int            `json:"chatUses"`
	RemainingChatUses    *int            `json:"remainingChatUses"`
	Unlimited            bool            `json:"unlimited"`
	ConversationID       string          `json:"conversationId"`
	Metrics              session.Metrics `json:"metrics"`
}

func TestUploadAndWaitTurn(t *testing.T) {
	t.Parallel()
	env := servertest.New(t, servertest.Options{})
	u, tok, m := env.Learner("ann@example.com", intp(3))
	wav := speechWAV()

	r := upload(t, env, tok, map[string]string{"membershipId": m.ID}, "hello.wav", "audio/wav", wav)
	want(t, r, 200)
	var a chatAnswer
	r.JSON(t, &a)
	if a.UserText != openaisim.DefaultTranscript || !strings.Contains(a.AssistantText, "turn 1") || *a.ChatUses != 2 ||
		*a.RemainingChatUses != 2 || a.Unlimited || a.MembershipID != m.ID {
		t.Fatalf("answer %s", r.Body)
	}
	// The URLs are paths from the server's root (as the prototype's were), and absolute.
	for _, u := range [][2]string{{a.TTSURL, a.TTSAbsoluteURL}, {a.UserAudioURL, a.UserAudioAbsoluteURL}} {
		if !strings.HasPrefix(u[0], "/api/audio/") || u[1] != env.URL+u[0] {
			t.Fatalf("audio URLs %q and %q", u[0], u[1])
		}
	}
	// The URLs work: the upload as sent, the reply as a 24 kHz WAV.
	got, _ := http.Get(a.UserAudioAbsoluteURL)
	up, _ := io.ReadAll(got.Body)
	got.Body.Close()
	if got.StatusCode != 200 || !bytes.Equal(up, wav) || got.Header.Get("Content-Type") != "audio/wav" {
		t.Fatalf("userAudioUrl: %d, %d bytes", got.StatusCode, len(up))
	}
	got, _ = http.Get(env.URL + a.TTSURL)
	reply, _ := io.ReadAll(got.Body)
	got.Body.Close()
	samples, rate, err := session.ParseWAV(reply)
	if got.StatusCode != 200 || err != nil || rate != 24000 || len(samples) < 24000*5 {
		t.Fatalf("ttsUrl: %d, %v, rate %d, %d samples", got.StatusCode, err, rate, len(samples))
	}
	// A second turn in the same conversation carries the first.
	r = upload(t, env, tok, map[string]string{"membershipId": m.ID, "conversationId": a.ConversationID}, "again.wav", "audio/wav", wav)
	want(t, r, 200)
	reqs := env.Sim.ChatRequests()
	if last := reqs[len(reqs)-1].Messages; len(last) != 4 || last[2].Content != a.AssistantText {
		t.Fatalf("second turn's chat request: %+v", last)
	}
	ledger, _ := env.Store.LedgerByMembership(context.Background(), m.ID)
	if len(ledger) != 2 {
		t.Fatalf("ledger %+v", ledger)
	}
	// Another user cannot continue the conversation or use the membership.
	_, bobTok, bobM := env.Learner("bob@example.com", intp(3))
	want(t, upload(t, env, bobTok, map[string]string{"membershipId": m.ID}, "x.wav", "audio/wav", wav), 403, "forbidden")
	want(t, upload(t, env, bobTok, map[string]string{"membershipId": bobM.ID, "conversationId": a.ConversationID}, "x.wav", "audio/wav", wav), 404, "not_found")
	// Nor can another membership of the same learner.
	other := env.Membership(u, env.Plan("second", intp(3), store.B2C))
	want(t, upload(t, env, tok, map[string]string{"membershipId": other.ID, "conversationId": a.ConversationID}, "x.wav", "audio/wav", wav), 400, "conversation_mismatch")
}

func TestUploadAndWaitRefusals(t *testing.T) {
	t.Parallel()
	env := servertest.New(t, servertest.Options{})
	_, tok, m := env.Learner("ann@example.com", intp(1))
	wav := speechWAV()
	silent := session.WAV(client.EncodeSamples(client.Silence(2*time.Second, 16000)), 16000)

	for _, tc := range []struct {
		name        string
		fields      map[string]string
		file, ctype string
		audio       []byte
		status      int
		code        string
	}{
		{"no membership", map[string]string{}, "a.wav", "audio/wav", wav, 400, "bad_request"},
		{"bad membership", map[string]string{"membershipId": "42"}, "a.wav", "audio/wav", wav, 400, "bad_request"},
		{"unknown membership", map[string]string{"membershipId": "00000000-0000-0000-0000-000000000000"}, "a.wav", "audio/wav", wav, 404, "not_found"},
		{"no file", map[string]string{"membershipId": m.ID}, "", "", nil, 400, "bad_request"},
		{"empty file", map[string]string{"membershipId": m.ID}, "a.wav", "audio/wav", []byte{}, 400, "bad_request"},
		{"not audio", map[string]string{"membershipId": m.ID}, "notes.txt", "text/plain", []byte("hello"), 415, "unsupported_media_type"},
		{"broken wav", map[string]string{"membershipId": m.ID}, "a.wav", "audio/wav", []byte("RIFF....WAVEjunk"), 415, "unsupported_media_type"},
		{"silence", map[string]string{"membershipId": m.ID}, "quiet.wav", "audio/wav", silent, 400, "no_speech"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			want(t, upload(t, env, tok, tc.fields, tc.file, tc.ctype, tc.audio), tc.status, tc.code)
		})
	}
	if n := env.Sim.Calls(openaisim.EndpointSTT); n != 0 {
		t.Fatalf("refused uploads reached the transcriber %d times", n)
	}
	want(t, upload(t, env, "", map[string]string{"membershipId": m.ID}, "a.wav", "audio/wav", wav), 401)
	want(t, env.Do("POST", "/api/tutor/chat", tok, map[string]string{"membershipId": m.ID}), 415, "unsupported_media_type")

	// Over 25 MB.
	big := make([]byte, 26<<20)
	want(t, upload(t, env, tok, map[string]string{"membershipId": m.ID}, "big.wav", "audio/wav", big), 413, "payload_too_large")

	// The last use, then an exhausted membership: refused before any provider is paid.
	want(t, upload(t, env, tok, map[string]string{"membershipId": m.ID}, "a.webm", "audio/webm", wav), 200)
	stt := env.Sim.Calls(openaisim.EndpointSTT)
	want(t, upload(t, env, tok, map[string]string{"membershipId": m.ID}, "a.wav", "audio/wav", wav), 402, "quota_exhausted")
	if env.Sim.Calls(openaisim.EndpointSTT) != stt {
		t.Fatal("an exhausted membership paid for a transcription")
	}
}

func TestUploadAndWaitProviderFailureRefunds(t *testing.T) {
	t.Parallel()
	env := servertest.New(t, servertest.Options{})
	u, tok, m := env.Learner("ann@example.com", intp(3))
	env.Sim.Fail(openaisim.EndpointSpeech, openaisim.Failure{Status: 500, Times: 20}) // every sentence, every retry
	want(t, upload(t, env, tok, map[string]string{"membershipId": m.ID}, "a.wav", "audio/wav", speechWAV()), 502, "provider_error")
	got, _ := env.Store.UserMembership(context.Background(), u.ID, m.ID)
	if *got.RemainingChatUses != 3 {
		t.Fatalf("remaining %d after a failed turn, want 3", *got.RemainingChatUses)
	}
	ledger, _ := env.Store.LedgerByMembership(context.Background(), m.ID)
	if len(ledger) != 2 || ledger[1].Kind != "refund" {
		t.Fatalf("ledger %+v", ledger)
	}
}

func TestTutorInit(t *testing.T) {
	t.Parallel()
	env := servertest.New(t, servertest.Options{})
	_, tok, m := env.Learner("ann@example.com", intp(3))
	_, bobTok, _ := env.Learner("bob@example.com", intp(3))
	var g struct {
		Text           string `json:"text"`
		TTSURL         string `json:"ttsUrl"`
		TTSAbsoluteURL string `json:"ttsAbsoluteUrl"`
	}
	r := env.Do("POST", "/api/tutor/init", tok, map[string]string{"membershipId": m.ID})
	want(t, r, 200)
	r.JSON(t, &g)
	if !strings.Contains(g.Text, "English tutor") || !strings.HasPrefix(g.TTSURL, "/api/audio/") || g.TTSAbsoluteURL != env.URL+g.TTSURL {
		t.Fatalf("init: %s", r.Body)
	}
	audio := env.Do("GET", g.TTSURL, "", nil)
	if audio.Status != 200 || audio.Header.Get("Content-Type") != "audio/wav" {
		t.Fatalf("greeting audio %d", audio.Status)
	}
	// The greeting's audio is made once and shared.
	speech := env.Sim.Calls(openaisim.EndpointSpeech)
	r = env.Do("POST", "/api/tutor/init", bobTok, nil)
	want(t, r, 200)
	if env.Sim.Calls(openaisim.EndpointSpeech) != speech {
		t.Fatal("the standard greeting was synthesized again")
	}
	r = env.Do("POST", "/api/tutor/init", tok, map[string]string{"text": "Let's practise ordering food."})
	want(t, r, 200)
	r.JSON(t, &g)
	if g.Text != "Let's practise ordering food." {
		t.Fatalf("custom text: %s", r.Body)
	}
	want(t, env.Do("POST", "/api/tutor/init", bobTok, map[string]string{"membershipId": m.ID}), 403, "forbidden")
	want(t, env.Do("POST", "/api/tutor/init", tok, map[string]string{"membershipId": "x"}), 400)
	want(t, env.Do("POST", "/api/tutor/init", tok, map[string]string{"text": strings.Repeat("a", 501)}), 400)
	want(t, env.Do("POST", "/api/tutor/init", "", nil), 401)
}

// TestAudioURLsWithPublicURL: PUBLIC_URL is the base of the absolute audio URLs; ttsUrl and
// userAudioUrl stay paths from the server's root, which clients join to where they reach it.
func TestAudioURLsWithPublicURL(t *testing.T) {
	t.Parallel()
	const public = "https://tutor.example.com/school"
	env := servertest.New(t, servertest.Options{Env: map[string]string{"PUBLIC_URL": public + "/"}})
	_, tok, m := env.Learner("ann@example.com", nil)
	r := upload(t, env, tok, map[string]string{"membershipId": m.ID}, "hello.wav", "audio/wav", speechWAV())
	want(t, r, 200)
	var a chatAnswer
	r.JSON(t, &a)
	if !strings.HasPrefix(a.TTSURL, "/api/audio/") || a.TTSAbsoluteURL != public+a.TTSURL ||
		!strings.HasPrefix(a.UserAudioURL, "/api/audio/") || a.UserAudioAbsoluteURL != public+a.UserAudioURL {
		t.Fatalf("audio URLs: %s", r.Body)
	}
	// An unlimited membership: a positive chatUses for the prototype's "<= 0" check, and the
	// truth beside it.
	if a.ChatUses == nil || *a.ChatUses != math.MaxInt32 || a.RemainingChatUses != nil || !a.Unlimited {
		t.Fatalf("unlimited membership: %s", r.Body)
	}
	var g struct {
		TTSURL         string `json:"ttsUrl"`
		TTSAbsoluteURL string `json:"ttsAbsoluteUrl"`
	}
	r = env.Do("POST", "/api/tutor/init", tok, nil)
	want(t, r, 200)
	r.JSON(t, &g)
	if !strings.HasPrefix(g.TTSURL, "/api/audio/") || g.TTSAbsoluteURL != public+g.TTSURL {
		t.Fatalf("init: %s", r.Body)
	}
}
