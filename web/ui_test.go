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
	"github.com/aitutor/aitutor/session/openaisim"
	"github.com/aitutor/aitutor/store"
)

// Browser tests of issue 4: the learner's pages, the tutor with a fake microphone, the admin
// dashboard and the refusals, in real headless Chromium against the real server, the OpenAI
// simulator and PostgreSQL. They write screenshots of every page, light and dark, to
// test-artifacts/screenshots/.

type debugEvent struct {
	Type   string         `json:"type"`
	TurnID string         `json:"turnId"`
	Reason string         `json:"reason"`
	Why    string         `json:"why"`
	Code   string         `json:"code"`
	Heard  map[string]int `json:"heard"`
	Level  string         `json:"level"`
	Topic  string         `json:"topic"`
	Text   string         `json:"text"`
	// session.created
	ConversationID    string `json:"conversationId"`
	Resumed           bool   `json:"resumed"`
	Turns             int    `json:"turns"`
	RemainingChatUses *int   `json:"remainingChatUses"`
	// response.cancelled
	Refunded bool `json:"refunded"`
	// response.resumed
	OffsetMs int `json:"offsetMs"`
	// connection
	State string `json:"state"`
}

type audioStats struct {
	ScheduledSamples int     `json:"scheduledSamples"`
	PlayedSamples    int     `json:"playedSamples"`
	Stops            int     `json:"stops"`
	Playing          bool    `json:"playing"`
	ContextState     string  `json:"contextState"`
	ContextTime      float64 `json:"contextTime"`
}

func events(tb *tab, types ...string) []debugEvent {
	tb.t.Helper()
	all := debugJSON[[]debugEvent](tb, "events")
	var out []debugEvent
	for _, e := range all {
		for _, t := range types {
			if e.Type == t {
				out = append(out, e)
			}
		}
	}
	return out
}

func intp(n int) *int { return &n }

// TestLearnerAndAdmin runs the pages of one server in one browser whose microphone says one
// utterance and then stays silent: sign-up, purchase, a spoken and a typed turn, the
// dashboard, the refusals, the exhausted membership, the denied microphone and a lost
// connection (last: it shuts the server's sessions down).
func TestLearnerAndAdmin(t *testing.T) {
	env := servertest.New(t, servertest.Options{})
	mic := writeMicWAV(t, "one-utterance.wav", speech(2500*time.Millisecond), silence(45*time.Second))
	browserCtx := newBrowser(t, mic, false)

	env.Plan("Conversation 20", intp(20), store.B2C)
	env.Plan("Company Gold", nil, store.B2B)
	var learnerToken string

	t.Run("a learner signs up, buys a plan and talks with the tutor", func(t *testing.T) {
		l := newTab(t, browserCtx, env.URL, "learner")

		// Signed out: the app shows what the tutor does, its plans and the way in.
		l.open("/")
		l.waitText("#public-plans", "Conversation 20", 10*time.Second)
		if strings.Contains(l.text("#public-plans"), "Company Gold") {
			t.Error("a visitor is shown a B2B plan")
		}
		l.click("#welcome-signin")
		l.waitJS("the sign-in page", `location.hash === "#/signin" && document.querySelector("#signin-email")`, 10*time.Second)
		l.screenshots("signin")
		l.click(`a[href="#/signup"]`)
		l.fill("#signup-name", "Ada Lovelace")
		l.fill("#signup-email", "ada@example.com")
		l.fill("#signup-password", "correct horse battery")
		l.click(`form button[type="submit"]`)
		l.waitText("main h1", "Welcome, Ada Lovelace", 10*time.Second)
		l.waitText("#memberships", "You have no membership yet", 5*time.Second)
		learnerToken = evalJS[string](l, `localStorage.getItem("aitutor.token")`)
		if learnerToken == "" {
			l.fatalf("no token in localStorage after sign-up")
		}

		// The session survives a reload.
		l.do("reload", chromedp.Reload())
		l.waitText("main h1", "Welcome, Ada Lovelace", 10*time.Second)

		// Plans: only the B2C plan is for sale, with its price; company plans are explained.
		l.click(`#nav a[href="#/plans"]`)
		l.waitVisible(`[data-plan-name="Conversation 20"]`)
		if got := l.text(`[data-plan-name="Conversation 20"] .price`); !strings.Contains(got, "$5.00") {
			t.Errorf("price shown as %q, want $5.00", got)
		}
		if strings.Contains(l.text("#plans"), "Company Gold") {
			t.Error("a B2B plan is offered to a B2C learner")
		}
		if got := l.text("#plan-audience"); !strings.Contains(got, "employer") {
			t.Errorf("no explanation of company plans: %q", got)
		}

		// The confirmation dialog takes the focus, Escape dismisses it and the focus returns.
		buy := `[data-plan-name="Conversation 20"] button`
		l.click(buy)
		l.waitVisible(`dialog[data-testid="confirm-purchase"]`)
		l.waitJS("focus inside the dialog", `document.activeElement?.closest("dialog[open]") != null`, 5*time.Second)
		l.do("escape", chromedp.KeyEvent(kb.Escape))
		l.waitJS("the dialog closed, focus back on Get", `!document.querySelector("dialog") && document.activeElement?.matches('[data-plan-name="Conversation 20"] button')`, 5*time.Second)

		// The first purchase's answer is lost on the way back; the retry reuses its
		// Idempotency-Key, so the learner is charged once.
		evalJS[chromedp.Void](l, `(() => {
			const fetch0 = window.fetch;
			window.buyKeys = [];
			let lost = false;
			window.fetch = async (url, init = {}) => {
				if (String(url).endsWith("/api/membership") && init.method === "POST") {
					window.buyKeys.push(init.headers["Idempotency-Key"]);
					const res = await fetch0(url, init);
					if (!lost) { lost = true; throw new TypeError("Failed to fetch"); }
					return res;
				}
				return fetch0(url, init);
			};
		})()`)
		l.click(buy)
		l.waitVisible(`dialog[data-testid="confirm-purchase"]`)
		l.click(`dialog[data-testid="confirm-purchase"] button.primary`)
		l.waitText("#purchase-result", "was not added", 10*time.Second)
		l.click("#purchase-result button")
		l.waitVisible("#purchase-ok")
		keys := evalJS[[]string](l, `window.buyKeys`)
		if len(keys) != 2 || keys[0] == "" || keys[0] != keys[1] {
			t.Errorf("Idempotency-Keys of the purchase and its retry: %q, want the same key twice", keys)
		}
		var me struct {
			Memberships []struct {
				ID, Status        string
				RemainingChatUses *int
				Plan              struct{ Name string }
			}
		}
		env.Do(http.MethodGet, "/api/users/me", learnerToken, nil).JSON(t, &me)
		if len(me.Memberships) != 1 || me.Memberships[0].Plan.Name != "Conversation 20" {
			t.Fatalf("after a purchase and its retry the learner has %+v, want one membership", me.Memberships)
		}
		membershipID := me.Memberships[0].ID
		l.waitText(`[data-plan-name="Conversation 20"]`, "Active", 5*time.Second)
		l.screenshots("plans")

		// Home lists the membership.
		l.click(`#nav a[href="#/"]`)
		card := fmt.Sprintf(`[data-membership-id=%q]`, membershipID)
		l.waitText(card, "20 chats left", 10*time.Second)
		l.waitText(card, "Active", time.Second)
		l.screenshots("home")

		// The tutor: one spoken turn with the fake microphone.
		l.click(card + " a.button")
		l.waitText("#remaining", "20 chats left", 10*time.Second)
		l.click("#start")
		l.waitText(".bubble-user", openaisim.DefaultTranscript, 30*time.Second)
		l.waitText(".bubble-tutor", "which is turn 1 of our English conversation", 15*time.Second)
		l.waitText("#remaining", "19 chats left", 15*time.Second)
		// The reply is heard: samples are played on a running AudioContext.
		l.waitJS("a second of reply audio played", `aitutorDebug.probes.audio.playedSamples >= 24000`, 10*time.Second)
		audio := debugJSON[audioStats](l, "probes.audio")
		if audio.ContextState != "running" || audio.ScheduledSamples < 24000*5 {
			t.Errorf("audio %+v: want a running context and the whole reply scheduled", audio)
		}
		done := events(l, "response.done")
		if len(done) != 1 || done[0].RemainingChatUses == nil || *done[0].RemainingChatUses != 19 {
			t.Errorf("response.done events: %+v", done)
		}
		frames := debugJSON[map[string]int](l, "probes.frames")
		if frames["sent"] < 100 {
			t.Errorf("microphone frames %v: want the utterance streamed", frames)
		}

		// A typed turn while the tutor is still talking: its audio stops, the server is told
		// how much was heard, and the tutor answers the typed text with the conversation so far.
		l.fill("#message", "Can we talk about cooking?")
		l.click("#send")
		l.waitText("#transcript", "Can we talk about cooking?", 5*time.Second)
		l.waitJS("the second reply", `document.querySelectorAll(".bubble-tutor").length === 2 && document.querySelectorAll(".bubble-tutor")[1].innerText.includes("turn 2")`, 15*time.Second)
		l.waitText("#remaining", "18 chats left", 10*time.Second)
		l.screenshots("tutor")
		// The same on a phone-sized screen.
		l.do("phone size", chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile))
		l.screenshot("tutor-phone-light")
		l.do("desktop size", chromedp.EmulateViewport(1280, 800))
		if ints := events(l, "interrupt"); len(ints) == 0 || ints[0].Why != "typed" {
			t.Errorf("typing over the tutor did not stop its audio: %+v", ints)
		}
		reqs := env.Sim.ChatRequests()
		if len(reqs) != 2 {
			t.Fatalf("chat requests: %d, want 2", len(reqs))
		}
		last := reqs[1].Messages
		if last[len(last)-1].Content != "Can we talk about cooking?" || !containsMessage(last, openaisim.DefaultTranscript) {
			t.Errorf("the second chat request does not carry the conversation: %+v", last)
		}

		// Replay the first answer.
		before := debugJSON[audioStats](l, "probes.audio").ScheduledSamples
		l.click(".bubble-tutor .replay")
		l.waitJS("the replay scheduled", fmt.Sprintf(`aitutorDebug.probes.audio.scheduledSamples > %d + 24000 && aitutorDebug.count("replay") === 1`, before), 5*time.Second)

		// Level and topic.
		l.do("choose the level", chromedp.SetValue(chromedp.CSS("#level"), "beginner"))
		l.fill("#topic", "cooking")
		l.click("#topic-apply")
		l.waitJS("session.updated with the level and topic", `aitutorDebug.events.some(e => e.type === "session.updated" && e.level === "beginner" && e.topic === "cooking")`, 5*time.Second)

		// Sign out.
		l.click("#sign-out")
		l.waitJS("the sign-in page", `location.hash === "#/signin" && localStorage.getItem("aitutor.token") === null`, 5*time.Second)
	})

	t.Run("an admin creates a plan that a learner buys, and manages users", func(t *testing.T) {
		if learnerToken == "" {
			t.Fatal("needs the learner of the first subtest")
		}
		_, adminToken := env.User("root@example.com", store.RoleAdmin)
		old := env.Plan("Old Plan", intp(3), store.B2C)
		a := newTab(t, browserCtx, env.URL, "admin")
		a.signInWithToken(adminToken, "/admin/plans")
		a.waitVisible(fmt.Sprintf(`tr[data-plan-id=%q]`, old.ID))

		// Create a plan with every field.
		a.fill("#plan-name", "Business English Pro")
		a.fill("#plan-description", "Meetings, e-mails and presentations.")
		a.fill("#plan-days", "60")
		a.do("currency", chromedp.SetValue(chromedp.CSS("#plan-currency"), "EUR"))
		a.fill("#plan-price", "12.50")
		a.fill("#plan-chats", "40")
		a.waitText("#price-preview", "€12.50", 5*time.Second)
		a.click("#plan-create")
		a.waitText(`tr[data-plan-name="Business English Pro"]`, "€12.50", 10*time.Second)
		var plans []store.Plan
		env.Do(http.MethodGet, "/api/admin/plans", adminToken, nil).JSON(t, &plans)
		var created *store.Plan
		for i := range plans {
			if plans[i].Name == "Business English Pro" {
				created = &plans[i]
			}
		}
		if created == nil || created.Price != 1250 || created.Currency != "EUR" || created.DurationDays != 60 ||
			created.ChatUses == nil || *created.ChatUses != 40 || created.AnalysisUses != nil || created.Target != store.B2C ||
			created.Description != "Meetings, e-mails and presentations." {
			t.Fatalf("the plan as stored: %+v", created)
		}

		// Delete a plan, with a confirmation.
		a.click(fmt.Sprintf(`tr[data-plan-id=%q] button.danger`, old.ID))
		a.waitVisible(`dialog[data-testid="confirm-delete-plan"]`)
		a.click(`dialog[data-testid="confirm-delete-plan"] button.danger`)
		a.waitText(fmt.Sprintf(`tr[data-plan-id=%q]`, old.ID), "Deleted", 10*time.Second)
		a.screenshots("admin-plans")

		// A learner signs in on the sign-in page, sees the new plan (not the deleted one) and buys it.
		if r := env.Do(http.MethodPost, "/api/auth/signup", "", map[string]string{"name": "Grace Hopper", "email": "grace@example.com", "password": "a long password"}); r.Status != http.StatusCreated {
			t.Fatalf("signup: %d %s", r.Status, r.Body)
		}
		g := newTab(t, browserCtx, env.URL, "learner2")
		g.open("/plans")
		g.waitVisible("#signin-email")
		g.fill("#signin-email", "grace@example.com")
		g.fill("#signin-password", "a long password")
		g.click(`form button[type="submit"]`)
		g.waitVisible(`[data-plan-name="Business English Pro"]`) // back on the page asked for
		if got := g.text(`[data-plan-name="Business English Pro"]`); !strings.Contains(got, "€12.50") || !strings.Contains(got, "40 chats") || !strings.Contains(got, "60 days") {
			t.Errorf("the new plan is shown as %q", got)
		}
		if strings.Contains(g.text("#plans"), "Old Plan") {
			t.Error("a deleted plan is still for sale")
		}
		g.click(`[data-plan-name="Business English Pro"] button`)
		g.click(`dialog[data-testid="confirm-purchase"] button.primary`)
		g.waitVisible("#purchase-ok")
		g.click(`#nav a[href="#/"]`)
		g.waitText("#memberships", "Business English Pro", 10*time.Second)
		g.waitText("#memberships", "40 chats left", time.Second)

		// Users: search, the learner's memberships and usage ledger, assign and revoke.
		a.goTo("/admin/users")
		a.waitVisible(`tr[data-email="grace@example.com"]`)
		a.screenshots("admin-users")
		a.fill("#user-search", "ada@")
		a.click(`form[role="search"] button`)
		a.waitJS("the search result", `document.querySelectorAll("#admin-users tbody tr").length === 1 && document.querySelector('tr[data-email="ada@example.com"]')`, 10*time.Second)
		a.click(`tr[data-email="ada@example.com"] a`)
		a.waitText("#admin-usage", "Charges", 10*time.Second)
		a.waitJS("the two charges of the first subtest", `document.querySelectorAll("#admin-usage tbody tr").length === 2`, 5*time.Second)
		// The ledger in words, not raw reasons.
		a.waitText("#admin-usage", "Typed conversation turn: “Can we talk about cooking?”", time.Second)
		a.waitText("#admin-usage", "Spoken conversation turn", time.Second)
		a.waitText("#admin-user-memberships", "Conversation 20", time.Second)
		a.do("choose the plan", chromedp.SetValue(chromedp.CSS("#assign-plan"), created.ID))
		a.click(`#assign-form button[type="submit"]`)
		a.click(`dialog[data-testid="confirm-assign"] button.primary`)
		a.waitJS("the assigned membership", `[...document.querySelectorAll("#admin-user-memberships tbody tr")].some(r => r.innerText.includes("Business English Pro") && r.innerText.includes("Assigned"))`, 10*time.Second)
		a.screenshots("admin-user")
		a.click(`#admin-user-memberships tbody tr:first-child button.danger`) // newest first: the assigned one
		a.waitVisible(`dialog[data-testid="confirm-revoke"]`)
		a.click(`dialog[data-testid="confirm-revoke"] button.danger`)
		a.waitJS("the revoked membership", `document.querySelector("#admin-user-memberships tbody tr:first-child").dataset.status === "revoked"`, 10*time.Second)
		var ada struct {
			Memberships []store.Membership `json:"memberships"`
		}
		env.Do(http.MethodGet, "/api/users/me", learnerToken, nil).JSON(t, &ada)
		if len(ada.Memberships) != 2 || ada.Memberships[0].Status != store.StatusRevoked || !ada.Memberships[0].GrantedByAdmin {
			t.Errorf("memberships after assign and revoke: %+v", ada.Memberships)
		}

		// Metrics: the turns of the first subtest, charted.
		a.goTo("/admin/metrics")
		a.waitVisible("#chart-turns canvas")
		a.waitVisible("#chart-latency canvas")
		if got := a.text("#metrics-totals .stat .value"); got != "2" {
			t.Errorf("metrics: %q turns, want 2", got)
		}
		for stat, want := range map[string]string{"answered": "2", "interrupted": "0", "refunded": "0"} {
			if got := a.text(fmt.Sprintf(`#metrics-totals [data-stat=%q] .value`, stat)); got != want {
				t.Errorf("metrics: %s %q, want %s", stat, got, want)
			}
		}
		a.screenshots("admin-metrics")
	})

	t.Run("a learner cannot open the admin dashboard nor call admin routes", func(t *testing.T) {
		_, token, _ := env.Learner("eve@example.com", nil)
		e := newTab(t, browserCtx, env.URL, "eve")
		e.signInWithToken(token, "/admin/users")
		e.waitJS("sent home", `location.hash === "#/" && document.querySelector("main h1")?.innerText.startsWith("Welcome")`, 10*time.Second)
		e.waitText("#toasts", "Not allowed", 5*time.Second)
		if nav := e.text("#nav"); strings.Contains(nav, "Admin") {
			t.Errorf("a learner's navigation offers the dashboard: %q", nav)
		}
		status := evalJS[int](e, `fetch("/api/admin/plans", {headers: {Authorization: "Bearer " + localStorage.getItem("aitutor.token")}}).then(r => r.status)`)
		if status != http.StatusForbidden {
			t.Errorf("GET /api/admin/plans from the learner's page: %d, want 403", status)
		}
		for _, r := range []struct{ method, path string }{
			{"GET", "/api/admin/plans"}, {"POST", "/api/admin/plan"}, {"GET", "/api/admin/users"},
			{"GET", "/api/admin/metrics/turns"},
		} {
			if res := env.Do(r.method, r.path, token, map[string]any{}); res.Status != http.StatusForbidden {
				t.Errorf("%s %s as a learner: %d, want 403", r.method, r.path, res.Status)
			}
		}
	})

	t.Run("an exhausted membership shows a modal and turns the microphone off", func(t *testing.T) {
		// Exhausted before connecting: the status from /api/users/me.
		_, token, m := env.Learner("zero@example.com", intp(0))
		z := newTab(t, browserCtx, env.URL, "zero")
		z.signInWithToken(token, "/tutor/"+m.ID)
		z.waitVisible(`dialog[data-testid="membership-blocked"]`)
		z.waitText(`dialog[data-testid="membership-blocked"]`, "No chats left", time.Second)
		z.waitText("#mic-status", "Microphone off", time.Second)
		if !evalJS[bool](z, `document.querySelector("#start").disabled && document.querySelector("#message").disabled`) {
			t.Error("start and the message box are enabled on an exhausted membership")
		}
		z.screenshot("tutor-exhausted-light")

		// Exhausted while connected (push-to-talk, so the microphone sends nothing): the server
		// refuses the next turn with quota_exhausted.
		u, token1, m1 := env.Learner("one@example.com", intp(1))
		o := newTab(t, browserCtx, env.URL, "one")
		o.open("/signin")
		evalJS[chromedp.Void](o, `localStorage.setItem("aitutor.tutor", JSON.stringify({mode: "manual"}))`)
		o.signInWithToken(token1, "/tutor/"+m1.ID)
		o.click("#start")
		o.waitJS("connected with the microphone on", `aitutorDebug.probes.state.connection === "open" && aitutorDebug.probes.state.mic === "on" && document.querySelector("#ptt").getAttribute("aria-disabled") === "false"`, 15*time.Second)
		if _, err := env.Store.ChargeChatUse(context.Background(), u.ID, m1.ID, "used elsewhere"); err != nil {
			t.Fatal(err)
		}
		o.fill("#message", "Hello!")
		o.click("#send")
		o.waitVisible(`dialog[data-testid="membership-blocked"]`)
		o.waitText("#mic-status", "Microphone off", 5*time.Second)
		if errs := events(o, "error"); len(errs) != 1 || errs[0].Code != "quota_exhausted" {
			t.Errorf("error events: %+v", errs)
		}
		if !evalJS[bool](o, `document.querySelector("#ptt").getAttribute("aria-disabled") === "true" && document.querySelector("#message").disabled && document.querySelector("#remaining").textContent === "0 chats left"`) {
			t.Error("the microphone or the message box is still on after quota_exhausted")
		}
	})

	t.Run("a denied microphone is explained and typing keeps working", func(t *testing.T) {
		_, token, m := env.Learner("deny@example.com", nil)
		d := newTab(t, newBrowser(t, mic, true), env.URL, "deny")
		d.signInWithToken(token, "/tutor/"+m.ID)
		d.waitText("#remaining", "Unlimited", 10*time.Second)
		d.click("#start")
		d.waitText("#mic-problem", "The microphone is blocked", 10*time.Second)
		d.waitText("#mic-problem", "Allow", time.Second)
		d.waitText("#mic-status", "Microphone blocked", time.Second)
		d.waitJS("connected", `aitutorDebug.probes.state.connection === "open"`, 10*time.Second)
		d.fill("#message", "Hello, can you hear me?")
		d.click("#send")
		d.waitJS("the tutor's answer", `document.querySelector(".bubble-tutor")?.innerText.includes("Hello, can you hear me")`, 15*time.Second)
		d.screenshot("tutor-mic-denied-light")
	})

	t.Run("a lost connection is shown and retried", func(t *testing.T) {
		_, token, m := env.Learner("lost@example.com", nil)
		c := newTab(t, browserCtx, env.URL, "lost")
		c.signInWithToken(token, "/tutor/"+m.ID)
		c.click("#start")
		c.waitJS("connected", `aitutorDebug.probes.state.connection === "open"`, 10*time.Second)
		env.Server.Close() // ends every session (1001) and accepts no new one
		c.waitText("#connection-banner", "connection to the tutor was lost", 10*time.Second)
		c.waitText("#conn-state", "onnect", time.Second)
		c.click("#retry")
		c.waitJS("a new attempt", `aitutorDebug.events.filter(e => e.type === "connection" && e.state === "connecting").length >= 2`, 10*time.Second)
		c.waitText("#connection-banner", "Reconnecting in", 10*time.Second)
	})
}

func containsMessage(ms []openaisim.Message, content string) bool {
	for _, m := range ms {
		if m.Content == content {
			return true
		}
	}
	return false
}
