package loadgen

import (
	"math"
	"sort"
	"time"
)

// Stats summarises latency samples in milliseconds.
type Stats struct {
	N    int    `json:"n"`
	Min  Millis `json:"min"`
	P50  Millis `json:"p50"`
	P95  Millis `json:"p95"`
	P99  Millis `json:"p99"`
	Max  Millis `json:"max"`
	Mean Millis `json:"mean"`
}

func summarize(samples []time.Duration) Stats {
	if len(samples) == 0 {
		return Stats{}
	}
	s := append([]time.Duration(nil), samples...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	var sum time.Duration
	for _, v := range s {
		sum += v
	}
	return Stats{
		N: len(s), Min: millis(s[0]), Max: millis(s[len(s)-1]),
		P50: millis(quantile(s, 0.50)), P95: millis(quantile(s, 0.95)), P99: millis(quantile(s, 0.99)),
		Mean: millis(sum / time.Duration(len(s))),
	}
}

// quantile is the nearest-rank quantile of sorted samples.
func quantile(sorted []time.Duration, q float64) time.Duration {
	i := int(math.Ceil(q*float64(len(sorted)))) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}
