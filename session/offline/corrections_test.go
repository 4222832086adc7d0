package offline

import (
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/aitutor/aitutor/session"
)

// ruleCase is a sentence with one stretch of mistakes: what the review quotes of it, its fix,
// kind and (part of) its explanation.
type ruleCase struct {
	sentence  string
	spoken    bool // the rule applies to speech only
	original  string
	corrected string
	kind      string
	explains  string
}

var ruleCases = []ruleCase{
	{"I am not agree with that", false, "I am not agree", "I don't agree", session.CorrectionGrammar, `its negative is "I don't agree"`},
	{"I am agree with you", false, "I am agree", "I agree", session.CorrectionGrammar, `needs no "am" or "are": say "I agree"`},
	{"they're agree", false, "they're agree", "they agree", session.CorrectionGrammar, `say "they agree"`},
	{"She is agree with me", false, "She is agree", "She agrees", session.CorrectionGrammar, `"she agrees"`},
	{"He don't like coffee", false, "He don't", "He doesn't", session.CorrectionGrammar, `the negative of the present is "doesn't"`},
	{"my friend don't eat meat", false, "my friend don't", "my friend doesn't", session.CorrectionGrammar, `"doesn't", not "don't"`},
	{"she study English every day", false, "she study", "she studies", session.CorrectionGrammar, `"she studies", not "she study"`},
	{"My brother go to school by bus", false, "My brother go", "My brother goes", session.CorrectionGrammar, `"my brother goes", not "my brother go"`},
	{"This phone is more better than my old one", false, "more better", "better", session.CorrectionGrammar, `"Better" is already a comparative`},
	{"It was the most best day", false, "most best", "best", session.CorrectionGrammar, `"Best" is already a superlative`},
	{"I have 25 years", false, "I have 25 years", "I am 25 years old", session.CorrectionWordChoice, "In English you are an age"},
	{"she has twenty-two years old", false, "she has twenty-two years old", "she is twenty-two years old", session.CorrectionWordChoice, "you are an age"},
	{"People is very friendly here", false, "People is", "People are", session.CorrectionGrammar, `"People" is plural`},
	{"I didn't went to the party", false, "didn't went", "didn't go", session.CorrectionGrammar, `After "didn't" the verb stays in its base form: "didn't go", not "didn't went"`},
	{"we don't liked it", false, "don't liked", "don't like", session.CorrectionGrammar, `"don't like", not "don't liked"`},
	{"Can you explain me this word?", false, "explain me", "explain to me", session.CorrectionWordChoice, `"Explain" needs "to" before the person`},
	{"We discussed about the news", false, "discussed about", "discussed", session.CorrectionWordChoice, `"Discuss" takes its object directly`},
	{"I need some informations", false, "informations", "information", session.CorrectionWordChoice, `"Information" is uncountable`},
	{"She gave me good advices", false, "advices", "advice", session.CorrectionWordChoice, `"some advice" or "a piece of advice"`},
	{"I very like pizza", false, "I very like", "I really like", session.CorrectionWordChoice, `"I really like it" or "I like it very much"`},
	{"I can to swim", false, "can to", "can", session.CorrectionGrammar, `After "can" the verb comes without "to"`},
	{"It depends of the weather", false, "depends of", "depends on", session.CorrectionWordChoice, `The preposition after "depend" is "on"`},
	{"She is married with a doctor", false, "married with", "married to", session.CorrectionWordChoice, "You are married to someone"},
	// Added with the reviewer.
	{"I live here since two years", false, "I live here since two years", "I have lived here for two years", session.CorrectionGrammar, `Use "for" with a length of time`},
	{"She is married since five years", false, "She is married since five years", "She has been married for five years", session.CorrectionGrammar, "present perfect"},
	{"I'm in London since 3 months", false, "I'm in London since 3 months", "I have been in London for 3 months", session.CorrectionGrammar, "present perfect"},
	{"It's been raining since two hours", false, "It's been raining since two hours", "It's been raining for two hours", session.CorrectionGrammar, `"since" with a starting point`},
	{"we know each other since a long time", false, "we know each other since a long time", "we have known each other for a long time", session.CorrectionGrammar, `"for two years"`},
	{"Yes, since many years", false, "since many years", "for many years", session.CorrectionGrammar, `"for" with a length of time`},
	{"I made a photo of the sea", false, "made a photo", "took a photo", session.CorrectionWordChoice, `you "take" a photo`},
	{"I've made some nice photos", false, "I've made some nice photos", "I've taken some nice photos", session.CorrectionWordChoice, `you "take" a photo`},
	{"We are making a selfie", false, "making a selfie", "taking a selfie", session.CorrectionWordChoice, `you "take" a photo`},
	{"English is more easy than French", false, "more easy", "easier", session.CorrectionGrammar, `"easier", not "more easy"`},
	{"My new flat is more big.", false, "more big", "bigger", session.CorrectionGrammar, `"bigger", not "more big"`},
	{"I ain't got time", false, "I ain't got", "I haven't got", session.CorrectionRegister, `"Ain't" is slang`},
	{"it ain't fair", false, "it ain't", "it isn't", session.CorrectionRegister, `say "isn't", "aren't", "am not" or "haven't"`},
	{"I ain't sure", false, "I ain't", "I'm not", session.CorrectionRegister, `"Ain't" is slang`},
	{"Hello, how do you do?", false, "how do you do", "how are you", session.CorrectionRegister, "formal greeting for a first introduction"},
	{"hi how do you do", false, "how do you do", "how are you", session.CorrectionRegister, `ask "How are you?"`},
	{"Can you say me your name?", false, "say me", "tell me", session.CorrectionWordChoice, `you "tell me" something`},
	{"He said me the answer", false, "said me", "told me", session.CorrectionWordChoice, `"Say" does not take the person`},
	{"Can you borrow me your pen?", false, "borrow me", "lend me", session.CorrectionWordChoice, `You "lend" something to someone`},
	// Typographic apostrophes, as phones type them.
	{"I’m agree with you", false, "I’m agree", "I agree", session.CorrectionGrammar, `say "I agree"`},
	{"He don’t like it", false, "He don’t", "He doesn't", session.CorrectionGrammar, `"doesn't"`},
	// Two rules in one stretch: one correction that explains both.
	{"My sister don't went to school", false, "My sister don't went", "My sister doesn't go", session.CorrectionGrammar, `"doesn't", not "don't". After "don't" the verb stays in its base form`},
	// Likely pronunciation, from what the recogniser heard.
	{"i sink so too", true, "sink so", "think so", session.CorrectionPronunciation, `sounded like "sink" where you meant "think"`},
	{"i don't sink that is true", true, "sink that", "think that", session.CorrectionPronunciation, "th sound"},
	{"i have tree brothers", true, "tree brothers", "three brothers", session.CorrectionPronunciation, `"tree" where you meant "three"`},
	{"i walk as a teacher", true, "walk as a", "work as a", session.CorrectionPronunciation, `"walk" where you meant "work"`},
	{"we leave in a small town", true, "we leave in a small", "we live in a small", session.CorrectionPronunciation, `"leave" where you meant "live"`},
}

// rulesFor returns the rules a review applies to a typed or spoken sentence.
func rulesFor(spoken bool) []correction {
	if spoken {
		return append(append([]correction{}, corrections...), soundsLike...)
	}
	return corrections
}

func TestCorrectionRules(t *testing.T) {
	for _, tt := range ruleCases {
		t.Run(tt.sentence, func(t *testing.T) {
			got := findMistakes(tt.sentence, rulesFor(tt.spoken))
			if len(got) != 1 {
				t.Fatalf("found %d stretches of mistakes, want 1: %+v", len(got), got)
			}
			f := got[0]
			if f.original != tt.original || f.corrected != tt.corrected {
				t.Errorf("%q → %q, want %q → %q", f.original, f.corrected, tt.original, tt.corrected)
			}
			if !strings.Contains(tt.sentence, f.original) {
				t.Errorf("%q is not the learner's words", f.original)
			}
			if k := f.mistakes[0].rule.kind; k != tt.kind {
				t.Errorf("kind %s, want %s", k, tt.kind)
			}
			var explanations []string
			for _, m := range f.mistakes {
				explanations = append(explanations, m.rule.explain(m.sub))
			}
			if e := strings.Join(explanations, " "); !strings.Contains(e, tt.explains) {
				t.Errorf("explanation %q does not say %q", e, tt.explains)
			}
			if tt.spoken && len(findMistakes(tt.sentence, corrections)) != 0 {
				t.Errorf("a speech-only mistake was found in typing")
			}
		})
	}
}

// TestCorrectionRulesExplained checks that every rule is tried above and explains itself in
// its own words, with a kind and a goal.
func TestCorrectionRulesExplained(t *testing.T) {
	kinds := map[string]bool{session.CorrectionGrammar: true, session.CorrectionWordChoice: true,
		session.CorrectionPronunciation: true, session.CorrectionRegister: true}
	explanationOf := map[*regexp.Regexp]string{} // by the rule's pattern: rulesFor copies the rules
	for _, tt := range ruleCases {
		for _, f := range findMistakes(tt.sentence, rulesFor(tt.spoken)) {
			for _, m := range f.mistakes {
				if _, ok := explanationOf[m.rule.re]; !ok {
					explanationOf[m.rule.re] = m.rule.explain(m.sub)
				}
			}
		}
	}
	ruleBy := map[string]string{}
	for i, list := range [][]correction{corrections, soundsLike} {
		for j := range list {
			c := &list[j]
			name := c.re.String()
			if !kinds[c.kind] {
				t.Errorf("rule %d.%d %s: kind %q", i, j, name, c.kind)
			}
			if c.goal == "" || utf8.RuneCountInString(c.goal) > 400 {
				t.Errorf("rule %d.%d %s: goal %q", i, j, name, c.goal)
			}
			e, ok := explanationOf[c.re]
			if !ok {
				t.Errorf("rule %d.%d %s has no case in ruleCases", i, j, name)
				continue
			}
			if e == "" || utf8.RuneCountInString(e) > 400 || strings.Contains(e, "\n") {
				t.Errorf("rule %d.%d: explanation %q is not one line", i, j, e)
			}
			if other, dup := ruleBy[e]; dup {
				t.Errorf("rules %s and %s explain themselves alike: %q", other, name, e)
			}
			ruleBy[e] = name
		}
	}
	for _, c := range soundsLike {
		if c.kind != session.CorrectionPronunciation {
			t.Errorf("speech rule %s has kind %s", c.re, c.kind)
		}
	}
}

func TestCorrectionRulesNoFalseMatches(t *testing.T) {
	for _, tt := range []struct {
		sentence string
		spoken   bool
	}{
		{"Does he go to school?", false}, {"I agree with you", false}, {"She goes to the gym", false},
		{"Let him go home", false}, {"I have three years of experience", false}, {"I have two dogs", false},
		{"It depends on the weather", false}, {"We discussed the news", false}, {"My brother and I go running", false},
		{"He doesn't like it", false}, {"my sister doesn't eat meat", false},
		{"I have lived here for two years", false}, {"I have lived here since 2010", false},
		{"I came here two years ago and I have been here since two years ago", false},
		{"How do you do that?", false}, {"I asked him how do you do this", false},
		{"There are more cheap flights now", false}, {"We need more big ideas", false},
		{"I took a photo of the sea", false}, {"She made a cake", false}, {"Can you lend me your pen?", false},
		{"They said me too", false}, {"Tell me your name", false}, {"It isn't fair", false},
		{"the kitchen sink is broken", true}, {"we sat under a tall tree", true}, {"i walk in the park", true},
		{"i leave in the morning", true}, {"i work as a teacher", true}, {"i think so", true},
	} {
		if got := findMistakes(tt.sentence, rulesFor(tt.spoken)); len(got) != 0 {
			t.Errorf("%q: found %q → %q", tt.sentence, got[0].original, got[0].corrected)
		}
	}
}

// TestTutorModelsAddedRules: the scripted tutor corrects with the rules added for reviews too
// (not with the speech-only ones).
func TestTutorModelsAddedRules(t *testing.T) {
	for _, tt := range []struct{ learner, want string }{
		{"I live here since two years", `"I have lived here for two years."`},
		{"I made a photo of the sea", `"I took a photo of the sea."`},
		{"English is more easy than French", `"English is easier than French."`},
		{"I ain't got time", `"I haven't got time."`},
		{"Can you borrow me your pen", `"Can you lend me your pen."`},
		{"Please say me the answer", `"Please tell me the answer."`},
		{"I’m agree with you", `"I agree with you."`},
	} {
		if got := correct(tt.learner, "intermediate"); !strings.Contains(got, tt.want) {
			t.Errorf("%q: tutor models %q, want %s", tt.learner, got, tt.want)
		}
	}
	if got := correct("i sink so", "intermediate"); got != "" {
		t.Errorf("the tutor corrected speech it cannot hear: %q", got)
	}
	r := replyOf(t, chat("intermediate", "", nil, "Hello, how do you do?"))
	checkSpoken(t, r, "Hello, how do you do?")
	if !strings.Contains(r, "how are you") || !strings.Contains(r, "doing well") {
		t.Errorf("reply to how do you do: %q", r)
	}
}
