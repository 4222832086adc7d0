package server

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/robfig/cron/v3"

	"github.com/aitutor/aitutor/session"
	"github.com/aitutor/aitutor/store"
)

// Where stored audio lives (AUDIO_STORE).
const (
	AudioStorePostgres = "postgres"
	AudioStoreS3       = "s3"
)

// AI providers.
const (
	ProviderOpenAI  = "openai"
	ProviderOffline = "offline"
	ProviderSim     = "sim"
)

// devJWTSecret signs tokens when APP_ENV=development and JWT_SECRET is unset.
const devJWTSecret = "aitutor-development-secret-do-not-use-in-production"

// Config is the whole configuration, read from the environment once in main and passed down.
type Config struct {
	Env  string // APP_ENV: development or production
	Port int    // PORT

	DatabaseURL string // DATABASE_URL, or built from DB_HOST, DB_PORT, ...

	JWTSecret      []byte        // JWT_SECRET
	JWTSecretIsDev bool          // the fixed development secret is in use
	TokenTTL       time.Duration // JWT_TTL

	AIProvider    string // AI_PROVIDER: openai, offline or sim
	OpenAIKey     string // OPENAI_API_KEY
	OpenAIBaseURL string // OPENAI_BASE_URL
	ChatModel     string // CHAT_MODEL
	STTModel      string // STT_MODEL
	TTSModel      string // TTS_MODEL
	TTSVoice      string // TTS_VOICE
	SimProfile    string // SIM_PROFILE: latency profile of the built-in simulator

	EspeakVoice string // ESPEAK_VOICE: offline TTS voice
	EspeakSpeed int    // ESPEAK_SPEED: offline TTS words per minute

	ExpiryCron     string        // MEMBERSHIP_EXPIRY_CRON
	AllowedOrigins []string      // ALLOWED_ORIGINS; empty means same origin only
	AudioRetention time.Duration // AUDIO_RETENTION
	AudioStore     string        // AUDIO_STORE: postgres or s3 (then S3 says where)
	S3             store.S3Config
	PublicURL      string // PUBLIC_URL: base of the audio URLs; from the request when empty

	SessionIdleTimeout time.Duration // SESSION_IDLE_TIMEOUT
	SessionMaxDuration time.Duration // SESSION_MAX_DURATION
	MaxSessions        int           // MAX_SESSIONS: concurrent WebSocket sessions per instance
	MaxSessionsPerUser int           // MAX_SESSIONS_PER_USER: concurrent WebSocket sessions per user
	PingPeriod         time.Duration // WS_PING_PERIOD: how often sessions are pinged
	PongWait           time.Duration // WS_PONG_WAIT: a session that sends nothing, not even a pong, this long is closed
	Timeouts           session.Timeouts
	ReconcileAfter     time.Duration // RECONCILE_AFTER: unsettled charges older than this are refunded
	ShutdownTimeout    time.Duration // SHUTDOWN_TIMEOUT
	AuthRateLimit      float64       // AUTH_RATE_LIMIT: sign-in/sign-up requests per second per client IP
	LogLevel           string        // LOG_LEVEL
	LogFormat          string        // LOG_FORMAT: json or text
	DebugAddr          string        // DEBUG_ADDR: pprof listener, e.g. 127.0.0.1:6060; off when empty
	MetricsAddr        string        // METRICS_ADDR: a private listener for /metrics; on the main port when empty
	TLSCertFile        string        // TLS_CERT_FILE: serve HTTPS (and wss://) with this certificate chain
	TLSKeyFile         string        // TLS_KEY_FILE: and this key
	GreetingRateLimit  float64       // GREETING_RATE_LIMIT: POST /api/tutor/init per account per minute
	MaxUploads         int           // MAX_UPLOADS: POST /api/tutor/chat requests answered at once
	GreetingDailyLimit int           // GREETING_DAILY_LIMIT: uncached custom greetings a day for accounts without a usable membership
	JoinRateLimit      float64       // JOIN_RATE_LIMIT: company join attempts per account, and failed ones per client IP, per minute
	JoinDailyFailures  int           // JOIN_DAILY_FAILURE_LIMIT: failed company join attempts per account a day
	HTTPReadTimeout    time.Duration // HTTP_READ_TIMEOUT: a whole request, body included
	HTTPWriteTimeout   time.Duration // HTTP_WRITE_TIMEOUT: a whole answer
	TrustedProxies     []*net.IPNet  // TRUSTED_PROXIES: CIDRs of reverse proxies whose X-Forwarded-For is believed
}

// Development reports whether APP_ENV=development.
func (c Config) Development() bool { return c.Env == "development" }

// Load reads the configuration through getenv (os.Getenv in main) and validates it. The error
// names the variable at fault in one line.
func Load(getenv func(string) string) (Config, error) {
	e := envReader{get: getenv}
	c := Config{
		Env:                e.str("APP_ENV", "production"),
		Port:               e.intIn("PORT", 3001, 1, 65535),
		TokenTTL:           e.duration("JWT_TTL", 7*24*time.Hour),
		OpenAIKey:          e.str("OPENAI_API_KEY", ""),
		OpenAIBaseURL:      e.str("OPENAI_BASE_URL", ""),
		ChatModel:          e.str("CHAT_MODEL", "gpt-4o-mini"),
		STTModel:           e.str("STT_MODEL", "whisper-1"),
		TTSModel:           e.str("TTS_MODEL", "tts-1"),
		TTSVoice:           e.str("TTS_VOICE", "nova"),
		SimProfile:         e.str("SIM_PROFILE", "standard"),
		EspeakVoice:        e.str("ESPEAK_VOICE", "en-us+f3"),
		EspeakSpeed:        e.intIn("ESPEAK_SPEED", 150, 80, 450),
		ExpiryCron:         e.str("MEMBERSHIP_EXPIRY_CRON", "0 * * * *"),
		AudioRetention:     e.duration("AUDIO_RETENTION", 720*time.Hour),
		AudioStore:         e.str("AUDIO_STORE", AudioStorePostgres),
		PublicURL:          strings.TrimRight(e.str("PUBLIC_URL", ""), "/"),
		SessionIdleTimeout: e.duration("SESSION_IDLE_TIMEOUT", 5*time.Minute),
		SessionMaxDuration: e.duration("SESSION_MAX_DURATION", time.Hour),
		MaxSessions:        e.intIn("MAX_SESSIONS", 20000, 1, 1_000_000),
		MaxSessionsPerUser: e.intIn("MAX_SESSIONS_PER_USER", 4, 1, 1000),
		PingPeriod:         e.duration("WS_PING_PERIOD", 20*time.Second),
		PongWait:           e.duration("WS_PONG_WAIT", 60*time.Second),
		Timeouts: session.Timeouts{
			STT:            e.duration("STT_TIMEOUT", 30*time.Second),
			ChatFirstToken: e.duration("CHAT_FIRST_TOKEN_TIMEOUT", 20*time.Second),
			ChatIdle:       e.duration("CHAT_IDLE_TIMEOUT", 15*time.Second),
			TTSFirstByte:   e.duration("TTS_FIRST_BYTE_TIMEOUT", 15*time.Second),
			TTSIdle:        e.duration("TTS_IDLE_TIMEOUT", 10*time.Second),
		},
		ReconcileAfter:     e.duration("RECONCILE_AFTER", 10*time.Minute),
		ShutdownTimeout:    e.duration("SHUTDOWN_TIMEOUT", 20*time.Second),
		AuthRateLimit:      e.float("AUTH_RATE_LIMIT", 5),
		LogLevel:           e.str("LOG_LEVEL", "info"),
		LogFormat:          e.str("LOG_FORMAT", ""),
		DebugAddr:          e.str("DEBUG_ADDR", ""),
		MetricsAddr:        e.str("METRICS_ADDR", ""),
		TLSCertFile:        e.str("TLS_CERT_FILE", ""),
		TLSKeyFile:         e.str("TLS_KEY_FILE", ""),
		GreetingRateLimit:  e.float("GREETING_RATE_LIMIT", 10),
		MaxUploads:         e.intIn("MAX_UPLOADS", 16, 1, 10000),
		GreetingDailyLimit: e.intIn("GREETING_DAILY_LIMIT", 5, 0, 10000),
		JoinRateLimit:      e.float("JOIN_RATE_LIMIT", 10),
		JoinDailyFailures:  e.intIn("JOIN_DAILY_FAILURE_LIMIT", 20, 1, 100000),
		HTTPReadTimeout:    e.duration("HTTP_READ_TIMEOUT", 2*time.Minute),
		HTTPWriteTimeout:   e.duration("HTTP_WRITE_TIMEOUT", 3*time.Minute),
	}
	if c.Env != "development" && c.Env != "production" && c.Env != "test" {
		e.fail("APP_ENV", "must be development, production or test")
	}
	if c.LogFormat == "" {
		c.LogFormat = "json"
		if c.Development() {
			c.LogFormat = "text"
		}
	}
	if c.LogFormat != "json" && c.LogFormat != "text" {
		e.fail("LOG_FORMAT", "must be json or text")
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		e.fail("LOG_LEVEL", "must be debug, info, warn or error")
	}

	c.DatabaseURL = e.databaseURL()

	if s := getenv("JWT_SECRET"); s != "" {
		if len(s) < 32 && !c.Development() {
			e.fail("JWT_SECRET", "must be at least 32 characters")
		}
		c.JWTSecret = []byte(s)
	} else if c.Development() {
		c.JWTSecret, c.JWTSecretIsDev = []byte(devJWTSecret), true
	}
	if c.TokenTTL < time.Minute {
		e.fail("JWT_TTL", "must be at least 1m")
	}

	c.AIProvider = e.str("AI_PROVIDER", "")
	if c.AIProvider == "" {
		c.AIProvider = ProviderOffline
		if c.OpenAIKey != "" {
			c.AIProvider = ProviderOpenAI
		}
	}
	switch c.AIProvider {
	case ProviderOpenAI:
		if c.OpenAIKey == "" && c.OpenAIBaseURL == "" {
			e.fail("OPENAI_API_KEY", "is required when AI_PROVIDER=openai (or set OPENAI_BASE_URL to a server that needs no key)")
		}
	case ProviderOffline, ProviderSim:
	default:
		e.fail("AI_PROVIDER", "must be openai, offline or sim")
	}
	if c.OpenAIBaseURL != "" {
		if u, err := url.Parse(c.OpenAIBaseURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			e.fail("OPENAI_BASE_URL", "must be an http(s) URL such as https://api.openai.com/v1")
		}
	}
	if _, err := cron.ParseStandard(c.ExpiryCron); err != nil {
		e.fail("MEMBERSHIP_EXPIRY_CRON", "is not a cron expression: "+err.Error())
	}
	if c.AudioRetention < time.Hour {
		e.fail("AUDIO_RETENTION", "must be at least 1h")
	}
	switch c.AudioStore {
	case AudioStorePostgres:
	case AudioStoreS3:
		c.S3 = e.s3()
	default:
		e.fail("AUDIO_STORE", "must be postgres or s3")
	}
	if c.PublicURL != "" {
		if u, err := url.Parse(c.PublicURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			e.fail("PUBLIC_URL", "must be an http(s) URL")
		}
	}
	for _, o := range strings.Split(e.str("ALLOWED_ORIGINS", ""), ",") {
		if o = strings.TrimRight(strings.TrimSpace(o), "/"); o == "" {
			continue
		}
		if u, err := url.Parse(o); o != "*" && (err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Path != "") {
			e.fail("ALLOWED_ORIGINS", fmt.Sprintf("%q is not an origin such as https://tutor.example.com", o))
		} else if strings.Contains(u.Host, "*") {
			e.fail("ALLOWED_ORIGINS", fmt.Sprintf("%q: patterns are not supported; list each origin", o))
		}
		c.AllowedOrigins = append(c.AllowedOrigins, o)
	}
	for _, cidr := range strings.Split(e.str("TRUSTED_PROXIES", ""), ",") {
		if cidr = strings.TrimSpace(cidr); cidr == "" {
			continue
		}
		if !strings.Contains(cidr, "/") {
			if strings.Contains(cidr, ":") {
				cidr += "/128"
			} else {
				cidr += "/32"
			}
		}
		_, n, err := net.ParseCIDR(cidr)
		if err != nil {
			e.fail("TRUSTED_PROXIES", fmt.Sprintf("%q is not an IP address or CIDR range", cidr))
			continue
		}
		c.TrustedProxies = append(c.TrustedProxies, n)
	}
	if c.SessionIdleTimeout < time.Second {
		e.fail("SESSION_IDLE_TIMEOUT", "must be at least 1s")
	}
	if c.SessionMaxDuration < time.Second {
		e.fail("SESSION_MAX_DURATION", "must be at least 1s")
	}
	if c.AuthRateLimit <= 0 {
		e.fail("AUTH_RATE_LIMIT", "must be positive")
	}
	if (c.TLSCertFile == "") != (c.TLSKeyFile == "") {
		e.fail("TLS_CERT_FILE", "and TLS_KEY_FILE go together: set both or neither")
	} else if c.TLSCertFile != "" {
		if _, err := tls.LoadX509KeyPair(c.TLSCertFile, c.TLSKeyFile); err != nil {
			e.fail("TLS_CERT_FILE", "cannot be loaded with TLS_KEY_FILE: "+err.Error())
		}
	}
	if c.GreetingRateLimit <= 0 {
		e.fail("GREETING_RATE_LIMIT", "must be positive")
	}
	if c.JoinRateLimit <= 0 {
		e.fail("JOIN_RATE_LIMIT", "must be positive")
	}
	if c.PongWait < 100*time.Millisecond {
		e.fail("WS_PONG_WAIT", "must be at least 100ms")
	}
	if c.PingPeriod <= 0 || c.PingPeriod >= c.PongWait {
		e.fail("WS_PING_PERIOD", "must be positive and shorter than WS_PONG_WAIT")
	}
	for name, d := range map[string]time.Duration{
		"STT_TIMEOUT": c.Timeouts.STT, "CHAT_FIRST_TOKEN_TIMEOUT": c.Timeouts.ChatFirstToken,
		"CHAT_IDLE_TIMEOUT": c.Timeouts.ChatIdle, "TTS_FIRST_BYTE_TIMEOUT": c.Timeouts.TTSFirstByte,
		"TTS_IDLE_TIMEOUT": c.Timeouts.TTSIdle,
	} {
		if d < 100*time.Millisecond || d > 10*time.Minute {
			e.fail(name, "must be from 100ms to 10m")
		}
	}
	if c.ReconcileAfter < time.Second {
		e.fail("RECONCILE_AFTER", "must be at least 1s (and should be longer than the longest turn)")
	}
	return c, e.err
}

// RequireDatabase fails unless a database is configured.
func (c Config) RequireDatabase() error {
	if c.DatabaseURL == "" {
		return errors.New("config: DATABASE_URL is required (or DB_HOST, DB_PORT, DB_USERNAME, DB_PASSWORD, DB_DATABASE)")
	}
	return nil
}

// RequireJWT fails unless tokens can be signed.
func (c Config) RequireJWT() error {
	if len(c.JWTSecret) == 0 {
		return errors.New("config: JWT_SECRET is required (at least 32 random characters; APP_ENV=development uses a fixed development secret)")
	}
	return nil
}

// envReader reads variables and keeps the first error.
type envReader struct {
	get func(string) string
	err error
}

func (e *envReader) fail(name, msg string) {
	if e.err == nil {
		e.err = fmt.Errorf("config: %s %s", name, msg)
	}
}

func (e *envReader) str(name, def string) string {
	if v := strings.TrimSpace(e.get(name)); v != "" {
		return v
	}
	return def
}

func (e *envReader) intIn(name string, def, lo, hi int) int {
	v := e.str(name, "")
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < lo || n > hi {
		e.fail(name, fmt.Sprintf("must be a whole number from %d to %d, not %q", lo, hi, v))
		return def
	}
	return n
}

func (e *envReader) float(name string, def float64) float64 {
	v := e.str(name, "")
	if v == "" {
		return def
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil {
		e.fail(name, fmt.Sprintf("must be a number, not %q", v))
		return def
	}
	return f
}

func (e *envReader) duration(name string, def time.Duration) time.Duration {
	v := e.str(name, "")
	if v == "" {
		return def
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		e.fail(name, fmt.Sprintf("must be a duration such as 720h or 30s, not %q", v))
		return def
	}
	return d
}

func (e *envReader) bool(name string) bool {
	switch strings.ToLower(e.str(name, "")) {
	case "", "0", "false", "no", "off":
		return false
	case "1", "true", "yes", "on", "require":
		return true
	}
	e.fail(name, "must be true or false")
	return false
}

// optionalBool is a boolean variable that may be unset (nil).
func (e *envReader) optionalBool(name string) *bool {
	if e.str(name, "") == "" {
		return nil
	}
	v := e.bool(name)
	return &v
}

// s3 reads the object store of AUDIO_STORE=s3: S3_ENDPOINT, S3_BUCKET, S3_REGION, the AWS key
// variables, S3_USE_SSL, S3_PATH_STYLE and S3_TIMEOUT.
func (e *envReader) s3() store.S3Config {
	c := store.S3Config{
		Endpoint:     e.str("S3_ENDPOINT", ""),
		Bucket:       e.str("S3_BUCKET", ""),
		Region:       e.str("S3_REGION", "us-east-1"),
		AccessKey:    e.str("AWS_ACCESS_KEY_ID", ""),
		SecretKey:    e.str("AWS_SECRET_ACCESS_KEY", ""),
		SessionToken: e.str("AWS_SESSION_TOKEN", ""),
		UseSSL:       e.optionalBool("S3_USE_SSL"),
		PathStyle:    e.optionalBool("S3_PATH_STYLE"),
		Timeout:      e.duration("S3_TIMEOUT", 30*time.Second),
	}
	switch {
	case c.Endpoint == "":
		e.fail("S3_ENDPOINT", "is required with AUDIO_STORE=s3 (e.g. https://s3.eu-west-1.amazonaws.com or http://objects:8333)")
	case c.Bucket == "":
		e.fail("S3_BUCKET", "is required with AUDIO_STORE=s3")
	case (c.AccessKey == "") != (c.SecretKey == ""):
		e.fail("AWS_SECRET_ACCESS_KEY", "and AWS_ACCESS_KEY_ID go together: set both, or neither to use the instance's IAM role")
	case c.Timeout < 100*time.Millisecond || c.Timeout > 10*time.Minute:
		e.fail("S3_TIMEOUT", "must be from 100ms to 10m")
	}
	if c.Endpoint != "" {
		if _, err := store.NewObjects(c); err != nil {
			e.fail("S3_ENDPOINT", "is not usable: "+err.Error())
		}
	}
	return c
}

// databaseURL is DATABASE_URL, or one built from the prototype's DB_* variables.
func (e *envReader) databaseURL() string {
	if v := e.str("DATABASE_URL", ""); v != "" {
		u, err := url.Parse(v)
		if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
			e.fail("DATABASE_URL", "must be a postgres:// URL")
		}
		return v
	}
	host := e.str("DB_HOST", "")
	if host == "" {
		return ""
	}
	port := e.intIn("DB_PORT", 5432, 1, 65535)
	name := e.str("DB_DATABASE", "")
	if name == "" {
		e.fail("DB_DATABASE", "is required with DB_HOST")
	}
	user := e.str("DB_USERNAME", "")
	if user == "" {
		e.fail("DB_USERNAME", "is required with DB_HOST")
	}
	sslmode := "disable"
	if e.bool("DB_SSL") {
		sslmode = "require"
	}
	u := url.URL{
		Scheme:   "postgres",
		User:     url.UserPassword(user, e.get("DB_PASSWORD")),
		Host:     fmt.Sprintf("%s:%d", host, port),
		Path:     "/" + name,
		RawQuery: "sslmode=" + sslmode,
	}
	return u.String()
}
