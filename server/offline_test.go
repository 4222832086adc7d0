package server_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/aitutor/aitutor/server/servertest"
	"github.com/aitutor/aitutor/session"
	"github.com/aitutor/aitutor/session/client"
	"github.com/aitutor/aitutor/session/offline"
)

// End-to-end turns through the offline engines (real espeak-ng, pocketsphinx and the scripted
// tutor), as `make run` without an OpenAI key serves them. The learner's side is spoken by
// espeak-ng too, in the voice pocketsphinx recognises best (en-us+klatt at 175 words a minute).

// offlineTurns are the learner's sentences and the words the transcript must contain.
var offlineTurns = []struct {
	text string
	keys []string
}{
	{"I like to play football with my friends on the weekend", []string{"football", "weekend"}},
	{"I went to the beach with my family", []string{"beach", "family"}},
}

// offlineEngines starts the offline engines; the test fails, saying how to install them, when
// they are missing.
func offlineEngines(t *testing.T) session.Providers {
	t.Helper()
	eng, err := offline.New(offline.Config{})
	if err != nil {
		t.Fatalf("this test runs the offline engines: %v", err)
	}
	t.Cleanup(func() { eng.Close() })
	return eng.Providers()
}

// offlineSpeech is text spoken by espeak-ng as 16 kHz samples.
func offlineSpeech(t *testing.T, text string) []int16 {
	t.Helper()
	out, err := exec.Command("espeak-ng", "-v", "en-us+klatt", "-s", "175", "--stdout", "--", text).Output()
	if err != nil {
		t.Fatalf("espeak-ng (install it with: %s): %v", offline.InstallCommand, err)
	}
	samples, rate, err := session.ParseWAV(out)
	if err != nil {
		t.Fatal(err)
	}
	return session.ResampleAll(samples, rate, 16000)
}

// offlineNoLeaks checks, when the test and its cleanups are done, that no goroutine and no
// espeak-ng, pocketsphinx or ffmpeg process is left. Register it first so that it runs last.
func offlineNoLeaks(t *testing.T) {
	t.Cleanup(func() {
		goleak.VerifyNone(t,
			goleak.IgnoreCurrent(),
			goleak.IgnoreTopFunction("database/sql.(*DB).connectionOpener"),
		)
		if kids := engineChildren(); len(kids) > 0 {
			t.Errorf("engine processes left behind: %v", kids)
		}
	})
}

// engineChildren lists this process's children that run an engine binary.
func engineChildren() []string {
	var kids []string
	dirs, _ := os.ReadDir("/proc")
	for _, d := range dirs {
		pid, err := strconv.Atoi(d.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...
		s := string(stat)
		open, end := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
		if open < 0 || end < open {
			continue
		}
		comm, rest := s[open+1:end], strings.Fields(s[end+1:])
		if len(rest) < 2 || rest[1] != strconv.Itoa(os.Getpid()) {
			continue
		}
		if strings.HasPrefix(comm, "espeak") || strings.HasPrefix(comm, "pocketsphinx") || comm == "ffmpeg" {
			kids = append(kids, fmt.Sprintf("%s[%d] state %s", comm, pid, rest[0]))
		}
	}
	return kids
}

// lacksWords returns the keys that text lacks, as whole words (or their plural).
func lacksWords(text string, keys []string) []string {
	var missing []string
	for _, k := range keys {
		if !regexp.MustCompile(`(?i)\b` + regexp.QuoteMeta(k) + `s?\b`).MatchString(text) {
			missing = append(missing, k)
		}
	}
	return missing
}

func TestOfflineSpokenConversation(t *testing.T) {
	offlineNoLeaks(t)
	providers := offlineEngines(t)
	env := servertest.New(t, servertest.Options{Providers: &providers})
	uses := 5
	u, tok, m := env.Learner("offline@example.com", &uses)
	ctx := context.Background()
	c, err := client.Dial(ctx, env.WSURL(m.ID), client.Options{Token: tok})
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	evs, err := c.Until(5*time.Second, "session.created")
	if err != nil {
		t.Fatal(err)
	}
	var created struct{ RemainingChatUses *int }
	if err := evs[len(evs)-1].Decode(&created); err != nil || created.RemainingChatUses == nil || *created.RemainingChatUses != uses {
		t.Fatalf("session.created: %s", evs[len(evs)-1].Raw)
	}
	if err := c.Send(map[string]string{"type": "session.update", "level": "beginner", "topic": "sports"}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Until(5*time.Second, "session.updated", "error"); err != nil {
		t.Fatal(err)
	}

	remaining := *created.RemainingChatUses
	var replies []string
	for i, turn := range offlineTurns {
		// The learner speaks, then stays quiet long enough for the server to end the turn.
		speech := client.Join(client.Silence(300*time.Millisecond, 16000), offlineSpeech(t, turn.text), client.Silence(time.Second, 16000))
		if err := c.Stream(ctx, speech, 16000, 20*time.Millisecond, false); err != nil {
			t.Fatal(err)
		}
		evs, err := c.Until(90*time.Second, "response.done", "error")
		if err != nil {
			t.Fatal(err)
		}
		last := evs[len(evs)-1]
		if last.Type != "response.done" {
			t.Fatalf("turn %d ended with %s (events %s)", i+1, last.Raw, client.Types(evs))
		}
		prev := -1
		for _, typ := range []string{"speech.started", "speech.stopped", "transcript.user", "response.started", "response.text.delta", "audio", "response.done"} {
			at := -1
			for j, e := range evs {
				if e.Type == typ {
					at = j
					break
				}
			}
			if at <= prev {
				t.Fatalf("turn %d: %s missing or out of order in %s", i+1, typ, client.Types(evs))
			}
			prev = at
		}

		// What pocketsphinx heard.
		var heard string
		for _, e := range evs {
			if e.Type == "transcript.user" {
				heard = e.Field("text")
			}
		}
		if missing := lacksWords(heard, turn.keys); len(missing) > 0 {
			t.Errorf("turn %d: %q was heard as %q: missing %v", i+1, turn.text, heard, missing)
		}

		// The scripted tutor's answer, streamed as text and as speech.
		var done struct {
			Text              string
			RemainingChatUses *int
			Metrics           session.Metrics
		}
		if err := last.Decode(&done); err != nil {
			t.Fatal(err)
		}
		var deltas strings.Builder
		var audio []int16
		var firstAudio time.Time
		for _, e := range evs {
			switch e.Type {
			case "response.text.delta":
				deltas.WriteString(e.Field("delta"))
			case client.TypeAudio:
				if len(e.Audio)%2 != 0 {
					t.Fatalf("turn %d: odd audio frame of %d bytes", i+1, len(e.Audio))
				}
				if firstAudio.IsZero() {
					firstAudio = e.Received
				}
				audio = session.DecodePCM16(audio, e.Audio)
			}
		}
		if strings.TrimSpace(deltas.String()) != done.Text || done.Text == "" {
			t.Errorf("turn %d: deltas %q, response.done %q", i+1, deltas.String(), done.Text)
		}
		if !strings.HasSuffix(done.Text, "?") {
			t.Errorf("turn %d: the tutor's reply %q does not end with a follow-up question", i+1, done.Text)
		}
		if len(lacksWords(done.Text, turn.keys)) == len(turn.keys) {
			t.Errorf("turn %d: the reply %q does not pick up the learner's words %v", i+1, done.Text, turn.keys)
		}
		secs := float64(len(audio)) / session.OutputSampleRate
		words := len(strings.Fields(done.Text))
		if secs < 0.15*float64(words) || secs > 0.8*float64(words)+1 {
			t.Errorf("turn %d: %.1f s of reply audio for %d words", i+1, secs, words)
		}
		var sum float64
		for _, s := range audio {
			sum += float64(s) * float64(s)
		}
		if rms := math.Sqrt(sum / float64(max(len(audio), 1))); rms < 300 {
			t.Errorf("turn %d: the reply audio is nearly silent (RMS %.0f)", i+1, rms)
		}

		// One use charged per turn.
		remaining--
		if done.RemainingChatUses == nil || *done.RemainingChatUses != remaining {
			t.Errorf("turn %d: remainingChatUses %v, want %d", i+1, done.RemainingChatUses, remaining)
		}
		if done.Metrics.STTMs == nil || done.Metrics.FirstAudioMs == nil {
			t.Errorf("turn %d: metrics %+v", i+1, done.Metrics)
		}
		t.Logf("turn %d: heard %q; tutor %q (%.1f s of audio); metrics stt %.0f ms, first audio %.0f ms",
			i+1, heard, done.Text, secs, *done.Metrics.STTMs, *done.Metrics.FirstAudioMs)
		replies = append(replies, done.Text)

		// Let the reply play out at the learner's end before speaking again (it would be a
		// barge-in otherwise).
		time.Sleep(time.Until(firstAudio.Add(time.Duration(secs*float64(time.Second)) + 200*time.Millisecond)))
	}
	if replies[0] == replies[1] {
		t.Errorf("both turns got the reply %q", replies[0])
	}
	got, err := env.Store.UserMembership(ctx, u.ID, m.ID)
	if err != nil || got.RemainingChatUses == nil || *got.RemainingChatUses != uses-len(offlineTurns) {
		t.Errorf("stored remaining uses %v, %v; want %d", got.RemainingChatUses, err, uses-len(offlineTurns))
	}
}

func TestOfflineUploadAndWait(t *testing.T) {
	offlineNoLeaks(t)
	providers := offlineEngines(t)
	env := servertest.New(t, servertest.Options{Providers: &providers})
	uses := 3
	u, tok, m := env.Learner("offline-upload@example.com", &uses)

	// espeak-ng's own WAV file: 22050 Hz, with the placeholder sizes of a streamed header.
	turn := offlineTurns[0]
	wav, err := exec.Command("espeak-ng", "-v", "en-us+klatt", "-s", "175", "--stdout", "--", turn.text).Output()
	if err != nil {
		t.Fatalf("espeak-ng: %v", err)
	}
	r := offlineUpload(t, env, tok, m.ID, "turn.wav", "audio/wav", wav)
	if r.Status != 200 {
		t.Fatalf("upload: %d %s", r.Status, r.Body)
	}
	var a struct {
		UserText, AssistantText, TTSURL string
		ChatUses                        *int
	}
	r.JSON(t, &a)
	if missing := lacksWords(a.UserText, turn.keys); len(missing) > 0 {
		t.Errorf("heard %q: missing %v", a.UserText, missing)
	}
	if !strings.HasSuffix(a.AssistantText, "?") || a.ChatUses == nil || *a.ChatUses != uses-1 {
		t.Errorf("answer %s", r.Body)
	}
	reply := env.Do("GET", "/api/audio/"+a.TTSURL[strings.LastIndexByte(a.TTSURL, '/')+1:], "", nil)
	samples, rate, err := session.ParseWAV(reply.Body)
	if reply.Status != 200 || err != nil || rate != session.OutputSampleRate || len(samples) < rate {
		t.Errorf("ttsUrl %s: %d, %v, %d Hz, %d samples", a.TTSURL, reply.Status, err, rate, len(samples))
	}

	// A container the offline recognizer cannot read (without ffmpeg, any; with it, not this
	// one) is refused, and nothing is charged.
	r = offlineUpload(t, env, tok, m.ID, "turn.webm", "audio/webm", []byte("\x1aE\xdf\xa3 not really webm"))
	if r.Status != 415 || r.ErrorCode() != "unsupported_media_type" {
		t.Errorf("webm upload: %d %s", r.Status, r.Body)
	}
	if got, err := env.Store.UserMembership(context.Background(), u.ID, m.ID); err != nil || *got.RemainingChatUses != uses-1 {
		t.Errorf("after the refused upload: %v uses left, %v; want %d", got.RemainingChatUses, err, uses-1)
	}
}

// offlineUpload posts one audio file to /api/tutor/chat.
func offlineUpload(t *testing.T, env *servertest.Env, token, membershipID, filename, contentType string, audio []byte) servertest.Response {
	t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	mw.WriteField("membershipId", membershipID) //nolint:errcheck
	w, err := mw.CreatePart(textproto.MIMEHeader{
		"Content-Disposition": {`form-data; name="audio"; filename="` + filename + `"`},
		"Content-Type":        {contentType},
	})
	if err != nil {
		t.Fatal(err)
	}
	w.Write(audio) //nolint:errcheck
	mw.Close()
	req, err := http.NewRequest("POST", env.URL+"/api/tutor/chat", &body)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return servertest.Response{Status: resp.StatusCode, Header: resp.Header, Body: data}
}
