package loadgen

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// Overhead is first audio at the client minus the provider limit.
type Overhead struct {
	Single     Stats   `json:"single"`     // one session, turns one after another
	Concurrent Stats   `json:"concurrent"` // OverheadSessions sessions talking at once
	Sessions   int     `json:"sessions"`
	Failed     int     `json:"failedTurns"`
	ServerCPU  float64 `json:"serverCpuCores"` // during the concurrent run
	// Stages are the concurrent turns' stage latencies as the server measured them
	// (response.done metrics), to see which part costs what.
	Stages map[string]Stats `json:"stages"`
}

func (e *env) overhead(ctx context.Context, rep *Report) error {
	limit := time.Duration(float64(rep.ProviderLimit) * float64(time.Millisecond))
	o := &Overhead{Sessions: e.cfg.OverheadSessions}
	if rep.FirstAudio != nil {
		o.Single = rep.FirstAudio.SingleOverhead
	} else {
		ls, err := e.learners(ctx, 1)
		if err != nil {
			return err
		}
		c, err := e.dialManual(ctx, ls[0], 4096)
		if err != nil {
			return err
		}
		var single []time.Duration
		for i := 0; i < e.cfg.Turns+1; i++ {
			first, _, err := e.spokenTurn(ctx, c)
			if err != nil {
				c.Close()
				return err
			}
			if i > 0 {
				single = append(single, first-limit)
			}
		}
		c.Close()
		o.Single = summarize(single)
	}

	rep.Overhead = o
	return e.concurrentOverhead(ctx, o, limit)
}

// concurrentOverhead measures OverheadSessions sessions talking at once into o.
func (e *env) concurrentOverhead(ctx context.Context, o *Overhead, limit time.Duration) error {
	ls, err := e.learners(ctx, e.cfg.OverheadSessions)
	if err != nil {
		return err
	}
	var mu sync.Mutex
	var samples []time.Duration
	stages := map[string][]time.Duration{}
	var wg sync.WaitGroup
	cpu := newCPUMeter(e.cfg.ServerPID)
	start := time.Now()
	for i, l := range ls {
		wg.Add(1)
		go func(i int, l learner) {
			defer wg.Done()
			c, err := e.dialManual(ctx, l, 8192)
			if err != nil {
				mu.Lock()
				o.Failed++
				mu.Unlock()
				e.cfg.Logger.Warn("dial", "err", err)
				return
			}
			defer c.Close()
			// Spread the sessions over a second so that they do not talk in lockstep.
			time.Sleep(time.Duration(i) * time.Second / time.Duration(len(ls)))
			for turn := 0; turn < e.cfg.OverheadTurns+1; turn++ {
				first, done, err := e.spokenTurn(ctx, c)
				mu.Lock()
				if err != nil {
					o.Failed++
					e.cfg.Logger.Warn("turn", "err", err)
				} else if turn > 0 {
					samples = append(samples, first-limit)
					addStages(stages, done)
				}
				mu.Unlock()
				if err != nil {
					return
				}
				time.Sleep(200 * time.Millisecond)
			}
		}(i, l)
	}
	wg.Wait()
	o.ServerCPU = cpu.cores(time.Since(start))
	o.Concurrent = summarize(samples)
	o.Stages = map[string]Stats{}
	for k, v := range stages {
		o.Stages[k] = summarize(v)
	}
	if o.Failed > 0 {
		return fmt.Errorf("%d turns failed", o.Failed)
	}
	return nil
}

func addStages(into map[string][]time.Duration, d doneEvent) {
	m := d.Metrics
	for name, v := range map[string]*float64{
		"sttMs": m.STTMs, "chatFirstTokenMs": m.ChatFirstTokenMs, "firstSentenceMs": m.FirstSentenceMs,
		"ttsFirstByteMs": m.TTSFirstByteMs, "firstAudioMs": m.FirstAudioMs,
	} {
		if v != nil {
			into[name] = append(into[name], time.Duration(*v*float64(time.Millisecond)))
		}
	}
}
