/* SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0) */
/*
 * Header parsing for netacct's cgroup_skb programs (BPF-only helpers).
 *
 * Offset 0 of BPF_HDR_START_NET is the IP header on both hooks. Every header is
 * validated against skb->len here: the kernel checks nothing in test_run and
 * length fields lie on big GSO skbs (IPv4 tot_len 0, IPv6 payload_len 0 with a
 * jumbo hop-by-hop option), so lengths come from skb->len alone.
 */
#ifndef NETACCT_BPF_H
#define NETACCT_BPF_H

#define NA_MAX_EXTHDRS 8

#define NA_IPPROTO_HOPOPTS 0
#define NA_IPPROTO_ROUTING 43
#define NA_IPPROTO_FRAGMENT 44
#define NA_IPPROTO_AH 51
#define NA_IPPROTO_ICMPV6 58
#define NA_IPPROTO_DSTOPTS 60
#define NA_IPV6_TLV_JUMBO 0xC2
#define NA_IP_OFFSET 0x1FFF

/* One skb's contribution, per direction. */
struct na_pkt {
	__u64 segs;          /* wire packets: max(gso_segs, 1) */
	__u64 ip_hdr_bytes;  /* per-segment wire IP header x segs */
	__u64 l4_hdr_bytes;  /* per-segment L4 header x segs */
	__u64 payload_bytes; /* skb->len - this skb's headers */
	__u32 l4_off;        /* offset of the L4 header, 0 when there is none */
	__u8 family;
	__u8 proto;
	__u8 bad;            /* headers could not be parsed: all bytes are payload of 'other' */
	__u8 has_ports;      /* TCP/UDP header present at l4_off */
	__u32 seq;           /* TCP: sequence number of the segment */
	__u8 tcp_flags;      /* TCP: the header's flags byte (NA_TCP_*) */
};

/* TCP header flags (byte 13). SYN and FIN each take one sequence number. */
#define NA_TCP_FIN 0x01
#define NA_TCP_SYN 0x02
#define NA_TCP_RST 0x04
#define NA_TCP_ACK 0x10

union na_iphdr {
	struct iphdr v4;
	struct ipv6hdr v6;
	struct {
		struct iphdr ip;
		__u8 tcp[14]; /* ports, seq, ack_seq, data offset, flags */
	} v4tcp;      /* one load for the common case: IPv4 without options, then TCP */
};

static __always_inline int na_load(struct __sk_buff *skb, __u32 off, void *to, __u32 len)
{
	return bpf_skb_load_bytes_relative(skb, off, to, len, BPF_HDR_START_NET);
}

static __always_inline int na_is_exthdr(__u8 nh)
{
	return nh == NA_IPPROTO_HOPOPTS || nh == NA_IPPROTO_ROUTING || nh == NA_IPPROTO_DSTOPTS ||
	       nh == NA_IPPROTO_FRAGMENT || nh == NA_IPPROTO_AH;
}

/* IP protocol number -> exported class (ICMP only over IPv4, ICMPv6 only over IPv6). */
static __always_inline __u8 na_proto_class(__u8 ipproto, __u8 family)
{
	switch (ipproto) {
	case IPPROTO_TCP:
		return NA_P_TCP;
	case IPPROTO_UDP:
		return NA_P_UDP;
	case IPPROTO_ICMP:
		return family == NA_F_IPV4 ? NA_P_ICMP : NA_P_OTHER;
	case NA_IPPROTO_ICMPV6:
		return family == NA_F_IPV6 ? NA_P_ICMPV6 : NA_P_OTHER;
	}
	return NA_P_OTHER;
}

/*
 * Length of the TCP/UDP/ICMP header at off (p->proto set), 0 for other
 * protocols, -1 when the header is missing or lies about its length.
 */
/* TCP header length from bytes 4..13 of a TCP header at off (seq, ack_seq, data offset, flags). */
static __always_inline int na_tcp_len(const __u8 *h, __u32 off, __u32 len, struct na_pkt *p)
{
	__u32 doff = (h[8] >> 4) * 4;

	if (doff < 20 || off + doff > len)
		return -1;
	p->seq = (__u32)h[0] << 24 | (__u32)h[1] << 16 | (__u32)h[2] << 8 | h[3];
	p->tcp_flags = h[9];
	p->has_ports = 1;
	return doff;
}

static __always_inline int na_l4_len(struct __sk_buff *skb, __u32 off, __u32 len,
				     struct na_pkt *p)
{
	__u8 h[10];

	switch (p->proto) {
	case NA_P_TCP:
		if (na_load(skb, off + 4, h, sizeof(h)))
			return -1;
		return na_tcp_len(h, off, len, p);
	case NA_P_UDP:
		p->has_ports = 1;
		return off + 8 > len ? -1 : 8;
	case NA_P_ICMP:
	case NA_P_ICMPV6:
		return off + 8 > len ? -1 : 8;
	}
	return 0;
}

/*
 * IPv6 extension headers, skipped in a bounded loop. Returns the offset of
 * the upper-layer header (nexthdr in *nh), or -1. *jumbo gets the size of a
 * host-only jumbo hop-by-hop header (BIG TCP), which no wire segment carries.
 */
static __always_inline int na_v6_exthdrs(struct __sk_buff *skb, const struct ipv6hdr *ip6,
					 __u32 len, __u8 *nh, __u32 *jumbo, int *nonfirst)
{
	__u32 off = sizeof(struct ipv6hdr);
	__u8 h[8];
	__u32 sz;
	int i;

	*nh = ip6->nexthdr;
	for (i = 0; i < NA_MAX_EXTHDRS; i++) {
		if (!na_is_exthdr(*nh))
			return off;
		if (off + 8 > len || na_load(skb, off, h, 8))
			return -1;
		if (*nh == NA_IPPROTO_FRAGMENT) {
			sz = 8;
			*nonfirst = (h[2] << 8 | h[3]) & 0xFFF8;
		} else if (*nh == NA_IPPROTO_AH) {
			sz = ((__u32)h[1] + 2) * 4;
		} else {
			sz = ((__u32)h[1] + 1) * 8;
			if (*nh == NA_IPPROTO_HOPOPTS && i == 0 && h[1] == 0 &&
			    h[2] == NA_IPV6_TLV_JUMBO && h[3] == 4 && ip6->payload_len == 0)
				*jumbo = 8;
		}
		if (off + sz > len)
			return -1;
		off += sz;
		*nh = h[0];
		if (*nonfirst)
			return off;
	}
	/* Up to NA_MAX_EXTHDRS are skipped; a deeper chain is unparseable. */
	return na_is_exthdr(*nh) ? -1 : (int)off;
}

/*
 * The general path, for whatever the fast one declines: any header may lie
 * outside the linear area, so each is read with bpf_skb_load_bytes_relative.
 * Out of line: most packets never run it (docs/performance.md).
 */
static __noinline void na_pkt_parse_general(struct __sk_buff *skb, struct na_pkt *p)
{
	__u32 len = skb->len, ip = 0, jumbo = 0;
	int l4 = 0, off, nonfirst = 0, whole = 0;
	union na_iphdr hdr, *ih = &hdr;
	__u8 nh;

	if (skb->protocol == bpf_htons(ETH_P_IP)) {
		p->family = NA_F_IPV4;
		/* One helper call reads both headers when they can be there. */
		whole = len >= sizeof(ih->v4tcp);
		if (whole ? na_load(skb, 0, &ih->v4tcp, sizeof(ih->v4tcp))
			  : na_load(skb, 0, &ih->v4, sizeof(ih->v4)))
			goto bad;
		if (ih->v4.version != 4 || ih->v4.ihl < 5)
			goto bad;
		whole = whole && ih->v4.ihl == 5;
		ip = ih->v4.ihl * 4;
		if (ip > len)
			goto bad;
		nh = ih->v4.protocol;
		nonfirst = ih->v4.frag_off & bpf_htons(NA_IP_OFFSET);
	} else if (skb->protocol == bpf_htons(ETH_P_IPV6)) {
		p->family = NA_F_IPV6;
		if (na_load(skb, 0, &ih->v6, sizeof(ih->v6)) || ih->v6.version != 6)
			goto bad;
		off = na_v6_exthdrs(skb, &ih->v6, len, &nh, &jumbo, &nonfirst);
		if (off < 0)
			goto bad;
		ip = off;
	} else {
		goto bad;
	}

	p->proto = na_proto_class(nh, p->family);
	/* A later fragment has no L4 header; its protocol is still known. */
	if (!nonfirst) {
		if (whole && p->proto == NA_P_TCP)
			l4 = na_tcp_len(&ih->v4tcp.tcp[4], ip, len, p);
		else
			l4 = na_l4_len(skb, ip, len, p);
		if (l4 < 0)
			goto bad;
		p->l4_off = ip;
	}
	p->ip_hdr_bytes = (__u64)(ip - jumbo) * p->segs;
	p->l4_hdr_bytes = (__u64)l4 * p->segs;
	p->payload_bytes = len - ip - l4;
	return;
bad:
	p->bad = 1;
	p->proto = NA_P_OTHER;
	p->has_ports = 0;
	p->l4_off = 0;
	p->ip_hdr_bytes = 0;
	p->l4_hdr_bytes = 0;
	p->payload_bytes = len;
}

/*
 * The fast path: IPv4 without options or IPv6 without extension headers,
 * then TCP, UDP, ICMP or nothing, all read in place from the skb's linear
 * area (on loopback and veth it holds the headers, docs/kernel.md):
 * no helper call, which was a fifth of the per-packet cost. Returns 0 when
 * it parsed the packet completely, -1 (p untouched but for what the general
 * path sets again) to leave the packet to the general path, which is the
 * one that judges bad headers.
 */
static __always_inline int na_pkt_parse_linear(struct __sk_buff *skb, struct na_pkt *p)
{
	void *data = (void *)(long)skb->data, *end = (void *)(long)skb->data_end;
	__u32 len = skb->len, ip;
	__u8 *l4h, nh, family;
	int l4 = 0;

	if (skb->protocol == bpf_htons(ETH_P_IP)) {
		struct iphdr *h = data;

		if ((void *)(h + 1) > end || h->version != 4 || h->ihl != 5 ||
		    (h->frag_off & bpf_htons(NA_IP_OFFSET)))
			return -1;
		ip = sizeof(*h);
		nh = h->protocol;
		family = NA_F_IPV4;
	} else if (skb->protocol == bpf_htons(ETH_P_IPV6)) {
		struct ipv6hdr *h = data;

		if ((void *)(h + 1) > end || h->version != 6 || na_is_exthdr(h->nexthdr))
			return -1;
		ip = sizeof(*h);
		nh = h->nexthdr;
		family = NA_F_IPV6;
	} else {
		return -1;
	}
	p->proto = na_proto_class(nh, family);
	switch (p->proto) {
	case NA_P_TCP:
		l4h = data + ip;
		if ((void *)(l4h + 14) > end)
			return -1;
		l4 = na_tcp_len(l4h + 4, ip, len, p);
		if (l4 < 0)
			return -1;
		break;
	case NA_P_UDP:
		p->has_ports = 1;
		/* fallthrough */
	case NA_P_ICMP:
	case NA_P_ICMPV6:
		if (ip + 8 > len)
			return -1;
		l4 = 8;
		break;
	}
	p->family = family;
	p->l4_off = ip;
	p->ip_hdr_bytes = (__u64)ip * p->segs;
	p->l4_hdr_bytes = (__u64)l4 * p->segs;
	p->payload_bytes = len - ip - l4;
	return 0;
}

static __always_inline void na_pkt_parse(struct __sk_buff *skb, struct na_pkt *p)
{
	__u32 segs = skb->gso_segs;

	__builtin_memset(p, 0, sizeof(*p));
	p->segs = segs > 1 ? segs : 1;
	if (na_pkt_parse_linear(skb, p))
		na_pkt_parse_general(skb, p);
}

/* One step a packet's counters take: the four of a direction, atomically. */
static __always_inline void counters_add(struct na_counters *c, const struct na_pkt *p)
{
	__sync_fetch_and_add(&c->packets, p->segs);
	__sync_fetch_and_add(&c->ip_hdr_bytes, p->ip_hdr_bytes);
	__sync_fetch_and_add(&c->l4_hdr_bytes, p->l4_hdr_bytes);
	__sync_fetch_and_add(&c->payload_bytes, p->payload_bytes);
}

/* counters_add() undone, on a copy no other CPU writes. */
static __always_inline void counters_sub_pkt(struct na_counters *c, const struct na_pkt *p)
{
	c->packets -= p->segs;
	c->ip_hdr_bytes -= p->ip_hdr_bytes;
	c->l4_hdr_bytes -= p->l4_hdr_bytes;
	c->payload_bytes -= p->payload_bytes;
}

/*
 * A parsed packet's source and destination addresses (IPv4 bytes 12..19,
 * IPv6 bytes 8..39; IPv4 in the first 4 bytes of 16, the rest left as it
 * was): 0, or -1 when the packet was not parsed or the read failed.
 */
static __always_inline int na_pkt_addrs(struct __sk_buff *skb, const struct na_pkt *p, __u8 *src, __u8 *dst)
{
	__u8 a[32];

	if (p->bad)
		return -1;
	if (p->family == NA_F_IPV4) {
		if (na_load(skb, 12, a, 8))
			return -1;
		__builtin_memcpy(src, a, 4);
		__builtin_memcpy(dst, a + 4, 4);
	} else {
		if (na_load(skb, 8, a, 32))
			return -1;
		__builtin_memcpy(src, a, 16);
		__builtin_memcpy(dst, a + 16, 16);
	}
	return 0;
}

/*
 * The far end of a parsed packet with ports: the destination of an
 * outgoing one, the source of an incoming one (an address as
 * na_pkt_addrs() writes it; the port in host order). Only those bytes are
 * read: this runs on every packet of an unconnected UDP socket.
 */
static __always_inline int na_pkt_peer(struct __sk_buff *skb, const struct na_pkt *p, int dir, __u8 *addr,
				       __u16 *port)
{
	__u16 be;

	if (p->bad || !p->has_ports)
		return -1;
	if (p->family == NA_F_IPV4 ? na_load(skb, dir == NA_TX ? 16 : 12, addr, 4)
				   : na_load(skb, dir == NA_TX ? 24 : 8, addr, 16))
		return -1;
	if (na_load(skb, p->l4_off + (dir == NA_TX ? 2 : 0), &be, sizeof(be)))
		return -1;
	*port = bpf_ntohs(be);
	return 0;
}

/*
 * Local/remote address and port of a new row, from this packet's headers
 * (read again here: this runs once per socket, the parse once per packet).
 */
static __always_inline void na_pkt_endpoints(struct __sk_buff *skb, const struct na_pkt *p,
					     int dir, int connected, struct na_row *s)
{
	__u16 ports[2] = {};
	__u8 src[16] = {}, dst[16] = {};
	__u16 sport, dport;

	if (na_pkt_addrs(skb, p, src, dst))
		return;
	if (p->has_ports && na_load(skb, p->l4_off, ports, sizeof(ports)))
		ports[0] = ports[1] = 0;
	sport = bpf_ntohs(ports[0]);
	dport = bpf_ntohs(ports[1]);
	/* egress: we are the source; ingress: we are the destination */
	if (dir == NA_TX) {
		__builtin_memcpy(s->laddr, src, 16);
		s->lport = sport;
		if (connected) {
			__builtin_memcpy(s->raddr, dst, 16);
			s->rport = dport;
		}
	} else {
		__builtin_memcpy(s->laddr, dst, 16);
		s->lport = dport;
		if (connected) {
			__builtin_memcpy(s->raddr, src, 16);
			s->rport = sport;
		}
	}
}

#endif /* NETACCT_BPF_H */
