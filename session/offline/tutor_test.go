package offline

import (
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"time"
	"unicode"

	"github.com/aitutor/aitutor/session"
)

// chat builds a chat request as the session does: the system prompt, history turns, then the
// learner's message.
func chat(level, topic string, history []string, last string) session.ChatRequest {
	msgs := []session.ChatMessage{{Role: session.RoleSystem, Content: session.SystemPrompt(level, topic)}}
	for i, h := range history {
		msgs = append(msgs,
			session.ChatMessage{Role: session.RoleUser, Content: h},
			session.ChatMessage{Role: session.RoleAssistant, Content: "Reply number " + string(rune('A'+i)) + "."})
	}
	msgs = append(msgs, session.ChatMessage{Role: session.RoleUser, Content: last})
	return session.ChatRequest{Messages: msgs, MaxTokens: 200}
}

// ask runs the scripted tutor without delays and returns its pieces.
func ask(t *testing.T, req session.ChatRequest) []string {
	t.Helper()
	tutor := &scriptedTutor{firstDelay: -1, delay: -1}
	stream, err := tutor.StreamChat(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	defer stream.Close()
	var pieces []string
	for {
		p, err := stream.Recv()
		if err == io.EOF {
			return pieces
		}
		if err != nil {
			t.Fatal(err)
		}
		pieces = append(pieces, p)
	}
}

// replyOf returns the reply text.
func replyOf(t *testing.T, req session.ChatRequest) string {
	t.Helper()
	return strings.Join(ask(t, req), "")
}

// sentencesOf cuts a reply as the session does before speaking it.
func sentencesOf(text string) []string {
	var s session.Splitter
	out := s.Push(text)
	if rest := s.Flush(); rest != "" {
		out = append(out, rest)
	}
	return out
}

// checkSpoken checks the rules every reply to learner keeps: English (ASCII letters, except in
// the learner's own words, such as a name), one to three sentences, under 60 words, no markdown.
func checkSpoken(t *testing.T, reply, learner string) {
	t.Helper()
	for _, r := range reply {
		if unicode.IsLetter(r) && r > unicode.MaxASCII && !strings.ContainsRune(learner, r) {
			t.Errorf("reply %q has the non-English letter %q", reply, r)
			break
		}
	}
	if strings.ContainsAny(reply, "*#_`\n") {
		t.Errorf("reply %q is not plain spoken text", reply)
	}
	if n := len(sentencesOf(reply)); n < 1 || n > 3 {
		t.Errorf("reply %q has %d sentences, want 1 to 3", reply, n)
	}
	if n := len(strings.Fields(reply)); n >= 60 {
		t.Errorf("reply %q has %d words", reply, n)
	}
}

func TestTutorReplies(t *testing.T) {
	tests := []struct {
		name     string
		level    string
		topic    string
		history  []string
		learner  string
		contains []string // case-insensitive; "a|b" is either
		question bool     // ends with a follow-up question
	}{
		{"statement picks up the learner's words", "intermediate", "", nil, "I like to play football with my friends on the weekend", []string{"football"}, true},
		{"transcript without punctuation", "intermediate", "", []string{"hi"}, "i work in a hospital as a doctor", []string{"the hospital"}, true},
		{"my becomes your", "beginner", "", []string{"hi"}, "I love my job", []string{"your job"}, true},
		{"dislike", "intermediate", "", nil, "I really hate cold weather", []string{"cold weather", "not everyone enjoys"}, true},
		{"topic question", "intermediate", "travel", nil, "I like to play football with my friends", []string{"football", "trip|travel|holiday"}, true},
		{"topic not in the banks", "advanced", "gardening", nil, "I have a small balcony with tomatoes", []string{"gardening"}, true},
		{"topic with quotes", "intermediate", `my "dream" house`, nil, "hello", []string{`my "dream" house`}, true},
		{"greeting", "beginner", "food", nil, "hello", []string{"hello", "food"}, true},
		{"how are you", "intermediate", "", nil, "Hi, how are you?", []string{"doing well"}, true},
		{"learner asks the tutor's name", "intermediate", "", nil, "What is your name?", []string{"Ava", "your name?"}, true},
		{"learner asks a question", "intermediate", "", nil, "What do you think about electric cars?", []string{"good question", "electric cars"}, true},
		{"i don't know", "advanced", "music", []string{"hi"}, "I don't know", []string{"music"}, true},
		{"short answer", "intermediate", "", nil, "yes", []string{"more"}, true},
		{"one word", "beginner", "", nil, "football", []string{"football", "full sentence"}, true},
		{"spanish", "intermediate", "", nil, "Hola, me gusta mucho el fútbol", []string{"english"}, true},
		{"french", "beginner", "", nil, "Je suis très content aujourd'hui", []string{"english"}, true},
		{"russian", "advanced", "", nil, "Привет, как дела?", []string{"english"}, true},
		{"empty", "intermediate", "", nil, "", []string{"catch"}, true},
		{"only noise", "intermediate", "", nil, "...", []string{"catch"}, true},
		{"thanks", "intermediate", "films", nil, "Thank you!", []string{"welcome|pleasure", "film|series"}, true},
		{"goodbye", "intermediate", "", nil, "OK, bye!", []string{"goodbye"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			reply := replyOf(t, chat(tt.level, tt.topic, tt.history, tt.learner))
			checkSpoken(t, reply, tt.learner)
			for _, want := range tt.contains {
				found := false
				for _, alt := range strings.Split(want, "|") {
					found = found || strings.Contains(strings.ToLower(reply), strings.ToLower(alt))
				}
				if !found {
					t.Errorf("reply %q does not contain %q", reply, want)
				}
			}
			if got := strings.HasSuffix(reply, "?"); got != tt.question {
				t.Errorf("reply %q: ends with a question %v, want %v", reply, got, tt.question)
			}
		})
	}
}

func TestTutorCorrections(t *testing.T) {
	tests := []struct {
		learner, want string
	}{
		{"I am agree with you", `"I agree with you."`},
		{"i'm agree", `"I agree."`},
		{"I am not agree with that", `"I don't agree with that."`},
		{"My brother go to school by bus", `"My brother goes to school by bus."`},
		{"he go to the gym and she watch TV", `"He goes to the gym and she watches TV."`},
		{"she study English every day", `"She studies English every day."`},
		{"He don't like coffee", `"He doesn't like coffee."`},
		{"This phone is more better than my old one", `"This phone is better than my old one."`},
		{"It was the most best day", `"It was the best day."`},
		{"I have 25 years", `"I am 25 years old."`},
		{"i have twenty five years", `"I am twenty five years old."`},
		{"I didn't went to the party", `"I didn't go to the party."`},
		{"Can you explain me this word?", `"Can you explain to me this word."`},
		{"We discussed about the news. It was fun.", `"We discussed the news."`},
		{"I need some informations", `"I need some information."`},
		{"I very like pizza", `"I really like pizza."`},
		{"I can to swim", `"I can swim."`},
		{"It depends of the weather", `"It depends on the weather."`},
		{"She is married with a doctor", `"She is married to a doctor."`},
		{"People is very friendly here", `"People are very friendly here."`},
		{"I like football. My sister play tennis and she also like to swim in the sea every summer with her friends from school",
			`"My sister plays" instead of "My sister play"`},
	}
	for _, tt := range tests {
		t.Run(tt.learner, func(t *testing.T) {
			for _, level := range []string{"beginner", "intermediate", "advanced"} {
				reply := replyOf(t, chat(level, "", nil, tt.learner))
				checkSpoken(t, reply, tt.learner)
				first := sentencesOf(reply)[0]
				if !strings.Contains(first, "say") && !strings.Contains(first, "put it") {
					t.Errorf("%s: reply %q does not start with the correction", level, reply)
				}
				if !strings.Contains(reply, tt.want) {
					t.Errorf("%s: reply %q does not model %s", level, reply, tt.want)
				}
				if !strings.HasSuffix(reply, "?") {
					t.Errorf("%s: reply %q does not carry on with a question", level, reply)
				}
			}
		})
	}
}

func TestTutorNoFalseCorrections(t *testing.T) {
	for _, learner := range []string{
		"Does he go to school?", "I agree with you", "She goes to the gym", "I can swim",
		"Let him go home", "I have three years of experience", "I have two dogs",
		"It depends on the weather", "We discussed the news", "This one is better",
		"They will help her cook dinner", "I didn't go to the party", "My brother and I go running",
	} {
		reply := replyOf(t, chat("intermediate", "", nil, learner))
		if strings.Contains(reply, "could say") {
			t.Errorf("%q was corrected: %q", learner, reply)
		}
	}
}

func TestTutorLevels(t *testing.T) {
	learners := []string{
		"I like to play football with my friends on the weekend", "I work in a hospital as a doctor",
		"I don't know", "yes", "Hello", "I am agree with you", "What do you think about electric cars?",
	}
	words, letters := map[string]int{}, map[string]int{}
	for _, level := range []string{"beginner", "intermediate", "advanced"} {
		for _, topic := range []string{"", "travel", "gardening"} {
			for turn := range 3 {
				for _, learner := range learners {
					r := replyOf(t, chat(level, topic, make([]string, turn), learner))
					checkSpoken(t, r, learner)
					for _, w := range strings.Fields(r) {
						words[level]++
						letters[level] += len(strings.Trim(w, `.,!?;:"'`))
					}
				}
			}
		}
	}
	avg := func(level string) float64 { return float64(letters[level]) / float64(words[level]) }
	if !(words["beginner"] < words["intermediate"] && words["intermediate"] < words["advanced"]) {
		t.Errorf("words in all replies: beginner %d, intermediate %d, advanced %d; want shorter replies for lower levels",
			words["beginner"], words["intermediate"], words["advanced"])
	}
	if !(avg("beginner") < avg("intermediate") && avg("intermediate") < avg("advanced")) {
		t.Errorf("average word length: beginner %.2f, intermediate %.2f, advanced %.2f; want simpler words for lower levels",
			avg("beginner"), avg("intermediate"), avg("advanced"))
	}
}

func TestTutorVariesAndIsDeterministic(t *testing.T) {
	learner := "I went to the beach with my family"
	var prev string
	for turn := range 6 {
		history := make([]string, turn)
		for i := range history {
			history[i] = "something"
		}
		req := chat("intermediate", "holidays", history, learner)
		r := replyOf(t, req)
		if again := replyOf(t, req); again != r {
			t.Errorf("turn %d: the same conversation gave %q and %q", turn, r, again)
		}
		if r == prev {
			t.Errorf("turn %d repeats the previous reply %q", turn, r)
		}
		if !strings.Contains(r, "beach") {
			t.Errorf("turn %d: reply %q does not react to the beach", turn, r)
		}
		prev = r
	}
}

func TestTutorDoesNotRepeatAQuestion(t *testing.T) {
	bank := phrases.everyday.of("beginner")
	for seed := range len(bank) {
		r := replier{c: conversation{level: "beginner", said: strings.ToLower("Good! " + bank[seed%len(bank)])}, seed: seed}
		if q := r.topicQuestion(); q == bank[seed%len(bank)] {
			t.Errorf("seed %d: asked %q again", seed, q)
		}
	}
	// Once every question has been asked, one is asked again rather than none.
	r := replier{c: conversation{level: "beginner", said: strings.ToLower(strings.Join(bank, " "))}}
	if q := r.topicQuestion(); q == "" {
		t.Error("no question")
	}
	// Through the whole tutor: the reply to the same words with the last reply in the history.
	first := replyOf(t, chat("beginner", "", nil, "I don't know"))
	req := chat("beginner", "", []string{"I don't know"}, "I don't know")
	req.Messages[2].Content = first
	q := sentencesOf(first)[len(sentencesOf(first))-1]
	if next := replyOf(t, req); strings.Contains(next, q) {
		t.Errorf("the tutor asked %q again: %q", q, next)
	}
}

func TestReadConversation(t *testing.T) {
	c := readConversation(chat("advanced", `the "best" city`, []string{"one", "two"}, "three").Messages)
	if c.level != "advanced" || c.topic != `the "best" city` || c.turn != 2 || c.last != "three" {
		t.Errorf("readConversation = %+v", c)
	}
	c = readConversation(chat("nonsense", "", nil, "x").Messages) // the prompt falls back to intermediate
	if c.level != "intermediate" || c.topic != "" {
		t.Errorf("readConversation = %+v", c)
	}
}

func TestChatStreamsPieces(t *testing.T) {
	req := chat("intermediate", "travel", nil, "I like to play football with my friends on the weekend")
	tutor := &scriptedTutor{firstDelay: DefaultFirstTokenDelay, delay: DefaultTokenDelay}
	start := time.Now()
	stream, err := tutor.StreamChat(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	defer stream.Close()
	var pieces []string
	var arrivals []time.Duration
	for {
		p, err := stream.Recv()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		pieces = append(pieces, p)
		arrivals = append(arrivals, time.Since(start))
	}
	text := strings.Join(pieces, "")
	if text != replyOf(t, req) {
		t.Errorf("streamed %q, want the reply", text)
	}
	if len(pieces) < 10 {
		t.Fatalf("%d pieces: %q", len(pieces), pieces)
	}
	for i, p := range pieces[1:] {
		if p == "" || (p[0] != ' ' && !unicode.IsPunct(rune(p[0])) && !unicode.IsLetter(rune(p[0]))) {
			t.Errorf("piece %d %q", i+1, p)
		}
	}
	if strings.HasPrefix(pieces[0], " ") {
		t.Errorf("first piece %q starts with a space", pieces[0])
	}
	// Paced like a model: the first piece after about 40 ms, then about 25 ms each.
	if arrivals[0] < DefaultFirstTokenDelay {
		t.Errorf("first piece after %v, want at least %v", arrivals[0], DefaultFirstTokenDelay)
	}
	minTotal := DefaultFirstTokenDelay + time.Duration(len(pieces)-1)*DefaultTokenDelay
	if total := arrivals[len(arrivals)-1]; total < minTotal || total > 3*minTotal {
		t.Errorf("%d pieces took %v, want about %v", len(pieces), total, minTotal)
	}
	// The session's splitter finds the reply's sentences while it streams.
	var split session.Splitter
	var found []string
	for _, p := range pieces {
		found = append(found, split.Push(p)...)
	}
	if rest := split.Flush(); rest != "" {
		found = append(found, rest)
	}
	if len(found) < 2 || strings.Join(found, " ") != text {
		t.Errorf("sentences %q from %q", found, text)
	}
}

func TestChatStreamStops(t *testing.T) {
	tutor := &scriptedTutor{firstDelay: 10 * time.Millisecond, delay: time.Hour}
	req := chat("intermediate", "", nil, "I like pizza")

	t.Run("context cancelled", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		stream, err := tutor.StreamChat(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		defer stream.Close()
		if _, err := stream.Recv(); err != nil {
			t.Fatal(err)
		}
		time.AfterFunc(20*time.Millisecond, cancel)
		start := time.Now()
		_, err = stream.Recv()
		if !errors.Is(err, context.Canceled) {
			t.Errorf("Recv after cancel: %v", err)
		}
		if d := time.Since(start); d > time.Second {
			t.Errorf("Recv returned %v after the cancellation", d)
		}
		if _, err := tutor.StreamChat(ctx, req); !errors.Is(err, context.Canceled) {
			t.Errorf("StreamChat with a cancelled context: %v", err)
		}
	})
	t.Run("closed", func(t *testing.T) {
		stream, err := tutor.StreamChat(context.Background(), req)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := stream.Recv(); err != nil {
			t.Fatal(err)
		}
		time.AfterFunc(20*time.Millisecond, func() { stream.Close() })
		start := time.Now()
		if _, err := stream.Recv(); !errors.Is(err, errChatClosed) {
			t.Errorf("Recv after Close: %v", err)
		}
		if d := time.Since(start); d > time.Second {
			t.Errorf("Recv returned %v after Close", d)
		}
		if err := stream.Close(); err != nil {
			t.Errorf("second Close: %v", err)
		}
	})
}

func TestSplitPieces(t *testing.T) {
	got := splitPieces(`You could say: "I agree." Wonderful, football!`)
	want := []string{"You", " could", " say", ":", ` "I`, " agree", `."`, " Wond", "erful", ",", " foot", "ball", "!"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("splitPieces = %q, want %q", got, want)
	}
}

// TestTutorRepliesAreSpoken runs many kinds of input through every level, topic and turn and
// checks the rules every reply keeps.
func TestTutorRepliesAreSpoken(t *testing.T) {
	inputs := []string{
		"", "hello", "Good morning!", "hi how are you", "thanks", "bye", "yes", "no", "maybe", "pizza",
		"I don't know", "I'm not sure", "What is your name?", "where are you from", "What does awkward mean?",
		"i like to play football with my friends on the weekend", "I hate waking up early",
		"My favourite food is pizza", "I am agree with you", "he go to school and she like music",
		"I have 30 years and I didn't went to university", "I visited my friend José in Madrid",
		"Hola, ¿cómo estás?", "Ich bin müde", "こんにちは", "I think so too", "Because it is cheaper and more better",
		"We discussed about politics with my parents last night at a small restaurant near the station where we often go",
	}
	for _, level := range []string{"beginner", "intermediate", "advanced"} {
		for _, topic := range []string{"", "travel", "work", "quantum physics"} {
			for turn := range 4 {
				for _, in := range inputs {
					r := replyOf(t, chat(level, topic, make([]string, turn), in))
					checkSpoken(t, r, in)
					if in == "I visited my friend José in Madrid" && !strings.Contains(r, "José") {
						t.Errorf("the name lost its capital: %q", r)
					}
					if in == "I visited my friend José in Madrid" && strings.Contains(r, "English") {
						t.Errorf("an English sentence with a Spanish name was taken as Spanish: %q", r)
					}
				}
			}
		}
	}
}
