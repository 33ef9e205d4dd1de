package main

import (
	"context"
	"strings"
	"testing"

	"ferry.local/dataplane/internal/kubeapi/kubeapitest"
)

func seedApplicationService(api *kubeapitest.API) {
	api.Seed("services", "ledger-db", map[string]any{
		"apiVersion": "v1", "kind": "Service",
		"spec": map[string]any{
			"clusterIP": "10.96.0.42",
			"ports":     []any{map[string]any{"name": "mysql", "port": 3306.0, "targetPort": 3306.0}},
		},
	})
	api.Seed("endpointslices", "ledger-db-ferry", map[string]any{
		"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice", "addressType": "IPv4",
		"endpoints": []any{map[string]any{"addresses": []any{"10.90.0.2"}}},
		"ports":     []any{map[string]any{"name": "mysql", "port": 30306.0}},
	})
}

func TestTheApplicationServiceSelectsTheDestinationAndLeavesTheSource(t *testing.T) {
	api, client := kubeapitest.Start(t, "ferry-app", kubeapitest.Token)
	seedApplicationService(api)
	service := applicationService{Name: "ledger-db", Slice: "ledger-db-ferry",
		Selector: map[string]string{"app.kubernetes.io/component": "database", "app.kubernetes.io/managed-by": "ferry"}}
	if err := service.selectDestination(context.Background(), client); err != nil {
		t.Fatal(err)
	}
	// The selector first, then the slice: never a moment with neither server listed.
	if got := strings.Join(api.TakeWrites(), ", "); got != "PATCH services/ledger-db, PATCH endpointslices/ledger-db-ferry" {
		t.Fatalf("writes: %s", got)
	}
	spec := api.Object("services", "ledger-db")["spec"].(map[string]any)
	selector := spec["selector"].(map[string]any)
	if len(selector) != 2 || selector["app.kubernetes.io/component"] != "database" || selector["app.kubernetes.io/managed-by"] != "ferry" {
		t.Errorf("selector: %v", selector)
	}
	// The Service keeps its address and its port: the applications' connections go on by name.
	if spec["clusterIP"] != "10.96.0.42" || len(spec["ports"].([]any)) != 1 {
		t.Errorf("spec changed beyond the selector: %v", spec)
	}
	slice := api.Object("endpointslices", "ledger-db-ferry")
	if endpoints := slice["endpoints"].([]any); len(endpoints) != 0 {
		t.Errorf("the source is still listed: %v", endpoints)
	}
	if ports := slice["ports"].([]any); len(ports) != 1 {
		t.Errorf("the slice's ports changed: %v", ports)
	}
}

func TestASwitchThatCannotPatchSaysWhichObject(t *testing.T) {
	api, client := kubeapitest.Start(t, "ferry-app", kubeapitest.Token)
	seedApplicationService(api)
	missingSlice := applicationService{Name: "ledger-db", Slice: "gone", Selector: map[string]string{"a": "b"}}
	err := missingSlice.selectDestination(context.Background(), client)
	if err == nil || !strings.Contains(err.Error(), "emptying EndpointSlice gone, which sends Service ledger-db to the source") {
		t.Fatalf("error: %v", err)
	}
	missingService := applicationService{Name: "other", Slice: "ledger-db-ferry", Selector: map[string]string{"a": "b"}}
	err = missingService.selectDestination(context.Background(), client)
	if err == nil || !strings.Contains(err.Error(), "giving Service other the destination server's selector") {
		t.Fatalf("error: %v", err)
	}
	// Nothing was emptied after the Service could not be switched: the source stays listed.
	if endpoints := api.Object("endpointslices", "ledger-db-ferry")["endpoints"].([]any); len(endpoints) != 1 {
		t.Errorf("the source was unlisted though the Service was not switched: %v", endpoints)
	}
}

func TestTheApplicationServiceFromTheEnvironment(t *testing.T) {
	t.Setenv("APPLICATION_SERVICE", "")
	if service, err := applicationServiceFromEnvironment(); service != nil || err != nil {
		t.Fatalf("no Service asked: %v %v", service, err)
	}
	t.Setenv("APPLICATION_SERVICE", "ledger-db")
	t.Setenv("APPLICATION_SERVICE_SLICE", "ledger-db-ferry")
	t.Setenv("APPLICATION_SERVICE_SELECTOR", `{"app":"db"}`)
	service, err := applicationServiceFromEnvironment()
	if err != nil || service.Name != "ledger-db" || service.Slice != "ledger-db-ferry" || service.Selector["app"] != "db" || len(service.Selector) != 1 {
		t.Fatalf("%+v %v", service, err)
	}
	for _, selector := range []string{"", "{}", "[1]", `{"app":1}`} {
		t.Setenv("APPLICATION_SERVICE_SELECTOR", selector)
		if _, err := applicationServiceFromEnvironment(); err == nil {
			t.Errorf("selector %q accepted", selector)
		}
	}
	t.Setenv("APPLICATION_SERVICE_SELECTOR", `{"app":"db"}`)
	t.Setenv("APPLICATION_SERVICE_SLICE", "")
	if _, err := applicationServiceFromEnvironment(); err == nil {
		t.Error("no slice accepted")
	}
}
