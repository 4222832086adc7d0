package session

import "context"

// A review of a conversation: what the learner got wrong and how to say it naturally, useful
// vocabulary, a CEFR estimate with its reasons, fluency figures that the server computes from
// the learner's speech (fluency.go), strengths and up to three next goals. The chat model (or
// the offline engine's rules) writes the draft; the server validates it (review.go).

// Kinds of correction.
const (
	CorrectionGrammar       = "grammar"
	CorrectionWordChoice    = "word_choice"
	CorrectionPronunciation = "pronunciation_likely"
	CorrectionRegister      = "register"
)

// CEFR levels, lowest first.
var CEFRLevels = []string{"A1", "A2", "B1", "B2", "C1", "C2"}

// Correction is one mistake of the learner and a natural way to say it.
type Correction struct {
	TurnID      string `json:"turnId"`      // the turn the learner said it in
	Original    string `json:"original"`    // the learner's words (part of what they said)
	Corrected   string `json:"corrected"`   // a natural corrected version
	Kind        string `json:"kind"`        // grammar, word_choice, pronunciation_likely, register
	Explanation string `json:"explanation"` // one line
}

// VocabularyItem is a word or phrase useful for what the learner tried to say.
type VocabularyItem struct {
	Phrase  string `json:"phrase"`
	Meaning string `json:"meaning"`
	Example string `json:"example"`
}

// LevelEstimate is a CEFR estimate and why.
type LevelEstimate struct {
	CEFR    string   `json:"cefr"`
	Reasons []string `json:"reasons"`
}

// ReviewDraft is what a Reviewer writes; Review adds what the server computes.
type ReviewDraft struct {
	Corrections []Correction     `json:"corrections"`
	Vocabulary  []VocabularyItem `json:"vocabulary"`
	Level       LevelEstimate    `json:"level"`
	Strengths   []string         `json:"strengths"`
	NextGoals   []string         `json:"nextGoals"`
}

// ReviewTurn is one turn as the reviewer sees it.
type ReviewTurn struct {
	TurnID  string `json:"turnId"`
	Learner string `json:"learner"`
	Tutor   string `json:"tutor"`
	Spoken  bool   `json:"spoken"` // the learner spoke (pronunciation mistakes are possible)
}

// ReviewRequest is a conversation to review.
type ReviewRequest struct {
	Level   string       // the level the learner practised at (beginner, intermediate, advanced)
	Topic   string       // the conversation's topic, if any
	Turns   []ReviewTurn // in order
	Fluency Fluency      // computed by the server, for the level estimate
}

// Reviewer writes the draft of a conversation's review: the chat model with a JSON-schema
// structured output (session/openai), or the offline engine's rules (session/offline).
type Reviewer interface {
	Review(ctx context.Context, req ReviewRequest) (ReviewDraft, error)
}
