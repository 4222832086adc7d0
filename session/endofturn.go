package session

import (
	"strings"
	"time"
	"unicode"
)

// The end of a spoken turn, decided from the silence and the words (server turn detection with
// endOfTurn "smart", the default). A fixed silence is wrong for language learners both ways: it
// is dead air after a complete sentence, and it cuts off a learner who pauses to find a word
// ("I would like to … order a coffee"). So when the learner pauses (probe of silence) the words
// so far are transcribed (speculate.go) and judged here: a complete sentence or question ends the
// turn after a short silence; an unfinished phrase (it ends in "to", "the", "and", "because",
// "um", a comma, an ellipsis …) waits for a long one. Until the words are known the turn waits
// (they are needed to answer anyway), at most the long silence. The bounds follow silenceMs and
// the learner's level (beginners pause more). With endOfTurn "silence" the turn ends after
// silenceMs, as before; the pause is still used to prepare the answer.

// End-of-turn modes (session.update endOfTurn).
const (
	endOfTurnSmart   = "smart"
	endOfTurnSilence = "silence"
)

// probeSilence is the silence after which a pause is judged: the words so far are transcribed
// and, for a complete turn, the answer is prepared.
const probeSilence = 200 * time.Millisecond

// turnBounds are the silences that end a turn.
type turnBounds struct {
	short time.Duration // after a complete sentence or question
	long  time.Duration // after an unfinished phrase (and the most the turn waits for words)
	plain time.Duration // when the words are unknown (transcription failed, nothing recognised)
}

// endOfTurnBounds derives the bounds from silenceMs (700 by default: 350 ms and 2.45 s) and the
// level: beginners get 100 ms more after a complete sentence and a fifth more after an
// unfinished one, advanced learners a fifth less.
func endOfTurnBounds(silenceMs int, level string) turnBounds {
	silence := time.Duration(silenceMs) * time.Millisecond
	short := min(max(silence/2, 300*time.Millisecond), 500*time.Millisecond)
	long := min(max(silence*7/2, 1200*time.Millisecond), 3*time.Second)
	switch level {
	case "beginner":
		short += 100 * time.Millisecond
		long = long * 6 / 5
	case "advanced":
		long = long * 4 / 5
	}
	// silenceMs bounds both ways: never a short wait above it, never a long one below it.
	short = min(short, silence)
	long = min(max(long, silence), 5*time.Second)
	return turnBounds{short: short, long: long, plain: silence}
}

// turnVerdict is what the words say about the end of the turn.
type turnVerdict int

const (
	verdictUnknown    turnVerdict = iota // no words (yet)
	verdictComplete                      // a sentence or question that can be answered
	verdictUnfinished                    // the learner is likely to go on
)

func (v turnVerdict) String() string {
	return [...]string{"unknown", "complete", "unfinished"}[v]
}

// Last words after which an English sentence is very likely to go on: articles, prepositions,
// conjunctions, subject and possessive pronouns, semi-modals, intensifiers and fillers. Words
// that often end a sentence are left out ("thank you", "I like that", "I think so", "not
// really", "me too").
var unfinishedEndings = wordSet(`
a an the every
to of in on at for with from about into onto by than without between through during towards
and but or because if while which whose although unless whether until since
i we they he she my your our their its
i'm it's we're they're you're he's she's there's i've we've i'd i'll
want wanna gonna going need
think believe hope mean suppose guess wonder
very quite
um umm uh uhh er erm eh hmm mm
`)

// Auxiliaries and modals end a sentence in short answers ("Yes, I can.", "I will.") and rarely
// otherwise ("I think we should … go to the beach").
var auxiliaries = wordSet(`
am is are was were be been being have has had do does did can could will would shall should must might may
don't doesn't didn't can't couldn't won't wouldn't shouldn't isn't aren't wasn't weren't haven't hasn't
`)

var shortAnswers = wordSet(`yes yeah yep no nope sure okay ok of`)

// Verbs that take a clause: "that" after them is unfinished ("I think that … it's true"),
// though "that" often ends a sentence otherwise ("I like that").
var clauseVerbs = wordSet(`think thought believe know knew said say says hope sure feel felt guess mean heard hear realise realize so`)

func wordSet(s string) map[string]bool {
	m := map[string]bool{}
	for _, w := range strings.Fields(s) {
		m[w] = true
	}
	return m
}

// judgeWords judges a transcript of the learner's words so far. Recognisers differ: Whisper
// punctuates (and marks trailing off with "..."), pocketsphinx does not; both are handled.
func judgeWords(text string) turnVerdict {
	text = strings.TrimSpace(text)
	if text == "" {
		return verdictUnknown
	}
	// Trailing off: an ellipsis, a comma, a dash.
	for _, end := range []string{"...", "…", ",", "-", "–", "—", ";", ":"} {
		if strings.HasSuffix(text, end) {
			return verdictUnfinished
		}
	}
	if strings.HasSuffix(text, "?") || strings.HasSuffix(text, "!") {
		return verdictComplete
	}
	words := strings.FieldsFunc(strings.ToLower(strings.ReplaceAll(text, "’", "'")), func(r rune) bool {
		return !unicode.IsLetter(r) && r != '\''
	})
	if len(words) == 0 {
		return verdictUnknown
	}
	last := strings.Trim(words[len(words)-1], "'")
	switch {
	case unfinishedEndings[last]:
		return verdictUnfinished
	case auxiliaries[last] && len(words) > 3 && !shortAnswers[words[0]]:
		return verdictUnfinished
	case last == "that" && len(words) > 1 && clauseVerbs[words[len(words)-2]]:
		return verdictUnfinished
	}
	return verdictComplete
}

// silenceNeeded is the silence that ends the turn for verdict v.
func (b turnBounds) silenceNeeded(v turnVerdict) time.Duration {
	switch v {
	case verdictComplete:
		return b.short
	case verdictUnfinished:
		return b.long
	}
	return b.plain
}
