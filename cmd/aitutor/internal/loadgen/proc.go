package loadgen

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"
)

// clockTicks is USER_HZ, the unit of /proc/<pid>/stat CPU times (100 on Linux).
const clockTicks = 100

// cpuTime reads a process's user+system CPU time.
func cpuTime(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The command name may contain spaces: fields start after the closing parenthesis.
	s := string(b)
	fields := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	if len(fields) < 13 {
		return 0, fmt.Errorf("short /proc stat")
	}
	utime, _ := strconv.ParseInt(fields[11], 10, 64)
	stime, _ := strconv.ParseInt(fields[12], 10, 64)
	return time.Duration(utime+stime) * time.Second / clockTicks, nil
}

// cpuMeter measures a process's CPU use over a window.
type cpuMeter struct {
	pid   int
	start time.Duration
}

func newCPUMeter(pid int) *cpuMeter {
	m := &cpuMeter{pid: pid}
	if pid > 0 {
		m.start, _ = cpuTime(pid)
	}
	return m
}

// cores is the CPU used since the meter started, in cores over wall.
func (m *cpuMeter) cores(wall time.Duration) float64 {
	if m.pid <= 0 || wall <= 0 {
		return 0
	}
	now, err := cpuTime(m.pid)
	if err != nil {
		return 0
	}
	return float64(now-m.start) / float64(wall)
}

// rss reads a process's resident set size in bytes.
func rss(pid int) (int64, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return kb * 1024, err
		}
	}
	return 0, fmt.Errorf("no VmRSS")
}

// scrape reads numeric samples from the server's /metrics.
func (e *env) scrape(ctx context.Context, names ...string) (map[string]float64, error) {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, e.cfg.URL+"/metrics", nil)
	resp, err := e.http.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	out := map[string]float64{}
	for _, line := range strings.Split(string(body), "\n") {
		for _, n := range names {
			if rest, ok := strings.CutPrefix(line, n+" "); ok {
				v, err := strconv.ParseFloat(strings.TrimSpace(rest), 64)
				if err == nil {
					out[n] = v
				}
			}
		}
	}
	return out, nil
}

// gc makes the server collect garbage (pprof's heap profile with gc=1).
func (e *env) gc(ctx context.Context) error {
	if e.cfg.DebugURL == "" {
		return fmt.Errorf("no debug URL: start the server with DEBUG_ADDR")
	}
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, e.cfg.DebugURL+"/debug/pprof/heap?gc=1", nil)
	resp, err := e.http.Do(req)
	if err != nil {
		return err
	}
	io.Copy(io.Discard, resp.Body) //nolint:errcheck
	resp.Body.Close()
	return nil
}

// memSample is the server's memory at one moment.
type memSample struct {
	RSS      int64 // resident set, from /proc
	GoMemory int64 // heap in use + goroutine stacks, from the Go runtime
}

func (e *env) memory1(ctx context.Context, collect bool) (memSample, error) {
	if collect {
		if err := e.gc(ctx); err != nil {
			return memSample{}, err
		}
		time.Sleep(500 * time.Millisecond)
	}
	var m memSample
	if e.cfg.ServerPID > 0 {
		r, err := rss(e.cfg.ServerPID)
		if err != nil {
			return m, err
		}
		m.RSS = r
	}
	v, err := e.scrape(ctx, "go_memstats_heap_inuse_bytes", "go_memstats_stack_inuse_bytes")
	if err != nil {
		return m, err
	}
	m.GoMemory = int64(v["go_memstats_heap_inuse_bytes"] + v["go_memstats_stack_inuse_bytes"])
	return m, nil
}
