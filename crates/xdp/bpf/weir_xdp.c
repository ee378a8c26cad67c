// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
//
// weir's XDP program: the fast path of decided flows, and fail-open in the kernel.
//
// One program is attached to both NICs of the bridge; its maps are shared by both attachments.
// Per frame:
//   1. Parse Ethernet, up to two VLAN tags (802.1Q / 802.1ad), IPv4 (options allowed, no
//      fragments) or IPv6 (no extension headers), then TCP, UDP, ICMP or ICMPv6.
//   2. Look the flow up in `flows` (the symmetric key user space uses, outer VLAN included).
//      An entry of the current policy generation decides the frame: forward (redirect to the
//      other NIC through `devmap`), drop, or mark (rewrite DSCP, keep ECN, then redirect). The
//      frame is counted in the entry and in `protos` and `sides`. TCP SYN, FIN and RST always go
//      to user space, so the flow table sees flows start and end.
//   3. Everything else goes to the AF_XDP socket of the queue (`xsks`, keyed by side * 64 +
//      queue) -- unless there is no socket there (weir died) or user space's heartbeat is older
//      than the watchdog (weir hangs): then the frame goes to the other NIC ("open") or is
//      dropped ("closed"), and counted in `sides`.
//
// The layouts below are mirrored in crates/xdp/src/fastpath.rs; keep them in step.

#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/tcp.h>
#include <linux/udp.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#define MAX_QUEUES 64
#define PROTO_SLOTS 1024

#define ACTION_FORWARD 1
#define ACTION_DROP 2
#define ACTION_MARK 3

struct flow_key {
	__u8 lo_addr[16];
	__u8 hi_addr[16];
	__u16 lo_port;
	__u16 hi_port;
	__u16 vlan;
	__u8 protocol;
	__u8 v6;
};

struct flow_value {
	__u8 action;
	__u8 dscp;
	// 1: packets from the lower endpoint to the higher one travel outbound.
	__u8 lo_outbound;
	__u8 pad;
	__u32 generation;
	__u32 proto_id;
	__u32 pad2;
	// [0] lower -> higher endpoint, [1] higher -> lower.
	__u64 packets[2];
	__u64 bytes[2];
	__u64 last_seen_ns;
};

struct proto_counters {
	__u64 packets;
	__u64 bytes;
	__u64 dropped;
	__u64 dropped_bytes;
};

struct side_counters {
	// Frames the fast path decided: received, forwarded (redirected), dropped by policy.
	__u64 received;
	__u64 received_bytes;
	__u64 forwarded;
	__u64 dropped;
	// Frames that went past the sockets: no socket or stale heartbeat.
	__u64 bypassed;
	__u64 bypass_dropped;
	__u64 marked;
	__u64 redirect_failed;
};

struct config {
	__u32 inside_ifindex;
	__u32 outside_ifindex;
	__u32 fail_closed;
	__u32 generation;
	__u64 watchdog_ns;
	__u64 heartbeat_ns;
};

struct {
	__uint(type, BPF_MAP_TYPE_XSKMAP);
	__uint(max_entries, 2 * MAX_QUEUES);
	__type(key, __u32);
	__type(value, __u32);
} xsks SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_DEVMAP);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, __u32);
} devmap SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__type(key, struct flow_key);
	__type(value, struct flow_value);
} flows SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 2 * PROTO_SLOTS);
	__type(key, __u32);
	__type(value, struct proto_counters);
} protos SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, struct side_counters);
} sides SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct config);
} configs SEC(".maps");

struct vlan_hdr {
	__be16 tci;
	__be16 proto;
};

// Whether (a, pa) < (b, pb) in the order of weir_flow::FlowKey: address bytes, then port.
static __always_inline int endpoint_less(const __u8 *a, __u16 pa, const __u8 *b, __u16 pb)
{
#pragma unroll
	for (int i = 0; i < 16; i++) {
		if (a[i] != b[i])
			return a[i] < b[i];
	}
	return pa < pb;
}

static __always_inline void copy16(__u8 *dst, const __u8 *src)
{
#pragma unroll
	for (int i = 0; i < 16; i++)
		dst[i] = src[i];
}

// RFC 1624 incremental update of a 16-bit one's complement checksum: HC' = ~(~HC + ~m + m').
static __always_inline __u16 csum_replace16(__u16 check, __u16 old, __u16 new)
{
	__u32 sum = (__u16)~check + (__u16)~old + new;
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return ~sum;
}

static __always_inline int to_user(struct xdp_md *ctx, struct config *cfg, __u32 side, struct side_counters *sc)
{
	__u32 slot = side * MAX_QUEUES + ctx->rx_queue_index;
	int alive = 1;
	if (cfg->watchdog_ns != 0) {
		__u64 now = bpf_ktime_get_ns();
		if (now > cfg->heartbeat_ns && now - cfg->heartbeat_ns > cfg->watchdog_ns)
			alive = 0;
	}
	if (alive && ctx->rx_queue_index < MAX_QUEUES && bpf_map_lookup_elem(&xsks, &slot))
		return bpf_redirect_map(&xsks, slot, XDP_PASS);
	// No socket for the queue, or weir hangs: past the sockets.
	if (cfg->fail_closed) {
		if (sc)
			sc->bypass_dropped++;
		return XDP_DROP;
	}
	if (sc)
		sc->bypassed++;
	return bpf_redirect_map(&devmap, side, XDP_DROP);
}

SEC("xdp")
int weir_xdp(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	__u32 zero = 0;
	struct config *cfg = bpf_map_lookup_elem(&configs, &zero);
	if (!cfg)
		return XDP_PASS;
	__u32 side = ctx->ingress_ifindex == cfg->inside_ifindex ? 0 : 1;
	struct side_counters *sc = bpf_map_lookup_elem(&sides, &side);
	__u64 len = (__u64)(data_end - data);

	struct ethhdr *eth = data;
	if ((void *)(eth + 1) > data_end)
		return to_user(ctx, cfg, side, sc);
	__u16 proto = eth->h_proto;
	void *cur = eth + 1;
	__u16 vlan = 0;
	int tags = 0;
#pragma unroll
	for (int i = 0; i < 2; i++) {
		if (proto == bpf_htons(ETH_P_8021Q) || proto == bpf_htons(ETH_P_8021AD)) {
			struct vlan_hdr *vh = cur;
			if ((void *)(vh + 1) > data_end)
				return to_user(ctx, cfg, side, sc);
			if (tags == 0)
				vlan = bpf_ntohs(vh->tci) & 0x0fff;
			tags++;
			proto = vh->proto;
			cur = vh + 1;
		}
	}
	if (proto == bpf_htons(ETH_P_8021Q) || proto == bpf_htons(ETH_P_8021AD))
		return to_user(ctx, cfg, side, sc);

	struct flow_key key = {};
	__u8 src[16] = {}, dst[16] = {};
	__u8 l4proto;
	void *l4;
	struct iphdr *ip4 = 0;
	struct ipv6hdr *ip6 = 0;
	if (proto == bpf_htons(ETH_P_IP)) {
		ip4 = cur;
		if ((void *)(ip4 + 1) > data_end || ip4->version != 4 || ip4->ihl < 5)
			return to_user(ctx, cfg, side, sc);
		// Fragments (MF or an offset) go to user space, which reassembles the flow.
		if (ip4->frag_off & bpf_htons(0x3fff))
			return to_user(ctx, cfg, side, sc);
		l4 = (void *)ip4 + ip4->ihl * 4;
		if (l4 > data_end)
			return to_user(ctx, cfg, side, sc);
		l4proto = ip4->protocol;
		// IPv4-mapped IPv6, as weir_flow::FlowKey stores it.
		src[10] = 0xff;
		src[11] = 0xff;
		dst[10] = 0xff;
		dst[11] = 0xff;
		__builtin_memcpy(&src[12], &ip4->saddr, 4);
		__builtin_memcpy(&dst[12], &ip4->daddr, 4);
		key.v6 = 0;
	} else if (proto == bpf_htons(ETH_P_IPV6)) {
		ip6 = cur;
		if ((void *)(ip6 + 1) > data_end || ip6->version != 6)
			return to_user(ctx, cfg, side, sc);
		l4 = ip6 + 1;
		l4proto = ip6->nexthdr;
		__builtin_memcpy(src, &ip6->saddr, 16);
		__builtin_memcpy(dst, &ip6->daddr, 16);
		key.v6 = 1;
	} else {
		return to_user(ctx, cfg, side, sc);
	}

	__u16 sport = 0, dport = 0;
	if (l4proto == IPPROTO_TCP) {
		struct tcphdr *th = l4;
		if ((void *)(th + 1) > data_end)
			return to_user(ctx, cfg, side, sc);
		// Flows start and end in user space.
		if (th->syn || th->fin || th->rst)
			return to_user(ctx, cfg, side, sc);
		sport = bpf_ntohs(th->source);
		dport = bpf_ntohs(th->dest);
	} else if (l4proto == IPPROTO_UDP) {
		struct udphdr *uh = l4;
		if ((void *)(uh + 1) > data_end)
			return to_user(ctx, cfg, side, sc);
		sport = bpf_ntohs(uh->source);
		dport = bpf_ntohs(uh->dest);
	} else if (l4proto == IPPROTO_ICMP || l4proto == IPPROTO_ICMPV6) {
		// Port-less: ports 0, as the engine keys them.
	} else {
		return to_user(ctx, cfg, side, sc);
	}

	int src_lo = !endpoint_less(dst, dport, src, sport);
	if (src_lo) {
		copy16(key.lo_addr, src);
		copy16(key.hi_addr, dst);
		key.lo_port = sport;
		key.hi_port = dport;
	} else {
		copy16(key.lo_addr, dst);
		copy16(key.hi_addr, src);
		key.lo_port = dport;
		key.hi_port = sport;
	}
	key.protocol = l4proto;
	key.vlan = vlan;

	struct flow_value *v = bpf_map_lookup_elem(&flows, &key);
	if (!v || v->generation != cfg->generation)
		return to_user(ctx, cfg, side, sc);

	__u32 kdir = src_lo ? 0 : 1;
	__u32 dir = (src_lo == (v->lo_outbound != 0)) ? 0 : 1;
	__sync_fetch_and_add(&v->packets[kdir], 1);
	__sync_fetch_and_add(&v->bytes[kdir], len);
	v->last_seen_ns = bpf_ktime_get_ns();
	__u32 pslot = (v->proto_id < PROTO_SLOTS ? v->proto_id : PROTO_SLOTS - 1) * 2 + dir;
	struct proto_counters *pc = bpf_map_lookup_elem(&protos, &pslot);
	if (pc) {
		pc->packets++;
		pc->bytes += len;
	}
	if (sc) {
		sc->received++;
		sc->received_bytes += len;
	}
	if (v->action == ACTION_DROP) {
		if (pc) {
			pc->dropped++;
			pc->dropped_bytes += len;
		}
		if (sc)
			sc->dropped++;
		return XDP_DROP;
	}
	if (v->action == ACTION_MARK) {
		__u8 dscp = v->dscp & 0x3f;
		if (ip4) {
			__u16 *word = (__u16 *)ip4;
			__u16 old = *word;
			ip4->tos = (dscp << 2) | (ip4->tos & 0x3);
			ip4->check = csum_replace16(ip4->check, old, *word);
		} else if (ip6) {
			// Traffic class: the low 4 bits of byte 0 and the high 4 bits of byte 1.
			__u8 *b = (__u8 *)ip6;
			__u8 tc = ((b[0] & 0x0f) << 4) | (b[1] >> 4);
			tc = (dscp << 2) | (tc & 0x3);
			b[0] = (b[0] & 0xf0) | (tc >> 4);
			b[1] = (b[1] & 0x0f) | ((tc & 0x0f) << 4);
		}
		if (sc)
			sc->marked++;
	}
	if (sc)
		sc->forwarded++;
	return bpf_redirect_map(&devmap, side, XDP_DROP);
}

char _license[] SEC("license") = "Dual BSD/GPL";
