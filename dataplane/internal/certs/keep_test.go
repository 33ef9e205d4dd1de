package certs

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"ferry.local/dataplane/internal/kubeapi"
)

// fakeAPI is the part of the Kubernetes API the step uses: Secrets and ConfigMaps of one
// namespace, with resourceVersion conflicts and the bearer token checked.
type fakeAPI struct {
	mu      sync.Mutex
	objects map[string]map[string]any // "secrets/name" → object
	version int
	writes  []string
}

func (f *fakeAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if r.Header.Get("Authorization") != "Bearer the-token" {
		http.Error(w, `{"message":"Unauthorized"}`, http.StatusUnauthorized)
		return
	}
	path, ok := strings.CutPrefix(r.URL.Path, "/api/v1/namespaces/ferry/")
	if !ok {
		http.Error(w, `{"message":"forbidden: another namespace"}`, http.StatusForbidden)
		return
	}
	kind, name, _ := strings.Cut(path, "/")
	body := map[string]any{}
	if r.Method != http.MethodGet {
		content, _ := io.ReadAll(r.Body)
		if err := json.Unmarshal(content, &body); err != nil {
			http.Error(w, `{"message":"bad json"}`, http.StatusBadRequest)
			return
		}
		metadata := body["metadata"].(map[string]any)
		if r.Method == http.MethodPost {
			name = metadata["name"].(string)
		}
	}
	key := kind + "/" + name
	kept, exists := f.objects[key]
	switch r.Method {
	case http.MethodGet:
		if !exists {
			w.WriteHeader(http.StatusNotFound)
			_, _ = w.Write([]byte(`{"message":"` + key + ` not found","reason":"NotFound"}`))
			return
		}
		_ = json.NewEncoder(w).Encode(kept)
		return
	case http.MethodPost:
		if exists {
			w.WriteHeader(http.StatusConflict)
			_, _ = w.Write([]byte(`{"message":"already exists","reason":"AlreadyExists"}`))
			return
		}
	case http.MethodPut:
		sent := body["metadata"].(map[string]any)["resourceVersion"]
		if !exists || kept["metadata"].(map[string]any)["resourceVersion"] != sent {
			w.WriteHeader(http.StatusConflict)
			_, _ = w.Write([]byte(`{"message":"the object has been modified","reason":"Conflict"}`))
			return
		}
	}
	f.version++
	body["metadata"].(map[string]any)["resourceVersion"] = strconv.Itoa(f.version)
	f.objects[key] = body
	f.writes = append(f.writes, r.Method+" "+key)
	_ = json.NewEncoder(w).Encode(body)
}

func newStore(t *testing.T) (*fakeAPI, *kubeapi.Client) {
	t.Helper()
	api := &fakeAPI{objects: map[string]map[string]any{}}
	server := httptest.NewTLSServer(api)
	t.Cleanup(server.Close)
	return api, kubeapi.New(server.URL, "ferry", server.Client(), func() (string, error) { return "the-token", nil })
}

var objects = Objects{CASecret: "mysql-ca-key", ServerSecret: "mysql-server-tls", Public: "mysql-ca", Labels: map[string]string{"app.kubernetes.io/part-of": "ferry"}}

func (f *fakeAPI) takeWrites() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	w := f.writes
	f.writes = nil
	return w
}

func keep(t *testing.T, client *kubeapi.Client, p Policy, at time.Time) Outcome {
	t.Helper()
	out, err := Keep(context.Background(), client, objects, p, at)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestKeepMakesOnceThenChangesNothing(t *testing.T) {
	api, client := newStore(t)
	p := policy(ECDSAP256)
	first := keep(t, client, p, now)
	if first.CAIssued == "" || first.ServerIssued == "" {
		t.Fatalf("nothing made on the first run: %+v", first)
	}
	if got := api.takeWrites(); strings.Join(got, ",") != "POST secrets/mysql-ca-key,POST secrets/mysql-server-tls,POST configmaps/mysql-ca" {
		t.Fatalf("first run wrote %v", got)
	}
	ctx := context.Background()
	server, err := client.Secret(ctx, objects.ServerSecret)
	if err != nil {
		t.Fatal(err)
	}
	if server.Type != "kubernetes.io/tls" || server.Metadata.Labels["app.kubernetes.io/part-of"] != "ferry" {
		t.Errorf("server Secret: type %q labels %v", server.Type, server.Metadata.Labels)
	}
	pair, err := ParsePair(server.Data[KeyCert], server.Data[KeyKey])
	if err != nil {
		t.Fatal(err)
	}
	public, err := client.ConfigMap(ctx, objects.Public)
	if err != nil {
		t.Fatal(err)
	}
	trusted, err := ParseCertificates([]byte(public.Data[KeyCACert]))
	if err != nil || len(trusted) != 1 {
		t.Fatalf("public bundle: %v %d", err, len(trusted))
	}
	if err := verify(pair.Cert, trusted[0], names[2], now); err != nil {
		t.Errorf("the kept server certificate does not verify against the published CA: %v", err)
	}
	if public.Data[KeyServerHash] != first.Fingerprint || public.Data[KeyServerCert] != string(server.Data[KeyCert]) {
		t.Error("the ConfigMap does not carry the server certificate and its fingerprint")
	}
	if _, hasKey := public.Data[KeyCAKey]; hasKey {
		t.Error("the CA key is public")
	}
	// Runs later, well before a third of the lifetime is left: nothing is written.
	for _, at := range []time.Time{now, now.Add(30 * 24 * time.Hour), now.Add(p.Validity - p.Validity/3 - time.Hour)} {
		again := keep(t, client, p, at)
		if again.CAIssued != "" || again.ServerIssued != "" || again.Fingerprint != first.Fingerprint {
			t.Errorf("at %v: %+v", at, again)
		}
		if got := api.takeWrites(); len(got) != 0 {
			t.Errorf("at %v an unchanged run wrote %v", at, got)
		}
	}
}

func TestKeepRenewsNearTheEndAndKeepsTheOldCATrusted(t *testing.T) {
	api, client := newStore(t)
	p := policy(ECDSAP256)
	first := keep(t, client, p, now)
	api.takeWrites()
	later := now.Add(p.Validity - p.Validity/4)
	renewed := keep(t, client, p, later)
	if !strings.Contains(renewed.CAIssued, "expires") || renewed.ServerIssued == "" {
		t.Fatalf("not renewed: %+v", renewed)
	}
	if renewed.Fingerprint == first.Fingerprint {
		t.Error("the fingerprint did not change")
	}
	if got := api.takeWrites(); len(got) != 3 {
		t.Errorf("renewal wrote %v", got)
	}
	public, err := client.ConfigMap(context.Background(), objects.Public)
	if err != nil {
		t.Fatal(err)
	}
	trusted, err := ParseCertificates([]byte(public.Data[KeyCACert]))
	if err != nil || len(trusted) != 2 || !trusted[0].Equal(renewed.CA.Cert) || !trusted[1].Equal(first.CA.Cert) {
		t.Fatalf("bundle after renewal: %v, %d certificates", err, len(trusted))
	}
	if err := verify(renewed.Server.Cert, renewed.CA.Cert, names[0], later); err != nil {
		t.Error(err)
	}
	// Once the old CA has expired it leaves the bundle.
	keep(t, client, p, first.CA.Cert.NotAfter.Add(time.Hour))
	public, _ = client.ConfigMap(context.Background(), objects.Public)
	if trusted, _ := ParseCertificates([]byte(public.Data[KeyCACert])); len(trusted) != 1 {
		t.Errorf("an expired CA is still trusted: %d certificates", len(trusted))
	}
	// An expired certificate (nobody ran for longer than its lifetime) is replaced too.
	gone := keep(t, client, p, now.Add(5*p.Validity))
	if gone.CAIssued == "" || gone.ServerIssued == "" {
		t.Errorf("an expired certificate kept: %+v", gone)
	}
}

func TestKeepReplacesWhatNoLongerFits(t *testing.T) {
	api, client := newStore(t)
	p := policy(ECDSAP256)
	keep(t, client, p, now)
	api.takeWrites()
	// Another key type: both replaced.
	ed := keep(t, client, policy(Ed25519), now)
	if ed.CAIssued == "" || ed.ServerIssued == "" || keyTypeOf(ed.Server.Cert.PublicKey) != Ed25519 {
		t.Errorf("key type change: %+v", ed)
	}
	// A server key that is not its certificate's: the server certificate is made again.
	ctx := context.Background()
	s, err := client.Secret(ctx, objects.ServerSecret)
	if err != nil {
		t.Fatal(err)
	}
	caSecret, _ := client.Secret(ctx, objects.CASecret)
	s.Data[KeyKey] = caSecret.Data[KeyCAKey]
	if err := client.PutSecret(ctx, s); err != nil {
		t.Fatal(err)
	}
	fixed := keep(t, client, policy(Ed25519), now)
	if fixed.CAIssued != "" || !strings.Contains(fixed.ServerIssued, "unreadable") {
		t.Errorf("broken server key: %+v", fixed)
	}
	// A stale write is refused by the API, not silently lost.
	s.Data[KeyKey] = []byte("x")
	if err := client.PutSecret(ctx, s); err == nil || !strings.Contains(err.Error(), "409") {
		t.Errorf("a stale write: %v", err)
	}
}

func TestKeepSaysWhatTheAPIRefused(t *testing.T) {
	api := &fakeAPI{objects: map[string]map[string]any{}}
	server := httptest.NewTLSServer(api)
	defer server.Close()
	wrongToken := kubeapi.New(server.URL, "ferry", server.Client(), func() (string, error) { return "stolen", nil })
	_, err := Keep(context.Background(), wrongToken, objects, policy(ECDSAP256), now)
	if err == nil || !strings.Contains(err.Error(), "Secret mysql-ca-key") || !strings.Contains(err.Error(), "401") {
		t.Errorf("error: %v", err)
	}
}
