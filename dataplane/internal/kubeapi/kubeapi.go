// Package kubeapi reads and writes the few objects a step in the destination cluster keeps there
// (Secrets, ConfigMaps of its own namespace, and the cutover's patch of the applications' Service
// and its EndpointSlice) through the Kubernetes API, as the pod's service account: plain REST with encoding/json, the cluster's CA and the account's token, which the
// kubelet mounts and renews.
package kubeapi

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"
)

// serviceAccountDir is where the kubelet mounts the pod's service account.
const serviceAccountDir = "/var/run/secrets/kubernetes.io/serviceaccount"

// Client talks to one namespace of one cluster.
type Client struct {
	base      string
	namespace string
	http      *http.Client
	// token is read before each request: the kubelet rotates the file.
	token func() (string, error)
}

// InCluster is the client of the pod's own namespace, from what the kubelet gives every pod with
// a service account token.
func InCluster() (*Client, error) {
	host, port := os.Getenv("KUBERNETES_SERVICE_HOST"), os.Getenv("KUBERNETES_SERVICE_PORT")
	if host == "" || port == "" {
		return nil, errors.New("not in a pod of a cluster: KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT are unset")
	}
	caPEM, err := os.ReadFile(serviceAccountDir + "/ca.crt")
	if err != nil {
		return nil, fmt.Errorf("the pod has no service account token mounted: %w", err)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(caPEM) {
		return nil, errors.New("the service account's ca.crt holds no certificate")
	}
	namespace, err := os.ReadFile(serviceAccountDir + "/namespace")
	if err != nil {
		return nil, err
	}
	transport := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}}
	return New("https://"+net.JoinHostPort(host, port), strings.TrimSpace(string(namespace)),
		&http.Client{Transport: transport, Timeout: 30 * time.Second},
		func() (string, error) {
			token, err := os.ReadFile(serviceAccountDir + "/token")
			return strings.TrimSpace(string(token)), err
		}), nil
}

// New is a client of namespace at base (https://host:port), authenticated by token.
func New(base, namespace string, client *http.Client, token func() (string, error)) *Client {
	return &Client{base: strings.TrimRight(base, "/"), namespace: namespace, http: client, token: token}
}

// Namespace is the namespace the client works in.
func (c *Client) Namespace() string { return c.namespace }

// Metadata is the part of an object's metadata ferry reads and writes.
type Metadata struct {
	Name            string            `json:"name"`
	Namespace       string            `json:"namespace,omitempty"`
	Labels          map[string]string `json:"labels,omitempty"`
	ResourceVersion string            `json:"resourceVersion,omitempty"`
}

// Secret is a v1 Secret; Data's values are bytes (base64 on the wire).
type Secret struct {
	APIVersion string            `json:"apiVersion"`
	Kind       string            `json:"kind"`
	Metadata   Metadata          `json:"metadata"`
	Type       string            `json:"type,omitempty"`
	Data       map[string][]byte `json:"data,omitempty"`
}

// ConfigMap is a v1 ConfigMap.
type ConfigMap struct {
	APIVersion string            `json:"apiVersion"`
	Kind       string            `json:"kind"`
	Metadata   Metadata          `json:"metadata"`
	Data       map[string]string `json:"data,omitempty"`
}

// ErrNotFound is returned by a Get or a Delete of an object that does not exist.
var ErrNotFound = errors.New("not found")

// status is the API's error body.
type status struct {
	Message string `json:"message"`
	Reason  string `json:"reason"`
}

func (c *Client) path(resource, name string) string {
	return c.groupPath("/api/v1", resource, name)
}

// groupPath is the URL of an object (or, without a name, of the collection) of an API group's
// version (/api/v1 for the core group, /apis/<group>/<version> otherwise) in the namespace.
func (c *Client) groupPath(groupVersion, resource, name string) string {
	p := groupVersion + "/namespaces/" + url.PathEscape(c.namespace) + "/" + resource
	if name != "" {
		p += "/" + url.PathEscape(name)
	}
	return c.base + p
}

func (c *Client) do(ctx context.Context, method, target string, body, into any) error {
	return c.send(ctx, method, target, "application/json", body, into)
}

// send is do with the body's media type given (a PATCH says which kind of patch it is).
func (c *Client) send(ctx context.Context, method, target, mediaType string, body, into any) error {
	var reader io.Reader
	if body != nil {
		encoded, err := json.Marshal(body)
		if err != nil {
			return err
		}
		reader = bytes.NewReader(encoded)
	}
	request, err := http.NewRequestWithContext(ctx, method, target, reader)
	if err != nil {
		return err
	}
	token, err := c.token()
	if err != nil {
		return fmt.Errorf("reading the service account token: %w", err)
	}
	request.Header.Set("Authorization", "Bearer "+token)
	request.Header.Set("Accept", "application/json")
	if body != nil {
		request.Header.Set("Content-Type", mediaType)
	}
	response, err := c.http.Do(request)
	if err != nil {
		return err
	}
	defer response.Body.Close()
	content, err := io.ReadAll(io.LimitReader(response.Body, 16<<20))
	if err != nil {
		return err
	}
	if response.StatusCode == http.StatusNotFound && (method == http.MethodGet || method == http.MethodDelete) {
		return ErrNotFound
	}
	if response.StatusCode/100 != 2 {
		var s status
		_ = json.Unmarshal(content, &s)
		if s.Message == "" {
			s.Message = http.StatusText(response.StatusCode)
		}
		return fmt.Errorf("%s %s: %d %s", method, strings.TrimPrefix(target, c.base), response.StatusCode, s.Message)
	}
	return json.Unmarshal(content, into)
}

// Secret reads a Secret of the namespace; ErrNotFound when there is none.
func (c *Client) Secret(ctx context.Context, name string) (*Secret, error) {
	var s Secret
	if err := c.do(ctx, http.MethodGet, c.path("secrets", name), nil, &s); err != nil {
		return nil, err
	}
	return &s, nil
}

// PutSecret creates s, or replaces it when it carries the resourceVersion it was read at (the
// API refuses the write if the Secret changed since).
func (c *Client) PutSecret(ctx context.Context, s *Secret) error {
	s.APIVersion, s.Kind, s.Metadata.Namespace = "v1", "Secret", c.namespace
	if s.Metadata.ResourceVersion == "" {
		return c.do(ctx, http.MethodPost, c.path("secrets", ""), s, s)
	}
	return c.do(ctx, http.MethodPut, c.path("secrets", s.Metadata.Name), s, s)
}

// DeleteSecret deletes a Secret of the namespace; ErrNotFound when there is none.
func (c *Client) DeleteSecret(ctx context.Context, name string) error {
	var gone status
	return c.do(ctx, http.MethodDelete, c.path("secrets", name), nil, &gone)
}

// ConfigMap reads a ConfigMap of the namespace; ErrNotFound when there is none.
func (c *Client) ConfigMap(ctx context.Context, name string) (*ConfigMap, error) {
	var m ConfigMap
	if err := c.do(ctx, http.MethodGet, c.path("configmaps", name), nil, &m); err != nil {
		return nil, err
	}
	return &m, nil
}

// PutConfigMap creates m, or replaces it as PutSecret does.
func (c *Client) PutConfigMap(ctx context.Context, m *ConfigMap) error {
	m.APIVersion, m.Kind, m.Metadata.Namespace = "v1", "ConfigMap", c.namespace
	if m.Metadata.ResourceVersion == "" {
		return c.do(ctx, http.MethodPost, c.path("configmaps", ""), m, m)
	}
	return c.do(ctx, http.MethodPut, c.path("configmaps", m.Metadata.Name), m, m)
}

// Patchable is a kind of object a step patches: its API group's version and its plural.
type Patchable struct{ groupVersion, resource string }

var (
	// Services are core v1 Services.
	Services = Patchable{"/api/v1", "services"}
	// EndpointSlices are discovery.k8s.io/v1 EndpointSlices.
	EndpointSlices = Patchable{"/apis/discovery.k8s.io/v1", "endpointslices"}
)

// MergePatch changes an object of the namespace by a JSON merge patch (RFC 7386: the patch's
// fields replace the object's, lists whole, null removes), which the API server applies in one
// write; ErrNotFound is not special here, a missing object is an error like any other.
func (c *Client) MergePatch(ctx context.Context, kind Patchable, name string, patch any) error {
	var patched map[string]any
	return c.send(ctx, http.MethodPatch, c.groupPath(kind.groupVersion, kind.resource, name),
		"application/merge-patch+json", patch, &patched)
}
