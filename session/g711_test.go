package session

import "testing"

// G.711 round trips keep a sample within the codec's step at its magnitude.
func TestG711RoundTrip(t *testing.T) {
	for _, mu := range []bool{true, false} {
		for v := -32768; v <= 32767; v += 37 {
			s := int16(v)
			got := decodeG711(nil, encodeG711(nil, []int16{s}, mu), mu)[0]
			mag := max(abs(int(s)), 1)
			if d := abs(int(got) - int(s)); d > mag/16+40 {
				t.Fatalf("mu=%v: %d → %d (off by %d)", mu, s, got, d)
			}
		}
	}
	// Known code points: silence.
	if muLawEncode(0) != 0xFF || aLawEncode(0) != 0xD5 {
		t.Fatalf("silence encodes as %#x (µ-law) and %#x (A-law)", muLawEncode(0), aLawEncode(0))
	}
}

func abs(v int) int {
	if v < 0 {
		return -v
	}
	return v
}
