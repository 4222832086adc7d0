package server

import (
	"context"
	"log/slog"
	"math"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/aitutor/aitutor/store"
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

// sharedLimiter is echo's rate limiter store on windows counted in PostgreSQL, so that a limit
// holds across every instance behind a load balancer: at most limit requests per identifier in
// each window.
type sharedLimiter struct {
	store  *store.Store
	prefix string
	window time.Duration
	limit  int
	logger *slog.Logger
}

// Allow counts a request; when the database cannot count, the request is let through (it will
// meet the same database and fail with 503 there).
func (l *sharedLimiter) Allow(identifier string) (bool, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	ok, err := l.store.TakeRate(ctx, l.prefix+identifier, l.window, l.limit)
	if err != nil {
		l.logger.Warn("rate limit not counted", "key", l.prefix, "err", err)
		return true, nil
	}
	return ok, nil
}

// authWindow is the window of the sign-in and sign-up limit: AUTH_RATE_LIMIT requests a second
// on average over a minute, plus a burst of four seconds' worth (at least 10).
const authWindow = time.Minute

func authWindowLimit(perSecond float64) int {
	return int(math.Ceil(perSecond*authWindow.Seconds())) + max(10, int(perSecond*4))
}
