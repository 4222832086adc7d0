// Package loadgen is aitutor's load generator (aitutor bench). It speaks protocol v1 and the
// REST API to a running server that uses the OpenAI simulator, and measures what
// docs/BENCHMARKS.md reports: first audio streamed vs upload-and-wait, the server's overhead
// above the providers' own latency, sessions per core, memory per session and REST throughput.
package loadgen

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/aitutor/aitutor/server"
	"github.com/aitutor/aitutor/session"
	"github.com/aitutor/aitutor/session/openaisim"
	"github.com/aitutor/aitutor/store"
)

// Config says what to measure and where.
type Config struct {
	URL         string // the server, e.g. http://127.0.0.1:3001
	DebugURL    string // its DEBUG_ADDR, e.g. http://127.0.0.1:6060 (forces GC for memory figures)
	ServerPID   int    // its process, for CPU and resident memory (0: not measured)
	DatabaseURL string // the server's database: learners are created there
	JWTSecret   string // the server's JWT_SECRET: tokens are signed with it
	Profile     openaisim.Profile
	// S3URL is a second server on the same database that keeps its audio in the object store
	// (AUDIO_STORE=s3), for overhead-s3 and audio-writes; S3ServerPID is its process.
	S3URL       string
	S3ServerPID int

	Only             map[string]bool // items to run (all when empty): first-audio, realtime, voice-to-voice, cluster (with Instances), overhead, overhead-s3, audio-writes, audio-compression, capacity, memory, rest, review
	Turns            int             // turns per path for first audio (default 30)
	OverheadSessions int             // concurrent talking sessions (default 200)
	OverheadTurns    int             // turns per concurrent session (default 3)
	CapacitySteps    []int           // session counts tried for capacity
	CapacityWindow   time.Duration   // how long each step streams (default 20s)
	IdleSessions     int             // idle sessions for memory (default 10000)
	RESTDuration     time.Duration   // per REST measurement (default 10s)
	// The cluster item: the instances behind URL (a load balancer), the shell command that
	// restarts one of them, the learners talking and for how long.
	Instances       []string
	RestartCommand  string
	ClusterLearners int           // default 40
	ClusterWindow   time.Duration // default 40s
	Logger          *slog.Logger
}

func (c *Config) defaults() {
	if c.Turns <= 0 {
		c.Turns = 30
	}
	if c.OverheadSessions <= 0 {
		c.OverheadSessions = 200
	}
	if c.OverheadTurns <= 0 {
		c.OverheadTurns = 3
	}
	if len(c.CapacitySteps) == 0 {
		c.CapacitySteps = []int{250, 500, 1000, 1500, 2000}
	}
	if c.CapacityWindow <= 0 {
		c.CapacityWindow = 20 * time.Second
	}
	if c.IdleSessions <= 0 {
		c.IdleSessions = 10000
	}
	if c.ClusterLearners <= 0 {
		c.ClusterLearners = 40
	}
	if c.ClusterWindow <= 0 {
		c.ClusterWindow = 40 * time.Second
	}
	if c.RESTDuration <= 0 {
		c.RESTDuration = 10 * time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
}

func (c *Config) run(item string) bool { return len(c.Only) == 0 || c.Only[item] }

// Report is everything measured, for the JSON output and docs/BENCHMARKS.md.
type Report struct {
	Profile       openaisim.Profile `json:"profile"`
	ProviderLimit Millis            `json:"providerLimitMs"`
	FirstSentence int               `json:"firstSentenceTokens"`
	FirstAudio    *FirstAudio       `json:"firstAudio,omitempty"`
	Overhead      *Overhead         `json:"overhead,omitempty"`
	OverheadS3    *Overhead         `json:"overheadS3,omitempty"`
	AudioWrites   *AudioWrites      `json:"audioWrites,omitempty"`
	Compression   *Compression      `json:"compression,omitempty"`
	Capacity      *Capacity         `json:"capacity,omitempty"`
	Memory        *Memory           `json:"memory,omitempty"`
	REST          []RESTResult      `json:"rest,omitempty"`
	Reviews       *Reviews          `json:"reviews,omitempty"`
	Realtime      *Realtime         `json:"realtime,omitempty"`
	VoiceToVoice  *VoiceToVoice     `json:"voiceToVoice,omitempty"`
	Cluster       *Cluster          `json:"cluster,omitempty"`
}

// Millis is a duration in milliseconds.
type Millis float64

func millis(d time.Duration) Millis { return Millis(float64(d.Microseconds()) / 1000) }

// Run measures the items of cfg against the running server.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	cfg.defaults()
	st, err := store.Open(ctx, cfg.DatabaseURL, store.Pool(80))
	if err != nil {
		return nil, err
	}
	defer st.Close()
	env := &env{cfg: cfg, store: st, tokens: server.NewTokens([]byte(cfg.JWTSecret), 24*time.Hour), http: &http.Client{Timeout: 2 * time.Minute}}
	env.http.Transport = &http.Transport{MaxIdleConnsPerHost: 256}
	plan, err := st.CreatePlan(ctx, store.NewPlan{Name: fmt.Sprintf("bench %d", time.Now().UnixNano()), DurationDays: 30, Target: store.B2C})
	if err != nil {
		return nil, err
	}
	env.plan = plan

	rep := &Report{Profile: cfg.Profile}
	rep.FirstSentence, rep.ProviderLimit = providerLimit(cfg.Profile)
	steps := []struct {
		item string
		fn   func(context.Context, *Report) error
	}{
		// Memory first: the resident set only means something on a server that has not yet
		// grown its heap for the other items.
		{"memory", env.memory},
		{"first-audio", env.firstAudio},
		{"realtime", env.realtime},
		{"voice-to-voice", env.voiceToVoice},
		{"overhead", env.overhead},
		{"overhead-s3", env.overheadS3},
		{"audio-writes", env.audioWrites},
		{"audio-compression", env.compression},
		{"capacity", env.capacity},
		{"rest", env.rest},
		{"review", env.reviews},
	}
	if len(cfg.Instances) > 0 {
		// Only where several instances run (make bench starts a second one for it).
		steps = append(steps, struct {
			item string
			fn   func(context.Context, *Report) error
		}{"cluster", env.cluster})
	}
	for _, s := range steps {
		if !cfg.run(s.item) {
			continue
		}
		if (s.item == "overhead-s3" || s.item == "audio-writes") && cfg.S3URL == "" && len(cfg.Only) == 0 {
			cfg.Logger.Warn("skipped: no AUDIO_STORE=s3 server (-s3-url)", "item", s.item)
			continue
		}
		cfg.Logger.Info("measuring", "item", s.item)
		start := time.Now()
		if err := s.fn(ctx, rep); err != nil {
			return rep, fmt.Errorf("%s: %w", s.item, err)
		}
		cfg.Logger.Info("measured", "item", s.item, "took", time.Since(start).Round(time.Second))
	}
	return rep, nil
}

// providerLimit is the sum on a streamed turn's critical path with profile p: transcription,
// the first token, the tokens up to the end of the first sentence, and the first byte of its
// speech. It returns the first sentence's token count too.
func providerLimit(p openaisim.Profile) (int, Millis) {
	reply := openaisim.DefaultReply(openaisim.ChatRequest{Messages: []openaisim.Message{{Role: "user", Content: openaisim.DefaultTranscript}}})
	var split session.Splitter
	n := 0
	for i, tok := range openaisim.Tokens(reply) {
		if len(split.Push(tok)) > 0 {
			n = i + 1
			break
		}
	}
	d := p.STT + p.ChatFirstToken + time.Duration(n-1)*p.ChatPerToken + p.TTSFirstByte
	return n, millis(d)
}

type env struct {
	cfg    Config
	store  *store.Store
	tokens *server.Tokens
	http   *http.Client
	plan   store.Plan

	mu      sync.Mutex
	counter int
}

type learner struct {
	user       store.User
	token      string
	membership string
}

// learners creates n learners with an unlimited membership each.
func (e *env) learners(ctx context.Context, n int) ([]learner, error) {
	out := make([]learner, n)
	errs := make(chan error, n)
	sem := make(chan struct{}, 16)
	var wg sync.WaitGroup
	for i := range out {
		e.mu.Lock()
		e.counter++
		id := e.counter
		e.mu.Unlock()
		wg.Add(1)
		go func(i, id int) {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			u, err := e.store.CreateUser(ctx, store.NewUser{Name: fmt.Sprintf("Bench %d", id), Email: fmt.Sprintf("bench-%d-%d@example.com", time.Now().UnixNano(), id)})
			if err != nil {
				errs <- err
				return
			}
			m, err := e.store.AssignPlan(ctx, u.ID, u.ID, e.plan.ID)
			if err != nil {
				errs <- err
				return
			}
			tok, err := e.tokens.Issue(u)
			if err != nil {
				errs <- err
				return
			}
			out[i] = learner{user: u, token: tok, membership: m.ID}
		}(i, id)
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return nil, err
	}
	return out, nil
}

func (e *env) wsURL(membershipID string) string {
	return "ws" + strings.TrimPrefix(e.cfg.URL, "http") + "/api/tutor/ws?membershipId=" + membershipID
}
