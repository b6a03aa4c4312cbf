package chart

import (
	"path/filepath"
	"testing"

	auditinternal "k8s.io/apiserver/pkg/apis/audit"
	"k8s.io/apiserver/pkg/audit/policy"
	"k8s.io/apiserver/pkg/authentication/user"
	"k8s.io/apiserver/pkg/authorization/authorizer"
)

// TestAuditPolicyRecordsLeaseWrites evaluates the shipped audit policy as
// the server does: the webhook calls keep their lease annotations
// (Metadata or more), every lease write is recorded with its object, and
// reads and health checks are not recorded.
func TestAuditPolicyRecordsLeaseWrites(t *testing.T) {
	loaded, err := policy.LoadPolicyFromFile(filepath.Join(repoRoot, "artifacts/deploy/base/audit-policy.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	evaluator := policy.NewPolicyRuleEvaluator(loaded)
	caller := &user.DefaultInfo{Name: "system:kube-apiserver:webhook-client"}
	tenant := &user.DefaultInfo{Name: "alice", Groups: []string{"system:authenticated"}}
	server := &user.DefaultInfo{Name: user.APIServerUser, Groups: []string{user.SystemPrivilegedGroup}}
	resource := func(who user.Info, verb, resource, subresource string) authorizer.AttributesRecord {
		return authorizer.AttributesRecord{User: who, Verb: verb, APIGroup: "macpool.kubemacpool.io", APIVersion: "v1alpha1",
			Resource: resource, Subresource: subresource, Namespace: "team-a", Name: "02-00-00-00-00-01", ResourceRequest: true}
	}
	path := func(who user.Info, verb, path string) authorizer.AttributesRecord {
		return authorizer.AttributesRecord{User: who, Verb: verb, Path: path}
	}
	for _, tc := range []struct {
		name  string
		attrs authorizer.AttributesRecord
		want  auditinternal.Level
	}{
		{"pod webhook call", path(caller, "post", "/mutate-pods"), auditinternal.LevelMetadata},
		{"VM webhook call", path(caller, "post", "/mutate-virtualmachines"), auditinternal.LevelMetadata},
		{"lease create by a tenant", resource(tenant, "create", "macleases", ""), auditinternal.LevelRequestResponse},
		{"lease delete by the controller", resource(server, "delete", "macleases", ""), auditinternal.LevelRequestResponse},
		{"lease patch", resource(tenant, "patch", "macleases", ""), auditinternal.LevelRequestResponse},
		{"lease deletecollection", resource(tenant, "deletecollection", "macleases", ""), auditinternal.LevelRequestResponse},
		{"lease status update", resource(tenant, "update", "macleases", "status"), auditinternal.LevelRequestResponse},
		{"pool create", resource(tenant, "create", "macpools", ""), auditinternal.LevelRequestResponse},
		{"pool status update", resource(server, "update", "macpools", "status"), auditinternal.LevelMetadata},
		{"lease list", resource(tenant, "list", "macleases", ""), auditinternal.LevelNone},
		{"lease watch", resource(server, "watch", "macleases", ""), auditinternal.LevelNone},
		{"readiness", path(nil, "get", "/readyz"), auditinternal.LevelNone},
		{"readiness check", path(nil, "get", "/readyz/etcd"), auditinternal.LevelNone},
		{"metrics", path(caller, "get", "/metrics"), auditinternal.LevelNone},
		{"discovery", path(tenant, "get", "/apis/macpool.kubemacpool.io/v1alpha1"), auditinternal.LevelNone},
	} {
		t.Run(tc.name, func(t *testing.T) {
			config := evaluator.EvaluatePolicyRule(tc.attrs)
			if config.Level != tc.want {
				t.Errorf("level %s, want %s", config.Level, tc.want)
			}
			for _, stage := range config.OmitStages {
				if stage == auditinternal.StageResponseComplete {
					t.Error("ResponseComplete, the stage with the annotations, is omitted")
				}
			}
		})
	}
}
