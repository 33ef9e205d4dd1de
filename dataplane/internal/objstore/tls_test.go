package objstore

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// An https store whose bucket ferry-tls holds nothing: every object is "no such key". A finished
// handshake is all a test needs to see, and Exists tells it from a refused one.
func tlsStore(t *testing.T) *httptest.Server {
	t.Helper()
	server := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.Trim(r.URL.Path, "/") == "ferry-tls" {
			if r.URL.Query().Has("location") {
				_, _ = io.WriteString(w, `<LocationConstraint xmlns="http://s3.amazonaws.com/doc/2006-03-01/">us-east-1</LocationConstraint>`)
			}
			return
		}
		w.WriteHeader(http.StatusNotFound)
	}))
	t.Cleanup(server.Close)
	return server
}

// otherCA is a CA's certificate (PEM) for the same address that signed nothing the store serves.
func otherCA(t *testing.T) string {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	template := &x509.Certificate{
		SerialNumber:          big.NewInt(7),
		Subject:               pkix.Name{CommonName: "another CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign,
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
	}
	der, err := x509.CreateCertificate(rand.Reader, template, template, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
}

func certificatePEM(server *httptest.Server) string {
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: server.Certificate().Raw}))
}

// openAt reads the store's settings as a step does, with endpoint and CA/insecure settings given.
func openAt(t *testing.T, endpoint, caCert, insecure string) (*Store, error) {
	t.Setenv("S3_ENDPOINT", endpoint)
	t.Setenv("S3_ACCESS_KEY", "ferry-test")
	t.Setenv("S3_SECRET_KEY", "ferry-test-secret")
	t.Setenv("S3_BUCKET", "ferry-tls")
	t.Setenv("S3_CA_CERT", caCert)
	t.Setenv("S3_INSECURE", insecure)
	return FromEnvironment()
}

func TestTLSToTheStore(t *testing.T) {
	server := tlsStore(t)
	other := otherCA(t)
	// httptest's certificate names 127.0.0.1 and example.com, not localhost.
	byOtherName := strings.Replace(server.URL, "127.0.0.1", "localhost", 1)
	cases := []struct {
		name, endpoint, caCert, insecure string
		refused                          bool
	}{
		{"its CA", server.URL, certificatePEM(server), "false", false},
		{"the system's CAs", server.URL, "", "false", true},
		{"another CA", server.URL, other, "false", true},
		{"its CA, another name", byOtherName, certificatePEM(server), "false", true},
		{"no check, as asked", server.URL, "", "true", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			store, err := openAt(t, c.endpoint, c.caCert, c.insecure)
			if err != nil {
				t.Fatal(err)
			}
			_, err = store.Exists(context.Background(), "manifest")
			if !c.refused {
				if err != nil {
					t.Fatalf("the handshake should pass: %v", err)
				}
				return
			}
			var refused *TLSError
			if !errors.As(err, &refused) || !Lasting(err) {
				t.Fatalf("want a lasting TLSError, got %T %v", err, err)
			}
			if !strings.Contains(err.Error(), "ferry:objectStore.caCert") {
				t.Errorf("the message should name the config to fix: %v", err)
			}
		})
	}
}

func TestTLSSettingsRefused(t *testing.T) {
	server := tlsStore(t)
	for name, c := range map[string]struct{ caCert, insecure, want string }{
		"CA and no check": {certificatePEM(server), "true", "contradict"},
		"not PEM":         {"-----BEGIN CERTIFICATE-----\nnot base64\n", "false", "no PEM certificate"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := openAt(t, server.URL, c.caCert, c.insecure)
			if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "ferry:objectStore") {
				t.Fatalf("want an error with %q naming the config, got %v", c.want, err)
			}
		})
	}
}
