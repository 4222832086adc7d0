package offline

import (
	"sort"
	"strings"

	"github.com/aitutor/aitutor/session"
)

// The review's vocabulary: a few useful phrases for what the learner talked about, from a
// curated table of everyday topics. A topic is picked by the learner's own words (and, with
// one point, the conversation's topic); phrases they already used are left out. With no topic
// found, phrases that help any conversation along.

// vocabTopic is a topic: the words that show it and its phrases.
type vocabTopic struct {
	name    string
	words   []string
	phrases []vocabPhrase
}

// vocabPhrase is a phrase to suggest: level is the CEFR level (0 = A1 … 5 = C2) it suits, and
// used is how it shows in a learner's words when they know it already (compared as normalize
// writes both: lower case, hyphens as spaces).
type vocabPhrase struct {
	session.VocabularyItem
	level int
	used  string
}

func vp(level int, phrase, meaning, example, used string) vocabPhrase {
	return vocabPhrase{session.VocabularyItem{Phrase: phrase, Meaning: meaning, Example: example}, level, used}
}

// CEFR levels of the phrases.
const (
	a1 = iota
	a2
	b1
	b2
	c1
)

var vocabTopics = []vocabTopic{
	{"food", []string{"food", "eat", "eating", "ate", "cook", "cooking", "cooked", "dinner", "lunch", "breakfast", "restaurant", "restaurants", "pizza", "pasta", "rice", "meal", "meals", "dish", "dishes", "delicious", "hungry", "kitchen", "recipe", "coffee", "tea", "cake", "bread", "meat", "fish", "vegetables", "fruit", "cuisine"}, []vocabPhrase{
		vp(a1, "to have breakfast / lunch / dinner", "to eat the meals of the day", "I have breakfast at seven and dinner at eight.", "have breakfast"),
		vp(a2, "to eat out", "to have a meal in a restaurant, not at home", "We usually eat out on Friday evenings.", "eat out"),
		vp(b1, "a home-cooked meal", "food made at home rather than bought", "Nothing beats a home-cooked meal after a long day.", "home-cooked"),
		vp(b2, "mouth-watering", "looking or smelling delicious", "The bakery window was full of mouth-watering cakes.", "mouth-watering"),
		vp(b2, "to have a sweet tooth", "to love sweet food", "I have a sweet tooth, so I always order dessert.", "sweet tooth"),
	}},
	{"travel", []string{"travel", "travelling", "traveling", "trip", "trips", "holiday", "holidays", "vacation", "visit", "visited", "flight", "plane", "airport", "hotel", "beach", "abroad", "tourist", "tourists", "journey", "train", "museum", "sightseeing", "passport", "suitcase", "flights", "hotels", "countries", "culture", "cultures"}, []vocabPhrase{
		vp(a1, "to go on holiday", "to travel somewhere to rest and have fun", "We go on holiday to the sea every August.", "go on holiday"),
		vp(a2, "to go sightseeing", "to visit the famous places of a town", "We went sightseeing in Rome all morning.", "sightseeing"),
		vp(b1, "to book in advance", "to reserve something before the day", "Flights are cheaper if you book in advance.", "in advance"),
		vp(b1, "jet lag", "tiredness after a long flight across time zones", "I had terrible jet lag for two days after flying to Tokyo.", "jet lag"),
		vp(c1, "off the beaten track", "away from the places most tourists go", "We found a quiet village off the beaten track.", "beaten track"),
	}},
	{"work", []string{"work", "working", "job", "jobs", "office", "boss", "colleague", "colleagues", "company", "career", "careers", "meeting", "meetings", "salary", "manager", "shift", "shifts", "business", "customers", "project", "projects", "nurse", "engineer", "retraining"}, []vocabPhrase{
		vp(a1, "to start / finish work", "to begin / end your working day", "I start work at nine and finish at five.", "start work"),
		vp(a2, "to work full-time / part-time", "to work a whole week / only some hours or days", "I work part-time, so I have Fridays off.", "full-time"),
		vp(b1, "to get on with your colleagues", "to have a friendly relationship with the people you work with", "I get on really well with my colleagues.", "get on with"),
		vp(b2, "work-life balance", "time for both your job and your private life", "My new job has a much better work-life balance.", "work-life balance"),
		vp(c1, "to be snowed under", "to have too much work to do", "I'm snowed under at the moment with end-of-year reports.", "snowed under"),
	}},
	{"study", []string{"school", "study", "studying", "studied", "university", "college", "exam", "exams", "teacher", "teachers", "class", "classes", "lesson", "lessons", "homework", "student", "students", "learn", "learning", "english", "course", "courses", "grammar", "degree"}, []vocabPhrase{
		vp(a1, "to do homework", "to do the work a teacher gives you for home", "I do my homework after dinner.", "do my homework"),
		vp(b1, "to make progress", "to get better at something step by step", "You've made a lot of progress with your pronunciation.", "progress"),
		vp(b1, "to revise for an exam", "to study again what you learned, before a test", "I'm revising for my maths exam this week.", "revise"),
		vp(b2, "to fall behind", "to do less than you should, so that others get ahead", "I was ill for a week and fell behind with my homework.", "fall behind"),
		vp(b2, "to pick up a language", "to learn a language by using it, without formal study", "She picked up Spanish while living in Madrid.", "pick up"),
	}},
	{"family", []string{"family", "families", "mother", "father", "mum", "mom", "dad", "brother", "brothers", "sister", "sisters", "parents", "children", "kids", "son", "daughter", "wife", "husband", "friend", "friends", "grandmother", "grandfather", "grandparents", "cousin", "cousins", "baby"}, []vocabPhrase{
		vp(a2, "an only child", "a child with no brothers or sisters", "I'm an only child, so I had a quiet home.", "only child"),
		vp(a2, "to grow up", "to change from a child into an adult", "I grew up in a small town by the sea.", "grew up"),
		vp(b1, "to get on well with someone", "to have a good, friendly relationship", "I get on well with my sister, but we argue sometimes.", "get on well"),
		vp(b1, "to keep in touch", "to keep talking or writing to someone who lives far away", "We keep in touch on video calls every Sunday.", "keep in touch"),
		vp(b2, "to take after someone", "to look or behave like an older family member", "I take after my father: we're both very stubborn.", "take after"),
	}},
	{"sport", []string{"sport", "sports", "football", "soccer", "tennis", "basketball", "volleyball", "gym", "running", "swim", "swimming", "team", "match", "exercise", "fitness", "yoga", "cycling", "bike", "training"}, []vocabPhrase{
		vp(a1, "to play / go / do a sport", "play for games with a ball, go for -ing sports, do for others", "I play tennis, go swimming and do yoga.", "go swimming"),
		vp(a2, "to keep fit", "to stay healthy and strong by exercising", "I cycle to work to keep fit.", "keep fit"),
		vp(b1, "to work out", "to do physical exercise, often at a gym", "I work out three times a week.", "work out"),
		vp(b1, "to be into something", "to like something a lot", "My son is really into basketball at the moment.", "i'm into"),
		vp(b2, "a close match", "a game where both sides are nearly equal", "It was a close match, but we won two to one.", "close match"),
	}},
	{"music", []string{"music", "song", "songs", "concert", "concerts", "band", "bands", "guitar", "piano", "sing", "singing", "singer", "listen", "listening", "album", "instrument", "drums", "violin"}, []vocabPhrase{
		vp(a1, "to listen to music", "to hear music on purpose (always with \"to\")", "I listen to music on the bus.", "listen to music"),
		vp(b1, "to see a band live", "to watch musicians play in person, at a concert", "I saw my favourite band live last summer.", "band live"),
		vp(b2, "catchy", "(of a song) easy to remember and hard to forget", "That chorus is so catchy that I sing it all day.", "catchy"),
		vp(c1, "to play by ear", "to play music without reading notes", "My grandfather plays the piano by ear.", "by ear"),
	}},
	{"films", []string{"film", "films", "movie", "movies", "cinema", "series", "tv", "television", "netflix", "show", "shows", "actor", "actress", "watch", "watched", "watching", "episode", "episodes"}, []vocabPhrase{
		vp(a1, "to go to the cinema", "to see a film where it is shown on a big screen", "We go to the cinema on Saturdays.", "go to the cinema"),
		vp(b1, "to be based on a true story", "to tell events that really happened", "The film is based on a true story about a rescue at sea.", "true story"),
		vp(b2, "to binge-watch", "to watch many episodes of a series one after another", "We binge-watched the whole season in a weekend.", "binge"),
		vp(b2, "a plot twist", "a surprising change in a story", "The plot twist at the end took me completely by surprise.", "twist"),
	}},
	{"free time", []string{"hobby", "hobbies", "weekend", "weekends", "free", "reading", "books", "book", "painting", "drawing", "garden", "gardening", "games", "relax", "relaxing", "walking", "hiking", "camping", "photography"}, []vocabPhrase{
		vp(a1, "in my free time", "when I am not working or studying", "In my free time I read and go for walks.", "free time"),
		vp(b1, "to take up a hobby", "to start doing a new activity for pleasure", "I took up painting during the winter.", "took up"),
		vp(b2, "to unwind", "to relax after work or stress", "I unwind with a long walk on Sunday mornings.", "unwind"),
		vp(b2, "a lie-in", "staying in bed later than usual in the morning", "On Saturdays I love a lie-in until ten.", "lie-in"),
		vp(b2, "to have a go at something", "to try something new", "I'd love to have a go at rock climbing.", "have a go"),
	}},
	{"weather", []string{"weather", "rain", "raining", "rainy", "sunny", "snow", "snowing", "cold", "hot", "warm", "winter", "summer", "spring", "autumn", "wind", "windy", "cloudy", "storm", "temperature"}, []vocabPhrase{
		vp(a1, "What's the weather like?", "a question about the weather", "What's the weather like in your town today?", "weather like"),
		vp(b1, "mild", "(of weather) not very cold, pleasant", "The winters here are quite mild.", "mild"),
		vp(b1, "boiling hot / freezing cold", "very hot / very cold", "It was boiling hot in August and freezing cold in January.", "boiling"),
		vp(b2, "a heatwave", "a period of unusually hot weather", "During the heatwave we stayed inside all afternoon.", "heatwave"),
		vp(b2, "it's pouring (with rain)", "it is raining very heavily", "Take an umbrella, it's pouring outside.", "pouring"),
	}},
	{"shopping", []string{"shopping", "shop", "shops", "buy", "bought", "store", "stores", "market", "supermarket", "clothes", "price", "prices", "expensive", "cheap", "sale", "mall", "money", "shoes"}, []vocabPhrase{
		vp(a1, "How much is it?", "a question about the price", "Excuse me, how much is this jacket?", "how much is"),
		vp(a2, "to be on sale", "to be sold at a lower price for a while", "Winter coats are on sale this week.", "on sale"),
		vp(b1, "a bargain", "something bought for much less than its usual price", "These boots were a real bargain.", "bargain"),
		vp(b1, "to go window-shopping", "to look at things in shops without buying", "We went window-shopping on the high street.", "window-shopping"),
		vp(b2, "to shop around", "to compare prices in several shops before buying", "It pays to shop around for a new phone.", "shop around"),
	}},
	{"technology", []string{"phone", "phones", "computer", "computers", "internet", "app", "apps", "online", "technology", "laptop", "social", "media", "video", "videos", "website", "ai", "screen"}, []vocabPhrase{
		vp(a2, "to download an app", "to put an app on your phone from the internet", "I downloaded an app to learn new words.", "download"),
		vp(b1, "screen time", "time spent looking at a phone, computer or TV", "I'm trying to cut down my screen time.", "screen time"),
		vp(b2, "to go viral", "(of a video or post) to spread quickly to many people online", "Her cooking video went viral overnight.", "viral"),
		vp(b2, "tech-savvy", "good at using new technology", "My grandmother is surprisingly tech-savvy.", "savvy"),
		vp(b2, "to be glued to your phone", "to look at your phone all the time", "My brother is glued to his phone at dinner.", "glued"),
	}},
	{"health", []string{"health", "healthy", "doctor", "doctors", "sick", "ill", "hospital", "headache", "sleep", "sleeping", "tired", "diet", "medicine", "pain", "stress", "flu"}, []vocabPhrase{
		vp(a1, "to have a headache", "to have a pain in your head", "I have a headache, so I'm going to bed early.", "have a headache"),
		vp(b1, "a balanced diet", "eating the right mix of different foods", "A balanced diet includes plenty of vegetables.", "balanced diet"),
		vp(b2, "to get over something", "to recover from an illness or a problem", "It took me a week to get over the flu.", "get over"),
		vp(b2, "to cut down on something", "to have less of something", "I'm trying to cut down on sugar.", "cut down"),
		vp(b2, "to feel under the weather", "to feel a little ill", "I'm feeling a bit under the weather today.", "under the weather"),
	}},
	{"home", []string{"home", "house", "flat", "apartment", "city", "town", "village", "neighbourhood", "neighborhood", "neighbours", "neighbors", "live", "lived", "living", "rent", "room", "street", "countryside"}, []vocabPhrase{
		vp(a1, "to live in a flat / a house", "a flat is a home on one floor of a bigger building", "I live in a small flat in the city centre.", "live in a flat"),
		vp(b1, "to move house", "to go to live in a different home", "We moved house three times when I was a child.", "move house"),
		vp(b1, "to feel at home", "to feel comfortable and relaxed in a place", "I felt at home in Lisbon from the first day.", "feel at home"),
		vp(b1, "a lively neighbourhood", "an area with lots of people and things happening", "I live in a lively neighbourhood full of cafés.", "lively"),
		vp(b2, "on the outskirts", "in the outer parts of a town or city", "We live on the outskirts, so it's quiet.", "outskirts"),
	}},
}

// conversationPhrases help any conversation along; the review suggests them when no topic of
// the table was found.
var conversationPhrases = []vocabPhrase{
	vp(a1, "What about you?", "a short way to ask the other person the same question", "I love jazz. What about you?", "what about you"),
	vp(a2, "it depends on ...", "the answer changes with something", "It depends on the weather.", "it depends"),
	vp(b1, "to be honest, ...", "a way to start saying what you really think", "To be honest, I prefer staying at home.", "to be honest"),
	vp(b2, "I'd say that ...", "a softer way to give your opinion", "I'd say that Sunday is the best day of the week.", "i'd say"),
}

// maxVocab is how many vocabulary items a review suggests at most.
const maxVocab = 8

// vocabulary picks phrases for what the learner talked about at their estimated level (index
// in session.CEFRLevels): up to three topics, the ones they named most first, and in each the
// phrases of their level and the one above (down to two levels below), the harder first. A
// phrase they already used is left out.
func vocabulary(req session.ReviewRequest, level int) []session.VocabularyItem {
	var said []string
	for _, t := range req.Turns {
		said = append(said, strings.Fields(normalize(t.Learner))...)
	}
	text := " " + strings.Join(said, " ") + " "
	count := map[string]int{}
	for _, w := range said {
		count[w]++
	}
	topicWords := set(strings.Fields(normalize(req.Topic))...)
	type hit struct {
		topic *vocabTopic
		n     int
	}
	var hits []hit
	for i := range vocabTopics {
		t := &vocabTopics[i]
		n := 0
		inTopic := false
		for _, w := range t.words {
			n += count[w]
			inTopic = inTopic || topicWords[w]
		}
		if inTopic {
			n++
		}
		if n > 0 {
			hits = append(hits, hit{t, n})
		}
	}
	sort.SliceStable(hits, func(i, j int) bool { return hits[i].n > hits[j].n })
	// pick returns the phrases of a list that suit the level, the harder first.
	pick := func(phrases []vocabPhrase) []vocabPhrase {
		var out []vocabPhrase
		for _, p := range phrases {
			if p.level <= level+1 && p.level >= level-2 && !strings.Contains(text, " "+normalize(p.used)+" ") {
				out = append(out, p)
			}
		}
		sort.SliceStable(out, func(i, j int) bool { return out[i].level > out[j].level })
		return out
	}
	var out []session.VocabularyItem
	for rank, h := range hits[:min(len(hits), 3)] {
		for i, p := range pick(h.topic.phrases) {
			if i < 4-rank && len(out) < maxVocab {
				out = append(out, p.VocabularyItem)
			}
		}
	}
	if len(hits) == 0 {
		for _, p := range pick(conversationPhrases) {
			out = append(out, p.VocabularyItem)
		}
	}
	return out
}
