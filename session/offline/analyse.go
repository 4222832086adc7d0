package offline

import (
	"strings"
	"unicode"
)

// What the learner's last message is: its kind (a greeting, a question, a short answer, "I
// don't know", not English, ...), the word it is about, and whether it says they like or dislike
// something. The input is often a pocketsphinx transcript: lower case, no punctuation.

type kind int

const (
	kindStatement kind = iota
	kindEmpty
	kindForeign
	kindGreeting
	kindThanks
	kindBye
	kindDontKnow
	kindQuestion
	kindShort
)

// message is the analysis of the learner's message.
type message struct {
	kind      kind
	lower     string   // lower case, punctuation removed
	words     []string // of lower
	keyword   string   // the noun-like word the message is about ("" if none)
	likes     bool
	dislikes  bool
	howAreYou bool
}

func analyse(text string) message {
	m := message{lower: normalize(text)}
	m.words = strings.Fields(m.lower)
	w := m.words
	has := func(phrase string) bool { return strings.Contains(" "+m.lower+" ", " "+phrase+" ") }
	m.keyword = keyword(w, strings.Fields(normalizeKeepCase(text)))
	m.likes = has("like") || has("love") || has("enjoy") || has("enjoyed") || has("loved") || has("liked")
	m.dislikes = has("don't like") || has("do not like") || has("hate") || has("didn't like") || has("can't stand")
	if m.dislikes {
		m.likes = false
	}
	m.howAreYou = has("how are you") || has("how are you doing") || has("how's it going") || strings.TrimSpace(m.lower) == "how do you do" || strings.HasSuffix(m.lower, " how do you do")
	switch {
	case len(w) == 0:
		m.kind = kindEmpty
	case foreign(text, w):
		m.kind = kindForeign
	case has("bye") || has("goodbye") || has("see you") || has("i have to go") || has("i must go"):
		m.kind = kindBye
	case len(w) <= 6 && (has("thank you") || has("thanks")):
		m.kind = kindThanks
	case len(w) <= 6 && (greetingWords[w[0]] || has("good morning") || has("good afternoon") || has("good evening") || m.howAreYou):
		m.kind = kindGreeting
	case has("don't know") || has("do not know") || has("no idea") || has("not sure") || has("dunno"):
		m.kind = kindDontKnow
	case strings.HasSuffix(strings.TrimSpace(text), "?") || (questionStarts[w[0]] && len(w) > 2):
		m.kind = kindQuestion
	case len(w) <= 3:
		m.kind = kindShort
	}
	return m
}

// normalize lower-cases text and keeps letters, digits, apostrophes and spaces.
func normalize(text string) string { return strings.ToLower(normalizeKeepCase(text)) }

// normalizeKeepCase keeps letters, digits, apostrophes and spaces.
func normalizeKeepCase(text string) string {
	text = strings.NewReplacer("’", "'", "‘", "'").Replace(text)
	return strings.Join(strings.Fields(strings.Map(func(r rune) rune {
		if unicode.IsLetter(r) || unicode.IsDigit(r) || r == '\'' {
			return r
		}
		return ' '
	}, text)), " ")
}

// keyword returns what the message is about: its first content word, passing over common
// verbs, adjectives and function words, and over vague nouns (thing, time) altogether. With the
// learner's determiner it becomes a phrase the tutor can say back: "my job" → "your job",
// "a hospital" → "the hospital". words are lower case; said are the same words as the learner
// wrote them, so that names keep their capitals.
func keyword(words, said []string) string {
	if len(said) != len(words) {
		said = words
	}
	if len(said) > 0 && said[0] != words[0] {
		said = append([]string{words[0]}, said[1:]...) // the first word's capital is the sentence's
	}
	pick, weak := -1, -1
	for i, w := range words {
		if !isContent(w) {
			continue
		}
		if weakNouns[w] {
			if weak < 0 {
				weak = i
			}
			continue
		}
		pick = i
		break
	}
	if pick < 0 {
		pick = weak
	}
	if pick < 0 {
		return ""
	}
	phrase := []string{said[pick]}
	if next := pick + 1; next < len(words) && isContent(words[next]) && !weakNouns[words[next]] {
		phrase = append(phrase, said[next]) // a compound: "electric cars", "tennis club"
	}
	for j := pick - 1; j >= 0 && j >= pick-3; j-- {
		w := words[j]
		if adjectives[w] {
			phrase = append([]string{said[j]}, phrase...)
			continue
		}
		if det, ok := sayBack[w]; ok {
			phrase = append([]string{det}, phrase...)
		}
		break
	}
	return strings.Join(phrase, " ")
}

// sayBack is the determiner the tutor uses for the learner's.
var sayBack = map[string]string{"my": "your", "our": "your", "your": "my", "the": "the", "a": "the",
	"an": "the", "this": "that", "that": "that", "his": "his", "her": "her", "their": "their"}

// isContent reports whether w may be a noun worth talking about.
func isContent(w string) bool {
	return len(w) >= 3 && !stopWords[w] && !verbs[w] && !adjectives[w] && !vagueNouns[w] && !numbers[w] &&
		!strings.Contains(w, "'") && !isNumber(w) && !(len(w) > 4 && strings.HasSuffix(w, "ed"))
}

func isNumber(w string) bool {
	return strings.IndexFunc(w, func(r rune) bool { return !unicode.IsDigit(r) }) < 0
}

// foreign reports whether a message is in another language: mostly non-Latin letters, or more
// words of other languages' everyday vocabulary than of English.
func foreign(text string, words []string) bool {
	latin, other := 0, 0
	for _, r := range text {
		if unicode.IsLetter(r) {
			if unicode.Is(unicode.Latin, r) {
				latin++
			} else {
				other++
			}
		}
	}
	if other > latin {
		return true
	}
	en, fo := 0, 0
	for _, w := range words {
		switch {
		case englishWords[w]:
			en++
		case foreignWords[w]:
			fo++
		case strings.ContainsAny(w, "áàâãäçéèêëíìîïñóòôõöúùûüßœ"):
			fo++
		}
	}
	return fo > en && (fo >= 2 || len(words) <= 2)
}

// answerQuestion answers the questions a learner asks a tutor most ("" for others).
func answerQuestion(q string) string {
	has := func(s string) bool { return strings.Contains(" "+q+" ", " "+s+" ") }
	switch {
	case has("your name"):
		return "My name is Ava, and I'm your English tutor."
	case has("where are you from") || has("where do you live"):
		return "I live inside this computer, so I'm not really from anywhere!"
	case has("how old are you"):
		return "I'm a computer program, so I don't have an age."
	case has("what does") && has("mean") || has("meaning of"):
		return "Good question; try to explain it in other words first, and I'll help you."
	case has("how are you") || has("how are you doing"):
		return "I'm doing well, thank you for asking."
	case has("are you a robot") || has("are you real") || has("are you human"):
		return "I'm a practice tutor running on this computer, not a person."
	}
	return ""
}

var greetingWords = set("hi", "hello", "hey", "hiya", "morning", "evening", "greetings", "howdy")

var questionStarts = set("what", "where", "when", "why", "who", "whom", "which", "how", "do", "does",
	"did", "can", "could", "would", "will", "should", "are", "is", "am", "have", "has", "may", "shall")

// stopWords are never taken as what a message is about: function words, common verbs,
// adverbs and adjectives.
var stopWords = set(
	"the", "and", "but", "for", "with", "about", "from", "into", "onto", "over", "under", "after",
	"before", "during", "then", "than", "because", "also", "too", "very", "really", "just", "only",
	"some", "any", "all", "every", "each", "more", "most", "much", "many", "lot", "lots", "this",
	"that", "these", "those", "there", "here", "what", "where", "when", "why", "who", "how", "which",
	"you", "your", "yours", "our", "ours", "their", "theirs", "his", "her", "hers", "its", "him",
	"them", "they", "she", "myself", "yourself", "not", "yes", "yeah", "okay", "well", "like", "love",
	"enjoy", "enjoyed", "liked", "loved", "hate", "want", "wanted", "need", "needed", "think",
	"thought", "know", "knew", "have", "has", "had", "having", "get", "got", "getting", "make",
	"made", "making", "take", "took", "taking", "went", "going", "goes", "come", "came", "coming",
	"play", "played", "playing", "plays", "work", "works", "worked", "live", "lives", "lived", "see",
	"saw", "seen", "say", "said", "tell", "told", "try", "tried", "use", "used", "can", "could",
	"would", "should", "will", "shall", "may", "might", "must", "does", "did", "done", "doing",
	"are", "was", "were", "been", "being", "agree", "usually", "often", "sometimes", "always",
	"never", "today", "yesterday", "tomorrow", "now", "still", "again", "maybe", "good", "great",
	"nice", "bad", "big", "small", "little", "new", "old", "favourite", "favorite", "best", "better",
	"other", "another", "same", "different", "next", "last", "first", "second", "one", "two",
	"three", "four", "five", "six", "seven", "eight", "nine", "ten", "hello", "thanks", "thank",
	"please", "sorry", "because", "since", "until", "while", "though", "although", "even", "ever",
	"something", "anything", "nothing", "everything", "someone", "anyone", "everyone", "somebody",
	"quite", "pretty", "so", "such", "own", "want", "wants", "likes", "loves", "watch", "watched",
	"watching", "read", "reading", "went", "visit", "visited", "study", "studied", "studying",
	"speak", "speaking", "talk", "talking", "learn", "learning", "learned", "feel", "feeling", "felt",
	"look", "looking", "looked", "give", "gave", "find", "found", "keep", "let", "put", "mean",
	"means", "meant", "call", "called", "start", "started", "stop", "stopped", "help", "helped",
	"able", "sure", "ago", "yet", "already", "almost", "enough", "together", "away", "back", "out",
	"off", "around", "across", "through", "between", "without", "against", "along", "among", "does",
	"don't", "didn't", "doesn't", "isn't", "aren't", "wasn't", "weren't", "can't", "won't",
)

// verbs are common verbs that are rarely nouns ("swim", "cook"); with stopWords, they are
// never what a message is about.
var verbs = set("swim", "run", "cook", "dance", "sing", "drive", "ride", "write", "draw", "paint", "eat",
	"drink", "sleep", "walk", "buy", "sell", "teach", "wait", "win", "lose", "open", "close", "sit",
	"stand", "listen", "hear", "understand", "remember", "forget", "move", "meet", "pay", "spend",
	"send", "bring", "carry", "change", "build", "fly", "fall", "grow", "hope", "wish", "believe",
	"seem", "become", "leave", "begin", "finish", "discuss", "explain", "prefer", "decide",
	"practise", "practice", "improve", "go", "goes", "stay", "return", "visit", "plan", "wear",
	"ask", "answer", "happen", "share", "choose", "relax", "rest", "clean", "wash", "fix", "miss")

// numbers are number words.
var numbers = set("zero", "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen",
	"eighteen", "nineteen", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty",
	"ninety", "hundred", "thousand", "million", "half", "once", "twice")

// vagueNouns are never what a message is about; weakNouns only when nothing better follows.
var (
	vagueNouns = set("thing", "things", "stuff", "time", "times", "day", "days", "way", "kind", "part",
		"year", "years", "week", "weeks", "person", "place", "lot", "bit", "moment", "idea")
	weakNouns = set("food", "people", "life", "home", "job", "work", "family")
)

// adjectives are passed over as keywords and kept before the noun they describe.
var adjectives = set("big", "small", "little", "new", "old", "good", "nice", "great", "bad", "cold",
	"hot", "warm", "cool", "happy", "sad", "beautiful", "interesting", "boring", "easy", "hard",
	"difficult", "important", "funny", "expensive", "cheap", "long", "short", "high", "low", "young",
	"early", "late", "busy", "free", "tired", "real", "whole", "full", "ready", "favourite",
	"favorite", "best", "better", "worse", "worst", "lovely", "amazing", "awesome", "terrible",
	"delicious", "wonderful", "fantastic", "local", "large", "huge", "tiny", "quiet", "loud", "fast",
	"slow", "strong", "weak", "rich", "poor", "own", "other", "same", "different", "next", "last",
	"first", "second", "main", "special", "popular", "famous", "traditional", "modern", "english",
	"friendly", "lovely", "lonely", "ugly", "kind", "clever", "smart", "angry", "scared", "excited",
	"nervous", "hungry", "thirsty", "sick", "healthy", "fine", "okay", "glad", "sorry", "pleased")

var englishWords = set("the", "a", "an", "i", "you", "he", "she", "it", "we", "they", "is", "are",
	"am", "was", "and", "to", "of", "in", "my", "your", "like", "do", "not", "have", "what", "this",
	"that", "with", "for", "on", "at", "me", "can", "yes", "hello", "hi", "good", "very", "my",
	"i'm", "it's", "but", "so", "because", "think", "go", "went", "love", "how", "where", "when")

var foreignWords = set(
	// Spanish
	"el", "la", "los", "las", "que", "y", "es", "un", "una", "por", "para", "pero", "muy", "yo",
	"tengo", "gusta", "hola", "gracias", "soy", "estoy", "mucho", "bueno", "sí", "qué", "cómo",
	// French
	"le", "les", "je", "tu", "est", "et", "une", "des", "pas", "bonjour", "oui", "merci", "avec",
	"pour", "c'est", "suis", "j'ai", "aime", "très", "mais", "nous", "vous",
	// German
	"ich", "und", "der", "das", "ist", "nicht", "ein", "eine", "mit", "ja", "nein", "hallo", "danke",
	"bin", "habe", "sehr", "gut", "auch", "aber", "wir", "sie", "du",
	// Italian, Portuguese
	"io", "sono", "il", "che", "ciao", "grazie", "eu", "não", "obrigado", "olá", "você", "muito",
	"sim", "gosto", "mi", "piace",
)

func set(words ...string) map[string]bool {
	m := make(map[string]bool, len(words))
	for _, w := range words {
		m[w] = true
	}
	return m
}
