// Package kubeapitest is the part of the Kubernetes API ferry's steps use, in memory, for tests:
// Secrets and ConfigMaps of one namespace over TLS, with the bearer token checked, another
// namespace forbidden, and writes at a stale resourceVersion refused as the API server does.
package kubeapitest

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"

	"ferry.local/dataplane/internal/kubeapi"
)

// Token is what a client must present.
const Token = "the-token"

// API is the fake server's state.
type API struct {
	Namespace string
	server    *httptest.Server
	mu        sync.Mutex
	objects   map[string]map[string]any // "secrets/name" → object as JSON
	version   int
	writes    []string
}

// Start serves a fake API for namespace until the test ends, and returns it with a client of it
// that presents token.
func Start(t *testing.T, namespace, token string) (*API, *kubeapi.Client) {
	t.Helper()
	api := &API{Namespace: namespace, objects: map[string]map[string]any{}}
	api.server = httptest.NewTLSServer(api)
	t.Cleanup(api.server.Close)
	return api, api.Client(namespace, func() (string, error) { return token, nil })
}

// Client is another client of the fake API, of namespace, with its own token source.
func (a *API) Client(namespace string, token func() (string, error)) *kubeapi.Client {
	return kubeapi.New(a.server.URL, namespace, a.server.Client(), token)
}

// TakeWrites returns the writes ("POST secrets/x", "PUT configmaps/y", "DELETE secrets/z") since
// the last call.
func (a *API) TakeWrites() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	w := a.writes
	a.writes = nil
	return w
}

func reply(w http.ResponseWriter, code int, reason, message string) {
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(map[string]string{"kind": "Status", "reason": reason, "message": message})
}

func (a *API) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if r.Header.Get("Authorization") != "Bearer "+Token {
		reply(w, http.StatusUnauthorized, "Unauthorized", "Unauthorized")
		return
	}
	path, ok := strings.CutPrefix(r.URL.Path, "/api/v1/namespaces/"+a.Namespace+"/")
	if !ok {
		reply(w, http.StatusForbidden, "Forbidden", "forbidden: "+r.URL.Path)
		return
	}
	kind, name, _ := strings.Cut(path, "/")
	if kind != "secrets" && kind != "configmaps" {
		reply(w, http.StatusNotFound, "NotFound", "no resource "+kind)
		return
	}
	body := map[string]any{}
	if (r.Method == http.MethodPost || r.Method == http.MethodPut) && r.Header.Get("Content-Type") != "application/json" {
		// As the API server answers a body it cannot decode.
		reply(w, http.StatusUnsupportedMediaType, "UnsupportedMediaType", "the body's media type is not supported")
		return
	}
	if r.Method == http.MethodPost || r.Method == http.MethodPut {
		content, _ := io.ReadAll(r.Body)
		metadata, isObject := map[string]any(nil), json.Unmarshal(content, &body) == nil
		if isObject {
			metadata, isObject = body["metadata"].(map[string]any)
		}
		if !isObject || body["kind"] == nil {
			reply(w, http.StatusBadRequest, "BadRequest", "not an object")
			return
		}
		if r.Method == http.MethodPost {
			name, _ = metadata["name"].(string)
		} else if metadata["name"] != name {
			reply(w, http.StatusBadRequest, "BadRequest", "the name in the body is not the URL's")
			return
		}
	}
	key := kind + "/" + name
	kept, exists := a.objects[key]
	switch r.Method {
	case http.MethodGet:
		if !exists {
			reply(w, http.StatusNotFound, "NotFound", key+" not found")
			return
		}
		_ = json.NewEncoder(w).Encode(kept)
		return
	case http.MethodDelete:
		if !exists {
			reply(w, http.StatusNotFound, "NotFound", key+" not found")
			return
		}
		delete(a.objects, key)
		a.writes = append(a.writes, r.Method+" "+key)
		_ = json.NewEncoder(w).Encode(map[string]string{"kind": "Status", "status": "Success"})
		return
	case http.MethodPost:
		if exists {
			reply(w, http.StatusConflict, "AlreadyExists", key+" already exists")
			return
		}
	case http.MethodPut:
		sent := body["metadata"].(map[string]any)["resourceVersion"]
		if !exists || kept["metadata"].(map[string]any)["resourceVersion"] != sent {
			reply(w, http.StatusConflict, "Conflict", "the object has been modified; please apply your changes to the latest version and try again")
			return
		}
	default:
		reply(w, http.StatusMethodNotAllowed, "MethodNotAllowed", r.Method)
		return
	}
	a.version++
	body["metadata"].(map[string]any)["resourceVersion"] = strconv.Itoa(a.version)
	a.objects[key] = body
	a.writes = append(a.writes, r.Method+" "+key)
	w.WriteHeader(map[string]int{http.MethodPost: http.StatusCreated, http.MethodPut: http.StatusOK}[r.Method])
	_ = json.NewEncoder(w).Encode(body)
}
