package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"ferry.local/dataplane/internal/restore"
	"ferry.local/dataplane/internal/secret"
)

// runRestore restores a physical copy into DATA_DIR before the destination's server starts on it,
// with the destination's account (DEST_USER, DEST_PASSWORD[_FILE], DEST_ACCOUNT_HOST, '%' unless
// set) set on it; RESTORE_SERVER_USER is the system user the server started on the copy runs as
// (root's own process: root).
//
// METHOD is the method the preflight decided for the run: a run copied logically (auto's choice)
// has nothing to restore, and its server starts on its own data directory for the import.
func runRestore(ctx context.Context) error {
	if os.Getenv("FERRY_BEACON") == "true" {
		// From the first line, whatever the method: the operator's watch of the restore ends when
		// it sees the step end, a logical run's restore too.
		id, key, store, err := runStore()
		if err != nil {
			return err
		}
		post(store, key, id, "restore")
	}
	switch method := os.Getenv("METHOD"); method {
	case "", "physical":
	case "logical":
		logf("run %s is copied logically (ferry:migration.method): nothing to restore; the server starts on its own data directory", os.Getenv("RUN_ID"))
		return nil
	default:
		return fmt.Errorf("METHOD must be logical or physical, not %q (ferry:migration.method)", method)
	}
	dataDir, err := requireEnv("DATA_DIR")
	if err != nil {
		return err
	}
	user, err := requireEnv("DEST_USER")
	if err != nil {
		return err
	}
	password, err := secret.FromEnvironment("DEST_PASSWORD")
	if err != nil {
		return err
	}
	if password == "" {
		return errors.New("the destination's password is not set (DEST_PASSWORD_FILE): the restored server's account needs one")
	}
	accountHost := os.Getenv("DEST_ACCOUNT_HOST")
	if accountHost == "" {
		accountHost = "%"
	}
	serverUser := os.Getenv("RESTORE_SERVER_USER")
	if serverUser == "" && os.Geteuid() == 0 {
		serverUser = "root"
	}
	patience, stall, every, err := downloadSettings()
	if err != nil {
		return err
	}
	prepareMemory, err := wholeNumber("PREPARE_MEMORY_MIB", 0, 0, 1<<20)
	if err != nil {
		return err
	}
	options := restore.Options{DataDir: dataDir,
		Account: restore.Account{User: user, Host: accountHost, Password: password}, Stack: os.Getenv("FERRY_STACK"),
		ServerUser: serverUser, PrepareMemoryMiB: prepareMemory, Patience: patience, Stall: stall, ProgressEvery: every,
		StreamTool: "mbstream", BackupTool: firstOnPath("mariadb-backup", "mariabackup"), ServerTool: firstOnPath("mariadbd", "mysqld"),
		Log: logf}
	if os.Getenv("FOLLOW_DUMP") == "true" {
		// Beside the dump: the copy is restored from its index, the run recorded once the manifest
		// names the same chunks.
		wait, err := seconds("FOLLOW_WAIT_SECONDS", 600)
		if err != nil {
			return err
		}
		manifestWait, err := seconds("MANIFEST_WAIT_SECONDS", 3600)
		if err != nil {
			return err
		}
		id, key, store, err := runStore()
		if err != nil {
			return err
		}
		options.RunKey, options.Store = key, store
		options.Follow = &restore.Follow{Run: storedRun(store, key, id), Wait: wait, ManifestWait: manifestWait, Poll: time.Second}
		return restore.Run(ctx, options)
	}
	r, err := openRun(ctx, "restore")
	if err != nil {
		return err
	}
	options.RunKey, options.Store, options.Manifest = r.key, r.store, r.manifest
	return restore.Run(ctx, options)
}
