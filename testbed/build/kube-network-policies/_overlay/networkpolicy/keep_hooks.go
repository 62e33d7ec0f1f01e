// The test bed's second change to kube-network-policies (built in like pod_ips.go): its rules are
// replaced in place instead of by deleting and re-creating the whole table. Upstream's
// syncNFTablesRules (run on every pod and policy change) deletes its table and adds it again in one
// batch; deleting a base chain unregisters its netfilter hook, and the kernel then drops every packet
// waiting in any NFQUEUE (nf_queue_nf_hook_drop). Each sync so dropped the packets awaiting a verdict:
// a TCP SYN costs its connection a 1 s retransmission, a DNS query the resolver's 5 s timeout, and a
// process that resolves names in its event loop (Sentinel with resolve-hostnames) stalls that long and
// enters TILT. Measured on the test bed under `.ci/run`: 3 of 1,856 lookups from a pod with a policy
// took 5.0 s. The build makes syncNFTablesRules call keepHooks where upstream deletes the table.

package networkpolicy

import (
	"github.com/google/nftables"
)

// keepHooks empties, in the batch being built, the chains and sets `table` already has (none on the
// first sync), so that the rules and elements the sync adds next replace them while every hook stays
// registered: the batch commits atomically, as upstream's delete and re-add did.
func keepHooks(nft *nftables.Conn, table *nftables.Table) {
	if chains, err := nft.ListChainsOfTableFamily(table.Family); err == nil {
		for _, chain := range chains {
			if chain.Table != nil && chain.Table.Name == table.Name {
				nft.FlushChain(chain)
			}
		}
	}
	if sets, err := nft.GetSets(table); err == nil {
		for _, set := range sets {
			nft.FlushSet(set)
		}
	}
}
