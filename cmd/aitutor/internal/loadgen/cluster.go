package loadgen

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aitutor/aitutor/session/client"
	"github.com/aitutor/aitutor/store"
)

// Cluster is a run of several instances behind a load balancer (cfg.URL; cfg.Instances are the
// instances' own URLs): learners talk through the balancer, one instance is restarted mid-run
// (cfg.RestartCommand), and every learner it held reconnects and resumes its conversation.
type Cluster struct {
	Instances int           `json:"instances"`
	Learners  int           `json:"learners"`
	Window    time.Duration `json:"windowNs"`
	// TurnsPerInstance are the turns each instance answered (its aitutor_turns_total).
	TurnsPerInstance []float64 `json:"turnsPerInstance"`
	Answered         int       `json:"answered"` // response.done seen by the learners
	// Moved are the sessions closed with 1001 by the restart; Resumed those that came back with
	// their conversation (resumed: true) on the next connection.
	Moved   int `json:"moved"`
	Resumed int `json:"resumed"`
	// Restart is how long the restart command took (drain, stop, start, ready).
	Restart time.Duration `json:"restartNs"`
	// LedgerMismatches counts memberships where initial − remaining ≠ charges − refunds ≠
	// charges settled as answered; Unsettled counts charges left unsettled after the run.
	LedgerMismatches int `json:"ledgerMismatches"`
	Unsettled        int `json:"unsettled"`
	Turn             Stats
}

const clusterUses = 1000

func (e *env) cluster(ctx context.Context, rep *Report) error {
	if len(e.cfg.Instances) < 2 || e.cfg.RestartCommand == "" {
		return errors.New("needs -instances (two or more URLs) and -restart-command")
	}
	plan, err := e.store.CreatePlan(ctx, store.NewPlan{Name: fmt.Sprintf("bench cluster %d", time.Now().UnixNano()),
		DurationDays: 30, ChatUses: intPtr(clusterUses), Target: store.B2C})
	if err != nil {
		return err
	}
	saved := e.plan
	e.plan = plan
	ls, err := e.learners(ctx, e.cfg.ClusterLearners)
	e.plan = saved
	if err != nil {
		return err
	}
	window := e.cfg.ClusterWindow
	out := &Cluster{Instances: len(e.cfg.Instances), Learners: len(ls), Window: window}
	before := make([]float64, len(e.cfg.Instances))
	for i, u := range e.cfg.Instances {
		if before[i], err = e.sumMetric(ctx, u, "aitutor_turns_total"); err != nil {
			return err
		}
	}

	var mu sync.Mutex
	var turns []time.Duration
	runCtx, cancel := context.WithTimeout(ctx, window)
	defer cancel()
	var wg sync.WaitGroup
	errs := make(chan error, len(ls))
	for _, l := range ls {
		wg.Add(1)
		go func(l learner) {
			defer wg.Done()
			moved, resumed, answered, ds, err := e.clusterLearner(runCtx, l)
			mu.Lock()
			out.Moved += moved
			out.Resumed += resumed
			out.Answered += answered
			turns = append(turns, ds...)
			mu.Unlock()
			if err != nil {
				errs <- err
			}
		}(l)
	}
	// Halfway, one instance is restarted as a deploy does.
	select {
	case <-time.After(window / 2):
	case <-ctx.Done():
		return ctx.Err()
	}
	mid := make([]float64, len(e.cfg.Instances))
	for i, u := range e.cfg.Instances {
		if mid[i], err = e.sumMetric(ctx, u, "aitutor_turns_total"); err != nil {
			return err
		}
	}
	start := time.Now()
	cmd := exec.CommandContext(ctx, "sh", "-c", e.cfg.RestartCommand)
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("restart command: %v: %s", err, b)
	}
	out.Restart = time.Since(start)
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return err
	}
	for i, u := range e.cfg.Instances {
		after, err := e.sumMetric(ctx, u, "aitutor_turns_total")
		if err != nil {
			return err
		}
		turns := after - before[i]
		if after < mid[i] { // restarted: its counters began again
			turns = mid[i] - before[i] + after
		}
		out.TurnsPerInstance = append(out.TurnsPerInstance, turns)
	}
	out.Turn = summarize(turns)
	// The money: every membership's ledger adds up and nothing is left unsettled.
	time.Sleep(2 * time.Second) // the last settlements are written in the background
	for _, l := range ls {
		ledger, err := e.store.LedgerByMembership(ctx, l.membership)
		if err != nil {
			return err
		}
		m, err := e.store.UserMembership(ctx, l.user.ID, l.membership)
		if err != nil {
			return err
		}
		charges, refunds, answered := 0, 0, 0
		for _, x := range ledger {
			switch {
			case x.Resource != "chat":
			case x.Kind == "refund":
				refunds++
			case x.Outcome == nil:
				charges++
				out.Unsettled++
			default:
				charges++
				if *x.Outcome == store.OutcomeAnswered {
					answered++
				}
			}
		}
		if m.RemainingChatUses == nil || clusterUses-*m.RemainingChatUses != charges-refunds || charges-refunds != answered {
			out.LedgerMismatches++
		}
	}
	rep.Cluster = out
	return nil
}

// clusterLearner talks through the balancer until ctx ends: a spoken turn (manual commit), a
// short pause, again; a session closed by a restart (1001) reconnects with its conversation.
func (e *env) clusterLearner(ctx context.Context, l learner) (moved, resumed, answered int, turns []time.Duration, err error) {
	conv := ""
	for ctx.Err() == nil {
		url := e.wsURL(l.membership)
		if conv != "" {
			url += "&conversationId=" + conv
		}
		c, err := dialRetry(ctx, url, l.token)
		if err != nil {
			if ctx.Err() != nil {
				break
			}
			return moved, resumed, answered, turns, err
		}
		ev, err := c.Next(10 * time.Second)
		if err != nil || ev.Type != "session.created" {
			c.Abort()
			continue
		}
		if conv != "" && strings.Contains(string(ev.Raw), `"resumed":true`) {
			resumed++
		}
		conv = ev.Field("conversationId")
		if err := c.Send(map[string]any{"type": "session.update", "turnDetection": "manual"}); err != nil {
			c.Abort()
			continue
		}
		for ctx.Err() == nil {
			if err := c.Stream(ctx, utterance(), 16000, 100*time.Millisecond, false); err != nil {
				break
			}
			start := time.Now()
			c.Commit() //nolint:errcheck
			evs, err := c.Until(30*time.Second, "response.done", "error")
			if err != nil {
				break // the connection closed (a restart) or the turn hung
			}
			if evs[len(evs)-1].Type == "response.done" {
				answered++
				turns = append(turns, time.Since(start))
			}
			select {
			case <-ctx.Done():
			case <-time.After(500 * time.Millisecond):
			case <-c.Done():
			}
		}
		select {
		case <-c.Done():
			if c.CloseCode == 1001 {
				moved++
			}
		default:
			c.Close()
			return moved, resumed, answered, turns, nil
		}
	}
	return moved, resumed, answered, turns, nil
}

// dialRetry dials until it gets through (the balancer may still send a request to an instance
// that is going away) or ctx ends.
func dialRetry(ctx context.Context, url, token string) (*client.Client, error) {
	var last error
	for i := 0; i < 50 && ctx.Err() == nil; i++ {
		c, err := client.Dial(ctx, url, client.Options{Token: token, EventsBuffer: 4096})
		if err == nil {
			return c, nil
		}
		last = err
		time.Sleep(100 * time.Millisecond)
	}
	if last == nil {
		last = ctx.Err()
	}
	return nil, last
}

// sumMetric adds up every series of a metric on the instance at base.
func (e *env) sumMetric(ctx context.Context, base, name string) (float64, error) {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+"/metrics", nil)
	resp, err := e.http.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	sum := 0.0
	for _, line := range strings.Split(string(body), "\n") {
		if !strings.HasPrefix(line, name+"{") && !strings.HasPrefix(line, name+" ") {
			continue
		}
		if i := strings.LastIndexByte(line, ' '); i > 0 {
			if v, err := strconv.ParseFloat(line[i+1:], 64); err == nil {
				sum += v
			}
		}
	}
	return sum, nil
}

func intPtr(n int) *int { return &n }
