package offline

import (
	"regexp"
	"strings"
	"unicode"
)

// Gentle corrections of common learner mistakes, as the tutor's prompt asks: the reply first
// says the natural way to put the learner's sentence ("You could say: ..."), then carries on.

// correction is one common mistake and its fix.
type correction struct {
	re *regexp.Regexp
	// fix returns the replacement of a match from its submatches.
	fix func(m []string) string
	// ok, when set, tells whether a match is a mistake from the text before and after it.
	ok func(before, after string) bool
}

var corrections = []correction{
	{re: regexp.MustCompile(`(?i)\bI(?: am|'m) not agree\b`), fix: func([]string) string { return "I don't agree" }},
	{re: regexp.MustCompile(`(?i)\b(I|we|they|you)(?: am| are|'m|'re) agree\b`), fix: func(m []string) string { return pronoun(m[1]) + " agree" }},
	{re: regexp.MustCompile(`(?i)\b(he|she)(?: is|'s) agree\b`), fix: func(m []string) string { return m[1] + " agrees" }},
	{re: regexp.MustCompile(`(?i)\b(he|she|it) don't\b`), fix: func(m []string) string { return m[1] + " doesn't" }},
	{
		re:  regexp.MustCompile(`(?i)\b(he|she|my (?:mother|father|mum|mom|dad|brother|sister|friend|wife|husband|son|daughter|boss|teacher)) (go|do|have|like|want|play|work|live|eat|watch|need|study|make|know|think|love|come|get|take|read|speak|drink|cook|teach|visit|walk|talk|use|say|enjoy|try|miss|finish|wash)\b`),
		fix: func(m []string) string { return m[1] + " " + thirdPerson(m[2]) },
		ok: func(before, _ string) bool {
			w := lastWords(before, 2)
			if w[1] == "and" || w[1] == "or" { // "he and she go" is right, "... and she go" is not
				return !subjects[w[0]]
			}
			return !notThirdPerson[w[1]]
		},
	},
	{re: regexp.MustCompile(`(?i)\bmore (better|worse|easier|harder|bigger|smaller|faster|cheaper|happier|older|younger|nicer|larger|longer|shorter|stronger|higher|lower|greater|warmer|colder|hotter)\b`), fix: func(m []string) string { return m[1] }},
	{re: regexp.MustCompile(`(?i)\bmost (best|worst)\b`), fix: func(m []string) string { return m[1] }},
	{
		re:  regexp.MustCompile(`(?i)\b(I|you|we|they|he|she) (?:have|has) (\d+|(?:twenty|thirty|forty|fifty|sixty|seventy|eighty|ninety)(?:[ -](?:one|two|three|four|five|six|seven|eight|nine))?|ten|eleven|twelve|thirteen|fourteen|fifteen|sixteen|seventeen|eighteen|nineteen) years(?: old)?\b`),
		fix: func(m []string) string { return pronoun(m[1]) + " " + be(m[1]) + " " + m[2] + " years old" },
		ok: func(_, after string) bool {
			next := strings.Fields(strings.ToLower(after))
			return len(next) == 0 || (next[0] != "of" && next[0] != "ago" && next[0] != "experience")
		},
	},
	{re: regexp.MustCompile(`(?i)\bpeople is\b`), fix: func([]string) string { return "people are" }},
	{
		re:  regexp.MustCompile(`(?i)\b(didn't|did not|don't|doesn't|do not|does not) (went|saw|ate|came|did|had|made|took|bought|wrote|got|gave|knew|thought|said|told|found|left|felt|drank|swam|ran|spoke|met|slept|played|watched|liked|wanted|worked|studied|visited|cooked)\b`),
		fix: func(m []string) string { return m[1] + " " + baseForm[strings.ToLower(m[2])] },
	},
	{re: regexp.MustCompile(`(?i)\bexplain me\b`), fix: func([]string) string { return "explain to me" }},
	{re: regexp.MustCompile(`(?i)\b(discuss(?:es|ed|ing)?) about\b`), fix: func(m []string) string { return m[1] }},
	{re: regexp.MustCompile(`(?i)\b(information|advice|furniture|homework|equipment|luggage)s\b`), fix: func(m []string) string { return m[1] }},
	{re: regexp.MustCompile(`(?i)\bI very (like|love|enjoy)\b`), fix: func(m []string) string { return "I really " + m[1] }},
	{re: regexp.MustCompile(`(?i)\b(can|must|should|could) to\b`), fix: func(m []string) string { return m[1] }},
	{re: regexp.MustCompile(`(?i)\b(depends?) of\b`), fix: func(m []string) string { return m[1] + " on" }},
	{re: regexp.MustCompile(`(?i)\bmarried with\b`), fix: func([]string) string { return "married to" }},
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
	for _, c := range corrections {
		matches := c.re.FindAllStringSubmatchIndex(s, -1)
		if len(matches) == 0 {
			continue
		}
		var b strings.Builder
		last := 0
		for _, idx := range matches {
			start, end := idx[0], idx[1]
			if c.ok != nil && !c.ok(s[:start], s[end:]) {
				continue
			}
			sub := make([]string, len(idx)/2)
			for i := range sub {
				if idx[2*i] >= 0 {
					sub[i] = s[idx[2*i]:idx[2*i+1]]
				}
			}
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
	if orig == "" || repl == "" || strings.HasPrefix(repl, "I ") {
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

// lastWords returns the last n words of s, lower case, "" for missing ones.
func lastWords(s string, n int) []string {
	f := strings.Fields(strings.ToLower(s))
	out := make([]string, n)
	for i := 1; i <= n && i <= len(f); i++ {
		out[n-i] = strings.Trim(f[len(f)-i], `"',.;:!?`)
	}
	return out
}
