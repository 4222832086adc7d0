package server_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
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

// TestKilledMidTurn runs the real binary, kills it with SIGKILL while learners' turns are
// charged and answering, and starts it again: the reconciler refunds what the crash left
// unsettled, learners continue their conversations, and /metrics is served on METRICS_ADDR only.
func TestKilledMidTurn(t *testing.T) {
	noLeaks(t)
	bin := buildServer(t)
	dbURL := storetest.NewDatabase(t)
	st, err := store.Open(context.Background(), dbURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	p := openaisim.Profiles["fast"]
	p.ChatFirstToken = 5 * time.Second // the process dies while the tutor thinks
	sim := openaisim.New(p)
	simHTTP := httptest.NewServer(sim.Handler())
	t.Cleanup(simHTTP.Close)

	ctx := context.Background()
	u, err := st.CreateUser(ctx, store.NewUser{Name: "Ann", Email: "ann@example.com"})
	if err != nil {
		t.Fatal(err)
	}
	plan, _ := st.CreatePlan(ctx, store.NewPlan{Name: "Ten", DurationDays: 30, ChatUses: intp(10), Target: store.B2C, Price: 100})
	bought, err := st.Purchase(ctx, u.ID, plan.ID, "")
	if err != nil {
		t.Fatal(err)
	}
	m := bought.Membership
	tok, _ := server.NewTokens([]byte(servertest.Secret), time.Hour).Issue(u)

	port, metricsPort := freePort(t), freePort(t)
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	run := func() *exec.Cmd {
		cmd := exec.Command(bin, "serve")
		cmd.Env = append(os.Environ(),
			"APP_ENV=test", "JWT_SECRET="+servertest.Secret, "DATABASE_URL="+dbURL,
			fmt.Sprintf("PORT=%d", port), fmt.Sprintf("METRICS_ADDR=127.0.0.1:%d", metricsPort),
			"AI_PROVIDER=openai", "OPENAI_API_KEY=sim", "OPENAI_BASE_URL="+simHTTP.URL+"/v1",
			"RECONCILE_AFTER=2s", "LOG_LEVEL=warn", "MAX_SESSIONS_PER_USER=10")
		log, _ := os.Create(filepath.Join(t.TempDir(), "server.log"))
		cmd.Stdout, cmd.Stderr = log, log
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() }) //nolint:errcheck
		deadline := time.Now().Add(20 * time.Second)
		for {
			if r, err := http.Get(base + "/readyz"); err == nil {
				r.Body.Close()
				if r.StatusCode == 200 {
					return cmd
				}
			}
			if time.Now().After(deadline) {
				data, _ := os.ReadFile(log.Name())
				t.Fatalf("the server did not get ready:\n%s", data)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	wsURL := "ws" + strings.TrimPrefix(base, "http") + "/api/tutor/ws?membershipId=" + m.ID

	first := run()
	var conversations []string
	for i := range 3 {
		c, err := client.Dial(ctx, wsURL, client.Options{Token: tok})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		ev, _ := c.Next(5 * time.Second)
		conversations = append(conversations, ev.Field("conversationId"))
		c.Text(fmt.Sprintf("Turn %d, before the crash.", i))
		if _, err := c.Until(10*time.Second, "response.started"); err != nil {
			t.Fatal(err)
		}
	}
	first.Process.Signal(syscall.SIGKILL) //nolint:errcheck
	first.Wait()                          //nolint:errcheck
	unsettled, err := st.UnsettledCharges(ctx, time.Now().Add(time.Hour), 100)
	if err != nil || len(unsettled) != 3 {
		t.Fatalf("after the crash: %d unsettled charges (%v), want 3", len(unsettled), err)
	}

	time.Sleep(2500 * time.Millisecond) // older than RECONCILE_AFTER
	second := run()
	if left, _ := st.UnsettledCharges(ctx, time.Now().Add(time.Hour), 100); len(left) != 0 {
		t.Fatalf("%d charges still unsettled after the restart", len(left))
	}
	ledger, _ := st.LedgerByMembership(ctx, m.ID)
	refunds := 0
	for _, e := range ledger {
		if e.Kind == "refund" && e.Reason == "reconciled" {
			refunds++
		}
	}
	got, _ := st.UserMembership(ctx, u.ID, m.ID)
	if refunds != 3 || *got.RemainingChatUses != 10 {
		t.Fatalf("%d reconciled refunds, %d uses left; want 3 and 10", refunds, *got.RemainingChatUses)
	}

	// A learner continues a conversation on the new process.
	c, err := client.Dial(ctx, wsURL+"&conversationId="+conversations[0], client.Options{Token: tok})
	if err != nil {
		t.Fatal(err)
	}
	ev, _ := c.Next(5 * time.Second)
	if ev.Field("conversationId") != conversations[0] || !strings.Contains(string(ev.Raw), `"resumed":true`) {
		t.Fatalf("resume after the restart: %s", ev.Raw)
	}
	c.Close()

	// /metrics lives on the private listener only.
	resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/metrics", metricsPort))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), `aitutor_chat_settlements_total{outcome="refunded",reason="reconciled"} 3`) {
		t.Fatalf("private metrics: %d\n%s", resp.StatusCode, grepLines(string(body), "settlements"))
	}
	if resp, err := http.Get(base + "/metrics"); err != nil || resp.StatusCode != 404 {
		t.Fatalf("/metrics on the main port: %v %v", resp.StatusCode, err)
	}

	// SIGTERM: a clean stop.
	second.Process.Signal(syscall.SIGTERM) //nolint:errcheck
	done := make(chan error, 1)
	go func() { done <- second.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("exit after SIGTERM: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("no exit 30 s after SIGTERM")
	}
}

// buildServer builds cmd/aitutor with the race detector (which also reuses what `go test -race`
// compiled): a race in the server process makes it exit with status 66.
func buildServer(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "aitutor")
	cmd := exec.Command("go", "build", "-race", "-o", bin, "../cmd/aitutor")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}
