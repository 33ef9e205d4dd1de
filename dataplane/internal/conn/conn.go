// Package conn opens ferry's connections to a MySQL or MariaDB server with only ferry's settings:
// no option file is read (so an operator's ~/.my.cnf cannot redirect or reshape a session), the
// password comes from a file or the environment and goes nowhere else, and every session has the
// same time zone, character set and SQL mode on both sides of a migration.
package conn

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"database/sql"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"

	"ferry.local/dataplane/internal/secret"
)

// TLSMode says how a session protects its connection and what it checks of the server, with the
// meanings of MySQL's --ssl-mode.
type TLSMode string

const (
	// TLSDisabled speaks plaintext.
	TLSDisabled TLSMode = "disabled"
	// TLSRequired encrypts and checks nothing of the server's certificate.
	TLSRequired TLSMode = "required"
	// TLSVerifyCA encrypts and requires a certificate signed by the CA (any host name).
	TLSVerifyCA TLSMode = "verify-ca"
	// TLSVerifyIdentity encrypts and requires a certificate signed by the CA for the host dialled.
	TLSVerifyIdentity TLSMode = "verify-identity"
)

// Settings say how to reach one server.
type Settings struct {
	Host     string
	Port     string
	User     string
	Password string
	// TLS is how the connection is protected; "" is TLSDisabled.
	TLS TLSMode
	// CAFile names a PEM file of the certificates that may sign the server's; "" trusts the
	// system's. verify-ca needs one (the MySQL and MariaDB clients check a chain only against it).
	CAFile string
	// Socket, when set, is the server's Unix socket, dialled instead of Host and Port (a server
	// ferry started itself, without networking).
	Socket string
}

// FromEnvironment reads <PREFIX>_HOST, _PORT, _USER, the password from the file named by
// <PREFIX>_PASSWORD_FILE or else <PREFIX>_PASSWORD, which it then removes from the environment so
// no child process could inherit it, and <PREFIX>_TLS (a TLSMode, default disabled) with
// <PREFIX>_TLS_CA_FILE.
func FromEnvironment(prefix string) (Settings, error) {
	s := Settings{
		Host:   os.Getenv(prefix + "_HOST"),
		Port:   os.Getenv(prefix + "_PORT"),
		User:   os.Getenv(prefix + "_USER"),
		TLS:    TLSMode(os.Getenv(prefix + "_TLS")),
		CAFile: os.Getenv(prefix + "_TLS_CA_FILE"),
	}
	for _, name := range []string{"HOST", "PORT", "USER"} {
		if os.Getenv(prefix+"_"+name) == "" {
			return s, fmt.Errorf("environment variable %s_%s is not set", prefix, name)
		}
	}
	if err := s.checkTLS(); err != nil {
		return s, fmt.Errorf("%s_TLS: %w", prefix, err)
	}
	password, err := secret.FromEnvironment(prefix + "_PASSWORD")
	s.Password = password
	return s, err
}

func (s Settings) tlsMode() TLSMode {
	if s.TLS == "" {
		return TLSDisabled
	}
	return s.TLS
}

func (s Settings) checkTLS() error {
	switch s.tlsMode() {
	case TLSDisabled, TLSRequired:
		if s.CAFile != "" {
			return fmt.Errorf("a CA file is given while TLS is %s, which checks no certificate", s.tlsMode())
		}
	case TLSVerifyIdentity:
	case TLSVerifyCA:
		if s.CAFile == "" {
			return errors.New("verify-ca needs the CA's certificate (a CA file)")
		}
	default:
		return fmt.Errorf("%q is not one of disabled, required, verify-ca, verify-identity", s.TLS)
	}
	return nil
}

// tlsConfig is the Go client's configuration for s; nil for plaintext.
func (s Settings) tlsConfig() (*tls.Config, error) {
	if err := s.checkTLS(); err != nil {
		return nil, err
	}
	mode := s.tlsMode()
	if mode == TLSDisabled {
		return nil, nil
	}
	var roots *x509.CertPool
	if s.CAFile != "" {
		pem, err := os.ReadFile(s.CAFile)
		if err != nil {
			return nil, fmt.Errorf("reading the CA file: %w", err)
		}
		roots = x509.NewCertPool()
		if !roots.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("the CA file %s holds no PEM certificate", s.CAFile)
		}
	}
	config := &tls.Config{MinVersion: tls.VersionTLS12}
	switch mode {
	case TLSRequired:
		config.InsecureSkipVerify = true //nolint:gosec // required means encrypted, not verified
	case TLSVerifyCA:
		// Go checks a chain only together with a host name; verify-ca checks the chain alone.
		config.InsecureSkipVerify = true //nolint:gosec // the chain is verified below
		config.VerifyPeerCertificate = func(raw [][]byte, _ [][]*x509.Certificate) error {
			return verifyChain(raw, roots)
		}
	case TLSVerifyIdentity:
		config.RootCAs = roots
		config.ServerName = s.Host
	}
	return config, nil
}

// verifyChain checks that the server's certificate chains to roots, whatever name it carries.
func verifyChain(raw [][]byte, roots *x509.CertPool) error {
	if len(raw) == 0 {
		return errors.New("the server sent no certificate")
	}
	certificates := make([]*x509.Certificate, len(raw))
	for i, der := range raw {
		c, err := x509.ParseCertificate(der)
		if err != nil {
			return fmt.Errorf("the server's certificate cannot be read: %w", err)
		}
		certificates[i] = c
	}
	intermediates := x509.NewCertPool()
	for _, c := range certificates[1:] {
		intermediates.AddCert(c)
	}
	_, err := certificates[0].Verify(x509.VerifyOptions{
		Roots:         roots,
		Intermediates: intermediates,
		KeyUsages:     []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	})
	return err
}

// SessionSettings are set in every session ferry opens, on the source and the destination alike,
// so that values and definitions read the same on both: TIMESTAMPs in UTC, the server's default
// SQL mode (SHOW CREATE output depends on it), and utf8mb4 with a binary collation.
var SessionSettings = map[string]string{
	"time_zone": "'+00:00'",
	"sql_mode":  "''",
}

// Open returns a pool of sessions with ferry's settings.
func Open(s Settings) (*sql.DB, error) { return open(s, false) }

// OpenInterpolating is Open for statements the server does not prepare (CHANGE MASTER TO): the
// driver sends each argument inlined as a literal it escapes itself, for the session's SQL mode.
// Only statements whose text holds nothing but ferry's own words and one ? a value go through it.
func OpenInterpolating(s Settings) (*sql.DB, error) { return open(s, true) }

func open(s Settings, interpolate bool) (*sql.DB, error) {
	config := mysql.NewConfig()
	config.User = s.User
	config.Passwd = s.Password
	config.Net = "tcp"
	config.Addr = net.JoinHostPort(s.Host, s.Port)
	if s.Socket != "" {
		config.Net, config.Addr = "unix", s.Socket
	}
	config.Params = SessionSettings
	config.Collation = "utf8mb4_bin"
	config.Timeout = 10 * time.Second
	config.AllowNativePasswords = true
	config.InterpolateParams = interpolate
	config.MaxAllowedPacket = 0 // ask the server
	tlsConfig, err := s.tlsConfig()
	if err != nil {
		return nil, err
	}
	config.TLS = tlsConfig
	connector, err := mysql.NewConnector(config)
	if err != nil {
		return nil, err
	}
	return sql.OpenDB(connector), nil
}

// OpenFromEnvironment opens a pool with the settings FromEnvironment reads for prefix.
func OpenFromEnvironment(prefix string) (*sql.DB, error) {
	settings, err := FromEnvironment(prefix)
	if err != nil {
		return nil, err
	}
	return Open(settings)
}

// Lasting says whether a failed connection will fail the same way however long one waits: a
// refused login, a certificate the settings refuse, a server without TLS. Anything else (refused,
// reset, timed out) may be a server still starting.
func Lasting(err error) bool {
	text := err.Error()
	return strings.Contains(text, "Access denied") || strings.Contains(text, "x509:") ||
		strings.Contains(text, "does not support TLS")
}

// Explain turns a connection error into a sentence that names the config to fix.
func Explain(err error, role, key string) string {
	text := err.Error()
	switch {
	case strings.Contains(text, "does not support TLS"):
		return fmt.Sprintf("%s offers no TLS (%s); configure TLS on the server, or set %s.tls.mode to disabled to accept plaintext", role, text, key)
	case strings.Contains(text, "x509:"), strings.Contains(text, "tls:"):
		return fmt.Sprintf("%s refused the server's TLS certificate (%s); check %s.tls and its CA", role, text, key)
	case strings.Contains(text, "Access denied"):
		// MariaDB refuses a plaintext session to a server that requires TLS with the same words.
		return fmt.Sprintf("%s refused the login (%s); check %s.user and %s.password, and %s.tls if the server requires TLS", role, text, key, key, key)
	case strings.Contains(text, "connection refused"), strings.Contains(text, "no such host"),
		strings.Contains(text, "i/o timeout"), strings.Contains(text, "invalid connection"):
		return fmt.Sprintf("%s is unreachable (%s); check %s.host and %s.port and that the server is up", role, text, key, key)
	}
	return fmt.Sprintf("%s failed: %s", role, text)
}

// optionValue quotes a value for a MySQL option file. The client reads these escapes back inside
// double quotes; NUL is the one byte an option file cannot carry.
func optionValue(value string) (string, error) {
	if strings.ContainsRune(value, 0) {
		return "", fmt.Errorf("a value with a NUL byte cannot be passed to the MySQL client")
	}
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(value); i++ {
		switch c := value[i]; c {
		case '\\':
			b.WriteString(`\\`)
		case '"':
			b.WriteString(`\"`)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		case '\t':
			b.WriteString(`\t`)
		case '\b':
			b.WriteString(`\b`)
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('"')
	return b.String(), nil
}

// Flavor is whose client tools read an option file: MySQL's and MariaDB's spell TLS differently.
type Flavor string

const (
	MariaDB Flavor = "MariaDB"
	MySQL   Flavor = "MySQL"
)

// FlavorOf tells from a tool's --version output whose tool it is.
func FlavorOf(version string) Flavor {
	if strings.Contains(version, "MariaDB") {
		return MariaDB
	}
	return MySQL
}

// tlsOptions are the option lines that make flavor's tools protect and check the connection as
// the Go client does for s.
func (s Settings) tlsOptions(flavor Flavor) []struct{ name, value string } {
	type option = struct{ name, value string }
	var options []option
	mode := s.tlsMode()
	if flavor == MySQL {
		options = append(options, option{"ssl-mode", strings.ToUpper(strings.ReplaceAll(string(mode), "-", "_"))})
	} else {
		switch mode {
		case TLSDisabled:
			options = append(options, option{"skip-ssl", ""})
		case TLSRequired, TLSVerifyCA:
			// MariaDB's client checks the chain against an ssl-ca it is given (verify-ca has one,
			// required none), the name only with ssl-verify-server-cert.
			options = append(options, option{"ssl", ""}, option{"skip-ssl-verify-server-cert", ""})
		case TLSVerifyIdentity:
			options = append(options, option{"ssl", ""}, option{"ssl-verify-server-cert", ""})
		}
	}
	if s.CAFile != "" {
		options = append(options, option{"ssl-ca", s.CAFile})
	}
	return options
}

// ClientOptions is a [client] option group with the settings, for flavor's mariadb/mysql tools.
func ClientOptions(s Settings, flavor Flavor) (string, error) {
	if err := s.checkTLS(); err != nil {
		return "", err
	}
	var b strings.Builder
	b.WriteString("[client]\n")
	for _, option := range []struct{ name, value string }{
		{"host", s.Host}, {"port", s.Port}, {"user", s.User}, {"password", s.Password},
	} {
		quoted, err := optionValue(option.value)
		if err != nil {
			return "", fmt.Errorf("%s: %w", option.name, err)
		}
		b.WriteString(option.name + "=" + quoted + "\n")
	}
	b.WriteString("protocol=TCP\n")
	for _, option := range s.tlsOptions(flavor) {
		if option.value == "" {
			b.WriteString(option.name + "\n")
			continue
		}
		quoted, err := optionValue(option.value)
		if err != nil {
			return "", fmt.Errorf("%s: %w", option.name, err)
		}
		b.WriteString(option.name + "=" + quoted + "\n")
	}
	return b.String(), nil
}

// OpenSnapshots opens n sessions of db, each inside its own consistent snapshot, and reports each
// session's connection id to announce (so a dump can tell them from its own streams' sessions).
// On error the sessions opened so far are returned too, for the caller to close.
func OpenSnapshots(ctx context.Context, db *sql.DB, n int, announce func(id int64)) ([]*sql.Conn, error) {
	sessions := make([]*sql.Conn, 0, n)
	for i := 0; i < n; i++ {
		session, err := db.Conn(ctx)
		if err != nil {
			return sessions, err
		}
		sessions = append(sessions, session)
		for _, statement := range []string{
			"SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ",
			"START TRANSACTION WITH CONSISTENT SNAPSHOT",
		} {
			if _, err := session.ExecContext(ctx, statement); err != nil {
				return sessions, fmt.Errorf("opening a snapshot: %w", err)
			}
		}
		var id int64
		if err := session.QueryRowContext(ctx, "SELECT CONNECTION_ID()").Scan(&id); err != nil {
			return sessions, err
		}
		if announce != nil {
			announce(id)
		}
	}
	return sessions, nil
}

// CloseAll closes every session.
func CloseAll(sessions []*sql.Conn) {
	for _, s := range sessions {
		_ = s.Close()
	}
}

// CurrentGrantee is the session's user as information_schema's privilege tables name it
// ('user'@'host'), as an SQL expression to compare their GRANTEE column with.
const CurrentGrantee = "CONCAT('''', SUBSTRING_INDEX(CURRENT_USER(), '@', 1), '''@''', SUBSTRING_INDEX(CURRENT_USER(), '@', -1), '''')"

// ActiveRole is the session's active role, "" when none. Privileges a role gives are not listed
// under CurrentGrantee, so a check that reads them cannot conclude while one is active.
func ActiveRole(ctx context.Context, db *sql.DB) (string, error) {
	var role sql.NullString
	if err := db.QueryRowContext(ctx, "SELECT CURRENT_ROLE()").Scan(&role); err != nil {
		return "", err
	}
	return role.String, nil
}
