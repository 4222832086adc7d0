// Package openaisim is an OpenAI-compatible HTTP server with set latencies, for tests,
// benchmarks and demos: /v1/audio/transcriptions, /v1/chat/completions (with stream: true
// server-sent events) and /v1/audio/speech (pcm and wav; mp3 and other encodings are refused
// with a clear error). It records what it was asked, and can be told to fail.
package openaisim

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"mime"
	"net"
	"net/http"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aitutor/aitutor/session"
)

// Profile is a set of latencies.
type Profile struct {
	Name string
	// STT is the time to answer a transcription.
	STT time.Duration
	// ChatFirstToken is the time to the first token; ChatPerToken the time between tokens.
	ChatFirstToken, ChatPerToken time.Duration
	// TTSFirstByte is the time to the first audio byte; then audio is paced at TTSSpeed times
	// real time (0: as fast as possible).
	TTSFirstByte time.Duration
	TTSSpeed     float64
}

// Profiles by name. "standard" is the benchmark profile of docs/BENCHMARKS.md.
var Profiles = map[string]Profile{
	"standard": {Name: "standard", STT: 300 * time.Millisecond, ChatFirstToken: 350 * time.Millisecond,
		ChatPerToken: 15 * time.Millisecond, TTSFirstByte: 200 * time.Millisecond, TTSSpeed: 4},
	"fast": {Name: "fast", STT: 20 * time.Millisecond, ChatFirstToken: 30 * time.Millisecond,
		ChatPerToken: 2 * time.Millisecond, TTSFirstByte: 20 * time.Millisecond, TTSSpeed: 20},
	"instant": {Name: "instant"},
}

// ProfileNames lists the profiles, sorted.
func ProfileNames() []string {
	names := make([]string, 0, len(Profiles))
	for n := range Profiles {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Speech sample rate of pcm output, as OpenAI's.
const SampleRate = 24000

// CharsPerSecond is how fast the simulated voice speaks (about 150 words a minute).
const CharsPerSecond = 14.0

// Message is a chat message as the simulator received it.
type Message struct {
	Role    string `json:"role"`
	Content string `json:"content"`
}

// ChatRequest is a recorded chat completion request.
type ChatRequest struct {
	Model          string          `json:"model"`
	Messages       []Message       `json:"messages"`
	Stream         bool            `json:"stream"`
	MaxTokens      int             `json:"max_completion_tokens"`
	ResponseFormat *ResponseFormat `json:"response_format,omitempty"`
}

// ResponseFormat is a chat request's structured output: {"type":"json_schema","json_schema":{"name":...}}.
type ResponseFormat struct {
	Type       string `json:"type"`
	JSONSchema *struct {
		Name   string          `json:"name"`
		Strict bool            `json:"strict"`
		Schema json.RawMessage `json:"schema"`
	} `json:"json_schema,omitempty"`
}

// Failure makes calls to one endpoint fail.
type Failure struct {
	Status int // answer with this HTTP status (e.g. 500); 0 to fail mid-stream instead
	// AfterTokens / AfterBytes: for mid-stream failures, how much to send before breaking the
	// connection (or, with Hang, before going silent).
	AfterTokens int
	AfterBytes  int
	// Hang stops answering instead of failing: before the response headers when Before is set
	// (any endpoint), otherwise mid-stream after AfterTokens / AfterBytes. The call then waits
	// until its client gives up.
	Hang   bool
	Before bool
	// Drop closes the connection without any answer.
	Drop bool
	// Times is how many calls fail; then calls succeed again.
	Times int
}

// stall carries out a failure that happens before the response: a dropped connection, a hang
// before the headers or an error status. It reports whether the call is over.
func (s *Server) stall(w http.ResponseWriter, r *http.Request, f *Failure, what string) bool {
	switch {
	case f == nil:
		return false
	case f.Drop:
		if hj, ok := w.(http.Hijacker); ok {
			if conn, _, err := hj.Hijack(); err == nil {
				conn.Close()
				return true
			}
		}
		panic(http.ErrAbortHandler)
	case f.Hang && f.Before:
		<-r.Context().Done()
		s.cancelled.Add(1)
		return true
	case f.Status != 0:
		apiError(w, f.Status, "server_error", "simulated "+what+" failure")
		return true
	}
	return false
}

// Endpoints.
const (
	EndpointSTT    = "stt"
	EndpointChat   = "chat"
	EndpointSpeech = "speech"
)

// Server is the simulator. Its zero value is not usable; call New.
type Server struct {
	mu       sync.Mutex
	profile  Profile
	failures map[string]*Failure
	chats    []ChatRequest
	// Transcript returns the text of an uploaded file; by default a fixed sentence.
	transcript func(filename string, data []byte) string
	// Reply returns the reply to a chat request; by default a three-sentence answer of about
	// 60 tokens that echoes the learner's last words.
	reply func(req ChatRequest) string

	calls      map[string]*atomic.Int64
	cancelled  atomic.Int64 // streams whose client went away before the end
	activeTTS  atomic.Int64
	activeChat atomic.Int64
	voice      []byte // two seconds of the synthetic voice, as 16-bit PCM bytes
}

// New returns a simulator with profile p.
func New(p Profile) *Server {
	s := &Server{
		profile:  p,
		failures: map[string]*Failure{},
		calls: map[string]*atomic.Int64{
			EndpointSTT: {}, EndpointChat: {}, EndpointSpeech: {},
		},
		voice: voiceBytes(synthVoice()),
	}
	s.transcript = DefaultHearing
	s.reply = DefaultReply
	return s
}

// DefaultTranscript is what the simulator hears in any audio but tone speech.
const DefaultTranscript = "I would like to practice speaking English about my weekend."

// DefaultHearing is the simulator's transcription: the words of tone speech (tones.go) in a WAV
// upload, DefaultTranscript for any other audio.
func DefaultHearing(_ string, data []byte) string {
	if samples, rate, err := session.ParseWAV(data); err == nil {
		if text, ok := HearTones(samples, rate); ok {
			return text
		}
	}
	return DefaultTranscript
}

// SetProfile changes the latencies.
func (s *Server) SetProfile(p Profile) {
	s.mu.Lock()
	s.profile = p
	s.mu.Unlock()
}

// Profile returns the latencies in use.
func (s *Server) Profile() Profile {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.profile
}

// SetTranscript replaces the transcription function.
func (s *Server) SetTranscript(f func(filename string, data []byte) string) {
	s.mu.Lock()
	s.transcript = f
	s.mu.Unlock()
}

// SetReply replaces the reply function.
func (s *Server) SetReply(f func(req ChatRequest) string) {
	s.mu.Lock()
	s.reply = f
	s.mu.Unlock()
}

// Fail makes the next f.Times calls of endpoint fail.
func (s *Server) Fail(endpoint string, f Failure) {
	s.mu.Lock()
	s.failures[endpoint] = &f
	s.mu.Unlock()
}

// takeFailure returns the failure for this call of endpoint, if any.
func (s *Server) takeFailure(endpoint string) *Failure {
	s.mu.Lock()
	defer s.mu.Unlock()
	f := s.failures[endpoint]
	if f == nil || f.Times <= 0 {
		return nil
	}
	f.Times--
	c := *f
	return &c
}

// Calls counts the requests an endpoint received.
func (s *Server) Calls(endpoint string) int64 { return s.calls[endpoint].Load() }

// Cancelled counts chat and speech streams whose client went away before the end.
func (s *Server) Cancelled() int64 { return s.cancelled.Load() }

// Active counts chat and speech streams in progress.
func (s *Server) Active() int64 { return s.activeChat.Load() + s.activeTTS.Load() }

// ChatRequests returns the chat requests received so far.
func (s *Server) ChatRequests() []ChatRequest {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]ChatRequest(nil), s.chats...)
}

// Handler serves the OpenAI-compatible API under /v1.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/audio/transcriptions", s.transcriptions)
	mux.HandleFunc("POST /v1/chat/completions", s.chatCompletions)
	mux.HandleFunc("POST /v1/audio/speech", s.speech)
	mux.HandleFunc("GET /v1/models", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"object":"list","data":[{"id":"gpt-4o-mini","object":"model"},{"id":"whisper-1","object":"model"},{"id":"tts-1","object":"model"}]}`) //nolint:errcheck
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		apiError(w, http.StatusNotFound, "not_found", "the simulator has no "+r.Method+" "+r.URL.Path)
	})
	return mux
}

// Listener serves the simulator on a loopback port until ctx ends. It returns the base URL
// (http://127.0.0.1:port/v1).
func (s *Server) Listen(ctx context.Context, addr string) (string, error) {
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", fmt.Errorf("openaisim: listen: %w", err)
	}
	srv := &http.Server{Handler: s.Handler(), ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln) //nolint:errcheck // ends with Shutdown
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		srv.Shutdown(sctx) //nolint:errcheck
		srv.Close()
	}()
	return "http://" + ln.Addr().String() + "/v1", nil
}

func apiError(w http.ResponseWriter, status int, typ, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]any{"error": map[string]any{"message": msg, "type": typ, "code": nil}}) //nolint:errcheck
}

// sleep waits d or until ctx ends; it reports whether the wait completed.
func sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

func (s *Server) transcriptions(w http.ResponseWriter, r *http.Request) {
	s.calls[EndpointSTT].Add(1)
	start := time.Now()
	if err := r.ParseMultipartForm(32 << 20); err != nil {
		apiError(w, http.StatusBadRequest, "invalid_request_error", "expected multipart/form-data: "+err.Error())
		return
	}
	defer r.MultipartForm.RemoveAll() //nolint:errcheck
	if r.FormValue("model") == "" {
		apiError(w, http.StatusBadRequest, "invalid_request_error", "model is required")
		return
	}
	f, hdr, err := r.FormFile("file")
	if err != nil {
		apiError(w, http.StatusBadRequest, "invalid_request_error", "file is required")
		return
	}
	data, _ := io.ReadAll(f)
	f.Close()
	if fail := s.takeFailure(EndpointSTT); fail != nil {
		if fail.Status == 0 && !fail.Drop && !fail.Hang {
			fail.Status = http.StatusInternalServerError
		}
		fail.Before = true
		s.stall(w, r, fail, "transcription")
		return
	}
	s.mu.Lock()
	p, transcript := s.profile, s.transcript
	s.mu.Unlock()
	// Heard within the profile's time, not after it: the answer is due STT after the request.
	text := transcript(hdr.Filename, data)
	if !sleep(r.Context(), p.STT-time.Since(start)) {
		return
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]any{"text": text}) //nolint:errcheck
}

func (s *Server) chatCompletions(w http.ResponseWriter, r *http.Request) {
	s.calls[EndpointChat].Add(1)
	start := time.Now()
	var req ChatRequest
	if err := json.NewDecoder(io.LimitReader(r.Body, 4<<20)).Decode(&req); err != nil {
		apiError(w, http.StatusBadRequest, "invalid_request_error", "malformed JSON body: "+err.Error())
		return
	}
	if req.Model == "" || len(req.Messages) == 0 {
		apiError(w, http.StatusBadRequest, "invalid_request_error", "model and messages are required")
		return
	}
	s.mu.Lock()
	s.chats = append(s.chats, req)
	p, replyFn := s.profile, s.reply
	s.mu.Unlock()
	fail := s.takeFailure(EndpointChat)
	if s.stall(w, r, fail, "chat") {
		return
	}
	reply := ""
	if rf := req.ResponseFormat; rf != nil && rf.Type == "json_schema" && rf.JSONSchema != nil && rf.JSONSchema.Name == "conversation_review" {
		reply = ReviewReply(req) // a structured review, as the server asks for one
	} else {
		reply = replyFn(req)
	}
	tokens := Tokens(reply)
	if !req.Stream {
		if !sleep(r.Context(), p.ChatFirstToken+time.Duration(len(tokens))*p.ChatPerToken-time.Since(start)) {
			return
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{ //nolint:errcheck
			"id": "chatcmpl-sim", "object": "chat.completion", "created": time.Now().Unix(), "model": req.Model,
			"choices": []any{map[string]any{"index": 0, "finish_reason": "stop",
				"message": map[string]any{"role": "assistant", "content": strings.Join(tokens, "")}}},
		})
		return
	}
	s.activeChat.Add(1)
	defer s.activeChat.Add(-1)
	flusher, _ := w.(http.Flusher)
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	if flusher != nil {
		flusher.Flush()
	}
	// Chunks are written by hand: a simulator under load must not spend its time in
	// encoding/json's maps.
	prefix := fmt.Sprintf(`data: {"id":"chatcmpl-sim","object":"chat.completion.chunk","created":%d,"model":%s,"choices":[{"index":0,"delta":{`,
		time.Now().Unix(), jsonString(req.Model))
	buf := make([]byte, 0, 256)
	next := start.Add(p.ChatFirstToken)
	for i, tok := range tokens {
		if fail != nil && i >= fail.AfterTokens {
			if fail.Hang {
				<-r.Context().Done() // go silent mid-stream
				s.cancelled.Add(1)
				return
			}
			panic(http.ErrAbortHandler) // break the connection mid-stream
		}
		if !sleep(r.Context(), time.Until(next)) {
			s.cancelled.Add(1)
			return
		}
		next = next.Add(p.ChatPerToken)
		buf = append(buf[:0], prefix...)
		if i == 0 {
			buf = append(buf, `"role":"assistant",`...)
		}
		buf = append(buf, `"content":`...)
		buf = append(buf, jsonString(tok)...)
		buf = append(buf, `},"finish_reason":null}]}`+"\n\n"...)
		w.Write(buf) //nolint:errcheck // a gone client shows up in the next sleep
		if flusher != nil {
			flusher.Flush()
		}
	}
	io.WriteString(w, prefix+`},"finish_reason":"stop"}]}`+"\n\ndata: [DONE]\n\n") //nolint:errcheck
}

// jsonString is s as a JSON string literal.
func jsonString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

type speechRequest struct {
	Model          string  `json:"model"`
	Input          string  `json:"input"`
	Voice          string  `json:"voice"`
	ResponseFormat string  `json:"response_format"`
	Speed          float64 `json:"speed"`
}

func (s *Server) speech(w http.ResponseWriter, r *http.Request) {
	s.calls[EndpointSpeech].Add(1)
	start := time.Now()
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "application/json" {
		apiError(w, http.StatusBadRequest, "invalid_request_error", "send a JSON body")
		return
	}
	var req speechRequest
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&req); err != nil {
		apiError(w, http.StatusBadRequest, "invalid_request_error", "malformed JSON body: "+err.Error())
		return
	}
	if req.Model == "" || req.Voice == "" || strings.TrimSpace(req.Input) == "" {
		apiError(w, http.StatusBadRequest, "invalid_request_error", "model, voice and input are required")
		return
	}
	if len(req.Input) > 4096 {
		apiError(w, http.StatusBadRequest, "invalid_request_error", "input is longer than 4096 characters")
		return
	}
	format := req.ResponseFormat
	if format == "" {
		format = "mp3"
	}
	if format != "pcm" && format != "wav" {
		apiError(w, http.StatusBadRequest, "invalid_request_error",
			fmt.Sprintf("the simulator does not encode %s; request response_format \"pcm\" (24 kHz 16-bit mono) or \"wav\"", format))
		return
	}
	fail := s.takeFailure(EndpointSpeech)
	if s.stall(w, r, fail, "speech") {
		return
	}
	s.mu.Lock()
	p := s.profile
	s.mu.Unlock()
	s.activeTTS.Add(1)
	defer s.activeTTS.Add(-1)

	speed := req.Speed
	if speed <= 0 {
		speed = 1
	}
	samples := int(float64(len(req.Input)) / CharsPerSecond / speed * SampleRate)
	samples = max(samples, SampleRate/5)
	total := samples * 2
	if format == "wav" {
		total += 44
	}
	if !sleep(r.Context(), p.TTSFirstByte-time.Since(start)) {
		s.cancelled.Add(1)
		return
	}
	flusher, _ := w.(http.Flusher)
	if format == "wav" {
		w.Header().Set("Content-Type", "audio/wav")
	} else {
		w.Header().Set("Content-Type", "audio/pcm")
	}
	w.Header().Set("Content-Length", fmt.Sprint(total))
	w.WriteHeader(http.StatusOK)
	if format == "wav" {
		w.Write(wavHeader(samples * 2)) //nolint:errcheck
	}
	const chunkSamples = SampleRate / 10 // 100 ms of audio per write
	begin := time.Now()
	sent := 0
	for sent < samples {
		n := min(chunkSamples, samples-sent)
		off := (2 * sent) % len(s.voice)
		chunk := s.voice[off:min(off+2*n, len(s.voice))] // the voice wraps; a short chunk is fine
		n = len(chunk) / 2
		if fail != nil && sent*2 >= fail.AfterBytes {
			if fail.Hang {
				<-r.Context().Done() // go silent mid-stream
				s.cancelled.Add(1)
				return
			}
			panic(http.ErrAbortHandler)
		}
		if _, err := w.Write(chunk); err != nil {
			s.cancelled.Add(1)
			return
		}
		if flusher != nil {
			flusher.Flush()
		}
		sent += n
		if p.TTSSpeed > 0 {
			due := begin.Add(time.Duration(float64(sent) / SampleRate / p.TTSSpeed * float64(time.Second)))
			if !sleep(r.Context(), time.Until(due)) {
				s.cancelled.Add(1)
				return
			}
		}
	}
}

func wavHeader(dataLen int) []byte {
	h := make([]byte, 0, 44)
	h = append(h, "RIFF"...)
	h = binary.LittleEndian.AppendUint32(h, uint32(dataLen+36))
	h = append(h, "WAVEfmt "...)
	h = binary.LittleEndian.AppendUint32(h, 16)
	h = binary.LittleEndian.AppendUint16(h, 1)
	h = binary.LittleEndian.AppendUint16(h, 1)
	h = binary.LittleEndian.AppendUint32(h, SampleRate)
	h = binary.LittleEndian.AppendUint32(h, SampleRate*2)
	h = binary.LittleEndian.AppendUint16(h, 2)
	h = binary.LittleEndian.AppendUint16(h, 16)
	h = append(h, "data"...)
	return binary.LittleEndian.AppendUint32(h, uint32(dataLen))
}

// synthVoice is two seconds of a voiced, syllable-shaped sound at 24 kHz: a 160 Hz harmonic
// series with a 4 Hz envelope, so that it is heard as speech by turn detection (an echo of it
// can be tested).
func synthVoice() []int16 {
	n := 2 * SampleRate
	out := make([]int16, n)
	for i := range out {
		t := float64(i) / SampleRate
		var v float64
		for h := 1; h*160 < 3500; h++ {
			v += math.Sin(2*math.Pi*160*float64(h)*t) / float64(h)
		}
		env := 0.55 + 0.45*math.Sin(2*math.Pi*4*t)
		out[i] = int16(v * env * 6000)
	}
	return out
}

func voiceBytes(samples []int16) []byte {
	out := make([]byte, 0, 2*len(samples))
	for _, v := range samples {
		out = binary.LittleEndian.AppendUint16(out, uint16(v))
	}
	return out
}

// Tokens cuts text into tokens the way a chat model streams it: words with their leading
// space, punctuation attached.
func Tokens(text string) []string {
	var out []string
	for i, w := range strings.Fields(text) {
		if i > 0 {
			w = " " + w
		}
		out = append(out, w)
	}
	return out
}

// DefaultReply answers in three sentences of about 60 tokens (the first one short, as a tutor's
// reaction is) that echo the learner's last message, so that tests can see which message was
// answered.
func DefaultReply(req ChatRequest) string {
	last := ""
	for i := len(req.Messages) - 1; i >= 0; i-- {
		if req.Messages[i].Role == "user" {
			last = req.Messages[i].Content
			break
		}
	}
	words := strings.Fields(strings.Trim(last, ".!? "))
	if len(words) > 10 {
		words = words[:10]
	}
	echo := strings.Join(words, " ")
	if echo == "" {
		echo = "nothing at all"
	}
	turn := 0
	for _, m := range req.Messages {
		if m.Role == "user" {
			turn++
		}
	}
	return fmt.Sprintf("That sounds really lovely, thank you for sharing. "+
		"You said %q, which is turn %d of our English conversation, and I enjoyed hearing about it. "+
		"Could you tell me a little more, for example what you liked most, who was there with you, and how you felt afterwards?",
		echo, turn)
}

// ErrUnknownProfile: no profile has that name.
var ErrUnknownProfile = errors.New("unknown simulator profile")

// ProfileByName returns a named profile.
func ProfileByName(name string) (Profile, error) {
	p, ok := Profiles[name]
	if !ok {
		return Profile{}, fmt.Errorf("%w %q (have %s)", ErrUnknownProfile, name, strings.Join(ProfileNames(), ", "))
	}
	return p, nil
}
