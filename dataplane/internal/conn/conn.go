// Package conn opens ferry's connections to a MySQL or MariaDB server with only ferry's settings:
// no option file is read (so an operator's ~/.my.cnf cannot redirect or reshape a session), the
// password comes from a file or the environment and goes nowhere else, and every session has the
// same time zone, character set and SQL mode on both sides of a migration.
package conn

import (
	"context"
	"database/sql"
	"fmt"
	"net"
	"os"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"

	"ferry.local/dataplane/internal/secret"
)

// Settings say how to reach one server.
type Settings struct {
	Host     string
	Port     string
	User     string
	Password string
}

// FromEnvironment reads <PREFIX>_HOST, _PORT, _USER and the password from the file named by
// <PREFIX>_PASSWORD_FILE or else <PREFIX>_PASSWORD, which it then removes from the environment so
// no child process could inherit it.
func FromEnvironment(prefix string) (Settings, error) {
	s := Settings{
		Host: os.Getenv(prefix + "_HOST"),
		Port: os.Getenv(prefix + "_PORT"),
		User: os.Getenv(prefix + "_USER"),
	}
	for _, name := range []string{"HOST", "PORT", "USER"} {
		if os.Getenv(prefix+"_"+name) == "" {
			return s, fmt.Errorf("environment variable %s_%s is not set", prefix, name)
		}
	}
	password, err := secret.FromEnvironment(prefix + "_PASSWORD")
	s.Password = password
	return s, err
}

// SessionSettings are set in every session ferry opens, on the source and the destination alike,
// so that values and definitions read the same on both: TIMESTAMPs in UTC, the server's default
// SQL mode (SHOW CREATE output depends on it), and utf8mb4 with a binary collation.
var SessionSettings = map[string]string{
	"time_zone": "'+00:00'",
	"sql_mode":  "''",
}

// Open returns a pool of sessions with ferry's settings.
func Open(s Settings) (*sql.DB, error) {
	config := mysql.NewConfig()
	config.User = s.User
	config.Passwd = s.Password
	config.Net = "tcp"
	config.Addr = net.JoinHostPort(s.Host, s.Port)
	config.Params = SessionSettings
	config.Collation = "utf8mb4_bin"
	config.Timeout = 10 * time.Second
	config.AllowNativePasswords = true
	config.InterpolateParams = false
	config.MaxAllowedPacket = 0 // ask the server
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

// Explain turns a connection error into a sentence that names the config to fix.
func Explain(err error, role, key string) string {
	text := err.Error()
	switch {
	case strings.Contains(text, "Access denied"):
		return fmt.Sprintf("%s refused the login (%s); check %s.user and %s.password", role, text, key, key)
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

// ClientOptions is a [client] option group with the settings, for the mariadb/mysql tools.
func ClientOptions(s Settings) (string, error) {
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
