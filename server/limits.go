package server

import (
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// userLimiter is a token bucket per key (an account, or a client IP), for routes that make the
// providers work or that could be used to guess secrets (each instance keeps its own buckets;
// the daily caps that must hold across instances are counted in PostgreSQL).
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

// allow takes a token of the key's bucket.
func (l *userLimiter) allow(key string) bool {
	now := time.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.bucket(key, now).lim.AllowN(now, 1)
}

// ready reports whether the key's bucket holds a token, without taking it: for limits that
// count only failures (ready before the attempt, spend after a failed one).
func (l *userLimiter) ready(key string) bool {
	now := time.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.bucket(key, now).lim.TokensAt(now) >= 1
}

// spend takes a token of the key's bucket, into debt when it is empty (failures that ran
// concurrently are all counted).
func (l *userLimiter) spend(key string) {
	now := time.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	l.bucket(key, now).lim.ReserveN(now, 1)
}

// bucket returns the key's bucket, creating it; buckets unused for 10 minutes are dropped.
// l.mu is held.
func (l *userLimiter) bucket(key string, now time.Time) *userBucket {
	if now.Sub(l.sweep) > 10*time.Minute {
		for id, b := range l.buckets {
			if now.Sub(b.seen) > 10*time.Minute {
				delete(l.buckets, id)
			}
		}
		l.sweep = now
	}
	b, ok := l.buckets[key]
	if !ok {
		b = &userBucket{lim: rate.NewLimiter(l.rate, l.burst)}
		l.buckets[key] = b
	}
	b.seen = now
	return b
}
