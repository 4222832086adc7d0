package web_test

import (
	"strings"
	"testing"
	"time"

	"github.com/aitutor/aitutor/server/servertest"
	"github.com/aitutor/aitutor/store"
)

// TestPricesByCurrency: the UI formats and reads prices by their plan's currency, in minor
// units: cents for USD, whole won for KRW (the demo plans' currency) and yen for JPY, which
// have no minor unit.
func TestPricesByCurrency(t *testing.T) {
	env := servertest.New(t, servertest.Options{})
	for _, p := range []store.NewPlan{
		{Name: "Won plan", DurationDays: 30, ChatUses: intp(30), Target: store.B2C, Price: 9900, Currency: "KRW"},
		{Name: "Dollar plan", DurationDays: 30, ChatUses: intp(30), Target: store.B2C, Price: 999, Currency: "USD"},
	} {
		if _, err := env.Store.CreatePlan(t.Context(), p); err != nil {
			t.Fatal(err)
		}
	}
	_, token := env.User("ann@example.com", store.RoleUser)
	tb := newTab(t, newBrowser(t, writeMicWAV(t, "silence.wav", silence(time.Second)), false), env.URL, "prices")
	tb.signInWithToken(token, "/plans")

	got := evalJS[struct {
		KRW, USD, JPY       string
		KRWDigits           int
		ParsedKRW, ParsedUS int
		KRWFraction         string
	}](tb, `import("/js/format.js").then((f) => {
		let krwFraction = "";
		try { f.parsePrice("9.5", "KRW"); } catch (e) { krwFraction = e.message; }
		return {krw: f.formatPrice(9900, "KRW"), usd: f.formatPrice(999, "USD"), jpy: f.formatPrice(1500, "JPY"),
			krwDigits: f.minorDigits("KRW"), parsedKRW: f.parsePrice("9900", "KRW"), parsedUS: f.parsePrice("9.99", "USD"),
			krwFraction};
	})`)
	t.Logf("9900 KRW: %q, 999 USD: %q, 1500 JPY: %q", got.KRW, got.USD, got.JPY)
	digits := func(s string) string {
		return strings.Map(func(r rune) rune {
			if r >= '0' && r <= '9' {
				return r
			}
			return -1
		}, s)
	}
	if digits(got.KRW) != "9900" || !strings.ContainsAny(got.KRW, "₩W") || digits(got.JPY) != "1500" {
		t.Errorf("9900 KRW shows as %q and 1500 JPY as %q: whole units, no decimals", got.KRW, got.JPY)
	}
	if digits(got.USD) != "999" || !strings.ContainsAny(got.USD, ".,") {
		t.Errorf("999 USD cents shows as %q, want 9.99 dollars", got.USD)
	}
	if got.KRWDigits != 0 || got.ParsedKRW != 9900 || got.ParsedUS != 999 || !strings.Contains(got.KRWFraction, "no minor units") {
		t.Errorf("reading prices: %+v", got)
	}

	// The plans page shows each plan in its own currency.
	tb.waitVisible(`[data-plan-name="Won plan"] .price`)
	if won := tb.text(`[data-plan-name="Won plan"] .price`); !strings.Contains(won, got.KRW) {
		t.Errorf("the won plan's price shows as %q, want %q", won, got.KRW)
	}
	if dollars := tb.text(`[data-plan-name="Dollar plan"] .price`); !strings.Contains(dollars, got.USD) {
		t.Errorf("the dollar plan's price shows as %q, want %q", dollars, got.USD)
	}
}
