// cert-manager's controller with only the Certificate pipeline: the certificates-* controllers, the
// CertificateRequest approver and signers for the SelfSigned and CA issuers, and the Issuer and
// ClusterIssuer controllers with those two issuer types. The module proxy does not serve the nested
// module of cert-manager's own command (cmd/controller), so this main wires the controllers that the
// main module's packages register (pkg/controller) the way that command does: one ContextFactory,
// every registered controller built from it, then the shared informers started. No ACME, Vault,
// Venafi, ingress/gateway shims, CertificateSigningRequest controllers, metrics or health servers.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"slices"
	"strconv"
	"syscall"
	"time"

	"golang.org/x/sync/errgroup"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/leaderelection"
	"k8s.io/client-go/tools/leaderelection/resourcelock"
	"k8s.io/klog/v2"

	cmcontroller "github.com/cert-manager/cert-manager/pkg/controller"
	logf "github.com/cert-manager/cert-manager/pkg/logs"

	// Each controller package registers itself with pkg/controller in init.
	_ "github.com/cert-manager/cert-manager/pkg/controller/certificaterequests/approver"
	_ "github.com/cert-manager/cert-manager/pkg/controller/certificaterequests/ca"
	_ "github.com/cert-manager/cert-manager/pkg/controller/certificaterequests/selfsigned"
	_ "github.com/cert-manager/cert-manager/pkg/controller/certificates/issuing"
	_ "github.com/cert-manager/cert-manager/pkg/controller/certificates/keymanager"
	_ "github.com/cert-manager/cert-manager/pkg/controller/certificates/readiness"
	_ "github.com/cert-manager/cert-manager/pkg/controller/certificates/requestmanager"
	_ "github.com/cert-manager/cert-manager/pkg/controller/certificates/revisionmanager"
	_ "github.com/cert-manager/cert-manager/pkg/controller/certificates/trigger"
	_ "github.com/cert-manager/cert-manager/pkg/controller/clusterissuers"
	_ "github.com/cert-manager/cert-manager/pkg/controller/issuers"
	// The issuer types the Issuer and ClusterIssuer controllers can set up (pkg/issuer's registry).
	_ "github.com/cert-manager/cert-manager/pkg/issuer/ca"
	_ "github.com/cert-manager/cert-manager/pkg/issuer/selfsigned"
)

func main() {
	kubeconfig := flag.String("kubeconfig", "", "kubeconfig of the controller's identity (empty: in-cluster)")
	clusterResourceNamespace := flag.String("cluster-resource-namespace", "kube-system", "namespace of the Secrets ClusterIssuers refer to")
	leaderElect := flag.Bool("leader-elect", true, "run only while holding the Lease")
	leaseNamespace := flag.String("leader-election-namespace", "kube-system", "namespace of the Lease cert-manager-controller")
	workers := flag.Int("workers", 5, "workers per controller")
	minBackoff := flag.Duration("certificate-request-minimum-backoff-duration", time.Hour, "first wait after a failed issuance (doubles up to the maximum)")
	maxBackoff := flag.Duration("certificate-request-maximum-backoff-duration", 32*time.Hour, "longest wait after failed issuances")
	logf.InitLogs()
	klog.InitFlags(nil) // -v and the other klog flags
	flag.Parse()
	defer logf.FlushLogs()

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	ctx = logf.NewContext(ctx, klog.Background(), "cert-manager-controller")
	log := logf.FromContext(ctx)

	// The values cert-manager's own controller defaults to (its ControllerConfiguration defaults).
	factory, err := cmcontroller.NewContextFactory(ctx, cmcontroller.ContextOptions{
		Kubeconfig:         *kubeconfig,
		KubernetesAPIQPS:   20,
		KubernetesAPIBurst: 50,
		IssuerOptions: cmcontroller.IssuerOptions{
			ClusterResourceNamespace:        *clusterResourceNamespace,
			ClusterIssuerAmbientCredentials: true,
		},
		CertificateOptions: cmcontroller.CertificateOptions{
			CopiedAnnotationPrefixes:                 []string{"*", "-kubectl.kubernetes.io/", "-fluxcd.io/", "-argocd.argoproj.io/"},
			CertificateRequestMinimumBackoffDuration: *minBackoff,
			CertificateRequestMaximumBackoffDuration: *maxBackoff,
		},
	})
	if err != nil {
		fail(err)
	}
	// The shared informer factories (and the clients) every controller's Context is built around.
	shared, err := factory.Build()
	if err != nil {
		fail(err)
	}

	run := func(ctx context.Context) error {
		g, ctx := errgroup.WithContext(ctx)
		names := slices.Sorted(func(yield func(string) bool) {
			for n := range cmcontroller.Known() {
				if !yield(n) {
					return
				}
			}
		})
		for _, name := range names {
			c, err := cmcontroller.Known()[name](factory)
			if err != nil {
				return fmt.Errorf("controller %s: %w", name, err)
			}
			g.Go(func() error {
				if err := c.Run(*workers, ctx); err != nil {
					return fmt.Errorf("controller %s: %w", name, err)
				}
				return nil
			})
		}
		// Started after every controller asked for its informers, as cert-manager's command does.
		shared.SharedInformerFactory.Start(ctx.Done())
		shared.KubeSharedInformerFactory.Start(ctx.Done())
		log.Info("controllers started", "controllers", names)
		return g.Wait()
	}

	if !*leaderElect {
		if err := run(ctx); err != nil {
			fail(err)
		}
		return
	}
	host, _ := os.Hostname()
	identity := host + "_" + strconv.Itoa(os.Getpid())
	lock := &resourcelock.LeaseLock{
		LeaseMeta:  metav1.ObjectMeta{Namespace: *leaseNamespace, Name: "cert-manager-controller"},
		Client:     shared.Client.CoordinationV1(),
		LockConfig: resourcelock.ResourceLockConfig{Identity: identity},
	}
	var runErr error
	leaderelection.RunOrDie(ctx, leaderelection.LeaderElectionConfig{
		Lock:            lock,
		LeaseDuration:   15 * time.Second,
		RenewDeadline:   10 * time.Second,
		RetryPeriod:     2 * time.Second,
		ReleaseOnCancel: true,
		Name:            "cert-manager-controller",
		Callbacks: leaderelection.LeaderCallbacks{
			OnStartedLeading: func(ctx context.Context) {
				log.Info("leading", "lease", *leaseNamespace+"/cert-manager-controller", "identity", identity)
				runErr = run(ctx)
				stop() // the controllers are done: leave RunOrDie (releasing the Lease)
			},
			OnStoppedLeading: func() {
				if ctx.Err() == nil {
					fail(fmt.Errorf("lost the Lease %s/cert-manager-controller", *leaseNamespace))
				}
			},
		},
	})
	if runErr != nil {
		fail(runErr)
	}
}

func fail(err error) {
	klog.ErrorS(err, "cert-manager-controller failed")
	logf.FlushLogs()
	os.Exit(1)
}
