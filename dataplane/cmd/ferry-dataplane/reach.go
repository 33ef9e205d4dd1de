package main

import (
	"context"
	"database/sql"
	"fmt"
	"net"
	"strconv"
	"strings"

	"ferry.local/dataplane/internal/replica"
)

// runReach (live mode, beside the dump, before anything is imported): logs in to the source as
// the replication account, from the destination's side and over the replica's TLS, as the
// replica will, and checks the account may replicate. An address the destination's pods cannot
// reach, a certificate that does not name it, a refused account or one without REPLICATION SLAVE
// fails the run before the import, not after the copy; the stored dump is kept for the next up.
func runReach(ctx context.Context) error {
	source, err := replicationSource()
	if err != nil {
		return err
	}
	db, flavor, err := openReplicationSource(ctx, source)
	if err != nil {
		return err
	}
	defer db.Close()
	position, serverID, err := sourcePosition(ctx, db, flavor)
	if err != nil {
		return err
	}
	if err := mayReplicate(ctx, db, source); err != nil {
		return err
	}
	logf("the source at %s answers the replication account %s over verified TLS from the destination's side (server id %d, position %s)",
		sourceAddress(source), source.User, serverID, orNone(position))
	return nil
}

// mayReplicate refuses an account none of whose grants holds REPLICATION SLAVE (or ALL
// PRIVILEGES); an account given roles is let through, its roles' rights being the server's to
// resolve.
func mayReplicate(ctx context.Context, db *sql.DB, source replica.Source) error {
	rows, err := db.QueryContext(ctx, "SHOW GRANTS FOR CURRENT_USER()")
	if err != nil {
		return fmt.Errorf("reading the replication account's grants on the source: %v", err)
	}
	defer rows.Close()
	var grants []string
	for rows.Next() {
		var grant string
		if err := rows.Scan(&grant); err != nil {
			return err
		}
		grants = append(grants, grant)
	}
	if err := rows.Err(); err != nil {
		return err
	}
	if grantsReplication(grants) {
		return nil
	}
	return fmt.Errorf("the replication account %s may not replicate from the source at %s (no REPLICATION SLAVE among its grants); on the source: GRANT REPLICATION SLAVE ON *.* TO the account ferry:migration.live.replicationUser names", source.User, sourceAddress(source))
}

// grantsReplication reads SHOW GRANTS lines: REPLICATION SLAVE, ALL PRIVILEGES on *.*, or a role.
func grantsReplication(grants []string) bool {
	for _, grant := range grants {
		upper := strings.ToUpper(grant)
		onEverything := strings.Contains(upper, " ON *.* TO ")
		switch {
		case onEverything && (strings.Contains(upper, "REPLICATION SLAVE") || strings.Contains(upper, "ALL PRIVILEGES")):
			return true
		case !strings.Contains(upper, " ON "):
			// GRANT `role` TO `user`@`host`: the role may carry it.
			return true
		}
	}
	return false
}

// sourceAddress is the source as the destination dials it.
func sourceAddress(source replica.Source) string {
	return net.JoinHostPort(source.Host, strconv.Itoa(source.Port))
}
