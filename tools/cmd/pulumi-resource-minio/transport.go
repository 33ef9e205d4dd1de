package main

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net/http"
	"os"
)

// transport is how the provider's clients reach an https store, as the real provider's
// minioCacertFile and minioInsecure say: the system's CAs and the CA file's certificates, or
// (ferry:objectStore.insecureSkipVerify only) no check at all.
func transport(caCertFile string, insecure bool) (http.RoundTripper, error) {
	base := http.DefaultTransport.(*http.Transport).Clone()
	config := &tls.Config{MinVersion: tls.VersionTLS12}
	switch {
	case insecure:
		config.InsecureSkipVerify = true //nolint:gosec // asked for by config
	case caCertFile != "":
		pem, err := os.ReadFile(caCertFile)
		if err != nil {
			return nil, fmt.Errorf("minioCacertFile: %w", err)
		}
		roots, err := x509.SystemCertPool()
		if err != nil {
			roots = x509.NewCertPool()
		}
		if !roots.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("minioCacertFile %s holds no PEM certificate", caCertFile)
		}
		config.RootCAs = roots
	}
	base.TLSClientConfig = config
	return base, nil
}
