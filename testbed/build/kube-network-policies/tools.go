//go:build tools

// Keeps in this module's requirements what kube-network-policies' command (`sigs.k8s.io/kube-network-policies/cmd`,
// a `main` package, which cannot be imported) imports besides the standard library, so `go mod tidy` keeps
// them; lib/build-kube-network-policies.sh builds that command unchanged.
package tools

import (
	_ "github.com/prometheus/client_golang/prometheus/promhttp"
	_ "golang.org/x/sys/unix"
	_ "k8s.io/apimachinery/pkg/util/runtime"
	_ "k8s.io/client-go/informers"
	_ "k8s.io/client-go/kubernetes"
	_ "k8s.io/client-go/rest"
	_ "k8s.io/component-base/logs"
	_ "k8s.io/component-base/logs/api/v1"
	_ "k8s.io/component-base/logs/json/register"
	_ "k8s.io/component-helpers/node/util"
	_ "k8s.io/klog/v2"
	_ "sigs.k8s.io/kube-network-policies/pkg/networkpolicy"
	_ "sigs.k8s.io/network-policy-api/pkg/client/clientset/versioned"
	_ "sigs.k8s.io/network-policy-api/pkg/client/informers/externalversions"
)
