package offline

import (
	"fmt"
	"hash/fnv"
	"regexp"
	"strconv"
	"strings"
	"unicode"

	"github.com/aitutor/aitutor/session"
)

// The scripted tutor's reply: a correction when the learner made a common mistake, a reaction
// to what they said (their own words picked up), and a follow-up question on the day's topic or
// on what they mentioned, in words that suit their level. Replies are deterministic for a given
// conversation; the number of turns so far varies them, so consecutive turns differ, and a
// question already asked is not asked again.

// conversation is what the reply is written from.
type conversation struct {
	level string // beginner, intermediate or advanced
	topic string // "" when the learner chooses
	turn  int    // learner messages before the last one
	last  string // the learner's last message
	said  string // the tutor's earlier replies, lower-cased, to avoid repeating a question
}

var (
	levelRe = regexp.MustCompile(`The learner's level is (beginner|intermediate|advanced)\.`)
	topicRe = regexp.MustCompile(`Today's conversation topic is ("(?:[^"\\]|\\.)*")`)
)

// readConversation reads a chat request built by the session: the system prompt
// (session.SystemPrompt), the history, then the learner's turn.
func readConversation(msgs []session.ChatMessage) conversation {
	c := conversation{level: "intermediate"}
	var said []string
	for i, m := range msgs {
		switch m.Role {
		case session.RoleSystem:
			if l := levelRe.FindStringSubmatch(m.Content); l != nil {
				c.level = l[1]
			}
			if t := topicRe.FindStringSubmatch(m.Content); t != nil {
				if topic, err := strconv.Unquote(t[1]); err == nil {
					c.topic = strings.TrimSpace(topic)
				}
			}
		case session.RoleUser:
			if i == len(msgs)-1 {
				c.last = strings.TrimSpace(m.Content)
			} else {
				c.turn++
			}
		case session.RoleAssistant:
			said = append(said, strings.ToLower(m.Content))
		}
	}
	c.said = strings.Join(said, "\n")
	return c
}

// reply writes the tutor's answer.
func reply(c conversation) string {
	r := replier{c: c, seed: c.turn + int(hash(strings.ToLower(c.last))%97)}
	m := analyse(c.last)
	var out []string
	switch m.kind {
	case kindEmpty:
		out = []string{r.pick(phrases.notHeard), r.pick(phrases.sayAgain)}
	case kindForeign:
		out = []string{r.pick(phrases.englishPlease), r.pick(phrases.tryInEnglish)}
	case kindBye:
		out = []string{r.pick(phrases.goodbye)}
	default:
		fix := correct(c.last, c.level)
		react := r.react(m)
		if fix != "" {
			out = append(out, fix)
			if m.kind == kindStatement && m.keyword == "" {
				react = "" // the correction is the reaction
			}
		}
		if react != "" {
			out = append(out, react)
		}
		out = append(out, r.question(m))
	}
	return strings.Join(out, " ")
}

// replier picks phrases for one reply.
type replier struct {
	c    conversation
	seed int
}

// pick returns a phrase of the learner's level, varied by the seed.
func (r replier) pick(b leveled) string {
	list := b.of(r.c.level)
	return list[r.seed%len(list)]
}

// react is the sentence that answers what the learner said.
func (r replier) react(m message) string {
	k := m.keyword
	switch m.kind {
	case kindGreeting:
		if m.howAreYou {
			return r.pick(phrases.fineThanks)
		}
		return r.pick(phrases.hello)
	case kindThanks:
		return r.pick(phrases.welcome)
	case kindDontKnow:
		return r.pick(phrases.thatsOK)
	case kindQuestion:
		if a := answerQuestion(m.lower); a != "" {
			return a
		}
		if k != "" {
			return fill(r.pick(phrases.goodQuestionAbout), k)
		}
		return r.pick(phrases.goodQuestion)
	case kindShort:
		if k != "" {
			return fill(r.pick(phrases.shortKeyword), k)
		}
		return r.pick(phrases.shortAnswer)
	}
	switch {
	case k != "" && m.likes:
		return fill(r.pick(phrases.enjoy), k)
	case k != "" && m.dislikes:
		return fill(r.pick(phrases.dislike), k)
	case k != "":
		return fill(r.pick(phrases.keyword), k)
	}
	return r.pick(phrases.ack)
}

// question is the follow-up question that ends the reply.
func (r replier) question(m message) string {
	switch m.kind {
	case kindDontKnow:
		// An easier question: the beginner's version of the topic.
		easy := r
		easy.c.level = "beginner"
		return easy.topicQuestion()
	case kindShort:
		return r.pick(phrases.fullSentence)
	case kindQuestion:
		switch {
		case answerQuestion(m.lower) != "":
			if strings.Contains(m.lower, "your name") {
				return "What's your name?"
			}
			return r.topicQuestion()
		case m.keyword != "":
			return fill(r.pick(phrases.yourView), m.keyword)
		}
		return r.pick(phrases.whatDoYouThink)
	case kindGreeting, kindThanks:
		return r.topicQuestion()
	}
	// Ask about the learner's own words on every other turn (or always without a topic); the
	// day's topic otherwise, so the talk comes back to it.
	if m.keyword != "" && (r.c.topic == "" || r.c.turn%2 == 1) {
		return r.fresh(r.c.level, func(level string) []string {
			qs := phrases.aboutKeyword.of(level)
			out := make([]string, len(qs))
			for i, q := range qs {
				out[i] = fill(q, m.keyword)
			}
			return out
		})
	}
	return r.topicQuestion()
}

// topicQuestion asks about the day's topic, or an everyday question when there is none.
func (r replier) topicQuestion() string {
	return r.fresh(r.c.level, func(level string) []string {
		if r.c.topic == "" {
			return phrases.everyday.of(level)
		}
		if bank, ok := topicBank(r.c.topic); ok {
			return bank.of(level)
		}
		qs := phrases.aboutTopic.of(level)
		out := make([]string, len(qs))
		for i, q := range qs {
			out[i] = fill(q, r.c.topic)
		}
		return out
	})
}

// fresh picks a question of the level that the tutor has not asked yet in this conversation
// (when all have been asked, the seed's).
func (r replier) fresh(level string, questions func(level string) []string) string {
	qs := questions(level)
	for i := range qs {
		q := qs[(r.seed+i)%len(qs)]
		if !strings.Contains(r.c.said, strings.ToLower(q)) {
			return q
		}
	}
	return qs[r.seed%len(qs)]
}

// fill puts a word into a phrase's {} and capitalises a phrase that starts with it.
func fill(phrase, word string) string {
	s := strings.ReplaceAll(phrase, "{}", word)
	if strings.HasPrefix(phrase, "{}") {
		s = capitalize(s)
	}
	return s
}

func capitalize(s string) string {
	for i, r := range s {
		return s[:i] + string(unicode.ToUpper(r)) + s[i+len(string(r)):]
	}
	return s
}

func hash(s string) uint32 {
	h := fnv.New32a()
	fmt.Fprint(h, s)
	return h.Sum32()
}
