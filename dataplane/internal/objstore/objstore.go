// Package objstore is the data plane's one client of the object store (S3 or MinIO), through
// minio-go: every upload, download, listing and removal of a run's objects goes through here, so
// one place knows each one's outcome.
package objstore

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"ferry.local/dataplane/internal/secret"
)

// PartSize is the size of the parts of an upload of unknown length: the memory one upload holds.
const PartSize = 5 << 20

// Store is one bucket.
type Store struct {
	client *minio.Client
	Bucket string
	// user is the access key the store is reached as, for messages.
	user string
}

// FromEnvironment reads S3_ENDPOINT (a URL), S3_ACCESS_KEY, the secret key from the file named by
// S3_SECRET_KEY_FILE or else S3_SECRET_KEY (then removed from the environment, so no child process
// inherits it), S3_BUCKET, S3_CA_CERT (PEM: the only CAs an https store's certificate may chain
// to; without it the system's) and S3_INSECURE (true: do not verify the server's certificate).
func FromEnvironment() (*Store, error) {
	if os.Getenv("S3_BUCKET") == "" {
		return nil, errors.New("environment variable S3_BUCKET is not set")
	}
	access, err := accessFromEnvironment()
	if err != nil {
		return nil, err
	}
	client, err := minio.New(access.endpoint.Host, &minio.Options{
		Creds:        credentials.NewStaticV4(access.accessKey, access.secretKey, ""),
		Secure:       access.endpoint.Scheme == "https",
		Transport:    access.transport,
		BucketLookup: minio.BucketLookupPath,
		MaxRetries:   3,
	})
	if err != nil {
		return nil, err
	}
	return &Store{client: client, Bucket: os.Getenv("S3_BUCKET"), user: access.accessKey}, nil
}

// access is how a step reaches the object store: where, through what, as whom.
type access struct {
	endpoint             *url.URL
	transport            http.RoundTripper
	accessKey, secretKey string
}

func accessFromEnvironment() (access, error) {
	for _, name := range []string{"S3_ENDPOINT", "S3_ACCESS_KEY"} {
		if os.Getenv(name) == "" {
			return access{}, fmt.Errorf("environment variable %s is not set", name)
		}
	}
	secretKey, err := secret.FromEnvironment("S3_SECRET_KEY")
	if err != nil {
		return access{}, err
	}
	if secretKey == "" {
		return access{}, errors.New("S3_SECRET_KEY (or S3_SECRET_KEY_FILE) is not set")
	}
	endpoint, err := url.Parse(os.Getenv("S3_ENDPOINT"))
	if err != nil || endpoint.Host == "" || (endpoint.Scheme != "http" && endpoint.Scheme != "https") {
		return access{}, fmt.Errorf("S3_ENDPOINT %q is not an http:// or https:// URL (ferry:objectStore.endpoint)", os.Getenv("S3_ENDPOINT"))
	}
	transport, err := minio.DefaultTransport(endpoint.Scheme == "https")
	if err != nil {
		return access{}, err
	}
	config, err := tlsConfig(os.Getenv("S3_CA_CERT"), os.Getenv("S3_INSECURE") == "true")
	if err != nil {
		return access{}, err
	}
	transport.TLSClientConfig = config
	return access{endpoint, explainingTransport{transport}, os.Getenv("S3_ACCESS_KEY"), secretKey}, nil
}

// tlsConfig is how an https store's certificate is checked: against caCert's certificates alone
// when given, else the system's; not at all when insecure, the user's explicit and warned opt-out.
func tlsConfig(caCert string, insecure bool) (*tls.Config, error) {
	config := &tls.Config{MinVersion: tls.VersionTLS12}
	if insecure && caCert != "" {
		return nil, errors.New("S3_CA_CERT and S3_INSECURE=true contradict each other: a CA to check against, and no check (ferry:objectStore.caCert, ferry:objectStore.insecureSkipVerify)")
	}
	if insecure {
		config.InsecureSkipVerify = true //nolint:gosec // ferry:objectStore.insecureSkipVerify
		return config, nil
	}
	if caCert != "" {
		roots := x509.NewCertPool()
		if !roots.AppendCertsFromPEM([]byte(caCert)) {
			return nil, errors.New("S3_CA_CERT holds no PEM certificate (ferry:objectStore.caCert)")
		}
		config.RootCAs = roots
	}
	return config, nil
}

// Lasting says whether err will come back however long one waits: the store's errors that say so
// of themselves (a refused certificate, a bucket gone, credentials revoked).
func Lasting(err error) bool {
	var marked interface{ Lasting() bool }
	return errors.As(err, &marked) && marked.Lasting()
}

// TLSError is a refused handshake with the object store: it fails the same way however often it is
// tried, and the message names the config that decides it.
type TLSError struct{ Err error }

func (e *TLSError) Error() string {
	return fmt.Sprintf("%v; the object store's TLS certificate was refused: check ferry:objectStore.caCert (the CA that signed it) and the endpoint's host name", e.Err)
}

func (e *TLSError) Unwrap() error { return e.Err }

// Lasting says a refused certificate is not waited out as a store that is down.
func (e *TLSError) Lasting() bool { return true }

// explainingTransport marks every refused certificate as a TLSError, for every request of every
// client of the store (data, listing, admin).
type explainingTransport struct{ base http.RoundTripper }

func (t explainingTransport) RoundTrip(request *http.Request) (*http.Response, error) {
	response, err := t.base.RoundTrip(request)
	if err != nil && certificateRefused(err) {
		return nil, &TLSError{err}
	}
	return response, err
}

func certificateRefused(err error) bool {
	var unknownAuthority x509.UnknownAuthorityError
	var hostname x509.HostnameError
	var invalid x509.CertificateInvalidError
	var verification *tls.CertificateVerificationError
	return errors.As(err, &unknownAuthority) || errors.As(err, &hostname) ||
		errors.As(err, &invalid) || errors.As(err, &verification)
}

// URL names an object the way the messages show it.
func (s *Store) URL(key string) string { return "s3://" + s.Bucket + "/" + key }

// Put stores everything read from body under key, in parts of PartSize when the length is not
// known (size -1), and returns the number of bytes stored.
func (s *Store) Put(ctx context.Context, key string, body io.Reader, size int64) (int64, error) {
	info, err := s.client.PutObject(ctx, s.Bucket, key, body, size, minio.PutObjectOptions{
		PartSize:    PartSize,
		ContentType: "application/octet-stream",
		// One part at a time: the memory an upload holds stays one part.
		NumThreads: 1,
	})
	if err != nil {
		return 0, s.explain(ctx, err)
	}
	return info.Size, nil
}

// Get opens key from byte offset on.
func (s *Store) Get(ctx context.Context, key string, offset int64) (io.ReadCloser, error) {
	options := minio.GetObjectOptions{}
	if offset > 0 {
		if err := options.SetRange(offset, 0); err != nil {
			return nil, err
		}
	}
	// One GET, whose answer is one version of the object. (Client.GetObject stats the object first
	// and then reads it on the condition that it is still that version: an object written again
	// in between, as a dump writes its index after each chunk, failed with PreconditionFailed.)
	object, _, _, err := minio.Core{Client: s.client}.GetObject(ctx, s.Bucket, key, options)
	if err != nil {
		return nil, s.explain(ctx, err)
	}
	return explainingReader{object, ctx, s}, nil
}

// explainingReader explains the store's answers that come while the body is read, as Get does
// those before: a user turned off mid-download is a refusal, not a connection to resume.
type explainingReader struct {
	io.ReadCloser
	ctx   context.Context
	store *Store
}

func (r explainingReader) Read(p []byte) (int, error) {
	n, err := r.ReadCloser.Read(p)
	if err != nil && err != io.EOF {
		err = r.store.explain(r.ctx, err)
	}
	return n, err
}

// ReadAll is the whole of a small object (a manifest, a verification result).
func (s *Store) ReadAll(ctx context.Context, key string) ([]byte, error) {
	object, err := s.Get(ctx, key, 0)
	if err != nil {
		return nil, err
	}
	defer object.Close()
	return io.ReadAll(object)
}

// Size is the stored length of key; an absent object is reported by IsNotFound.
func (s *Store) Size(ctx context.Context, key string) (int64, error) {
	info, err := s.client.StatObject(ctx, s.Bucket, key, minio.StatObjectOptions{})
	if err != nil {
		return 0, s.explain(ctx, err)
	}
	return info.Size, nil
}

// Exists says whether key is stored; only a definite "no such key" counts as absent.
func (s *Store) Exists(ctx context.Context, key string) (bool, error) {
	_, err := s.Size(ctx, key)
	if err == nil {
		return true, nil
	}
	if IsNotFound(err) {
		return false, nil
	}
	return false, err
}

// Remove deletes key; an object already gone is not an error.
func (s *Store) Remove(ctx context.Context, key string) error {
	if err := s.client.RemoveObject(ctx, s.Bucket, key, minio.RemoveObjectOptions{}); err != nil {
		return s.explain(ctx, err)
	}
	return nil
}

// Keys lists the keys under prefix.
func (s *Store) Keys(ctx context.Context, prefix string) ([]string, error) {
	var keys []string
	for object := range s.client.ListObjects(ctx, s.Bucket, minio.ListObjectsOptions{Prefix: prefix, Recursive: true}) {
		if object.Err != nil {
			return keys, s.explain(ctx, object.Err)
		}
		keys = append(keys, object.Key)
	}
	return keys, nil
}

// IsNotFound tells a missing object from every other failure, a missing bucket among them.
func IsNotFound(err error) bool {
	var refused *RefusedError
	if errors.As(err, &refused) {
		return false
	}
	response := minio.ToErrorResponse(err)
	return response.Code == "NoSuchKey" || (response.StatusCode == http.StatusNotFound && response.Code != "NoSuchBucket")
}

// RefusedError is the store's refusal of the run itself rather than of one object: its bucket
// gone, or the credentials it is reached with turned off. Waiting does not change it, and the
// message says what does.
type RefusedError struct {
	Err    error
	Reason string
}

func (e *RefusedError) Error() string { return fmt.Sprintf("%s (%v)", e.Reason, e.Err) }

func (e *RefusedError) Unwrap() error { return e.Err }

// Lasting says a refusal is not waited out as a store that is down.
func (e *RefusedError) Lasting() bool { return true }

// What the store answers when the credentials a request is signed with are not (or no longer)
// good: deleted, turned off, changed. MinIO's own code for a disabled user is among them.
var credentialCodes = map[string]bool{
	"InvalidAccessKeyId": true, "SignatureDoesNotMatch": true, "AccessDenied": true,
	"XMinioAccountDisabled": true, "InvalidToken": true, "ExpiredToken": true,
}

// explain turns the store's answers that concern the whole run into a RefusedError. A HEAD request
// has no body to say which of bucket or object is missing, so a missing object is checked against
// the bucket itself.
func (s *Store) explain(ctx context.Context, err error) error {
	response := minio.ToErrorResponse(err)
	gone := response.Code == "NoSuchBucket"
	if !gone && IsNotFound(err) {
		if exists, bucketErr := s.client.BucketExists(ctx, s.Bucket); bucketErr == nil && !exists {
			gone = true
		}
	}
	switch {
	case gone:
		return &RefusedError{err, fmt.Sprintf("the bucket %s does not exist: it was deleted outside ferry. Run pulumi up --refresh: Pulumi sees it gone, makes the bucket again and dumps again", s.Bucket)}
	case credentialCodes[response.Code] || response.StatusCode == http.StatusForbidden:
		return &RefusedError{err, fmt.Sprintf("the object store refused bucket user %s (%s): its credentials or policy were revoked, turned off or deleted outside this run (ferry turns a run's users off only after its report). Migrate under a new ferry:migration.runId, which makes new users", s.user, response.Code)}
	}
	return err
}
