package main

import (
	"context"
	"reflect"
	"strings"
	"testing"

	"ferry.local/dataplane/internal/kubeapi"
	"ferry.local/dataplane/internal/kubeapi/kubeapitest"
)

func TestForgetRemovesTheNamedSecretOnly(t *testing.T) {
	ctx := context.Background()
	api, client := kubeapitest.Start(t, "ferry-source", kubeapitest.Token)
	for _, name := range []string{"ferry-dump-credentials-1a2b", "an-application-secret"} {
		if err := client.PutSecret(ctx, &kubeapi.Secret{Metadata: kubeapi.Metadata{Name: name}}); err != nil {
			t.Fatal(err)
		}
	}
	api.TakeWrites()
	if err := forgetCredentials(ctx, client, "ferry-dump-credentials-1a2b"); err != nil {
		t.Fatal(err)
	}
	if writes := api.TakeWrites(); !reflect.DeepEqual(writes, []string{"DELETE secrets/ferry-dump-credentials-1a2b"}) {
		t.Fatalf("writes: %q", writes)
	}
	if _, err := client.Secret(ctx, "an-application-secret"); err != nil {
		t.Fatalf("another Secret was touched: %v", err)
	}
	// Run again (the Job's next pod, or a Job replaced after a refresh): already gone is done.
	if err := forgetCredentials(ctx, client, "ferry-dump-credentials-1a2b"); err != nil {
		t.Fatalf("a Secret already gone: %v", err)
	}
}

func TestForgetFailsNamingTheSecretWhenTheAPIRefuses(t *testing.T) {
	ctx := context.Background()
	api, _ := kubeapitest.Start(t, "ferry-source", kubeapitest.Token)
	// A token the API refuses (a Role missing, a token revoked): the step fails and says how to
	// remove the Secret by hand.
	refused := api.Client("ferry-source", func() (string, error) { return "not-the-token", nil })
	err := forgetCredentials(ctx, refused, "ferry-dump-credentials-1a2b")
	if err == nil || !strings.Contains(err.Error(), "401") || !strings.Contains(err.Error(), "kubectl delete secret -n ferry-source ferry-dump-credentials-1a2b") {
		t.Fatalf("err: %v", err)
	}
}
