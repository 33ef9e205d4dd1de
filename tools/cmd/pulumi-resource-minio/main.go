// Command pulumi-resource-minio is ferry's build of the `minio` resource provider, for the parts of
// the @pulumi/minio SDK (0.17) that ferry uses: S3Bucket, IlmPolicy, IamUser, IamPolicy and
// IamUserPolicyAttachment, against MinIO's S3 and admin APIs.
//
// Pulumi's provider (github.com/pulumi/pulumi-minio/provider) is not served by the Go module proxy
// this project can reach, and the Terraform provider it bridges is not to be used here, so ferry
// builds this one on minio-go and madmin-go. Properties it does not know are refused in Check
// rather than silently ignored.
package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/big"
	"os"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"ferry.local/tools/internal/property"
	"github.com/blang/semver"
	"github.com/minio/madmin-go/v3"
	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
	"github.com/minio/minio-go/v7/pkg/lifecycle"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource/plugin"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi/provider"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
)

// version is set at build time to the @pulumi/minio version the plugin answers for.
var version = "0.17.1"

const (
	bucketType     = "minio:index/s3Bucket:S3Bucket"
	ilmType        = "minio:index/ilmPolicy:IlmPolicy"
	userType       = "minio:index/iamUser:IamUser"
	policyType     = "minio:index/iamPolicy:IamPolicy"
	attachmentType = "minio:index/iamUserPolicyAttachment:IamUserPolicyAttachment"
)

// known lists each type's input properties; anything else is refused so nothing is ignored silently.
var known = map[string]map[resource.PropertyKey]bool{
	bucketType:     keys("bucket", "bucketPrefix", "acl", "forceDestroy"),
	ilmType:        keys("bucket", "rules"),
	userType:       keys("name", "secret", "forceDestroy", "disableUser"),
	policyType:     keys("name", "namePrefix", "policy"),
	attachmentType: keys("userName", "policyName"),
}

// replaceOn lists the inputs whose change needs a new resource.
var replaceOn = map[string]map[resource.PropertyKey]bool{
	bucketType:     keys("bucket", "bucketPrefix"),
	ilmType:        keys("bucket"),
	userType:       keys("name"),
	policyType:     keys("name", "namePrefix"),
	attachmentType: keys("userName", "policyName"),
}

func keys(names ...string) map[resource.PropertyKey]bool {
	set := map[resource.PropertyKey]bool{}
	for _, name := range names {
		set[resource.PropertyKey(name)] = true
	}
	return set
}

type minioProvider struct {
	plugin.UnimplementedProvider
	s3    *minio.Client
	admin *madmin.AdminClient
}

func main() {
	err := provider.Main("minio", func(*provider.HostClient) (pulumirpc.ResourceProviderServer, error) {
		return plugin.NewProviderServer(&minioProvider{}), nil
	})
	if err != nil {
		fmt.Fprintf(os.Stderr, "pulumi-resource-minio: %v\n", err)
		os.Exit(1)
	}
}

func (p *minioProvider) GetPluginInfo(context.Context) (plugin.PluginInfo, error) {
	v := semver.MustParse(version)
	return plugin.PluginInfo{Version: &v}, nil
}

func (p *minioProvider) GetSchema(context.Context, plugin.GetSchemaRequest) (plugin.GetSchemaResponse, error) {
	return plugin.GetSchemaResponse{Schema: []byte(fmt.Sprintf(`{"name":"minio","version":%q}`, version))}, nil
}

func (p *minioProvider) CheckConfig(_ context.Context, req plugin.CheckConfigRequest) (plugin.CheckConfigResponse, error) {
	return plugin.CheckConfigResponse{Properties: req.News}, nil
}

func (p *minioProvider) DiffConfig(_ context.Context, req plugin.DiffConfigRequest) (plugin.DiffConfigResponse, error) {
	diff := req.OldInputs.Diff(req.NewInputs)
	if diff == nil || !diff.AnyChanges() {
		return plugin.DiffResult{Changes: plugin.DiffNone}, nil
	}
	return plugin.DiffResult{Changes: plugin.DiffSome, ChangedKeys: diff.ChangedKeys()}, nil
}

func (p *minioProvider) Configure(_ context.Context, req plugin.ConfigureRequest) (plugin.ConfigureResponse, error) {
	args := req.Inputs
	server := property.Text(args, "minioServer")
	user := property.Text(args, "minioUser")
	if user == "" {
		user = property.Text(args, "minioAccessKey")
	}
	password := property.Text(args, "minioPassword")
	if password == "" {
		password = property.Text(args, "minioSecretKey")
	}
	if server == "" || user == "" || password == "" {
		return plugin.ConfigureResponse{}, fmt.Errorf("the minio provider needs minioServer, minioUser and minioPassword")
	}
	useTLS := property.Flag(args, "minioSsl")
	region := property.Text(args, "minioRegion")
	if region == "" {
		region = "us-east-1"
	}
	roundTripper, err := transport(property.Text(args, "minioCacertFile"), property.Flag(args, "minioInsecure"))
	if err != nil {
		return plugin.ConfigureResponse{}, err
	}
	options := &minio.Options{Creds: credentials.NewStaticV4(user, password, ""), Secure: useTLS, Region: region, Transport: roundTripper}
	s3, err := minio.New(server, options)
	if err != nil {
		return plugin.ConfigureResponse{}, fmt.Errorf("minio client for %s: %w", server, err)
	}
	admin, err := madmin.New(server, user, password, useTLS)
	if err != nil {
		return plugin.ConfigureResponse{}, fmt.Errorf("minio admin client for %s: %w", server, err)
	}
	admin.SetCustomTransport(roundTripper)
	p.s3, p.admin = s3, admin
	return plugin.ConfigureResponse{}, nil
}

func (p *minioProvider) Check(_ context.Context, req plugin.CheckRequest) (plugin.CheckResponse, error) {
	allowed, ok := known[string(req.Type)]
	if !ok {
		return plugin.CheckResponse{}, fmt.Errorf("unknown resource type %s", req.Type)
	}
	var failures []plugin.CheckFailure
	for key := range req.News {
		if !allowed[key] && !strings.HasPrefix(string(key), "__") {
			failures = append(failures, plugin.CheckFailure{Property: key, Reason: "not supported by ferry's minio provider"})
		}
	}
	return plugin.CheckResponse{Properties: req.News, Failures: failures}, nil
}

func (p *minioProvider) Diff(_ context.Context, req plugin.DiffRequest) (plugin.DiffResponse, error) {
	diff := req.OldInputs.Diff(req.NewInputs)
	if diff == nil || !diff.AnyChanges() {
		return plugin.DiffResult{Changes: plugin.DiffNone}, nil
	}
	result := plugin.DiffResult{Changes: plugin.DiffSome, ChangedKeys: diff.ChangedKeys()}
	for _, key := range result.ChangedKeys {
		if replaceOn[string(req.Type)][key] {
			result.ReplaceKeys = append(result.ReplaceKeys, key)
		}
	}
	return result, nil
}

// Read asks the server what it holds (pulumi refresh, and an up with --refresh): a resource that is
// gone is reported gone (an empty ID), so the next up creates it again; a user's status, a policy's
// document and a bucket's lifecycle rules are what the server says.
func (p *minioProvider) Read(ctx context.Context, req plugin.ReadRequest) (plugin.ReadResponse, error) {
	state, inputs := req.State.Copy(), req.Inputs.Copy()
	gone := plugin.ReadResponse{ReadResult: plugin.ReadResult{}}
	if p.s3 == nil {
		return plugin.ReadResponse{}, fmt.Errorf("the minio provider is not configured")
	}
	switch string(req.Type) {
	case bucketType:
		exists, err := p.s3.BucketExists(ctx, string(req.ID))
		if err != nil {
			return plugin.ReadResponse{}, fmt.Errorf("reading bucket %s: %w", req.ID, err)
		}
		if !exists {
			return gone, nil
		}
	case ilmType:
		config, err := p.s3.GetBucketLifecycle(ctx, string(req.ID))
		if err != nil {
			code := minio.ToErrorResponse(err).Code
			if code == "NoSuchBucket" || code == "NoSuchLifecycleConfiguration" {
				return gone, nil
			}
			return plugin.ReadResponse{}, fmt.Errorf("reading the lifecycle of bucket %s: %w", req.ID, err)
		}
		rules := lifecycleRules(config)
		if len(rules) == 0 {
			return gone, nil
		}
		if !sameRules(rules, property.List(state, "rules")) {
			state["rules"], inputs["rules"] = resource.NewArrayProperty(rules), resource.NewArrayProperty(rules)
		}
	case userType:
		info, err := p.admin.GetUserInfo(ctx, string(req.ID))
		if err != nil {
			if isNotFound(err) {
				return gone, nil
			}
			return plugin.ReadResponse{}, fmt.Errorf("reading user %s: %w", req.ID, err)
		}
		state["status"] = resource.NewStringProperty(string(info.Status))
	case policyType:
		info, err := p.admin.InfoCannedPolicyV2(ctx, string(req.ID))
		if err != nil {
			if isNotFound(err) {
				return gone, nil
			}
			return plugin.ReadResponse{}, fmt.Errorf("reading policy %s: %w", req.ID, err)
		}
		// The server keeps its own layout of the document: only a different policy is drift.
		if !sameJSON(info.Policy, []byte(property.Text(state, "policy"))) {
			state["policy"], inputs["policy"] = resource.NewStringProperty(string(info.Policy)), resource.NewStringProperty(string(info.Policy))
		}
	case attachmentType:
		user, policy := property.Text(state, "userName"), property.Text(state, "policyName")
		entities, err := p.admin.GetPolicyEntities(ctx, madmin.PolicyEntitiesQuery{Users: []string{user}})
		if err != nil {
			if isNotFound(err) {
				return gone, nil
			}
			return plugin.ReadResponse{}, fmt.Errorf("reading the policies of user %s: %w", user, err)
		}
		attached := false
		for _, mapping := range entities.UserMappings {
			attached = attached || (mapping.User == user && slices.Contains(mapping.Policies, policy))
		}
		if !attached {
			return gone, nil
		}
	default:
		return plugin.ReadResponse{}, fmt.Errorf("unknown resource type %s", req.Type)
	}
	return plugin.ReadResponse{ReadResult: plugin.ReadResult{ID: req.ID, Inputs: inputs, Outputs: state}}, nil
}

// lifecycleRules are the server's rules in the shape of IlmPolicy's rules input.
func lifecycleRules(config *lifecycle.Configuration) []resource.PropertyValue {
	var rules []resource.PropertyValue
	for _, rule := range config.Rules {
		rules = append(rules, resource.NewObjectProperty(resource.PropertyMap{
			"id":         resource.NewStringProperty(rule.ID),
			"status":     resource.NewStringProperty(rule.Status),
			"filter":     resource.NewStringProperty(rule.RuleFilter.Prefix),
			"expiration": resource.NewStringProperty(fmt.Sprintf("%dd", rule.Expiration.Days)),
		}))
	}
	return rules
}

// sameRules compares the server's rules with the state's on the fields ferry sets.
func sameRules(server, state []resource.PropertyValue) bool {
	if len(server) != len(state) {
		return false
	}
	for i := range server {
		a, b := server[i].ObjectValue(), property.Reveal(state[i]).ObjectValue()
		status := property.Text(b, "status")
		if status == "" {
			status = "Enabled"
		}
		if property.Text(a, "id") != property.Text(b, "id") || property.Text(a, "filter") != property.Text(b, "filter") ||
			property.Text(a, "expiration") != property.Text(b, "expiration") || property.Text(a, "status") != status {
			return false
		}
	}
	return true
}

// sameJSON: the two documents decode to the same value.
func sameJSON(a, b []byte) bool {
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return bytes.Equal(a, b)
	}
	return reflect.DeepEqual(x, y)
}

func (p *minioProvider) Create(ctx context.Context, req plugin.CreateRequest) (plugin.CreateResponse, error) {
	in := req.Properties
	out := in.Copy()
	unknown := resource.MakeComputed(resource.NewStringProperty(""))
	switch string(req.Type) {
	case bucketType:
		name := property.Text(in, "bucket")
		if name == "" {
			if req.Preview {
				out["bucket"] = unknown
				return plugin.CreateResponse{Properties: out}, nil
			}
			name = property.Text(in, "bucketPrefix") + randomHex(10)
		}
		out["bucket"] = resource.NewStringProperty(name)
		out["arn"] = resource.NewStringProperty("arn:aws:s3:::" + name)
		if req.Preview {
			return plugin.CreateResponse{Properties: out}, nil
		}
		if err := p.s3.MakeBucket(ctx, name, minio.MakeBucketOptions{}); err != nil {
			return plugin.CreateResponse{}, fmt.Errorf("creating bucket %s: %w", name, err)
		}
		return plugin.CreateResponse{ID: resource.ID(name), Properties: out}, nil
	case ilmType:
		if req.Preview {
			return plugin.CreateResponse{Properties: out}, nil
		}
		bucket := property.Text(in, "bucket")
		if err := p.putLifecycle(ctx, bucket, in); err != nil {
			return plugin.CreateResponse{}, err
		}
		return plugin.CreateResponse{ID: resource.ID(bucket), Properties: out}, nil
	case userType:
		name, secret := property.Text(in, "name"), property.Text(in, "secret")
		if secret == "" {
			out["secret"] = resource.MakeSecret(resource.NewStringProperty(randomSecret(40)))
			if req.Preview {
				out["secret"] = unknown
			}
		}
		status := wantedUserStatus(in)
		out["status"] = resource.NewStringProperty(string(status))
		if req.Preview {
			return plugin.CreateResponse{Properties: out}, nil
		}
		if err := p.admin.AddUser(ctx, name, property.Text(out, "secret")); err != nil {
			return plugin.CreateResponse{}, fmt.Errorf("creating user %s: %w", name, err)
		}
		// As the real provider: made, then turned off when disableUser asks it.
		if status == madmin.AccountDisabled {
			if err := p.admin.SetUserStatus(ctx, name, status); err != nil {
				return plugin.CreateResponse{}, fmt.Errorf("disabling user %s: %w", name, err)
			}
		}
		return plugin.CreateResponse{ID: resource.ID(name), Properties: out}, nil
	case policyType:
		name := property.Text(in, "name")
		if name == "" {
			if req.Preview {
				out["name"] = unknown
				return plugin.CreateResponse{Properties: out}, nil
			}
			name = property.Text(in, "namePrefix") + randomHex(8)
		}
		out["name"] = resource.NewStringProperty(name)
		if req.Preview {
			return plugin.CreateResponse{Properties: out}, nil
		}
		if err := p.admin.AddCannedPolicy(ctx, name, []byte(property.Text(in, "policy"))); err != nil {
			return plugin.CreateResponse{}, fmt.Errorf("creating policy %s: %w", name, err)
		}
		return plugin.CreateResponse{ID: resource.ID(name), Properties: out}, nil
	case attachmentType:
		user, policy := property.Text(in, "userName"), property.Text(in, "policyName")
		if req.Preview {
			return plugin.CreateResponse{Properties: out}, nil
		}
		if _, err := p.admin.AttachPolicy(ctx, madmin.PolicyAssociationReq{User: user, Policies: []string{policy}}); err != nil {
			return plugin.CreateResponse{}, fmt.Errorf("attaching policy %s to %s: %w", policy, user, err)
		}
		return plugin.CreateResponse{ID: resource.ID(user + "/" + policy), Properties: out}, nil
	}
	return plugin.CreateResponse{}, fmt.Errorf("unknown resource type %s", req.Type)
}

func (p *minioProvider) Update(ctx context.Context, req plugin.UpdateRequest) (plugin.UpdateResponse, error) {
	out := req.OldOutputs.Copy()
	for key, value := range req.NewInputs {
		out[key] = value
	}
	if req.Preview {
		return plugin.UpdateResponse{Properties: out}, nil
	}
	switch string(req.Type) {
	case ilmType:
		if err := p.putLifecycle(ctx, property.Text(req.NewInputs, "bucket"), req.NewInputs); err != nil {
			return plugin.UpdateResponse{}, err
		}
	case userType:
		name := property.Text(out, "name")
		if secret := property.Text(req.NewInputs, "secret"); secret != "" && secret != property.Text(req.OldOutputs, "secret") {
			if err := p.admin.AddUser(ctx, name, secret); err != nil {
				return plugin.UpdateResponse{}, err
			}
		}
		// As the real provider: the server's status set to what disableUser asks, when it differs.
		wanted := wantedUserStatus(req.NewInputs)
		info, err := p.admin.GetUserInfo(ctx, name)
		if err != nil {
			return plugin.UpdateResponse{}, fmt.Errorf("reading user %s: %w", name, err)
		}
		if info.Status != wanted {
			if err := p.admin.SetUserStatus(ctx, name, wanted); err != nil {
				return plugin.UpdateResponse{}, fmt.Errorf("setting user %s %s: %w", name, wanted, err)
			}
		}
		out["status"] = resource.NewStringProperty(string(wanted))
	case policyType:
		if err := p.admin.AddCannedPolicy(ctx, property.Text(out, "name"), []byte(property.Text(req.NewInputs, "policy"))); err != nil {
			return plugin.UpdateResponse{}, err
		}
	}
	return plugin.UpdateResponse{Properties: out}, nil
}

func (p *minioProvider) Delete(ctx context.Context, req plugin.DeleteRequest) (plugin.DeleteResponse, error) {
	out := req.Outputs
	var err error
	switch string(req.Type) {
	case bucketType:
		name := property.Text(out, "bucket")
		if property.Flag(out, "forceDestroy") {
			objects := p.s3.ListObjects(ctx, name, minio.ListObjectsOptions{Recursive: true, WithVersions: true})
			for removal := range p.s3.RemoveObjects(ctx, name, objects, minio.RemoveObjectsOptions{}) {
				if removal.Err != nil {
					return plugin.DeleteResponse{}, fmt.Errorf("emptying bucket %s: %w", name, removal.Err)
				}
			}
		}
		err = p.s3.RemoveBucket(ctx, name)
	case ilmType:
		err = p.s3.SetBucketLifecycle(ctx, property.Text(out, "bucket"), lifecycle.NewConfiguration())
	case userType:
		err = p.admin.RemoveUser(ctx, property.Text(out, "name"))
	case policyType:
		err = p.admin.RemoveCannedPolicy(ctx, property.Text(out, "name"))
	case attachmentType:
		_, err = p.admin.DetachPolicy(ctx, madmin.PolicyAssociationReq{
			User: property.Text(out, "userName"), Policies: []string{property.Text(out, "policyName")},
		})
	}
	if err != nil && isNotFound(err) {
		err = nil
	}
	return plugin.DeleteResponse{}, err
}

// putLifecycle writes the bucket's lifecycle rules; each expiration is "<days>d".
func (p *minioProvider) putLifecycle(ctx context.Context, bucket string, in resource.PropertyMap) error {
	config := lifecycle.NewConfiguration()
	for _, ruleValue := range property.List(in, "rules") {
		rule := property.Reveal(ruleValue).ObjectValue()
		days, err := strconv.Atoi(strings.TrimSuffix(property.Text(rule, "expiration"), "d"))
		if err != nil {
			return fmt.Errorf("rule %s: expiration %q is not a number of days such as 7d", property.Text(rule, "id"), property.Text(rule, "expiration"))
		}
		status := property.Text(rule, "status")
		if status == "" {
			status = "Enabled"
		}
		config.Rules = append(config.Rules, lifecycle.Rule{
			ID:         property.Text(rule, "id"),
			Status:     status,
			RuleFilter: lifecycle.Filter{Prefix: property.Text(rule, "filter")},
			Expiration: lifecycle.Expiration{Days: lifecycle.ExpirationDays(days)},
		})
	}
	if err := p.s3.SetBucketLifecycle(ctx, bucket, config); err != nil {
		return fmt.Errorf("setting the lifecycle of bucket %s: %w", bucket, err)
	}
	return nil
}

func isNotFound(err error) bool {
	message := strings.ToLower(err.Error())
	return strings.Contains(message, "does not exist") || strings.Contains(message, "not found") ||
		minio.ToErrorResponse(err).Code == "NoSuchBucket"
}

func randomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b)
}

func randomSecret(n int) string {
	const alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	out := make([]byte, n)
	for i := range out {
		k, err := rand.Int(rand.Reader, big.NewInt(int64(len(alphabet))))
		if err != nil {
			panic(err)
		}
		out[i] = alphabet[k.Int64()]
	}
	return string(out)
}

// wantedUserStatus is the status a user's inputs ask for: off when disableUser is true.
func wantedUserStatus(inputs resource.PropertyMap) madmin.AccountStatus {
	if property.Flag(inputs, "disableUser") {
		return madmin.AccountDisabled
	}
	return madmin.AccountEnabled
}
