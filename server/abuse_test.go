package server_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aitutor/aitutor/server/servertest"
	"github.com/aitutor/aitutor/session/client"
	"github.com/aitutor/aitutor/session/openaisim"
)

// Limits that keep an account from making the providers work without end, and a client from
// holding the server's resources.

func TestGreetingsAreCachedAndCappedWithoutAMembership(t *testing.T) {
	t.Parallel()
	env := servertest.New(t, servertest.Options{Env: map[string]string{"GREETING_DAILY_LIMIT": "3"}})
	_, freeTok := env.User("free@example.com", "user")
	_, paidTok, _ := env.Learner("paid@example.com", intp(3))
	greet := func(tok, text string) servertest.Response {
		return env.Do("POST", "/api/tutor/init", tok, map[string]string{"text": text})
	}
	// The prototype's welcome text, asked on every visit, is synthesized once.
	before := env.Sim.Calls(openaisim.EndpointSpeech)
	for range 5 {
		want(t, greet(freeTok, "Welcome to the AI tutor!"), 200)
	}
	if n := env.Sim.Calls(openaisim.EndpointSpeech) - before; n != 1 {
		t.Fatalf("%d syntheses for one text asked five times", n)
	}
	// Without a usable membership: three new texts a day, then 429.
	for i := range 2 {
		want(t, greet(freeTok, "Custom text number "+string(rune('A'+i))), 200)
	}
	r := greet(freeTok, "One text too many")
	want(t, r, 429, "greeting_limit")
	// The standard greeting and texts already spoken still work.
	want(t, env.Do("POST", "/api/tutor/init", freeTok, nil), 200)
	want(t, greet(freeTok, "Custom text number A"), 200)
	// A learner with a membership has no daily cap.
	for i := range 5 {
		want(t, greet(paidTok, "Paid text "+string(rune('A'+i))), 200)
	}
}

func TestGreetingsAreRateLimitedPerAccount(t *testing.T) {
	t.Parallel()
	env := servertest.New(t, servertest.Options{Env: map[string]string{"GREETING_RATE_LIMIT": "6"}})
	_, tok, _ := env.Learner("ann@example.com", intp(3))
	_, bobTok, _ := env.Learner("bob@example.com", intp(3))
	limited := 0
	for range 10 {
		if r := env.Do("POST", "/api/tutor/init", tok, nil); r.Status == 429 {
			want(t, r, 429, "rate_limited")
			limited++
		}
	}
	if limited == 0 {
		t.Fatal("ten greetings in a burst were all answered")
	}
	want(t, env.Do("POST", "/api/tutor/init", bobTok, nil), 200) // another account is not affected
}

func TestSessionsPerUserAcrossTheHandshake(t *testing.T) {
	noLeaks(t)
	env := servertest.New(t, servertest.Options{Env: map[string]string{"MAX_SESSIONS_PER_USER": "2"}})
	_, tok, m := env.Learner("ann@example.com", intp(3))
	a := dial(t, env, tok, m.ID)
	dial(t, env, tok, m.ID)
	_, err := client.Dial(context.Background(), env.WSURL(m.ID), client.Options{Token: tok})
	var he *client.HTTPError
	if !errors.As(err, &he) || he.Status != http.StatusTooManyRequests || !strings.Contains(he.Body, "too_many_sessions") {
		t.Fatalf("third session: %v", err)
	}
	// Closing one frees its place.
	a.Close()
	deadline := time.Now().Add(5 * time.Second)
	for {
		c, err := client.Dial(context.Background(), env.WSURL(m.ID), client.Options{Token: tok})
		if err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("a place did not free up: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestUploadsAreBoundedInNumber(t *testing.T) {
	t.Parallel()
	p := openaisim.Profiles["fast"]
	p.STT = 1500 * time.Millisecond // each upload is answered slowly
	env := servertest.New(t, servertest.Options{Profile: &p, Env: map[string]string{"MAX_UPLOADS": "2"}})
	_, tok, m := env.Learner("ann@example.com", intp(10))
	var wg sync.WaitGroup
	statuses := make(chan int, 5)
	for range 5 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			statuses <- upload(t, env, tok, map[string]string{"membershipId": m.ID}, "a.wav", "audio/wav", speechWAV()).Status
		}()
	}
	wg.Wait()
	close(statuses)
	ok, busy := 0, 0
	for s := range statuses {
		switch s {
		case 200:
			ok++
		case 503:
			busy++
		default:
			t.Fatalf("status %d", s)
		}
	}
	if ok == 0 || busy == 0 {
		t.Fatalf("%d answered and %d busy of 5 uploads at once with MAX_UPLOADS=2", ok, busy)
	}
	r := env.Do("GET", "/readyz", "", nil) // the server is fine
	want(t, r, 200)
}

func TestMetricsOnAPrivateListener(t *testing.T) {
	t.Parallel()
	env := servertest.New(t, servertest.Options{Env: map[string]string{"METRICS_ADDR": "127.0.0.1:0"}})
	want(t, env.Do("GET", "/metrics", "", nil), 404, "not_found")
}

// Two instances on one database share the per-user session limit and the sign-in limit.
func TestLimitsHoldAcrossInstances(t *testing.T) {
	noLeaks(t)
	env := servertest.New(t, servertest.Options{Env: map[string]string{"MAX_SESSIONS_PER_USER": "2", "AUTH_RATE_LIMIT": "0.01"}})
	other := servertest.New(t, servertest.Options{Store: env.Store, Env: map[string]string{"MAX_SESSIONS_PER_USER": "2", "AUTH_RATE_LIMIT": "0.01"}})
	_, tok, m := env.Learner("ann@example.com", intp(3))
	dial(t, env, tok, m.ID)
	dial(t, other, tok, m.ID)
	for _, e := range []*servertest.Env{env, other} {
		_, err := client.Dial(context.Background(), e.WSURL(m.ID), client.Options{Token: tok})
		var he *client.HTTPError
		if !errors.As(err, &he) || he.Status != http.StatusTooManyRequests {
			t.Fatalf("a third session on either instance: %v", err)
		}
	}
	// Sign-in attempts from one address count on both instances: 11 a minute at this setting.
	limited := 0
	for i := 0; i < 16; i++ {
		e := []*servertest.Env{env, other}[i%2]
		if r := e.Do("POST", "/api/auth/login", "", map[string]string{"email": "x@example.com", "password": "nope-nope"}); r.Status == http.StatusTooManyRequests {
			limited++
		}
	}
	if limited < 4 {
		t.Fatalf("%d of 16 sign-ins limited across two instances, want at least 4", limited)
	}
}
