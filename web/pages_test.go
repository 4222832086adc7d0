package web_test

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/aitutor/aitutor/server/servertest"
	"github.com/aitutor/aitutor/store"
)

// TestEveryPage opens every page of the UI — the visitors' home, sign-in and sign-up, the
// learner's home, plans, tutor (before and after Start), conversation and review, every admin
// page, and the dialogs — on a server seeded like `make run`'s demo, and checks each at
// 390×844 and 1280×800 in the light and the dark theme (check_test.go): no horizontal
// overflow, the primary controls on screen, no table cut off, no serious or critical axe-core
// violation. Its screenshots are the ones in docs/screenshots (`make screenshots`).
func TestEveryPage(t *testing.T) {
	env := servertest.New(t, servertest.Options{})
	d := seedDemo(t, env)
	browser := newBrowser(t, writeMicWAV(t, "silence.wav", silence(2*time.Second)), false)

	t.Run("visitor", func(t *testing.T) {
		v := newTab(t, browser, env.URL, "visitor")
		v.open("/")
		v.waitText("#public-plans", "Starter", 10*time.Second)
		v.checkPage("welcome", "main h1", "#welcome-signup")
		v.open("/signin")
		v.waitVisible("#signin-email")
		v.checkPage("signin", "#signin-email", "#signin-password", "#auth-submit")
		v.open("/signup")
		v.waitVisible("#signup-name")
		v.checkPage("signup", "#signup-name", "#signup-email", "#signup-password", "#auth-submit")
		v.open("/no/such/page")
		v.waitText("main h1", "Page not found", 10*time.Second)
		v.checkPage("not-found", "main h1")
	})

	t.Run("learner", func(t *testing.T) {
		l := newTab(t, browser, env.URL, "learner")
		l.signInWithToken(d.learnerToken, "/")
		l.waitText("#memberships", "Starter", 10*time.Second)
		l.waitVisible("#progress-latest")
		l.checkPage("home", "main h1", "#memberships .membership .button.primary")
		l.setTheme("dark")
		l.shootAt("home-progress-desktop-dark", "#progress-h")
		l.setTheme("light")

		l.goTo("/plans")
		l.waitVisible(`[data-plan-name="Starter"]`)
		l.checkPage("plans", "main h1", "#join-company")
		l.click(`[data-plan-name="Starter"] button`)
		l.waitVisible(`dialog[data-testid="confirm-purchase"]`)
		l.checkDialog("dialog-purchase")
		l.do("escape", chromedp.KeyEvent(kb.Escape))
		l.click("#join-company")
		l.waitVisible(`dialog[data-testid="join-company"]`)
		l.checkDialog("dialog-join-company")
		l.do("escape", chromedp.KeyEvent(kb.Escape))

		l.goTo("/tutor")
		l.waitVisible("#tutor-choices")
		l.checkPage("tutor-choose", "main h1", "#tutor-choices .button.primary")

		l.goTo(fmt.Sprintf("/tutor/%s/%s", d.starter.ID, d.conversation))
		l.waitText("#transcript", "Yesterday I go to the cinema", 10*time.Second)
		l.checkPage("tutor-start", "main h1", "#start")
		l.click("#start")
		l.waitJS("connected", `aitutorDebug.probes.state.connection === "open" && aitutorDebug.probes.state.mic === "on"`, 15*time.Second)
		l.typeTurn("Can we talk about films?")
		l.waitJS("the reply played", `!aitutorDebug.probes.audio.playing`, 30*time.Second)
		l.checkPage("tutor", "#meter", "#mic-status", "#mic-toggle", "#stop-tutor", "#message", "#send", "#transcript .bubble-tutor:last-child .replay")
		// On a phone the message box takes the row but for Send, its placeholder is whole, and
		// the practice settings take the page's width.
		l.resize(phone)
		sizes := evalJS[map[string]float64](l, `(() => {
			const input = document.querySelector("#message"), row = document.querySelector("#composer"), cs = getComputedStyle(input);
			const c = document.createElement("canvas").getContext("2d");
			c.font = cs.font;
			return {
				row: row.clientWidth, input: input.offsetWidth, send: document.querySelector("#send").offsetWidth,
				placeholder: c.measureText(input.placeholder).width, room: input.clientWidth - parseFloat(cs.paddingLeft) - parseFloat(cs.paddingRight),
				settings: document.querySelector(".settings-card").offsetWidth, page: document.querySelector(".tutor").offsetWidth,
			};
		})()`)
		if sizes["input"]+sizes["send"] < sizes["row"]-16 || sizes["input"] < 0.7*sizes["row"] {
			t.Errorf("on a phone the message box is %v px and Send %v px of a %v px row", sizes["input"], sizes["send"], sizes["row"])
		}
		if sizes["placeholder"] > sizes["room"] {
			t.Errorf("on a phone the message box's placeholder needs %v px and has %v", sizes["placeholder"], sizes["room"])
		}
		if sizes["settings"] < sizes["page"]-1 {
			t.Errorf("on a phone the practice settings are %v px of the page's %v", sizes["settings"], sizes["page"])
		}
		l.resize(desktop)

		l.goTo("/conversations/" + d.conversation)
		l.waitText("#transcript", "Yesterday I go to the cinema", 10*time.Second)
		l.checkPage("conversation", "main h1")
		l.goTo("/conversations/" + d.conversation + "/review")
		l.waitVisible("#review-corrections li.correction")
		l.checkPage("review", "main h1")

		l.goTo("/tutor/" + d.exhausted.ID)
		l.waitVisible(`dialog[data-testid="membership-blocked"]`)
		l.checkDialog("dialog-no-chats-left")
	})

	t.Run("admin", func(t *testing.T) {
		a := newTab(t, browser, env.URL, "admin")
		a.signInWithToken(d.adminToken, "/admin/plans")
		a.waitVisible(`tr[data-plan-name="Starter"]`)
		a.checkPage("admin-plans", "main h1", "#plan-name")
		a.goTo("/admin/users")
		a.waitVisible(`tr[data-email="learner@example.com"]`)
		a.checkPage("admin-users", "main h1", "#user-search")
		a.goTo("/admin/users/" + d.learner.ID)
		a.waitText("#admin-usage", "Charges", 10*time.Second)
		a.checkPage("admin-user", "main h1")
		a.goTo("/admin/metrics")
		a.waitVisible("#chart-latency canvas")
		a.checkPage("admin-metrics", "main h1", "#metrics-days", "#metrics-totals")
		a.goTo("/admin/companies")
		a.waitVisible(`tr[data-company-name="Acme Corp"]`)
		a.checkPage("admin-companies", "main h1", "#company-name")
		a.goTo("/admin/companies/" + d.acme)
		a.waitVisible("#company-members")
		a.checkPage("admin-company", "main h1")
	})
	checkDocShots(t)
}

// checkDialog checks an open dialog as checkPage checks a page (its actions on screen).
func (tb *tab) checkDialog(name string) {
	tb.t.Helper()
	tb.checkPage(name, "dialog[open] h2", "dialog[open] .dialog-actions > :last-child")
}

// demo is what seedDemo made.
type demo struct {
	learner                      store.User
	learnerToken                 string
	adminToken                   string
	starter, exhausted           store.Membership
	conversation                 string // a conversation of the learner, reviewed
	acme                         string // the company's id
	acmeCode                     string
	trial, starterPlan, acmePlan store.Plan
}

// seedDemo fills the server as `aitutor seed` and a few days of use would: B2C plans (a
// once-per-user trial among them), B2B plans, a company with a code and a plan of its own and
// members, a learner with memberships in every state, conversations with a review, and turns
// over the last days for the dashboard.
func seedDemo(t *testing.T, env *servertest.Env) demo {
	t.Helper()
	ctx := context.Background()
	var d demo
	plan := func(p store.NewPlan) store.Plan {
		t.Helper()
		out, err := env.Store.CreatePlan(ctx, p)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	d.trial = plan(store.NewPlan{Name: "Trial", Description: "Five chats to try the tutor, once per account.", DurationDays: 7, ChatUses: intp(5), AnalysisUses: intp(1), Target: store.B2C, Price: 0, Currency: "USD", OncePerUser: true})
	d.starterPlan = plan(store.NewPlan{Name: "Starter", Description: "30 chats a month with three reviews.", DurationDays: 30, ChatUses: intp(30), AnalysisUses: intp(3), Target: store.B2C, Price: 999, Currency: "USD"})
	plan(store.NewPlan{Name: "Unlimited", Description: "Talk as much as you like for a month.", DurationDays: 30, Target: store.B2C, Price: 2900, Currency: "USD"})
	plan(store.NewPlan{Name: "Team", Description: "200 chats a month for a company's learners.", DurationDays: 30, ChatUses: intp(200), AnalysisUses: intp(20), Target: store.B2B, Price: 19900, Currency: "USD"})

	admin, adminToken := env.User("admin@example.com", store.RoleAdmin)
	d.adminToken = adminToken
	acme, err := env.Store.CreateCompany(ctx, store.NewCompany{Name: "Acme Corp", SeatLimit: intp(25), CreatedBy: admin.ID, Codes: []store.NewCompanyCode{{Code: "ACME-DEMO-2026"}}})
	if err != nil {
		t.Fatal(err)
	}
	d.acme, d.acmeCode = acme.ID, acme.Codes[0].Code
	d.acmePlan = plan(store.NewPlan{Name: "Acme Team", Description: "100 chats a month, paid by Acme Corp for its people.", DurationDays: 30, ChatUses: intp(100), AnalysisUses: intp(10), Target: store.B2B, Price: 0, Currency: "USD", CompanyID: acme.ID})
	for _, email := range []string{"kim@acme.example", "lee@acme.example"} {
		u, _ := env.User(email, store.RoleUser)
		if _, _, err := env.Store.JoinCompany(ctx, u.ID, d.acmeCode); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := env.Store.AssignPlanToCompany(ctx, admin.ID, acme.ID, d.acmePlan.ID); err != nil {
		t.Fatal(err)
	}

	d.learner, d.learnerToken = env.User("learner@example.com", store.RoleUser)
	env.Membership(d.learner, d.trial) // used: the trial cannot be bought again
	d.starter = env.Membership(d.learner, d.starterPlan)
	revoked, err := env.Store.AssignPlan(ctx, admin.ID, d.learner.ID, d.starterPlan.ID)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := env.Store.RevokeMembership(ctx, admin.ID, d.learner.ID, revoked.ID); err != nil {
		t.Fatal(err)
	}
	d.exhausted = env.Membership(d.learner, plan(store.NewPlan{Name: "Five chats", DurationDays: 30, ChatUses: intp(0), AnalysisUses: intp(0), Target: store.B2C, Price: 300, Currency: "USD"}))

	// Conversations over the last days, with latencies, for the dashboard and the home page.
	for day := 6; day >= 0; day-- {
		conv := storedConversation(t, env, d.learner, d.starter, true,
			"Yesterday I go to the cinema with my friends.",
			"We watched a film about a detective in London.",
			"I have twenty five years and I work in a hospital.")
		if _, err := env.Store.DB().ExecContext(ctx, `
UPDATE messages SET first_audio_ms = 700 + 150 * $2 + 37 * (id % 9), stt_ms = 300, chat_first_token_ms = 250, tts_first_byte_ms = 180,
       created_at = now() - make_interval(days => $2::int)
WHERE conversation_id = $1`, conv, day); err != nil {
			t.Fatal(err)
		}
		if day == 0 {
			d.conversation = conv
		}
	}
	if r := env.Do(http.MethodPost, "/api/conversations/"+d.conversation+"/review", d.learnerToken, nil); r.Status != http.StatusCreated {
		t.Fatalf("review: %d %s", r.Status, r.Body)
	}
	return d
}

// docShots names the screenshots of TestEveryPage that are kept in docs/screenshots: `make
// screenshots` runs the test with SCREENSHOTS_TO=docs/screenshots.
var docShots = map[string]string{
	"welcome-desktop-light":           "welcome-light",
	"welcome-phone-dark":              "welcome-phone-dark",
	"home-desktop-light":              "home-light",
	"home-desktop-dark":               "home-dark",
	"home-progress-desktop-dark":      "home-progress-dark",
	"plans-desktop-light":             "plans-light",
	"dialog-join-company-phone-light": "join-company-phone-light",
	"tutor-desktop-light":             "tutor-light",
	"tutor-desktop-dark":              "tutor-dark",
	"tutor-phone-light":               "tutor-phone-light",
	"tutor-phone-dark":                "tutor-phone-dark",
	"tutor-start-phone-light":         "tutor-start-phone-light",
	"review-desktop-light":            "review-light",
	"review-phone-dark":               "review-phone-dark",
	"admin-plans-desktop-dark":        "admin-plans-dark",
	"admin-metrics-desktop-light":     "admin-metrics-light",
	"admin-company-desktop-light":     "admin-company-light",
	"admin-companies-desktop-dark":    "admin-companies-dark",
}
