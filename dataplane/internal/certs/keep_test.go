package certs

import (
	"context"
	"strings"
	"testing"
	"time"

	"ferry.local/dataplane/internal/kubeapi"
	"ferry.local/dataplane/internal/kubeapi/kubeapitest"
)

func newStore(t *testing.T) (*kubeapitest.API, *kubeapi.Client) {
	t.Helper()
	return kubeapitest.Start(t, "ferry", kubeapitest.Token)
}

var objects = Objects{CASecret: "mysql-ca-key", ServerSecret: "mysql-server-tls", Public: "mysql-ca", Labels: map[string]string{"app.kubernetes.io/part-of": "ferry"}}

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
	if got := api.TakeWrites(); strings.Join(got, ",") != "POST secrets/mysql-ca-key,POST secrets/mysql-server-tls,POST configmaps/mysql-ca" {
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
		if got := api.TakeWrites(); len(got) != 0 {
			t.Errorf("at %v an unchanged run wrote %v", at, got)
		}
	}
}

func TestKeepRenewsNearTheEndAndKeepsTheOldCATrusted(t *testing.T) {
	api, client := newStore(t)
	p := policy(ECDSAP256)
	first := keep(t, client, p, now)
	api.TakeWrites()
	later := now.Add(p.Validity - p.Validity/4)
	renewed := keep(t, client, p, later)
	if !strings.Contains(renewed.CAIssued, "expires") || renewed.ServerIssued == "" {
		t.Fatalf("not renewed: %+v", renewed)
	}
	if renewed.Fingerprint == first.Fingerprint {
		t.Error("the fingerprint did not change")
	}
	if got := api.TakeWrites(); len(got) != 3 {
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
	api.TakeWrites()
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
	_, wrongToken := kubeapitest.Start(t, "ferry", "stolen")
	_, err := Keep(context.Background(), wrongToken, objects, policy(ECDSAP256), now)
	if err == nil || !strings.Contains(err.Error(), "Secret mysql-ca-key") || !strings.Contains(err.Error(), "401") {
		t.Errorf("error: %v", err)
	}
}
