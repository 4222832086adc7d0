package server_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aitutor/aitutor/server/servertest"
	"github.com/aitutor/aitutor/session"
	"github.com/aitutor/aitutor/session/client"
	"github.com/aitutor/aitutor/store"
	"github.com/aitutor/aitutor/store/storetest"
)

// Stored audio in an S3-compatible object store (AUDIO_STORE=s3, a real SeaweedFS): a spoken
// turn, an upload-and-wait turn and a greeting, replayed whole and by ranges; an object store
// that goes down never touches a turn's money.

// fetchClip gets a stored clip, waiting while it is being written (live turns store their
// audio just after response.done).
func fetchClip(t *testing.T, env *servertest.Env, path string, headers ...string) servertest.Response {
	t.Helper()
	r := env.Do("GET", path, "", nil, headers...)
	for deadline := time.Now().Add(10 * time.Second); r.Status == 404 && time.Now().Before(deadline); {
		time.Sleep(30 * time.Millisecond)
		r = env.Do("GET", path, "", nil, headers...)
	}
	return r
}

// clipRow is how a clip is stored: where its bytes are.
func clipRow(t *testing.T, st *store.Store, path string) (key string, bytesInDB bool) {
	t.Helper()
	id := strings.TrimPrefix(path, "/api/audio/")
	var r struct {
		Key  *string `db:"object_key"`
		InDB bool    `db:"in_db"`
	}
	if err := st.DB().Get(&r, `SELECT object_key, data IS NOT NULL AS in_db FROM audio_clips WHERE id = $1`, id); err != nil {
		t.Fatalf("clip %s: %v", id, err)
	}
	if r.Key == nil {
		return "", r.InDB
	}
	return *r.Key, r.InDB
}

// spokenTurn runs one spoken turn on c and returns its response.done.
func spokenTurn(t *testing.T, c *client.Client) doneEvent {
	t.Helper()
	speech := client.Join(client.Silence(300*time.Millisecond, 16000), client.Voice(1200*time.Millisecond, 16000), client.Silence(time.Second, 16000))
	if err := c.Stream(context.Background(), speech, 16000, 20*time.Millisecond, true); err != nil {
		t.Fatal(err)
	}
	evs, err := c.Until(15*time.Second, "response.done", "error")
	if err != nil {
		t.Fatal(err)
	}
	return lastDone(t, evs)
}

func TestAudioInTheObjectStore(t *testing.T) {
	t.Parallel()
	env := servertest.New(t, servertest.Options{Env: map[string]string{"AUDIO_STORE": "s3"}})
	objects := env.Store.Objects()
	if objects == nil || env.Config.S3.Bucket == "" {
		t.Fatal("the test server does not keep audio in the object store")
	}
	_, tok, m := env.Learner("ann@example.com", intp(5))

	// A spoken turn: the reply is stored as an object and replayed whole and by ranges.
	c := dial(t, env, tok, m.ID)
	d := spokenTurn(t, c)
	full := fetchClip(t, env, d.AudioURL)
	if full.Status != 200 || full.Header.Get("Content-Type") != "audio/wav" || full.Header.Get("Accept-Ranges") != "bytes" {
		t.Fatalf("reply audio: %d %q %q", full.Status, full.Header.Get("Content-Type"), full.Header.Get("Accept-Ranges"))
	}
	if samples, rate, err := session.ParseWAV(full.Body); err != nil || rate != 24000 || len(samples) < 24000 {
		t.Fatalf("reply audio is not the reply: %v, %d Hz, %d samples", err, rate, len(samples))
	}
	key, inDB := clipRow(t, env.Store, d.AudioURL)
	if key == "" || inDB || !strings.HasSuffix(key, strings.TrimPrefix(d.AudioURL, "/api/audio/")) {
		t.Fatalf("the reply's row: key %q, bytes in the database %v", key, inDB)
	}
	size := len(full.Body)
	for _, rg := range []struct {
		header     string
		start, end int // inclusive
	}{
		{"bytes=0-", 0, size - 1},
		{"bytes=0-43", 0, 43},
		{"bytes=1000-1999", 1000, 1999},
		{fmt.Sprintf("bytes=%d-", size-700), size - 700, size - 1},
		{"bytes=-100", size - 100, size - 1},
	} {
		r := env.Do("GET", d.AudioURL, "", nil, "Range", rg.header)
		wantRange := fmt.Sprintf("bytes %d-%d/%d", rg.start, rg.end, size)
		if r.Status != http.StatusPartialContent || r.Header.Get("Content-Range") != wantRange || !bytes.Equal(r.Body, full.Body[rg.start:rg.end+1]) {
			t.Fatalf("%s: %d %q (want %q), %d bytes", rg.header, r.Status, r.Header.Get("Content-Range"), wantRange, len(r.Body))
		}
	}
	r := env.Do("GET", d.AudioURL, "", nil, "Range", fmt.Sprintf("bytes=%d-", size+10))
	if r.Status != http.StatusRequestedRangeNotSatisfiable {
		t.Fatalf("a range past the end: %d", r.Status)
	}

	// An upload-and-wait turn: the upload as sent and the reply, both objects.
	webm := servertest.WebMRecording(t, "I went hiking with my friends last weekend.")
	r = upload(t, env, tok, map[string]string{"membershipId": m.ID}, "voice.webm", "audio/webm", webm)
	want(t, r, 200)
	var a chatAnswer
	r.JSON(t, &a)
	up := fetchClip(t, env, a.UserAudioURL)
	if up.Status != 200 || up.Header.Get("Content-Type") != "audio/webm" || !bytes.Equal(up.Body, webm) {
		t.Fatalf("userAudioUrl: %d %q, %d bytes of %d", up.Status, up.Header.Get("Content-Type"), len(up.Body), len(webm))
	}
	reply := fetchClip(t, env, a.TTSURL)
	if _, rate, err := session.ParseWAV(reply.Body); reply.Status != 200 || err != nil || rate != 24000 {
		t.Fatalf("ttsUrl: %d %v", reply.Status, err)
	}
	for _, p := range []string{a.UserAudioURL, a.TTSURL} {
		if key, inDB := clipRow(t, env.Store, p); key == "" || inDB {
			t.Fatalf("%s: key %q, bytes in the database %v", p, key, inDB)
		}
	}

	// The conversation lists its recordings, which replay.
	var conv struct {
		Messages []struct {
			UserAudioURL  string `json:"userAudioUrl"`
			TutorAudioURL string `json:"tutorAudioUrl"`
		} `json:"messages"`
	}
	env.Do("GET", "/api/conversations/"+a.ConversationID, tok, nil).JSON(t, &conv)
	if len(conv.Messages) != 1 || conv.Messages[0].TutorAudioURL != a.TTSURL || conv.Messages[0].UserAudioURL != a.UserAudioURL {
		t.Fatalf("conversation: %+v", conv)
	}

	// The greeting's speech.
	var g struct {
		TTSURL string `json:"ttsUrl"`
	}
	r = env.Do("POST", "/api/tutor/init", tok, map[string]string{})
	want(t, r, 200)
	r.JSON(t, &g)
	if gr := fetchClip(t, env, g.TTSURL); gr.Status != 200 || !bytes.HasPrefix(gr.Body, []byte("RIFF")) {
		t.Fatalf("greeting: %d", gr.Status)
	}

	// Nothing but metadata in PostgreSQL; every clip is an object.
	var withBytes, rows int
	env.Store.DB().Get(&withBytes, `SELECT count(*) FROM audio_clips WHERE data IS NOT NULL`) //nolint:errcheck
	env.Store.DB().Get(&rows, `SELECT count(*) FROM audio_clips`)                             //nolint:errcheck
	var keys []string
	objects.List(context.Background(), "audio/", func(k string) error { keys = append(keys, k); return nil }) //nolint:errcheck
	if withBytes != 0 || rows != 5 || len(keys) != 5 {
		t.Fatalf("%d rows (%d with bytes), %d objects; want 5 clips (2 per turn, the greeting), all objects", rows, withBytes, len(keys))
	}
	// The money: two turns, two charges, no refund.
	ledger, _ := env.Store.LedgerByMembership(context.Background(), m.ID)
	if len(ledger) != 2 || ledger[0].Kind != "charge" || ledger[1].Kind != "charge" {
		t.Fatalf("ledger %+v", ledger)
	}
}

// TestObjectStoreDown: with the object store down, turns are answered and charged exactly as
// usual (their audio is stored after they are settled, and a failed write loses only the
// clip); replays and greetings answer 503 audio_unavailable; once the store is back, new clips
// are stored again.
func TestObjectStoreDown(t *testing.T) {
	t.Parallel()
	weed := storetest.StartWeed(t)
	cfg := weed.Config
	env := servertest.New(t, servertest.Options{Env: map[string]string{
		"AUDIO_STORE": "s3", "S3_ENDPOINT": cfg.Endpoint, "S3_BUCKET": "audio", "S3_REGION": cfg.Region,
		"AWS_ACCESS_KEY_ID": cfg.AccessKey, "AWS_SECRET_ACCESS_KEY": cfg.SecretKey, "S3_TIMEOUT": "2s",
	}})
	u, tok, m := env.Learner("ann@example.com", intp(5))
	c := dial(t, env, tok, m.ID)
	before := spokenTurn(t, c)
	// Both clips of the first turn are stored (after the turn) before the store goes down.
	if r := fetchClip(t, env, before.AudioURL); r.Status != 200 {
		t.Fatalf("reply before the outage: %d", r.Status)
	}
	if r := fetchClip(t, env, before.UserAudioURL); r.Status != 200 {
		t.Fatalf("the learner's recording before the outage: %d", r.Status)
	}

	weed.Stop()

	// A replay of a clip stored before: a clear, retryable error, as JSON.
	r := env.Do("GET", before.AudioURL, "", nil)
	want(t, r, http.StatusServiceUnavailable, "audio_unavailable")
	if r.Header.Get("Retry-After") == "" {
		t.Fatal("503 without Retry-After")
	}
	// A spoken turn is answered and charged once; its reply audio is lost, not its turn.
	during := spokenTurn(t, c)
	if during.RemainingChatUses == nil || *during.RemainingChatUses != 3 {
		t.Fatalf("remaining after the turn during the outage: %v", during.RemainingChatUses)
	}
	// An upload-and-wait turn too: it answers without audio URLs.
	r = upload(t, env, tok, map[string]string{"membershipId": m.ID}, "hello.wav", "audio/wav", speechWAV())
	want(t, r, 200)
	var a chatAnswer
	r.JSON(t, &a)
	if a.AssistantText == "" || a.TTSURL != "" || a.UserAudioURL != "" || *a.ChatUses != 2 {
		t.Fatalf("upload during the outage: %s", r.Body)
	}
	// A greeting needs its speech stored: 503.
	want(t, env.Do("POST", "/api/tutor/init", tok, map[string]string{"text": "Welcome back while the store is down."}), http.StatusServiceUnavailable, "audio_unavailable")

	// Nothing charged twice, nothing refunded, every turn recorded.
	ledger, _ := env.Store.LedgerByMembership(context.Background(), m.ID)
	charges := 0
	for _, l := range ledger {
		if l.Kind != "charge" {
			t.Fatalf("a %s during the outage: %+v", l.Kind, ledger)
		}
		charges++
	}
	got, _ := env.Store.UserMembership(context.Background(), u.ID, m.ID)
	if charges != 3 || *got.RemainingChatUses != 2 {
		t.Fatalf("%d charges, %d left; want 3 and 2", charges, *got.RemainingChatUses)
	}
	var turns, withAudio int
	env.Store.DB().Get(&turns, `SELECT count(*) FROM messages WHERE status = 'done'`)                //nolint:errcheck
	env.Store.DB().Get(&withAudio, `SELECT count(*) FROM messages WHERE tutor_audio_id IS NOT NULL`) //nolint:errcheck
	if turns != 3 || withAudio != 1 {
		t.Fatalf("%d turns recorded (%d with reply audio); want 3 (1)", turns, withAudio)
	}
	// No row points at an object that was never written.
	var rows int
	env.Store.DB().Get(&rows, `SELECT count(*) FROM audio_clips`) //nolint:errcheck
	if rows != 2 {
		t.Fatalf("%d clip rows; want the 2 of the first turn", rows)
	}
}
