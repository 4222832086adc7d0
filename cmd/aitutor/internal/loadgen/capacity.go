package loadgen

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aitutor/aitutor/session/client"
)

// Capacity is how many sessions streaming real-time microphone audio one server holds.
type Capacity struct {
	Steps []CapacityStep `json:"steps"`
	// Max is the most sessions of a step that passed: frame handling p99 under 10 ms and no
	// frame lost.
	Max int `json:"maxSessions"`
}

// CapacityStep is one load level.
type CapacityStep struct {
	Sessions        int     `json:"sessions"`
	FramesSent      int64   `json:"framesSent"`
	FramesHandled   int64   `json:"framesHandled"`
	Handling        Stats   `json:"frameHandling"` // ping round trip through the session's reader, behind its frames
	SendLag         Stats   `json:"sendLag"`       // how late the generator sent frames
	ServerCores     float64 `json:"serverCores"`
	CoresPer100     float64 `json:"coresPer100Sessions"`
	Pass            bool    `json:"pass"`
	GeneratorLimits bool    `json:"generatorLimited"`
}

const (
	frameDur    = 20 * time.Millisecond
	frameBytes  = 16000 * 2 / 50 // 20 ms at 16 kHz
	pingEvery   = time.Second
	senderCount = 8
)

// noiseFrames are quiet noise (about -45 dBFS): a live microphone in a quiet room, which turn
// detection must not take for speech.
func noiseFrames() [][]byte {
	r := rand.New(rand.NewPCG(3, 4))
	out := make([][]byte, 50)
	for i := range out {
		s := make([]int16, frameBytes/2)
		for j := range s {
			s[j] = int16(r.IntN(400) - 200)
		}
		out[i] = client.EncodeSamples(s)
	}
	return out
}

func (e *env) capacity(ctx context.Context, rep *Report) error {
	maxN := 0
	for _, n := range e.cfg.CapacitySteps {
		maxN = max(maxN, n)
	}
	ls, err := e.learners(ctx, maxN)
	if err != nil {
		return err
	}
	capRep := &Capacity{}
	rep.Capacity = capRep
	for _, n := range e.cfg.CapacitySteps {
		step, err := e.capacityStep(ctx, ls[:n])
		if err != nil {
			return fmt.Errorf("%d sessions: %w", n, err)
		}
		capRep.Steps = append(capRep.Steps, step)
		e.cfg.Logger.Info("capacity step", "sessions", n, "handling_p99_ms", step.Handling.P99, "sent", step.FramesSent,
			"handled", step.FramesHandled, "cores_per_100", step.CoresPer100, "pass", step.Pass)
		if step.Pass {
			capRep.Max = n
		} else if !step.GeneratorLimits {
			break
		}
	}
	return nil
}

func (e *env) capacityStep(ctx context.Context, ls []learner) (CapacityStep, error) {
	step := CapacityStep{Sessions: len(ls)}
	var mu sync.Mutex
	var rtts []time.Duration
	measuring := atomic.Bool{}
	onPong := func(payload string) {
		sent, err := strconv.ParseInt(payload, 10, 64)
		if err != nil || !measuring.Load() {
			return
		}
		d := time.Since(time.Unix(0, sent))
		mu.Lock()
		rtts = append(rtts, d)
		mu.Unlock()
	}
	clients, err := e.dialMany(ctx, ls, client.Options{EventsBuffer: 16, OnPong: onPong})
	defer func() {
		for _, c := range clients {
			c.Abort()
		}
	}()
	if err != nil {
		return step, err
	}
	before, err := e.scrape(ctx, "aitutor_audio_frames_total")
	if err != nil {
		return step, err
	}
	frames := noiseFrames()
	var sent atomic.Int64
	var lags []time.Duration
	var lagMu sync.Mutex
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for g := 0; g < senderCount; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			mine := clients[g*len(clients)/senderCount : (g+1)*len(clients)/senderCount]
			tick := time.NewTicker(frameDur)
			defer tick.Stop()
			start := time.Now()
			for n := 0; ; n++ {
				select {
				case <-stop:
					return
				case <-tick.C:
				}
				due := start.Add(time.Duration(n+1) * frameDur)
				frame := frames[n%len(frames)]
				for i, c := range mine {
					if err := c.SendAudio(frame); err == nil {
						sent.Add(1)
					}
					// Each session pings once a second, the sessions spread over the second.
					if (n+i)%int(pingEvery/frameDur) == 0 {
						c.Ping(strconv.FormatInt(time.Now().UnixNano(), 10)) //nolint:errcheck
					}
				}
				if measuring.Load() {
					lagMu.Lock()
					lags = append(lags, time.Since(due))
					lagMu.Unlock()
				}
			}
		}(g)
	}
	time.Sleep(3 * time.Second) // warm up
	measuring.Store(true)
	cpu := newCPUMeter(e.cfg.ServerPID)
	start := time.Now()
	time.Sleep(e.cfg.CapacityWindow)
	measuring.Store(false)
	step.ServerCores = cpu.cores(time.Since(start))
	close(stop)
	wg.Wait()
	time.Sleep(time.Second) // let the server take in what is in flight
	after, err := e.scrape(ctx, "aitutor_audio_frames_total")
	if err != nil {
		return step, err
	}
	step.FramesSent = sent.Load()
	step.FramesHandled = int64(after["aitutor_audio_frames_total"] - before["aitutor_audio_frames_total"])
	mu.Lock()
	step.Handling = summarize(rtts)
	mu.Unlock()
	step.SendLag = summarize(lags)
	step.CoresPer100 = step.ServerCores * 100 / float64(len(ls))
	step.GeneratorLimits = step.SendLag.P99 > 10
	step.Pass = step.Handling.P99 < 10 && step.FramesHandled == step.FramesSent && step.Handling.N > 0
	return step, nil
}

// dialMany opens sessions for learners, a few dozen at a time.
func (e *env) dialMany(ctx context.Context, ls []learner, o client.Options) ([]*client.Client, error) {
	return dialAll(ls, 64, func(l learner) (*client.Client, error) {
		opts := o
		opts.Token = l.token
		c, err := client.Dial(ctx, e.wsURL(l.membership), opts)
		if err == nil {
			if _, err = c.Until(30*time.Second, "session.created"); err != nil {
				c.Abort()
			}
		}
		return c, err
	})
}

// dialAll runs dial for every learner, at most parallel at a time, and returns the sessions that
// opened and the first error.
func dialAll(ls []learner, parallel int, dial func(learner) (*client.Client, error)) ([]*client.Client, error) {
	clients := make([]*client.Client, len(ls))
	sem := make(chan struct{}, parallel)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var firstErr error
	for i, l := range ls {
		wg.Add(1)
		go func(i int, l learner) {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			c, err := dial(l)
			if err != nil {
				mu.Lock()
				if firstErr == nil {
					firstErr = err
				}
				mu.Unlock()
				return
			}
			clients[i] = c
		}(i, l)
	}
	wg.Wait()
	out := clients[:0]
	for _, c := range clients {
		if c != nil {
			out = append(out, c)
		}
	}
	return out, firstErr
}
