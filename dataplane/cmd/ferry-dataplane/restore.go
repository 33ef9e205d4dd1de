package main

import (
	"context"
	"errors"
	"os"

	"ferry.local/dataplane/internal/chunks"
	"ferry.local/dataplane/internal/restore"
	"ferry.local/dataplane/internal/secret"
)

// runRestore restores a physical copy into DATA_DIR before the destination's server starts on it,
// with the destination's account (DEST_USER, DEST_PASSWORD[_FILE], DEST_ACCOUNT_HOST, '%' unless
// set) set on it; RESTORE_SERVER_USER is the system user the server started on the copy runs as
// (root's own process: root).
func runRestore(ctx context.Context) error {
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
	patience, err := seconds("DOWNLOAD_PATIENCE_SECONDS", int(chunks.DefaultPatience.Seconds()))
	if err != nil {
		return err
	}
	stall, err := seconds("STALL_SECONDS", int(chunks.DefaultDownloadStall.Seconds()))
	if err != nil {
		return err
	}
	every, err := seconds("PROGRESS_SECONDS", 10)
	if err != nil {
		return err
	}
	r, err := openRun(ctx, "restore")
	if err != nil {
		return err
	}
	return restore.Run(ctx, restore.Options{RunKey: r.key, Manifest: r.manifest, Store: r.store, DataDir: dataDir,
		Account: restore.Account{User: user, Host: accountHost, Password: password}, Stack: os.Getenv("FERRY_STACK"),
		ServerUser: serverUser, Patience: patience, Stall: stall, ProgressEvery: every,
		StreamTool: "mbstream", BackupTool: firstOnPath("mariadb-backup", "mariabackup"), ServerTool: firstOnPath("mariadbd", "mysqld"),
		Log: logf})
}
