package objstore

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/minio/minio-go/v7/pkg/signer"
)

// Admin is MinIO's admin API as the object store's administrator reaches it: only what ferry
// needs, which is to turn the run's bucket users on while a step needs them, and off after.
type Admin struct {
	access access
	client *http.Client
}

// AdminFromEnvironment reads the same settings as FromEnvironment but S3_BUCKET, for the
// administrator's credentials.
func AdminFromEnvironment() (*Admin, error) {
	a, err := accessFromEnvironment()
	if err != nil {
		return nil, err
	}
	return &Admin{access: a, client: &http.Client{Transport: a.transport}}, nil
}

// SetUserEnabled turns a user's credentials on or off: while off, every request signed with them
// is refused. The user stays (Pulumi deletes it with its stack or run), so both the real minio
// provider and ferry's find what they created.
func (a *Admin) SetUserEnabled(ctx context.Context, user string, enabled bool) error {
	status := "disabled"
	if enabled {
		status = "enabled"
	}
	query := url.Values{"accessKey": {user}, "status": {status}}
	target := *a.access.endpoint
	target.Path = "/minio/admin/v3/set-user-status"
	target.RawQuery = query.Encode()
	request, err := http.NewRequestWithContext(ctx, http.MethodPut, target.String(), http.NoBody)
	if err != nil {
		return err
	}
	empty := sha256.Sum256(nil)
	request.Header.Set("X-Amz-Content-Sha256", hex.EncodeToString(empty[:]))
	request = signer.SignV4(*request, a.access.accessKey, a.access.secretKey, "", "")
	response, err := a.client.Do(request)
	if err != nil {
		return fmt.Errorf("cannot reach the object store's admin API at %s: %v", a.access.endpoint.Host, err)
	}
	defer response.Body.Close()
	if response.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(io.LimitReader(response.Body, 2048))
		return fmt.Errorf("the object store refused to set user %s %s (HTTP %d): %s", user, status, response.StatusCode, strings.TrimSpace(string(body)))
	}
	return nil
}
