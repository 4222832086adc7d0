// Package client speaks WebSocket protocol v1 (docs/protocol.md) as a learner's app would: it
// streams PCM, sends control messages and receives events and reply audio. The tests, the
// load generator (aitutor bench) and the example client use it.
package client

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

// Event is one message from the server: a JSON event (Type set, Raw the whole message) or a
// frame of reply audio (Type "audio", Audio set).
type Event struct {
	Type     string
	Raw      json.RawMessage
	Audio    []byte
	Received time.Time
}

// Decode unmarshals the event's JSON into v.
func (e Event) Decode(v any) error { return json.Unmarshal(e.Raw, v) }

// Field returns a top-level string field of the event.
func (e Event) Field(name string) string {
	var m map[string]any
	json.Unmarshal(e.Raw, &m) //nolint:errcheck
	s, _ := m[name].(string)
	return s
}

// TypeAudio is the Type of reply audio frames.
const TypeAudio = "audio"

// Client is one protocol v1 session.
type Client struct {
	conn    *websocket.Conn
	events  chan Event
	writeMu sync.Mutex
	done    chan struct{}
	err     error // why the read loop ended
	// CloseCode and CloseText are the server's close frame, once the session has ended.
	CloseCode int
	CloseText string
}

// Options for Dial.
type Options struct {
	Token        string
	Browser      bool   // send the token as a subprotocol, as browsers must
	Origin       string // Origin header
	EventsBuffer int    // events kept while nobody reads (default 4096)
	// OnPong is called (on the read goroutine) with the payload of each pong.
	OnPong func(appData string)
	// IgnorePings leaves the server's pings unanswered (a dead client, for keep-alive tests).
	IgnorePings bool
}

// ErrClosed: the session has ended.
var ErrClosed = errors.New("client: session closed")

// Dial opens a session at url (ws://host/api/tutor/ws?membershipId=...). On an HTTP refusal the
// error carries the status and body.
func Dial(ctx context.Context, url string, o Options) (*Client, error) {
	h := http.Header{}
	d := websocket.Dialer{HandshakeTimeout: 10 * time.Second, ReadBufferSize: 4096, WriteBufferSize: 4096}
	if o.Browser {
		d.Subprotocols = []string{"aitutor.v1", "bearer." + o.Token}
	} else if o.Token != "" {
		h.Set("Authorization", "Bearer "+o.Token)
	}
	if o.Origin != "" {
		h.Set("Origin", o.Origin)
	}
	conn, resp, err := d.DialContext(ctx, url, h)
	if err != nil {
		if resp != nil {
			body := make([]byte, 512)
			n, _ := resp.Body.Read(body)
			resp.Body.Close()
			return nil, &HTTPError{Status: resp.StatusCode, Body: string(body[:n])}
		}
		return nil, err
	}
	if o.EventsBuffer <= 0 {
		o.EventsBuffer = 4096
	}
	c := &Client{conn: conn, events: make(chan Event, o.EventsBuffer), done: make(chan struct{})}
	if o.OnPong != nil {
		conn.SetPongHandler(func(appData string) error { o.OnPong(appData); return nil })
	}
	if o.IgnorePings {
		conn.SetPingHandler(func(string) error { return nil })
	}
	go c.readLoop()
	return c, nil
}

// HTTPError is a refused upgrade.
type HTTPError struct {
	Status int
	Body   string
}

func (e *HTTPError) Error() string { return fmt.Sprintf("HTTP %d: %s", e.Status, e.Body) }

func (c *Client) readLoop() {
	defer close(c.done)
	defer close(c.events)
	for {
		mt, data, err := c.conn.ReadMessage()
		if err != nil {
			var ce *websocket.CloseError
			if errors.As(err, &ce) {
				c.CloseCode, c.CloseText = ce.Code, ce.Text
			}
			c.err = err
			return
		}
		ev := Event{Received: time.Now()}
		if mt == websocket.BinaryMessage {
			ev.Type, ev.Audio = TypeAudio, data
		} else {
			ev.Type, ev.Raw = eventType(data), data
		}
		c.events <- ev
	}
}

// eventType reads the type of a server event. The server writes it first, which a fast path
// uses (the load generator reads tens of thousands of events a second); anything else is
// decoded.
func eventType(data []byte) string {
	const prefix = `{"type":"`
	if bytes.HasPrefix(data, []byte(prefix)) {
		if end := bytes.IndexByte(data[len(prefix):], '"'); end >= 0 {
			return string(data[len(prefix) : len(prefix)+end])
		}
	}
	var head struct {
		Type string `json:"type"`
	}
	json.Unmarshal(data, &head) //nolint:errcheck
	return head.Type
}

// Events delivers events in order; it is closed when the session ends.
func (c *Client) Events() <-chan Event { return c.events }

// Done is closed when the session has ended.
func (c *Client) Done() <-chan struct{} { return c.done }

// Err waits for the session to end and says why (the read error; a close frame is one).
func (c *Client) Err() error {
	<-c.done
	return c.err
}

// Next returns the next event, waiting at most timeout.
func (c *Client) Next(timeout time.Duration) (Event, error) {
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case ev, ok := <-c.events:
		if !ok {
			return Event{}, fmt.Errorf("%w (%d %s)", ErrClosed, c.CloseCode, c.CloseText)
		}
		return ev, nil
	case <-t.C:
		return Event{}, fmt.Errorf("client: no event within %v", timeout)
	}
}

// Until returns the events up to and including the first of one of types (audio frames
// included), waiting at most timeout in all.
func (c *Client) Until(timeout time.Duration, types ...string) ([]Event, error) {
	deadline := time.Now().Add(timeout)
	var got []Event
	for {
		ev, err := c.Next(time.Until(deadline))
		if err != nil {
			return got, fmt.Errorf("waiting for %s: %w (got %s)", strings.Join(types, "|"), err, Types(got))
		}
		got = append(got, ev)
		for _, t := range types {
			if ev.Type == t {
				return got, nil
			}
		}
	}
}

// Types lists the types of events, audio frames counted, for messages.
func Types(evs []Event) string {
	var parts []string
	audio := 0
	for _, e := range evs {
		if e.Type == TypeAudio {
			audio++
			continue
		}
		if audio > 0 {
			parts = append(parts, fmt.Sprintf("audio×%d", audio))
			audio = 0
		}
		parts = append(parts, e.Type)
	}
	if audio > 0 {
		parts = append(parts, fmt.Sprintf("audio×%d", audio))
	}
	return strings.Join(parts, " ")
}

// Send sends a JSON message.
func (c *Client) Send(v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return c.write(websocket.TextMessage, data)
}

// SendRaw sends a text frame as is.
func (c *Client) SendRaw(data []byte) error { return c.write(websocket.TextMessage, data) }

// SendAudio sends one frame of PCM bytes.
func (c *Client) SendAudio(pcm []byte) error { return c.write(websocket.BinaryMessage, pcm) }

// SendSamples sends one frame of samples.
func (c *Client) SendSamples(samples []int16) error {
	b := make([]byte, 2*len(samples))
	for i, s := range samples {
		binary.LittleEndian.PutUint16(b[2*i:], uint16(s))
	}
	return c.SendAudio(b)
}

// Stream sends samples at sampleRate in frames of frame duration; with realtime it paces them
// as a microphone would.
func (c *Client) Stream(ctx context.Context, samples []int16, sampleRate int, frame time.Duration, realtime bool) error {
	per := int(frame.Seconds() * float64(sampleRate))
	start := time.Now()
	for off, i := 0, 0; off < len(samples); off, i = off+per, i+1 {
		if realtime {
			due := start.Add(time.Duration(i) * frame)
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(time.Until(due)):
			}
		}
		if err := c.SendSamples(samples[off:min(off+per, len(samples))]); err != nil {
			return err
		}
	}
	return nil
}

// Commit sends input.commit.
func (c *Client) Commit() error { return c.Send(map[string]string{"type": "input.commit"}) }

// Text sends a typed turn.
func (c *Client) Text(text string) error {
	return c.Send(map[string]string{"type": "text.input", "text": text})
}

// Cancel sends response.cancel.
func (c *Client) Cancel() error { return c.Send(map[string]string{"type": "response.cancel"}) }

// Truncate sends response.truncate.
func (c *Client) Truncate(turnID string, audioEndMs int) error {
	return c.Send(map[string]any{"type": "response.truncate", "turnId": turnID, "audioEndMs": audioEndMs})
}

func (c *Client) write(mt int, data []byte) error {
	c.writeMu.Lock()
	defer c.writeMu.Unlock()
	c.conn.SetWriteDeadline(time.Now().Add(10 * time.Second)) //nolint:errcheck
	return c.conn.WriteMessage(mt, data)
}

// Ping sends a ping with payload; the server's reader answers it (see Options.OnPong).
func (c *Client) Ping(payload string) error {
	c.writeMu.Lock()
	defer c.writeMu.Unlock()
	return c.conn.WriteControl(websocket.PingMessage, []byte(payload), time.Now().Add(5*time.Second))
}

// Close ends the session with a normal close and waits briefly for the server's answer.
func (c *Client) Close() error {
	c.writeMu.Lock()
	err := c.conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, "bye"), time.Now().Add(time.Second))
	c.writeMu.Unlock()
	select {
	case <-c.done:
	case <-time.After(2 * time.Second):
	}
	c.conn.Close()
	return err
}

// Abort drops the connection without a close frame.
func (c *Client) Abort() { c.conn.Close() }

// Conn is the underlying connection.
func (c *Client) Conn() *websocket.Conn { return c.conn }
