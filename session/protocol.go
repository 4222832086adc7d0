package session

import "encoding/json"

// WebSocket protocol v1 (docs/protocol.md). Binary frames carry audio: client → server 16-bit
// mono PCM at the session's input rate, server → client the reply at 24 kHz. Text frames carry
// these JSON messages.

// Subprotocol is the WebSocket subprotocol of protocol v1.
const Subprotocol = "aitutor.v1"

// MaxFrameBytes is the largest frame a client may send.
const MaxFrameBytes = 64 << 10

// Client → server message types.
const (
	TypeSessionUpdate    = "session.update"
	TypeInputCommit      = "input.commit"
	TypeInputClear       = "input.clear"
	TypeTextInput        = "text.input"
	TypeResponseCancel   = "response.cancel"
	TypeResponseTruncate = "response.truncate"
)

// Server → client message types.
const (
	TypeSessionCreated    = "session.created"
	TypeSessionUpdated    = "session.updated"
	TypeSpeechStarted     = "speech.started"
	TypeSpeechStopped     = "speech.stopped"
	TypeSpeechPaused      = "speech.paused"  // a pause is being judged (endofturn.go)
	TypeSpeechResumed     = "speech.resumed" // the learner went on after a pause
	TypeTranscriptUser    = "transcript.user"
	TypeResponseStarted   = "response.started"
	TypeResponseTextDelta = "response.text.delta"
	TypeResponseDone      = "response.done"
	TypeResponseCancelled = "response.cancelled"
	TypeResponseResumed   = "response.resumed"
	TypeError             = "error"
)

// clientMessage is any client → server text message; fields unused by a type are ignored.
type clientMessage struct {
	Type string `json:"type"`

	// session.update
	InputSampleRate *int    `json:"inputSampleRate"`
	Voice           *string `json:"voice"`
	Level           *string `json:"level"`
	Topic           *string `json:"topic"`
	TurnDetection   *string `json:"turnDetection"`
	SilenceMs       *int    `json:"silenceMs"`
	MinSpeechMs     *int    `json:"minSpeechMs"`
	BargeInMs       *int    `json:"bargeInMs"`
	EndOfTurn       *string `json:"endOfTurn"`

	// text.input
	Text *string `json:"text"`

	// response.truncate
	TurnID     string `json:"turnId"`
	AudioEndMs *int   `json:"audioEndMs"`
}

type sessionCreated struct {
	Type           string `json:"type"`
	SessionID      string `json:"sessionId"`
	ConversationID string `json:"conversationId"`
	// Resumed: the session continues an earlier conversation, whose last Turns turns the tutor
	// remembers.
	Resumed           bool `json:"resumed"`
	Turns             int  `json:"turns"`
	InputSampleRate   int  `json:"inputSampleRate"`
	OutputSampleRate  int  `json:"outputSampleRate"`
	RemainingChatUses *int `json:"remainingChatUses"`
	sessionSettings
}

// sessionSettings are the settings a session.update may change; session.created and
// session.updated report them.
type sessionSettings struct {
	// Instructions are an app's additions to the tutor's instructions (the Realtime endpoint's
	// session.update instructions); they never replace its rules.
	Instructions  string `json:"-"`
	Voice         string `json:"voice"`
	Level         string `json:"level"`
	Topic         string `json:"topic"`
	TurnDetection string `json:"turnDetection"`
	SilenceMs     int    `json:"silenceMs"`
	MinSpeechMs   int    `json:"minSpeechMs"`
	BargeInMs     int    `json:"bargeInMs"`
	// EndOfTurn is how server turn detection ends a turn: "smart" (from the silence and the
	// words, endofturn.go) or "silence" (after silenceMs).
	EndOfTurn string `json:"endOfTurn"`
}

type sessionUpdated struct {
	Type            string `json:"type"`
	InputSampleRate int    `json:"inputSampleRate"`
	sessionSettings
}

// simpleEvent is speech.started or speech.stopped; atMs is where in the learner's audio (since
// the session began) the speech started or ended, for the Realtime wire.
type simpleEvent struct {
	Type string `json:"type"`
	// speech.stopped of server turn detection: what ended the turn (endofturn.go: complete,
	// unfinished, unknown, silence, limit, commit) and the silence heard before it ended.
	EndOfTurn string `json:"endOfTurn,omitempty"`
	SilenceMs *int   `json:"silenceMs,omitempty"`
	atMs      int
}

// turnEvent is response.started; remaining is the membership's chat uses after the charge.
type turnEvent struct {
	Type      string `json:"type"`
	TurnID    string `json:"turnId"`
	remaining *int
}

// transcriptEvent is transcript.user; spoken tells a spoken turn from a typed one.
type transcriptEvent struct {
	Type   string `json:"type"`
	TurnID string `json:"turnId"`
	Text   string `json:"text"`
	spoken bool
}

type deltaEvent struct {
	Type   string `json:"type"`
	TurnID string `json:"turnId"`
	Delta  string `json:"delta"`
}

// Metrics are a turn's latencies in milliseconds, as response.done reports them. Stages that
// did not run (sttMs of a typed turn) are omitted.
type Metrics struct {
	EndpointMs       *float64 `json:"endpointMs,omitempty"`
	STTMs            *float64 `json:"sttMs,omitempty"`
	ChatFirstTokenMs *float64 `json:"chatFirstTokenMs,omitempty"`
	FirstSentenceMs  *float64 `json:"firstSentenceMs,omitempty"`
	TTSFirstByteMs   *float64 `json:"ttsFirstByteMs,omitempty"`
	FirstAudioMs     *float64 `json:"firstAudioMs,omitempty"`
	TotalMs          *float64 `json:"totalMs,omitempty"`
}

type doneEvent struct {
	Type              string  `json:"type"`
	TurnID            string  `json:"turnId"`
	Text              string  `json:"text"`
	RemainingChatUses *int    `json:"remainingChatUses"`
	Metrics           Metrics `json:"metrics"`
	AudioURL          string  `json:"audioUrl,omitempty"`
	UserAudioURL      string  `json:"userAudioUrl,omitempty"`
}

// cancelledEvent: the reply stopped. Refunded says whether its chat use was given back (the
// learner had not heard its first sentence, or a provider failed).
type cancelledEvent struct {
	Type              string `json:"type"`
	TurnID            string `json:"turnId"`
	Reason            string `json:"reason"`
	Refunded          bool   `json:"refunded"`
	RemainingChatUses *int   `json:"remainingChatUses"`
	AudioURL          string `json:"audioUrl,omitempty"`
	UserAudioURL      string `json:"userAudioUrl,omitempty"`
}

// resumedEvent: the learner's speech over the reply held no words, so the reply goes on from
// the start of the sentence it was cut in; OffsetMs is where that is in the reply's audio.
type resumedEvent struct {
	Type     string `json:"type"`
	TurnID   string `json:"turnId"`
	OffsetMs int    `json:"offsetMs"`
}

type errorEvent struct {
	Type    string `json:"type"`
	Code    string `json:"code"`
	Message string `json:"message"`
	Fatal   bool   `json:"fatal"`
	TurnID  string `json:"turnId,omitempty"`
	// Retryable: the same request may succeed later (after RetryAfterMs when given).
	Retryable    bool `json:"retryable,omitempty"`
	RetryAfterMs int  `json:"retryAfterMs,omitempty"`
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err) // only our own event types are marshalled
	}
	return b
}
