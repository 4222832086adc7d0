package session

import (
	"context"
	"io"
)

// The speech and chat providers. session/openai implements them with go-openai against any
// OpenAI-compatible server, session/offline with espeak-ng, pocketsphinx and a scripted tutor.

// Audio formats.
const (
	FormatPCM16 = "pcm16" // raw little-endian signed 16-bit mono samples at Audio.SampleRate
	FormatWAV   = "wav"
)

// Audio is a clip to transcribe: raw PCM or an encoded file (wav, webm, ogg, mp3, m4a, ...).
type Audio struct {
	Data       []byte
	Format     string
	SampleRate int // for FormatPCM16
}

// Transcriber turns speech into text (Whisper, pocketsphinx).
type Transcriber interface {
	Transcribe(ctx context.Context, a Audio) (string, error)
}

// Chat roles.
const (
	RoleSystem    = "system"
	RoleUser      = "user"
	RoleAssistant = "assistant"
)

// ChatMessage is one message of a chat request.
type ChatMessage struct {
	Role    string
	Content string
}

// ChatRequest is the conversation so far: the system prompt, the history, then the learner's
// turn.
type ChatRequest struct {
	Messages  []ChatMessage
	MaxTokens int
}

// ChatStream yields the reply as it is generated.
type ChatStream interface {
	// Recv returns the next piece of text, or io.EOF after the last one.
	Recv() (string, error)
	Close() error
}

// Chatter streams a chat completion.
type Chatter interface {
	StreamChat(ctx context.Context, req ChatRequest) (ChatStream, error)
}

// OutputSampleRate is the sample rate of synthesized speech: 16-bit mono PCM at 24 kHz.
const OutputSampleRate = 24000

// Synthesizer turns text into speech.
type Synthesizer interface {
	// Synthesize returns the speech of text as little-endian 16-bit mono PCM at
	// OutputSampleRate, streamed as it is produced. Closing it cancels the synthesis.
	Synthesize(ctx context.Context, text, voice string) (io.ReadCloser, error)
}

// Providers are the three engines of a turn, and the reviewer of conversations.
type Providers struct {
	Name   string // for logs: openai, offline, sim
	STT    Transcriber
	Chat   Chatter
	TTS    Synthesizer
	Review Reviewer // nil: reviews are not offered
}
