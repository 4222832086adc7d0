package server_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aitutor/aitutor/server"
	"github.com/aitutor/aitutor/server/servertest"
	"github.com/aitutor/aitutor/session/client"
	"github.com/aitutor/aitutor/session/openaisim"
	"github.com/aitutor/aitutor/store"
	"github.com/aitutor/aitutor/store/storetest"
)

// TestTwoInstancesBehindHAProxy runs two aitutor processes on one database behind HAProxy (the
// machine's, from Debian), as a deployment does: sessions spread over both, a quota is exact
// when one membership's turns run on both at once, and a rolling restart moves every live
// learner to the other instance — 1001, reconnect, the conversation resumed — with no turn
// charged twice.
func TestTwoInstancesBehindHAProxy(t *testing.T) {
	haproxy, err := exec.LookPath("haproxy")
	if err != nil {
		t.Fatal("this test runs HAProxy: apt-get install haproxy (make test installs it when it can)")
	}
	bin := buildServer(t)
	dbURL := storetest.NewDatabase(t)
	st, err := store.Open(context.Background(), dbURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	sim := openaisim.New(openaisim.Profiles["fast"])
	sim.SetReply(func(req openaisim.ChatRequest) string { return "Good. Tell me more about it." })
	simHTTP := httptest.NewServer(sim.Handler())
	t.Cleanup(simHTTP.Close)

	ports := [2]int{freePort(t), freePort(t)}
	procs := [2]*exec.Cmd{}
	start := func(i int) {
		cmd := exec.Command(bin, "serve")
		cmd.Env = append(os.Environ(),
			"APP_ENV=test", "JWT_SECRET="+servertest.Secret, "DATABASE_URL="+dbURL,
			fmt.Sprintf("PORT=%d", ports[i]), "AI_PROVIDER=openai", "OPENAI_API_KEY=sim",
			"OPENAI_BASE_URL="+simHTTP.URL+"/v1", "LOG_LEVEL=warn", "MAX_SESSIONS_PER_USER=20",
			"SHUTDOWN_TIMEOUT=10s", "ALLOWED_ORIGINS=*")
		log, _ := os.Create(filepath.Join(t.TempDir(), fmt.Sprintf("server-%d.log", i)))
		cmd.Stdout, cmd.Stderr = log, log
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		procs[i] = cmd
		waitReady(t, fmt.Sprintf("http://127.0.0.1:%d", ports[i]))
	}
	t.Cleanup(func() {
		for _, p := range procs {
			if p != nil && p.ProcessState == nil {
				p.Process.Kill()
				p.Wait() //nolint:errcheck
			}
		}
	})
	start(0)
	start(1)

	lbPort := freePort(t)
	cfg := filepath.Join(t.TempDir(), "haproxy.cfg")
	os.WriteFile(cfg, []byte(haproxyConfig(t, lbPort, ports[:])), 0o644) //nolint:errcheck
	lb := exec.Command(haproxy, "-f", cfg, "-db")
	lbLog, _ := os.Create(filepath.Join(t.TempDir(), "haproxy.log"))
	lb.Stdout, lb.Stderr = lbLog, lbLog
	if err := lb.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { lb.Process.Kill(); lb.Wait() }) //nolint:errcheck
	base := fmt.Sprintf("http://127.0.0.1:%d", lbPort)
	waitReady(t, base)
	ws := "ws" + strings.TrimPrefix(base, "http") + "/api/tutor/ws?membershipId="

	ctx := context.Background()
	tokens := server.NewTokens([]byte(servertest.Secret), time.Hour)
	learner := func(email string, uses int) (store.User, string, store.Membership) {
		u, err := st.CreateUser(ctx, store.NewUser{Name: "L", Email: email})
		if err != nil {
			t.Fatal(err)
		}
		p, _ := st.CreatePlan(ctx, store.NewPlan{Name: "plan " + email, DurationDays: 30, ChatUses: intp(uses), Target: store.B2C, Price: 100})
		r, err := st.Purchase(ctx, u.ID, p.ID, "")
		if err != nil {
			t.Fatal(err)
		}
		tok, _ := tokens.Issue(u)
		return u, tok, r.Membership
	}

	// One membership, ten sessions, ten turns at once across both instances: five uses.
	_, tok, m := learner("quota@example.com", 5)
	var wg sync.WaitGroup
	var mu sync.Mutex
	answered, refused := 0, 0
	for i := 0; i < 10; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := client.Dial(ctx, ws+m.ID, client.Options{Token: tok})
			var he *client.HTTPError
			if errors.As(err, &he) && he.Status == http.StatusPaymentRequired {
				// The other sessions spent the five uses before this one opened.
				mu.Lock()
				refused++
				mu.Unlock()
				return
			}
			if err != nil {
				t.Error(err)
				return
			}
			defer c.Close()
			c.Next(5 * time.Second) //nolint:errcheck // session.created
			c.Text("Hello from everywhere at once.")
			evs, err := c.Until(20*time.Second, "response.done", "error")
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err != nil:
				t.Error(err)
			case evs[len(evs)-1].Type == "response.done":
				answered++
			case evs[len(evs)-1].Field("code") == "quota_exhausted":
				refused++
			default:
				t.Errorf("turn: %s", evs[len(evs)-1].Raw)
			}
		}()
	}
	wg.Wait()
	if answered != 5 || refused != 5 {
		t.Fatalf("%d answered and %d refused of ten turns on five uses", answered, refused)
	}
	for i, p := range ports {
		if n := metricValue(t, fmt.Sprintf("http://127.0.0.1:%d", p), `aitutor_sessions_closed_total`); n == 0 {
			t.Fatalf("instance %d served no session: the load balancer did not spread them", i)
		}
	}

	// Six learners talking; instance 0 restarts under them.
	type live struct {
		c    *client.Client
		conv string
		tok  string
		m    store.Membership
	}
	learners := make([]*live, 6)
	for i := range learners {
		_, tok, m := learner(fmt.Sprintf("l%d@example.com", i), 10)
		c, err := client.Dial(ctx, ws+m.ID, client.Options{Token: tok})
		if err != nil {
			t.Fatal(err)
		}
		ev, _ := c.Next(5 * time.Second)
		l := &live{c: c, conv: ev.Field("conversationId"), tok: tok, m: m}
		c.Text("My name is learner " + fmt.Sprint(i) + ".")
		if _, err := c.Until(15*time.Second, "response.done"); err != nil {
			t.Fatal(err)
		}
		learners[i] = l
	}
	procs[0].Process.Signal(syscall.SIGTERM) //nolint:errcheck
	done := make(chan error, 1)
	go func() { done <- procs[0].Wait() }()
	moved := 0
	for _, l := range learners {
		select {
		case <-l.c.Done():
		case <-time.After(50 * time.Millisecond):
			continue // on the other instance
		}
		if l.c.CloseCode != 1001 {
			t.Fatalf("closed with %d %q, want 1001", l.c.CloseCode, l.c.CloseText)
		}
		moved++
	}
	if err := <-done; err != nil {
		t.Fatalf("instance 0 after SIGTERM: %v", err)
	}
	if moved == 0 {
		t.Fatal("no learner was on the restarted instance")
	}
	// Every learner goes on, resumed, on whichever instance is up.
	for i, l := range learners {
		select {
		case <-l.c.Done():
		default:
			l.c.Close()
		}
		c := dialRetry(t, ws+l.m.ID+"&conversationId="+l.conv, l.tok)
		ev, _ := c.Next(5 * time.Second)
		if ev.Field("conversationId") != l.conv || !strings.Contains(string(ev.Raw), `"resumed":true`) {
			t.Fatalf("learner %d did not resume: %s", i, ev.Raw)
		}
		c.Text("What is my name?")
		if evs, err := c.Until(15*time.Second, "response.done", "error"); err != nil || evs[len(evs)-1].Type != "response.done" {
			t.Fatalf("learner %d after the restart: %v %s", i, err, client.Types(evs))
		}
		c.Close()
	}
	reqs := sim.ChatRequests()
	lastReq := reqs[len(reqs)-1].Messages
	if len(lastReq) < 4 || !strings.Contains(lastReq[1].Content, "My name is learner") {
		t.Fatalf("a resumed conversation lost its history: %+v", lastReq)
	}
	start(0) // back in service
	waitReady(t, base)
	for _, l := range learners {
		ledger, _ := st.LedgerByMembership(ctx, l.m.ID)
		got, _ := st.UserMembership(ctx, l.m.UserID, l.m.ID)
		charges, refunds := 0, 0
		for _, e := range ledger {
			if e.Kind == "charge" {
				charges++
				if e.Outcome == nil {
					t.Fatalf("unsettled charge %+v", e)
				}
			} else {
				refunds++
			}
		}
		if 10-*got.RemainingChatUses != charges-refunds || charges-refunds != 2 {
			t.Fatalf("membership %s: %d left, %d charges, %d refunds; want two turns paid", l.m.ID, *got.RemainingChatUses, charges, refunds)
		}
	}
}

// haproxyConfig is deploy/haproxy.cfg, the configuration docker compose runs, with this test's
// ports: the frontend bound to port, and one server line for each of backends.
func haproxyConfig(t *testing.T, port int, backends []int) string {
	t.Helper()
	shipped, err := os.ReadFile(filepath.Join("..", "deploy", "haproxy.cfg"))
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, line := range strings.Split(string(shipped), "\n") {
		switch f := strings.Fields(line); {
		case len(f) > 0 && f[0] == "bind":
			fmt.Fprintf(&b, "    bind 127.0.0.1:%d\n", port)
		case len(f) > 0 && f[0] == "server":
			// The compose services; this test's instances are appended below (the backend
			// section is the file's last).
		default:
			b.WriteString(line + "\n")
		}
	}
	for i, p := range backends {
		fmt.Fprintf(&b, "    server aitutor%d 127.0.0.1:%d check\n", i, p)
	}
	return b.String()
}

func waitReady(t *testing.T, base string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		if r, err := http.Get(base + "/readyz"); err == nil {
			r.Body.Close()
			if r.StatusCode == 200 {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s is not ready", base)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// dialRetry reconnects as a client does after 1001: with a short backoff until an instance
// takes the session.
func dialRetry(t *testing.T, url, tok string) *client.Client {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		c, err := client.Dial(context.Background(), url, client.Options{Token: tok})
		if err == nil {
			return c
		}
		var he *client.HTTPError
		if time.Now().After(deadline) || (errors.As(err, &he) && he.Status != http.StatusServiceUnavailable && he.Status != http.StatusBadGateway) {
			t.Fatalf("reconnect: %v", err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// metricValue sums a Prometheus metric's samples on a server's /metrics.
func metricValue(t *testing.T, base, name string) float64 {
	t.Helper()
	r, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer r.Body.Close()
	body, _ := io.ReadAll(r.Body)
	sum := 0.0
	for _, line := range strings.Split(string(body), "\n") {
		if strings.HasPrefix(line, name) {
			var v float64
			fmt.Sscan(line[strings.LastIndex(line, " ")+1:], &v) //nolint:errcheck
			sum += v
		}
	}
	return sum
}
