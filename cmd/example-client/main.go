// Command example-client holds one spoken or typed turn with an aitutor server over WebSocket
// protocol v1 (docs/protocol.md), the way a learner's app would:
//
//	go run ./cmd/example-client -membership ID -wav hello.wav   # speak a WAV file
//	go run ./cmd/example-client -membership ID -text "Hello!"   # or type a message
//
// The token comes from -token or AITUTOR_TOKEN (`aitutor token --email learner@example.com`
// prints one). It prints session.created, the transcript, the tutor's reply as it streams in
// and the turn's latencies, and writes the reply audio (24 kHz) to -out. It exits with status 1
// and the server's message when the server refuses the session or the turn.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net/url"
	"os"
	"os/signal"
	"strings"
	"time"

	"github.com/aitutor/aitutor/session"
	"github.com/aitutor/aitutor/session/client"
)

const frame = 20 * time.Millisecond // one microphone frame

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "example-client:", err)
		os.Exit(1)
	}
}

type options struct {
	base, token, membership, wav, text, out string
	timeout                                 time.Duration
}

func run() error {
	var o options
	flag.StringVar(&o.base, "url", "http://localhost:3001", "server base URL")
	flag.StringVar(&o.token, "token", os.Getenv("AITUTOR_TOKEN"), "bearer token (default $AITUTOR_TOKEN)")
	flag.StringVar(&o.membership, "membership", "", "membership id to talk on (GET /api/users/me lists them)")
	flag.StringVar(&o.wav, "wav", "", "WAV file to speak (any rate, mono or stereo, 8-32 bit PCM)")
	flag.StringVar(&o.text, "text", "", "typed message to send instead of speech")
	flag.StringVar(&o.out, "out", "reply.wav", "where to write the tutor's reply audio")
	flag.DurationVar(&o.timeout, "timeout", 2*time.Minute, "give up after this long")
	flag.Parse()
	switch {
	case o.token == "":
		return errors.New("-token or AITUTOR_TOKEN is required (aitutor token --email learner@example.com)")
	case o.membership == "":
		return errors.New("-membership is required (the id of one of your memberships)")
	case (o.wav == "") == (o.text == ""):
		return errors.New("give exactly one of -wav FILE and -text MESSAGE")
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	return talk(ctx, o)
}

// The server's events, as far as this client reads them.
type (
	created struct {
		SessionID         string `json:"sessionId"`
		ConversationID    string `json:"conversationId"`
		InputSampleRate   int    `json:"inputSampleRate"`
		OutputSampleRate  int    `json:"outputSampleRate"`
		RemainingChatUses *int   `json:"remainingChatUses"`
	}
	textEvent struct {
		TurnID string `json:"turnId"`
		Text   string `json:"text"`
		Delta  string `json:"delta"`
		Reason string `json:"reason"`
	}
	done struct {
		TurnID            string          `json:"turnId"`
		Text              string          `json:"text"`
		RemainingChatUses *int            `json:"remainingChatUses"`
		Metrics           session.Metrics `json:"metrics"`
		AudioURL          string          `json:"audioUrl"`
	}
	errorEvent struct {
		Code    string `json:"code"`
		Message string `json:"message"`
		Fatal   bool   `json:"fatal"`
		TurnID  string `json:"turnId"`
	}
)

func talk(ctx context.Context, o options) error {
	wsURL, err := sessionURL(o.base, o.membership)
	if err != nil {
		return err
	}
	var speech []int16
	if o.wav != "" {
		data, err := os.ReadFile(o.wav)
		if err != nil {
			return err
		}
		samples, rate, err := session.ParseWAV(data)
		if err != nil {
			return fmt.Errorf("%s: %w", o.wav, err)
		}
		speech = session.ResampleAll(samples, rate, session.DetectorRate)
	}

	start := time.Now()
	logf := func(format string, args ...any) {
		fmt.Printf("%7.3fs  %s\n", time.Since(start).Seconds(), fmt.Sprintf(format, args...))
	}
	c, err := client.Dial(ctx, wsURL, client.Options{Token: o.token})
	if err != nil {
		var he *client.HTTPError
		if errors.As(err, &he) {
			return fmt.Errorf("the server refused the session: HTTP %d: %s", he.Status, apiMessage(he.Body))
		}
		return err
	}
	defer c.Close()

	ev, err := c.Next(10 * time.Second)
	if err != nil {
		return err
	}
	if ev.Type != "session.created" {
		return fmt.Errorf("expected session.created, got %s", ev.Raw)
	}
	var sc created
	if err := ev.Decode(&sc); err != nil {
		return err
	}
	logf("session.created %s", ev.Raw)
	if sc.InputSampleRate != session.DetectorRate {
		speech = session.ResampleAll(speech, session.DetectorRate, sc.InputSampleRate)
	}

	// Speak (in real time, as a microphone would, then 1 s of silence so that the server's turn
	// detection hears the end of the utterance) or type.
	streamed := make(chan error, 1)
	if o.wav != "" {
		logf("streaming %s: %.2f s of audio in real time, %d ms a frame, then 1 s of silence", o.wav,
			float64(len(speech))/float64(sc.InputSampleRate), frame.Milliseconds())
		go func() {
			silence := make([]int16, sc.InputSampleRate)
			err := c.Stream(ctx, speech, sc.InputSampleRate, frame, true)
			if err == nil {
				err = c.Stream(ctx, silence, sc.InputSampleRate, frame, true)
			}
			streamed <- err
		}()
	} else {
		logf("text.input %q", o.text)
		if err := c.Text(o.text); err != nil {
			return err
		}
	}

	var reply []byte
	heard, replying := false, false
	for {
		var ev client.Event
		var ok bool
		select {
		case <-ctx.Done():
			return fmt.Errorf("no answer: %w", ctx.Err())
		case err := <-streamed:
			if err != nil {
				return fmt.Errorf("streaming audio: %w", err)
			}
			if !heard { // let the server say why it heard nothing
				logf("input.commit (turn detection heard no speech)")
				if err := c.Commit(); err != nil {
					return err
				}
			}
			continue
		case ev, ok = <-c.Events():
		}
		if !ok {
			return fmt.Errorf("the server closed the session: %d %s", c.CloseCode, c.CloseText)
		}
		switch ev.Type {
		case client.TypeAudio:
			reply = append(reply, ev.Audio...)
			continue
		case "speech.started":
			heard = true
			logf("speech.started")
		case "speech.stopped":
			logf("speech.stopped")
		case "transcript.user":
			var t textEvent
			ev.Decode(&t) //nolint:errcheck // a missing field prints empty
			logf("transcript.user [%s] you said: %q", t.TurnID, t.Text)
		case "response.started":
			var t textEvent
			ev.Decode(&t) //nolint:errcheck
			logf("response.started [%s]", t.TurnID)
			fmt.Print("          tutor: ")
			replying = true
		case "response.text.delta":
			var t textEvent
			ev.Decode(&t) //nolint:errcheck
			fmt.Print(t.Delta)
		case "response.done":
			if replying {
				fmt.Println()
			}
			var d done
			if err := ev.Decode(&d); err != nil {
				return err
			}
			logf("response.done [%s] remainingChatUses=%s audioUrl=%s", d.TurnID, uses(d.RemainingChatUses), d.AudioURL)
			printMetrics(d.Metrics)
			return writeReply(o.out, reply, sc.OutputSampleRate, logf)
		case "response.cancelled":
			if replying {
				fmt.Println()
				replying = false
			}
			var t textEvent
			ev.Decode(&t) //nolint:errcheck
			logf("response.cancelled [%s] reason=%s", t.TurnID, t.Reason)
			if t.Reason != "error" { // after a failure the error event follows
				return fmt.Errorf("the reply was cancelled (%s)", t.Reason)
			}
		case "error":
			if replying {
				fmt.Println()
			}
			var e errorEvent
			ev.Decode(&e) //nolint:errcheck
			logf("error %s", ev.Raw)
			return fmt.Errorf("%s: %s", e.Code, e.Message)
		default:
			logf("%s %s", ev.Type, ev.Raw)
		}
	}
}

// sessionURL is the protocol v1 URL of a membership's session on the server at base.
func sessionURL(base, membership string) (string, error) {
	u, err := url.Parse(base)
	if err != nil || u.Host == "" {
		return "", fmt.Errorf("-url %q is not a server URL such as http://localhost:3001", base)
	}
	switch u.Scheme {
	case "http", "ws":
		u.Scheme = "ws"
	case "https", "wss":
		u.Scheme = "wss"
	default:
		return "", fmt.Errorf("-url %q: scheme must be http or https", base)
	}
	u.Path = strings.TrimRight(u.Path, "/") + "/api/tutor/ws"
	u.RawQuery = url.Values{"membershipId": {membership}}.Encode()
	return u.String(), nil
}

// apiMessage is the message of a REST error body {"error":{"code","message"}}, or the body.
func apiMessage(body string) string {
	var e struct {
		Error struct{ Code, Message string } `json:"error"`
	}
	if json.Unmarshal([]byte(body), &e) == nil && e.Error.Code != "" {
		return e.Error.Code + ": " + e.Error.Message
	}
	return strings.TrimSpace(body)
}

func uses(n *int) string {
	if n == nil {
		return "unlimited"
	}
	return fmt.Sprint(*n)
}

func printMetrics(m session.Metrics) {
	for _, s := range []struct {
		name string
		v    *float64
	}{
		{"endpointMs", m.EndpointMs}, {"sttMs", m.STTMs}, {"chatFirstTokenMs", m.ChatFirstTokenMs},
		{"firstSentenceMs", m.FirstSentenceMs}, {"ttsFirstByteMs", m.TTSFirstByteMs},
		{"firstAudioMs", m.FirstAudioMs}, {"totalMs", m.TotalMs},
	} {
		if s.v != nil {
			fmt.Printf("          %-17s %8.1f\n", s.name, *s.v)
		}
	}
}

func writeReply(path string, pcm []byte, rate int, logf func(string, ...any)) error {
	if err := os.WriteFile(path, session.WAV(pcm, rate), 0o644); err != nil {
		return err
	}
	logf("wrote %.2f s of reply audio (%d Hz) to %s", float64(len(pcm)/2)/float64(rate), rate, path)
	return nil
}
