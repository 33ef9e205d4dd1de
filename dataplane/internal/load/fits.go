package load

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"ferry.local/dataplane/internal/conn"
	"ferry.local/dataplane/internal/digest"
	"ferry.local/dataplane/internal/manifest"
)

// fits refuses, before anything is written, a destination that would fail the import midway on
// a server setting: a max_allowed_packet below the dump's longest statement, or a binary log that
// refuses the dump's stored functions and triggers (log_bin_trust_function_creators off). Each
// refusal names the setting and its fix. The server ferry runs has both set; an existing one may not.
func fits(ctx context.Context, db *sql.DB, m manifest.Manifest) error {
	var packet int64
	var logBin, trust bool
	if err := db.QueryRowContext(ctx, "SELECT @@GLOBAL.max_allowed_packet, @@GLOBAL.log_bin, @@GLOBAL.log_bin_trust_function_creators").Scan(&packet, &logBin, &trust); err != nil {
		return fmt.Errorf("reading the destination's settings: %v", err)
	}
	var problems []string
	// A statement needs room for itself and the protocol's few bytes around it.
	if longest, stream := m.LongestLine(); longest+1024 > packet {
		problems = append(problems, packetProblem(packet, longest, stream))
	}
	// With the binary log on and log_bin_trust_function_creators off, the server refuses a function
	// that is neither DETERMINISTIC, NO SQL nor READS SQL DATA whoever creates it, and every
	// function and trigger to a user without SUPER; sql_log_bin = 0 (migration.writeBinlog false)
	// does not spare them the check.
	if logBin && !trust {
		var untrusted, functions, triggers int
		for _, o := range m.Digests {
			switch o.Kind {
			case digest.Function:
				functions++
				if o.NeedsTrust {
					untrusted++
				}
			case digest.Trigger:
				triggers++
			}
		}
		super, known := hasSuper(ctx, db)
		switch {
		case untrusted > 0:
			problems = append(problems, fmt.Sprintf("the destination has its binary log on and log_bin_trust_function_creators off, so it would refuse midway, whoever imports them, the dump's %d function(s) declared neither DETERMINISTIC, NO SQL nor READS SQL DATA: SET GLOBAL log_bin_trust_function_creators = 1 on the destination (and in its configuration)", untrusted))
		case functions+triggers > 0 && known && !super:
			problems = append(problems, fmt.Sprintf("the destination has its binary log on and log_bin_trust_function_creators off, so it would refuse midway the dump's %d function(s) and %d trigger(s) to a user without SUPER: SET GLOBAL log_bin_trust_function_creators = 1 on the destination (and in its configuration), or grant the importing user SUPER", functions, triggers))
		}
	}
	if len(problems) > 0 {
		return fmt.Errorf("the destination cannot take this dump as it is set; nothing was imported: %s", strings.Join(problems, "; "))
	}
	return nil
}

// packetProblem says that the destination's max_allowed_packet is too small for the dump's
// longest statement, and how to raise it.
func packetProblem(packet, longest int64, stream string) string {
	need := (longest + 1024 + 1<<20 - 1) / (1 << 20) * (1 << 20)
	return fmt.Sprintf("the destination's max_allowed_packet is %d bytes, less than the dump's longest statement needs (%d bytes, in stream %s): raise it on the destination (SET GLOBAL max_allowed_packet = %d, and in its configuration)",
		packet, longest, stream, need)
}

// hasSuper says whether the importing user holds SUPER; known is false when a role may give it.
func hasSuper(ctx context.Context, db *sql.DB) (super, known bool) {
	if role, err := conn.ActiveRole(ctx, db); err != nil || role != "" {
		return false, false
	}
	var n int
	err := db.QueryRowContext(ctx, "SELECT COUNT(*) FROM information_schema.USER_PRIVILEGES WHERE PRIVILEGE_TYPE = 'SUPER' AND GRANTEE = "+conn.CurrentGrantee).Scan(&n)
	return n > 0, err == nil
}
