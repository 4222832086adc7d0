package openai

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	goopenai "github.com/sashabaranov/go-openai"

	"github.com/aitutor/aitutor/session"
)

// Review writes a conversation's review with the chat model and a JSON-schema structured output
// (strict): the reply is the review as JSON, which the session validates.
func (c *Client) Review(ctx context.Context, req session.ReviewRequest) (session.ReviewDraft, error) {
	var resp goopenai.ChatCompletionResponse
	err := c.retry(ctx, func() error {
		var err error
		resp, err = c.api.CreateChatCompletion(ctx, goopenai.ChatCompletionRequest{
			Model: c.cfg.ChatModel,
			Messages: []goopenai.ChatCompletionMessage{
				{Role: goopenai.ChatMessageRoleSystem, Content: reviewInstructions},
				{Role: goopenai.ChatMessageRoleUser, Content: reviewTranscript(req)},
			},
			Temperature: 0.2,
			ResponseFormat: &goopenai.ChatCompletionResponseFormat{
				Type: goopenai.ChatCompletionResponseFormatTypeJSONSchema,
				JSONSchema: &goopenai.ChatCompletionResponseFormatJSONSchema{
					Name: "conversation_review", Schema: ReviewSchema, Strict: true,
				},
			},
		})
		return err
	})
	if err != nil {
		return session.ReviewDraft{}, wrap("review", err)
	}
	if len(resp.Choices) == 0 {
		return session.ReviewDraft{}, fmt.Errorf("%w: review: the model returned no choice", session.ErrProvider)
	}
	var d session.ReviewDraft
	if err := json.Unmarshal([]byte(resp.Choices[0].Message.Content), &d); err != nil {
		return session.ReviewDraft{}, fmt.Errorf("%w: review: the reply is not the review's JSON: %v", session.ErrReviewInvalid, err)
	}
	return d, nil
}

const reviewInstructions = `You review an English conversation between a language learner and their tutor, for the learner.
Answer with the review as JSON in the given schema:
- corrections: for each learner message with a mistake, the learner's exact words that are wrong ("original", copied verbatim from the learner's message, as short as makes sense), a natural corrected version ("corrected"), the kind (grammar, word_choice, pronunciation_likely when a spoken message has a word that sounds like the intended one, register when the words are too formal or informal), a one-line explanation, and the message's turnId. Do not correct what is already natural, and never correct the tutor.
- vocabulary: up to 8 useful words or phrases for what the learner tried to say, with meaning and an example.
- level: a CEFR estimate (A1, A2, B1, B2, C1 or C2) of the learner's English with two to four short reasons; the fluency figures (measured on their speech) may inform it.
- strengths: up to three things the learner did well.
- nextGoals: up to three concrete things to practise next.
Write every explanation, reason, strength and goal in simple English, addressed to the learner ("you").`

// reviewTranscript is the conversation as the reviewer reads it.
func reviewTranscript(req session.ReviewRequest) string {
	var b strings.Builder
	fmt.Fprintf(&b, "The learner practised at the %q level", req.Level)
	if req.Topic != "" {
		fmt.Fprintf(&b, " about %q", req.Topic)
	}
	b.WriteString(".\n")
	if f := req.Fluency; f.SpokenTurns > 0 && f.WordsPerMinute != nil {
		fmt.Fprintf(&b, "Fluency measured on their speech: %.0f words per minute, %.0f%% of speaking time in pauses.\n", *f.WordsPerMinute, 100**f.PauseRatio)
	}
	b.WriteString("\nThe conversation:\n")
	for _, t := range req.Turns {
		how := "typed"
		if t.Spoken {
			how = "spoken, transcribed"
		}
		fmt.Fprintf(&b, "[turnId %s] Learner (%s): %s\n", t.TurnID, how, t.Learner)
		if t.Tutor != "" {
			fmt.Fprintf(&b, "Tutor: %s\n", t.Tutor)
		}
	}
	return b.String()
}

// ReviewSchema is the JSON schema of a review (strict: every property required, no others).
var ReviewSchema = json.RawMessage(`{
  "type": "object",
  "additionalProperties": false,
  "required": ["corrections", "vocabulary", "level", "strengths", "nextGoals"],
  "properties": {
    "corrections": {"type": "array", "items": {
      "type": "object", "additionalProperties": false,
      "required": ["turnId", "original", "corrected", "kind", "explanation"],
      "properties": {
        "turnId": {"type": "string"},
        "original": {"type": "string"},
        "corrected": {"type": "string"},
        "kind": {"type": "string", "enum": ["grammar", "word_choice", "pronunciation_likely", "register"]},
        "explanation": {"type": "string"}
      }}},
    "vocabulary": {"type": "array", "items": {
      "type": "object", "additionalProperties": false,
      "required": ["phrase", "meaning", "example"],
      "properties": {"phrase": {"type": "string"}, "meaning": {"type": "string"}, "example": {"type": "string"}}}},
    "level": {"type": "object", "additionalProperties": false, "required": ["cefr", "reasons"],
      "properties": {
        "cefr": {"type": "string", "enum": ["A1", "A2", "B1", "B2", "C1", "C2"]},
        "reasons": {"type": "array", "items": {"type": "string"}}}},
    "strengths": {"type": "array", "items": {"type": "string"}},
    "nextGoals": {"type": "array", "items": {"type": "string"}}
  }
}`)
