package session

// G.711 µ-law and A-law (ITU-T G.711), the 8 kHz telephony codecs of the Realtime endpoint's
// audio/pcmu and audio/pcma formats: one byte a sample.

// muLawDecode returns the 16-bit sample of a µ-law byte.
func muLawDecode(b byte) int16 {
	b = ^b
	sign := b & 0x80
	exponent := (b >> 4) & 0x07
	mantissa := b & 0x0F
	sample := (int32(mantissa)<<3 + 0x84) << exponent
	sample -= 0x84
	if sign != 0 {
		return int16(-sample)
	}
	return int16(sample)
}

// muLawEncode returns the µ-law byte of a 16-bit sample.
func muLawEncode(s int16) byte {
	const bias, clip = 0x84, 32635
	v := int32(s)
	sign := byte(0)
	if v < 0 {
		v, sign = -v, 0x80
	}
	if v > clip {
		v = clip
	}
	v += bias
	exponent := byte(7)
	for mask := int32(0x4000); v&mask == 0 && exponent > 0; mask >>= 1 {
		exponent--
	}
	mantissa := byte(v>>(exponent+3)) & 0x0F
	return ^(sign | exponent<<4 | mantissa)
}

// aLawDecode returns the 16-bit sample of an A-law byte.
func aLawDecode(b byte) int16 {
	b ^= 0x55
	sign := b & 0x80
	exponent := (b >> 4) & 0x07
	mantissa := int32(b & 0x0F)
	var sample int32
	if exponent == 0 {
		sample = mantissa<<4 + 8
	} else {
		sample = (mantissa<<4 + 0x108) << (exponent - 1)
	}
	if sign == 0 {
		return int16(-sample)
	}
	return int16(sample)
}

// aLawEncode returns the A-law byte of a 16-bit sample.
func aLawEncode(s int16) byte {
	v := int32(s)
	sign := byte(0x80)
	if v < 0 {
		v, sign = -v-1, 0
	}
	if v > 32767 {
		v = 32767
	}
	var exponent byte
	var mantissa byte
	if v >= 256 {
		exponent = 7
		for mask := int32(0x4000); v&mask == 0 && exponent > 1; mask >>= 1 {
			exponent--
		}
		mantissa = byte(v>>(exponent+3)) & 0x0F
	} else {
		mantissa = byte(v>>4) & 0x0F
	}
	return (sign | exponent<<4 | mantissa) ^ 0x55
}

// decodeG711 appends the samples of G.711 bytes (mu: µ-law, else A-law) to dst.
func decodeG711(dst []int16, b []byte, mu bool) []int16 {
	for _, c := range b {
		if mu {
			dst = append(dst, muLawDecode(c))
		} else {
			dst = append(dst, aLawDecode(c))
		}
	}
	return dst
}

// encodeG711 appends the G.711 bytes of samples to dst.
func encodeG711(dst []byte, samples []int16, mu bool) []byte {
	for _, s := range samples {
		if mu {
			dst = append(dst, muLawEncode(s))
		} else {
			dst = append(dst, aLawEncode(s))
		}
	}
	return dst
}
