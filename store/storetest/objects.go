package storetest

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aitutor/aitutor/store"
)

// A real S3-compatible object store for tests: SeaweedFS (`weed server -s3`), started once per
// test binary on loopback ports with its data in a temporary directory, and stopped (its
// directory removed) by a watchdog shell when the test binary exits. TEST_S3_ENDPOINT (with
// TEST_S3_ACCESS_KEY and TEST_S3_SECRET_KEY) points the tests at a running store instead. Each
// test gets a bucket of its own. A missing weed binary fails the test: make test builds it
// (scripts/lib.sh).

// Test credentials of the SeaweedFS that the tests start.
const (
	s3AccessKey = "aitutor-test"
	s3SecretKey = "aitutor-test-secret-0123456789"
)

var (
	s3Once sync.Once
	s3Base store.S3Config
	s3Err  error
)

// S3 returns the configuration of a fresh bucket of the test object store (created, and
// emptied when the test ends).
func S3(t testing.TB) store.S3Config {
	t.Helper()
	s3Once.Do(func() { s3Base, s3Err = startS3() })
	if s3Err != nil {
		t.Fatalf("storetest: object store: %v", s3Err)
	}
	cfg := s3Base
	cfg.Bucket = "t-" + randomHex(8)
	o, err := store.NewObjects(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := o.Ensure(ctx); err != nil {
		t.Fatalf("storetest: create bucket: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		var keys []string
		o.List(ctx, "", func(k string) error { keys = append(keys, k); return nil }) //nolint:errcheck
		o.Remove(ctx, keys)                                                          //nolint:errcheck
	})
	return cfg
}

// Objects returns the object store of a fresh bucket (see S3).
func Objects(t testing.TB) *store.Objects {
	t.Helper()
	o, err := store.NewObjects(S3(t))
	if err != nil {
		t.Fatal(err)
	}
	return o
}

// WeedPath finds the SeaweedFS binary: $WEED, weed on the PATH, or $(go env GOPATH)/bin/weed
// where make test installs it.
func WeedPath() (string, error) {
	if p := os.Getenv("WEED"); p != "" {
		return p, nil
	}
	if p, err := exec.LookPath("weed"); err == nil {
		return p, nil
	}
	gopath := os.Getenv("GOPATH")
	if gopath == "" {
		if out, err := exec.Command("go", "env", "GOPATH").Output(); err == nil {
			gopath = strings.TrimSpace(string(out))
		}
	}
	for _, dir := range filepath.SplitList(gopath) {
		if p := filepath.Join(dir, "bin", "weed"); isExecutable(p) {
			return p, nil
		}
	}
	return "", fmt.Errorf("SeaweedFS (weed) is required for the object store tests and was not found: run make test (scripts/lib.sh builds it into $(go env GOPATH)/bin), or set WEED to its path, or TEST_S3_ENDPOINT to a running S3-compatible store")
}

func isExecutable(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0
}

func startS3() (store.S3Config, error) {
	if ep := os.Getenv("TEST_S3_ENDPOINT"); ep != "" {
		return store.S3Config{
			Endpoint: ep, Region: "us-east-1", Timeout: 10 * time.Second,
			AccessKey: os.Getenv("TEST_S3_ACCESS_KEY"), SecretKey: os.Getenv("TEST_S3_SECRET_KEY"),
		}, nil
	}
	weed, err := WeedPath()
	if err != nil {
		return store.S3Config{}, err
	}
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ { // another test binary may take a port first
		cfg, err := startWeed(weed)
		if err == nil {
			return cfg, nil
		}
		lastErr = err
	}
	return store.S3Config{}, lastErr
}

// WeedServer is a SeaweedFS started by StartWeed.
type WeedServer struct {
	Config store.S3Config
	Dir    string
	cmd    *exec.Cmd
	done   bool
}

// Stop stops the server and removes its data (the watchdog does, on SIGTERM).
func (w *WeedServer) Stop() {
	if w.done {
		return
	}
	w.cmd.Process.Signal(syscall.SIGTERM) //nolint:errcheck
	w.cmd.Wait()                          //nolint:errcheck
	w.done = true
}

// StartWeed starts a SeaweedFS of its own for a test that stops it (an object store that goes
// down); it is stopped when the test ends. Most tests share one through S3.
func StartWeed(t testing.TB) *WeedServer {
	t.Helper()
	weed, err := WeedPath()
	if err != nil {
		t.Fatal(err)
	}
	var w *WeedServer
	for attempt := 0; attempt < 3; attempt++ {
		if w, err = launchWeed(weed); err == nil {
			break
		}
	}
	if err != nil {
		t.Fatalf("storetest: %v", err)
	}
	t.Cleanup(w.Stop)
	return w
}

func startWeed(weed string) (store.S3Config, error) {
	w, err := launchWeed(weed)
	if err != nil {
		return store.S3Config{}, err
	}
	return w.Config, nil
}

// launchWeed starts `weed server -s3` on free loopback ports under a watchdog shell that stops
// it and removes its directory when this process ends, and waits until S3 answers.
func launchWeed(weed string) (*WeedServer, error) {
	dir, err := os.MkdirTemp("", "aitutor-weed-")
	if err != nil {
		return nil, err
	}
	conf, _ := json.Marshal(map[string]any{"identities": []any{map[string]any{
		"name":        "aitutor",
		"credentials": []any{map[string]string{"accessKey": s3AccessKey, "secretKey": s3SecretKey}},
		"actions":     []string{"Admin", "Read", "List", "Tagging", "Write"},
	}}})
	if err := os.WriteFile(filepath.Join(dir, "s3.json"), conf, 0o600); err != nil {
		return nil, err
	}
	ports, err := freePortPairs(4)
	if err != nil {
		return nil, err
	}
	args := []string{"server", "-ip=127.0.0.1", "-ip.bind=127.0.0.1", "-dir=" + filepath.Join(dir, "data"),
		"-master.port=" + strconv.Itoa(ports[0]), "-volume.port=" + strconv.Itoa(ports[1]),
		"-filer.port=" + strconv.Itoa(ports[2]), "-s3", "-s3.port=" + strconv.Itoa(ports[3]),
		"-s3.port.iceberg=0", "-s3.port.lance=0", "-s3.config=" + filepath.Join(dir, "s3.json"),
		"-volume.max=0", "-master.volumeSizeLimitMB=64"}
	if err := os.MkdirAll(filepath.Join(dir, "data"), 0o755); err != nil {
		return nil, err
	}
	logFile, err := os.Create(filepath.Join(dir, "weed.log"))
	if err != nil {
		return nil, err
	}
	defer logFile.Close()
	// The watchdog: weed runs while this process (its parent's parent) lives; then it is
	// stopped and its directory removed. No goroutine of this process waits for it.
	script := `dir=$1; parent=$2; shift 2
"$@" & w=$!
trap 'kill -9 $w 2>/dev/null; wait $w 2>/dev/null; rm -rf "$dir"; exit 0' TERM INT EXIT
while kill -0 "$parent" 2>/dev/null && kill -0 "$w" 2>/dev/null; do sleep 0.5; done`
	cmd := exec.Command("sh", append([]string{"-c", script, "sh", dir, strconv.Itoa(os.Getpid()), weed}, args...)...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	w := &WeedServer{Dir: dir, cmd: cmd, Config: store.S3Config{
		Endpoint: "http://127.0.0.1:" + strconv.Itoa(ports[3]), Region: "us-east-1",
		AccessKey: s3AccessKey, SecretKey: s3SecretKey, Timeout: 10 * time.Second,
	}}
	probe := w.Config
	probe.Bucket = "probe"
	o, err := store.NewObjects(probe)
	if err != nil {
		w.Stop()
		return nil, err
	}
	deadline := time.Now().Add(90 * time.Second)
	for {
		// Ready when an object can be written: SeaweedFS allocates its first volumes on the
		// first write, which can take seconds, longer than a test's S3_TIMEOUT.
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		err := o.Ensure(ctx)
		if err == nil {
			err = o.Put(ctx, "ready", strings.NewReader("ok"), 2, "text/plain")
		}
		cancel()
		if err == nil {
			return w, nil
		}
		if time.Now().After(deadline) || w.exited() {
			log, _ := os.ReadFile(filepath.Join(dir, "weed.log"))
			w.Stop()
			os.RemoveAll(dir)
			return nil, fmt.Errorf("SeaweedFS did not start: %v\n%s", err, tail(string(log), 2000))
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// exited reports whether the watchdog (and so weed) ended, without waiting for it.
func (w *WeedServer) exited() bool {
	var ws syscall.WaitStatus
	pid, err := syscall.Wait4(w.cmd.Process.Pid, &ws, syscall.WNOHANG, nil)
	if pid == w.cmd.Process.Pid || err != nil {
		w.done = true
		return true
	}
	return false
}

// freePortPairs finds n ports p that are free together with p+10000 (SeaweedFS serves gRPC
// there).
func freePortPairs(n int) ([]int, error) {
	var out []int
	var held []net.Listener
	defer func() {
		for _, l := range held {
			l.Close()
		}
	}()
	for tries := 0; len(out) < n && tries < 200; tries++ {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		p := l.Addr().(*net.TCPAddr).Port
		if p+10000 > 65535 {
			l.Close()
			continue
		}
		l2, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(p+10000))
		if err != nil {
			l.Close()
			continue
		}
		held = append(held, l, l2)
		out = append(out, p)
	}
	if len(out) < n {
		return nil, fmt.Errorf("no free ports for SeaweedFS")
	}
	return out, nil
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}
