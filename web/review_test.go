package web_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/aitutor/aitutor/server/servertest"
	"github.com/aitutor/aitutor/session"
	"github.com/aitutor/aitutor/session/openaisim"
	"github.com/aitutor/aitutor/store"
)

// Browser tests of issue 12, "Reviews": a review of a conversation asked for on the tutor page
// and on past conversations, the review page (corrections beside the learner's own words with
// a replay of their recording, the level, the fluency figures, vocabulary, strengths and goals),
// refusals and failures explained, progress over time and what the tutor remembers on the home
// page, and analysis uses shown truthfully on plans, memberships and usage.

// reviewPlan creates a plan with chatUses and analysisUses (nil: unlimited).
func reviewPlan(t *testing.T, env *servertest.Env, name string, chatUses, analysisUses *int) store.Plan {
	t.Helper()
	p, err := env.Store.CreatePlan(context.Background(), store.NewPlan{Name: name, DurationDays: 30, ChatUses: chatUses, AnalysisUses: analysisUses, Target: store.B2C, Price: 900})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// storedConversation makes a conversation of membership m with one turn per text (no text: a
// failed turn with nothing of the learner's), straight in the database. Spoken turns carry
// speech timings, so that their review has fluency figures.
func storedConversation(t *testing.T, env *servertest.Env, u store.User, m store.Membership, spoken bool, texts ...string) string {
	t.Helper()
	ctx := context.Background()
	c, err := env.Store.CreateConversation(ctx, u.ID, m.ID, "ws", "intermediate", "")
	if err != nil {
		t.Fatal(err)
	}
	for i, text := range texts {
		msg := store.Message{ConversationID: c.ID, TurnID: fmt.Sprintf("turn_%s_%d", c.ID[:8], i), UserText: text, TutorText: "Tell me more about it.", Status: store.TurnDone}
		if text == "" {
			msg.Status, msg.TutorText = store.TurnFailed, ""
		}
		if spoken && text != "" {
			response := 900 + 100*i
			msg.Speech = &store.SpeechStats{UtteranceMs: 3000 + 400*i, VoicedMs: 2400, PausesMs: []int{300, 300 + 100*i}, ResponseMs: &response, TutorMs: 4000}
		}
		if err := env.Store.AddMessage(ctx, &msg); err != nil {
			t.Fatal(err)
		}
	}
	return c.ID
}

// analysisLeft is the remaining analysis uses of the user's membership, from GET /api/users/me.
func analysisLeft(t *testing.T, env *servertest.Env, token, membershipID string) *int {
	t.Helper()
	var me struct {
		Memberships []store.Membership `json:"memberships"`
	}
	env.Do(http.MethodGet, "/api/users/me", token, nil).JSON(t, &me)
	for _, m := range me.Memberships {
		if m.ID == membershipID {
			return m.RemainingAnalysisUses
		}
	}
	t.Fatalf("membership %s is not in /api/users/me", membershipID)
	return nil
}

// usageSummary is the summary of GET /api/users/me/usage.
func usageSummary(t *testing.T, env *servertest.Env, token string) store.UsageSummary {
	t.Helper()
	var use struct {
		Summary store.UsageSummary `json:"summary"`
	}
	env.Do(http.MethodGet, "/api/users/me/usage", token, nil).JSON(t, &use)
	return use.Summary
}

// noOverflow fails when the page is wider than the viewport (a phone must not scroll sideways).
func noOverflow(t *testing.T, tb *tab, what string) {
	t.Helper()
	if w := evalJS[int](tb, `document.documentElement.scrollWidth - window.innerWidth`); w > 0 {
		t.Errorf("%s at 390×844 is %d px wider than the screen", what, w)
	}
}

// TestReviewFromTutorPage: a conversation of a spoken and two typed turns on the tutor page,
// then "Review this conversation": the review page shows each correction beside the learner's
// own words with a replay of that turn's recording, the level with its reasons, the fluency
// figures, vocabulary, strengths and goals. Asking again for the unchanged conversation (from
// its page) shows the same review without charging again. Home, the usage history and the
// admin dashboard show the analysis use.
func TestReviewFromTutorPage(t *testing.T) {
	env := servertest.New(t, servertest.Options{})
	mic := writeMicWAV(t, "one-utterance.wav", speech(2500*time.Millisecond), silence(120*time.Second))
	u, token := env.User("rita@example.com", store.RoleUser)
	m := env.Membership(u, reviewPlan(t, env, "Talk and review", intp(20), intp(3)))
	browser := newBrowser(t, mic, false)
	p := newTab(t, browser, env.URL, "review")
	p.signInWithToken(token, "/tutor/"+m.ID)
	p.waitText("#remaining", "20 chats left", 10*time.Second)
	p.waitText("#review-card", "Uses one review of Talk and review (3 reviews left)", 5*time.Second)
	if !evalJS[bool](p, `document.querySelector("#review-conversation").disabled`) {
		t.Error("the review button is enabled before anything was said")
	}

	p.click("#start")
	p.waitJS("the spoken turn answered", `aitutorDebug.count("response.done") === 1`, 30*time.Second)
	p.typeTurn("Yesterday I go to the cinema with my friends.")
	p.typeTurn("We watched a film about a detective in London.")
	conv := events(p, "session.created")[0].ConversationID
	p.waitJS("the review button enabled", `!document.querySelector("#review-conversation").disabled`, 5*time.Second)
	p.screenshot("tutor-review-card-light")

	p.click("#review-conversation")
	p.waitJS("the review page", fmt.Sprintf(`location.hash === %q && document.querySelector("#review-corrections")`, "#/conversations/"+conv+"/review"), 60*time.Second)
	p.waitText("#toasts", "Your review is ready", 5*time.Second)

	// The review as the API has it, and the turns it is about.
	var rv session.Review
	if r := env.Do(http.MethodGet, "/api/conversations/"+conv+"/review", token, nil); r.Status != http.StatusOK {
		t.Fatalf("GET the review: %d %s", r.Status, r.Body)
	} else {
		r.JSON(t, &rv)
	}
	var stored struct {
		Messages []struct {
			TurnID       string `json:"turnId"`
			UserText     string `json:"userText"`
			UserAudioURL string `json:"userAudioUrl"`
		} `json:"messages"`
	}
	env.Do(http.MethodGet, "/api/conversations/"+conv, token, nil).JSON(t, &stored)
	if len(stored.Messages) != 3 || len(rv.Corrections) == 0 {
		t.Fatalf("the conversation has %d turns and its review %d corrections: want 3 turns and a correction", len(stored.Messages), len(rv.Corrections))
	}

	// Each correction beside the learner's words: their turn's text, the part to change
	// highlighted, the corrected version, the kind and the explanation.
	if n := evalJS[int](p, `document.querySelectorAll("#review-corrections li.correction").length`); n != len(rv.Corrections) {
		t.Errorf("%d corrections shown, want %d", n, len(rv.Corrections))
	}
	c := rv.Corrections[0]
	item := fmt.Sprintf(`#review-corrections li.correction[data-turn-id=%q]`, c.TurnID)
	var said, audio string
	for _, msg := range stored.Messages {
		if msg.TurnID == c.TurnID {
			said, audio = msg.UserText, msg.UserAudioURL
		}
	}
	if said == "" {
		t.Fatalf("the correction %+v names no turn of the conversation", c)
	}
	p.waitText(item+" blockquote", said, 5*time.Second)
	if got := p.text(item + " blockquote mark"); !strings.EqualFold(got, c.Original) {
		t.Errorf("the highlighted words are %q, want the correction's original %q", got, c.Original)
	}
	p.waitText(item+" .corrected", c.Corrected, time.Second)
	p.waitText(item+" .badge-kind", "Word choice", time.Second)
	p.waitText(item+" .explanation", c.Explanation, time.Second)

	// The corrected turn was spoken: its recording replays from the server.
	if audio == "" {
		t.Fatalf("the corrected turn %s has no recording (spoken turn expected: %q)", c.TurnID, said)
	}
	p.click(item + " button.replay")
	p.waitJS("the learner's recording", fmt.Sprintf(`aitutorDebug.events.some(e => e.type === "clip" && e.url === %q && e.status === 200 && e.rate === 16000 && e.samples >= 16000)`, audio), 10*time.Second)

	// The level and its reasons, the fluency figures, vocabulary, strengths and goals.
	if got := p.text("#review-cefr"); got != rv.Level.CEFR || got == "" {
		t.Errorf("the level shown is %q, want %q", got, rv.Level.CEFR)
	}
	p.waitText(`#review-level [aria-current="step"]`, rv.Level.CEFR, time.Second)
	if n := evalJS[int](p, `document.querySelectorAll("#review-level .reasons li").length`); n != len(rv.Level.Reasons) || n == 0 {
		t.Errorf("%d reasons for the level shown, want %d", n, len(rv.Level.Reasons))
	}
	p.waitText("#review-fluency", "1 spoken turn", time.Second)
	p.waitText(`#review-fluency [data-figure="wordsPerMinute"]`, "Speaking speed", time.Second)
	p.waitText(`#review-fluency [data-figure="wordsPerMinute"]`, fmt.Sprintf("%d words a minute", int(*rv.Fluency.WordsPerMinute+0.5)), time.Second)
	p.waitText(`#review-fluency [data-figure="talkTimeShare"]`, "Your share of the talking", time.Second)
	if n := evalJS[int](p, `document.querySelectorAll("#review-fluency .figure .bar > span").length`); n < 4 {
		t.Errorf("%d fluency bars, want one per measured figure", n)
	}
	if n := evalJS[int](p, `document.querySelectorAll("#review-goals ol li").length`); n != len(rv.NextGoals) || n == 0 || n > 3 {
		t.Errorf("%d goals shown, want %d", n, len(rv.NextGoals))
	}
	p.waitText("#review-goals", rv.NextGoals[0], time.Second)
	p.waitText("#review-strengths", rv.Strengths[0], time.Second)
	if len(rv.Vocabulary) > 0 {
		p.waitText("#review-vocabulary dt", rv.Vocabulary[0].Phrase, time.Second)
	}
	if n := evalJS[int](p, `document.querySelectorAll("main h1").length === 1 && document.querySelectorAll("main section h2").length`); n < 6 {
		t.Errorf("the review page has %d section headings, want one per part under one h1", n)
	}
	if got := analysisLeft(t, env, token, m.ID); got == nil || *got != 2 {
		t.Errorf("analysis uses left after the review: %v, want 2", got)
	}
	evalJS[chromedp.Void](p, `window.scrollTo(0, 0)`)
	p.screenshots("review")
	p.do("phone size", chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile))
	noOverflow(t, p, "the review page")
	p.screenshot("review-phone-light")
	evalJS[chromedp.Void](p, `window.scrollTo(0, document.querySelector("#review-corrections").offsetTop - 110)`)
	p.screenshot("review-phone-corrections-light")
	p.do("desktop size", chromedp.EmulateViewport(1280, 800))

	// Asked again from the conversation's page, with nothing said since: the same review,
	// not charged again.
	p.click("#back-to-conversation")
	p.waitText("#conversation-review", "see the review (level "+rv.Level.CEFR+")", 10*time.Second)
	p.click("#review-conversation")
	p.waitJS("the review page again", fmt.Sprintf(`location.hash === %q && document.querySelector("#review-corrections")`, "#/conversations/"+conv+"/review"), 30*time.Second)
	p.waitText("#toasts", "nothing was charged", 5*time.Second)
	if got := analysisLeft(t, env, token, m.ID); got == nil || *got != 2 {
		t.Errorf("analysis uses left after asking again for the unchanged conversation: %v, want 2", got)
	}
	if s := usageSummary(t, env, token); s.AnalysisCharges != 1 || s.AnalysisNet != 1 {
		t.Errorf("usage after asking twice: %+v, want one analysis charge", s)
	}
	var again session.Review
	env.Do(http.MethodGet, "/api/conversations/"+conv+"/review", token, nil).JSON(t, &again)
	if again.ID != rv.ID {
		t.Errorf("the review shown the second time is %s, want the first one, %s", again.ID, rv.ID)
	}

	// Home: the membership's reviews left, the review in the usage history, the progress.
	p.click(`#nav a[href="#/"]`)
	card := fmt.Sprintf(`[data-membership-id=%q]`, m.ID)
	p.waitText(card+" .uses-reviews", "2 reviews left", 10*time.Second)
	p.waitText(`#usage .usage-analysis .description`, "Conversation review", 10*time.Second)
	p.waitText("#usage-summary", "1 review used", time.Second)
	p.waitText("#progress-latest", rv.Level.CEFR, 10*time.Second)

	// Admin: the analysis use in the user's usage history, and the review per day.
	_, adminToken := env.User("boss@example.com", store.RoleAdmin)
	a := newTab(t, browser, env.URL, "admin")
	a.signInWithToken(adminToken, "/admin/users/"+u.ID)
	a.waitText(`#admin-usage tr[data-resource="analysis"]`, "Conversation review", 10*time.Second)
	a.waitText(`#admin-usage tr[data-resource="analysis"]`, "Review", time.Second)
	a.waitText(`#admin-usage [data-stat="reviews"] .value`, "1", time.Second)
	a.waitText(fmt.Sprintf(`#admin-user-memberships tr[data-membership-id=%q]`, m.ID), "2", time.Second)
	a.goTo("/admin/metrics")
	a.waitVisible("#chart-reviews canvas")
	a.waitText(`#metrics-totals [data-stat="reviews"] .value`, "1", 10*time.Second)
	a.waitText(`#metrics-totals [data-stat="analysis-uses"] .value`, "1", time.Second)
	evalJS[chromedp.Void](a, `document.querySelector("#reviews-h").scrollIntoView()`)
	a.screenshot("admin-metrics-reviews-light")
}

// TestReviewRefusals: a membership without reviews (analysisUses 0) explains the 402 and links
// to the plans, on the conversation's page and in the home list; a conversation with nothing of
// the learner's explains the 400; a review the reviewer could not write explains that nothing
// was charged (5xx), offers to try again, and the retry works.
func TestReviewRefusals(t *testing.T) {
	env := servertest.New(t, servertest.Options{})
	u, token := env.User("nora@example.com", store.RoleUser)
	none := env.Membership(u, reviewPlan(t, env, "Talk only", intp(10), intp(0)))
	some := env.Membership(u, reviewPlan(t, env, "Talk and review", intp(10), intp(3)))
	noReviews := storedConversation(t, env, u, none, false, "I am go to the office every day by bus.")
	p := newTab(t, newBrowser(t, writeMicWAV(t, "silence.wav", silence(time.Second)), false), env.URL, "refusals")

	// 402 on the conversation's page: no reviews on that membership, nothing charged.
	p.signInWithToken(token, "/conversations/"+noReviews)
	p.waitText("#conversation-review .review-hint", "Talk only includes no reviews", 10*time.Second)
	p.click("#review-conversation")
	errBox := `#review-conversation-status .review-error[data-code="quota_exhausted"]`
	p.waitText(errBox, "No reviews on this membership", 10*time.Second)
	p.waitText(errBox, "(Talk only) includes no reviews. Nothing was charged.", time.Second)
	p.waitVisible(errBox + ` a[href="#/plans"]`)
	if evalJS[bool](p, `document.querySelector(".review-retry") !== null`) {
		t.Error("a 402 offers to try again")
	}
	if !evalJS[bool](p, `location.hash.endsWith("/conversations/`+noReviews+`")`) {
		t.Errorf("a refused review left the page: %s", evalJS[string](p, `location.hash`))
	}
	p.screenshot("review-no-uses-light")

	// Its review page, with no review yet, offers one (and explains the same refusal).
	p.goTo("/conversations/" + noReviews + "/review")
	p.waitText("#review-meta", "has not been reviewed yet", 10*time.Second)
	p.click("#no-review #review-conversation")
	p.waitText(errBox, "includes no reviews", 10*time.Second)

	// The same from the home list; the membership cards say what each has.
	p.click(`a[href="#/"]`)
	p.waitText(fmt.Sprintf(`[data-membership-id=%q] .uses-reviews`, none.ID), "No reviews included", 10*time.Second)
	p.waitText(fmt.Sprintf(`[data-membership-id=%q] .uses-reviews`, some.ID), "3 reviews left", time.Second)
	item := fmt.Sprintf(`#conversations li[data-conversation-id=%q]`, noReviews)
	p.click(item + " .review-button")
	p.waitText(item+` .review-error[data-code="quota_exhausted"]`, "includes no reviews", 10*time.Second)

	// 400: nothing of the learner's in the conversation (its one turn failed before any words).
	empty := storedConversation(t, env, u, some, false, "")
	p.do("reload", chromedp.Reload())
	emptyItem := fmt.Sprintf(`#conversations li[data-conversation-id=%q]`, empty)
	p.click(emptyItem + " .review-button")
	p.waitText(emptyItem+` .review-error[data-code="nothing_to_review"]`, "Nothing to review yet", 10*time.Second)
	p.waitText(emptyItem+" .review-error", "Say or type something to the tutor first", time.Second)

	// 502: the reviewer fails; the progress shows meanwhile, the use is given back, and the
	// retry writes the review.
	failing := storedConversation(t, env, u, some, false, "Last summer I have visited my grandmother in Porto.")
	env.Sim.Fail(openaisim.EndpointChat, openaisim.Failure{Status: http.StatusInternalServerError, Times: 100})
	p.goTo("/conversations/" + failing)
	p.waitText("#conversation-review .review-hint", "3 reviews left", 10*time.Second)
	// The progress is shown while the review is written, with the button off (watched, since
	// the failure may come quickly).
	evalJS[chromedp.Void](p, `(() => {
		window.sawProgress = false;
		const check = () => {
			const progress = document.querySelector("#review-conversation-status .review-progress[role=status] progress");
			if (progress && document.querySelector("#review-conversation").disabled && progress.closest(".review-progress").innerText.includes("Writing your review")) window.sawProgress = true;
		};
		new MutationObserver(check).observe(document.querySelector("#conversation-review"), {subtree: true, childList: true, attributes: true});
	})()`)
	p.click("#review-conversation")
	p.waitText("#review-conversation-status .review-error", "The review could not be written", 60*time.Second)
	p.waitText("#review-conversation-status .review-error", "You were not charged", time.Second)
	if !evalJS[bool](p, `window.sawProgress`) {
		t.Error("no progress was shown, with the button off, while the review was written")
	}
	p.screenshot("review-failed-light")
	if got := analysisLeft(t, env, token, some.ID); got == nil || *got != 3 {
		t.Errorf("analysis uses left after a failed review: %v, want 3 (refunded)", got)
	}
	env.Sim.Fail(openaisim.EndpointChat, openaisim.Failure{})
	p.click("#review-conversation-status .review-retry")
	p.waitJS("the review page after the retry", fmt.Sprintf(`location.hash === %q && document.querySelector("#review-corrections")`, "#/conversations/"+failing+"/review"), 30*time.Second)
	p.waitText("#review-fluency", "You typed in this conversation", 5*time.Second)
	if got := analysisLeft(t, env, token, some.ID); got == nil || *got != 2 {
		t.Errorf("analysis uses left after the retry: %v, want 2", got)
	}
	if s := usageSummary(t, env, token); s.AnalysisCharges != 2 || s.AnalysisRefunds != 1 || s.AnalysisNet != 1 {
		t.Errorf("usage after a failed review and its retry: %+v, want 2 charges, 1 refund", s)
	}
	p.goTo("/")
	p.waitText("#usage", "Refunded: the review could not be written", 10*time.Second)
}

// TestProgressAndProfile: the home page shows the learner's level and fluency across their
// reviews and what the tutor remembers of them; "Forget this" (confirmed) clears what it
// remembers, not the reviews. Plan cards, the purchase dialog and membership cards state the
// reviews a plan includes.
func TestProgressAndProfile(t *testing.T) {
	env := servertest.New(t, servertest.Options{})
	u, token := env.User("omar@example.com", store.RoleUser)
	m := env.Membership(u, reviewPlan(t, env, "Unlimited talk", nil, nil))
	reviewPlan(t, env, "Three reviews", intp(10), intp(3))
	reviewPlan(t, env, "No reviews", intp(10), intp(0))
	for _, texts := range [][]string{
		{"I goed to the park with my dog on Sunday.", "It was very sunny and we played football."},
		{"Tomorrow I am going to visit my sister in Madrid.", "She works as a nurse in a big hospital there."},
	} {
		conv := storedConversation(t, env, u, m, true, texts...)
		if r := env.Do(http.MethodPost, "/api/conversations/"+conv+"/review", token, nil); r.Status != http.StatusCreated {
			t.Fatalf("review of %s: %d %s", conv, r.Status, r.Body)
		}
	}
	var profile struct {
		Level    string `json:"level"`
		Reviews  int    `json:"reviews"`
		Mistakes []struct{ Original, Corrected string }
		Goals    []string `json:"goals"`
		Progress []struct {
			CEFR string `json:"cefr"`
		} `json:"progress"`
	}
	env.Do(http.MethodGet, "/api/users/me/profile", token, nil).JSON(t, &profile)
	if profile.Reviews != 2 || len(profile.Progress) != 2 || len(profile.Mistakes) == 0 || len(profile.Goals) == 0 {
		t.Fatalf("the profile after two reviews: %+v", profile)
	}

	p := newTab(t, newBrowser(t, writeMicWAV(t, "silence.wav", silence(time.Second)), false), env.URL, "progress")
	p.signInWithToken(token, "/")
	// Progress: the level now, across both reviews, as charts and as a table.
	p.waitText("#progress-latest", profile.Progress[1].CEFR, 10*time.Second)
	p.waitText("#progress-latest", "2 reviews", time.Second)
	p.waitVisible("#chart-level canvas")
	p.waitVisible("#chart-speed canvas")
	if got := evalJS[string](p, `document.querySelector("#chart-level .uplot").getAttribute("role") + " " + document.querySelector("#chart-level .uplot").getAttribute("aria-label")`); !strings.Contains(got, "img Line chart of your CEFR level over 2 reviews") {
		t.Errorf("the level chart is labelled %q", got)
	}
	if n := evalJS[int](p, `document.querySelectorAll("#progress-table tbody tr").length`); n != 2 {
		t.Errorf("%d reviews in the progress table, want 2", n)
	}
	// What the tutor remembers.
	p.waitText("#memory-level", profile.Level, 5*time.Second)
	p.waitText("#memory-mistakes", profile.Mistakes[0].Original, time.Second)
	p.waitText("#memory-mistakes", profile.Mistakes[0].Corrected, time.Second)
	p.waitText("#memory-goals", profile.Goals[0], time.Second)
	p.waitText(fmt.Sprintf(`[data-membership-id=%q] .uses-reviews`, m.ID), "Unlimited reviews", time.Second)
	evalJS[chromedp.Void](p, `window.scrollTo(0, document.querySelector("#progress-h").offsetTop - 80)`)
	p.screenshots("home-progress")
	p.do("phone size", chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile))
	noOverflow(t, p, "the home page")
	evalJS[chromedp.Void](p, `window.scrollTo(0, document.querySelector("#progress-h").offsetTop - 110)`)
	p.screenshot("home-progress-phone-light")
	p.do("desktop size", chromedp.EmulateViewport(1280, 800))

	// "Forget this": asks first (cancel keeps it), then clears what the tutor remembers.
	p.click("#forget-profile")
	p.waitVisible(`dialog[data-testid="confirm-forget"]`)
	p.waitText(`dialog[data-testid="confirm-forget"]`, "Your conversations and their reviews stay", time.Second)
	p.do("escape", chromedp.KeyEvent(kb.Escape))
	p.waitJS("the dialog closed", `!document.querySelector("dialog")`, 5*time.Second)
	env.Do(http.MethodGet, "/api/users/me/profile", token, nil).JSON(t, &profile)
	if profile.Reviews != 2 {
		t.Fatalf("the profile was cleared without confirmation: %+v", profile)
	}
	p.click("#forget-profile")
	p.click(`dialog[data-testid="confirm-forget"] button.danger`)
	p.waitText("#memory-empty", "The tutor remembers nothing about you yet", 10*time.Second)
	if evalJS[bool](p, `document.querySelector("#forget-profile") !== null`) {
		t.Error("Forget this is still offered with nothing remembered")
	}
	env.Do(http.MethodGet, "/api/users/me/profile", token, nil).JSON(t, &profile)
	if profile.Reviews != 0 || profile.Level != "" || len(profile.Mistakes) != 0 || len(profile.Goals) != 0 || len(profile.Progress) != 2 {
		t.Errorf("the profile after Forget this: %+v, want it empty with both reviews kept", profile)
	}
	if n := evalJS[int](p, `document.querySelectorAll("#progress-table tbody tr").length`); n != 2 {
		t.Errorf("%d reviews in the progress table after Forget this, want 2 (reviews stay)", n)
	}
	p.do("reload", chromedp.Reload())
	p.waitText("#memory-empty", "remembers nothing", 10*time.Second)

	// Plans: what each plan includes, in the card and in the purchase dialog.
	p.click(`#nav a[href="#/plans"]`)
	for name, want := range map[string]string{"Unlimited talk": "Unlimited reviews", "Three reviews": "3 reviews", "No reviews": "No reviews"} {
		p.waitText(fmt.Sprintf(`[data-plan-name=%q] ul`, name), want, 10*time.Second)
	}
	if got := p.text("#plans"); strings.Contains(strings.ToLower(got), "analys") {
		t.Errorf("the plans page still speaks of analyses: %q", got)
	}
	p.click(`[data-plan-name="Three reviews"] button`)
	p.waitText(`dialog[data-testid="confirm-purchase"]`, "10 chats and 3 reviews for 30 days", 5*time.Second)
	p.do("escape", chromedp.KeyEvent(kb.Escape))
	p.click(`[data-plan-name="No reviews"] button`)
	p.waitText(`dialog[data-testid="confirm-purchase"]`, "10 chats and no reviews for 30 days", 5*time.Second)
	p.do("escape", chromedp.KeyEvent(kb.Escape))
}
