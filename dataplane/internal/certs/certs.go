// Package certs makes and keeps the TLS of the database ferry runs: a CA and a server certificate
// it signs, with crypto/x509 and keys drawn where they are kept (the destination cluster), never
// derived from anything another side holds.
//
// The CA may sign for the server's names only (name constraints, no IP address at all), so its key
// cannot vouch for another host even if it leaked; both certificates have a finite lifetime and are
// replaced, on the next run, once less than a third of it is left. A replaced CA stays in the trust
// bundle while it is valid, so a client that reloads the bundle never distrusts the server.
package certs

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"slices"
	"time"
)

// KeyType is the algorithm of both keys.
type KeyType string

// The key types ferry offers: ECDSA P-256 is what every MySQL and MariaDB client accepts.
const (
	ECDSAP256 KeyType = "ecdsa-p256"
	Ed25519   KeyType = "ed25519"
	RSA2048   KeyType = "rsa-2048"
)

// KeyTypes are the accepted values of KeyType, in the config's order.
var KeyTypes = []KeyType{ECDSAP256, Ed25519, RSA2048}

// Policy is what the certificates must be.
type Policy struct {
	// Names are the server's DNS names; the first is its common name. The CA may sign for
	// these (and names under them) only.
	Names []string
	// Issuer names the CA in its subject (the Service it belongs to).
	Issuer   string
	KeyType  KeyType
	Validity time.Duration
}

// renewWith is how much of a certificate's lifetime may be left before it is replaced.
func (p Policy) renewWith() time.Duration { return p.Validity / 3 }

// Pair is a certificate with its private key, parsed and as PEM.
type Pair struct {
	Cert    *x509.Certificate
	CertPEM []byte
	Key     crypto.Signer
	KeyPEM  []byte
}

// newKey draws a key of type t.
func newKey(t KeyType) (crypto.Signer, error) {
	switch t {
	case ECDSAP256:
		return ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case Ed25519:
		_, key, err := ed25519.GenerateKey(rand.Reader)
		return key, err
	case RSA2048:
		return rsa.GenerateKey(rand.Reader, 2048)
	}
	return nil, fmt.Errorf("key type %q is not one of %v", t, KeyTypes)
}

// keyTypeOf names the type of a public key, "" for one ferry does not make.
func keyTypeOf(public crypto.PublicKey) KeyType {
	switch k := public.(type) {
	case *ecdsa.PublicKey:
		if k.Curve == elliptic.P256() {
			return ECDSAP256
		}
	case ed25519.PublicKey:
		return Ed25519
	case *rsa.PublicKey:
		if k.N.BitLen() == 2048 {
			return RSA2048
		}
	}
	return ""
}

func serialNumber() (*big.Int, error) {
	return rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
}

// sign makes a certificate from template, signed by parent's key (the template's own key when
// parent is nil), and returns it with its key.
func sign(template *x509.Certificate, key crypto.Signer, parent *Pair) (Pair, error) {
	serial, err := serialNumber()
	if err != nil {
		return Pair{}, err
	}
	template.SerialNumber = serial
	issuerCert, issuerKey := template, key
	if parent != nil {
		issuerCert, issuerKey = parent.Cert, parent.Key
	}
	der, err := x509.CreateCertificate(rand.Reader, template, issuerCert, key.Public(), issuerKey)
	if err != nil {
		return Pair{}, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return Pair{}, err
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return Pair{}, err
	}
	return Pair{
		Cert:    cert,
		CertPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		Key:     key,
		KeyPEM:  pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}),
	}, nil
}

// everyAddress excludes every IP address from what the CA may sign for: the server is dialled by
// name.
var everyAddress = []*net.IPNet{
	{IP: net.IPv4zero.To4(), Mask: net.CIDRMask(0, 32)},
	{IP: net.IPv6zero, Mask: net.CIDRMask(0, 128)},
}

// IssueCA makes a new CA for p, valid from now (less a minute, for clocks behind this one).
func IssueCA(p Policy, now time.Time) (Pair, error) {
	if len(p.Names) == 0 {
		return Pair{}, errors.New("a CA needs at least one name to sign for")
	}
	key, err := newKey(p.KeyType)
	if err != nil {
		return Pair{}, err
	}
	return sign(&x509.Certificate{
		Subject:                     pkix.Name{Organization: []string{"ferry"}, CommonName: "ferry CA for " + p.Issuer},
		NotBefore:                   now.Add(-time.Minute),
		NotAfter:                    now.Add(p.Validity),
		IsCA:                        true,
		BasicConstraintsValid:       true,
		MaxPathLenZero:              true,
		KeyUsage:                    x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		PermittedDNSDomainsCritical: true,
		PermittedDNSDomains:         slices.Clone(p.Names),
		ExcludedIPRanges:            everyAddress,
	}, key, nil)
}

// IssueServer makes a new server certificate for p's names, signed by ca.
func IssueServer(p Policy, ca Pair, now time.Time) (Pair, error) {
	if len(p.Names) == 0 {
		return Pair{}, errors.New("a server certificate needs at least one name")
	}
	key, err := newKey(p.KeyType)
	if err != nil {
		return Pair{}, err
	}
	usage := x509.KeyUsageDigitalSignature
	if p.KeyType == RSA2048 {
		// RSA key exchange (TLS 1.2 without ECDHE) enciphers with the server's key.
		usage |= x509.KeyUsageKeyEncipherment
	}
	notAfter := now.Add(p.Validity)
	if notAfter.After(ca.Cert.NotAfter) {
		notAfter = ca.Cert.NotAfter
	}
	return sign(&x509.Certificate{
		Subject:               pkix.Name{Organization: []string{"ferry"}, CommonName: p.Names[0]},
		NotBefore:             now.Add(-time.Minute),
		NotAfter:              notAfter,
		BasicConstraintsValid: true,
		KeyUsage:              usage,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:              slices.Clone(p.Names),
	}, key, &ca)
}

// ParsePair reads a certificate and its key from PEM, and checks that they belong together.
func ParsePair(certPEM, keyPEM []byte) (Pair, error) {
	certBlock, _ := pem.Decode(certPEM)
	if certBlock == nil || certBlock.Type != "CERTIFICATE" {
		return Pair{}, errors.New("no PEM certificate")
	}
	cert, err := x509.ParseCertificate(certBlock.Bytes)
	if err != nil {
		return Pair{}, err
	}
	keyBlock, _ := pem.Decode(keyPEM)
	if keyBlock == nil || keyBlock.Type != "PRIVATE KEY" {
		return Pair{}, errors.New("no PEM PKCS #8 private key")
	}
	parsed, err := x509.ParsePKCS8PrivateKey(keyBlock.Bytes)
	if err != nil {
		return Pair{}, err
	}
	key, ok := parsed.(crypto.Signer)
	if !ok {
		return Pair{}, errors.New("the private key cannot sign")
	}
	public, ok := cert.PublicKey.(interface{ Equal(crypto.PublicKey) bool })
	if !ok || !public.Equal(key.Public()) {
		return Pair{}, errors.New("the private key is not the certificate's")
	}
	return Pair{Cert: cert, CertPEM: certPEM, Key: key, KeyPEM: keyPEM}, nil
}

// ParseCertificates reads every certificate of a PEM bundle.
func ParseCertificates(bundle []byte) ([]*x509.Certificate, error) {
	var out []*x509.Certificate
	for rest := bundle; ; {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			return nil, fmt.Errorf("a %s block in a certificate bundle", block.Type)
		}
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, err
		}
		out = append(out, cert)
	}
	return out, nil
}

func sameNames(a, b []string) bool {
	return slices.Equal(slices.Sorted(slices.Values(a)), slices.Sorted(slices.Values(b)))
}

// CAProblem says why ca cannot serve p any longer at now; "" when it can.
func CAProblem(ca Pair, p Policy, now time.Time) string {
	switch {
	case !ca.Cert.IsCA || !ca.Cert.BasicConstraintsValid:
		return "it is not a CA"
	case keyTypeOf(ca.Cert.PublicKey) != p.KeyType:
		return fmt.Sprintf("its key is not %s", p.KeyType)
	case !ca.Cert.PermittedDNSDomainsCritical || !sameNames(ca.Cert.PermittedDNSDomains, p.Names):
		return "it may sign for other names than the server's"
	case ca.Cert.NotAfter.Sub(now) < p.renewWith():
		return fmt.Sprintf("it expires %s", ca.Cert.NotAfter.UTC().Format(time.RFC3339))
	}
	return ""
}

// ServerProblem says why server cannot serve p any longer at now as a certificate ca signed;
// "" when it can.
func ServerProblem(server, ca Pair, p Policy, now time.Time) string {
	roots := x509.NewCertPool()
	roots.AddCert(ca.Cert)
	switch {
	case keyTypeOf(server.Cert.PublicKey) != p.KeyType:
		return fmt.Sprintf("its key is not %s", p.KeyType)
	case !sameNames(server.Cert.DNSNames, p.Names) || len(server.Cert.IPAddresses) > 0:
		return "it names other hosts than the server's"
	case server.Cert.NotAfter.Sub(now) < p.renewWith():
		return fmt.Sprintf("it expires %s", server.Cert.NotAfter.UTC().Format(time.RFC3339))
	}
	for _, name := range p.Names {
		if _, err := server.Cert.Verify(x509.VerifyOptions{
			DNSName: name, Roots: roots, CurrentTime: now,
			KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		}); err != nil {
			return fmt.Sprintf("it does not verify against the CA for %s: %v", name, err)
		}
	}
	return ""
}

// Bundle is the PEM of the certificates clients trust: the current CA first, then earlier ones
// still valid at now.
func Bundle(current *x509.Certificate, earlier []*x509.Certificate, now time.Time) []byte {
	var out bytes.Buffer
	out.Write(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: current.Raw}))
	for _, cert := range earlier {
		if cert.NotAfter.After(now) && !cert.Equal(current) {
			out.Write(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw}))
		}
	}
	return out.Bytes()
}
