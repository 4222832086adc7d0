package session

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// Splitter cuts streamed text into sentences, so that each can be synthesized as soon as it is
// complete. A sentence ends at . ! ? or … followed by white space (so "3.5" and "e.g." inside a
// word do not split), at a line break, or — for run-on text — at a comma or semicolon once it is
// longer than MaxLen. Common abbreviations ("Mr.", "e.g.") do not end a sentence.
type Splitter struct {
	buf strings.Builder
	// MaxLen is the length after which a clause break ends a sentence; 0 means 200 bytes.
	MaxLen int
}

var abbreviations = map[string]bool{
	"mr": true, "mrs": true, "ms": true, "dr": true, "prof": true, "st": true, "sr": true, "jr": true,
	"vs": true, "etc": true, "e.g": true, "i.e": true, "approx": true, "no": false,
}

// Push adds text and returns the sentences it completed, trimmed.
func (s *Splitter) Push(text string) []string {
	s.buf.WriteString(text)
	var out []string
	for {
		cur := s.buf.String()
		end := s.boundary(cur)
		if end < 0 {
			return out
		}
		// A piece without letters or digits (a stray "!" after "?") is not a sentence.
		if sentence := strings.TrimSpace(cur[:end]); strings.IndexFunc(sentence, isWordRune) >= 0 {
			out = append(out, sentence)
		}
		rest := cur[end:]
		s.buf.Reset()
		s.buf.WriteString(rest)
	}
}

// Flush returns what is left as the last sentence ("" when nothing is).
func (s *Splitter) Flush() string {
	rest := strings.TrimSpace(s.buf.String())
	s.buf.Reset()
	return rest
}

// boundary returns the byte offset just after the first sentence end in text, or -1.
func (s *Splitter) boundary(text string) int {
	maxLen := s.MaxLen
	if maxLen == 0 {
		maxLen = 200
	}
	lastClause := -1
	for i, r := range text {
		switch r {
		case '\n':
			return i + 1
		case '.', '!', '?', '…', '。':
			j := i + utf8.RuneLen(r)
			// Swallow closing quotes and brackets and repeated marks: `?!"`.
			for j < len(text) {
				next, size := utf8.DecodeRuneInString(text[j:])
				if !strings.ContainsRune(`.!?…"')]”’`, next) {
					break
				}
				j += size
			}
			if j == len(text) {
				// The mark ends what has arrived. Do not wait for the next piece (it costs a
				// token's time on the way to first audio) unless it may continue the word:
				// "3." + "5", "Mr." + " Smith", "e." + "g.".
				if r != '.' || endsWordSafely(text[:i]) {
					return j
				}
				return -1
			}
			next, _ := utf8.DecodeRuneInString(text[j:])
			if unicode.IsSpace(next) && !(r == '.' && isAbbreviation(text[:i])) {
				return j
			}
		case ',', ';', ':', '—':
			lastClause = i + utf8.RuneLen(r)
			if lastClause >= maxLen {
				return lastClause
			}
		}
	}
	return -1
}

func isWordRune(r rune) bool { return unicode.IsLetter(r) || unicode.IsDigit(r) }

// endsWordSafely reports whether a period after text surely ends a sentence: the word before
// it is made of letters and is neither an abbreviation nor an initial.
func endsWordSafely(text string) bool {
	last, _ := utf8.DecodeLastRuneInString(text)
	return unicode.IsLetter(last) && !isAbbreviation(text)
}

// isAbbreviation reports whether the word that ends text is a known abbreviation or a single
// letter (an initial).
func isAbbreviation(text string) bool {
	start := strings.LastIndexFunc(text, func(r rune) bool { return unicode.IsSpace(r) || r == '(' || r == '"' })
	word := strings.ToLower(text[start+1:])
	if utf8.RuneCountInString(word) == 1 && unicode.IsUpper([]rune(text[start+1:])[0]) {
		return true
	}
	return abbreviations[word]
}
