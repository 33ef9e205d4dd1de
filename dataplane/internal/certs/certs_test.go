package certs

import (
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var names = []string{"mysql", "mysql.ferry", "mysql.ferry.svc", "mysql.ferry.svc.cluster.local"}

func policy(t KeyType) Policy {
	return Policy{Names: names, Issuer: "ferry/mysql", KeyType: t, Validity: 365 * 24 * time.Hour}
}

var now = time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)

func verify(server *x509.Certificate, ca *x509.Certificate, name string, at time.Time) error {
	roots := x509.NewCertPool()
	roots.AddCert(ca)
	_, err := server.Verify(x509.VerifyOptions{DNSName: name, Roots: roots, CurrentTime: at})
	return err
}

func issue(t *testing.T, p Policy) (ca, server Pair) {
	t.Helper()
	ca, err := IssueCA(p, now)
	if err != nil {
		t.Fatal(err)
	}
	server, err = IssueServer(p, ca, now)
	if err != nil {
		t.Fatal(err)
	}
	return ca, server
}

func TestEveryKeyTypeVerifiesForEveryNameAndExpires(t *testing.T) {
	for _, keyType := range KeyTypes {
		t.Run(string(keyType), func(t *testing.T) {
			p := policy(keyType)
			ca, server := issue(t, p)
			if keyTypeOf(ca.Cert.PublicKey) != keyType || keyTypeOf(server.Cert.PublicKey) != keyType {
				t.Fatalf("keys are not %s", keyType)
			}
			for _, name := range names {
				if err := verify(server.Cert, ca.Cert, name, now); err != nil {
					t.Errorf("%s: %v", name, err)
				}
			}
			if err := verify(server.Cert, ca.Cert, "mysql.other", now); err == nil {
				t.Error("verified for a name it does not carry")
			}
			usage := x509.KeyUsageDigitalSignature
			if keyType == RSA2048 {
				usage |= x509.KeyUsageKeyEncipherment
			}
			if server.Cert.KeyUsage != usage || ca.Cert.KeyUsage != x509.KeyUsageCertSign|x509.KeyUsageCRLSign {
				t.Errorf("key usage: server %b, CA %b", server.Cert.KeyUsage, ca.Cert.KeyUsage)
			}
			if got := server.Cert.NotAfter.Sub(now); got != p.Validity {
				t.Errorf("server valid for %v, want %v", got, p.Validity)
			}
			if err := verify(server.Cert, ca.Cert, names[0], now.Add(p.Validity+time.Second)); err == nil {
				t.Error("verified after its end")
			}
			if ServerProblem(server, ca, p, now) != "" || CAProblem(ca, p, now) != "" {
				t.Errorf("fresh certificates have a problem: %q %q", ServerProblem(server, ca, p, now), CAProblem(ca, p, now))
			}
			// Another CA of the same policy does not vouch for this server.
			other, _ := issue(t, p)
			if err := verify(server.Cert, other.Cert, names[0], now); err == nil {
				t.Error("verified against another CA")
			}
			if ServerProblem(server, other, p, now) == "" {
				t.Error("a certificate of another CA is kept")
			}
		})
	}
}

// signWithCA makes a leaf as anyone holding the CA's key could, for names the server has not.
func signWithCA(t *testing.T, ca Pair, dns []string, ips []net.IP) *x509.Certificate {
	t.Helper()
	key, err := newKey(ECDSAP256)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.CreateCertificate(rand.Reader, &x509.Certificate{
		SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: "x"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour),
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, DNSNames: dns, IPAddresses: ips,
	}, ca.Cert, key.Public(), ca.Key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return cert
}

func TestTheCAVouchesForTheServersNamesOnly(t *testing.T) {
	ca, _ := issue(t, policy(ECDSAP256))
	for _, name := range []string{"bank.example", "mysql.other.svc", "ferry", "svc"} {
		leaf := signWithCA(t, ca, []string{name}, nil)
		if err := verify(leaf, ca.Cert, name, now); err == nil {
			t.Errorf("the CA vouched for %s", name)
		}
	}
	leaf := signWithCA(t, ca, []string{"mysql"}, []net.IP{net.ParseIP("10.0.0.1")})
	roots := x509.NewCertPool()
	roots.AddCert(ca.Cert)
	if _, err := leaf.Verify(x509.VerifyOptions{DNSName: "10.0.0.1", Roots: roots, CurrentTime: now}); err == nil {
		t.Error("the CA vouched for an address")
	}
	if !ca.Cert.PermittedDNSDomainsCritical || ca.Cert.MaxPathLen != 0 || !ca.Cert.MaxPathLenZero {
		t.Error("the CA's constraints are not critical, or it may make CAs")
	}
	// A CA below it is refused: the path length is zero.
	sub := signWithCAAsCA(t, ca)
	leafOfSub := signWithCA(t, sub, []string{"mysql"}, nil)
	intermediates := x509.NewCertPool()
	intermediates.AddCert(sub.Cert)
	if _, err := leafOfSub.Verify(x509.VerifyOptions{DNSName: "mysql", Roots: roots, Intermediates: intermediates, CurrentTime: now}); err == nil {
		t.Error("a CA the run's CA made vouched for the server")
	}
}

func signWithCAAsCA(t *testing.T, ca Pair) Pair {
	t.Helper()
	key, err := newKey(ECDSAP256)
	if err != nil {
		t.Fatal(err)
	}
	pair, err := sign(&x509.Certificate{
		Subject: pkix.Name{CommonName: "sub"}, NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}, key, &ca)
	if err != nil {
		t.Fatal(err)
	}
	return pair
}

func TestProblemsSayWhyACertificateIsReplaced(t *testing.T) {
	p := policy(ECDSAP256)
	ca, server := issue(t, p)
	renewAt := now.Add(p.Validity - p.Validity/3)
	cases := []struct {
		name   string
		ca     string
		server string
	}{
		{"just before a third is left", CAProblem(ca, p, renewAt.Add(-time.Second)), ServerProblem(server, ca, p, renewAt.Add(-time.Second))},
	}
	for _, c := range cases {
		if c.ca != "" || c.server != "" {
			t.Errorf("%s: replaced: %q %q", c.name, c.ca, c.server)
		}
	}
	for name, got := range map[string]string{
		"CA at a third left":           CAProblem(ca, p, renewAt.Add(time.Second)),
		"server at a third left":       ServerProblem(server, ca, p, renewAt.Add(time.Second)),
		"CA of another key type":       CAProblem(ca, policy(Ed25519), now),
		"server of another key type":   ServerProblem(server, ca, policy(Ed25519), now),
		"CA for other names":           CAProblem(ca, Policy{Names: names[:2], KeyType: ECDSAP256, Validity: p.Validity}, now),
		"server for other names":       ServerProblem(server, ca, Policy{Names: append([]string{"db"}, names...), KeyType: ECDSAP256, Validity: p.Validity}, now),
		"a server certificate as a CA": CAProblem(server, p, now),
	} {
		if got == "" {
			t.Errorf("%s: kept", name)
		}
	}
	// Names in another order are the same names.
	reordered := Policy{Names: []string{names[3], names[2], names[1], names[0]}, KeyType: ECDSAP256, Validity: p.Validity}
	if CAProblem(ca, reordered, now) != "" || ServerProblem(server, ca, reordered, now) != "" {
		t.Error("the same names in another order replace the certificates")
	}
}

func TestParsePairRefusesAKeyOfAnotherCertificate(t *testing.T) {
	ca, server := issue(t, policy(ECDSAP256))
	if _, err := ParsePair(server.CertPEM, server.KeyPEM); err != nil {
		t.Fatal(err)
	}
	if _, err := ParsePair(server.CertPEM, ca.KeyPEM); err == nil {
		t.Error("a certificate paired with another's key")
	}
	for _, bad := range [][2][]byte{
		{nil, server.KeyPEM}, {server.CertPEM, nil}, {server.KeyPEM, server.KeyPEM}, {server.CertPEM, server.CertPEM},
		{[]byte("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"), server.KeyPEM},
	} {
		if _, err := ParsePair(bad[0], bad[1]); err == nil {
			t.Errorf("parsed %q / %q", bad[0], bad[1])
		}
	}
}

func TestBundleKeepsEarlierCAsWhileValid(t *testing.T) {
	p := policy(ECDSAP256)
	old, _ := issue(t, p)
	current, _ := issue(t, p)
	bundle := Bundle(current.Cert, []*x509.Certificate{old.Cert, current.Cert}, now)
	got, err := ParseCertificates(bundle)
	if err != nil || len(got) != 2 || !got[0].Equal(current.Cert) || !got[1].Equal(old.Cert) {
		t.Fatalf("bundle: %v, %d certificates", err, len(got))
	}
	if got, _ := ParseCertificates(Bundle(current.Cert, []*x509.Certificate{old.Cert}, old.Cert.NotAfter)); len(got) != 1 {
		t.Errorf("an expired CA stays in the bundle: %d", len(got))
	}
	if _, err := ParseCertificates(append(bundle, old.KeyPEM...)); err == nil {
		t.Error("a key in a bundle is read as a certificate")
	}
}

// openssl, an independent implementation, verifies what crypto/x509 made, and refuses a name the
// CA may not sign for.
func TestOpensslVerifies(t *testing.T) {
	if _, err := exec.LookPath("openssl"); err != nil {
		t.Fatal("openssl is not on PATH: it checks the certificates independently (Debian package openssl)")
	}
	dir := t.TempDir()
	write := func(name string, content []byte) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, content, 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	for _, keyType := range KeyTypes {
		ca, server := issue(t, policy(keyType))
		caFile := write("ca.pem", ca.CertPEM)
		for _, name := range names {
			out, err := exec.Command("openssl", "verify", "-x509_strict", "-purpose", "sslserver", "-verify_hostname", name,
				"-attime", "1796558400", "-CAfile", caFile, write("server.pem", server.CertPEM)).CombinedOutput()
			if err != nil || !strings.Contains(string(out), ": OK") {
				t.Errorf("%s %s: %v %s", keyType, name, err, out)
			}
		}
		evil := signWithCA(t, ca, []string{"bank.example"}, nil)
		out, err := exec.Command("openssl", "verify", "-attime", "1796558400", "-CAfile", caFile,
			write("evil.pem", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: evil.Raw}))).CombinedOutput()
		if err == nil || !strings.Contains(string(out), "permitted subtree violation") {
			t.Errorf("%s: openssl took a certificate for another name: %v %s", keyType, err, out)
		}
	}
}
