package certs

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"ferry.local/dataplane/internal/kubeapi"
)

// Store is where the certificates are kept: the destination namespace's API (kubeapi.Client).
type Store interface {
	Secret(ctx context.Context, name string) (*kubeapi.Secret, error)
	PutSecret(ctx context.Context, s *kubeapi.Secret) error
	ConfigMap(ctx context.Context, name string) (*kubeapi.ConfigMap, error)
	PutConfigMap(ctx context.Context, m *kubeapi.ConfigMap) error
}

// Objects names what is kept, and the keys inside each.
type Objects struct {
	// CASecret holds the CA's key: read by this step only.
	CASecret string
	// ServerSecret holds the server's certificate, key and the trust bundle, as the server mounts
	// them (ServerKeys).
	ServerSecret string
	// Public is the ConfigMap applications read the trust bundle from.
	Public string
	Labels map[string]string
}

// Keys inside the objects: the server's Secret has the layout of a kubernetes.io/tls Secret with
// a ca.crt, which the server and the Jobs mount.
const (
	KeyCACert     = "ca.crt"
	KeyCAKey      = "ca.key"
	KeyEarlierCAs = "earlier-cas.crt"
	KeyCert       = "tls.crt"
	KeyKey        = "tls.key"
	KeyServerCert = "server.crt"
	KeyServerHash = "server.crt.sha256"
)

// Outcome is what Keep did.
type Outcome struct {
	// CAIssued and ServerIssued are why a certificate was made anew ("" when kept).
	CAIssued, ServerIssued string
	CA, Server             Pair
	// Fingerprint is the sha256 of the server certificate's PEM.
	Fingerprint string
}

// Keep makes sure the store holds a CA and a server certificate that serve p at now, making new
// ones only where the kept ones cannot, and the trust bundle beside them. Run again, it changes
// nothing until a certificate nears its end or p changes.
func Keep(ctx context.Context, store Store, objects Objects, p Policy, now time.Time) (Outcome, error) {
	var out Outcome
	caSecret, err := keptPair(ctx, store, objects, objects.CASecret, "Opaque", KeyCACert, KeyCAKey,
		&out.CA, &out.CAIssued, func(ca Pair) string { return CAProblem(ca, p, now) })
	if err != nil {
		return out, err
	}
	earlier := caSecret.Data[KeyEarlierCAs]
	if out.CAIssued != "" {
		if out.CA.Cert != nil {
			// The replaced CA stays trusted while it is valid.
			earlier = append(bytes.Clone(out.CA.CertPEM), earlier...)
		}
		if out.CA, err = IssueCA(p, now); err != nil {
			return out, fmt.Errorf("making the CA: %w", err)
		}
	}
	earlierCerts, err := ParseCertificates(earlier)
	if err != nil {
		return out, fmt.Errorf("the kept earlier CAs: %w", err)
	}
	bundle := Bundle(out.CA.Cert, earlierCerts, now)
	// Only the earlier CAs still valid are kept.
	earlier = bytes.TrimPrefix(bundle, out.CA.CertPEM)

	serverSecret, err := keptPair(ctx, store, objects, objects.ServerSecret, "kubernetes.io/tls", KeyCert, KeyKey,
		&out.Server, &out.ServerIssued, func(server Pair) string { return ServerProblem(server, out.CA, p, now) })
	if err != nil {
		return out, err
	}
	if out.ServerIssued != "" {
		if out.Server, err = IssueServer(p, out.CA, now); err != nil {
			return out, fmt.Errorf("making the server certificate: %w", err)
		}
	}
	sum := sha256.Sum256(out.Server.CertPEM)
	out.Fingerprint = hex.EncodeToString(sum[:])

	// The CA first: a server certificate is never kept without the key that signed it.
	if err := putSecretIfChanged(ctx, store, caSecret, map[string][]byte{
		KeyCACert: out.CA.CertPEM, KeyCAKey: out.CA.KeyPEM, KeyEarlierCAs: earlier,
	}); err != nil {
		return out, err
	}
	if err := putSecretIfChanged(ctx, store, serverSecret, map[string][]byte{
		KeyCert: out.Server.CertPEM, KeyKey: out.Server.KeyPEM, KeyCACert: bundle,
	}); err != nil {
		return out, err
	}
	return out, publish(ctx, store, objects, map[string]string{
		KeyCACert: string(bundle), KeyServerCert: string(out.Server.CertPEM), KeyServerHash: out.Fingerprint,
	})
}

// keptPair reads the Secret name and the certificate and key it holds into pair, and says in why
// what makes them unfit ("" when they serve, by problem); a Secret that is not there yet is
// returned empty, of type secretType, to be written.
func keptPair(ctx context.Context, store Store, objects Objects, name, secretType, certKey, keyKey string,
	pair *Pair, why *string, problem func(Pair) string) (*kubeapi.Secret, error) {
	secret, err := readSecret(ctx, store, name)
	if err != nil {
		return nil, err
	}
	if secret == nil {
		*why = "there is none"
		return &kubeapi.Secret{Metadata: kubeapi.Metadata{Name: name, Labels: objects.Labels}, Type: secretType}, nil
	}
	if *pair, err = ParsePair(secret.Data[certKey], secret.Data[keyKey]); err != nil {
		*why = "the kept one is unreadable: " + err.Error()
	} else {
		*why = problem(*pair)
	}
	return secret, nil
}

// publish writes what clients read into the public ConfigMap, unless it holds it already.
func publish(ctx context.Context, store Store, objects Objects, want map[string]string) error {
	public, err := store.ConfigMap(ctx, objects.Public)
	if errors.Is(err, kubeapi.ErrNotFound) {
		public, err = &kubeapi.ConfigMap{Metadata: kubeapi.Metadata{Name: objects.Public, Labels: objects.Labels}}, nil
	}
	if err != nil {
		return fmt.Errorf("reading ConfigMap %s: %w", objects.Public, err)
	}
	if sameStrings(public.Data, want) {
		return nil
	}
	public.Data = want
	if err := store.PutConfigMap(ctx, public); err != nil {
		return fmt.Errorf("writing ConfigMap %s: %w", objects.Public, err)
	}
	return nil
}

func readSecret(ctx context.Context, store Store, name string) (*kubeapi.Secret, error) {
	s, err := store.Secret(ctx, name)
	if errors.Is(err, kubeapi.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading Secret %s: %w", name, err)
	}
	return s, nil
}

func putSecretIfChanged(ctx context.Context, store Store, s *kubeapi.Secret, data map[string][]byte) error {
	same := len(s.Data) == len(data)
	for key, value := range data {
		if kept, ok := s.Data[key]; !ok || !bytes.Equal(kept, value) {
			same = false
		}
	}
	if same {
		return nil
	}
	s.Data = data
	if err := store.PutSecret(ctx, s); err != nil {
		return fmt.Errorf("writing Secret %s: %w", s.Metadata.Name, err)
	}
	return nil
}

func sameStrings(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for key, value := range b {
		if kept, ok := a[key]; !ok || kept != value {
			return false
		}
	}
	return true
}
