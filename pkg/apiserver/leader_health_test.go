package apiserver

import (
	"testing"

	genericapiserver "k8s.io/apiserver/pkg/server"
	"k8s.io/apiserver/pkg/server/healthz"
	componentbaseconfig "k8s.io/component-base/config"
)

func TestLeaderElectionHealthCheck(t *testing.T) {
	names := func(checks []healthz.HealthChecker) map[string]bool {
		found := map[string]bool{}
		for _, check := range checks {
			found[check.Name()] = true
		}
		return found
	}
	for _, leaderElect := range []bool{true, false} {
		generic := genericapiserver.NewRecommendedConfig(Codecs)
		controller := ControllerConfig{
			LeaderElection: componentbaseconfig.LeaderElectionConfiguration{LeaderElect: leaderElect},
		}
		addLeaderElectionHealthCheck(generic, &controller)
		watchdog := controller.leaderHealth
		// Complete may run more than once; one check is enough.
		addLeaderElectionHealthCheck(generic, &controller)
		if controller.leaderHealth != watchdog || count(generic.LivezChecks, "leaderElection") > 1 {
			t.Errorf("leader election %v: a second call added a second check", leaderElect)
		}
		healthzChecks, livezChecks, readyzChecks := names(generic.HealthzChecks), names(generic.LivezChecks), names(generic.ReadyzChecks)
		if healthzChecks["leaderElection"] != leaderElect || livezChecks["leaderElection"] != leaderElect {
			t.Errorf("leader election %v: leaderElection in /healthz %v, in /livez %v", leaderElect,
				healthzChecks["leaderElection"], livezChecks["leaderElection"])
		}
		if readyzChecks["leaderElection"] {
			t.Errorf("leader election %v: a replica that fails to renew still serves; leaderElection must not be in /readyz", leaderElect)
		}
		if (controller.leaderHealth != nil) != leaderElect {
			t.Errorf("leader election %v: the elector's watchdog is %v", leaderElect, controller.leaderHealth)
		}
	}
}

func count(checks []healthz.HealthChecker, name string) int {
	n := 0
	for _, check := range checks {
		if check.Name() == name {
			n++
		}
	}
	return n
}
