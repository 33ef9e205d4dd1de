package main

import (
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestTransportTrustsTheCACertFile(t *testing.T) {
	server := httptest.NewTLSServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	defer server.Close()
	caFile := filepath.Join(t.TempDir(), "ca.crt")
	block := &pem.Block{Type: "CERTIFICATE", Bytes: server.Certificate().Raw}
	if err := os.WriteFile(caFile, pem.EncodeToMemory(block), 0o600); err != nil {
		t.Fatal(err)
	}
	get := func(caCertFile string, insecure bool) error {
		roundTripper, err := transport(caCertFile, insecure)
		if err != nil {
			return err
		}
		response, err := (&http.Client{Transport: roundTripper}).Get(server.URL)
		if err == nil {
			response.Body.Close()
		}
		return err
	}
	if err := get(caFile, false); err != nil {
		t.Errorf("with the store's CA: %v", err)
	}
	if err := get("", false); err == nil || !strings.Contains(err.Error(), "x509") {
		t.Errorf("with the system's CAs alone the test server's certificate must be refused, got %v", err)
	}
	if err := get("", true); err != nil {
		t.Errorf("minioInsecure: %v", err)
	}
	if err := get(filepath.Join(t.TempDir(), "absent.crt"), false); err == nil || !strings.Contains(err.Error(), "minioCacertFile") {
		t.Errorf("a missing CA file must be named, got %v", err)
	}
}
