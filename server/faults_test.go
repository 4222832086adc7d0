package server_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/aitutor/aitutor/server/servertest"
	"github.com/aitutor/aitutor/session/client"
	"github.com/aitutor/aitutor/session/openaisim"
	"github.com/aitutor/aitutor/store"
)

// Provider faults, for every stage and both routes, against the real server and PostgreSQL with
// the simulator misbehaving on purpose: an error status, a hang before the response headers, a
// hang in the middle of the stream, a dropped connection. Each turn ends within a stated bound
// with a clear error (an error event on the WebSocket, 502/504 on REST) and a refund: for every
// membership, initial − remaining = charges − refunds, and every charge is settled.

// faultTimeouts are short stage limits: every wait of a turn ends within about a second.
var faultTimeouts = map[string]string{
	"STT_TIMEOUT": "1s", "CHAT_FIRST_TOKEN_TIMEOUT": "1s", "CHAT_IDLE_TIMEOUT": "1s",
	"TTS_FIRST_BYTE_TIMEOUT": "1s", "TTS_IDLE_TIMEOUT": "1s",
}

// turnBound is how long a failing turn may take: the stage limit, the client's retries of a
// failed request, and slack for a loaded machine under -race.
const turnBound = 6 * time.Second

type fault struct {
	name     string
	endpoint string
	failure  openaisim.Failure
	code     string // the error code the client sees
	status   int    // the REST status
	// orTimeout: a dropped connection is retried, and the retries may reach the stage's time
	// limit first on a loaded machine; either ending is right.
	orTimeout bool
}

func faults() []fault {
	var out []fault
	for _, ep := range []string{openaisim.EndpointSTT, openaisim.EndpointChat, openaisim.EndpointSpeech} {
		out = append(out,
			fault{ep + " answers 500", ep, openaisim.Failure{Status: 500, Times: 100}, "provider_error", 502, true},
			fault{ep + " hangs before its headers", ep, openaisim.Failure{Hang: true, Before: true, Times: 100}, "provider_timeout", 504, false},
			fault{ep + " drops the connection", ep, openaisim.Failure{Drop: true, Times: 100}, "provider_error", 502, true},
		)
		if ep != openaisim.EndpointSTT { // a transcription is not streamed
			out = append(out,
				fault{ep + " hangs mid-stream", ep, openaisim.Failure{Hang: true, AfterTokens: 3, AfterBytes: 4800, Times: 100}, "provider_timeout", 504, false},
				fault{ep + " breaks mid-stream", ep, openaisim.Failure{AfterTokens: 3, AfterBytes: 4800, Times: 100}, "provider_error", 502, false},
			)
		}
	}
	return out
}

func TestProviderFaultsOnTheWebSocket(t *testing.T) {
	noLeaks(t)
	env := servertest.New(t, servertest.Options{Env: faultTimeouts})
	_, tok, m := env.Learner("ann@example.com", intp(100))
	c := dial(t, env, tok, m.ID)
	for _, f := range faults() {
		t.Run(f.name, func(t *testing.T) {
			env.Sim.Fail(f.endpoint, f.failure)
			defer env.Sim.Fail(f.endpoint, openaisim.Failure{})
			start := time.Now()
			speech := client.Join(client.Voice(900*time.Millisecond, 16000), client.Silence(900*time.Millisecond, 16000))
			c.Stream(context.Background(), speech, 16000, 20*time.Millisecond, false) //nolint:errcheck
			evs, err := c.Until(turnBound+2*time.Second, "error", "response.done")
			if err != nil {
				t.Fatal(err)
			}
			last := evs[len(evs)-1]
			if last.Type != "error" || (last.Field("code") != f.code && !(f.orTimeout && last.Field("code") == "provider_timeout")) {
				t.Fatalf("turn ended with %s (%s)", last.Raw, client.Types(evs))
			}
			if took := time.Since(start); took > turnBound {
				t.Fatalf("the turn took %v to fail", took)
			}
			if i := indexOf(evs, "response.started"); i >= 0 {
				if j := indexOf(evs, "response.cancelled"); j < 0 || evs[j].Field("reason") != "error" {
					t.Fatalf("a reply that failed must be cancelled: %s", client.Types(evs))
				}
			}
		})
	}
	// The session survived every fault and still answers.
	c.Text("Are you back?")
	if evs, err := c.Until(15*time.Second, "response.done", "error"); err != nil || evs[len(evs)-1].Type != "response.done" {
		t.Fatalf("after the faults: %v %s", err, client.Types(evs))
	}
	c.Close()
	checkLedger(t, env, m.ID, 100)
}

func TestProviderFaultsOnUploadAndWait(t *testing.T) {
	noLeaks(t)
	env := servertest.New(t, servertest.Options{Env: faultTimeouts})
	_, tok, m := env.Learner("ann@example.com", intp(100))
	for _, f := range faults() {
		t.Run(f.name, func(t *testing.T) {
			env.Sim.Fail(f.endpoint, f.failure)
			defer env.Sim.Fail(f.endpoint, openaisim.Failure{})
			start := time.Now()
			r := upload(t, env, tok, map[string]string{"membershipId": m.ID}, "a.wav", "audio/wav", speechWAV())
			if f.orTimeout && r.Status == 504 {
				want(t, r, 504, "provider_timeout")
			} else {
				want(t, r, f.status, f.code)
			}
			if took := time.Since(start); took > turnBound {
				t.Fatalf("the upload took %v to fail", took)
			}
		})
	}
	r := upload(t, env, tok, map[string]string{"membershipId": m.ID}, "a.wav", "audio/wav", speechWAV())
	want(t, r, 200)
	checkLedger(t, env, m.ID, 100)
}

// checkLedger asserts the ledger identity of a membership's chat uses once its turns have
// settled.
func checkLedger(t *testing.T, env *servertest.Env, membershipID string, initial int) (charges, refunds int) {
	t.Helper()
	ctx := context.Background()
	deadline := time.Now().Add(10 * time.Second)
	for {
		ledger, err := env.Store.LedgerByMembership(ctx, membershipID)
		if err != nil {
			t.Fatal(err)
		}
		charges, refunds = 0, 0
		unsettled, answered := 0, 0
		for _, e := range ledger {
			switch {
			case e.Resource != "chat":
				continue // analysis uses are counted apart
			case e.Kind == "refund":
				refunds++
			case e.Outcome == nil:
				charges++
				unsettled++
			default:
				charges++
				if *e.Outcome == store.OutcomeAnswered {
					answered++
				}
			}
		}
		var remaining int
		if err := env.Store.DB().Get(&remaining, `SELECT remaining_chat_uses FROM memberships WHERE id = $1`, membershipID); err != nil {
			t.Fatal(err)
		}
		if unsettled == 0 {
			if initial-remaining != charges-refunds || charges-refunds != answered {
				t.Fatalf("initial − remaining = %d, charges − refunds = %d, answered = %d", initial-remaining, charges-refunds, answered)
			}
			return charges, refunds
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d charges still unsettled: %s", unsettled, fmt.Sprint(ledger))
		}
		time.Sleep(50 * time.Millisecond)
	}
}
