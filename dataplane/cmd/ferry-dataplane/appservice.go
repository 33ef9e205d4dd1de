package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"

	"ferry.local/dataplane/internal/kubeapi"
)

// applicationService is the Service the applications reach the database by
// (migration.live.applicationService), in the destination database's namespace: until the cutover
// it has no selector and ferry's EndpointSlice sends it to the source; the cutover gives it the
// destination server's selector and empties that slice.
type applicationService struct {
	// Name is the Service's, Slice its ferry-owned EndpointSlice's.
	Name, Slice string
	// Selector is the destination server's pod labels, as its own Service selects them.
	Selector map[string]string
}

// applicationServiceFromEnvironment reads APPLICATION_SERVICE, APPLICATION_SERVICE_SLICE and
// APPLICATION_SERVICE_SELECTOR (a JSON object of labels); nil when the run has no such Service.
func applicationServiceFromEnvironment() (*applicationService, error) {
	name := os.Getenv("APPLICATION_SERVICE")
	if name == "" {
		return nil, nil
	}
	service := &applicationService{Name: name, Slice: os.Getenv("APPLICATION_SERVICE_SLICE")}
	if err := json.Unmarshal([]byte(os.Getenv("APPLICATION_SERVICE_SELECTOR")), &service.Selector); err != nil || service.Slice == "" || len(service.Selector) == 0 {
		return nil, fmt.Errorf("APPLICATION_SERVICE %s needs APPLICATION_SERVICE_SLICE and APPLICATION_SERVICE_SELECTOR (a JSON object of labels)", name)
	}
	return service, nil
}

// selectDestination sends the Service to the destination server: its selector first (the
// endpoints controller then lists the server's pod, and follows it across restarts), then ferry's
// slice to the source emptied, so no new connection goes to the source, which is read-only by now.
// Between the two a new connection may still reach the source and be refused as read-only, as
// during the rest of the window.
func (s applicationService) selectDestination(ctx context.Context, api *kubeapi.Client) error {
	if err := api.MergePatch(ctx, kubeapi.Services, s.Name, map[string]any{
		"spec": map[string]any{"selector": s.Selector},
	}); err != nil {
		return fmt.Errorf("giving Service %s the destination server's selector: %w", s.Name, err)
	}
	if err := api.MergePatch(ctx, kubeapi.EndpointSlices, s.Slice, map[string]any{
		"endpoints": []any{},
	}); err != nil {
		return fmt.Errorf("emptying EndpointSlice %s, which sends Service %s to the source: %w", s.Slice, s.Name, err)
	}
	return nil
}
