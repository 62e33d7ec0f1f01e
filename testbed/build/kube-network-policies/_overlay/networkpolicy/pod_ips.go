// The test bed's addition to kube-network-policies (package networkpolicy, built in through `go build
// -overlay`, lib/build-kube-network-policies.sh): the pod that holds an IP when the API server does not
// show it yet. Upstream asks its NRI plugin then, which containerd 1.6 cannot feed; here the test bed's
// chained CNI plugin (testbed/lib/cni-pod-ips) records each pod's IPs the moment its sandbox gets them,
// one file a pod IP in $KNP_POD_IPS_DIR holding "namespace/name". The build renames upstream's
// GetPodFromIP (nri.go) to getPodFromNRI, and this one asks that first.

package networkpolicy

import (
	"os"
	"path/filepath"
	"strings"
)

// GetPodFromIP returns the "namespace/name" of the pod holding ip, or "": from NRI when it runs, else
// from the CNI plugin's record. The receiver may be nil (no NRI plugin could be made).
func (p *nriPlugin) GetPodFromIP(ip string) string {
	if p != nil {
		if key := p.getPodFromNRI(ip); key != "" {
			return key
		}
	}
	dir := os.Getenv("KNP_POD_IPS_DIR")
	if dir == "" || strings.ContainsAny(ip, "/\\") {
		return ""
	}
	b, err := os.ReadFile(filepath.Join(dir, ip))
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}
