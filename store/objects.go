package store

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// The object store of AUDIO_STORE=s3: an S3-compatible bucket (AWS S3, MinIO, SeaweedFS, R2,
// ...) that holds the bytes of stored clips, through minio-go. The clips' rows stay in
// PostgreSQL (audio.go): ids, owners, media types, sizes, times and the object's key, so that
// capability ids, retention and ownership work as with AUDIO_STORE=postgres.

// ErrAudioUnavailable: the object store did not answer or refused the request (down, wrong
// credentials, no bucket). Nothing in PostgreSQL was changed by the failed call.
var ErrAudioUnavailable = errors.New("audio store unavailable")

// S3Config is where the object store is and how to sign in to it.
type S3Config struct {
	// Endpoint is the store's URL (http://objects:8333, https://s3.eu-west-1.amazonaws.com) or
	// host[:port], then with TLS unless UseSSL is false.
	Endpoint string
	Bucket   string
	Region   string
	// AccessKey and SecretKey (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, and AWS_SESSION_TOKEN
	// for temporary keys); without them the instance's IAM role is asked.
	AccessKey, SecretKey, SessionToken string
	UseSSL                             *bool // nil: from Endpoint's scheme, else true
	PathStyle                          *bool // nil: minio-go decides (path style for IPs and unknown hosts)
	// Timeout bounds each request; an unanswered store fails a clip, never a turn.
	Timeout time.Duration
}

// Objects is a bucket of an S3-compatible object store. It is safe for concurrent use.
type Objects struct {
	client  *minio.Client
	core    minio.Core
	bucket  string
	timeout time.Duration
	where   string // endpoint/bucket, for messages
}

// objectRetries is how often a failed request is retried: a few, so that a store that is down
// fails a clip in about a second rather than after minio-go's default ten tries.
const objectRetries = 3

// NewObjects connects to the bucket of cfg. It sends no request: Ensure checks the bucket.
func NewObjects(cfg S3Config) (*Objects, error) {
	endpoint, secure := cfg.Endpoint, true
	if cfg.UseSSL != nil {
		secure = *cfg.UseSSL
	}
	if strings.Contains(endpoint, "://") {
		u, err := url.Parse(endpoint)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || strings.Trim(u.Path, "/") != "" {
			return nil, fmt.Errorf("store: S3 endpoint %q: want http(s)://host[:port]", cfg.Endpoint)
		}
		endpoint, secure = u.Host, u.Scheme == "https"
	}
	if endpoint == "" || cfg.Bucket == "" {
		return nil, errors.New("store: S3 endpoint and bucket are required")
	}
	var creds *credentials.Credentials
	if cfg.AccessKey != "" {
		creds = credentials.NewStaticV4(cfg.AccessKey, cfg.SecretKey, cfg.SessionToken)
	} else {
		creds = credentials.NewIAM("")
	}
	lookup := minio.BucketLookupAuto
	if cfg.PathStyle != nil {
		lookup = minio.BucketLookupDNS
		if *cfg.PathStyle {
			lookup = minio.BucketLookupPath
		}
	}
	timeout := cfg.Timeout
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	transport, err := minio.DefaultTransport(secure)
	if err != nil {
		return nil, fmt.Errorf("store: S3 transport: %w", err)
	}
	transport.ResponseHeaderTimeout = timeout
	transport.DialContext = (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext
	transport.MaxIdleConnsPerHost = 64
	client, err := minio.New(endpoint, &minio.Options{
		Creds: creds, Secure: secure, Region: cfg.Region, BucketLookup: lookup,
		Transport: transport, MaxRetries: objectRetries,
	})
	if err != nil {
		return nil, fmt.Errorf("store: S3 client: %w", err)
	}
	return &Objects{client: client, core: minio.Core{Client: client}, bucket: cfg.Bucket, timeout: timeout, where: endpoint + "/" + cfg.Bucket}, nil
}

// Bucket is the bucket's name.
func (o *Objects) Bucket() string { return o.bucket }

// Ensure checks that the bucket answers, and creates it when it does not exist.
func (o *Objects) Ensure(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	ok, err := o.client.BucketExists(ctx, o.bucket)
	if err != nil {
		return o.fail("check bucket", err)
	}
	if ok {
		return nil
	}
	if err := o.client.MakeBucket(ctx, o.bucket, minio.MakeBucketOptions{}); err != nil {
		if code := minio.ToErrorResponse(err).Code; code == "BucketAlreadyOwnedByYou" || code == "BucketAlreadyExists" {
			return nil // another instance made it first
		}
		return o.fail("create bucket", err)
	}
	return nil
}

// Put stores size bytes of r under key, in one request below 16 MiB (minio-go streams larger
// objects in parts), never reading r whole into memory first.
func (o *Objects) Put(ctx context.Context, key string, r io.Reader, size int64, contentType string) error {
	ctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	_, err := o.client.PutObject(ctx, o.bucket, key, r, size, minio.PutObjectOptions{
		ContentType: contentType, CacheControl: "private, max-age=86400, immutable",
	})
	if err != nil {
		return o.fail("put "+key, err)
	}
	return nil
}

// Open starts reading the object at key from offset: one GET, whose body streams as it is read.
// A missing object is ErrNotFound.
func (o *Objects) Open(ctx context.Context, key string, offset int64) (io.ReadCloser, error) {
	var opts minio.GetObjectOptions
	if offset > 0 {
		if err := opts.SetRange(offset, 0); err != nil {
			return nil, err
		}
	}
	body, _, _, err := o.core.GetObject(ctx, o.bucket, key, opts)
	if err != nil {
		switch minio.ToErrorResponse(err).Code {
		case minio.NoSuchKey:
			return nil, ErrNotFound
		case "InvalidRange":
			return io.NopCloser(strings.NewReader("")), nil // at the end
		}
		return nil, o.fail("get "+key, err)
	}
	return body, nil
}

// Remove deletes the objects at keys (in requests of up to 1,000 keys). Keys that do not exist
// are not an error, so removing twice is safe.
func (o *Objects) Remove(ctx context.Context, keys []string) error {
	if len(keys) == 0 {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	ch := make(chan minio.ObjectInfo, len(keys))
	for _, k := range keys {
		ch <- minio.ObjectInfo{Key: k}
	}
	close(ch)
	var errs []error
	for e := range o.client.RemoveObjects(ctx, o.bucket, ch, minio.RemoveObjectsOptions{}) {
		if minio.ToErrorResponse(e.Err).Code == minio.NoSuchKey {
			continue
		}
		errs = append(errs, o.fail("remove "+e.ObjectName, e.Err))
	}
	return errors.Join(errs...)
}

// List calls fn with the key of every object under prefix, in key order.
func (o *Objects) List(ctx context.Context, prefix string, fn func(key string) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	ch := o.client.ListObjects(ctx, o.bucket, minio.ListObjectsOptions{Prefix: prefix, Recursive: true})
	var err error
	for obj := range ch { // drained to the end, so that minio-go's goroutine ends
		if err != nil {
			continue
		}
		if obj.Err != nil {
			err = o.fail("list "+prefix, obj.Err)
			cancel()
			continue
		}
		if ferr := fn(obj.Key); ferr != nil {
			err = ferr
			cancel()
		}
	}
	return err
}

// fail wraps an error of the object store in ErrAudioUnavailable with what was tried.
func (o *Objects) fail(op string, err error) error {
	if errors.Is(err, context.Canceled) {
		return fmt.Errorf("store: object store %s: %s: %w", o.where, op, err)
	}
	msg := err.Error()
	if r := minio.ToErrorResponse(err); r.StatusCode != 0 {
		msg = fmt.Sprintf("%s (HTTP %d %s)", r.Message, r.StatusCode, http.StatusText(r.StatusCode))
	}
	return fmt.Errorf("store: object store %s: %s: %w: %s", o.where, op, ErrAudioUnavailable, msg)
}
