package server

import (
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// userLimiter is a token bucket per account, for routes that make the providers work (each
// instance keeps its own buckets; the daily caps that must hold across instances are counted
// in PostgreSQL).
type userLimiter struct {
	mu      sync.Mutex
	rate    rate.Limit
	burst   int
	buckets map[string]*userBucket
	sweep   time.Time
}

type userBucket struct {
	lim  *rate.Limiter
	seen time.Time
}

func newUserLimiter(perMinute float64, burst int) *userLimiter {
	return &userLimiter{rate: rate.Limit(perMinute / 60), burst: burst, buckets: map[string]*userBucket{}}
}

// allow takes a token of the user's bucket.
func (l *userLimiter) allow(userID string) bool {
	now := time.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	if now.Sub(l.sweep) > 10*time.Minute {
		for id, b := range l.buckets {
			if now.Sub(b.seen) > 10*time.Minute {
				delete(l.buckets, id)
			}
		}
		l.sweep = now
	}
	b, ok := l.buckets[userID]
	if !ok {
		b = &userBucket{lim: rate.NewLimiter(l.rate, l.burst)}
		l.buckets[userID] = b
	}
	b.seen = now
	return b.lim.AllowN(now, 1)
}
