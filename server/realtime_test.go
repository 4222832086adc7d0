package server_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/aitutor/aitutor/server/servertest"
	"github.com/aitutor/aitutor/session"
	"github.com/aitutor/aitutor/session/client"
	"github.com/aitutor/aitutor/session/openaisim"
)

// The Realtime-compatible endpoint, driven by a small Go client here (the official clients'
// tests are in realtime_node_test.go): event names and order, audio in and out, cancels,
// truncation, quota, resume and bad events.

type rtClient struct {
	t      *testing.T
	conn   *websocket.Conn
	events chan map[string]any
}

func dialRealtime(t *testing.T, env *servertest.Env, tok, query string) *rtClient {
	t.Helper()
	url := "ws" + strings.TrimPrefix(env.URL, "http") + "/v1/realtime?model=gpt-realtime" + query
	h := http.Header{"Authorization": {"Bearer " + tok}}
	conn, resp, err := websocket.DefaultDialer.Dial(url, h)
	if err != nil {
		status := 0
		if resp != nil {
			status = resp.StatusCode
		}
		t.Fatalf("dial %s: %v (HTTP %d)", url, err, status)
	}
	c := &rtClient{t: t, conn: conn, events: make(chan map[string]any, 4096)}
	go func() {
		defer close(c.events)
		for {
			_, data, err := conn.ReadMessage()
			if err != nil {
				return
			}
			var ev map[string]any
			if json.Unmarshal(data, &ev) == nil {
				c.events <- ev
			}
		}
	}()
	t.Cleanup(func() { conn.Close() })
	return c
}

func (c *rtClient) send(ev map[string]any) {
	c.t.Helper()
	if err := c.conn.WriteJSON(ev); err != nil {
		c.t.Fatal(err)
	}
}

// until reads events up to and including the first of types.
func (c *rtClient) until(types ...string) []map[string]any {
	c.t.Helper()
	var got []map[string]any
	timeout := time.After(20 * time.Second)
	for {
		select {
		case ev, ok := <-c.events:
			if !ok {
				c.t.Fatalf("closed waiting for %v after %v", types, names(got))
			}
			got = append(got, ev)
			for _, typ := range types {
				if ev["type"] == typ {
					return got
				}
			}
		case <-timeout:
			c.t.Fatalf("no %v within 20 s; got %v", types, names(got))
		}
	}
}

func names(evs []map[string]any) []string {
	var out []string
	for _, e := range evs {
		if e["type"] != "response.output_audio.delta" && e["type"] != "response.output_audio_transcript.delta" {
			out = append(out, e["type"].(string))
		}
	}
	return out
}

func pcm24(samples []int16) string {
	return base64.StdEncoding.EncodeToString(session.EncodePCM16(nil, samples))
}

func TestRealtimeEndpoint(t *testing.T) {
	noLeaks(t)
	env := servertest.New(t, servertest.Options{})
	env.Sim.SetReply(func(openaisim.ChatRequest) string { return "Hello there. Tell me about your day." })
	_, tok, m := env.Learner("rt@example.com", intp(3))

	c := dialRealtime(t, env, tok, "")
	evs := c.until("session.created")
	sess, _ := evs[len(evs)-1]["session"].(map[string]any)
	if sess["type"] != "realtime" || sess["model"] != "gpt-realtime" {
		t.Fatalf("session.created %v", evs[0])
	}
	c.send(map[string]any{"type": "session.update", "session": map[string]any{"type": "realtime", "instructions": "Speak about cooking.",
		"audio": map[string]any{"output": map[string]any{"voice": "alloy"}}}})
	c.until("session.updated")

	// A typed turn: item, response, audio and transcript, done with usage and our metrics.
	c.send(map[string]any{"type": "conversation.item.create", "item": map[string]any{"type": "message", "role": "user",
		"content": []any{map[string]any{"type": "input_text", "text": "Hi, I like cooking."}}}})
	c.send(map[string]any{"type": "response.create"})
	evs = c.until("response.done")
	order := []string{"conversation.item.added", "conversation.item.done", "response.created", "rate_limits.updated",
		"response.output_item.added", "response.content_part.added", "response.output_audio.delta",
		"response.output_audio_transcript.delta", "response.output_audio.done", "response.output_audio_transcript.done",
		"response.content_part.done", "response.output_item.done", "response.done"}
	checkOrder(t, evs, order)
	done := evs[len(evs)-1]["response"].(map[string]any)
	if done["status"] != "completed" || done["usage"] == nil || done["aitutor"] == nil {
		t.Fatalf("response.done %v", done)
	}
	reqs := env.Sim.ChatRequests()
	if sys := reqs[len(reqs)-1].Messages[0].Content; !strings.Contains(sys, "Speak about cooking.") || !strings.Contains(sys, "English tutor") {
		t.Fatalf("instructions are not added to the persona: %s", sys)
	}

	// A spoken turn: 24 kHz PCM appended, server VAD commits it.
	speech := client.Join(client.Silence(300*time.Millisecond, 24000), client.Voice(1200*time.Millisecond, 24000), client.Silence(1200*time.Millisecond, 24000))
	for i := 0; i < len(speech); i += 2400 {
		c.send(map[string]any{"type": "input_audio_buffer.append", "audio": pcm24(speech[i:min(i+2400, len(speech))])})
	}
	evs = c.until("response.done")
	checkOrder(t, evs, []string{"input_audio_buffer.speech_started", "input_audio_buffer.speech_stopped", "input_audio_buffer.committed",
		"conversation.item.added", "conversation.item.input_audio_transcription.completed", "response.created", "response.output_audio.delta", "response.done"})

	// Cancel: the response ends cancelled, refunded before its first sentence was heard.
	c.send(map[string]any{"type": "conversation.item.create", "item": map[string]any{"type": "message", "role": "user",
		"content": []any{map[string]any{"type": "input_text", "text": "Tell me a long story."}}}})
	c.send(map[string]any{"type": "response.create"})
	evs = c.until("response.created")
	added := c.until("response.output_item.added")
	itemID := added[len(added)-1]["item"].(map[string]any)["id"].(string)
	c.send(map[string]any{"type": "response.cancel"})
	evs = c.until("response.done")
	resp := evs[len(evs)-1]["response"].(map[string]any)
	if resp["status"] != "cancelled" || resp["status_details"].(map[string]any)["reason"] != "client_cancelled" {
		t.Fatalf("cancelled response %v", resp)
	}
	if d := resp["aitutor"].(map[string]any); d["refunded"] != true {
		t.Fatalf("a response cancelled before it was heard is refunded: %v", d)
	}
	c.send(map[string]any{"type": "conversation.item.truncate", "item_id": itemID, "content_index": 0, "audio_end_ms": 100})
	c.until("conversation.item.truncated")
	c.send(map[string]any{"type": "conversation.item.retrieve", "item_id": itemID})
	evs = c.until("conversation.item.retrieved")
	if item := evs[len(evs)-1]["item"].(map[string]any); item["role"] != "assistant" || item["status"] != "incomplete" {
		t.Fatalf("retrieved %v", item)
	}
	c.send(map[string]any{"type": "conversation.item.retrieve", "item_id": "item_nope", "event_id": "ev1"})
	if e := c.until("error"); e[len(e)-1]["error"].(map[string]any)["code"] != "item_not_found" || e[len(e)-1]["error"].(map[string]any)["event_id"] != "ev1" {
		t.Fatalf("retrieve of an unknown item: %v", e[len(e)-1])
	}

	// Bad events: an error each, and the session stays.
	c.send(map[string]any{"type": "no.such.event"})
	if e := c.until("error"); e[len(e)-1]["error"].(map[string]any)["code"] != "unknown_event" {
		t.Fatalf("unknown event: %v", e[len(e)-1])
	}
	c.send(map[string]any{"type": "input_audio_buffer.append", "audio": "!!!"})
	c.until("error")
	c.send(map[string]any{"type": "response.create"})
	c.until("error")

	// Quota: two uses spent (the cancelled one was refunded); the next answer is the last.
	c.send(map[string]any{"type": "conversation.item.create", "item": map[string]any{"type": "message", "role": "user",
		"content": []any{map[string]any{"type": "input_text", "text": "One more."}}}})
	c.send(map[string]any{"type": "response.create"})
	c.until("response.done")
	c.send(map[string]any{"type": "conversation.item.create", "item": map[string]any{"type": "message", "role": "user",
		"content": []any{map[string]any{"type": "input_text", "text": "And another."}}}})
	c.send(map[string]any{"type": "response.create"})
	evs = c.until("error")
	if e := evs[len(evs)-1]["error"].(map[string]any); e["code"] != "quota_exhausted" || e["type"] != "insufficient_quota" {
		t.Fatalf("quota: %v", e)
	}
	conv := reqsConversation(t, env, m.ID)
	c.conn.Close()

	// Resume the conversation with the same membership (more uses first).
	if _, err := env.Store.DB().Exec(`UPDATE memberships SET remaining_chat_uses = 2 WHERE id = $1`, m.ID); err != nil {
		t.Fatal(err)
	}
	r := dialRealtime(t, env, tok, "&conversationId="+conv)
	r.until("session.created")
	r.send(map[string]any{"type": "conversation.item.create", "item": map[string]any{"type": "message", "role": "user",
		"content": []any{map[string]any{"type": "input_text", "text": "Do you remember me?"}}}})
	r.send(map[string]any{"type": "response.create"})
	r.until("response.done")
	reqs = env.Sim.ChatRequests()
	if msgs := reqs[len(reqs)-1].Messages; len(msgs) < 6 || msgs[1].Content != "Hi, I like cooking." {
		t.Fatalf("the resumed conversation lost its history: %+v", msgs)
	}
	r.conn.Close()
}

func TestRealtimeTelephonyAudio(t *testing.T) {
	noLeaks(t)
	env := servertest.New(t, servertest.Options{})
	_, tok, _ := env.Learner("tel@example.com", intp(3))
	c := dialRealtime(t, env, tok, "")
	c.until("session.created")
	c.send(map[string]any{"type": "session.update", "session": map[string]any{"type": "realtime", "audio": map[string]any{
		"input":  map[string]any{"format": map[string]any{"type": "audio/pcmu"}, "turn_detection": nil},
		"output": map[string]any{"format": map[string]any{"type": "audio/pcmu"}}}}})
	c.until("session.updated")
	speech := session.ResampleAll(client.Join(client.Silence(200*time.Millisecond, 16000), client.Voice(1000*time.Millisecond, 16000), client.Silence(200*time.Millisecond, 16000)), 16000, 8000)
	mu := muLaw(t, speech)
	c.send(map[string]any{"type": "input_audio_buffer.append", "audio": base64.StdEncoding.EncodeToString(mu)})
	c.send(map[string]any{"type": "input_audio_buffer.commit"})
	c.until("input_audio_buffer.committed")
	// Without turn detection, the answer waits for response.create.
	c.send(map[string]any{"type": "response.create"})
	evs := c.until("response.done")
	audio := 0
	for _, e := range evs {
		if e["type"] == "response.output_audio.delta" {
			b, _ := base64.StdEncoding.DecodeString(e["delta"].(string))
			audio += len(b)
		}
	}
	// 8 kHz, one byte a sample: a third of the 24 kHz samples.
	if audio == 0 {
		t.Fatal("no audio")
	}
	c.conn.Close()
}

// muLaw encodes 8 kHz samples as G.711 µ-law with ffmpeg: an encoder that is not the server's.
func muLaw(t *testing.T, samples []int16) []byte {
	t.Helper()
	ffmpeg, err := exec.LookPath("ffmpeg")
	if err != nil {
		t.Fatal("this test encodes its telephony audio with ffmpeg: apt-get install ffmpeg (make test installs it when it can)")
	}
	cmd := exec.Command(ffmpeg, "-hide_banner", "-loglevel", "error",
		"-f", "s16le", "-ar", "8000", "-ac", "1", "-i", "pipe:0", "-f", "mulaw", "pipe:1")
	cmd.Stdin = bytes.NewReader(session.EncodePCM16(nil, samples))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil || len(out) != len(samples) {
		t.Fatalf("ffmpeg µ-law: %v (%d bytes for %d samples) %s", err, len(out), len(samples), stderr.String())
	}
	return out
}

func checkOrder(t *testing.T, evs []map[string]any, order []string) {
	t.Helper()
	i := 0
	for _, e := range evs {
		if i < len(order) && e["type"] == order[i] {
			i++
		}
	}
	if i != len(order) {
		t.Fatalf("events %v lack %q in order %v", names(evs), order[i], order)
	}
}

// The handshake: the browser subprotocols, and the refusals before the upgrade.
func TestRealtimeHandshake(t *testing.T) {
	noLeaks(t)
	env := servertest.New(t, servertest.Options{Env: map[string]string{"ALLOWED_ORIGINS": "https://app.example.com"}})
	u, tok, m := env.Learner("hs@example.com", intp(3))
	base := "ws" + strings.TrimPrefix(env.URL, "http") + "/v1/realtime?model=gpt-realtime"

	// A browser: the token in the subprotocols, "realtime" chosen.
	d := websocket.Dialer{Subprotocols: []string{"realtime", "openai-insecure-api-key." + tok}}
	conn, resp, err := d.Dial(base, http.Header{"Origin": {"https://app.example.com"}})
	if err != nil {
		t.Fatalf("browser handshake: %v", err)
	}
	if resp.Header.Get("Sec-WebSocket-Protocol") != "realtime" {
		t.Fatalf("subprotocol %q", resp.Header.Get("Sec-WebSocket-Protocol"))
	}
	var ev map[string]any
	if err := conn.ReadJSON(&ev); err != nil || ev["type"] != "session.created" {
		t.Fatalf("first event %v %v", ev, err)
	}
	conn.Close()

	refused := func(name, url string, h http.Header, subprotocols []string, status int, code string) {
		t.Helper()
		d := websocket.Dialer{Subprotocols: subprotocols}
		c, resp, err := d.Dial(url, h)
		if err == nil {
			c.Close()
			t.Fatalf("%s: upgraded", name)
		}
		if resp == nil || resp.StatusCode != status {
			t.Fatalf("%s: %v %v", name, resp, err)
		}
		var body struct {
			Error struct{ Code string } `json:"error"`
		}
		json.NewDecoder(resp.Body).Decode(&body) //nolint:errcheck
		if body.Error.Code != code {
			t.Fatalf("%s: code %q, want %q", name, body.Error.Code, code)
		}
	}
	bearer := http.Header{"Authorization": {"Bearer " + tok}}
	refused("no token", base, nil, nil, 401, "unauthorized")
	refused("bad subprotocol token", base, nil, []string{"realtime", "openai-insecure-api-key.nope"}, 401, "invalid_token")
	refused("foreign origin", base, http.Header{"Authorization": {"Bearer " + tok}, "Origin": {"https://evil.example.com"}}, nil, 403, "origin_not_allowed")
	refused("bad membership id", base+"&membershipId=nope", bearer, nil, 400, "bad_request")
	refused("bad conversation id", base+"&conversationId=nope", bearer, nil, 400, "bad_request")

	// Two usable memberships: one must be named (query or header).
	m2 := env.Membership(u, env.Plan("second", intp(5), "B2C"))
	refused("several memberships", base, bearer, nil, 400, "membership_required")
	h := http.Header{"Authorization": {"Bearer " + tok}, "X-Aitutor-Membership": {m2.ID}}
	conn, _, err = websocket.DefaultDialer.Dial(base, h)
	if err != nil {
		t.Fatalf("membership by header: %v", err)
	}
	conn.Close()
	// An exhausted membership is refused before the upgrade.
	if _, err := env.Store.DB().Exec(`UPDATE memberships SET remaining_chat_uses = 0 WHERE id = $1`, m.ID); err != nil {
		t.Fatal(err)
	}
	refused("exhausted", base+"&membershipId="+m.ID, bearer, nil, 402, "quota_exhausted")
	// Another user's membership.
	_, tok3, _ := env.Learner("other@example.com", intp(3))
	refused("foreign membership", base+"&membershipId="+m.ID, http.Header{"Authorization": {"Bearer " + tok3}}, nil, 403, "forbidden")
	// Not a WebSocket request.
	r := env.Do("GET", "/v1/realtime", tok3, nil)
	if r.Status != 400 {
		t.Fatalf("plain GET: %d %s", r.Status, r.Body)
	}
}
