package session

import (
	"testing"
	"time"
)

func TestJudgeWords(t *testing.T) {
	for _, c := range []struct {
		text string
		want turnVerdict
	}{
		{"", verdictUnknown},
		{"   ", verdictUnknown},
		{"I would like to", verdictUnfinished},
		{"I would like to.", verdictUnfinished}, // Whisper closes fragments with a full stop
		{"I would like to...", verdictUnfinished},
		{"I would like to…", verdictUnfinished},
		{"Yesterday I went to the,", verdictUnfinished},
		{"I went there because", verdictUnfinished},
		{"My favourite food is um", verdictUnfinished},
		{"I think we should", verdictUnfinished},
		{"and then my", verdictUnfinished},
		{"I’m", verdictUnfinished},
		{"I think that", verdictUnfinished},
		{"She said that", verdictUnfinished},
		{"I think", verdictUnfinished},
		{"What do you think?", verdictComplete},
		{"I would like to order a coffee with milk.", verdictComplete},
		{"i would like to order a coffee with milk", verdictComplete}, // pocketsphinx: no punctuation
		{"Where are you from?", verdictComplete},
		{"What are you looking at?", verdictComplete},
		{"Thank you.", verdictComplete},
		{"I like that.", verdictComplete},
		{"I think so.", verdictComplete},
		{"Not really.", verdictComplete},
		{"Me too.", verdictComplete},
		{"Yes, I can.", verdictComplete},
		{"I will.", verdictComplete},
		{"No, I don't.", verdictComplete},
		{"Hello!", verdictComplete},
		{"...", verdictUnfinished},
		{"¿?", verdictComplete},
	} {
		if got := judgeWords(c.text); got != c.want {
			t.Errorf("judgeWords(%q) = %v, want %v", c.text, got, c.want)
		}
	}
}

func TestEndOfTurnBounds(t *testing.T) {
	ms := func(d time.Duration) int { return int(d / time.Millisecond) }
	for _, c := range []struct {
		silenceMs          int
		level              string
		short, long, plain int
	}{
		{700, "intermediate", 350, 2450, 700},
		{700, "beginner", 450, 2940, 700},
		{700, "advanced", 350, 1960, 700},
		{300, "intermediate", 300, 1200, 300},
		{200, "intermediate", 200, 1200, 200}, // never a short wait above silenceMs
		{1500, "intermediate", 500, 3000, 1500},
		{4000, "intermediate", 500, 4000, 4000}, // never a long wait below it
		{5000, "beginner", 600, 5000, 5000},
	} {
		b := endOfTurnBounds(c.silenceMs, c.level)
		if ms(b.short) != c.short || ms(b.long) != c.long || ms(b.plain) != c.plain {
			t.Errorf("bounds(%d, %s) = %d/%d/%d ms, want %d/%d/%d", c.silenceMs, c.level, ms(b.short), ms(b.long), ms(b.plain), c.short, c.long, c.plain)
		}
		if b.silenceNeeded(verdictComplete) != b.short || b.silenceNeeded(verdictUnfinished) != b.long || b.silenceNeeded(verdictUnknown) != b.plain {
			t.Errorf("silenceNeeded does not follow the bounds")
		}
	}
}
