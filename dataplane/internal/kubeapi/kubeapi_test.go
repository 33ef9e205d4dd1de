package kubeapi_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"ferry.local/dataplane/internal/kubeapi"
	"ferry.local/dataplane/internal/kubeapi/kubeapitest"
)

var ctx = context.Background()

func TestSecretsAndConfigMapsRoundTrip(t *testing.T) {
	api, client := kubeapitest.Start(t, "ferry", kubeapitest.Token)
	if client.Namespace() != "ferry" {
		t.Fatalf("namespace %q", client.Namespace())
	}
	if _, err := client.Secret(ctx, "db-tls"); !errors.Is(err, kubeapi.ErrNotFound) {
		t.Fatalf("a missing Secret: %v", err)
	}
	if _, err := client.ConfigMap(ctx, "db-ca"); !errors.Is(err, kubeapi.ErrNotFound) {
		t.Fatalf("a missing ConfigMap: %v", err)
	}
	binary := []byte{0, 1, 2, 0xff, '\n', '"'}
	secret := &kubeapi.Secret{
		Metadata: kubeapi.Metadata{Name: "db-tls", Labels: map[string]string{"a": "b"}},
		Type:     "kubernetes.io/tls",
		Data:     map[string][]byte{"tls.key": binary},
	}
	if err := client.PutSecret(ctx, secret); err != nil {
		t.Fatal(err)
	}
	if secret.Metadata.ResourceVersion == "" || secret.Metadata.Namespace != "ferry" || secret.Kind != "Secret" || secret.APIVersion != "v1" {
		t.Fatalf("created Secret: %+v", secret.Metadata)
	}
	read, err := client.Secret(ctx, "db-tls")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(read.Data["tls.key"], binary) || read.Type != "kubernetes.io/tls" || read.Metadata.Labels["a"] != "b" {
		t.Fatalf("read back: %+v", read)
	}
	// Replaced at the version read; a second write at that version is refused, not lost.
	read.Data["tls.key"] = []byte("new")
	if err := client.PutSecret(ctx, read); err != nil {
		t.Fatal(err)
	}
	stale := &kubeapi.Secret{Metadata: kubeapi.Metadata{Name: "db-tls", ResourceVersion: secret.Metadata.ResourceVersion}}
	if err := client.PutSecret(ctx, stale); err == nil || !strings.Contains(err.Error(), "409") || !strings.Contains(err.Error(), "modified") {
		t.Errorf("a stale write: %v", err)
	}
	// A create of what exists is refused too.
	if err := client.PutSecret(ctx, &kubeapi.Secret{Metadata: kubeapi.Metadata{Name: "db-tls"}}); err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Errorf("a second create: %v", err)
	}
	config := &kubeapi.ConfigMap{Metadata: kubeapi.Metadata{Name: "db-ca"}, Data: map[string]string{"ca.crt": "PEM"}}
	if err := client.PutConfigMap(ctx, config); err != nil {
		t.Fatal(err)
	}
	config.Data["ca.crt"] = "PEM2"
	if err := client.PutConfigMap(ctx, config); err != nil {
		t.Fatal(err)
	}
	got, err := client.ConfigMap(ctx, "db-ca")
	if err != nil || got.Data["ca.crt"] != "PEM2" || got.Kind != "ConfigMap" {
		t.Fatalf("ConfigMap: %+v %v", got, err)
	}
	if writes := strings.Join(api.TakeWrites(), ","); writes != "POST secrets/db-tls,PUT secrets/db-tls,POST configmaps/db-ca,PUT configmaps/db-ca" {
		t.Errorf("writes: %s", writes)
	}
}

func TestRefusalsSayWhatWasRefused(t *testing.T) {
	api, _ := kubeapitest.Start(t, "ferry", kubeapitest.Token)
	stolen := api.Client("ferry", func() (string, error) { return "stolen", nil })
	_, err := stolen.Secret(ctx, "db-tls")
	if err == nil || errors.Is(err, kubeapi.ErrNotFound) || !strings.Contains(err.Error(), "GET /api/v1/namespaces/ferry/secrets/db-tls: 401 Unauthorized") {
		t.Errorf("a refused token: %v", err)
	}
	elsewhere := api.Client("kube-system", func() (string, error) { return kubeapitest.Token, nil })
	if err := elsewhere.PutSecret(ctx, &kubeapi.Secret{Metadata: kubeapi.Metadata{Name: "x"}}); err == nil || !strings.Contains(err.Error(), "403 forbidden") {
		t.Errorf("another namespace: %v", err)
	}
	unreadable := api.Client("ferry", func() (string, error) { return "", errors.New("no token file") })
	if _, err := unreadable.Secret(ctx, "x"); err == nil || !strings.Contains(err.Error(), "no token file") {
		t.Errorf("an unreadable token: %v", err)
	}
	_, client := kubeapitest.Start(t, "ferry", kubeapitest.Token)
	if err := client.PutConfigMap(ctx, &kubeapi.ConfigMap{Metadata: kubeapi.Metadata{Name: "db-ca", ResourceVersion: "7"}}); err == nil || !strings.Contains(err.Error(), "409") {
		t.Errorf("an update of a missing object: %v", err)
	}
}

func TestTheTokenIsReadForEveryRequest(t *testing.T) {
	api, _ := kubeapitest.Start(t, "ferry", kubeapitest.Token)
	calls := 0
	// The kubelet rotates the token file: each request reads it again.
	rotating := api.Client("ferry", func() (string, error) {
		calls++
		if calls == 1 {
			return "expired", nil
		}
		return kubeapitest.Token, nil
	})
	if _, err := rotating.Secret(ctx, "x"); err == nil || errors.Is(err, kubeapi.ErrNotFound) {
		t.Fatalf("an expired token: %v", err)
	}
	for range 2 {
		if _, err := rotating.Secret(ctx, "x"); !errors.Is(err, kubeapi.ErrNotFound) {
			t.Fatal(err)
		}
	}
	if calls != 3 {
		t.Errorf("token read %d times for 3 requests", calls)
	}
}

func TestInClusterNeedsThePodsEnvironment(t *testing.T) {
	t.Setenv("KUBERNETES_SERVICE_HOST", "")
	if _, err := kubeapi.InCluster(); err == nil || !strings.Contains(err.Error(), "KUBERNETES_SERVICE_HOST") {
		t.Errorf("outside a pod: %v", err)
	}
	t.Setenv("KUBERNETES_SERVICE_HOST", "10.96.0.1")
	t.Setenv("KUBERNETES_SERVICE_PORT", "443")
	if _, err := kubeapi.InCluster(); err == nil || !strings.Contains(err.Error(), "no service account token mounted") {
		t.Errorf("without a token: %v", err)
	}
}

func TestMergePatchesChangeOnlyWhatTheyName(t *testing.T) {
	api, client := kubeapitest.Start(t, "ferry", kubeapitest.Token)
	api.Seed("services", "app-db", map[string]any{"spec": map[string]any{"clusterIP": "10.96.0.9", "ports": []any{"mysql"}}})
	api.Seed("endpointslices", "app-db-ferry-source", map[string]any{"endpoints": []any{"10.90.0.2"}, "ports": []any{"mysql"}})
	if err := client.MergePatch(ctx, kubeapi.Services, "app-db", map[string]any{"spec": map[string]any{"selector": map[string]string{"app": "db"}}}); err != nil {
		t.Fatal(err)
	}
	if err := client.MergePatch(ctx, kubeapi.EndpointSlices, "app-db-ferry-source", map[string]any{"endpoints": []any{}}); err != nil {
		t.Fatal(err)
	}
	spec := api.Object("services", "app-db")["spec"].(map[string]any)
	if spec["clusterIP"] != "10.96.0.9" || spec["selector"].(map[string]any)["app"] != "db" || len(spec) != 3 {
		t.Errorf("service spec: %v", spec)
	}
	slice := api.Object("endpointslices", "app-db-ferry-source")
	if len(slice["endpoints"].([]any)) != 0 || len(slice["ports"].([]any)) != 1 {
		t.Errorf("slice: %v", slice)
	}
	if got := strings.Join(api.TakeWrites(), ", "); got != "PATCH services/app-db, PATCH endpointslices/app-db-ferry-source" {
		t.Errorf("writes: %s", got)
	}
	// A missing object is an error that names the request; so is another namespace.
	err := client.MergePatch(ctx, kubeapi.EndpointSlices, "gone", map[string]any{"endpoints": []any{}})
	if err == nil || !strings.Contains(err.Error(), "PATCH /apis/discovery.k8s.io/v1/namespaces/ferry/endpointslices/gone: 404") {
		t.Errorf("a missing slice: %v", err)
	}
	elsewhere := api.Client("kube-system", func() (string, error) { return kubeapitest.Token, nil })
	if err := elsewhere.MergePatch(ctx, kubeapi.Services, "app-db", map[string]any{}); err == nil || !strings.Contains(err.Error(), "PATCH /api/v1/namespaces/kube-system/services/app-db: 403") {
		t.Errorf("another namespace: %v", err)
	}
}
