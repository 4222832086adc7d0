package offline

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/aitutor/aitutor/session"
)

// reviewOf returns a review request of the learner's turns (typed), turn ids t1, t2, ...
func reviewOf(level, topic string, learner ...string) session.ReviewRequest {
	req := session.ReviewRequest{Level: level, Topic: topic}
	for i, l := range learner {
		req.Turns = append(req.Turns, session.ReviewTurn{TurnID: fmt.Sprintf("t%d", i+1), Learner: l, Tutor: "That's interesting. Tell me more?"})
	}
	return req
}

func f64(v float64) *float64 { return &v }

// review runs the reviewer and checks what every review keeps: the server accepts the draft
// unchanged, the level has two to four reasons, one to three strengths, at most three goals.
func review(t *testing.T, req session.ReviewRequest) session.ReviewDraft {
	t.Helper()
	d, err := reviewer{}.Review(context.Background(), req)
	if err != nil {
		t.Fatalf("Review: %v", err)
	}
	valid, err := session.ValidateReviewDraft(d, req)
	if err != nil {
		t.Fatalf("the server refuses the draft: %v\n%+v", err, d)
	}
	if !slices.Equal(valid.Corrections, d.Corrections) {
		t.Errorf("the server changed the corrections:\n%+v\nto\n%+v", d.Corrections, valid.Corrections)
	}
	if n := len(d.Level.Reasons); n < 2 || n > 4 {
		t.Errorf("%d reasons: %q", n, d.Level.Reasons)
	}
	if n := len(d.Strengths); n < 1 || n > 3 {
		t.Errorf("%d strengths: %q", n, d.Strengths)
	}
	if n := len(d.NextGoals); n < 1 || n > 3 {
		t.Errorf("%d goals: %q", n, d.NextGoals)
	}
	if d.Corrections == nil || d.Vocabulary == nil {
		t.Error("nil corrections or vocabulary (JSON null)")
	}
	for _, v := range d.Vocabulary {
		if v.Phrase == "" || v.Meaning == "" || v.Example == "" {
			t.Errorf("vocabulary item %+v", v)
		}
	}
	return d
}

// Three learners of different levels, about the same things.
var (
	beginnerTurns = []string{
		"hello", "I have 25 years.", "I like pizza. Pizza is good.", "My sister play tennis.",
		"I very like football.", "yes", "I go to school. School is big.", "My mother cook pizza. I like pizza.",
	}
	intermediateTurns = []string{
		"Hello! I'm doing well, thanks for asking.",
		"I work as a nurse in a big hospital, so my days are usually quite long and busy.",
		"Last weekend I went hiking with my friends because the weather was finally warm and sunny.",
		"I think travelling is important because you can learn about other cultures and meet new people.",
		"Next summer I'm going to visit my cousins in Canada if I can save enough money.",
		"It depends of the price of the flights, they are more expensive in July.",
	}
	advancedTurns = []string{
		"Honestly, I've been thinking about changing careers for a while, although I haven't told my manager yet.",
		"What attracts me to data science is the mix of statistics and storytelling, which I find genuinely fascinating.",
		"If I could start again, I would probably have studied mathematics instead of law, even though law taught me to argue carefully.",
		"Whereas my colleagues seem content with routine, I get restless unless there's a new problem to solve every few weeks.",
		"I suppose the biggest risk is financial: retraining takes time, and my savings would only last about six months.",
		"That said, I've already completed two online courses and built a small portfolio of projects that I'm quite proud of.",
	}
)

func level(cefr string) int { return slices.Index(session.CEFRLevels, cefr) }

func TestReviewLevels(t *testing.T) {
	tests := []struct {
		name     string
		turns    []string
		min, max string
	}{
		{"beginner", beginnerTurns, "A1", "A2"},
		{"intermediate", intermediateTurns, "B1", "B2"},
		{"advanced", advancedTurns, "B2", "C1"},
	}
	var levels []int
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := review(t, reviewOf("intermediate", "", tt.turns...))
			l := level(d.Level.CEFR)
			if l < level(tt.min) || l > level(tt.max) {
				t.Errorf("level %s, want %s to %s; reasons %q", d.Level.CEFR, tt.min, tt.max, d.Level.Reasons)
			}
			levels = append(levels, l)
		})
	}
	if len(levels) == 3 && !(levels[0] < levels[1] && levels[1] < levels[2]) {
		t.Errorf("levels %v, want beginner < intermediate < advanced", levels)
	}
}

func TestReviewReasonsQuoteTheFigures(t *testing.T) {
	// 10 turns, 60 words, 2 mistakes: 6 words per turn, 3.3 mistakes per 100 words.
	turns := []string{
		"I live in a small town near the sea", // 9
		"My brother go to work by bus",        // 7
		"I like my job very much",             // 6
		"I work in a shop",                    // 5
		"I very like the people there",        // 6
		"On Sunday I play football",           // 5
		"My friends are nice",                 // 4
		"We eat pizza after the game",         // 6
		"I watch films in the evening",        // 6
		"It is a quiet and happy life",        // 7 → 61
	}
	req := reviewOf("beginner", "", turns...)
	d := review(t, req)
	want := []string{
		"You used 6.1 words per turn on average (61 words in 10 turns).",
		"2 mistakes in 61 words (3.3 per 100 words), in 2 of your 10 turns.",
	}
	for _, w := range want {
		if !slices.Contains(d.Level.Reasons, w) {
			t.Errorf("reasons %q do not say %q", d.Level.Reasons, w)
		}
	}
	if len(d.Level.Reasons) < 2 {
		t.Errorf("reasons %q", d.Level.Reasons)
	}

	// The server's fluency figures.
	req.Fluency = session.Fluency{SpokenTurns: 10, Words: 61, SpeakingMs: 38000, WordsPerMinute: f64(96.3),
		PauseRatio: f64(0.22), FillersPerMinute: f64(4.5)}
	d = review(t, req)
	speech := "About 96 words per minute while speaking, with 22% of the time in pauses and 4.5 fillers (um, uh) a minute."
	if !slices.Contains(d.Level.Reasons, speech) {
		t.Errorf("reasons %q do not say %q", d.Level.Reasons, speech)
	}
	// Less than 10 s of speech is too little to count.
	req.Fluency.SpeakingMs = 8000
	d = review(t, req)
	for _, r := range d.Level.Reasons {
		if strings.Contains(r, "per minute") {
			t.Errorf("8 s of speech quoted: %q", r)
		}
	}
}

func TestReviewFluencyMovesTheLevel(t *testing.T) {
	req := reviewOf("intermediate", "", intermediateTurns...)
	spoken := func(wpm, pauses, fillers float64) string {
		r := req
		r.Fluency = session.Fluency{SpokenTurns: 6, Words: 87, SpeakingMs: 60000, WordsPerMinute: f64(wpm), PauseRatio: f64(pauses), FillersPerMinute: f64(fillers)}
		return review(t, r).Level.CEFR
	}
	halting, fluent := spoken(40, 0.5, 14), spoken(150, 0.1, 0)
	if level(halting) >= level(fluent) {
		t.Errorf("halting speech %s, fluent speech %s: want the halting one lower", halting, fluent)
	}
}

func TestReviewCorrections(t *testing.T) {
	req := reviewOf("intermediate", "",
		"Hi! I am agree that weekends are too short.",
		"My brother go to the gym every day. He don't like running.",
		"We discussed about our plans yesterday.",
		"Yes, it was fun.",
		"i sink so too",
		"My sister don't went to the party.",
	)
	req.Turns[4].Spoken = true
	d := review(t, req)
	want := []struct{ turn, original, corrected, kind string }{
		{"t1", "I am agree", "I agree", session.CorrectionGrammar},
		{"t2", "My brother go", "My brother goes", session.CorrectionGrammar},
		{"t2", "He don't", "He doesn't", session.CorrectionGrammar},
		{"t3", "discussed about", "discussed", session.CorrectionWordChoice},
		{"t5", "sink so", "think so", session.CorrectionPronunciation},
		{"t6", "My sister don't went", "My sister doesn't go", session.CorrectionGrammar},
	}
	if len(d.Corrections) != len(want) {
		t.Fatalf("%d corrections, want %d: %+v", len(d.Corrections), len(want), d.Corrections)
	}
	learner := map[string]string{}
	for _, turn := range req.Turns {
		learner[turn.TurnID] = turn.Learner
	}
	for i, c := range d.Corrections {
		w := want[i]
		if c.TurnID != w.turn || c.Original != w.original || c.Corrected != w.corrected || c.Kind != w.kind {
			t.Errorf("correction %d = %+v, want %+v", i, c, w)
		}
		if !strings.Contains(learner[c.TurnID], c.Original) {
			t.Errorf("correction %d: %q is not in turn %s %q", i, c.Original, c.TurnID, learner[c.TurnID])
		}
		if c.Explanation == "" {
			t.Errorf("correction %d has no explanation", i)
		}
	}
	// The same words typed are not a pronunciation mistake.
	req.Turns[4].Spoken = false
	for _, c := range review(t, req).Corrections {
		if c.Kind == session.CorrectionPronunciation {
			t.Errorf("typed turn corrected for pronunciation: %+v", c)
		}
	}
	// The most frequent mistake is the first goal: the -s of he and she, three times (go, don't,
	// don't); then agree, the first of the mistakes made once.
	if g := d.NextGoals[0]; g != goalThirdPerson {
		t.Errorf("first goal %q, want %q", g, goalThirdPerson)
	}
	if g := d.NextGoals[1]; g != goalAgree {
		t.Errorf("second goal %q, want %q", g, goalAgree)
	}
}

func TestReviewCorrectionsAreCapped(t *testing.T) {
	var turns []string
	for range 25 {
		turns = append(turns, "My brother go to school and I very like it.")
	}
	d := review(t, reviewOf("beginner", "", turns...))
	if len(d.Corrections) != maxReviewCorrections {
		t.Errorf("%d corrections, want %d", len(d.Corrections), maxReviewCorrections)
	}
	if !slices.ContainsFunc(d.Level.Reasons, func(r string) bool { return strings.HasPrefix(r, "50 mistakes in ") }) {
		t.Errorf("reasons %q do not count all 50 mistakes", d.Level.Reasons)
	}
}

func TestReviewStrengthsAndGoals(t *testing.T) {
	adv := review(t, reviewOf("advanced", "", advancedTurns...))
	for _, want := range []string{"avoided the common mistakes", "detailed answers", `"although"`} {
		if !slices.ContainsFunc(adv.Strengths, func(s string) bool { return strings.Contains(s, want) }) {
			t.Errorf("advanced strengths %q do not mention %s", adv.Strengths, want)
		}
	}
	beg := review(t, reviewOf("beginner", "", beginnerTurns...))
	if !slices.ContainsFunc(beg.NextGoals, func(s string) bool { return strings.Contains(s, "Give longer answers") }) {
		t.Errorf("beginner goals %q do not ask for longer answers", beg.NextGoals)
	}
	// "My sister play", "My mother cook": twice; then "I have 25 years", the first of the others.
	if beg.NextGoals[0] != goalThirdPerson || beg.NextGoals[1] != goalAge {
		t.Errorf("beginner's goals %q", beg.NextGoals)
	}
	// Halting speech: a goal about pauses.
	req := reviewOf("intermediate", "", intermediateTurns...)
	req.Fluency = session.Fluency{SpokenTurns: 6, Words: 87, SpeakingMs: 60000, WordsPerMinute: f64(70), PauseRatio: f64(0.41), FillersPerMinute: f64(2)}
	d := review(t, req)
	if !slices.ContainsFunc(d.NextGoals, func(s string) bool { return strings.Contains(s, "41% of your speaking time") }) {
		t.Errorf("goals %q do not mention the pauses", d.NextGoals)
	}
}

func TestReviewVocabulary(t *testing.T) {
	d := review(t, reviewOf("intermediate", "", "I love cooking dinner for my family, especially pasta and fish.", "We eat out on Saturdays."))
	if len(d.Vocabulary) == 0 {
		t.Fatal("no vocabulary for a conversation about food")
	}
	if topicOf(d.Vocabulary[0].Phrase) != "food" {
		t.Errorf("first phrase %q is not about food", d.Vocabulary[0].Phrase)
	}
	for _, v := range d.Vocabulary {
		if v.Phrase == "to eat out" {
			t.Error("suggested a phrase the learner used")
		}
	}
	// The phrases suit the level: a beginner gets none above A2, an advanced learner none below
	// B1.
	levelOf := map[string]int{}
	for _, topic := range vocabTopics {
		for _, p := range topic.phrases {
			levelOf[p.Phrase] = p.level
		}
	}
	for _, tt := range []struct {
		turns    []string
		min, max int
	}{{beginnerTurns, a1, b1}, {advancedTurns, b1, c1}} {
		d := review(t, reviewOf("", "", tt.turns...))
		if len(d.Vocabulary) == 0 {
			t.Errorf("no vocabulary at %s", d.Level.CEFR)
		}
		for _, v := range d.Vocabulary {
			if l := levelOf[v.Phrase]; l < tt.min || l > tt.max {
				t.Errorf("at %s: %q is of level %s", d.Level.CEFR, v.Phrase, session.CEFRLevels[l])
			}
		}
	}
	// No topic of the table: phrases that help any conversation.
	d = review(t, reviewOf("intermediate", "", "Yes, I think so.", "Maybe, I am not sure about that."))
	if len(d.Vocabulary) == 0 {
		t.Error("no vocabulary without a topic")
	}
	for _, v := range d.Vocabulary {
		if !slices.ContainsFunc(conversationPhrases, func(p vocabPhrase) bool { return p.Phrase == v.Phrase }) {
			t.Errorf("vocabulary without a topic: %q", v.Phrase)
		}
	}
	// The conversation's topic counts, the learner's words more.
	d = review(t, reviewOf("intermediate", "weather", "I like my job at the office with my colleagues."))
	if len(d.Vocabulary) == 0 || topicOf(d.Vocabulary[0].Phrase) != "work" || topicOf(d.Vocabulary[len(d.Vocabulary)-1].Phrase) != "weather" {
		t.Errorf("vocabulary %+v: want work first", d.Vocabulary)
	}
}

// topicOf returns the vocabulary topic of a phrase.
func topicOf(phrase string) string {
	for _, topic := range vocabTopics {
		for _, p := range topic.phrases {
			if p.Phrase == phrase {
				return topic.name
			}
		}
	}
	return ""
}

func TestReviewOddConversations(t *testing.T) {
	tests := []struct {
		name  string
		turns []string
		cefr  string
	}{
		{"one word", []string{"yes"}, "A1"},
		{"no words", []string{"...", "?!"}, "A1"},
		{"not in English", []string{"Hola, me gusta mucho el fútbol", "Je suis très content aujourd'hui"}, "A1"},
		{"one long turn", []string{strings.Repeat("Although I rarely travel, which surprises people, I would love to visit Japan because its culture fascinates me. ", 3)}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := review(t, reviewOf("intermediate", "", tt.turns...))
			if tt.cefr != "" && d.Level.CEFR != tt.cefr {
				t.Errorf("level %s, want %s: %q", d.Level.CEFR, tt.cefr, d.Level.Reasons)
			}
		})
	}
	// A few foreign turns among English ones are left out of the measures, and said so.
	d := review(t, reviewOf("intermediate", "", "Hola, me gusta mucho el fútbol", "I like football because it is exciting."))
	if !slices.ContainsFunc(d.Level.Reasons, func(r string) bool { return strings.Contains(r, "1 of your turns was not in English") }) ||
		!slices.ContainsFunc(d.NextGoals, func(g string) bool { return strings.Contains(g, "Keep to English") }) {
		t.Errorf("the foreign turn is not mentioned: %q %q", d.Level.Reasons, d.NextGoals)
	}
	// Short conversations are capped.
	d = review(t, reviewOf("advanced", "", advancedTurns[0]))
	if level(d.Level.CEFR) > level("A2") || !slices.ContainsFunc(d.Level.Reasons, func(r string) bool { return strings.Contains(r, "was short") }) {
		t.Errorf("one turn: %s %q", d.Level.CEFR, d.Level.Reasons)
	}
}

func TestReviewIsDeterministic(t *testing.T) {
	req := reviewOf("intermediate", "travel", intermediateTurns...)
	req.Fluency = session.Fluency{SpokenTurns: 6, Words: 87, SpeakingMs: 60000, WordsPerMinute: f64(110), PauseRatio: f64(0.2), FillersPerMinute: f64(1)}
	first := review(t, req)
	for range 5 {
		if again := review(t, req); !reflect.DeepEqual(first, again) {
			t.Fatalf("two reviews of one conversation:\n%+v\n%+v", first, again)
		}
	}
}

func TestReviewCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := (reviewer{}).Review(ctx, reviewOf("", "", "hello")); !errors.Is(err, context.Canceled) {
		t.Errorf("Review with a cancelled context: %v", err)
	}
}

func TestLinksAndVerbForms(t *testing.T) {
	words := learnerWords("So I stayed home, although I had a friend who was there; I will go next year and I've been thinking I'd like to.")
	lower := " " + strings.Join(words, " ") + " "
	var links []string
	for _, l := range linksUsed(words, lower) {
		links = append(links, l.word)
	}
	slices.Sort(links)
	if want := []string{"although", "so", "who"}; !slices.Equal(links, want) {
		t.Errorf("links %q, want %q", links, want)
	}
	forms := verbForms(words)
	for form, want := range map[string]string{"past": "i stayed", "future": "will go", "perfect": "i've been", "would": "i'd like"} {
		if !slices.Contains(forms[form], want) {
			t.Errorf("%s: %q, want %q", form, forms[form], want)
		}
	}
	// Not linking words or forms: "so good", "since 2010", "who is", "going to the park".
	words = learnerWords("Who is it? It is so good, I live here since 2010 and I'm going to the park.")
	if got := linksUsed(words, " "+strings.Join(words, " ")+" "); len(got) != 0 {
		t.Errorf("links %+v", got)
	}
	if got := verbForms(words); len(got) != 0 {
		t.Errorf("forms %q", got)
	}
}

// TestLevelEstimate checks the votes and caps of level.go's table on measures made up to sit
// on either side of its thresholds.
func TestLevelEstimate(t *testing.T) {
	spoken := func(s signals, wpm, pauses, fillers float64) signals {
		s.spoken = true
		s.fluency = session.Fluency{SpokenTurns: 5, SpeakingMs: 60000, WordsPerMinute: f64(wpm), PauseRatio: f64(pauses), FillersPerMinute: f64(fillers)}
		return s
	}
	many := func(s signals) signals { // enough words for every signal and no cap
		s.words, s.turns = 200, 10
		s.per100 = 100 * float64(s.mistakes) / 200
		return s
	}
	tests := []struct {
		name   string
		s      signals
		want   string
		capped string
	}{
		{"short answers, many mistakes", many(signals{perTurn: 3, mistakes: 30, variety: -1}), "A1", ""}, // below the cap already
		{"short answers, some links", many(signals{perTurn: 6, mistakes: 8, simpleLinks: []string{"because"}, forms: []string{"past"}, variety: 0.7}), "A2", ""},
		{"middling", many(signals{perTurn: 10, mistakes: 4, simpleLinks: []string{"because", "when"}, forms: []string{"past", "future"}, variety: 0.8}), "B1", ""},
		{"long, complex, few mistakes", many(signals{perTurn: 15, mistakes: 1, complexLinks: []string{"although"}, forms: []string{"past", "future"}, variety: 0.85}), "B2", ""},
		{"everything at the top", many(signals{perTurn: 30, complexLinks: []string{"although", "which"}, forms: []string{"past", "future", "perfect"}, variety: 0.95}), "C1", ""},
		{"and fast fluent speech: still C1", spoken(many(signals{perTurn: 30, complexLinks: []string{"although", "which"}, forms: []string{"past", "future", "perfect"}, variety: 0.95}), 170, 0.05, 0), "C1", ""},
		{"slow halting speech pulls down", spoken(many(signals{perTurn: 15, mistakes: 1, complexLinks: []string{"although"}, forms: []string{"past", "future"}, variety: 0.85}), 45, 0.45, 13), "B1", ""},
		{"mistakes cap", many(signals{perTurn: 30, mistakes: 5, complexLinks: []string{"although", "which"}, forms: []string{"past", "future", "perfect"}, variety: 0.95}), "B2", "mistakes"},
		{"few words cap", signals{perTurn: 18, turns: 1, words: 18, variety: -1}, "A2", "words"},
		{"under 50 words cap", signals{perTurn: 24, turns: 2, words: 48, complexLinks: []string{"although", "which"}, forms: []string{"past", "would"}, variety: 0.9}, "B1", "words"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, capped := tt.s.estimate()
			if got := session.CEFRLevels[l]; got != tt.want || capped != tt.capped {
				t.Errorf("estimate = %s (cap %q), want %s (cap %q)", got, capped, tt.want, tt.capped)
			}
		})
	}
}
