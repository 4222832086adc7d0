package server_test

import (
	"context"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aitutor/aitutor/server/servertest"
	"github.com/aitutor/aitutor/session/client"
	"github.com/aitutor/aitutor/session/openaisim"
	"github.com/aitutor/aitutor/store"
)

// TestDatabaseOutage stops the real PostgreSQL under a live server and starts it again: REST
// answers 503 unavailable with Retry-After meanwhile, a session stays open and says so in a
// retryable error event, a turn that was answering when the database went away is settled once
// it is back, and the same session goes on.
func TestDatabaseOutage(t *testing.T) {
	noLeaks(t)
	pg := startPrivatePostgres(t)
	st, err := store.Open(context.Background(), pg.url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if _, err := st.Migrate(context.Background(), slog.New(slog.NewTextHandler(io.Discard, nil))); err != nil {
		t.Fatal(err)
	}
	p := openaisim.Profiles["fast"]
	p.ChatFirstToken = 1500 * time.Millisecond // the database goes away while the tutor thinks
	env := servertest.New(t, servertest.Options{Store: st, Profile: &p})
	_, tok, m := env.Learner("ann@example.com", intp(10))
	c := dial(t, env, tok, m.ID)

	c.Text("First, while the database is up.")
	if _, err := c.Until(10*time.Second, "response.started"); err != nil {
		t.Fatal(err)
	}
	pg.stop(t)
	evs, err := c.Until(15*time.Second, "response.done", "error")
	if err != nil || evs[len(evs)-1].Type != "response.done" {
		t.Fatalf("the turn under way: %v %s", err, client.Types(evs))
	}

	r := env.Do("GET", "/api/users/me", tok, nil)
	want(t, r, 503, "unavailable")
	if r.Header.Get("Retry-After") == "" {
		t.Fatal("503 without Retry-After")
	}
	want(t, env.Do("GET", "/readyz", "", nil), 503)
	c.Text("Now, while it is down.")
	evs, err = c.Until(15*time.Second, "error", "response.done")
	if err != nil {
		t.Fatal(err)
	}
	var e struct {
		Code      string `json:"code"`
		Fatal     bool   `json:"fatal"`
		Retryable bool   `json:"retryable"`
	}
	evs[len(evs)-1].Decode(&e) //nolint:errcheck
	if e.Code != "unavailable" || e.Fatal || !e.Retryable {
		t.Fatalf("during the outage: %s", evs[len(evs)-1].Raw)
	}

	pg.start(t)
	deadline := time.Now().Add(20 * time.Second)
	for env.Do("GET", "/readyz", "", nil).Status != 200 {
		if time.Now().After(deadline) {
			t.Fatal("not ready after the database came back")
		}
		time.Sleep(100 * time.Millisecond)
	}
	c.Text("And after it is back.")
	if evs, err := c.Until(15*time.Second, "response.done", "error"); err != nil || evs[len(evs)-1].Type != "response.done" {
		t.Fatalf("after the outage: %v %s", err, client.Types(evs))
	}
	c.Close()
	// The turn recorded while the database was down is settled by the background retry.
	charges, _ := checkLedgerWithin(t, env, m.ID, 10, 30*time.Second)
	if charges != 2 {
		t.Fatalf("%d charges, want 2 (the turn refused during the outage was never charged)", charges)
	}
}

// privatePostgres is a PostgreSQL cluster of one test, which it may stop and start.
type privatePostgres struct {
	dir, port, url string
}

// startPrivatePostgres starts a throwaway cluster with scripts/pg.sh (the machine's
// initdb/pg_ctl; make test installs PostgreSQL when it can).
func startPrivatePostgres(t *testing.T) *privatePostgres {
	t.Helper()
	dir, err := os.MkdirTemp("", "aitutor-pg-outage-")
	if err != nil {
		t.Fatal(err)
	}
	os.Chmod(dir, 0o755) //nolint:errcheck // the cluster may run as the postgres user
	p := &privatePostgres{dir: filepath.Join(dir, "pg"), port: strconv.Itoa(freePort(t))}
	t.Cleanup(func() {
		exec.Command("../scripts/pg.sh", "stop", p.dir).Run() //nolint:errcheck
		os.RemoveAll(dir)
	})
	p.start(t)
	return p
}

func (p *privatePostgres) start(t *testing.T) {
	t.Helper()
	out, err := exec.Command("../scripts/pg.sh", "start", p.dir, p.port, "fast").Output()
	if err != nil {
		var stderr string
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = string(ee.Stderr)
		}
		t.Fatalf("starting PostgreSQL: %v %s", err, stderr)
	}
	p.url = strings.TrimSpace(string(out))
}

func (p *privatePostgres) stop(t *testing.T) {
	t.Helper()
	if out, err := exec.Command("../scripts/pg.sh", "stop", p.dir).CombinedOutput(); err != nil {
		t.Fatalf("stopping PostgreSQL: %v %s", err, out)
	}
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// checkLedgerWithin is checkLedger with a longer wait for settlements.
func checkLedgerWithin(t *testing.T, env *servertest.Env, membershipID string, initial int, d time.Duration) (int, int) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		ledger, err := env.Store.LedgerByMembership(context.Background(), membershipID)
		if err != nil {
			t.Fatal(err)
		}
		settled := true
		for _, e := range ledger {
			if e.Kind == "charge" && e.Outcome == nil {
				settled = false
			}
		}
		if settled || time.Now().After(deadline) {
			return checkLedger(t, env, membershipID, initial)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
