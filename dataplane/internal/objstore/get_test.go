package objstore

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

// rewrittenObject is a store of one object that is written again after every request, as a dump
// writes its index again after every chunk: each answer (HEAD or GET) is of the version current
// then, and a GET conditional on an older version's ETag is refused (412), as S3 refuses it.
func rewrittenObject(t *testing.T) *httptest.Server {
	t.Helper()
	var mu sync.Mutex
	version := 1
	server := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		if strings.Trim(r.URL.Path, "/") == "ferry-get" {
			if r.URL.Query().Has("location") {
				_, _ = io.WriteString(w, `<LocationConstraint xmlns="http://s3.amazonaws.com/doc/2006-03-01/">us-east-1</LocationConstraint>`)
			}
			return
		}
		body := fmt.Sprintf("index version %d, whole", version)
		etag := fmt.Sprintf(`"v%d"`, version)
		version++
		if match := r.Header.Get("If-Match"); match != "" && match != etag {
			w.WriteHeader(http.StatusPreconditionFailed)
			_, _ = io.WriteString(w, `<Error><Code>PreconditionFailed</Code><Message>At least one of the pre-conditions you specified did not hold</Message></Error>`)
			return
		}
		w.Header().Set("ETag", etag)
		w.Header().Set("Content-Length", fmt.Sprint(len(body)))
		w.Header().Set("Last-Modified", "Mon, 07 Dec 2026 22:00:00 GMT")
		if r.Method == http.MethodHead {
			return
		}
		_, _ = io.WriteString(w, body)
	}))
	t.Cleanup(server.Close)
	return server
}

func TestAnObjectWrittenAgainBetweenRequestsIsReadWhole(t *testing.T) {
	server := rewrittenObject(t)
	t.Setenv("S3_ENDPOINT", server.URL)
	t.Setenv("S3_ACCESS_KEY", "ferry-test")
	t.Setenv("S3_SECRET_KEY", "ferry-test-secret")
	t.Setenv("S3_BUCKET", "ferry-get")
	store, err := FromEnvironment()
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		body, err := store.Get(context.Background(), "runs/r/index", 0)
		if err != nil {
			t.Fatalf("reading an object written again meanwhile: %v", err)
		}
		read, err := io.ReadAll(body)
		_ = body.Close()
		if err != nil {
			t.Fatalf("reading an object written again meanwhile: %v", err)
		}
		if !strings.HasPrefix(string(read), "index version ") || !strings.HasSuffix(string(read), ", whole") {
			t.Fatalf("read %q: not one version whole", read)
		}
	}
}
