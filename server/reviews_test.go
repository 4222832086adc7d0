package server_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/aitutor/aitutor/server/servertest"
	"github.com/aitutor/aitutor/session"
	"github.com/aitutor/aitutor/session/client"
	"github.com/aitutor/aitutor/session/openaisim"
	"github.com/aitutor/aitutor/store"
)

// A learner talks, then asks for a review: paid with one analysis use, never twice for the same
// conversation state, refunded when it cannot be written; it feeds the profile that the tutor's
// instructions carry in the next conversation.
func TestReviewAConversation(t *testing.T) {
	noLeaks(t)
	env := servertest.New(t, servertest.Options{})
	u, tok := env.User("ann@example.com", store.RoleUser)
	plan, err := env.Store.CreatePlan(context.Background(), store.NewPlan{Name: "Talk and review", DurationDays: 30, ChatUses: intp(20), AnalysisUses: intp(2), Target: store.B2C, Price: 100})
	if err != nil {
		t.Fatal(err)
	}
	m := env.Membership(u, plan)
	c := dial(t, env, tok, m.ID)
	talk := func(text string) {
		t.Helper()
		c.Text(text)
		if evs, err := c.Until(15*time.Second, "response.done", "error"); err != nil || evs[len(evs)-1].Type != "response.done" {
			t.Fatalf("turn: %v %s", err, client.Types(evs))
		}
	}
	talk("Yesterday I go to the cinema with my friends.")
	speech := client.Join(client.Silence(300*time.Millisecond, 16000), client.Voice(700*time.Millisecond, 16000), client.Silence(500*time.Millisecond, 16000), client.Voice(600*time.Millisecond, 16000), client.Silence(900*time.Millisecond, 16000))
	c.Stream(context.Background(), speech, 16000, 20*time.Millisecond, false) //nolint:errcheck
	if evs, err := c.Until(15*time.Second, "response.done", "error"); err != nil || evs[len(evs)-1].Type != "response.done" {
		t.Fatalf("spoken turn: %v %s", err, client.Types(evs))
	}
	conv := reqsConversation(t, env, m.ID)
	analysisLeft := func() int {
		got, _ := env.Store.UserMembership(context.Background(), u.ID, m.ID)
		return *got.RemainingAnalysisUses
	}

	var rv session.Review
	r := env.Do("POST", "/api/conversations/"+conv+"/review", tok, nil)
	want(t, r, 201)
	r.JSON(t, &rv)
	if rv.ConversationID != conv || rv.Level.CEFR == "" || len(rv.Level.Reasons) == 0 || len(rv.NextGoals) > 3 {
		t.Fatalf("review %s", r.Body)
	}
	if len(rv.Corrections) == 0 || !strings.Contains("Yesterday I go to the cinema with my friends. "+openaisim.DefaultTranscript, rv.Corrections[0].Original) {
		t.Fatalf("corrections %+v", rv.Corrections)
	}
	if f := rv.Fluency; f.SpokenTurns != 1 || f.WordsPerMinute == nil || f.LongestPauseMs == nil || *f.LongestPauseMs < 400 || f.TalkTimeShare == nil {
		t.Fatalf("fluency %+v", rv.Fluency)
	}
	if analysisLeft() != 1 {
		t.Fatalf("%d analysis uses left after one review", analysisLeft())
	}
	// Nothing said since: the stored review, no charge.
	var again session.Review
	r = env.Do("POST", "/api/conversations/"+conv+"/review", tok, nil)
	want(t, r, 200)
	r.JSON(t, &again)
	if again.ID != rv.ID || analysisLeft() != 1 {
		t.Fatalf("the unchanged conversation was reviewed again: %s (%d left)", r.Body, analysisLeft())
	}
	want(t, env.Do("GET", "/api/conversations/"+conv+"/review", tok, nil), 200)

	// The reviewer fails: refunded, clear error.
	talk("I very like football.")
	env.Sim.Fail(openaisim.EndpointChat, openaisim.Failure{Status: 500, Times: 100})
	if r := env.Do("POST", "/api/conversations/"+conv+"/review", tok, nil); r.Status != 502 || !strings.Contains(string(r.Body), "analysis use was refunded") {
		t.Fatalf("a failed review: %d %s", r.Status, r.Body)
	}
	env.Sim.Fail(openaisim.EndpointChat, openaisim.Failure{})
	if analysisLeft() != 1 {
		t.Fatalf("a failed review cost a use: %d left", analysisLeft())
	}
	want(t, env.Do("POST", "/api/conversations/"+conv+"/review", tok, nil), 201)
	talk("One more thing.")
	want(t, env.Do("POST", "/api/conversations/"+conv+"/review", tok, nil), 402, "quota_exhausted")
	c.Close()

	// Refusals.
	_, bobTok, _ := env.Learner("bob@example.com", intp(3))
	want(t, env.Do("POST", "/api/conversations/"+conv+"/review", bobTok, nil), 404, "not_found")
	want(t, env.Do("GET", "/api/conversations/"+conv+"/review", bobTok, nil), 404, "not_found")
	want(t, env.Do("POST", "/api/conversations/nope/review", tok, nil), 404)
	want(t, env.Do("POST", "/api/conversations/"+conv+"/review", "", nil), 401)
	empty := dial(t, env, tok, m.ID) // a session in which nothing is said
	emptyConv := reqsConversation(t, env, m.ID)
	want(t, env.Do("POST", "/api/conversations/"+emptyConv+"/review", tok, nil), 400, "nothing_to_review")
	want(t, env.Do("GET", "/api/conversations/"+emptyConv+"/review", tok, nil), 404, "not_found")
	empty.Close()

	// The profile: what the tutor remembers, in the next conversation's instructions.
	var profile struct {
		Level    string `json:"level"`
		Goals    []string
		Reviews  int
		Progress []struct {
			CEFR string `json:"cefr"`
		} `json:"progress"`
	}
	r = env.Do("GET", "/api/users/me/profile", tok, nil)
	want(t, r, 200)
	r.JSON(t, &profile)
	if profile.Level == "" || profile.Reviews != 2 || len(profile.Goals) == 0 || len(profile.Progress) != 2 {
		t.Fatalf("profile %s", r.Body)
	}
	next := dial(t, env, tok, m.ID)
	next.Text("Hello again!")
	if _, err := next.Until(15*time.Second, "response.done"); err != nil {
		t.Fatal(err)
	}
	reqs := env.Sim.ChatRequests()
	system := reqs[len(reqs)-1].Messages[0].Content
	if !strings.Contains(system, "practised with you before") || !strings.Contains(system, profile.Level) {
		t.Fatalf("the tutor does not remember the learner:\n%s", system)
	}
	next.Close()
	want(t, env.Do("DELETE", "/api/users/me/profile", tok, nil), 204)
	r = env.Do("GET", "/api/users/me/profile", tok, nil)
	r.JSON(t, &profile)
	if profile.Reviews != 0 || profile.Level != "" {
		t.Fatalf("after forgetting: %s", r.Body)
	}
	last := dial(t, env, tok, m.ID)
	last.Text("Do you remember me?")
	if _, err := last.Until(15*time.Second, "response.done"); err != nil {
		t.Fatal(err)
	}
	reqs = env.Sim.ChatRequests()
	if strings.Contains(reqs[len(reqs)-1].Messages[0].Content, "practised with you before") {
		t.Fatal("the tutor still remembers a forgotten profile")
	}
	last.Close()
	checkLedger(t, env, m.ID, 20)
}
