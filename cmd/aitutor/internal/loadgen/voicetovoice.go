package loadgen

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/aitutor/aitutor/session/client"
	"github.com/aitutor/aitutor/session/openaisim"
)

// VoiceToVoice is what the learner feels: from the last speech sample the client sends to the
// first reply audio frame it receives, with server turn detection (endOfTurn smart, the
// default) and the microphone's real-time pace. The learner speaks tone speech
// (openaisim.SpeakTones), which the simulator hears back word for word, so that the words
// before a pause are what the server judges: complete sentences and questions, and sentences
// with a 1.2 s pause after an unfinished phrase ("I would like to … order a coffee with milk").
type VoiceToVoice struct {
	Complete Stats `json:"complete"` // complete sentences and questions
	Hesitant Stats `json:"hesitant"` // with a pause after an unfinished phrase
	All      Stats `json:"all"`
	// AfterEnd is from speech.stopped (the turn committed) to the first reply audio frame.
	AfterEnd Stats `json:"afterEnd"`
	// Endpoint is the silence that ended each turn (the server's endpointMs).
	Endpoint Stats `json:"endpoint"`
	// Split counts utterances heard as more than one turn (the target is none).
	Utterances int `json:"utterances"`
	Split      int `json:"split"`
	// Speculative provider calls during the run, from /metrics.
	ChatUsed   float64 `json:"speculativeChatUsed"`
	ChatWasted float64 `json:"speculativeChatWasted"`
	STTUsed    float64 `json:"speculativeSttUsed"`
	STTWasted  float64 `json:"speculativeSttWasted"`
}

// WastedChatShare is the share of speculative chat calls whose answer was thrown away.
func (v *VoiceToVoice) WastedChatShare() float64 {
	if v.ChatUsed+v.ChatWasted == 0 {
		return 0
	}
	return v.ChatWasted / (v.ChatUsed + v.ChatWasted)
}

var v2vComplete = []string{
	"How are you today?", "I went to the market yesterday.", "My favourite food is pasta.", "Where do you live?",
	"I like reading books in the evening.", "What time does the museum open?", "We played football after school.",
	"Can you help me with my homework?", "I am learning English for my job.", "The weather is lovely today.",
}

var v2vHesitant = [][2]string{
	{"I would like to", "order a coffee with milk."}, {"Yesterday I went to the", "cinema with my friends."},
	{"My brother is very", "good at playing the guitar."}, {"I think that", "English is a beautiful language."},
	{"When I was a child I lived in", "a small village."}, {"I usually go to work by", "bus in the morning."},
	{"Last summer we travelled to", "the mountains in Scotland."}, {"My favourite season is autumn because", "the colours are beautiful."},
	{"I want to", "learn how to cook Italian food."}, {"Could you tell me about", "your weekend?"},
}

const (
	v2vPause = 1200 * time.Millisecond
	v2vFrame = 20 * time.Millisecond
)

var speculativeMetrics = []string{
	`aitutor_speculative_calls_total{outcome="used",stage="chat"}`, `aitutor_speculative_calls_total{outcome="wasted",stage="chat"}`,
	`aitutor_speculative_calls_total{outcome="used",stage="stt"}`, `aitutor_speculative_calls_total{outcome="wasted",stage="stt"}`,
}

func (e *env) voiceToVoice(ctx context.Context, rep *Report) error {
	ls, err := e.learners(ctx, 1)
	if err != nil {
		return err
	}
	c, err := client.Dial(ctx, e.wsURL(ls[0].membership), client.Options{Token: ls[0].token, EventsBuffer: 4096})
	if err != nil {
		return err
	}
	defer c.Close()
	if _, err := c.Until(10*time.Second, "session.created"); err != nil {
		return err
	}
	// A warm-up turn, not counted.
	if _, err := e.speakTurn(ctx, c, openaisim.SpeakTones("hello there", 16000)); err != nil {
		return fmt.Errorf("warm-up: %w", err)
	}
	before, err := e.scrape(ctx, speculativeMetrics...)
	if err != nil {
		return err
	}
	out := &VoiceToVoice{}
	var complete, hesitant, afterEnd, endpoint []time.Duration
	record := func(r v2vResult, into *[]time.Duration) {
		*into = append(*into, r.voiceToVoice)
		afterEnd = append(afterEnd, r.afterEnd)
		endpoint = append(endpoint, r.endpoint)
		out.Utterances++
		if r.turns != 1 {
			out.Split++
		}
	}
	for i := range max(len(v2vComplete), len(v2vHesitant)) {
		if i < len(v2vComplete) {
			r, err := e.speakTurn(ctx, c, openaisim.SpeakTones(v2vComplete[i], 16000))
			if err != nil {
				return fmt.Errorf("%q: %w", v2vComplete[i], err)
			}
			record(r, &complete)
		}
		if i < len(v2vHesitant) {
			h := v2vHesitant[i]
			speech := client.Join(openaisim.SpeakTones(h[0], 16000), client.Silence(v2vPause, 16000), openaisim.SpeakTones(h[1], 16000))
			r, err := e.speakTurn(ctx, c, speech)
			if err != nil {
				return fmt.Errorf("%q: %w", h[0]+" … "+h[1], err)
			}
			record(r, &hesitant)
		}
	}
	after, err := e.scrape(ctx, speculativeMetrics...)
	if err != nil {
		return err
	}
	delta := func(i int) float64 { return after[speculativeMetrics[i]] - before[speculativeMetrics[i]] }
	out.ChatUsed, out.ChatWasted, out.STTUsed, out.STTWasted = delta(0), delta(1), delta(2), delta(3)
	out.Complete, out.Hesitant, out.All = summarize(complete), summarize(hesitant), summarize(append(complete, hesitant...))
	out.AfterEnd, out.Endpoint = summarize(afterEnd), summarize(endpoint)
	rep.VoiceToVoice = out
	return nil
}

type v2vResult struct {
	voiceToVoice, afterEnd, endpoint time.Duration
	turns                            int // transcripts heard for the utterance
}

// speakTurn streams speech and then silence at real-time pace, until the reply's
// response.done; it returns the time from sending the last speech frame to the first reply
// audio frame.
func (e *env) speakTurn(ctx context.Context, c *client.Client, speech []int16) (v2vResult, error) {
	per := int(v2vFrame.Seconds() * 16000)
	stop := make(chan struct{})
	var lastSpeech time.Time
	var mu sync.Mutex
	sendErr := make(chan error, 1)
	go func() {
		start := time.Now()
		silence := make([]int16, per)
		for i := 0; ; i++ {
			select {
			case <-stop:
				sendErr <- nil
				return
			case <-time.After(time.Until(start.Add(time.Duration(i) * v2vFrame))):
			}
			frame := silence
			if off := i * per; off < len(speech) {
				frame = speech[off:min(off+per, len(speech))]
			}
			if err := c.SendSamples(frame); err != nil {
				sendErr <- err
				return
			}
			if off := i * per; off < len(speech) && off+per >= len(speech) {
				mu.Lock()
				lastSpeech = time.Now()
				mu.Unlock()
			}
		}
	}()
	defer func() {
		close(stop)
		<-sendErr
	}()
	var r v2vResult
	var stoppedAt, firstAudio time.Time
	timeout := time.NewTimer(60 * time.Second)
	defer timeout.Stop()
	for {
		var ev client.Event
		select {
		case x, ok := <-c.Events():
			if !ok {
				return r, fmt.Errorf("session closed: %v", c.Err())
			}
			ev = x
		case err := <-sendErr:
			return r, fmt.Errorf("sending audio: %w", err)
		case <-timeout.C:
			return r, fmt.Errorf("no response.done within 60 s")
		case <-ctx.Done():
			return r, ctx.Err()
		}
		switch ev.Type {
		case "speech.stopped":
			stoppedAt = ev.Received
		case "transcript.user":
			r.turns++
		case client.TypeAudio:
			if firstAudio.IsZero() {
				firstAudio = ev.Received
			}
		case "response.cancelled":
			mu.Lock()
			last := lastSpeech
			mu.Unlock()
			if last.IsZero() && ev.Field("reason") == "barge_in" {
				// The answer to the words before a pause, cut by the rest: a split utterance.
				firstAudio, stoppedAt = time.Time{}, time.Time{}
				continue
			}
			return r, fmt.Errorf("%s", strings.TrimSpace(string(ev.Raw)))
		case "error":
			return r, fmt.Errorf("%s", strings.TrimSpace(string(ev.Raw)))
		case "response.done":
			var d doneEvent
			ev.Decode(&d) //nolint:errcheck
			mu.Lock()
			last := lastSpeech
			mu.Unlock()
			if last.IsZero() {
				// A turn of the words before a pause: the utterance was split. Wait for the
				// answer to the rest.
				firstAudio, stoppedAt = time.Time{}, time.Time{}
				continue
			}
			if firstAudio.IsZero() || stoppedAt.IsZero() {
				return r, fmt.Errorf("a turn without audio or end of speech")
			}
			r.voiceToVoice, r.afterEnd = firstAudio.Sub(last), firstAudio.Sub(stoppedAt)
			if d.Metrics.EndpointMs != nil {
				r.endpoint = time.Duration(*d.Metrics.EndpointMs * float64(time.Millisecond))
			}
			return r, nil
		}
	}
}
