package server

import (
	"context"
	"fmt"
	"io"
	"net"
	"strings"
	"time"

	"github.com/spf13/pflag"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	utilerrors "k8s.io/apimachinery/pkg/util/errors"
	"k8s.io/apiserver/pkg/endpoints/openapi"
	genericapiserver "k8s.io/apiserver/pkg/server"
	genericoptions "k8s.io/apiserver/pkg/server/options"
	utilfeature "k8s.io/apiserver/pkg/util/feature"
	basecompatibility "k8s.io/component-base/compatibility"
	logsapi "k8s.io/component-base/logs/api/v1"
	baseversion "k8s.io/component-base/version"
	"k8s.io/klog/v2"
	netutils "k8s.io/utils/net"

	"kubemacpool.io/kubemacpool/pkg/admission/pods"
	"kubemacpool.io/kubemacpool/pkg/apis/macpool/v1alpha1"
	"kubemacpool.io/kubemacpool/pkg/apiserver"
	"kubemacpool.io/kubemacpool/pkg/certificate"
	"kubemacpool.io/kubemacpool/pkg/embeddedetcd"
	macinformers "kubemacpool.io/kubemacpool/pkg/generated/informers/externalversions"
	generatedopenapi "kubemacpool.io/kubemacpool/pkg/generated/openapi"
	"kubemacpool.io/kubemacpool/pkg/metrics"
)

// etcdPathPrefix is where the group's objects live in etcd.
const etcdPathPrefix = "/registry/macpool.kubemacpool.io"

// Options is everything kubemacpool-apiserver can be told on its command line.
type Options struct {
	RecommendedOptions *genericoptions.RecommendedOptions
	EmbeddedEtcd       *embeddedetcd.Options
	DefaultPool        *DefaultPoolOptions
	// ReservationTTL bounds how long an admitted lease waits for its owner.
	ReservationTTL time.Duration
	// KubeVirtIdentity is the user KubeVirt creates virt-launcher pods as.
	KubeVirtIdentity string
	Controller       *ControllerOptions
	Certificates     *CertificateOptions
	// WebhookAuthorization decides whether the webhook paths are
	// authorized like every other request (the default) or open to anyone.
	WebhookAuthorization *WebhookAuthorizationOptions
	// Compat accepts the original Kubemacpool's flags.
	Compat *CompatOptions
	// Logs are component-base's logging options (--logging-format, -v);
	// NewCommand registers their flags, for the -v the original took.
	Logs *logsapi.LoggingConfiguration
	// MetricAddr is where the plain Prometheus endpoint listens.
	MetricAddr string
	// MaxMACsPerObject caps the MACs one Pod or VirtualMachine may lease.
	MaxMACsPerObject int
	// MaxReservationsPerNamespace caps the Reserved leases of a
	// namespace; 0 sets no cap.
	MaxReservationsPerNamespace int
	// ShutdownWatchTerminationGracePeriod bounds how long a stopping
	// server lets open watches drain.
	ShutdownWatchTerminationGracePeriod time.Duration

	// runEmbeddedEtcd is decided by Complete: no --etcd-servers means the
	// server brings its own etcd.
	runEmbeddedEtcd bool
	// macInformers feed the admission plugins; built with the admission
	// chain, started with the server.
	macInformers macinformers.SharedInformerFactory

	StdOut io.Writer
	StdErr io.Writer
}

// NewOptions returns the defaults.
func NewOptions(out, errOut io.Writer) *Options {
	o := &Options{
		RecommendedOptions:          genericoptions.NewRecommendedOptions(etcdPathPrefix, apiserver.Codecs.LegacyCodec(v1alpha1.SchemeGroupVersion)),
		EmbeddedEtcd:                embeddedetcd.NewOptions(),
		DefaultPool:                 NewDefaultPoolOptions(),
		ReservationTTL:              apiserver.DefaultReservationTTL,
		KubeVirtIdentity:            pods.DefaultKubeVirtIdentity,
		Controller:                  NewControllerOptions(),
		Certificates:                NewCertificateOptions(),
		WebhookAuthorization:        NewWebhookAuthorizationOptions(),
		Compat:                      NewCompatOptions(),
		Logs:                        logsapi.NewLoggingConfiguration(),
		MetricAddr:                  metrics.DefaultAddr,
		MaxMACsPerObject:            DefaultMaxMACsPerObject,
		MaxReservationsPerNamespace: DefaultMaxReservationsPerNamespace,
		// Without it, watches that kube-apiserver proxies to this server
		// (the garbage collector's, the namespace controller's, users')
		// keep the HTTP server open until the 60 s request timeout, longer
		// than a Pod's termination grace period.
		ShutdownWatchTerminationGracePeriod: 5 * time.Second,
		StdOut:                              out,
		StdErr:                              errOut,
	}
	registerAdmissionPlugins(o.RecommendedOptions.Admission)
	o.RecommendedOptions.ExtraAdmissionInitializers = o.admissionInitializers
	o.RecommendedOptions.Etcd.StorageConfig.EncodeVersioner = runtime.NewMultiGroupVersioner(v1alpha1.SchemeGroupVersion,
		schema.GroupKind{Group: v1alpha1.GroupName})
	return o
}

// AddFlags registers every flag.
func (o *Options) AddFlags(flags *pflag.FlagSet) {
	o.RecommendedOptions.AddFlags(flags)
	o.EmbeddedEtcd.AddFlags(flags)
	o.DefaultPool.AddFlags(flags)
	o.Controller.AddFlags(flags)
	o.Certificates.AddFlags(flags)
	o.WebhookAuthorization.AddFlags(flags)
	flags.StringVar(&o.MetricAddr, "metric-addr", o.MetricAddr,
		"Address of the plain-HTTP Prometheus endpoint /metrics (named as in the original's README). It has no authentication, so it listens on loopback by default: serve it beyond the pod through the kube-rbac-proxy sidecar; \"0\" disables it.")
	flags.DurationVar(&o.ShutdownWatchTerminationGracePeriod, "shutdown-watch-termination-grace-period", o.ShutdownWatchTerminationGracePeriod,
		"On SIGTERM, how long open watches get to drain before the server ends them; their clients reconnect to another replica. 0 waits for the request timeout instead.")
	flags.DurationVar(&o.ReservationTTL, "reservation-ttl", o.ReservationTTL,
		"How long a MacLease created at admission stays Reserved waiting for its owner (a Pod or VirtualMachine that a later admission step may still reject) before it is released.")
	flags.StringVar(&o.KubeVirtIdentity, "kubevirt-identity", o.KubeVirtIdentity,
		"The user KubeVirt creates virt-launcher pods as. Only its launcher pods of VirtualMachines skip the Pod webhook, and only when their VMI and VM exist; empty accepts any creator of such a pod.")
	o.Compat.AddFlags(flags, &o.MetricAddr)
	flags.IntVar(&o.MaxMACsPerObject, "max-macs-per-object", o.MaxMACsPerObject,
		"The most MAC addresses one Pod (networks) or VirtualMachine (managed interfaces) may get; the webhooks deny an object above it before leasing anything.")
	flags.IntVar(&o.MaxReservationsPerNamespace, "max-reservations-per-namespace", o.MaxReservationsPerNamespace,
		"The most Reserved MacLeases (made at admission, their Pod or VirtualMachine not stored yet) one namespace may hold; the webhooks answer 429 above it. "+
			"Rejected objects' reservations wait --reservation-ttl, so this bounds what a tenant keeps with them. 0 sets no limit.")
}

// Complete decides what the flags leave open.
func (o *Options) Complete() error {
	if len(o.RecommendedOptions.Etcd.StorageConfig.Transport.ServerList) == 0 {
		o.runEmbeddedEtcd = true
		o.RecommendedOptions.Etcd.StorageConfig.Transport.ServerList = []string{o.EmbeddedEtcd.ClientURL}
	}
	o.WebhookAuthorization.ApplyTo(o.RecommendedOptions.Authorization)
	o.Compat.ApplyTo(&o.ReservationTTL)
	return nil
}

// Validate checks the completed options.
func (o *Options) Validate() error {
	errs := o.RecommendedOptions.Validate()
	if o.runEmbeddedEtcd {
		errs = append(errs, o.EmbeddedEtcd.Validate()...)
	}
	errs = append(errs, o.DefaultPool.Validate()...)
	errs = append(errs, o.Controller.Validate()...)
	errs = append(errs, o.WebhookAuthorization.Validate(o.RecommendedOptions.Authorization)...)
	errs = append(errs, o.Compat.Validate()...)
	errs = append(errs, validateLogging(o.Logs)...)
	if o.manageCertificates() {
		errs = append(errs, o.Certificates.Validate()...)
	} else if o.Certificates.WebhookConfigurationName == "" {
		// The lease controller reads the webhook configuration too.
		errs = append(errs, fmt.Errorf("--certificate-webhook-configuration-name must not be empty"))
	}
	if o.ShutdownWatchTerminationGracePeriod < 0 {
		errs = append(errs, fmt.Errorf("--shutdown-watch-termination-grace-period must not be negative, got %s", o.ShutdownWatchTerminationGracePeriod))
	}
	if o.MaxMACsPerObject < 1 {
		errs = append(errs, fmt.Errorf("--max-macs-per-object must be at least 1, got %d", o.MaxMACsPerObject))
	}
	if o.MaxReservationsPerNamespace < 0 {
		errs = append(errs, fmt.Errorf("--max-reservations-per-namespace must not be negative (0 sets no limit), got %d", o.MaxReservationsPerNamespace))
	}
	if o.ReservationTTL <= 0 {
		errs = append(errs, fmt.Errorf("--reservation-ttl must be positive, got %s", o.ReservationTTL))
	}
	return utilerrors.NewAggregate(errs)
}

// minSafeReservationTTL is kube-apiserver's default request timeout. An
// object the webhook admitted may take that long to be stored (later
// webhooks, quota, etcd), and until it is stored the lease controller cannot
// see that it carries the MAC: a reservation that expires sooner can free the
// MAC of an object still on its way, and hand it out again.
const minSafeReservationTTL = time.Minute

// warnings are the risks that valid options take, for the log at start.
func (o *Options) warnings() []string {
	var warnings []string
	if o.WebhookAuthorization.Disabled() {
		warnings = append(warnings, fmt.Sprintf("Webhook caller authorization is disabled (--webhook-authorization=%s): anyone who reaches the secure port can POST an AdmissionReview to %s and make this server lease MACs in any namespace. Configure kube-apiserver to authenticate to the webhooks and use --webhook-authorization=%s (docs/deployment.md).",
			WebhookAuthorizationDisabled, strings.Join(apiserver.WebhookPaths, " and "), WebhookAuthorizationRequired))
	}
	if o.ReservationTTL < minSafeReservationTTL {
		warnings = append(warnings, fmt.Sprintf("--reservation-ttl=%s is shorter than kube-apiserver's default request timeout (%s): a Pod or VirtualMachine that spends longer between this webhook and its storage (later webhooks, quota, a slow etcd) can lose its reserved MAC to another object. Use it for tests only.",
			o.ReservationTTL, minSafeReservationTTL))
	}
	if metricAddrBeyondLoopback(o.MetricAddr) {
		warnings = append(warnings, fmt.Sprintf("--metric-addr=%s serves metrics without authentication beyond loopback: whoever reaches it reads every namespace's collisions (kmp_mac_collisions{mac}) and the request metrics. Keep the default %s behind the kube-rbac-proxy sidecar, or confine the port with a NetworkPolicy (docs/security.md).",
			o.MetricAddr, metrics.DefaultAddr))
	}
	return warnings
}

// metricAddrBeyondLoopback tells a --metric-addr that other hosts or pods
// may reach: every interface (no host, 0.0.0.0, ::), an address that is not
// loopback, or a host name other than localhost, which may resolve to
// anything. The original's --metrics-addr defaulted to :8443, so a command
// line carried over from it lands here; it still works, with a warning.
func metricAddrBeyondLoopback(addr string) bool {
	if addr == "" || addr == "0" {
		return false // the default, or off
	}
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false // listening fails and says so
	}
	if host == "localhost" {
		return false
	}
	ip := net.ParseIP(host)
	return ip == nil || !ip.IsLoopback()
}

// manageCertificates tells whether the serving certificate comes from the
// certificate manager: a certificate given on the command line wins.
func (o *Options) manageCertificates() bool {
	certKey := o.RecommendedOptions.SecureServing.ServerCert.CertKey
	return o.Certificates.Manage && certKey.CertFile == "" && certKey.KeyFile == ""
}

// Config builds the server configuration from the options.
func (o *Options) Config() (*apiserver.Config, error) {
	var serving *certificate.ServingContent
	if o.manageCertificates() {
		serving = &certificate.ServingContent{}
		o.RecommendedOptions.SecureServing.ServerCert.GeneratedCert = serving
	} else if err := o.RecommendedOptions.SecureServing.MaybeDefaultWithSelfSignedCerts("localhost", nil, []net.IP{netutils.ParseIPSloppy("127.0.0.1")}); err != nil {
		return nil, fmt.Errorf("creating self-signed serving certificates: %w", err)
	}
	serverConfig := genericapiserver.NewRecommendedConfig(apiserver.Codecs)
	serverConfig.EffectiveVersion = buildEffectiveVersion{
		MutableEffectiveVersion: basecompatibility.NewEffectiveVersionFromString(baseversion.DefaultKubeBinaryVersion, "", ""),
	}
	serverConfig.FeatureGate = utilfeature.DefaultFeatureGate

	namer := openapi.NewDefinitionNamer(apiserver.Scheme)
	serverConfig.OpenAPIConfig = genericapiserver.DefaultOpenAPIConfig(generatedopenapi.GetOpenAPIDefinitions, namer)
	serverConfig.OpenAPIConfig.Info.Title = "Kubemacpool"
	serverConfig.OpenAPIConfig.Info.Version = v1alpha1.SchemeGroupVersion.Version
	serverConfig.OpenAPIV3Config = genericapiserver.DefaultOpenAPIV3Config(generatedopenapi.GetOpenAPIDefinitions, namer)
	serverConfig.OpenAPIV3Config.Info.Title = "Kubemacpool"
	serverConfig.OpenAPIV3Config.Info.Version = v1alpha1.SchemeGroupVersion.Version

	// The server adds the etcd health checks once its embedded etcd
	// serves (apiserver.EmbeddedEtcdConfig).
	o.RecommendedOptions.Etcd.SkipHealthEndpoints = o.runEmbeddedEtcd
	if err := o.RecommendedOptions.ApplyTo(serverConfig); err != nil {
		return nil, fmt.Errorf("applying the generic server options: %w", err)
	}
	serverConfig.ShutdownWatchTerminationGracePeriod = o.ShutdownWatchTerminationGracePeriod
	serverMetrics := metrics.Default()
	serverMetrics.SetWebhookCallerAuthorizationDisabled(o.WebhookAuthorization.Disabled())
	var certificates *certificate.Manager
	if serving != nil {
		var err error
		if certificates, err = o.Certificates.Config(serverConfig.ClientConfig, serving, serverMetrics); err != nil {
			return nil, err
		}
	}
	var embeddedEtcd *apiserver.EmbeddedEtcdConfig
	if o.runEmbeddedEtcd {
		embeddedEtcd = &apiserver.EmbeddedEtcdConfig{Options: o.EmbeddedEtcd, Storage: o.RecommendedOptions.Etcd.StorageConfig}
	}
	// "0" disables the listener; empty is the default address, as it
	// always was.
	metricAddr := o.MetricAddr
	switch metricAddr {
	case "0":
		metricAddr = ""
	case "":
		metricAddr = metrics.DefaultAddr
	}
	controller := o.Controller.Config()
	// One name for the webhook configuration: the lease controller reads
	// the namespaceSelectors of the one whose caBundle the manager keeps.
	controller.WebhookConfigurationName = o.Certificates.WebhookConfigurationName
	return &apiserver.Config{
		GenericConfig: serverConfig,
		ExtraConfig: apiserver.ExtraConfig{
			DefaultPool:                 o.DefaultPool.Spec(),
			ReservationTTL:              o.ReservationTTL,
			MaxMACsPerObject:            o.MaxMACsPerObject,
			MaxReservationsPerNamespace: o.MaxReservationsPerNamespace,
			MacInformers:                o.macInformers,
			Controller:                  controller,
			Metrics:                     serverMetrics,
			KubeClientConfig:            serverConfig.ClientConfig,
			KubeVirtIdentity:            o.KubeVirtIdentity,
			Certificates:                certificates,
			EmbeddedEtcd:                embeddedEtcd,
			MetricAddr:                  metricAddr,
		},
	}, nil
}

// Run builds the server and serves until ctx is done (SIGTERM or SIGINT),
// shutting down gracefully. The server's assembly owns the process'
// life-cycle: the embedded etcd, the certificates, the metrics listener and
// the informers (pkg/apiserver).
func (o *Options) Run(ctx context.Context) error {
	for _, warning := range o.warnings() {
		klog.Warning(warning)
	}
	config, err := o.Config()
	if err != nil {
		return err
	}
	server, err := config.Complete().New()
	if err != nil {
		return err
	}
	return server.PrepareRun().RunWithContext(ctx)
}
