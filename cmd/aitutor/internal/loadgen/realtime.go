package loadgen

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/gorilla/websocket"

	"github.com/aitutor/aitutor/session"
)

// Realtime compares first audio through /v1/realtime (the OpenAI Realtime events) with protocol
// v1 on the same utterance, turns interleaved on one learner so that both see the same server
// and providers: the Realtime session appends 24 kHz PCM in base64 events, commits with turn
// detection off and asks for the response; v1 streams binary 16 kHz frames and commits.
type Realtime struct {
	Realtime Stats  `json:"realtime"` // input_audio_buffer.commit → first response.output_audio.delta
	V1       Stats  `json:"v1"`       // input.commit → first binary audio frame
	DeltaP50 Millis `json:"deltaP50"` // Realtime p50 − v1 p50 (target ≤ 2 ms)
}

func (e *env) realtime(ctx context.Context, rep *Report) error {
	ls, err := e.learners(ctx, 1)
	if err != nil {
		return err
	}
	l := ls[0]
	v1, err := e.dialManual(ctx, l, 4096)
	if err != nil {
		return err
	}
	defer v1.Close()
	rt, err := e.dialRealtime(ctx, l)
	if err != nil {
		return err
	}
	defer rt.Close()
	var rts, v1s []time.Duration
	for i := 0; i < e.cfg.Turns+1; i++ { // the first turn of each warms up and is not counted
		first, err := e.realtimeTurn(ctx, rt)
		if err != nil {
			return fmt.Errorf("realtime turn %d: %w", i, err)
		}
		v1First, _, err := e.spokenTurn(ctx, v1)
		if err != nil {
			return fmt.Errorf("v1 turn %d: %w", i, err)
		}
		if i > 0 {
			rts, v1s = append(rts, first), append(v1s, v1First)
		}
	}
	out := &Realtime{Realtime: summarize(rts), V1: summarize(v1s)}
	out.DeltaP50 = out.Realtime.P50 - out.V1.P50
	rep.Realtime = out
	return nil
}

// dialRealtime opens a /v1/realtime session with turn detection off.
func (e *env) dialRealtime(ctx context.Context, l learner) (*websocket.Conn, error) {
	url := "ws" + strings.TrimPrefix(e.cfg.URL, "http") + "/v1/realtime?model=gpt-realtime&membershipId=" + l.membership
	conn, _, err := websocket.DefaultDialer.DialContext(ctx, url, http.Header{"Authorization": {"Bearer " + l.token}})
	if err != nil {
		return nil, err
	}
	if _, err := rtUntil(conn, "session.created"); err != nil {
		conn.Close()
		return nil, err
	}
	update := map[string]any{"type": "session.update", "session": map[string]any{"type": "realtime",
		"audio": map[string]any{"input": map[string]any{"turn_detection": nil}}}}
	if err := conn.WriteJSON(update); err != nil {
		conn.Close()
		return nil, err
	}
	if _, err := rtUntil(conn, "session.updated"); err != nil {
		conn.Close()
		return nil, err
	}
	return conn, nil
}

// realtimeTurn appends the utterance, commits it, asks for the response and returns the time
// from the commit to the first audio delta; it reads on to response.done.
func (e *env) realtimeTurn(ctx context.Context, conn *websocket.Conn) (time.Duration, error) {
	samples := session.ResampleAll(utterance(), 16000, 24000)
	const chunk = 2400 // 100 ms
	for i := 0; i < len(samples); i += chunk {
		pcm := session.EncodePCM16(nil, samples[i:min(i+chunk, len(samples))])
		ev := map[string]string{"type": "input_audio_buffer.append", "audio": base64.StdEncoding.EncodeToString(pcm)}
		if err := conn.WriteJSON(ev); err != nil {
			return 0, err
		}
	}
	time.Sleep(50 * time.Millisecond) // as in spokenTurn: the frames are in before the clock starts
	start := time.Now()
	if err := conn.WriteJSON(map[string]string{"type": "input_audio_buffer.commit"}); err != nil {
		return 0, err
	}
	if err := conn.WriteJSON(map[string]string{"type": "response.create"}); err != nil {
		return 0, err
	}
	var first time.Duration
	conn.SetReadDeadline(time.Now().Add(60 * time.Second)) //nolint:errcheck
	defer conn.SetReadDeadline(time.Time{})                //nolint:errcheck
	for {
		typ, _, err := rtRead(conn)
		if err != nil {
			return 0, err
		}
		switch typ {
		case "response.output_audio.delta":
			if first == 0 {
				first = time.Since(start)
			}
		case "error":
			return 0, fmt.Errorf("error event")
		case "response.done":
			if first == 0 {
				return 0, fmt.Errorf("response.done without audio")
			}
			return first, nil
		}
	}
}

// rtRead reads one event's type (and the event).
func rtRead(conn *websocket.Conn) (string, []byte, error) {
	_, data, err := conn.ReadMessage()
	if err != nil {
		return "", nil, err
	}
	var head struct {
		Type string `json:"type"`
	}
	if err := json.Unmarshal(data, &head); err != nil {
		return "", nil, err
	}
	return head.Type, data, nil
}

func rtUntil(conn *websocket.Conn, typ string) ([]byte, error) {
	conn.SetReadDeadline(time.Now().Add(10 * time.Second)) //nolint:errcheck
	defer conn.SetReadDeadline(time.Time{})                //nolint:errcheck
	for {
		t, data, err := rtRead(conn)
		if err != nil {
			return nil, err
		}
		if t == typ {
			return data, nil
		}
		if t == "error" {
			return nil, fmt.Errorf("%s", data)
		}
	}
}
