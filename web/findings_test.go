package web_test

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/aitutor/aitutor/server/servertest"
	"github.com/aitutor/aitutor/store"
)

// The findings of issue 13 (a new user in real Chromium), each held by a check: what a learner
// and what an administrator ran into. Layout, contrast and the phone size are TestEveryPage's;
// the keyboard is TestTutorByKeyboard's.

// TestLearnerFindings: the "No chats left" dialog offers the learner's other usable
// membership, and following it starts a conversation with it; memberships of the same plan are
// told apart; a revoked one does not claim chats left; the navigation has a Tutor item that goes
// to the tutor (straight with one usable membership, a choice with several); page headings take
// the focus without a focus box; latencies read in seconds; plans speak of chats and say there
// is no payment step.
func TestLearnerFindings(t *testing.T) {
	env := servertest.New(t, servertest.Options{})
	ctx := context.Background()
	u, token := env.User("finn@example.com", store.RoleUser)
	admin, _ := env.User("boss@example.com", store.RoleAdmin)
	used := env.Membership(u, env.Plan("Used up", intp(0), store.B2C))
	starter := env.Plan("Starter", intp(12), store.B2C)
	first := env.Membership(u, starter)
	second := env.Membership(u, starter)
	gift := env.Plan("Gift", intp(30), store.B2C)
	revoked, err := env.Store.AssignPlan(ctx, admin.ID, u.ID, gift.ID)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := env.Store.RevokeMembership(ctx, admin.ID, u.ID, revoked.ID); err != nil {
		t.Fatal(err)
	}
	p := newTab(t, newBrowser(t, writeMicWAV(t, "silence.wav", silence(time.Second)), false), env.URL, "finn")

	// Home: every card says something of its own; the revoked one no "chats left".
	p.signInWithToken(token, "/")
	p.waitText(fmt.Sprintf(`[data-membership-id=%q]`, second.ID), "12 chats left", 10*time.Second)
	cards := evalJS[[]string](p, `[...document.querySelectorAll("#memberships .membership")].map(c => c.innerText.replace(/\s+/g, " "))`)
	seen := map[string]bool{}
	for _, c := range cards {
		if seen[c] {
			t.Errorf("two membership cards read the same: %q", c)
		}
		seen[c] = true
	}
	if got := p.text(fmt.Sprintf(`[data-membership-id=%q]`, revoked.ID)); strings.Contains(got, "chats left") || !strings.Contains(got, "30 chats were left when it was revoked") || !strings.Contains(got, "Given by an administrator") {
		t.Errorf("the revoked membership reads %q", got)
	}

	// Headings take the focus when a page opens, without a focus box.
	p.click(`#nav a[href="#/plans"]`)
	p.waitJS("the heading focused", `document.activeElement?.matches("main h1")`, 10*time.Second)
	if o := evalJS[string](p, `getComputedStyle(document.activeElement).outlineStyle`); o != "none" {
		t.Errorf("the focused page heading has a %s outline", o)
	}
	// Plans speak of chats, and getting one says there is no payment step.
	p.waitVisible(`[data-plan-name="Starter"]`)
	if got := p.text("main"); regexp.MustCompile(`\d+ conversations`).MatchString(got) || !strings.Contains(got, "12 chats") {
		t.Errorf("the plans page counts %q", got)
	}
	p.click(`[data-plan-name="Starter"] button`)
	p.waitText(`dialog[data-testid="confirm-purchase"]`, "There is no payment step", 5*time.Second)
	if strings.Contains(p.text(`dialog[data-testid="confirm-purchase"]`), "charged") {
		t.Error("the purchase dialog speaks of a charge that no payment step takes")
	}
	p.do("escape", chromedp.KeyEvent(kb.Escape))

	// The Tutor item: two usable memberships, so a choice.
	p.click(`#nav a[href="#/tutor"]`)
	p.waitJS("the choice", `document.querySelectorAll("#tutor-choices li").length === 2 && document.querySelector('#nav a[href="#/tutor"]').getAttribute("aria-current") === "page"`, 10*time.Second)

	// No chats left on one membership: the dialog offers the other usable one, not only plans.
	p.goTo("/tutor/" + used.ID)
	dlg := `dialog[data-testid="membership-blocked"]`
	p.waitText(dlg, "No chats left", 10*time.Second)
	p.waitText(dlg, "You have another membership that can pay for chats: Starter (12 chats left)", 5*time.Second)
	p.waitText(dlg, "Or continue with: Starter", time.Second)
	p.waitJS("the focus on Continue", `document.activeElement?.innerText === "Continue with Starter" && document.activeElement.closest("dialog")`, 5*time.Second)
	p.press(kb.Enter, false)
	p.waitJS("the tutor of another membership", fmt.Sprintf(`[%q, %q].some(id => location.hash === "#/tutor/" + id) && !document.querySelector("dialog") && !document.querySelector("#start").disabled`, first.ID, second.ID), 10*time.Second)

	// One usable membership left: the Tutor item goes straight to it.
	if _, err := env.Store.RevokeMembership(ctx, admin.ID, u.ID, first.ID); err != nil {
		t.Fatal(err)
	}
	p.goTo("/")
	p.waitVisible("#memberships .membership")
	p.click(`#nav a[href="#/tutor"]`)
	p.waitJS("straight to the tutor", fmt.Sprintf(`location.hash === "#/tutor/%s" && document.querySelector("#start")`, second.ID), 10*time.Second)

	// With no usable membership the dialog offers plans.
	if _, err := env.Store.RevokeMembership(ctx, admin.ID, u.ID, second.ID); err != nil {
		t.Fatal(err)
	}
	p.goTo("/tutor/" + used.ID)
	p.waitText(dlg, "Get a plan to keep practising", 10*time.Second)
	p.do("escape", chromedp.KeyEvent(kb.Escape))

	// Latencies in words: a second and more in seconds.
	conv := storedConversation(t, env, u, second, false, "Hello there.")
	if _, err := env.Store.DB().ExecContext(ctx, `UPDATE messages SET first_audio_ms = 2653 WHERE conversation_id = $1`, conv); err != nil {
		t.Fatal(err)
	}
	p.goTo("/conversations/" + conv)
	p.waitText("#transcript .bubble-tutor .tag", "answered in 2.7 s", 10*time.Second)
	if strings.Contains(p.text("#transcript"), "2653") {
		t.Error("a latency is shown in milliseconds")
	}
}

// TestAdminFindings: the plans table shows its Delete buttons whole at 1280 px; an empty new
// plan form names every field to fix; "Assign a plan" chooses nothing by itself and says when a
// plan is not sold to the learner; usage history reads in words whatever the ledger's reason;
// the latency chart's y axis is wide enough for its labels and the 7-day chart has one tick per
// day, at the day's bar.
func TestAdminFindings(t *testing.T) {
	env := servertest.New(t, servertest.Options{})
	ctx := context.Background()
	_, adminToken := env.User("root@example.com", store.RoleAdmin)
	acme, err := env.Store.CreateCompany(ctx, store.NewCompany{Name: "Acme Corp"})
	if err != nil {
		t.Fatal(err)
	}
	companyPlan, err := env.Store.CreatePlan(ctx, store.NewPlan{Name: "Acme Team", DurationDays: 30, ChatUses: intp(100), Target: store.B2B, Price: 0, CompanyID: acme.ID})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := env.Store.CreatePlan(ctx, store.NewPlan{
		Name: "Business English Professional Intensive Programme", Description: "Meetings, presentations, negotiations and e-mails, with a review after every conversation and unlimited chats.",
		DurationDays: 365, Target: store.B2B, Price: 12999900, Currency: "KRW",
	}); err != nil {
		t.Fatal(err)
	}
	for i := range 6 {
		env.Plan(fmt.Sprintf("Plan number %d with a long name", i), intp(10*i), store.B2C)
	}
	u, _, m := env.Learner("lou@example.com", intp(10))
	// A ledger row of an older version, whose reason named the turn.
	if _, err := env.Store.ChargeChatUse(ctx, u.ID, m.ID, "turn turn_8f3a2c1d"); err != nil {
		t.Fatal(err)
	}
	// Turns on each of the last seven days, today's slow.
	for day := 6; day >= 0; day-- {
		conv := storedConversation(t, env, u, m, false, "One.", "Two.")
		if _, err := env.Store.DB().ExecContext(ctx, `UPDATE messages SET first_audio_ms = CASE WHEN $2 = 0 THEN 2653 ELSE 900 END, created_at = now() - make_interval(days => $2::int) WHERE conversation_id = $1`, conv, day); err != nil {
			t.Fatal(err)
		}
	}

	a := newTab(t, newBrowser(t, writeMicWAV(t, "silence.wav", silence(time.Second)), false), env.URL, "admin")
	a.signInWithToken(adminToken, "/admin/plans")
	a.waitVisible(`tr[data-plan-name="Acme Team"]`)
	// Every Delete button whole, inside the table's box and the screen.
	if cut := evalJS[[]string](a, `(() => {
		const cut = [];
		for (const b of document.querySelectorAll("#admin-plans button.danger")) {
			const r = b.getBoundingClientRect(), w = b.closest(".table-wrap").getBoundingClientRect();
			if (r.right > w.right + 0.5 || r.right > document.documentElement.clientWidth) cut.push(b.closest("tr").dataset.planName);
		}
		return cut;
	})()`); len(cut) > 0 {
		t.Errorf("Delete buttons cut off at 1280 px: %v", cut)
	}
	a.waitText(`tr[data-plan-name="Acme Team"]`, "Acme Corp’s learners", time.Second)

	// An empty form: every field to fix is named, beside it, and the first gets the focus.
	a.fill("#plan-days", "")
	a.click("#plan-create")
	a.waitText("#plan-error", "3 fields need a change", 5*time.Second)
	for _, id := range []string{"plan-name", "plan-days", "plan-price"} {
		if !evalJS[bool](a, fmt.Sprintf(`(() => {
			const el = document.getElementById(%q);
			const errs = el.getAttribute("aria-describedby").split(" ").map(id => document.getElementById(id)).filter(e => e?.classList.contains("field-error") && !e.hidden && e.innerText);
			return el.getAttribute("aria-invalid") === "true" && errs.length === 1;
		})()`, id)) {
			t.Errorf("#%s is not marked invalid with its message", id)
		}
	}
	if got := evalJS[string](a, `document.activeElement.id`); got != "plan-name" {
		t.Errorf("the focus is on %q, want the first field to fix", got)
	}

	// Assign a plan: nothing chosen by itself; a company's plan for a personal learner is
	// explained before it is assigned.
	a.goTo("/admin/users/" + u.ID)
	a.waitVisible("#assign-plan")
	if v := evalJS[string](a, `document.querySelector("#assign-plan").value`); v != "" {
		t.Errorf("a plan is chosen before the admin chose: %s", v)
	}
	if got := evalJS[[]string](a, `[...document.querySelectorAll("#assign-plan optgroup")].map(g => g.label)`); len(got) != 2 || got[0] != "Sold to lou" || got[1] != "Not sold to lou" {
		t.Errorf("the plan groups: %q", got)
	}
	a.click(`#assign-form button[type=submit]`)
	a.waitText("#assign-note", "Choose the plan to assign first", 5*time.Second)
	a.do("choose the company's plan", chromedp.SetValue(chromedp.CSS("#assign-plan"), companyPlan.ID))
	evalJS[chromedp.Void](a, `document.querySelector("#assign-plan").dispatchEvent(new Event("change"))`)
	a.waitText("#assign-note", "Acme Team is Acme Corp’s own plan, and lou is a personal (B2C) learner", 5*time.Second)
	a.click(`#assign-form button[type=submit]`)
	a.waitText(`dialog[data-testid="confirm-assign"]`, "They get it anyway", 5*time.Second)
	a.click(`dialog[data-testid="confirm-assign"] button.primary`)
	a.waitText("#admin-user-memberships", "Acme Team", 10*time.Second)

	// The usage history in words, whatever reason the ledger row has.
	a.waitText("#admin-usage", "Conversation turn", 5*time.Second)
	if got := evalJS[string](a, `document.querySelector("#admin-usage").innerText + [...document.querySelectorAll("#admin-usage [title]")].map(e => e.title).join(" ")`); strings.Contains(got, "turn_") {
		t.Errorf("the usage history shows a raw reason: %q", got)
	}

	// Metrics over 7 days: one tick per day at the bars; the latency axis fits its labels.
	a.goTo("/admin/metrics")
	a.waitVisible("#chart-latency canvas")
	a.do("7 days", chromedp.SetValue(chromedp.CSS("#metrics-days"), "7"))
	evalJS[chromedp.Void](a, `document.querySelector("#metrics-days").dispatchEvent(new Event("change"))`)
	a.waitJS("the 7-day charts", `document.querySelector("#chart-turns").uplot?.data[0].length === 7`, 10*time.Second)
	for _, v := range []viewport{desktop, phone} {
		a.resize(v)
		type axis struct {
			Splits []float64 `json:"splits"`
			Values []string  `json:"values"`
			Xs     []float64 `json:"xs"`
		}
		raw := evalJS[string](a, `(() => {
			const u = document.querySelector("#chart-turns").uplot;
			const x = u.axes[0];
			return JSON.stringify({splits: x._splits.filter((s, i) => x._values[i] !== ""), values: x._values.filter(v => v !== ""), xs: u.data[0]});
		})()`)
		var ax axis
		if err := json.Unmarshal([]byte(raw), &ax); err != nil {
			t.Fatal(err)
		}
		days := map[float64]bool{}
		for _, x := range ax.Xs {
			days[x] = true
		}
		labels := map[string]bool{}
		for i, s := range ax.Splits {
			if !days[s] {
				t.Errorf("%s: a date tick at %v is not at a day's bar %v", v.name, s, ax.Xs)
			}
			if labels[ax.Values[i]] {
				t.Errorf("%s: the date %q is written twice: %q", v.name, ax.Values[i], ax.Values)
			}
			labels[ax.Values[i]] = true
		}
		if len(ax.Splits) < 3 {
			t.Errorf("%s: only %d date ticks on 7 days: %q", v.name, len(ax.Splits), ax.Values)
		}
		// The y labels fit: none is wider than the axis, and nothing is drawn at the canvas's
		// left edge (a cut label would be).
		fit := evalJS[string](a, `(() => {
			const el = document.querySelector("#chart-latency"), u = el.uplot, y = u.axes[1];
			const c = document.createElement("canvas").getContext("2d");
			c.font = '12px system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, "Noto Sans", sans-serif';
			const widest = Math.max(...y._values.map(v => c.measureText(v).width));
			const canvas = el.querySelector("canvas");
			const px = canvas.getContext("2d").getImageData(0, 0, 3, canvas.height).data;
			let ink = 0;
			for (let i = 3; i < px.length; i += 4) if (px[i] > 0) ink++;
			if (!y._values.some(v => /s$/.test(v))) return "no labels in seconds or ms: " + y._values.join(", ");
			if (y._size < widest + 12) return "axis " + y._size + " px for labels up to " + Math.round(widest) + " px: " + y._values.join(", ");
			if (ink) return ink + " pixels drawn at the left edge";
			return "";
		})()`)
		if fit != "" {
			t.Errorf("%s: the latency chart's y axis: %s", v.name, fit)
		}
	}
	a.resize(desktop)
	a.waitText("#metrics-totals", "2.7 s", time.Second)
	a.screenshot("admin-metrics-7-days-light")
}
