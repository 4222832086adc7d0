package openaisim

import (
	"encoding/json"
	"regexp"
	"strings"
)

// ReviewReply answers a request for a conversation review (response_format json_schema named
// "conversation_review") with a review that follows the server's schema: a correction of the
// learner's first message of three words or more (its last word, said more simply), vocabulary
// from the learner's longest words, a level from the length of their messages, a strength and
// two goals. It is built from the conversation, so that tests see their own words in it.
func ReviewReply(req ChatRequest) string {
	type correction struct {
		TurnID      string `json:"turnId"`
		Original    string `json:"original"`
		Corrected   string `json:"corrected"`
		Kind        string `json:"kind"`
		Explanation string `json:"explanation"`
	}
	type vocab struct {
		Phrase  string `json:"phrase"`
		Meaning string `json:"meaning"`
		Example string `json:"example"`
	}
	review := struct {
		Corrections []correction `json:"corrections"`
		Vocabulary  []vocab      `json:"vocabulary"`
		Level       struct {
			CEFR    string   `json:"cefr"`
			Reasons []string `json:"reasons"`
		} `json:"level"`
		Strengths []string `json:"strengths"`
		NextGoals []string `json:"nextGoals"`
	}{Corrections: []correction{}, Vocabulary: []vocab{}}

	transcript := ""
	for _, m := range req.Messages {
		if m.Role == "user" {
			transcript = m.Content
		}
	}
	words := 0
	turns := 0
	var longest []string
	for _, line := range strings.Split(transcript, "\n") {
		m := learnerLine.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		turns++
		fields := strings.Fields(m[2])
		words += len(fields)
		if len(review.Corrections) == 0 && len(fields) >= 3 {
			last := strings.Trim(fields[len(fields)-1], ".,!?")
			if last != "" {
				review.Corrections = append(review.Corrections, correction{
					TurnID: m[1], Original: last, Corrected: last + " indeed", Kind: "word_choice",
					Explanation: "Adding a word of emphasis sounds more natural here.",
				})
			}
		}
		for _, f := range fields {
			f = strings.Trim(f, ".,!?\"'")
			if len(f) >= 7 && len(longest) < 3 && !contains(longest, f) {
				longest = append(longest, f)
			}
		}
	}
	for _, w := range longest {
		review.Vocabulary = append(review.Vocabulary, vocab{Phrase: w, Meaning: "a word you used well", Example: "I used the word " + w + " today."})
	}
	review.Level.CEFR = "A2"
	if turns > 0 && words/turns >= 8 {
		review.Level.CEFR = "B1"
	}
	review.Level.Reasons = []string{"You answer in full sentences.", "You use everyday vocabulary."}
	review.Strengths = []string{"You kept the conversation going."}
	review.NextGoals = []string{"Use the past tense for finished actions.", "Add details with because and so."}
	b, _ := json.Marshal(review)
	return string(b)
}

var learnerLine = regexp.MustCompile(`^\[turnId ([^\]]+)\] Learner \([^)]*\): (.*)$`)

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
