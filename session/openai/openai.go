// Package openai implements the session providers with github.com/sashabaranov/go-openai
// against any OpenAI-compatible server: Whisper transcription, streamed chat completions and
// streamed PCM speech. Calls are retried only where a retry is safe: before any of the answer
// has been seen, on network errors, 429 and 5xx.
package openai

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"

	goopenai "github.com/sashabaranov/go-openai"

	"github.com/aitutor/aitutor/session"
)

// Config configures the providers.
type Config struct {
	APIKey    string
	BaseURL   string // e.g. https://api.openai.com/v1; empty is OpenAI
	ChatModel string
	STTModel  string
	TTSModel  string
	// HTTPClient is used for every call; nil gets a pooled client suited to many sessions.
	HTTPClient *http.Client
	// Attempts is how many times a retryable call is tried (default 3).
	Attempts int
}

// Client is the OpenAI-compatible provider of transcription, chat and speech.
type Client struct {
	api      *goopenai.Client
	cfg      Config
	attempts int
}

// New returns the providers for cfg.
func New(cfg Config) *Client {
	oc := goopenai.DefaultConfig(cfg.APIKey)
	if cfg.BaseURL != "" {
		oc.BaseURL = strings.TrimRight(cfg.BaseURL, "/")
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = NewHTTPClient()
	}
	oc.HTTPClient = cfg.HTTPClient
	attempts := cfg.Attempts
	if attempts <= 0 {
		attempts = 3
	}
	return &Client{api: goopenai.NewClientWithConfig(oc), cfg: cfg, attempts: attempts}
}

// Providers returns the three session providers backed by c.
func (c *Client) Providers(name string) session.Providers {
	return session.Providers{Name: name, STT: c, Chat: c, TTS: c, Review: c}
}

// NewHTTPClient returns an HTTP client whose pool keeps connections to the provider open for
// many concurrent sessions. Timeouts come from each call's context.
func NewHTTPClient() *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConns = 1024
	t.MaxIdleConnsPerHost = 512
	t.IdleConnTimeout = 90 * time.Second
	t.DialContext = (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext
	t.TLSHandshakeTimeout = 10 * time.Second
	return &http.Client{Transport: t}
}

// Transcribe sends the audio to the transcription endpoint (raw PCM is sent as WAV).
func (c *Client) Transcribe(ctx context.Context, a session.Audio) (string, error) {
	data, name := a.Data, "audio."+a.Format
	if a.Format == session.FormatPCM16 {
		data, name = session.WAV(a.Data, a.SampleRate), "audio.wav"
	}
	var text string
	err := c.retry(ctx, func() error {
		resp, err := c.api.CreateTranscription(ctx, goopenai.AudioRequest{
			Model:    c.cfg.STTModel,
			FilePath: name,
			Reader:   bytes.NewReader(data),
			Language: "en",
			Format:   goopenai.AudioResponseFormatJSON,
		})
		text = resp.Text
		return err
	})
	if err != nil {
		if isStatus(err, http.StatusBadRequest) && strings.Contains(strings.ToLower(err.Error()), "format") {
			return "", fmt.Errorf("%w: %v", session.ErrUnsupportedAudio, err)
		}
		return "", wrap("transcription", err)
	}
	return text, nil
}

// StreamChat starts a streamed chat completion.
func (c *Client) StreamChat(ctx context.Context, req session.ChatRequest) (session.ChatStream, error) {
	msgs := make([]goopenai.ChatCompletionMessage, len(req.Messages))
	for i, m := range req.Messages {
		msgs[i] = goopenai.ChatCompletionMessage{Role: m.Role, Content: m.Content}
	}
	var stream *goopenai.ChatCompletionStream
	err := c.retry(ctx, func() error {
		var err error
		stream, err = c.api.CreateChatCompletionStream(ctx, goopenai.ChatCompletionRequest{
			Model:               c.cfg.ChatModel,
			Messages:            msgs,
			MaxCompletionTokens: req.MaxTokens,
			Temperature:         0.7,
			Stream:              true,
		})
		return err
	})
	if err != nil {
		return nil, wrap("chat", err)
	}
	return chatStream{stream}, nil
}

type chatStream struct {
	s *goopenai.ChatCompletionStream
}

func (s chatStream) Recv() (string, error) {
	for {
		resp, err := s.s.Recv()
		if err != nil {
			if errors.Is(err, io.EOF) {
				return "", io.EOF
			}
			return "", wrap("chat stream", err)
		}
		if len(resp.Choices) == 0 { // usage or keep-alive chunks
			continue
		}
		return resp.Choices[0].Delta.Content, nil
	}
}

func (s chatStream) Close() error { return s.s.Close() }

// Synthesize requests speech as raw 24 kHz PCM and returns the body as it streams in.
func (c *Client) Synthesize(ctx context.Context, text, voice string) (io.ReadCloser, error) {
	var body io.ReadCloser
	err := c.retry(ctx, func() error {
		resp, err := c.api.CreateSpeech(ctx, goopenai.CreateSpeechRequest{
			Model:          goopenai.SpeechModel(c.cfg.TTSModel),
			Input:          text,
			Voice:          goopenai.SpeechVoice(voice),
			ResponseFormat: goopenai.SpeechResponseFormatPcm,
		})
		body = resp.ReadCloser
		return err
	})
	if err != nil {
		return nil, wrap("speech", err)
	}
	return body, nil
}

// retry runs call until it succeeds, fails for good, or the attempts or ctx run out.
func (c *Client) retry(ctx context.Context, call func() error) error {
	backoff := 150 * time.Millisecond
	var err error
	for attempt := 1; ; attempt++ {
		if err = call(); err == nil || attempt >= c.attempts || !retryable(ctx, err) {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(backoff):
		}
		backoff *= 3
	}
}

// retryable: network failures, 408, 409, 429 and 5xx, unless the caller gave up.
func retryable(ctx context.Context, err error) bool {
	if ctx.Err() != nil {
		return false
	}
	var apiErr *goopenai.APIError
	var reqErr *goopenai.RequestError
	var status int
	switch {
	case errors.As(err, &apiErr):
		status = apiErr.HTTPStatusCode
	case errors.As(err, &reqErr):
		status = reqErr.HTTPStatusCode
	default:
		var ne net.Error
		return errors.As(err, &ne) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF)
	}
	return status == http.StatusRequestTimeout || status == http.StatusConflict ||
		status == http.StatusTooManyRequests || status >= 500
}

func isStatus(err error, status int) bool {
	var apiErr *goopenai.APIError
	var reqErr *goopenai.RequestError
	return (errors.As(err, &apiErr) && apiErr.HTTPStatusCode == status) ||
		(errors.As(err, &reqErr) && reqErr.HTTPStatusCode == status)
}

// wrap marks provider failures for the session (a cancelled context stays a cancellation).
func wrap(stage string, err error) error {
	switch {
	case errors.Is(err, context.Canceled):
		return err
	case errors.Is(err, context.DeadlineExceeded):
		return fmt.Errorf("%w: %s: %v", session.ErrProviderTimeout, stage, err)
	}
	return fmt.Errorf("%w: %s: %v", session.ErrProvider, stage, err)
}
