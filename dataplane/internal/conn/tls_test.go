package conn

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

type authority struct {
	cert *x509.Certificate
	key  ed25519.PrivateKey
	pem  []byte
}

func newAuthority(t *testing.T, name string) authority {
	t.Helper()
	public, key, _ := ed25519.GenerateKey(rand.Reader)
	template := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: name},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, template, template, public, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	return authority{cert, key, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}
}

// serve answers TLS handshakes on loopback with a certificate for names, signed by ca.
func serve(t *testing.T, ca authority, names ...string) string {
	t.Helper()
	public, key, _ := ed25519.GenerateKey(rand.Reader)
	template := &x509.Certificate{
		SerialNumber: big.NewInt(2),
		Subject:      pkix.Name{CommonName: names[0]},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		DNSNames:     names,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, template, ca.cert, public, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	listener, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{
		Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { listener.Close() })
	go func() {
		for {
			c, err := listener.Accept()
			if err != nil {
				return
			}
			_ = c.(*tls.Conn).Handshake()
			c.Close()
		}
	}()
	return listener.Addr().String()
}

func caFile(t *testing.T, ca authority) string {
	path := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(path, ca.pem, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// handshake dials addr as host with the settings' TLS configuration.
func handshake(t *testing.T, s Settings, addr string) error {
	t.Helper()
	config, err := s.tlsConfig()
	if err != nil {
		return err
	}
	raw, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	return tls.Client(raw, config).Handshake()
}

func TestTLSModesCheckWhatTheySay(t *testing.T) {
	ca, other := newAuthority(t, "ferry run CA"), newAuthority(t, "someone else")
	addr := serve(t, ca, "mysql.ferry.svc")
	trusted, untrusted := caFile(t, ca), caFile(t, other)
	for _, c := range []struct {
		name     string
		settings Settings
		refused  string
	}{
		{"verify-identity, its CA, its name", Settings{Host: "mysql.ferry.svc", TLS: TLSVerifyIdentity, CAFile: trusted}, ""},
		{"verify-identity, its CA, another name", Settings{Host: "mysql.other.svc", TLS: TLSVerifyIdentity, CAFile: trusted}, "not mysql.other.svc"},
		{"verify-identity, another CA", Settings{Host: "mysql.ferry.svc", TLS: TLSVerifyIdentity, CAFile: untrusted}, "unknown authority"},
		{"verify-identity, the system's CAs", Settings{Host: "mysql.ferry.svc", TLS: TLSVerifyIdentity}, "unknown authority"},
		{"verify-ca, its CA, another name", Settings{Host: "10.0.0.9", TLS: TLSVerifyCA, CAFile: trusted}, ""},
		{"verify-ca, another CA", Settings{Host: "mysql.ferry.svc", TLS: TLSVerifyCA, CAFile: untrusted}, "unknown authority"},
		{"required, another CA", Settings{Host: "x", TLS: TLSRequired}, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := handshake(t, c.settings, addr)
			switch {
			case c.refused == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case c.refused != "" && err == nil:
				t.Fatal("accepted")
			case c.refused != "" && !strings.Contains(err.Error(), c.refused):
				t.Fatalf("refused for another reason: %v", err)
			}
		})
	}
}

func TestTLSSettingsThatContradictThemselvesAreRefused(t *testing.T) {
	for _, s := range []Settings{
		{TLS: "preferred"},
		{TLS: TLSVerifyCA},
		{TLS: TLSRequired, CAFile: "/ca.pem"},
		{TLS: TLSDisabled, CAFile: "/ca.pem"},
	} {
		if _, err := s.tlsConfig(); err == nil {
			t.Errorf("%+v accepted", s)
		}
		if _, err := ClientOptions(s, MariaDB); err == nil {
			t.Errorf("%+v accepted by ClientOptions", s)
		}
	}
}

func TestClientOptionsSayTheSameModeInEachFlavor(t *testing.T) {
	for _, c := range []struct {
		settings Settings
		flavor   Flavor
		lines    []string
	}{
		{Settings{}, MariaDB, []string{"skip-ssl"}},
		{Settings{TLS: TLSRequired}, MariaDB, []string{"ssl", "skip-ssl-verify-server-cert"}},
		{Settings{TLS: TLSVerifyCA, CAFile: "/c a.pem"}, MariaDB, []string{"ssl", "skip-ssl-verify-server-cert", `ssl-ca="/c a.pem"`}},
		{Settings{TLS: TLSVerifyIdentity, CAFile: "/ca.pem"}, MariaDB, []string{"ssl", "ssl-verify-server-cert", `ssl-ca="/ca.pem"`}},
		{Settings{TLS: TLSVerifyIdentity}, MySQL, []string{"ssl-mode=\"VERIFY_IDENTITY\""}},
		{Settings{}, MySQL, []string{"ssl-mode=\"DISABLED\""}},
	} {
		text, err := ClientOptions(Settings{Host: "h", Port: "1", User: "u", TLS: c.settings.TLS, CAFile: c.settings.CAFile}, c.flavor)
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(strings.TrimSpace(text), "\n")
		got := lines[6:] // after [client], host, port, user, password, protocol
		if strings.Join(got, "|") != strings.Join(c.lines, "|") {
			t.Errorf("%s %+v: %q, want %q", c.flavor, c.settings, got, c.lines)
		}
	}
}

func TestFlavorOfTheTools(t *testing.T) {
	if f := FlavorOf("mariadb-dump  Ver 10.19 Distrib 10.11.19-MariaDB, for debian-linux-gnu"); f != MariaDB {
		t.Error(f)
	}
	if f := FlavorOf("mysqldump  Ver 8.4.3 for Linux on x86_64 (MySQL Community Server - GPL)"); f != MySQL {
		t.Error(f)
	}
}

func TestACertificateRefusedIsNotWaitedOut(t *testing.T) {
	ca, other := newAuthority(t, "ferry run CA"), newAuthority(t, "someone else")
	addr := serve(t, ca, "mysql.ferry.svc")
	err := handshake(t, Settings{Host: "mysql.ferry.svc", TLS: TLSVerifyIdentity, CAFile: caFile(t, other)}, addr)
	if err == nil || !Lasting(err) {
		t.Fatalf("a refused certificate is waited out as if the server were starting: %v", err)
	}
	if !strings.Contains(Explain(err, "the source database", "ferry:source"), "check ferry:source.tls") {
		t.Errorf("the explanation does not name the setting: %s", Explain(err, "the source database", "ferry:source"))
	}
	if Lasting(errors.New("dial tcp 10.0.0.1:3306: connect: connection refused")) {
		t.Error("a server not listening yet is not waited for")
	}
}
