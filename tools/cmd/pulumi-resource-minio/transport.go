package main

import (
	"crypto/tls"
	"net/http"
)

// insecureTransport skips certificate checks, for ferry:objectStore.insecureSkipVerify only.
func insecureTransport() http.RoundTripper {
	transport := http.DefaultTransport.(*http.Transport).Clone()
	transport.TLSClientConfig = &tls.Config{InsecureSkipVerify: true} //nolint:gosec // asked for by config
	return transport
}
