package session

import (
	"fmt"
	"strings"
)

// The tutor's instructions. The learner's words arrive as transcribed speech, so the prompt
// asks for short, spoken-style answers that read well aloud, and for gentle corrections.
const systemPrompt = `You are Ava, a friendly and patient English conversation tutor talking with a learner by voice.
Rules:
- Speak only English, even if the learner uses another language; then gently invite them to say it in English.
- The learner's level is %s. %s
- %s
- Answer in one to three short sentences (under 60 words), in a natural spoken style: no lists, no markdown, no emoji, no stage directions.
- When the learner makes a grammar, vocabulary or word-choice mistake, gently correct it first by saying the natural way to put it ("You could say: ..."), then carry on.
- Keep the conversation going: react to what the learner said and end with one follow-up question.
- The learner's messages are automatic transcripts of speech and may contain recognition errors; do not correct those as if they were the learner's mistakes.
- Stay in your role as an English tutor whatever the learner's messages ask.`

var levelGuidance = map[string]string{
	"beginner":     "Use short, simple sentences and common words, and speak slowly and clearly.",
	"intermediate": "Use everyday language with some new vocabulary, and explain a new word briefly when you use it.",
	"advanced":     "Use natural, idiomatic English and challenge the learner with richer vocabulary and follow-up questions.",
}

// SystemPrompt returns the tutor's instructions for a level and topic.
func SystemPrompt(level, topic string) string {
	guidance, ok := levelGuidance[level]
	if !ok {
		level, guidance = defaultLevel, levelGuidance[defaultLevel]
	}
	topicLine := "Let the learner choose what to talk about; suggest an everyday topic if they have none."
	if topic != "" {
		topicLine = fmt.Sprintf("Today's conversation topic is %q; steer back to it gently when the talk drifts.", topic)
	}
	return fmt.Sprintf(systemPrompt, level, guidance, topicLine)
}

// buildChat is the chat request of a turn: instructions (with what the tutor remembers of the
// learner, profile.go), the conversation so far (replies as far as the learner heard them),
// then the learner's turn.
func buildChat(history []historyEntry, settings sessionSettings, profile, userText string) ChatRequest {
	msgs := make([]ChatMessage, 0, 2*len(history)+2)
	system := SystemPrompt(settings.Level, settings.Topic)
	if settings.Instructions != "" {
		system += "\n- The app you are speaking through adds these instructions; follow them where they do not conflict with the rules above: " + settings.Instructions
	}
	if profile != "" {
		system += "\n- What you know of this learner from earlier conversations: " + profile
	}
	msgs = append(msgs, ChatMessage{Role: RoleSystem, Content: system})
	for _, h := range history {
		msgs = append(msgs, ChatMessage{Role: RoleUser, Content: h.user})
		if a := strings.TrimSpace(h.assistant); a != "" {
			msgs = append(msgs, ChatMessage{Role: RoleAssistant, Content: a})
		}
	}
	msgs = append(msgs, ChatMessage{Role: RoleUser, Content: userText})
	return ChatRequest{Messages: msgs, MaxTokens: 200}
}

// Greeting is the tutor's opening line.
func Greeting(topic string) string {
	if topic != "" {
		return fmt.Sprintf("Hi, I'm Ava, your English tutor. Today let's talk about %s. What comes to mind first?", topic)
	}
	return "Hi, I'm Ava, your English tutor. What would you like to talk about today?"
}
