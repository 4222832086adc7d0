package loadgen

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"
)

// RESTResult is the throughput and latency of one operation at 64 concurrent clients.
type RESTResult struct {
	Name        string  `json:"name"`
	Tool        string  `json:"tool"` // wrk, or the built-in generator
	Command     string  `json:"command"`
	Concurrency int     `json:"concurrency"`
	RPS         float64 `json:"requestsPerSecond"`
	P50         Millis  `json:"p50"`
	P99         Millis  `json:"p99"`
	Errors      int64   `json:"errors"`
}

const restClients = 64

func (e *env) rest(ctx context.Context, rep *Report) error {
	ls, err := e.learners(ctx, restClients)
	if err != nil {
		return err
	}
	for _, path := range []string{"/api/users/me", "/api/membership"} {
		r, err := e.httpLoad(ctx, path, ls[0].token)
		if err != nil {
			return err
		}
		rep.REST = append(rep.REST, r)
	}
	r, err := e.chargeLoad(ctx, ls)
	if err != nil {
		return err
	}
	rep.REST = append(rep.REST, r)
	return nil
}

var (
	wrkRPS = regexp.MustCompile(`Requests/sec:\s+([\d.]+)`)
	wrkPct = regexp.MustCompile(`(?m)^\s+(50|99)%\s+([\d.]+)(us|ms|s)\s*$`)
	wrkErr = regexp.MustCompile(`Non-2xx or 3xx responses: (\d+)`)
)

// httpLoad measures GET path with wrk when it is installed, else with Go clients.
func (e *env) httpLoad(ctx context.Context, path, token string) (RESTResult, error) {
	res := RESTResult{Name: "GET " + path, Concurrency: restClients}
	secs := int(e.cfg.RESTDuration.Seconds())
	if wrk, err := exec.LookPath("wrk"); err == nil {
		args := []string{"-t2", fmt.Sprintf("-c%d", restClients), fmt.Sprintf("-d%ds", secs), "--latency", "-H", "Authorization: Bearer " + token, e.cfg.URL + path}
		out, err := exec.CommandContext(ctx, wrk, args...).CombinedOutput()
		if err != nil {
			return res, fmt.Errorf("wrk: %v: %s", err, out)
		}
		res.Tool = "wrk"
		res.Command = fmt.Sprintf("wrk -t2 -c%d -d%ds --latency -H 'Authorization: Bearer $TOKEN' %s%s", restClients, secs, e.cfg.URL, path)
		if m := wrkRPS.FindSubmatch(out); m != nil {
			res.RPS, _ = strconv.ParseFloat(string(m[1]), 64)
		}
		for _, m := range wrkPct.FindAllSubmatch(out, -1) {
			v, _ := strconv.ParseFloat(string(m[2]), 64)
			switch string(m[3]) {
			case "us":
				v /= 1000
			case "s":
				v *= 1000
			}
			if string(m[1]) == "50" {
				res.P50 = Millis(v)
			} else {
				res.P99 = Millis(v)
			}
		}
		if m := wrkErr.FindSubmatch(out); m != nil {
			res.Errors, _ = strconv.ParseInt(string(m[1]), 10, 64)
		}
		if res.RPS == 0 {
			return res, fmt.Errorf("could not read wrk's output: %s", out)
		}
		return res, nil
	}
	res.Tool = "aitutor bench (Go clients)"
	res.Command = "aitutor bench -only rest"
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: restClients}}
	var errs int64
	lat := e.closedLoop(ctx, func() error {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, e.cfg.URL+path, nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		io.Copy(io.Discard, resp.Body) //nolint:errcheck
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("HTTP %d", resp.StatusCode)
		}
		return nil
	}, restClients, &errs)
	s := summarize(lat)
	res.RPS, res.P50, res.P99, res.Errors = float64(len(lat))/e.cfg.RESTDuration.Seconds(), s.P50, s.P99, errs
	return res, nil
}

// chargeLoad charges chat uses from 64 concurrent workers, each on its own membership, with
// the store's single-statement charge.
func (e *env) chargeLoad(ctx context.Context, ls []learner) (RESTResult, error) {
	res := RESTResult{Name: "charge one chat use (store.ChargeChatUse)", Tool: "aitutor bench (Go, direct to PostgreSQL)",
		Command: "aitutor bench -only rest", Concurrency: restClients}
	var errs int64
	var next int
	var mu sync.Mutex
	lat := e.closedLoopPer(ctx, restClients, func() func() error {
		mu.Lock()
		l := ls[next%len(ls)]
		next++
		mu.Unlock()
		return func() error {
			_, err := e.store.ChargeChatUse(ctx, l.user.ID, l.membership, "bench")
			return err
		}
	}, &errs)
	s := summarize(lat)
	res.RPS, res.P50, res.P99, res.Errors = float64(len(lat))/e.cfg.RESTDuration.Seconds(), s.P50, s.P99, errs
	return res, nil
}

// closedLoop runs op from workers goroutines for the REST duration and returns the latencies
// of the calls that succeeded.
func (e *env) closedLoop(ctx context.Context, op func() error, workers int, errs *int64) []time.Duration {
	return e.closedLoopPer(ctx, workers, func() func() error { return op }, errs)
}

func (e *env) closedLoopPer(ctx context.Context, workers int, makeOp func() func() error, errs *int64) []time.Duration {
	deadline := time.Now().Add(e.cfg.RESTDuration)
	var mu sync.Mutex
	var all []time.Duration
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		op := makeOp()
		wg.Add(1)
		go func() {
			defer wg.Done()
			var mine []time.Duration
			var failed int64
			for time.Now().Before(deadline) && ctx.Err() == nil {
				start := time.Now()
				if err := op(); err != nil {
					failed++
					continue
				}
				mine = append(mine, time.Since(start))
			}
			mu.Lock()
			all = append(all, mine...)
			*errs += failed
			mu.Unlock()
		}()
	}
	wg.Wait()
	return all
}

// markdownTable formats rows as a Markdown table.
func markdownTable(header []string, rows [][]string) string {
	var b strings.Builder
	b.WriteString("| " + strings.Join(header, " | ") + " |\n|")
	for range header {
		b.WriteString("---|")
	}
	b.WriteString("\n")
	for _, r := range rows {
		b.WriteString("| " + strings.Join(r, " | ") + " |\n")
	}
	return b.String()
}
