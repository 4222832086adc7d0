package session

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/gorilla/websocket"
)

// The OpenAI Realtime wire (GET /v1/realtime, docs/realtime.md): the events of the Realtime API's
// GA interface, as the official clients (the openai npm package's realtime/ws, the Agents SDK)
// speak them, over the same session and turn pipeline as protocol v1. The session's events are
// translated into Realtime server events by the writer (realtimeWire.event and .audio keep the
// ids of items and responses); Realtime client events are translated into the session's actions
// by the reader (realtimeWire.read).
//
// What differs from OpenAI's service: the model is always the tutor (instructions are added to
// its persona, never replace it); audio is 24 kHz PCM, or 8 kHz G.711 µ-law / A-law; no tools,
// no text-only responses, no out-of-band responses; a response follows each learner turn
// (conversation.item.create adds the learner's text, response.create answers it); server VAD
// thresholds are those of this server's turn detection.

// RealtimeSubprotocol is the WebSocket subprotocol browsers offer for the Realtime API.
const RealtimeSubprotocol = "realtime"

// realtimeMaxFrame bounds a Realtime client event (base64 audio of a few seconds fits).
const realtimeMaxFrame = 4 << 20

// Audio formats of the Realtime wire.
const (
	rtPCM  = "audio/pcm"  // 24 kHz 16-bit mono
	rtPCMU = "audio/pcmu" // 8 kHz G.711 µ-law
	rtPCMA = "audio/pcma" // 8 kHz G.711 A-law
)

// rtConfig is the Realtime session's configuration, shared by the reader (session.update) and
// the writer (session.created / .updated).
type rtConfig struct {
	mu sync.Mutex
	rtSettings
}

type rtSettings struct {
	model          string
	instructions   string
	inFormat       string
	outFormat      string
	voice          string
	vad            string // server_vad, semantic_vad, or "" (manual commits)
	eagerness      string
	silenceMs      int
	prefixMs       int
	threshold      float64
	createResponse bool
	interrupt      bool
	limit          *int // the membership's chat uses (rate_limits)
}

// realtimeWire speaks the Realtime events.
type realtimeWire struct {
	cfg *rtConfig

	// Writer state.
	events   int64
	lastItem string                    // the newest conversation item
	speaking string                    // the learner item being spoken (speech_started … transcript)
	typed    []string                  // learner text items waiting for their turn
	items    map[string]string         // turn id → learner item id
	resp     *rtResponse               // the response being produced
	down     *Resampler                // 24 kHz → 8 kHz for G.711 output
	known    map[string]map[string]any // the latest items, for conversation.item.retrieve
	order    []string                  // known's ids, oldest first

	// Reader state.
	pendingText []string // learner text items added, not yet answered
	textItems   []string
}

type rtResponse struct {
	id, item, turn string
	transcript     strings.Builder
	audioBytes     int
}

func newRealtimeWire(model string, membershipUses *int) *realtimeWire {
	return &realtimeWire{
		cfg: &rtConfig{rtSettings: rtSettings{
			model: model, inFormat: rtPCM, outFormat: rtPCM, vad: "server_vad", silenceMs: 700,
			prefixMs: int(prerollWindow / time.Millisecond), threshold: 0.5, createResponse: true, interrupt: true,
			limit: membershipUses,
		}},
		items: map[string]string{}, known: map[string]map[string]any{},
	}
}

// maxKnownItems bounds the items a session can retrieve (the newest ones).
const maxKnownItems = 200

// remember keeps item (its newest state) for conversation.item.retrieve.
func (w *realtimeWire) remember(item map[string]any) {
	id, _ := item["id"].(string)
	if id == "" {
		return
	}
	if _, ok := w.known[id]; !ok {
		w.order = append(w.order, id)
		if len(w.order) > maxKnownItems {
			delete(w.known, w.order[0])
			w.order = w.order[1:]
		}
	}
	w.known[id] = item
}

// Internal events the Realtime reader queues: already in the Realtime shape, sent as they are
// with an event id.
type rtRaw map[string]any

// rtTyped announces a learner text item whose turn comes next (its transcript.user maps to it).
type rtTyped struct{ item string }

// rtRetrieve asks for an item (conversation.item.retrieve).
type rtRetrieve struct{ item, eventID string }

// rtHeard sets an assistant item's transcript to what was heard of it (after a truncate).
type rtHeard struct{ item, text string }

func (w *realtimeWire) nextID(prefix string) string {
	w.events++
	return fmt.Sprintf("%s_%s%d", prefix, randomID()[:8], w.events)
}

func (w *realtimeWire) out(ev map[string]any) frame {
	ev["event_id"] = w.nextID("event")
	b, err := json.Marshal(ev)
	if err != nil {
		panic(err) // only our own maps
	}
	return frame{data: b}
}

// session is the Realtime session object of session.created / .updated.
func (w *realtimeWire) session(id string, settings sessionSettings) map[string]any {
	c := w.cfg
	c.mu.Lock()
	defer c.mu.Unlock()
	format := func(f string) map[string]any {
		if f == rtPCM {
			return map[string]any{"type": f, "rate": 24000}
		}
		return map[string]any{"type": f}
	}
	var td any
	switch c.vad {
	case "server_vad":
		td = map[string]any{"type": "server_vad", "threshold": c.threshold, "prefix_padding_ms": c.prefixMs,
			"silence_duration_ms": c.silenceMs, "create_response": c.createResponse, "interrupt_response": c.interrupt, "idle_timeout_ms": nil}
	case "semantic_vad":
		td = map[string]any{"type": "semantic_vad", "eagerness": c.eagerness, "create_response": c.createResponse, "interrupt_response": c.interrupt}
	}
	return map[string]any{
		"type": "realtime", "object": "realtime.session", "id": id, "model": c.model,
		"output_modalities": []string{"audio"}, "instructions": c.instructions, "max_output_tokens": "inf",
		"tool_choice": "auto", "tools": []any{}, "tracing": nil, "truncation": "auto", "prompt": nil,
		"audio": map[string]any{
			"input": map[string]any{
				"format": format(c.inFormat), "turn_detection": td, "noise_reduction": nil,
				"transcription": map[string]any{"model": "whisper-1"},
			},
			"output": map[string]any{"format": format(c.outFormat), "voice": settings.Voice, "speed": 1.0},
		},
		"include": nil,
	}
}

func (w *realtimeWire) rateLimits(remaining *int) frame {
	w.cfg.mu.Lock()
	limit := w.cfg.limit
	w.cfg.mu.Unlock()
	rl := map[string]any{"name": "requests", "reset_seconds": 0}
	if remaining != nil {
		rl["remaining"] = *remaining
		rl["limit"] = *remaining
		if limit != nil {
			rl["limit"] = max(*limit, *remaining)
		}
	} else {
		rl["remaining"], rl["limit"] = math.MaxInt32, math.MaxInt32 // unlimited
	}
	return w.out(map[string]any{"type": "rate_limits.updated", "rate_limits": []any{rl}})
}

func userItem(id, status string, content map[string]any) map[string]any {
	return map[string]any{"id": id, "object": "realtime.item", "type": "message", "role": "user", "status": status, "content": []any{content}}
}

func (w *realtimeWire) assistantItem(status string) map[string]any {
	r := w.resp
	return map[string]any{"id": r.item, "object": "realtime.item", "type": "message", "role": "assistant", "status": status,
		"content": []any{map[string]any{"type": "output_audio", "transcript": r.transcript.String()}}}
}

func (w *realtimeWire) responseObject(status string, details any, usage any, extra map[string]any) map[string]any {
	r := w.resp
	output := []any{}
	if status != "in_progress" {
		itemStatus := "completed"
		if status != "completed" {
			itemStatus = "incomplete"
		}
		output = append(output, w.assistantItem(itemStatus))
	}
	w.cfg.mu.Lock()
	format, voice := w.cfg.outFormat, ""
	w.cfg.mu.Unlock()
	o := map[string]any{
		"id": r.id, "object": "realtime.response", "status": status, "status_details": details, "output": output,
		"conversation_id": "conv_default", "output_modalities": []string{"audio"}, "max_output_tokens": "inf",
		"audio": map[string]any{"output": map[string]any{"format": map[string]any{"type": format}, "voice": voice}},
		"usage": usage, "metadata": nil,
	}
	for k, v := range extra {
		o[k] = v
	}
	return o
}

func (w *realtimeWire) respIDs() map[string]any {
	return map[string]any{"response_id": w.resp.id, "item_id": w.resp.item, "output_index": 0, "content_index": 0}
}

func merge(a map[string]any, b map[string]any) map[string]any {
	for k, v := range b {
		a[k] = v
	}
	return a
}

// finishResponse ends the response being produced with status.
func (w *realtimeWire) finishResponse(status string, details any, remaining *int, extra map[string]any) []frame {
	r := w.resp
	if r == nil {
		return nil
	}
	itemStatus := "completed"
	if status != "completed" {
		itemStatus = "incomplete"
	}
	transcript := r.transcript.String()
	words := len(strings.Fields(transcript))
	usage := map[string]any{ // estimates: the chat model streams no token counts here
		"total_tokens": words*4/3 + 1, "input_tokens": 0, "output_tokens": words*4/3 + 1,
		"input_token_details":  map[string]any{"text_tokens": 0, "audio_tokens": 0, "cached_tokens": 0},
		"output_token_details": map[string]any{"text_tokens": words*4/3 + 1, "audio_tokens": r.audioBytes / 960},
	}
	fs := []frame{
		w.out(merge(map[string]any{"type": "response.output_audio.done"}, w.respIDs())),
		w.out(merge(map[string]any{"type": "response.output_audio_transcript.done", "transcript": transcript}, w.respIDs())),
		w.out(merge(map[string]any{"type": "response.content_part.done", "part": map[string]any{"type": "audio", "transcript": transcript}}, w.respIDs())),
		w.out(map[string]any{"type": "response.output_item.done", "response_id": r.id, "output_index": 0, "item": w.assistantItem(itemStatus)}),
		w.out(map[string]any{"type": "conversation.item.done", "previous_item_id": nil, "item": w.assistantItem(itemStatus)}),
		w.out(map[string]any{"type": "response.done", "response": w.responseObject(status, details, usage, extra)}),
		w.rateLimits(remaining),
	}
	w.remember(w.assistantItem(itemStatus))
	w.resp = nil
	return fs
}

// event translates a session event into Realtime server events.
func (w *realtimeWire) event(ev any) []frame {
	switch e := ev.(type) {
	case sessionCreated:
		sess := w.session(e.SessionID, e.sessionSettings)
		// Ours: the conversation, to continue it later with ?conversationId=.
		sess["aitutor"] = map[string]any{"conversationId": e.ConversationID, "resumed": e.Resumed, "turns": e.Turns,
			"remainingChatUses": e.RemainingChatUses}
		return []frame{w.out(map[string]any{"type": "session.created", "session": sess}),
			w.rateLimits(e.RemainingChatUses)}
	case sessionUpdated:
		return []frame{w.out(map[string]any{"type": "session.updated", "session": w.session("", e.sessionSettings)})}
	case rtRaw:
		if item, ok := e["item"].(map[string]any); ok && e["type"] == "conversation.item.done" {
			w.remember(item)
		}
		return []frame{w.out(e)}
	case rtRetrieve:
		item, ok := w.known[e.item]
		if !ok {
			return []frame{w.out(map[string]any{"type": "error", "error": rtError("item_not_found",
				"no item "+truncateString(e.item, 40)+" in this session", "item_id", e.eventID)})}
		}
		return []frame{w.out(map[string]any{"type": "conversation.item.retrieved", "item": item})}
	case rtHeard:
		if item, ok := w.known[e.item]; ok {
			if content, ok := item["content"].([]any); ok && len(content) == 1 {
				part := merge(map[string]any{}, content[0].(map[string]any))
				part["transcript"] = e.text
				w.known[e.item] = merge(merge(map[string]any{}, item), map[string]any{"content": []any{part}})
			}
		}
		return nil
	case rtTyped:
		w.typed = append(w.typed, e.item)
		return nil
	case simpleEvent:
		switch e.Type {
		case TypeSpeechStarted:
			w.speaking = w.nextID("item")
			return []frame{w.out(map[string]any{"type": "input_audio_buffer.speech_started", "audio_start_ms": e.atMs, "item_id": w.speaking})}
		case TypeSpeechStopped:
			if w.speaking == "" {
				w.speaking = w.nextID("item")
			}
			prev := w.lastItem
			w.lastItem = w.speaking
			w.remember(userItem(w.speaking, "in_progress", map[string]any{"type": "input_audio", "transcript": nil}))
			return []frame{
				w.out(map[string]any{"type": "input_audio_buffer.speech_stopped", "audio_end_ms": e.atMs, "item_id": w.speaking}),
				w.out(map[string]any{"type": "input_audio_buffer.committed", "previous_item_id": nilIfEmpty(prev), "item_id": w.speaking}),
				w.out(map[string]any{"type": "conversation.item.added", "previous_item_id": nilIfEmpty(prev),
					"item": userItem(w.speaking, "in_progress", map[string]any{"type": "input_audio", "transcript": nil})}),
			}
		}
	case transcriptEvent:
		if !e.spoken {
			if len(w.typed) > 0 {
				w.items[e.TurnID], w.typed = w.typed[0], w.typed[1:]
			}
			return nil
		}
		item := w.speaking
		if item == "" {
			item = w.nextID("item")
		}
		w.speaking = ""
		w.items[e.TurnID] = item
		w.remember(userItem(item, "completed", map[string]any{"type": "input_audio", "transcript": e.Text}))
		return []frame{
			w.out(map[string]any{"type": "conversation.item.input_audio_transcription.completed", "item_id": item, "content_index": 0,
				"transcript": e.Text, "usage": map[string]any{"type": "duration", "seconds": 0}}),
			w.out(map[string]any{"type": "conversation.item.done", "previous_item_id": nil,
				"item": userItem(item, "completed", map[string]any{"type": "input_audio", "transcript": e.Text})}),
		}
	case turnEvent: // response.started: the use is charged
		w.resp = &rtResponse{id: "resp_" + strings.TrimPrefix(e.TurnID, "turn_"), item: "item_" + strings.TrimPrefix(e.TurnID, "turn_"), turn: e.TurnID}
		w.down = nil
		prev := w.lastItem
		w.lastItem = w.resp.item
		item := w.assistantItem("in_progress")
		item["content"] = []any{}
		w.remember(item)
		return []frame{
			w.out(map[string]any{"type": "response.created", "response": w.responseObject("in_progress", nil, nil, nil)}),
			w.rateLimits(e.remaining),
			w.out(map[string]any{"type": "response.output_item.added", "response_id": w.resp.id, "output_index": 0, "item": item}),
			w.out(map[string]any{"type": "conversation.item.added", "previous_item_id": nilIfEmpty(prev), "item": item}),
			w.out(merge(map[string]any{"type": "response.content_part.added", "part": map[string]any{"type": "audio", "transcript": ""}}, w.respIDs())),
		}
	case deltaEvent:
		if w.resp == nil {
			return nil
		}
		w.resp.transcript.WriteString(e.Delta)
		return []frame{w.out(merge(map[string]any{"type": "response.output_audio_transcript.delta", "delta": e.Delta}, w.respIDs()))}
	case resumedEvent:
		return nil // the response's audio goes on
	case doneEvent:
		if w.resp == nil {
			return nil
		}
		return w.finishResponse("completed", map[string]any{"type": "completed"}, e.RemainingChatUses,
			map[string]any{"aitutor": map[string]any{"turnId": e.TurnID, "metrics": e.Metrics, "remainingChatUses": e.RemainingChatUses,
				"audioUrl": e.AudioURL, "userAudioUrl": e.UserAudioURL}})
	case cancelledEvent:
		if w.resp == nil {
			return nil
		}
		details := map[string]any{"type": "cancelled", "reason": "turn_detected"}
		status := "cancelled"
		switch e.Reason {
		case ReasonClientCancel:
			details["reason"] = "client_cancelled"
		case ReasonError:
			status = "failed"
			details = map[string]any{"type": "failed", "error": map[string]any{"type": "server_error", "code": "provider_error"}}
		}
		return w.finishResponse(status, details, e.RemainingChatUses,
			map[string]any{"aitutor": map[string]any{"turnId": e.TurnID, "refunded": e.Refunded, "remainingChatUses": e.RemainingChatUses}})
	case errorEvent:
		var fs []frame
		if e.Code == "no_speech" && w.speaking != "" {
			item := w.speaking
			w.speaking = ""
			fs = append(fs, w.out(map[string]any{"type": "conversation.item.input_audio_transcription.completed", "item_id": item,
				"content_index": 0, "transcript": "", "usage": map[string]any{"type": "duration", "seconds": 0}}))
		}
		return append(fs, w.out(map[string]any{"type": "error", "error": rtError(e.Code, e.Message, "", "")}))
	case rtErrorEvent:
		return []frame{w.out(map[string]any{"type": "error", "error": rtError(e.code, e.message, e.param, e.eventID)})}
	}
	return nil
}

// rtErrorEvent is an error about one client event.
type rtErrorEvent struct {
	code, message, param, eventID string
}

// rtError is a Realtime error object; the type follows OpenAI's (invalid_request_error for what
// the client can fix, server_error for the rest).
func rtError(code, message, param, eventID string) map[string]any {
	typ := "invalid_request_error"
	switch code {
	case "provider_error", "provider_timeout", "internal", "unavailable", "shutting_down":
		typ = "server_error"
	case "quota_exhausted", "membership_expired", "membership_revoked":
		typ = "insufficient_quota"
	}
	return map[string]any{"type": typ, "code": code, "message": message, "param": nilIfEmpty(param), "event_id": nilIfEmpty(eventID)}
}

func nilIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// audio translates a chunk of reply audio into response.output_audio.delta (G.711 at 8 kHz
// when the session asked for it).
func (w *realtimeWire) audio(t *turn, pcm []byte) []frame {
	if w.resp == nil || w.resp.turn != t.id {
		return nil // a reply whose response was not announced (it cannot happen in order)
	}
	w.resp.audioBytes += len(pcm)
	w.cfg.mu.Lock()
	format := w.cfg.outFormat
	w.cfg.mu.Unlock()
	data := pcm
	if format != rtPCM {
		if w.down == nil {
			w.down = NewResampler(OutputSampleRate, 8000)
		}
		samples := w.down.Resample(nil, DecodePCM16(nil, pcm))
		data = encodeG711(make([]byte, 0, len(samples)), samples, format == rtPCMU)
	}
	return []frame{w.out(merge(map[string]any{"type": "response.output_audio.delta", "delta": base64.StdEncoding.EncodeToString(data)}, w.respIDs()))}
}

// rtClientEvent is any Realtime client event; fields unused by a type are ignored.
type rtClientEvent struct {
	Type       string          `json:"type"`
	EventID    string          `json:"event_id"`
	Session    json.RawMessage `json:"session"`
	Audio      string          `json:"audio"`
	Item       *rtItem         `json:"item"`
	ItemID     string          `json:"item_id"`
	AudioEndMs *int            `json:"audio_end_ms"`
	Response   json.RawMessage `json:"response"`
}

type rtItem struct {
	ID      string `json:"id"`
	Type    string `json:"type"`
	Role    string `json:"role"`
	Content []struct {
		Type string `json:"type"`
		Text string `json:"text"`
	} `json:"content"`
}

// read handles one Realtime client event. Unknown and unsupported events get an error event;
// the connection stays.
func (w *realtimeWire) read(s *Session, mt int, r io.Reader) error {
	data, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	if mt == websocket.BinaryMessage {
		s.send(rtErrorEvent{code: "invalid_event", message: "Realtime events are JSON text frames; send audio with input_audio_buffer.append"})
		return nil
	}
	var e rtClientEvent
	if err := json.Unmarshal(data, &e); err != nil {
		s.send(rtErrorEvent{code: "invalid_json", message: "the event is not a JSON object: " + err.Error()})
		return nil
	}
	fail := func(code, param, format string, args ...any) {
		s.send(rtErrorEvent{code: code, message: fmt.Sprintf(format, args...), param: param, eventID: e.EventID})
	}
	switch e.Type {
	case "session.update":
		s.touch()
		w.update(s, e, fail)
	case "input_audio_buffer.append":
		raw, err := base64.StdEncoding.DecodeString(e.Audio)
		if err != nil {
			fail("invalid_value", "audio", "audio must be base64: %v", err)
			return nil
		}
		w.cfg.mu.Lock()
		format := w.cfg.inFormat
		w.cfg.mu.Unlock()
		samples := s.samples[:0]
		if format == rtPCM {
			if len(raw)%2 != 0 {
				fail("invalid_value", "audio", "audio/pcm holds whole 16-bit samples (an even number of bytes)")
				return nil
			}
			samples = DecodePCM16(samples, raw)
		} else {
			samples = decodeG711(samples, raw, format == rtPCMU)
		}
		s.samples = samples
		in := samples
		if s.inputRate != DetectorRate {
			s.resampled = s.resampler.Resample(s.resampled[:0], in)
			in = s.resampled
		}
		s.onSamples(in)
		s.tutor.metrics.frames.Inc()
	case "input_audio_buffer.commit":
		s.touch()
		manual := s.turnDetection() == manualTurns
		if (manual && s.detector.VoicedMs() < int(s.detector.Config().MinSpeech/time.Millisecond)) || (!manual && !s.detector.Speaking()) {
			fail("input_audio_buffer_commit_empty", "", "the buffer holds no speech to commit")
			if manual {
				s.clearInput()
			}
			return nil
		}
		if manual {
			// Protocol v1's commit says nothing in manual mode; the Realtime events say it was
			// committed, through the speech-stopped translation.
			s.send(simpleEvent{Type: TypeSpeechStopped, atMs: s.inputMs(s.detector.Pos())})
		}
		s.commit("")
	case "input_audio_buffer.clear":
		s.touch()
		s.clearInput()
		s.held = nil
		s.send(rtRaw{"type": "input_audio_buffer.cleared"})
	case "conversation.item.create":
		s.touch()
		text, ok := "", e.Item != nil && e.Item.Type == "message" && e.Item.Role == "user"
		if ok {
			for _, c := range e.Item.Content {
				if c.Type == "input_text" || c.Type == "text" {
					text += c.Text
				}
			}
		}
		text = strings.TrimSpace(text)
		if !ok || text == "" || utf8.RuneCountInString(text) > maxTextLen {
			fail("invalid_value", "item", "only user messages with input_text content (1 to %d characters) can be added", maxTextLen)
			return nil
		}
		id := e.Item.ID
		if id == "" {
			id = "item_" + randomID()[:12]
		}
		w.pendingText = append(w.pendingText, text)
		w.textItems = append(w.textItems, id)
		item := userItem(id, "completed", map[string]any{"type": "input_text", "text": text})
		s.send(rtRaw{"type": "conversation.item.added", "previous_item_id": nil, "item": item})
		s.send(rtRaw{"type": "conversation.item.done", "previous_item_id": nil, "item": item})
	case "response.create":
		s.touch()
		switch {
		case len(w.pendingText) > 0:
			text := strings.Join(w.pendingText, "\n")
			s.send(rtTyped{item: w.textItems[len(w.textItems)-1]})
			w.pendingText, w.textItems = nil, nil
			s.startTextTurn(text)
		case len(s.held) > 0:
			audio := s.held
			s.held = nil
			hold := s.holdTurns
			s.holdTurns = false
			s.startAudioTurn(audio, time.Now(), nil)
			s.holdTurns = hold
		default:
			if t := s.currentTurn(); t == nil || t.finished() {
				fail("invalid_request", "", "nothing to respond to: add the learner's words first (speech, or conversation.item.create)")
			}
			// Otherwise the learner's committed speech is being answered already.
		}
	case "response.cancel":
		s.touch()
		s.cancelCurrent(ReasonClientCancel)
	case "conversation.item.truncate":
		s.touch()
		if e.ItemID == "" || e.AudioEndMs == nil || *e.AudioEndMs < 0 {
			fail("invalid_value", "audio_end_ms", "conversation.item.truncate needs item_id and audio_end_ms ≥ 0")
			return nil
		}
		turnID := "turn_" + strings.TrimPrefix(e.ItemID, "item_")
		if !strings.HasPrefix(e.ItemID, "item_") || !s.truncate(turnID, *e.AudioEndMs) {
			fail("invalid_value", "item_id", "no assistant item %s in this session", truncateString(e.ItemID, 40))
			return nil
		}
		if text, ok := s.assistantText(turnID); ok {
			s.send(rtHeard{item: e.ItemID, text: text})
		}
		s.send(rtRaw{"type": "conversation.item.truncated", "item_id": e.ItemID, "content_index": 0, "audio_end_ms": *e.AudioEndMs})
	case "conversation.item.retrieve":
		if e.ItemID == "" {
			fail("invalid_value", "item_id", "conversation.item.retrieve needs item_id")
			return nil
		}
		s.send(rtRetrieve{item: e.ItemID, eventID: e.EventID})
	case "":
		fail("invalid_request", "type", "the event has no type")
	case "conversation.item.delete", "output_audio_buffer.clear":
		fail("unsupported_event", "type", "%s is not supported by this tutor", e.Type)
	default:
		fail("unknown_event", "type", "unknown event type %q", truncateString(e.Type, 60))
	}
	return nil
}

// rtSessionUpdate is the part of session.update that the tutor uses.
type rtSessionUpdate struct {
	Type         string  `json:"type"`
	Instructions *string `json:"instructions"`
	Audio        *struct {
		Input *struct {
			Format        *rtFormat       `json:"format"`
			TurnDetection json.RawMessage `json:"turn_detection"`
		} `json:"input"`
		Output *struct {
			Format *rtFormat `json:"format"`
			Voice  *string   `json:"voice"`
		} `json:"output"`
	} `json:"audio"`
}

type rtFormat struct {
	Type string `json:"type"`
	Rate int    `json:"rate"`
}

type rtTurnDetection struct {
	Type              string   `json:"type"`
	Threshold         *float64 `json:"threshold"`
	PrefixPaddingMs   *int     `json:"prefix_padding_ms"`
	SilenceDurationMs *int     `json:"silence_duration_ms"`
	CreateResponse    *bool    `json:"create_response"`
	InterruptResponse *bool    `json:"interrupt_response"`
	Eagerness         string   `json:"eagerness"`
}

// update applies session.update; an invalid field rejects the whole update.
func (w *realtimeWire) update(s *Session, e rtClientEvent, fail func(code, param, format string, args ...any)) {
	var u rtSessionUpdate
	if err := json.Unmarshal(e.Session, &u); err != nil || len(e.Session) == 0 {
		fail("invalid_value", "session", "session.update needs a session object")
		return
	}
	if u.Type != "" && u.Type != "realtime" {
		fail("invalid_value", "session.type", "only realtime sessions are supported (not %q)", u.Type)
		return
	}
	c := w.cfg
	c.mu.Lock()
	next := c.rtSettings
	c.mu.Unlock()
	settings := s.settingsSnapshot()
	if u.Instructions != nil {
		if utf8.RuneCountInString(*u.Instructions) > 4000 {
			fail("invalid_value", "session.instructions", "instructions are at most 4000 characters")
			return
		}
		next.instructions = strings.TrimSpace(*u.Instructions)
	}
	checkFormat := func(f *rtFormat, param string, dst *string) bool {
		if f == nil {
			return true
		}
		switch {
		case f.Type == rtPCM && (f.Rate == 0 || f.Rate == 24000):
		case f.Type == rtPCMU || f.Type == rtPCMA:
		default:
			fail("invalid_value", param, "formats are audio/pcm at 24000 Hz, audio/pcmu or audio/pcma")
			return false
		}
		*dst = f.Type
		return true
	}
	if a := u.Audio; a != nil {
		if in := a.Input; in != nil {
			if !checkFormat(in.Format, "session.audio.input.format", &next.inFormat) {
				return
			}
			if len(in.TurnDetection) > 0 {
				if string(in.TurnDetection) == "null" {
					next.vad = ""
				} else {
					var td rtTurnDetection
					if err := json.Unmarshal(in.TurnDetection, &td); err != nil {
						fail("invalid_value", "session.audio.input.turn_detection", "turn_detection: %v", err)
						return
					}
					switch td.Type {
					case "server_vad":
						next.vad = "server_vad"
						if v := td.SilenceDurationMs; v != nil {
							if *v < 200 || *v > 5000 {
								fail("invalid_value", "session.audio.input.turn_detection.silence_duration_ms", "silence_duration_ms must be from 200 to 5000")
								return
							}
							next.silenceMs = *v
						}
						if v := td.PrefixPaddingMs; v != nil {
							next.prefixMs = *v
						}
						if v := td.Threshold; v != nil {
							if *v < 0 || *v > 1 {
								fail("invalid_value", "session.audio.input.turn_detection.threshold", "threshold must be from 0 to 1")
								return
							}
							next.threshold = *v
						}
					case "semantic_vad":
						// Mapped to the server's turn detection: eagerness sets the silence.
						next.vad, next.eagerness = "semantic_vad", td.Eagerness
						next.silenceMs = map[string]int{"low": 1200, "high": 400}[td.Eagerness]
						if next.silenceMs == 0 {
							next.silenceMs = 700
						}
					default:
						fail("invalid_value", "session.audio.input.turn_detection.type", "turn_detection type must be server_vad or semantic_vad (or null)")
						return
					}
					if td.CreateResponse != nil {
						next.createResponse = *td.CreateResponse
					}
					if td.InterruptResponse != nil {
						next.interrupt = *td.InterruptResponse
					}
				}
			}
		}
		if out := a.Output; out != nil {
			if !checkFormat(out.Format, "session.audio.output.format", &next.outFormat) {
				return
			}
			if out.Voice != nil {
				if !voiceRe.MatchString(*out.Voice) {
					fail("invalid_value", "session.audio.output.voice", "voice must be a voice name such as nova")
					return
				}
				settings.Voice = *out.Voice
			}
		}
	}
	// Apply: the session's settings and turn detection, the input rate.
	settings.Instructions = next.instructions
	settings.TurnDetection = serverTurns
	if next.vad == "" {
		settings.TurnDetection = manualTurns
	}
	settings.SilenceMs = next.silenceMs
	rate := 24000
	if next.inFormat != rtPCM {
		rate = 8000
	}
	if rate != s.inputRate {
		s.inputRate = rate
		s.resampler = NewResampler(rate, DetectorRate)
		s.clearInput()
	}
	// server_vad ends a turn after its silence, as OpenAI's does; semantic_vad decides from the
	// silence and the words (endofturn.go).
	settings.EndOfTurn = endOfTurnSilence
	if next.vad == "semantic_vad" {
		settings.EndOfTurn = endOfTurnSmart
	}
	s.configureDetector(settings)
	// Without turn detection, or without create_response, committed speech waits for
	// response.create, as the Realtime API does.
	s.holdTurns, s.noBargeIn = next.vad == "" || !next.createResponse, !next.interrupt
	s.mu.Lock()
	modeChanged := settings.TurnDetection != s.settings.TurnDetection
	s.settings = settings
	s.mu.Unlock()
	if modeChanged {
		s.clearInput()
	}
	c.mu.Lock()
	c.rtSettings = next
	c.mu.Unlock()
	s.send(sessionUpdated{Type: TypeSessionUpdated, InputSampleRate: rate, sessionSettings: settings})
}
