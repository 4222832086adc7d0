package offline

import (
	"fmt"
	"regexp"
	"sort"
	"strings"
	"unicode"

	"github.com/aitutor/aitutor/session"
)

// Gentle corrections of common learner mistakes, as the tutor's prompt asks: the reply first
// says the natural way to put the learner's sentence ("You could say: ..."), then carries on.
// The same rules write the corrections of a conversation's review (review.go): each rule knows
// its kind of mistake, explains itself in one line and names what to practise.

// correction is one common mistake and its fix.
type correction struct {
	re *regexp.Regexp
	// fix returns the replacement of a match from its submatches.
	fix func(m []string) string
	// ok, when set, tells whether a match is a mistake from the text before and after it.
	ok func(before, after string) bool
	// kind is the review's kind of mistake (session.CorrectionGrammar, ...).
	kind string
	// explain is the one-line explanation of a match, from its submatches.
	explain func(m []string) string
	// goal is what to practise after making this mistake (a review's next goal).
	goal string
}

// because is an explanation that does not depend on the match.
func because(s string) func([]string) string { return func([]string) string { return s } }

// rx compiles a rule's pattern; an apostrophe in it (outside a character class) also matches
// the typographic one that phones type (I’m, don’t).
func rx(pattern string) *regexp.Regexp {
	var b strings.Builder
	class := false
	for _, r := range pattern {
		switch {
		case r == '[':
			class = true
		case r == ']':
			class = false
		case r == '\'' && !class:
			b.WriteString("['’]")
			continue
		}
		b.WriteRune(r)
	}
	return regexp.MustCompile(b.String())
}

// relatives are the people of "my brother go" and "my sister don't".
const relatives = `my (?:mother|father|mum|mom|dad|brother|sister|friend|wife|husband|son|daughter|boss|teacher)`

// What to practise, shared by the rules of one kind of mistake.
const (
	goalAgree        = `Practise "agree" as a verb: "I agree", "I don't agree", "she agrees with me".`
	goalThirdPerson  = `Practise the -s of he, she and it in the present: "she works", "he doesn't like", "my brother goes".`
	goalComparatives = `Practise comparatives: short adjectives take -er ("easier", "bigger"), long ones take "more" ("more interesting").`
	goalAge          = `Practise saying your age with "be": "I am 30 years old", "my son is six".`
	goalPlural       = `Practise plural nouns with plural verbs: "people are", "children are", "my friends are".`
	goalBaseForm     = `Practise negatives and questions with do and did: the verb after them stays in its base form ("I didn't go", "does she like?").`
	goalPrepositions = `Practise verbs with their prepositions: explain something to someone, discuss something, depend on, be married to.`
	goalUncountable  = `Practise uncountable nouns: information, advice, homework and furniture have no plural ("some advice", "a piece of advice").`
	goalReally       = `Practise adverbs with verbs: "I really like it", "I like it very much".`
	goalModals       = `Practise can, must, should and could with a bare verb: "I can swim", "you should try".`
	goalForSince     = `Practise the present perfect with for and since: "I have lived here for two years", "since 2020".`
	goalCollocations = `Practise common verb and noun pairs: take a photo, make a mistake, do homework, have a shower.`
	goalStandard     = `Keep to standard forms in conversation: "isn't", "aren't" and "haven't" rather than "ain't".`
	goalGreetings    = `Practise everyday greetings: "How are you?", "How's it going?", "Nice to meet you."`
	goalTellSay      = `Practise tell and say, lend and borrow: "tell me", "say it to me", "lend me your pen", "borrow it from you".`
)

var corrections = []correction{
	{
		re: rx(`(?i)\bI(?: am|'m) not agree\b`), fix: func([]string) string { return "I don't agree" },
		kind:    session.CorrectionGrammar,
		explain: because(`"Agree" is a verb, not an adjective, so its negative is "I don't agree", not "I am not agree".`),
		goal:    goalAgree,
	},
	{
		re: rx(`(?i)\b(I|we|they|you)(?: am| are|'m|'re) agree\b`), fix: func(m []string) string { return pronoun(m[1]) + " agree" },
		kind: session.CorrectionGrammar,
		explain: func(m []string) string {
			return fmt.Sprintf(`"Agree" is a verb, so it needs no "am" or "are": say "%s agree".`, pronoun(m[1]))
		},
		goal: goalAgree,
	},
	{
		re: rx(`(?i)\b(he|she)(?: is|'s) agree\b`), fix: func(m []string) string { return m[1] + " agrees" },
		kind: session.CorrectionGrammar,
		explain: func(m []string) string {
			return fmt.Sprintf(`"Agree" is a verb, so it needs no "is", and with %s it takes -s: "%s agrees".`, strings.ToLower(m[1]), strings.ToLower(m[1]))
		},
		goal: goalAgree,
	},
	{
		re: rx(`(?i)\b(he|she|it|` + relatives + `) don't\b`), fix: func(m []string) string { return m[1] + " doesn't" },
		kind:    session.CorrectionGrammar,
		explain: because(`With he, she, it or one person, the negative of the present is "doesn't", not "don't".`),
		goal:    goalThirdPerson,
	},
	{
		re:  rx(`(?i)\b(he|she|` + relatives + `) (go|do|have|like|want|play|work|live|eat|watch|need|study|make|know|think|love|come|get|take|read|speak|drink|cook|teach|visit|walk|talk|use|say|enjoy|try|miss|finish|wash)\b`),
		fix: func(m []string) string { return m[1] + " " + thirdPerson(m[2]) },
		ok: func(before, after string) bool {
			if strings.HasPrefix(after, "'") || strings.HasPrefix(after, "’") {
				return false // "he don't" is the rule above's
			}
			w := lastWords(before, 2)
			if w[1] == "and" || w[1] == "or" { // "he and she go" is right, "... and she go" is not
				return !subjects[w[0]]
			}
			return !notThirdPerson[w[1]]
		},
		kind: session.CorrectionGrammar,
		explain: func(m []string) string {
			return fmt.Sprintf(`In the present, he, she and one person take -s: "%s %s", not "%s %s".`,
				strings.ToLower(m[1]), thirdPerson(m[2]), strings.ToLower(m[1]), strings.ToLower(m[2]))
		},
		goal: goalThirdPerson,
	},
	{
		re: rx(`(?i)\bmore (better|worse|easier|harder|bigger|smaller|faster|cheaper|happier|older|younger|nicer|larger|longer|shorter|stronger|higher|lower|greater|warmer|colder|hotter)\b`), fix: func(m []string) string { return m[1] },
		kind: session.CorrectionGrammar,
		explain: func(m []string) string {
			return fmt.Sprintf(`"%s" is already a comparative, so it needs no "more".`, capitalize(strings.ToLower(m[1])))
		},
		goal: goalComparatives,
	},
	{
		re: rx(`(?i)\bmost (best|worst)\b`), fix: func(m []string) string { return m[1] },
		kind: session.CorrectionGrammar,
		explain: func(m []string) string {
			return fmt.Sprintf(`"%s" is already a superlative, so it needs no "most".`, capitalize(strings.ToLower(m[1])))
		},
		goal: goalComparatives,
	},
	{
		re:  rx(`(?i)\b(I|you|we|they|he|she) (?:have|has) (\d+|(?:twenty|thirty|forty|fifty|sixty|seventy|eighty|ninety)(?:[ -](?:one|two|three|four|five|six|seven|eight|nine))?|ten|eleven|twelve|thirteen|fourteen|fifteen|sixteen|seventeen|eighteen|nineteen) years(?: old)?\b`),
		fix: func(m []string) string { return pronoun(m[1]) + " " + be(m[1]) + " " + m[2] + " years old" },
		ok: func(_, after string) bool {
			next := strings.Fields(strings.ToLower(after))
			return len(next) == 0 || (next[0] != "of" && next[0] != "ago" && next[0] != "experience")
		},
		kind:    session.CorrectionWordChoice,
		explain: because(`In English you are an age, you do not have it: "I am 25 years old", not "I have 25 years".`),
		goal:    goalAge,
	},
	{
		re: rx(`(?i)\bpeople is\b`), fix: func([]string) string { return "people are" },
		kind:    session.CorrectionGrammar,
		explain: because(`"People" is plural (one person, two people), so it takes "are", not "is".`),
		goal:    goalPlural,
	},
	{
		re:   rx(`(?i)\b(didn't|did not|don't|doesn't|do not|does not) (went|saw|ate|came|did|had|made|took|bought|wrote|got|gave|knew|thought|said|told|found|left|felt|drank|swam|ran|spoke|met|slept|played|watched|liked|wanted|worked|studied|visited|cooked)\b`),
		fix:  func(m []string) string { return m[1] + " " + baseForm[strings.ToLower(m[2])] },
		kind: session.CorrectionGrammar,
		explain: func(m []string) string {
			aux := strings.ToLower(strings.ReplaceAll(m[1], "’", "'"))
			return fmt.Sprintf(`After "%s" the verb stays in its base form: "%s %s", not "%s %s".`,
				aux, aux, baseForm[strings.ToLower(m[2])], aux, strings.ToLower(m[2]))
		},
		goal: goalBaseForm,
	},
	{
		re: rx(`(?i)\bexplain me\b`), fix: func([]string) string { return "explain to me" },
		kind:    session.CorrectionWordChoice,
		explain: because(`"Explain" needs "to" before the person: "explain it to me", "explain to me why".`),
		goal:    goalPrepositions,
	},
	{
		re: rx(`(?i)\b(discuss(?:es|ed|ing)?) about\b`), fix: func(m []string) string { return m[1] },
		kind:    session.CorrectionWordChoice,
		explain: because(`"Discuss" takes its object directly, without "about": "we discussed the news" (but "we talked about the news").`),
		goal:    goalPrepositions,
	},
	{
		re: rx(`(?i)\b(information|advice|furniture|homework|equipment|luggage)s\b`), fix: func(m []string) string { return m[1] },
		kind: session.CorrectionWordChoice,
		explain: func(m []string) string {
			w := strings.ToLower(m[1])
			return fmt.Sprintf(`"%s" is uncountable, so it has no plural: "some %s" or "a piece of %s".`, capitalize(w), w, w)
		},
		goal: goalUncountable,
	},
	{
		re: rx(`(?i)\bI very (like|love|enjoy)\b`), fix: func(m []string) string { return "I really " + m[1] },
		kind: session.CorrectionWordChoice,
		explain: func(m []string) string {
			v := strings.ToLower(m[1])
			return fmt.Sprintf(`"Very" cannot go before a verb: say "I really %s it" or "I %s it very much".`, v, v)
		},
		goal: goalReally,
	},
	{
		re: rx(`(?i)\b(can|must|should|could) to\b`), fix: func(m []string) string { return m[1] },
		kind: session.CorrectionGrammar,
		explain: func(m []string) string {
			return fmt.Sprintf(`After "%s" the verb comes without "to": "I %s go", not "I %s to go".`,
				strings.ToLower(m[1]), strings.ToLower(m[1]), strings.ToLower(m[1]))
		},
		goal: goalModals,
	},
	{
		re: rx(`(?i)\b(depends?) of\b`), fix: func(m []string) string { return m[1] + " on" },
		kind:    session.CorrectionWordChoice,
		explain: because(`The preposition after "depend" is "on": "it depends on the weather".`),
		goal:    goalPrepositions,
	},
	{
		re: rx(`(?i)\bmarried with\b`), fix: func([]string) string { return "married to" },
		kind:    session.CorrectionWordChoice,
		explain: because(`You are married to someone, not with them: "she is married to a doctor".`),
		goal:    goalPrepositions,
	},
	{
		// "since" with a length of time; with the learner's present-tense verb just before it,
		// that verb becomes the present perfect: "I live here since two years" → "I have lived
		// here for two years".
		re:  rx(`(?i)\b(?:(I|you|we|they|he|she|it)( am| are| is|'m|'re|'s| live| lives| work| works| study| studies| know| knows| teach| teaches| play| plays| learn| learns)((?: [\w'’]+){0,3}?) )?since ((?:\d+|a|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|fifteen|twenty|thirty|a few|few|several|many|some) (?:years?|months?|weeks?|days?|hours?|minutes?)|a long time)\b`),
		fix: sinceFix,
		ok: func(_, after string) bool {
			next := strings.Fields(strings.ToLower(after))
			return len(next) == 0 || next[0] != "ago"
		},
		kind:    session.CorrectionGrammar,
		explain: because(`Use "for" with a length of time ("for two years") and "since" with a starting point ("since 2020"); for something still true now, use the present perfect ("I have lived here for two years").`),
		goal:    goalForSince,
	},
	{
		re: rx(`(?i)((?:\b(?:I|you|we|they|he|she)'(?:ve|s|d)|\b(?:have|has|had)) )?\b(make|makes|made|making) ((?:a|an|the|some|many|lots of|a lot of|this|that|these|those|my|our|your|his|her|their|\d+) )?((?:nice|good|great|beautiful|lovely|funny|few) )?(photos?|selfies?|photographs?)\b`),
		fix: func(m []string) string {
			verb := map[string]string{"make": "take", "makes": "takes", "made": "took", "making": "taking"}[strings.ToLower(m[2])]
			if m[1] != "" && verb == "took" {
				verb = "taken"
			}
			return m[1] + verb + " " + m[3] + m[4] + m[5]
		},
		kind:    session.CorrectionWordChoice,
		explain: because(`In English you "take" a photo, you do not "make" one.`),
		goal:    goalCollocations,
	},
	{
		re:  rx(`(?i)\bmore (easy|busy|happy|funny|early|lazy|pretty|big|hot|fat|thin|wet|sad|cheap|fast|nice|cold|long|short|small|old|young|tall|strong|large|safe|quick|slow|warm|clean|rich|poor|close|wide|high|low|deep|hard|new|great|cool|late)\b`),
		fix: func(m []string) string { return comparative[strings.ToLower(m[1])] },
		ok: func(_, after string) bool {
			// "more easy than", "more easy." — but not "more cheap flights" (more of them).
			a := strings.TrimSpace(after)
			return a == "" || strings.ContainsRune(`.,;:!?"`, rune(a[0])) || afterComparative[lastWords(strings.Fields(a)[0], 1)[0]]
		},
		kind: session.CorrectionGrammar,
		explain: func(m []string) string {
			a := strings.ToLower(m[1])
			return fmt.Sprintf(`Short adjectives make their comparative with -er: "%s", not "more %s".`, comparative[a], a)
		},
		goal: goalComparatives,
	},
	{
		re:      rx(`(?i)\b(I|you|we|they|he|she|it|that|this|there) ain't( got| been| seen| done| had| gone)?\b`),
		fix:     aintFix,
		kind:    session.CorrectionRegister,
		explain: because(`"Ain't" is slang that many people hear as uneducated; in conversation say "isn't", "aren't", "am not" or "haven't".`),
		goal:    goalStandard,
	},
	{
		re:  rx(`(?i)\bhow do you do\b`),
		fix: func([]string) string { return "how are you" },
		ok: func(before, after string) bool {
			if strings.Trim(after, " \"'.!?,") != "" {
				return false // "how do you do that?"
			}
			b := strings.TrimSpace(before)
			return b == "" || strings.HasSuffix(b, ",") || greetingWords[lastWords(before, 1)[0]]
		},
		kind:    session.CorrectionRegister,
		explain: because(`"How do you do?" is a formal greeting for a first introduction, not a question about how someone is; in a chat, ask "How are you?"`),
		goal:    goalGreetings,
	},
	{
		re: rx(`(?i)\b(say|says|said) me\b`),
		fix: func(m []string) string {
			return map[string]string{"say": "tell", "says": "tells", "said": "told"}[strings.ToLower(m[1])] + " me"
		},
		ok: func(_, after string) bool {
			next := strings.Fields(strings.ToLower(after))
			return len(next) == 0 || (next[0] != "too" && next[0] != "neither" && next[0] != "either")
		},
		kind:    session.CorrectionWordChoice,
		explain: because(`"Say" does not take the person straight after it: you "tell me" something, or "say" something "to me".`),
		goal:    goalTellSay,
	},
	{
		re: rx(`(?i)\b(borrow|borrows|borrowed) me\b`),
		fix: func(m []string) string {
			return map[string]string{"borrow": "lend", "borrows": "lends", "borrowed": "lent"}[strings.ToLower(m[1])] + " me"
		},
		kind:    session.CorrectionWordChoice,
		explain: because(`You "lend" something to someone and "borrow" it from someone: "can you lend me your pen?"`),
		goal:    goalTellSay,
	},
}

// soundsLike are mistakes that a transcript of the learner's speech suggests they pronounced
// one word like another (the recogniser heard a real word that makes no sense there). The
// review applies them to spoken turns only, as pronunciation_likely; the tutor does not, since
// it cannot tell speech from typing.
var soundsLike = []correction{
	{
		re: rx(`(?i)\b(sink|sinks|sank) (so|that|about|of|it's|it|he|she|they|you|we|the)\b`),
		fix: func(m []string) string {
			return map[string]string{"sink": "think", "sinks": "thinks", "sank": "thought"}[strings.ToLower(m[1])] + " " + m[2]
		},
		ok: func(before, _ string) bool {
			w := lastWords(before, 1)[0]
			return subjects[w] || w == "don't" || w == "didn't" || w == "also" || w == "really" || w == "to" || w == "just"
		},
		kind:    session.CorrectionPronunciation,
		explain: because(`It sounded like "sink" where you meant "think": for the th sound, put the tip of your tongue between your teeth and blow.`),
		goal:    `Practise the th sound (think, three, thank you): the tip of your tongue between your teeth.`,
	},
	{
		re:      rx(`(?i)\btree (times|days|weeks|months|years|hours|minutes|people|children|kids|brothers|sisters|friends|o'clock)\b`),
		fix:     func(m []string) string { return "three " + m[1] },
		kind:    session.CorrectionPronunciation,
		explain: because(`It sounded like "tree" where you meant "three": start the word with th, the tip of your tongue between your teeth.`),
		goal:    `Practise the th sound (think, three, thank you): the tip of your tongue between your teeth.`,
	},
	{
		re: rx(`(?i)\b(walk|walks) as (a|an)\b`),
		fix: func(m []string) string {
			return map[string]string{"walk": "work", "walks": "works"}[strings.ToLower(m[1])] + " as " + m[2]
		},
		kind:    session.CorrectionPronunciation,
		explain: because(`It sounded like "walk" where you meant "work": "work" has the vowel of "bird", "walk" the vowel of "door".`),
		goal:    `Practise the vowels of "work" and "bird" against "walk" and "door".`,
	},
	{
		re:      rx(`(?i)\b(I|we|they|you) leave in (a|an|the) (city|town|village|house|flat|apartment|small|big|nice|little|suburb)\b`),
		fix:     func(m []string) string { return pronoun(m[1]) + " live in " + m[2] + " " + m[3] },
		kind:    session.CorrectionPronunciation,
		explain: because(`It sounded like "leave" where you meant "live": "live" has a short i, as in "sit", "leave" a long ee, as in "seat".`),
		goal:    `Practise the short i and the long ee: live and leave, sit and seat, ship and sheep.`,
	},
}

// notThirdPerson are words after which "he go" is right: "does he go", "let him", "to".
var notThirdPerson = set("does", "did", "do", "can", "could", "will", "would", "should", "must", "may",
	"might", "to", "let", "make", "made", "help", "helped", "see", "saw", "hear", "heard", "watch",
	"watched", "doesn't", "didn't", "don't", "won't", "can't", "couldn't", "wouldn't", "shouldn't",
	"let's", "have", "had")

// subjects are the pronouns of "he and she go".
var subjects = set("i", "you", "he", "she", "we", "they", "him", "her", "me")

var baseForm = map[string]string{
	"went": "go", "saw": "see", "ate": "eat", "came": "come", "did": "do", "had": "have", "made": "make",
	"took": "take", "bought": "buy", "wrote": "write", "got": "get", "gave": "give", "knew": "know",
	"thought": "think", "said": "say", "told": "tell", "found": "find", "left": "leave", "felt": "feel",
	"drank": "drink", "swam": "swim", "ran": "run", "spoke": "speak", "met": "meet", "slept": "sleep",
	"played": "play", "watched": "watch", "liked": "like", "wanted": "want", "worked": "work",
	"studied": "study", "visited": "visit", "cooked": "cook",
}

// comparative is the -er form of the adjectives of "more easy".
var comparative = map[string]string{
	"easy": "easier", "busy": "busier", "happy": "happier", "funny": "funnier", "early": "earlier",
	"lazy": "lazier", "pretty": "prettier", "big": "bigger", "hot": "hotter", "fat": "fatter",
	"thin": "thinner", "wet": "wetter", "sad": "sadder", "cheap": "cheaper", "fast": "faster",
	"nice": "nicer", "cold": "colder", "long": "longer", "short": "shorter", "small": "smaller",
	"old": "older", "young": "younger", "tall": "taller", "strong": "stronger", "large": "larger",
	"safe": "safer", "quick": "quicker", "slow": "slower", "warm": "warmer", "clean": "cleaner",
	"rich": "richer", "poor": "poorer", "close": "closer", "wide": "wider", "high": "higher",
	"low": "lower", "deep": "deeper", "hard": "harder", "new": "newer", "great": "greater",
	"cool": "cooler", "late": "later",
}

// afterComparative are words that follow a comparative but cannot start the noun of "more cheap
// flights".
var afterComparative = set("than", "and", "but", "or", "because", "so", "now", "then", "today",
	"nowadays", "for", "to", "in", "at", "with", "when", "if", "here", "there", "too", "on", "after",
	"before", "every", "these", "this", "anymore", "again", "than", "since", "though")

// sinceFix writes "for" and the length of time, and the present perfect of the learner's verb
// when the rule caught one.
func sinceFix(m []string) string {
	if m[1] == "" {
		return "for " + m[4]
	}
	verb := strings.ToLower(strings.TrimSpace(strings.NewReplacer("’", "'").Replace(m[2])))
	first := lastWords(strings.SplitN(strings.TrimSpace(m[3])+" ", " ", 2)[0], 1)[0]
	if first == "been" || (verb == "'s" && (strings.HasSuffix(first, "ed") || participles[first])) {
		// Already the present perfect ("it's been raining", "he's lived here"): only "for".
		return m[1] + m[2] + m[3] + " for " + m[4]
	}
	participle := map[string]string{"am": "been", "are": "been", "is": "been", "'m": "been", "'re": "been", "'s": "been",
		"live": "lived", "lives": "lived", "work": "worked", "works": "worked", "study": "studied",
		"studies": "studied", "know": "known", "knows": "known", "teach": "taught", "teaches": "taught",
		"play": "played", "plays": "played", "learn": "learned", "learns": "learned"}[verb]
	aux := "have"
	if s := strings.ToLower(m[1]); s == "he" || s == "she" || s == "it" {
		aux = "has"
	}
	return pronoun(m[1]) + " " + aux + " " + participle + m[3] + " for " + m[4]
}

// participles are irregular past participles.
var participles = set("been", "known", "taught", "gone", "done", "seen", "had", "got", "made", "taken",
	"given", "written", "eaten", "met", "spent", "kept", "left", "found", "heard", "read", "grown")

// aintFix writes the standard form of "ain't": "I'm not", "it isn't", "they haven't got".
func aintFix(m []string) string {
	s := strings.ToLower(m[1])
	if m[2] != "" { // ain't got, ain't been: the perfect
		aux := "haven't"
		if s == "he" || s == "she" || s == "it" || s == "that" || s == "this" || s == "there" {
			aux = "hasn't"
		}
		return pronoun(m[1]) + " " + aux + m[2]
	}
	switch s {
	case "i":
		return "I'm not"
	case "you", "we", "they":
		return m[1] + " aren't"
	}
	return m[1] + " isn't"
}

// correct returns the sentence that models the natural form of the learner's first sentence
// with a common mistake, or "".
func correct(text, level string) string {
	for _, sentence := range sentences(text) {
		fixed, from, to := applyCorrections(sentence)
		if from == "" {
			continue
		}
		lead := map[string]string{"beginner": "You can say: ", "advanced": "A more natural way to put it is: "}[level]
		if lead == "" {
			lead = "You could say: "
		}
		if len(strings.Fields(fixed)) <= 14 {
			return lead + `"` + capitalize(strings.TrimRight(fixed, ".!?,; ")) + `."`
		}
		return `You could say "` + to + `" instead of "` + from + `".`
	}
	return ""
}

// applyCorrections fixes every known mistake in s; from and to are the first mistake and its
// fix ("" when there is none).
func applyCorrections(s string) (fixed, from, to string) {
	return fixIn("", s, "", corrections)
}

// fixIn applies rules to s, one after the other, each to the text the ones before it fixed;
// before and after are the text around s, which the rules' ok functions see too. from and to are
// the first mistake and its fix ("" when there is none).
func fixIn(before, s, after string, rules []correction) (fixed, from, to string) {
	for _, c := range rules {
		matches := c.re.FindAllStringSubmatchIndex(s, -1)
		if len(matches) == 0 {
			continue
		}
		var b strings.Builder
		last := 0
		for _, idx := range matches {
			start, end := idx[0], idx[1]
			if c.ok != nil && !c.ok(before+s[:start], s[end:]+after) {
				continue
			}
			sub := submatches(s, idx)
			repl := keepCase(sub[0], c.fix(sub))
			if from == "" {
				from, to = sub[0], repl
			}
			b.WriteString(s[last:start])
			b.WriteString(repl)
			last = end
		}
		b.WriteString(s[last:])
		s = b.String()
	}
	return s, from, to
}

func submatches(s string, idx []int) []string {
	sub := make([]string, len(idx)/2)
	for i := range sub {
		if idx[2*i] >= 0 {
			sub[i] = s[idx[2*i]:idx[2*i+1]]
		}
	}
	return sub
}

// mistake is a rule's match in the learner's sentence.
type mistake struct {
	rule       *correction
	start, end int      // in the sentence
	sub        []string // the match and its submatches
}

// found is a stretch of the learner's sentence with one mistake or more (rules whose matches
// overlap, such as "my sister don't went"), and its fix.
type found struct {
	original, corrected string
	mistakes            []mistake // in order of position
}

// findMistakes returns the mistakes of sentence that rules find, in order of position, each
// stretch of overlapping matches once, with the fix the rules make of it in turn.
func findMistakes(sentence string, rules []correction) []found {
	var all []mistake
	for i := range rules {
		c := &rules[i]
		for _, idx := range c.re.FindAllStringSubmatchIndex(sentence, -1) {
			start, end := idx[0], idx[1]
			if c.ok != nil && !c.ok(sentence[:start], sentence[end:]) {
				continue
			}
			all = append(all, mistake{rule: c, start: start, end: end, sub: submatches(sentence, idx)})
		}
	}
	sort.SliceStable(all, func(i, j int) bool { return all[i].start < all[j].start })
	var out []found
	for i := 0; i < len(all); {
		start, end := all[i].start, all[i].end
		j := i + 1
		for j < len(all) && all[j].start < end {
			end = max(end, all[j].end)
			j++
		}
		original := sentence[start:end]
		corrected, _, _ := fixIn(sentence[:start], original, sentence[end:], rules)
		if corrected != original {
			out = append(out, found{original: original, corrected: corrected, mistakes: all[i:j]})
		}
		i = j
	}
	return out
}

// sentences splits text at sentence ends.
func sentences(text string) []string {
	var out []string
	start := 0
	for i, r := range text {
		if r == '.' || r == '!' || r == '?' {
			if s := strings.TrimSpace(text[start : i+1]); s != "" {
				out = append(out, s)
			}
			start = i + 1
		}
	}
	if s := strings.TrimSpace(text[start:]); s != "" {
		out = append(out, s)
	}
	return out
}

// keepCase gives repl the case of orig's first letter (the pronoun I stays upper case).
func keepCase(orig, repl string) string {
	if orig == "" || repl == "" || strings.HasPrefix(repl, "I ") || strings.HasPrefix(repl, "I'") {
		return repl
	}
	if unicode.IsUpper([]rune(orig)[0]) {
		return capitalize(repl)
	}
	r := []rune(repl)
	r[0] = unicode.ToLower(r[0])
	return string(r)
}

func pronoun(p string) string {
	if strings.EqualFold(p, "i") {
		return "I"
	}
	return strings.ToLower(p)
}

func be(subject string) string {
	switch strings.ToLower(subject) {
	case "i":
		return "am"
	case "he", "she":
		return "is"
	}
	return "are"
}

// thirdPerson is the he/she form of a verb: go → goes, study → studies, have → has.
func thirdPerson(verb string) string {
	v := strings.ToLower(verb)
	switch {
	case v == "have":
		return "has"
	case v == "do" || v == "go":
		return v + "es"
	case strings.HasSuffix(v, "y") && len(v) > 1 && !strings.ContainsRune("aeiou", rune(v[len(v)-2])):
		return v[:len(v)-1] + "ies"
	case strings.HasSuffix(v, "s") || strings.HasSuffix(v, "sh") || strings.HasSuffix(v, "ch") || strings.HasSuffix(v, "x"):
		return v + "es"
	}
	return v + "s"
}

// lastWords returns the last n words of s, lower case with straight apostrophes, "" for missing
// ones.
func lastWords(s string, n int) []string {
	f := strings.Fields(strings.ToLower(strings.ReplaceAll(s, "’", "'")))
	out := make([]string, n)
	for i := 1; i <= n && i <= len(f); i++ {
		out[n-i] = strings.Trim(f[len(f)-i], `"',.;:!?`)
	}
	return out
}
