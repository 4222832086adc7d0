package session

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"
	"unicode"

	"github.com/gorilla/websocket"
)

// Fuzz targets for every decoder that takes outside bytes. `make test` runs their seed corpora
// (the f.Add calls and testdata/fuzz/); `make fuzz` fuzzes each for a while.

func FuzzParseClientMessage(f *testing.F) {
	for _, s := range []string{
		`{"type":"session.update","inputSampleRate":48000,"level":"beginner","topic":"travel","silenceMs":900}`,
		`{"type":"text.input","text":"Hello!"}`,
		`{"type":"response.truncate","turnId":"turn_1","audioEndMs":1840}`,
		`{"type":"input.commit"}`, `{}`, `[]`, `null`, `{"type":1}`, `{"type":"text.input","text":null}`,
		`{"type":"session.update","inputSampleRate":1e309}`, "\xff\xfe", `{"type":"x","type":"y"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := parseClientMessage(data)
		if err != nil {
			return
		}
		// What was accepted marshals back, and its fields are what JSON allows.
		if _, err := json.Marshal(m); err != nil {
			t.Fatalf("accepted message does not marshal: %v", err)
		}
	})
}

func FuzzPCMAndResample(f *testing.F) {
	f.Add([]byte{0, 0, 1, 0, 255, 127, 0, 128}, 48000, 7)
	f.Add(make([]byte, 1920), 44100, 640)
	f.Add([]byte{1}, 8000, 1)
	f.Add([]byte{}, 16000, 3)
	f.Fuzz(func(t *testing.T, data []byte, rate int, chunk int) {
		if rate < minInputRate || rate > maxInputRate || chunk <= 0 {
			return
		}
		samples := DecodePCM16(nil, data[:len(data)&^1])
		if len(samples) != len(data)/2 {
			t.Fatalf("%d samples from %d bytes", len(samples), len(data))
		}
		if back := EncodePCM16(nil, samples); string(back) != string(data[:len(data)&^1]) {
			t.Fatal("encode(decode(x)) != x")
		}
		// Resampling in frames of any size gives what resampling it whole gives, in length.
		r := NewResampler(rate, DetectorRate)
		var out []int16
		for i := 0; i < len(samples); i += chunk {
			out = r.Resample(out, samples[i:min(i+chunk, len(samples))])
		}
		want := len(samples) * DetectorRate / rate
		if d := len(out) - want; d < -2 || d > 2 {
			t.Fatalf("%d samples at %d Hz gave %d at 16 kHz, want about %d", len(samples), rate, len(out), want)
		}
		// Turn detection takes any audio.
		d := NewDetector(DetectConfig{})
		for in := out; len(in) > 0; {
			_, n := d.Push(in)
			if n <= 0 || n > len(in) {
				t.Fatalf("Push consumed %d of %d", n, len(in))
			}
			in = in[n:]
		}
	})
}

func FuzzParseWAV(f *testing.F) {
	f.Add(WAV(EncodePCM16(nil, []int16{0, 100, -100, 32767, -32768}), 16000))
	f.Add(WAV(nil, 44100))
	f.Add([]byte("RIFF\x00\x00\x00\x00WAVEfmt \x10\x00\x00\x00\x01\x00\x02\x00\x44\xac\x00\x00\x10\xb1\x02\x00\x04\x00\x10\x00data\xff\xff\xff\xff\x01\x02\x03\x04"))
	f.Add([]byte("RIFF"))
	f.Fuzz(func(t *testing.T, data []byte) {
		samples, rate, err := ParseWAV(data)
		if err != nil {
			return
		}
		if rate <= 0 {
			t.Fatalf("rate %d accepted", rate)
		}
		if len(samples) > len(data) {
			t.Fatalf("%d samples from %d bytes", len(samples), len(data))
		}
		// An upload in this format goes through the speech check.
		if rate <= 384000 && len(samples) < 1<<20 {
			if _, ok, _ := decodeSpeech(t.Context(), Audio{Data: data, Format: FormatWAV}); !ok {
				t.Fatal("a WAV that parses is not decodable")
			}
		}
	})
}

func FuzzSplitter(f *testing.F) {
	f.Add("Hello there. How are you? Fine!", 3)
	f.Add("It costs 3.5 dollars, e.g. Mr. Smith said… ok?!", 1)
	f.Add(strings.Repeat("word, ", 100), 7)
	f.Add("\n\n. . ?", 2)
	f.Fuzz(func(t *testing.T, text string, step int) {
		if step <= 0 || step > 64 {
			return
		}
		var s Splitter
		var got []string
		runes := []rune(text)
		for i := 0; i < len(runes); i += step {
			got = append(got, s.Push(string(runes[i:min(i+step, len(runes))]))...)
		}
		if rest := s.Flush(); rest != "" {
			got = append(got, rest)
		}
		// No letter or digit is lost or reordered, and no sentence is empty.
		words := func(s string) string {
			return strings.Map(func(r rune) rune {
				if unicode.IsLetter(r) || unicode.IsDigit(r) {
					return r
				}
				return -1
			}, s)
		}
		for _, sentence := range got {
			if strings.TrimSpace(sentence) == "" {
				t.Fatalf("empty sentence in %q", got)
			}
		}
		if a, b := words(text), words(strings.Join(got, " ")); a != b {
			t.Fatalf("text %q split into %q loses words", text, got)
		}
	})
}

// FuzzRealtimeEvent sends any client event to a live Realtime session: the session answers bad
// ones with an error event and goes on (the probe after it is answered), and never panics.
func FuzzRealtimeEvent(f *testing.F) {
	for _, s := range []string{
		`{"type":"session.update","session":{"type":"realtime","instructions":"Be brief.","audio":{"input":{"format":{"type":"audio/pcmu"},"turn_detection":null}}}}`,
		`{"type":"session.update","session":{"audio":{"input":{"turn_detection":{"type":"server_vad","silence_duration_ms":1e9}}}}}`,
		`{"type":"input_audio_buffer.append","audio":"AAABAAIA"}`, `{"type":"input_audio_buffer.append","audio":"AAE="}`,
		`{"type":"input_audio_buffer.commit"}`, `{"type":"input_audio_buffer.clear"}`,
		`{"type":"conversation.item.create","item":{"type":"message","role":"user","content":[{"type":"input_text","text":"Hi"}]}}`,
		`{"type":"conversation.item.create","item":{"type":"function_call"}}`, `{"type":"response.create"}`, `{"type":"response.cancel"}`,
		`{"type":"conversation.item.truncate","item_id":"item_x","content_index":0,"audio_end_ms":-1}`,
		`{"type":"conversation.item.retrieve","item_id":""}`, `{}`, `[]`, `null`, `{"type":7}`, "\xff", `{"type":"session.update","session":[]}`,
	} {
		f.Add([]byte(s))
	}
	// Closed sessions leave the hub a moment later: the fuzzer's pace must not hit the limit.
	r := newRig(f, HubConfig{MaxSessionsPerUser: 1 << 20})
	userID, _ := r.learner(nil)
	url := fmt.Sprintf("ws%s/?realtime=1&user=%s", strings.TrimPrefix(r.srv.URL, "http"), userID)
	f.Fuzz(func(t *testing.T, data []byte) {
		conn, _, err := websocket.DefaultDialer.Dial(url, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		conn.SetReadDeadline(time.Now().Add(10 * time.Second)) //nolint:errcheck
		if err := conn.WriteMessage(websocket.TextMessage, data); err != nil {
			t.Fatal(err)
		}
		probe := `{"type":"conversation.item.retrieve","item_id":"item_probe","event_id":"probe"}`
		if err := conn.WriteMessage(websocket.TextMessage, []byte(probe)); err != nil {
			t.Fatal(err)
		}
		for {
			_, msg, err := conn.ReadMessage()
			if err != nil {
				t.Fatalf("the session ended after %q: %v", data, err)
			}
			var ev struct {
				Type  string `json:"type"`
				Error struct {
					EventID string `json:"event_id"`
				} `json:"error"`
			}
			if json.Unmarshal(msg, &ev) != nil {
				t.Fatalf("not JSON: %q", msg)
			}
			if ev.Type == "error" && ev.Error.EventID == "probe" {
				return
			}
		}
	})
}
