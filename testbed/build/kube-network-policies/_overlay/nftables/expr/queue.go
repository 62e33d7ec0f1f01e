// Replaces github.com/google/nftables@v0.3.0's expr/queue.go when lib/build-kube-network-policies.sh
// builds kube-network-policies (in a copy of the downloaded module, used through a `replace`). Why: the test bed's kernel has no nft_queue expression (CONFIG_NFT_QUEUE is not set; `nft add
// rule ... queue num 100` answers "No such file or directory"), and kube-network-policies sends the first
// packet of each connection to userspace with that expression. The kernel does have xtables' NFQUEUE
// target (CONFIG_NETFILTER_XT_TARGET_NFQUEUE) and nft_compat, which lets an nftables rule run an xtables
// target: that is how iptables-nft's `-j NFQUEUE` works. So a Queue expression is sent to the kernel as
// the compat `target` expression NFQUEUE, revision 3, whose verdict is the same NF_QUEUE to the same queue
// with the same bypass and fanout flags (xt_NFQ_info_v3; NFQ_FLAG_BYPASS = NFT_QUEUE_FLAG_BYPASS = 1,
// NFQ_FLAG_CPU_FANOUT = NFT_QUEUE_FLAG_CPU_FANOUT = 2). `nft list ruleset` shows such a rule as
// `queue num 100` (with "managed by iptables-nft"). Only marshal differs from upstream.
//
// Copyright 2018 Google LLC. All Rights Reserved.
//
// Licensed under the Apache License, Version 2.0 (the "License");
// you may not use this file except in compliance with the License.
// You may obtain a copy of the License at
//
//     http://www.apache.org/licenses/LICENSE-2.0
//
// Unless required by applicable law or agreed to in writing, software
// distributed under the License is distributed on an "AS IS" BASIS,
// WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
// See the License for the specific language governing permissions and
// limitations under the License.

package expr

import (
	"encoding/binary"

	"github.com/google/nftables/binaryutil"
	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

type QueueAttribute uint16

type QueueFlag uint16

// Possible QueueAttribute values
const (
	QueueNum   QueueAttribute = unix.NFTA_QUEUE_NUM
	QueueTotal QueueAttribute = unix.NFTA_QUEUE_TOTAL
	QueueFlags QueueAttribute = unix.NFTA_QUEUE_FLAGS

	QueueFlagBypass QueueFlag = unix.NFT_QUEUE_FLAG_BYPASS
	QueueFlagFanout QueueFlag = unix.NFT_QUEUE_FLAG_CPU_FANOUT
	QueueFlagMask   QueueFlag = unix.NFT_QUEUE_FLAG_MASK
)

type Queue struct {
	Num   uint16
	Total uint16
	Flag  QueueFlag
}

// The xtables NFQUEUE target, revision 3: struct xt_NFQ_info_v3 { __u16 queuenum; __u16 queues_total;
// __u16 flags; } in host byte order, padded to XT_ALIGN (8 bytes), as iptables-nft sends it.
const (
	nfqueueTarget    = "NFQUEUE"
	nfqueueTargetRev = 3
)

func (e *Queue) marshal(fam byte) ([]byte, error) {
	if e.Total == 0 {
		e.Total = 1 // The total default value is 1
	}
	info := make([]byte, 8)
	binary.NativeEndian.PutUint16(info[0:2], e.Num)
	binary.NativeEndian.PutUint16(info[2:4], e.Total)
	binary.NativeEndian.PutUint16(info[4:6], uint16(e.Flag))
	data, err := netlink.MarshalAttributes([]netlink.Attribute{
		{Type: unix.NFTA_TARGET_NAME, Data: []byte(nfqueueTarget + "\x00")},
		{Type: unix.NFTA_TARGET_REV, Data: binaryutil.BigEndian.PutUint32(nfqueueTargetRev)},
		{Type: unix.NFTA_TARGET_INFO, Data: info},
	})
	if err != nil {
		return nil, err
	}
	return netlink.MarshalAttributes([]netlink.Attribute{
		{Type: unix.NFTA_EXPR_NAME, Data: []byte("target\x00")},
		{Type: unix.NLA_F_NESTED | unix.NFTA_EXPR_DATA, Data: data},
	})
}

func (e *Queue) marshalData(fam byte) ([]byte, error) {
	if e.Total == 0 {
		e.Total = 1 // The total default value is 1
	}
	return netlink.MarshalAttributes([]netlink.Attribute{
		{Type: unix.NFTA_QUEUE_NUM, Data: binaryutil.BigEndian.PutUint16(e.Num)},
		{Type: unix.NFTA_QUEUE_TOTAL, Data: binaryutil.BigEndian.PutUint16(e.Total)},
		{Type: unix.NFTA_QUEUE_FLAGS, Data: binaryutil.BigEndian.PutUint16(uint16(e.Flag))},
	})
}

func (e *Queue) unmarshal(fam byte, data []byte) error {
	ad, err := netlink.NewAttributeDecoder(data)
	if err != nil {
		return err
	}
	ad.ByteOrder = binary.BigEndian
	for ad.Next() {
		switch ad.Type() {
		case unix.NFTA_QUEUE_NUM:
			e.Num = ad.Uint16()
		case unix.NFTA_QUEUE_TOTAL:
			e.Total = ad.Uint16()
		case unix.NFTA_QUEUE_FLAGS:
			e.Flag = QueueFlag(ad.Uint16())
		}
	}
	return ad.Err()
}
