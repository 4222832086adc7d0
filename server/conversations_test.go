package server_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aitutor/aitutor/server/servertest"
	"github.com/aitutor/aitutor/session/client"
	"github.com/aitutor/aitutor/session/openaisim"
	"github.com/aitutor/aitutor/store"
)

type conversationBody struct {
	store.Conversation
	Messages []struct {
		TurnID        string `json:"turnId"`
		UserText      string `json:"userText"`
		TutorText     string `json:"tutorText"`
		Status        string `json:"status"`
		UserAudioURL  string `json:"userAudioUrl"`
		TutorAudioURL string `json:"tutorAudioUrl"`
	} `json:"messages"`
}

// A learner reconnects with the conversation's id: the tutor gets its history back, the
// conversation API shows every turn with both recordings, and nobody else can use the id.
func TestResumeAConversationOverTheWebSocket(t *testing.T) {
	noLeaks(t)
	env := servertest.New(t, servertest.Options{})
	env.Sim.SetReply(func(openaisim.ChatRequest) string { return "Nice to meet you. What do you like to do?" })
	u, tok, m := env.Learner("ann@example.com", intp(10))
	c := dial(t, env, tok, m.ID)
	c.Text("My name is Ann.")
	evs, err := c.Until(15*time.Second, "response.done", "error")
	if err != nil || evs[len(evs)-1].Type != "response.done" {
		t.Fatalf("typed turn: %v %s", err, client.Types(evs))
	}
	conv := reqsConversation(t, env, m.ID)
	// A spoken turn too, so that the learner's recording is stored.
	speech := client.Join(client.Voice(900*time.Millisecond, 16000), client.Silence(900*time.Millisecond, 16000))
	c.Stream(context.Background(), speech, 16000, 20*time.Millisecond, false) //nolint:errcheck
	evs, err = c.Until(15*time.Second, "response.done", "error")
	if err != nil || evs[len(evs)-1].Type != "response.done" {
		t.Fatalf("spoken turn: %v %s", err, client.Types(evs))
	}
	c.Close()

	// Resume: same conversation, its turns in the next chat request.
	c2, err := client.Dial(context.Background(), env.WSURL(m.ID)+"&conversationId="+conv, client.Options{Token: tok})
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	ev, err := c2.Next(5 * time.Second)
	var sc struct {
		ConversationID string `json:"conversationId"`
		Resumed        bool   `json:"resumed"`
		Turns          int    `json:"turns"`
	}
	ev.Decode(&sc) //nolint:errcheck
	if err != nil || sc.ConversationID != conv || !sc.Resumed || sc.Turns != 2 {
		t.Fatalf("session.created on resume: %s %v", ev.Raw, err)
	}
	c2.Text("What is my name?")
	if _, err := c2.Until(15*time.Second, "response.done"); err != nil {
		t.Fatal(err)
	}
	reqs := env.Sim.ChatRequests()
	msgs := reqs[len(reqs)-1].Messages
	if len(msgs) != 6 || msgs[1].Content != "My name is Ann." || msgs[5].Content != "What is my name?" {
		t.Fatalf("the resumed turn's chat request: %+v", msgs)
	}
	c2.Close()

	// The conversation API: three turns, both recordings of the spoken one.
	var body conversationBody
	deadline := time.Now().Add(5 * time.Second)
	for {
		r := env.Do("GET", "/api/conversations/"+conv, tok, nil)
		want(t, r, 200)
		r.JSON(t, &body)
		if len(body.Messages) == 3 && body.Messages[1].UserAudioURL != "" && body.Messages[2].TutorAudioURL != "" || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if len(body.Messages) != 3 || body.Messages[0].UserText != "My name is Ann." || body.Messages[0].Status != store.TurnDone {
		t.Fatalf("conversation %+v", body)
	}
	spoken := body.Messages[1]
	if spoken.UserAudioURL == "" || spoken.TutorAudioURL == "" || !strings.HasPrefix(spoken.UserAudioURL, "/api/audio/") {
		t.Fatalf("recordings of the spoken turn: %+v", spoken)
	}
	for _, path := range []string{spoken.UserAudioURL, spoken.TutorAudioURL} {
		r := env.Do("GET", path, "", nil)
		if r.Status != 200 || r.Header.Get("Content-Type") != "audio/wav" || len(r.Body) < 1000 {
			t.Fatalf("GET %s: %d %s (%d bytes)", path, r.Status, r.Header.Get("Content-Type"), len(r.Body))
		}
	}
	var list store.ConversationPage
	r := env.Do("GET", "/api/conversations?limit=5", tok, nil)
	want(t, r, 200)
	r.JSON(t, &list)
	if len(list.Conversations) != 1 || list.Conversations[0].ID != conv || list.Conversations[0].Turns != 3 || list.Conversations[0].Preview != "My name is Ann." {
		t.Fatalf("list %+v", list)
	}

	// Nobody else can read or continue it; another membership of hers cannot pay for it.
	_, bobTok, bobM := env.Learner("bob@example.com", intp(3))
	want(t, env.Do("GET", "/api/conversations/"+conv, bobTok, nil), 404, "not_found")
	_, err = client.Dial(context.Background(), env.WSURL(bobM.ID)+"&conversationId="+conv, client.Options{Token: bobTok})
	var he *client.HTTPError
	if !errors.As(err, &he) || he.Status != http.StatusNotFound {
		t.Fatalf("another user's resume: %v", err)
	}
	other := env.Membership(u, env.Plan("second", intp(3), store.B2C))
	_, err = client.Dial(context.Background(), env.WSURL(other.ID)+"&conversationId="+conv, client.Options{Token: tok})
	if !errors.As(err, &he) || he.Status != http.StatusBadRequest || !strings.Contains(he.Body, "conversation_mismatch") {
		t.Fatalf("resume with another membership: %v", err)
	}
	_, err = client.Dial(context.Background(), env.WSURL(m.ID)+"&conversationId=nope", client.Options{Token: tok})
	if !errors.As(err, &he) || he.Status != http.StatusBadRequest {
		t.Fatalf("malformed conversationId: %v", err)
	}
	want(t, env.Do("GET", "/api/conversations/nope", tok, nil), 404, "not_found")
	want(t, env.Do("GET", "/api/conversations", "", nil), 401)
	want(t, env.Do("GET", "/api/conversations?cursor=%25%25", tok, nil), 400, "bad_request")
	want(t, env.Do("GET", "/api/conversations?limit=0", tok, nil), 400, "bad_request")
}

// The usage history says in words what each charge and refund was for.
func TestUsageHistoryInWords(t *testing.T) {
	noLeaks(t)
	p := slowReplies
	env := servertest.New(t, servertest.Options{Profile: &p})
	_, tok, m := env.Learner("ann@example.com", intp(5))
	c := dial(t, env, tok, m.ID)
	c.Text("Tell me about London.")
	if _, err := c.Until(10*time.Second, "audio"); err != nil {
		t.Fatal(err)
	}
	c.Cancel()
	if _, err := c.Until(5*time.Second, "response.cancelled"); err != nil {
		t.Fatal(err)
	}
	var usage struct {
		Summary store.UsageSummary `json:"summary"`
		Ledger  []struct {
			Kind        string `json:"kind"`
			Reason      string `json:"reason"`
			Description string `json:"description"`
		} `json:"ledger"`
	}
	r := env.Do("GET", "/api/users/me/usage", tok, nil)
	want(t, r, 200)
	r.JSON(t, &usage)
	if len(usage.Ledger) != 2 || usage.Summary.Net != 0 {
		t.Fatalf("usage %+v", usage)
	}
	refund, charge := usage.Ledger[0], usage.Ledger[1]
	if refund.Kind != "refund" || !strings.Contains(refund.Description, "before you heard its first sentence") || !strings.Contains(refund.Description, "Tell me about London.") {
		t.Fatalf("refund %+v", refund)
	}
	if charge.Kind != "charge" || !strings.HasPrefix(charge.Description, "Typed conversation turn") || strings.Contains(charge.Description, "turn_") {
		t.Fatalf("charge %+v", charge)
	}
	// The admin metrics count it.
	_, adminTok := env.User("admin@example.com", store.RoleAdmin)
	var days []store.DayMetrics
	r = env.Do("GET", "/api/admin/metrics/turns?days=1", adminTok, nil)
	want(t, r, 200)
	r.JSON(t, &days)
	if len(days) != 1 || days[0].Refunded != 1 || days[0].Cancelled != 1 || days[0].Answered != 0 {
		t.Fatalf("metrics %+v", days)
	}
}
