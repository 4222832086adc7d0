package offline

import (
	"fmt"
	"math"
	"strings"

	"github.com/aitutor/aitutor/session"
)

// The review's level estimate: a CEFR level from what can be measured in the learner's turns
// and speech, never from a model's impression. Each signal votes for a level, A1 = 0 … C2 = 5,
// with a weight; the estimate is the weighted mean, rounded, then capped where the evidence is
// thin (a short conversation) or the mistakes are many. The thresholds:
//
//	signal (weight)                      A1    A2        B1         B2         C1          C2
//	words per turn (3)                   <4    <7        <11        <16        <22         ≥22
//	mistakes per 100 words (2)           ≥12   ≥7        ≥3.5       ≥1.5       <1.5 (none: at weight 1)
//	variety of content words (1)         –     <0.6      <0.75      <0.88      ≥0.88       –
//	linking words (1.5)                  none  1 simple  2+ simple  1 complex  2+ complex  –
//	verb forms beyond the present (1)    none  one       two        three      four        –
//	words per minute while speaking (2)  <50   <75       <100       <125       <150        ≥150
//	share of time in pauses (1)          –     ≥0.40     ≥0.30      ≥0.20      <0.20       –
//	fillers per minute (1, above 3)      –     ≥12       ≥6         >3         –           –
//
// "Simple" linking words are because, when, if, so, then, after, before, until; "complex" ones
// although, though, whereas, while, unless, which, a relative who, however, since + clause and
// the like (the CEFR has A2 learners link with "because", B1 learners with several simple
// connectors, B2 with a range of them). The verb forms are the past, the future, the present
// perfect and would (the past simple is A2 in the CEFR, the others come later). Variety is
// the share of different words among the first 60 content words (grammar words left out,
// plurals folded): short samples of any learner score high on it, so it weighs little and
// votes no higher than C1; repeating the same few words ("I like pizza. Pizza is good.") is
// what it catches.
//
// The written signals other than words per turn need 20 words (variety 20 content words); the
// speech signals need 10 s of measured speech. Caps: fewer than 20 words at most A2, fewer than
// 50 at most B1, fewer than 100 at most B2, fewer than 150 at most C1; 4 or more mistakes per
// 100 words at most B1, 2 or more at most B2. The rules only catch common mistakes, so a
// conversation without any is weak evidence (C1 at weight 1), not proof of mastery; for the same
// reason the estimate never goes above C1: nothing measured here tells C2 from C1.

// Thresholds of the level estimate (see the table above).
const (
	minWrittenWords = 20    // for mistakes per 100 words, linking words and verb forms
	minContentWords = 20    // for variety
	varietyWindow   = 60    // variety is measured over the first 60 content words
	minSpeakingMs   = 10000 // for the speech figures
	maxLevel        = 4     // C1: the highest estimate
)

// signals are the measures of a conversation's learner turns.
type signals struct {
	turns        int // turns in English with at least one word
	foreignTurns int // turns in another language (not measured)
	words        int // words of the measured turns, fillers left out
	perTurn      float64

	mistakes          int // rule matches in the measured turns
	turnsWithMistakes int
	per100            float64 // mistakes per 100 words

	contentTokens, contentTypes int     // of the first varietyWindow content words
	variety                     float64 // types over tokens; -1 with too few

	simpleLinks, complexLinks []string // linking words used, in order of first use
	forms                     []string // verb forms used beyond the present: past, future, perfect, would
	formExamples              map[string][]string

	fluency session.Fluency
	spoken  bool // the speech figures count
}

// measure computes the signals of a review request; mistakes are the rule matches in each turn
// (by turn index).
func measure(req session.ReviewRequest, mistakes []int) signals {
	s := signals{fluency: req.Fluency, formExamples: map[string][]string{}}
	var content []string
	seenLink := map[string]bool{}
	for i, t := range req.Turns {
		m := analyse(t.Learner)
		if m.kind == kindEmpty {
			continue
		}
		if m.kind == kindForeign {
			s.foreignTurns++
			continue
		}
		words := learnerWords(t.Learner)
		if len(words) == 0 {
			continue
		}
		s.turns++
		s.words += len(words)
		if i < len(mistakes) && mistakes[i] > 0 {
			s.mistakes += mistakes[i]
			s.turnsWithMistakes++
		}
		for _, w := range words {
			if isContentWord(w) {
				content = append(content, stem(w))
			}
		}
		lower := " " + strings.Join(words, " ") + " "
		for _, l := range linksUsed(words, lower) {
			if seenLink[l.word] {
				continue
			}
			seenLink[l.word] = true
			if l.complex {
				s.complexLinks = append(s.complexLinks, l.word)
			} else {
				s.simpleLinks = append(s.simpleLinks, l.word)
			}
		}
		for form, examples := range verbForms(words) {
			if len(s.formExamples[form]) == 0 {
				s.formExamples[form] = examples
			}
		}
	}
	for _, f := range []string{"past", "future", "perfect", "would"} {
		if len(s.formExamples[f]) > 0 {
			s.forms = append(s.forms, f)
		}
	}
	if s.turns > 0 {
		s.perTurn = float64(s.words) / float64(s.turns)
	}
	if s.words > 0 {
		s.per100 = 100 * float64(s.mistakes) / float64(s.words)
	}
	s.variety = -1
	if len(content) >= minContentWords {
		window := content[:min(len(content), varietyWindow)]
		types := map[string]bool{}
		for _, w := range window {
			types[w] = true
		}
		s.contentTokens, s.contentTypes = len(window), len(types)
		s.variety = float64(len(types)) / float64(len(window))
	}
	f := req.Fluency
	s.spoken = f.SpokenTurns > 0 && f.SpeakingMs >= minSpeakingMs && f.WordsPerMinute != nil
	return s
}

// vote is one signal's level (0 = A1 … 5 = C2) and its weight.
type vote struct {
	level  float64
	weight float64
}

// estimate is the CEFR level of the signals: its index in session.CEFRLevels and the cap that
// lowered it ("" when none did).
func (s signals) estimate() (level int, capped string) {
	var votes []vote
	votes = append(votes, vote{band(s.perTurn, 4, 7, 11, 16, 22), 3})
	if s.words >= minWrittenWords {
		switch {
		case s.mistakes == 0:
			votes = append(votes, vote{4, 1})
		default:
			votes = append(votes, vote{4 - band(s.per100, 1.5, 3.5, 7, 12), 2})
		}
		switch {
		case len(s.complexLinks) >= 2:
			votes = append(votes, vote{4, 1.5})
		case len(s.complexLinks) == 1:
			votes = append(votes, vote{3, 1.5})
		case len(s.simpleLinks) >= 2:
			votes = append(votes, vote{2, 1.5})
		case len(s.simpleLinks) == 1:
			votes = append(votes, vote{1, 1.5})
		default:
			votes = append(votes, vote{0, 1.5})
		}
		votes = append(votes, vote{float64(len(s.forms)), 1})
	}
	if s.variety >= 0 {
		votes = append(votes, vote{1 + band(s.variety, 0.6, 0.75, 0.88), 1})
	}
	if s.spoken {
		f := s.fluency
		votes = append(votes, vote{band(*f.WordsPerMinute, 50, 75, 100, 125, 150), 2})
		if f.PauseRatio != nil {
			votes = append(votes, vote{4 - band(*f.PauseRatio, 0.2, 0.3, 0.4), 1})
		}
		if f.FillersPerMinute != nil && *f.FillersPerMinute > 3 {
			votes = append(votes, vote{3 - band(*f.FillersPerMinute, 6, 12), 1})
		}
	}
	var sum, weights float64
	for _, v := range votes {
		sum += v.level * v.weight
		weights += v.weight
	}
	level = int(math.Floor(sum/weights + 0.5))
	level = max(0, min(level, maxLevel))
	limit := func(most int, why string) {
		if level > most {
			level, capped = most, why
		}
	}
	switch {
	case s.words < 20:
		limit(1, "words")
	case s.words < 50:
		limit(2, "words")
	case s.words < 100:
		limit(3, "words")
	case s.words < 150:
		limit(4, "words")
	}
	switch {
	case s.per100 >= 4:
		limit(2, "mistakes")
	case s.per100 >= 2:
		limit(3, "mistakes")
	}
	return level, capped
}

// band returns how many of the ascending bounds v reaches: 0 below the first, len(bounds) at
// the last or above.
func band(v float64, bounds ...float64) float64 {
	n := 0
	for _, b := range bounds {
		if v >= b {
			n++
		}
	}
	return float64(n)
}

// reasons are two to four sentences that quote the figures behind the level.
func (s signals) reasons(level int, capped string) []string {
	var out []string
	turns := "turns"
	if s.turns == 1 {
		turns = "turn"
	}
	out = append(out, fmt.Sprintf("You used %s words per turn on average (%d words in %d %s).", num(s.perTurn), s.words, s.turns, turns))
	switch {
	case s.mistakes == 0:
		out = append(out, fmt.Sprintf("The tutor's checks found no common mistakes in your %d words.", s.words))
	case s.mistakes == 1:
		out = append(out, fmt.Sprintf("1 mistake in %d words (%s per 100 words).", s.words, num(s.per100)))
	default:
		out = append(out, fmt.Sprintf("%d mistakes in %d words (%s per 100 words), in %d of your %d turns.", s.mistakes, s.words, num(s.per100), s.turnsWithMistakes, s.turns))
	}
	if s.spoken {
		f := s.fluency
		r := fmt.Sprintf("About %.0f words per minute while speaking", *f.WordsPerMinute)
		if f.PauseRatio != nil {
			r += fmt.Sprintf(", with %.0f%% of the time in pauses", 100**f.PauseRatio)
		}
		if f.FillersPerMinute != nil && *f.FillersPerMinute > 3 {
			r += fmt.Sprintf(" and %s fillers (um, uh) a minute", num(*f.FillersPerMinute))
		}
		out = append(out, r+".")
	}
	switch capped {
	case "words":
		out = append(out, fmt.Sprintf("The conversation was short (%d words), so the estimate goes no higher than %s.", s.words, session.CEFRLevels[level]))
	case "mistakes":
		out = append(out, fmt.Sprintf("With %s mistakes per 100 words, the estimate goes no higher than %s.", num(s.per100), session.CEFRLevels[level]))
	}
	if s.words >= minWrittenWords {
		out = append(out, s.structures())
	}
	if s.variety >= 0 {
		out = append(out, fmt.Sprintf("%d different content words in %d (variety %.2f).", s.contentTypes, s.contentTokens, s.variety))
	}
	switch {
	case s.foreignTurns == 1:
		out = append(out, "1 of your turns was not in English and was not measured.")
	case s.foreignTurns > 1:
		out = append(out, fmt.Sprintf("%d of your turns were not in English and were not measured.", s.foreignTurns))
	}
	return out[:min(len(out), 4)]
}

// structures describes the linking words and verb forms used.
func (s signals) structures() string {
	links := append(append([]string{}, s.complexLinks...), s.simpleLinks...)
	var b strings.Builder
	if len(links) == 0 {
		b.WriteString("You did not link ideas with words like because, when or although")
	} else {
		fmt.Fprintf(&b, "You linked ideas with %s", list(quoted(links[:min(len(links), 3)])))
	}
	if len(s.forms) == 0 {
		b.WriteString(", and you spoke only in the present.")
	} else {
		var forms []string
		for _, f := range s.forms {
			forms = append(forms, formNames[f]+" ("+strings.Join(upperI(s.formExamples[f][:min(len(s.formExamples[f]), 2)]), ", ")+")")
		}
		fmt.Fprintf(&b, ", and used %s.", list(forms))
	}
	return b.String()
}

var formNames = map[string]string{"past": "the past", "future": "the future", "perfect": "the present perfect", "would": "would"}

// upperI writes the pronoun I of lower-cased examples in capitals: "i've been" → "I've been".
func upperI(examples []string) []string {
	out := make([]string, len(examples))
	for i, e := range examples {
		words := strings.Fields(e)
		for j, w := range words {
			if w == "i" || strings.HasPrefix(w, "i'") {
				words[j] = "I" + w[1:]
			}
		}
		out[i] = strings.Join(words, " ")
	}
	return out
}

// num writes a figure with one decimal, without ".0".
func num(v float64) string {
	s := fmt.Sprintf("%.1f", v)
	return strings.TrimSuffix(s, ".0")
}

func quoted(words []string) []string {
	out := make([]string, len(words))
	for i, w := range words {
		out[i] = `"` + w + `"`
	}
	return out
}

// list joins words with commas and "and".
func list(words []string) string {
	switch len(words) {
	case 0:
		return ""
	case 1:
		return words[0]
	}
	return strings.Join(words[:len(words)-1], ", ") + " and " + words[len(words)-1]
}

// learnerWords are the words of a turn, lower case with straight apostrophes, without fillers.
func learnerWords(text string) []string {
	var out []string
	for _, w := range strings.Fields(normalize(text)) {
		if !fillerWords[w] {
			out = append(out, w)
		}
	}
	return out
}

// fillerWords are hesitations (as the server counts them for fluency).
var fillerWords = set("um", "umm", "uh", "uhm", "er", "erm", "ah", "eh", "hmm", "mm")

// isContentWord reports whether w carries meaning (nouns, verbs, adjectives, adverbs) rather
// than grammar; variety is measured on these.
func isContentWord(w string) bool {
	return len(w) > 1 && !functionWords[w] && !strings.Contains(w, "'") && !isNumber(w)
}

// stem folds the plural and third-person -s so that "friend" and "friends" are one word.
func stem(w string) string {
	switch {
	case len(w) > 4 && strings.HasSuffix(w, "ies"):
		return w[:len(w)-3] + "y"
	case len(w) > 3 && strings.HasSuffix(w, "s") && !strings.HasSuffix(w, "ss") && !strings.HasSuffix(w, "us") && !strings.HasSuffix(w, "is"):
		return w[:len(w)-1]
	}
	return w
}

// functionWords are grammar words: articles, pronouns, auxiliaries, prepositions, conjunctions,
// determiners and a few very common adverbs.
var functionWords = set(
	"a", "an", "the", "i", "you", "he", "she", "it", "we", "they", "me", "him", "her", "us", "them",
	"my", "your", "his", "its", "our", "their", "mine", "yours", "hers", "ours", "theirs", "myself",
	"yourself", "himself", "herself", "itself", "ourselves", "themselves", "this", "that", "these",
	"those", "am", "is", "are", "was", "were", "be", "been", "being", "do", "does", "did", "have",
	"has", "had", "will", "would", "shall", "should", "can", "could", "may", "might", "must", "to",
	"of", "in", "on", "at", "by", "for", "with", "about", "from", "into", "onto", "over", "under",
	"up", "down", "out", "off", "as", "than", "and", "but", "or", "so", "because", "if", "when",
	"while", "although", "though", "which", "who", "whom", "whose", "what", "where", "why", "how",
	"not", "no", "yes", "yeah", "ok", "okay", "very", "really", "too", "also", "just", "then",
	"there", "here", "some", "any", "all", "every", "each", "much", "many", "more", "most", "lot",
	"lots", "oh", "well", "after", "before", "since", "until", "now", "one", "two", "three",
)

// link is a linking word found in a turn.
type link struct {
	word    string
	complex bool
}

// Linking words: simple ones join ideas (A2–B1); complex ones subordinate or contrast (B2 and
// above). "And" and "but" are left out: every level uses them.
var (
	simpleLinks  = []string{"because", "when", "if", "so", "then", "after", "before", "until"}
	complexLinks = []string{"although", "even though", "though", "whereas", "while", "unless", "which",
		"whose", "however", "therefore", "despite", "in spite of", "whenever", "as long as", "so that",
		"otherwise", "as soon as", "in order to", "even if", "who", "since", "instead of", "moreover"}
)

// linksUsed returns the linking words of a turn; lower is its words with a space either side.
func linksUsed(words []string, lower string) []link {
	var out []link
	has := func(p string) bool { return strings.Contains(lower, " "+p+" ") }
	for _, l := range complexLinks {
		switch {
		case l == "who":
			// A relative "who" follows a noun ("a friend who"), not a question's start.
			for i := 1; i < len(words); i++ {
				if words[i] == "who" && isContent(words[i-1]) {
					out = append(out, link{l, true})
					break
				}
			}
		case l == "since":
			// "since I was a child", not "since 2010".
			for i := 0; i+1 < len(words); i++ {
				if words[i] == "since" && subjects[words[i+1]] {
					out = append(out, link{l, true})
					break
				}
			}
		case l == "though" && has("even though"):
		case has(l):
			out = append(out, link{l, true})
		}
	}
	for _, l := range simpleLinks {
		switch {
		case l == "so":
			// "so I stayed", "so that" is complex; not "so good".
			for i := 0; i+1 < len(words); i++ {
				if words[i] == "so" && (subjects[words[i+1]] || words[i+1] == "it" || words[i+1] == "we") {
					out = append(out, link{l, false})
					break
				}
			}
		case has(l):
			out = append(out, link{l, false})
		}
	}
	return out
}

// verbForms returns the verb forms beyond the present simple that a turn uses, with the words
// that show them: past (went, was, I worked), future (will, going to + verb), perfect (have
// been), would.
func verbForms(words []string) map[string][]string {
	out := map[string][]string{}
	add := func(form, example string) {
		for _, e := range out[form] {
			if e == example {
				return
			}
		}
		out[form] = append(out[form], example)
	}
	for i, w := range words {
		prev, next := "", ""
		if i > 0 {
			prev = words[i-1]
		}
		if i+1 < len(words) {
			next = words[i+1]
		}
		switch {
		case w == "was" || w == "were" || (baseForm[w] != "" && prev != "have" && prev != "has" && !strings.HasSuffix(prev, "'ve")):
			add("past", w)
		case len(w) > 4 && strings.HasSuffix(w, "ed") && (subjects[prev] || prev == "it"):
			add("past", prev+" "+w)
		}
		switch {
		case (w == "will" || w == "won't") && next != "":
			add("future", w+" "+next)
		case strings.HasSuffix(w, "'ll") && len(w) > 3:
			add("future", w)
		case w == "going" && next == "to" && i+2 < len(words) && futureVerbs[words[i+2]]:
			add("future", "going to "+words[i+2])
		}
		if (w == "have" || w == "has" || w == "haven't" || w == "hasn't" || strings.HasSuffix(w, "'ve")) &&
			(participles[next] || (len(next) > 4 && strings.HasSuffix(next, "ed"))) {
			add("perfect", w+" "+next)
		}
		if (w == "would" || w == "wouldn't" || w == "i'd" || w == "we'd" || w == "you'd" || w == "they'd") && next != "" && !participles[next] && !strings.HasSuffix(next, "ed") {
			add("would", w+" "+next)
		}
	}
	return out
}

// futureVerbs are verbs of "going to" + verb (not "going to the park").
var futureVerbs = set("be", "have", "do", "go", "see", "visit", "buy", "make", "start", "try", "study",
	"work", "play", "watch", "travel", "cook", "eat", "take", "get", "learn", "move", "stay", "meet",
	"call", "read", "write", "spend", "stop", "finish", "look", "live", "change", "rain", "snow",
	"say", "tell", "ask", "help", "need", "leave", "come", "fly", "drive", "sleep", "rest", "open")
