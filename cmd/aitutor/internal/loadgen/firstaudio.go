package loadgen

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"time"

	"github.com/aitutor/aitutor/session"
	"github.com/aitutor/aitutor/session/client"
)

// FirstAudio compares the time to first reply audio of the two designs on the same utterances.
type FirstAudio struct {
	Streamed       Stats   `json:"streamed"`   // end of speech (input.commit) → first audio frame
	UploadWait     Stats   `json:"uploadWait"` // upload start → first byte of ttsUrl
	Ratio          float64 `json:"ratioP50"`   // upload-and-wait p50 / streamed p50
	ServerFirst    Stats   `json:"serverReportedFirstAudio"`
	Prototype      Millis  `json:"prototypeModelMs"` // a flow that synthesizes the whole reply before answering
	SingleOverhead Stats   `json:"singleSessionOverhead"`
	// Stages are the streamed turns' stage latencies as the server measured them.
	Stages map[string]Stats `json:"stages"`
}

// utterance is what the learner says in every benchmark turn: 1.2 s of voiced sound.
func utterance() []int16 { return client.Voice(1200*time.Millisecond, 16000) }

func (e *env) firstAudio(ctx context.Context, rep *Report) error {
	ls, err := e.learners(ctx, 1)
	if err != nil {
		return err
	}
	l := ls[0]
	c, err := e.dialManual(ctx, l, 4096)
	if err != nil {
		return err
	}
	defer c.Close()
	var streamed, serverFirst, overhead []time.Duration
	stages := map[string][]time.Duration{}
	for i := 0; i < e.cfg.Turns+1; i++ { // the first turn warms connections up and is not counted
		first, done, err := e.spokenTurn(ctx, c)
		if err != nil {
			return fmt.Errorf("streamed turn %d: %w", i, err)
		}
		if i == 0 {
			continue
		}
		streamed = append(streamed, first)
		overhead = append(overhead, first-time.Duration(float64(rep.ProviderLimit)*float64(time.Millisecond)))
		if done.Metrics.FirstAudioMs != nil {
			serverFirst = append(serverFirst, time.Duration(*done.Metrics.FirstAudioMs*float64(time.Millisecond)))
		}
		addStages(stages, done)
	}
	var upload []time.Duration
	wav := session.WAV(client.EncodeSamples(utterance()), 16000)
	for i := 0; i < e.cfg.Turns+1; i++ {
		d, err := e.uploadTurn(ctx, l, wav)
		if err != nil {
			return fmt.Errorf("upload-and-wait turn %d: %w", i, err)
		}
		if i > 0 {
			upload = append(upload, d)
		}
	}
	fa := &FirstAudio{
		Streamed: summarize(streamed), UploadWait: summarize(upload), ServerFirst: summarize(serverFirst),
		SingleOverhead: summarize(overhead), Prototype: prototypeModel(e.cfg), Stages: map[string]Stats{},
	}
	for k, v := range stages {
		fa.Stages[k] = summarize(v)
	}
	if fa.Streamed.P50 > 0 {
		fa.Ratio = float64(fa.UploadWait.P50) / float64(fa.Streamed.P50)
	}
	rep.FirstAudio = fa
	return nil
}

// prototypeModel is the first audio of the prototype's flow with the profile: transcription,
// the whole reply, then the whole reply's speech before the answer goes out.
func prototypeModel(cfg Config) Millis {
	p := cfg.Profile
	reply := defaultReply()
	tokens := len(tokensOf(reply))
	audio := time.Duration(float64(len(reply)) / charsPerSecond * float64(time.Second))
	speech := p.TTSFirstByte
	if p.TTSSpeed > 0 {
		speech += time.Duration(float64(audio) / p.TTSSpeed)
	}
	return millis(p.STT + p.ChatFirstToken + time.Duration(tokens-1)*p.ChatPerToken + speech)
}

// dialManual opens a session with manual turn detection (the client says when speech ends).
func (e *env) dialManual(ctx context.Context, l learner, buffer int) (*client.Client, error) {
	c, err := client.Dial(ctx, e.wsURL(l.membership), client.Options{Token: l.token, EventsBuffer: buffer})
	if err != nil {
		return nil, err
	}
	if _, err := c.Until(10*time.Second, "session.created"); err != nil {
		c.Abort()
		return nil, err
	}
	if err := c.Send(map[string]any{"type": "session.update", "turnDetection": "manual"}); err != nil {
		c.Abort()
		return nil, err
	}
	if _, err := c.Until(10*time.Second, "session.updated"); err != nil {
		c.Abort()
		return nil, err
	}
	return c, nil
}

type doneEvent struct {
	Metrics  session.Metrics `json:"metrics"`
	AudioURL string          `json:"audioUrl"` // the stored reply, a path
}

// spokenTurn sends the utterance, commits it and returns the time from the commit to the first
// reply audio frame, and the response.done event.
func (e *env) spokenTurn(ctx context.Context, c *client.Client) (time.Duration, doneEvent, error) {
	if err := c.Stream(ctx, utterance(), 16000, 100*time.Millisecond, false); err != nil {
		return 0, doneEvent{}, err
	}
	time.Sleep(50 * time.Millisecond) // let the server take the frames in before the clock starts
	start := time.Now()
	if err := c.Commit(); err != nil {
		return 0, doneEvent{}, err
	}
	var first time.Duration
	timeout := time.NewTimer(60 * time.Second) // one timer a turn: the generator reads ~100 events a turn
	defer timeout.Stop()
	for {
		var ev client.Event
		select {
		case e, ok := <-c.Events():
			if !ok {
				return 0, doneEvent{}, fmt.Errorf("session closed: %v", c.Err())
			}
			ev = e
		case <-timeout.C:
			return 0, doneEvent{}, fmt.Errorf("no response.done within 60 s")
		}
		switch ev.Type {
		case client.TypeAudio:
			if first == 0 {
				first = ev.Received.Sub(start)
			}
		case "error", "response.cancelled":
			return 0, doneEvent{}, fmt.Errorf("%s", ev.Raw)
		case "response.done":
			var d doneEvent
			ev.Decode(&d) //nolint:errcheck
			return first, d, nil
		}
	}
}

// uploadTurn runs POST /api/tutor/chat with the utterance and fetches ttsAbsoluteUrl; it returns the
// time from the start of the upload to the first byte of the reply audio.
func (e *env) uploadTurn(ctx context.Context, l learner, wav []byte) (time.Duration, error) {
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	mw.WriteField("membershipId", l.membership) //nolint:errcheck
	fw, _ := mw.CreateFormFile("audio", "utterance.wav")
	fw.Write(wav) //nolint:errcheck
	mw.Close()
	start := time.Now()
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, e.cfg.URL+"/api/tutor/chat", &body)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("Authorization", "Bearer "+l.token)
	resp, err := e.http.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	var out struct {
		TTSURL string `json:"ttsAbsoluteUrl"`
	}
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		return 0, fmt.Errorf("HTTP %d: %s", resp.StatusCode, b)
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		return 0, err
	}
	audio, err := e.http.Get(out.TTSURL)
	if err != nil {
		return 0, err
	}
	defer audio.Body.Close()
	var one [1]byte
	if _, err := io.ReadFull(audio.Body, one[:]); err != nil {
		return 0, err
	}
	first := time.Since(start)
	io.Copy(io.Discard, audio.Body) //nolint:errcheck
	return first, nil
}
