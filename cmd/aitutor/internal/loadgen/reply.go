package loadgen

import "github.com/aitutor/aitutor/session/openaisim"

const charsPerSecond = openaisim.CharsPerSecond

// defaultReply is the simulator's answer to the benchmark utterance.
func defaultReply() string {
	return openaisim.DefaultReply(openaisim.ChatRequest{Messages: []openaisim.Message{{Role: "user", Content: openaisim.DefaultTranscript}}})
}

func tokensOf(text string) []string { return openaisim.Tokens(text) }
