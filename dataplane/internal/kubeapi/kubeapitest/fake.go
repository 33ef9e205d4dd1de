// Package kubeapitest is the part of the Kubernetes API ferry's steps use, in memory, for tests:
// Secrets and ConfigMaps of one namespace over TLS, with the bearer token checked, another
// namespace forbidden, and writes at a stale resourceVersion refused as the API server does; and
// JSON merge patches of its Services and EndpointSlices (objects a test seeds).
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
	kind, name, status := a.route(r.URL.Path)
	if status == http.StatusForbidden {
		reply(w, status, "Forbidden", "forbidden: "+r.URL.Path)
		return
	}
	if status != http.StatusOK {
		reply(w, status, "NotFound", "no such resource: "+r.URL.Path)
		return
	}
	if r.Method == http.MethodPatch {
		a.patch(w, r, kind+"/"+name)
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

// groups are the resources each API group's version serves here.
var groups = map[string][]string{
	"/api/v1":                   {"secrets", "configmaps", "services"},
	"/apis/discovery.k8s.io/v1": {"endpointslices"},
}

// route splits a request's path into the resource and the name: 403 for another namespace, 404
// for a resource the path's group does not serve.
func (a *API) route(path string) (kind, name string, status int) {
	for groupVersion, resources := range groups {
		rest, ok := strings.CutPrefix(path, groupVersion+"/namespaces/")
		if !ok {
			continue
		}
		rest, ok = strings.CutPrefix(rest, a.Namespace+"/")
		if !ok {
			return "", "", http.StatusForbidden
		}
		kind, name, _ = strings.Cut(rest, "/")
		for _, served := range resources {
			if served == kind {
				return kind, name, http.StatusOK
			}
		}
		return "", "", http.StatusNotFound
	}
	return "", "", http.StatusNotFound
}

// Seed stores an object as if it had been created ("services", "name", its fields).
func (a *API) Seed(kind, name string, object map[string]any) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.version++
	object["metadata"] = map[string]any{"name": name, "namespace": a.Namespace, "resourceVersion": strconv.Itoa(a.version)}
	a.objects[kind+"/"+name] = object
}

// Object is a stored object, as JSON decodes it; nil when there is none.
func (a *API) Object(kind, name string) map[string]any {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.objects[kind+"/"+name]
}

// patch applies a JSON merge patch to a stored object, as the API server does.
func (a *API) patch(w http.ResponseWriter, r *http.Request, key string) {
	if r.Header.Get("Content-Type") != "application/merge-patch+json" {
		reply(w, http.StatusUnsupportedMediaType, "UnsupportedMediaType", "the patch's media type is not supported")
		return
	}
	kept, exists := a.objects[key]
	if !exists {
		reply(w, http.StatusNotFound, "NotFound", key+" not found")
		return
	}
	var patch map[string]any
	content, _ := io.ReadAll(r.Body)
	if json.Unmarshal(content, &patch) != nil {
		reply(w, http.StatusBadRequest, "BadRequest", "the patch is not a JSON object")
		return
	}
	merged := mergePatch(kept, patch).(map[string]any)
	a.version++
	merged["metadata"].(map[string]any)["resourceVersion"] = strconv.Itoa(a.version)
	a.objects[key] = merged
	a.writes = append(a.writes, r.Method+" "+key)
	_ = json.NewEncoder(w).Encode(merged)
}

// mergePatch is RFC 7386's MergePatch(target, patch).
func mergePatch(target, patch any) any {
	fields, isObject := patch.(map[string]any)
	if !isObject {
		return patch
	}
	result, isTargetObject := target.(map[string]any)
	if !isTargetObject {
		result = map[string]any{}
	} else {
		copied := make(map[string]any, len(result))
		for k, v := range result {
			copied[k] = v
		}
		result = copied
	}
	for name, value := range fields {
		if value == nil {
			delete(result, name)
		} else {
			result[name] = mergePatch(result[name], value)
		}
	}
	return result
}
