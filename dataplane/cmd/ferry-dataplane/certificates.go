package main

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	"ferry.local/dataplane/internal/certs"
	"ferry.local/dataplane/internal/kubeapi"
)

// certificatesPolicy reads what the server's certificates must be: CERT_NAMES (the server's DNS
// names, space-separated, the first its common name), CERT_ISSUER, CERT_KEY_TYPE and
// CERT_VALIDITY_DAYS.
func certificatesPolicy() (certs.Policy, error) {
	names := strings.Fields(os.Getenv("CERT_NAMES"))
	if len(names) == 0 {
		return certs.Policy{}, fmt.Errorf("environment variable CERT_NAMES is not set")
	}
	keyType := certs.KeyType(os.Getenv("CERT_KEY_TYPE"))
	if !slices.Contains(certs.KeyTypes, keyType) {
		return certs.Policy{}, fmt.Errorf("CERT_KEY_TYPE must be one of %v, not %q", certs.KeyTypes, keyType)
	}
	days, err := wholeNumber("CERT_VALIDITY_DAYS", 365, 7, 3650)
	if err != nil {
		return certs.Policy{}, err
	}
	issuer, err := requireEnv("CERT_ISSUER")
	if err != nil {
		return certs.Policy{}, err
	}
	return certs.Policy{Names: names, Issuer: issuer, KeyType: keyType, Validity: time.Duration(days) * 24 * time.Hour}, nil
}

// runCertificates: in the destination cluster, as its own service account, keeps the server's CA
// and certificate in the namespace (CERT_CA_SECRET, CERT_SERVER_SECRET, CERT_PUBLIC_CONFIGMAP):
// made here on the first run, kept on the next, replaced when near their end or when the names or
// the key type change.
func runCertificates(ctx context.Context) error {
	policy, err := certificatesPolicy()
	if err != nil {
		return err
	}
	objects := certs.Objects{Labels: map[string]string{
		"app.kubernetes.io/part-of":   "ferry",
		"app.kubernetes.io/component": "tls",
	}}
	for name, into := range map[string]*string{
		"CERT_CA_SECRET": &objects.CASecret, "CERT_SERVER_SECRET": &objects.ServerSecret,
		"CERT_PUBLIC_CONFIGMAP": &objects.Public,
	} {
		if *into, err = requireEnv(name); err != nil {
			return err
		}
	}
	api, err := kubeapi.InCluster()
	if err != nil {
		return err
	}
	outcome, err := certs.Keep(ctx, api, objects, policy, time.Now())
	if err != nil {
		return err
	}
	say := func(what string, pair certs.Pair, why string) {
		if why == "" {
			logf("%s kept, valid until %s", what, pair.Cert.NotAfter.UTC().Format(time.RFC3339))
		} else {
			logf("%s made (%s), valid until %s", what, why, pair.Cert.NotAfter.UTC().Format(time.RFC3339))
		}
	}
	say("the CA", outcome.CA, outcome.CAIssued)
	say("the server certificate", outcome.Server, outcome.ServerIssued)
	logf("clients trust ConfigMap %s/%s key %s; the server's certificate sha256 %s",
		api.Namespace(), objects.Public, certs.KeyCACert, outcome.Fingerprint)
	return nil
}
