package session

import (
	"reflect"
	"strings"
	"testing"
)

func TestSplitter(t *testing.T) {
	cases := []struct {
		name   string
		pieces []string
		want   []string
	}{
		{"whole sentences", []string{"Hello there. How are you? Fine!"}, []string{"Hello there.", "How are you?", "Fine!"}},
		{"token by token", strings.SplitAfter("Great job! Tell me more about your weekend. ", " "), []string{"Great job!", "Tell me more about your weekend."}},
		{"decimal split across tokens", []string{"It costs 3.", "5 dollars. Ok"}, []string{"It costs 3.5 dollars.", "Ok"}},
		{"abbreviation", []string{"Mr. Smith is here. Yes."}, []string{"Mr. Smith is here.", "Yes."}},
		{"e.g.", []string{"Use verbs, e.g. run or walk. Try it."}, []string{"Use verbs, e.g. run or walk.", "Try it."}},
		{"quote after mark", []string{`He said "hi!" Then left.`}, []string{`He said "hi!"`, "Then left."}},
		{"ellipsis and repeats", []string{"Well... maybe?! Sure."}, []string{"Well...", "maybe?!", "Sure."}},
		{"newline", []string{"Line one\nLine two"}, []string{"Line one", "Line two"}},
		{"initials", []string{"J. K. Rowling wrote it. Yes."}, []string{"J. K. Rowling wrote it.", "Yes."}},
		{"no end", []string{"no punctuation at all"}, []string{"no punctuation at all"}},
		{"stray marks", []string{"Really?", "!", " Yes."}, []string{"Really?", "Yes."}},
		{"abbreviation at the end of a piece", []string{"Ask Mr.", " Smith now."}, []string{"Ask Mr. Smith now."}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var s Splitter
			var got []string
			for _, p := range tc.pieces {
				got = append(got, s.Push(p)...)
			}
			if rest := s.Flush(); rest != "" {
				got = append(got, rest)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("got %q, want %q", got, tc.want)
			}
		})
	}
}

// A sentence is handed on as soon as its closing mark arrives, not a token later.
func TestSplitterDoesNotWaitForTheNextToken(t *testing.T) {
	var s Splitter
	for _, tok := range []string{"That", " sounds", " lovely", "."} {
		if got := s.Push(tok); tok == "." && (len(got) != 1 || got[0] != "That sounds lovely.") {
			t.Fatalf("after %q: %q", tok, got)
		} else if tok != "." && len(got) != 0 {
			t.Fatalf("early sentence after %q: %q", tok, got)
		}
	}
	for _, tok := range []string{" It", " costs", " 3", "."} {
		if got := s.Push(tok); len(got) != 0 {
			t.Fatalf("cut after a digit: %q", got)
		}
	}
	if got := s.Push("5 euros!"); len(got) != 1 || got[0] != "It costs 3.5 euros!" {
		t.Fatalf("got %q", got)
	}
}

func TestSplitterRunOn(t *testing.T) {
	s := Splitter{MaxLen: 40}
	got := s.Push("this goes on and on without stopping, and then it goes on, and on")
	if len(got) != 1 || got[0] != "this goes on and on without stopping, and then it goes on," {
		t.Fatalf("got %q", got)
	}
}

func BenchmarkSplitter(b *testing.B) {
	tokens := strings.SplitAfter(strings.Repeat("That is a great question about travel. What places would you like to visit, and why? ", 3), " ")
	b.ReportAllocs()
	for b.Loop() {
		var s Splitter
		for _, tok := range tokens {
			s.Push(tok)
		}
		s.Flush()
	}
}
