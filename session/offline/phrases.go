package offline

import "strings"

// The scripted tutor's phrases, in the vocabulary of each level: short, common words for
// beginners, everyday English for intermediate learners, richer and more idiomatic English for
// advanced ones. {} stands for the learner's word or the day's topic. These tables are never
// written.

// leveled is a list of phrases per level.
type leveled struct {
	beginner, intermediate, advanced []string
}

func (l leveled) of(level string) []string {
	switch level {
	case "beginner":
		return l.beginner
	case "advanced":
		return l.advanced
	}
	return l.intermediate
}

// same is a phrase list for every level.
func same(p ...string) leveled { return leveled{p, p, p} }

var phrases = struct {
	notHeard, sayAgain, englishPlease, tryInEnglish, goodbye, hello, fineThanks, welcome, thatsOK,
	goodQuestion, goodQuestionAbout, yourView, whatDoYouThink, shortAnswer, shortKeyword,
	fullSentence, enjoy, dislike, keyword, ack, aboutKeyword, aboutTopic, everyday leveled
}{
	notHeard: leveled{
		[]string{"Sorry, I did not hear you."},
		[]string{"Sorry, I didn't catch that."},
		[]string{"Sorry, I didn't quite catch that."},
	},
	sayAgain: leveled{
		[]string{"Can you say it again, please?"},
		[]string{"Could you say it again, a little more slowly?"},
		[]string{"Would you mind saying that again?"},
	},
	englishPlease: leveled{
		[]string{"Let's speak English, please."},
		[]string{"Let's keep our conversation in English."},
		[]string{"Let's stick to English, since that's what we're practising."},
	},
	tryInEnglish: leveled{
		[]string{"Can you say it in English, please?"},
		[]string{"A few words are enough, so could you try saying that in English?"},
		[]string{"Don't worry about getting it perfect; how would you put that in English?"},
	},
	goodbye: same(
		"Goodbye, and well done today!",
		"Thanks for practising with me, and see you soon!",
	),
	hello: leveled{
		[]string{"Hello, nice to see you!", "Hi, I am happy to talk with you!"},
		[]string{"Hi there, it's nice to hear from you.", "Hello, I'm glad you're here to practise."},
		[]string{"Hello, it's lovely to hear from you.", "Hi, great to have you here for some practice."},
	},
	fineThanks: leveled{
		[]string{"I am fine, thank you."},
		[]string{"I'm doing well, thanks for asking."},
		[]string{"I'm doing really well, thank you for asking."},
	},
	welcome: same("You're welcome!", "My pleasure!"),
	thatsOK: leveled{
		[]string{"That is OK.", "No problem."},
		[]string{"That's okay, take your time.", "No problem, it's fine not to be sure."},
		[]string{"That's perfectly fine; not every question has an easy answer.", "No worries, take a moment to think."},
	},
	goodQuestion: leveled{
		[]string{"Good question!"},
		[]string{"That's a good question."},
		[]string{"That's a thought-provoking question."},
	},
	goodQuestionAbout: leveled{
		[]string{"Good question about {}!"},
		[]string{"That's a good question about {}."},
		[]string{"That's an interesting question about {}."},
	},
	yourView: leveled{
		[]string{"What do you think about {}?"},
		[]string{"What do you think about {} yourself?", "I'd like to hear your ideas first: what do you know about {}?"},
		[]string{"I'd love to hear your own take first: what's your view on {}?"},
	},
	whatDoYouThink: leveled{
		[]string{"What do you think?"},
		[]string{"What do you think yourself?"},
		[]string{"What's your own view on that?"},
	},
	shortAnswer: leveled{
		[]string{"OK!", "I see."},
		[]string{"I see.", "Okay, got it."},
		[]string{"I see what you mean.", "Fair enough."},
	},
	shortKeyword: leveled{
		[]string{"Oh, {}!", "{}, nice!"},
		[]string{"Oh, {}, interesting.", "{}, I see."},
		[]string{"Ah, {}, interesting.", "{}, that's an intriguing answer."},
	},
	fullSentence: leveled{
		[]string{"Can you say more in a full sentence?", "Can you tell me more in a full sentence?"},
		[]string{"Could you tell me a bit more, in a full sentence?", "Can you say a little more about that?"},
		[]string{"Could you expand on that in a full sentence or two?", "Would you like to elaborate on that?"},
	},
	enjoy: leveled{
		[]string{"You like {}, that is nice!", "{} is fun to talk about!"},
		[]string{"It's great that you enjoy {}.", "It sounds like you really enjoy {}."},
		[]string{"It's wonderful that you're so keen on {}.", "It sounds like {} brings you a lot of joy."},
	},
	dislike: leveled{
		[]string{"OK, you do not like {}.", "I understand."},
		[]string{"I understand, not everyone enjoys {}.", "Fair enough, {} isn't for everyone."},
		[]string{"That's understandable; {} certainly isn't everyone's cup of tea.", "I can see why {} might not appeal to you."},
	},
	keyword: leveled{
		[]string{"Oh, {}, that sounds nice.", "{}, good!", "Nice, you talked about {}."},
		[]string{"Oh, {}, that sounds interesting.", "Thanks for telling me about {}.", "{}, that's a nice thing to talk about."},
		[]string{"Ah, {}, that's a fascinating thing to bring up.", "Interesting that you mention {}; there's a lot to say about that.", "{}, what a good example."},
	},
	ack: leveled{
		[]string{"I see.", "OK, thank you.", "Good!"},
		[]string{"I see what you mean.", "That makes sense.", "Thanks for sharing that."},
		[]string{"That's a fair point.", "I see where you're coming from.", "That makes a lot of sense."},
	},
	aboutKeyword: leveled{
		[]string{"Do you like {}?", "Can you tell me more about {}?", "Why do you like {}?"},
		[]string{"What do you enjoy most about {}?", "Can you tell me a little more about {}?", "How often do you think about {}?"},
		[]string{"What is it about {} that appeals to you most?", "How has your view of {} changed over the years?", "If you had to describe {} to a stranger, what would you say?"},
	},
	aboutTopic: leveled{
		[]string{"Do you like {}?", "What is your favourite thing about {}?", "Is {} important to you?"},
		[]string{"What do you find most interesting about {}?", "What was your last experience with {}?", "How often do you talk about {} with your friends?"},
		[]string{"How do you think attitudes to {} have changed in recent years?", "What would you change about {} if you could?", "Which aspect of {} do you find most thought-provoking?"},
	},
	everyday: leveled{
		[]string{"What do you like to do on the weekend?", "What is your favourite food?", "Where do you live?"},
		[]string{"What did you do last weekend?", "What kind of food do you enjoy cooking or eating?", "Where would you like to travel next?"},
		[]string{"What's something you've been looking forward to lately?", "If you could master any new skill, what would it be?", "What's the most memorable trip you've ever taken?"},
	},
}

// topics are question banks for common topics, found by the words of the topic.
var topics = []struct {
	words     []string
	questions leveled
}{
	{[]string{"travel", "trip", "holiday", "holidays", "vacation", "journey", "tourism"}, leveled{
		[]string{"Do you like to travel?", "Where do you want to go on holiday?", "Do you like trains or planes?"},
		[]string{"What's the best trip you've ever taken?", "Where would you like to travel next, and why?", "Do you prefer beach holidays or city breaks?"},
		[]string{"How has travelling changed the way you see the world?", "Which destination is at the top of your bucket list, and why?", "Do you think tourism does more good than harm to the places people visit?"},
	}},
	{[]string{"food", "cooking", "cook", "restaurant", "restaurants", "meal", "meals", "cuisine", "eating"}, leveled{
		[]string{"What is your favourite food?", "Do you like to cook?", "What do you eat for breakfast?"},
		[]string{"What's a dish from your country that you'd recommend?", "Do you prefer cooking at home or eating out?", "What did you have for dinner yesterday?"},
		[]string{"How would you describe the cuisine of your region to a foodie?", "Is there a dish you've always wanted to master?", "How have your eating habits changed over the years?"},
	}},
	{[]string{"work", "job", "jobs", "career", "office", "business"}, leveled{
		[]string{"What is your job?", "Do you like your work?", "What time do you start work?"},
		[]string{"What do you enjoy most about your job?", "What does a typical working day look like for you?", "What job did you want when you were a child?"},
		[]string{"What drew you to your line of work?", "How do you strike a balance between work and the rest of your life?", "Where do you see your career heading in the next few years?"},
	}},
	{[]string{"school", "study", "studies", "studying", "university", "college", "education", "learning", "english"}, leveled{
		[]string{"What do you study?", "Do you like your school?", "What is your favourite subject?"},
		[]string{"What are you studying at the moment?", "Which subject did you enjoy most at school?", "How do you like to practise your English?"},
		[]string{"What's the most valuable thing your education has taught you?", "How do you stay motivated when learning gets tough?", "Do you think exams measure what really matters?"},
	}},
	{[]string{"family", "families", "friends", "friend", "friendship", "parents", "children", "kids"}, leveled{
		[]string{"Do you have a big family?", "Do you have brothers or sisters?", "Who is your best friend?"},
		[]string{"What do you like to do with your family?", "How did you meet your best friend?", "Who in your family are you most like?"},
		[]string{"How have family traditions shaped who you are?", "What do you think makes a friendship last?", "How do family roles differ in your culture?"},
	}},
	{[]string{"sport", "sports", "football", "soccer", "exercise", "fitness", "gym", "running", "tennis"}, leveled{
		[]string{"Do you like sport?", "What sport do you play?", "Do you watch football?"},
		[]string{"Which sport do you enjoy watching or playing?", "How do you like to keep fit?", "Have you ever been to a big match?"},
		[]string{"What does sport teach people that school can't?", "How do you stay motivated to exercise regularly?", "Are professional athletes paid too much, in your opinion?"},
	}},
	{[]string{"music", "song", "songs", "concert", "concerts", "singing", "band", "bands"}, leveled{
		[]string{"Do you like music?", "What music do you like?", "Can you play an instrument?"},
		[]string{"What kind of music do you listen to most?", "Have you been to a concert recently?", "Is there a song that reminds you of a special time?"},
		[]string{"How has your taste in music evolved over time?", "What role does music play in your everyday life?", "Which artist would you love to see live, and why?"},
	}},
	{[]string{"movie", "movies", "film", "films", "cinema", "tv", "television", "series", "shows"}, leveled{
		[]string{"Do you like movies?", "What is your favourite film?", "Do you watch TV?"},
		[]string{"What's the last film you watched?", "Do you prefer watching films at home or at the cinema?", "Which TV series would you recommend?"},
		[]string{"Which film has left a lasting impression on you?", "Do you think streaming has changed the way we watch films?", "Are book adaptations ever better than the original?"},
	}},
	{[]string{"hobby", "hobbies", "free", "weekend", "weekends", "leisure", "pastime"}, leveled{
		[]string{"What do you do on the weekend?", "Do you have a hobby?", "What do you like to do after work?"},
		[]string{"What do you usually do in your free time?", "How did you get into your favourite hobby?", "What did you do last weekend?"},
		[]string{"Is there a hobby you've always wanted to take up?", "How do you unwind after a demanding week?", "What does a perfect weekend look like to you?"},
	}},
	{[]string{"weather", "season", "seasons", "climate", "summer", "winter", "spring", "autumn"}, leveled{
		[]string{"What is the weather like today?", "Do you like summer or winter?", "Do you like rain?"},
		[]string{"What's the weather usually like where you live?", "Which season do you like best, and why?", "What do you like to do on a rainy day?"},
		[]string{"How does the weather affect your mood?", "Have you noticed the climate changing where you live?", "Would you rather live somewhere with four seasons or eternal summer?"},
	}},
	{[]string{"technology", "tech", "computer", "computers", "internet", "phone", "phones", "ai", "apps"}, leveled{
		[]string{"Do you use a computer every day?", "What apps do you like?", "Do you like your phone?"},
		[]string{"Which app do you use most, and why?", "How does technology help you learn English?", "Could you live without your phone for a week?"},
		[]string{"Do you think technology brings people closer or pushes them apart?", "How do you see artificial intelligence changing everyday life?", "What's one piece of technology you couldn't do without?"},
	}},
}

// topicBank finds the question bank of a topic from its words.
func topicBank(topic string) (leveled, bool) {
	for _, w := range strings.Fields(normalize(topic)) {
		for _, t := range topics {
			for _, tw := range t.words {
				if w == tw {
					return t.questions, true
				}
			}
		}
	}
	return leveled{}, false
}
