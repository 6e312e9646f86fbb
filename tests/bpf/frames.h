/* SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0) */
/*
 * Crafted Ethernet frames for BPF_PROG_TEST_RUN. Each test frame is a packed
 * struct of UAPI headers built in a local variable and copied out, so its
 * size (and so skb->len = size - ETH_HLEN) is fixed at compile time and the
 * expected counters can be written down as literals next to it.
 */
#ifndef NETACCT_TEST_FRAMES_H
#define NETACCT_TEST_FRAMES_H

#include <endian.h>
#include <string.h>
#include <linux/types.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/in6.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/tcp.h>
#include <linux/udp.h>
#include <linux/icmp.h>
#include <linux/icmpv6.h>

#define FR_PACKED __attribute__((packed))

/* test_run refuses shorter frames with EINVAL (docs/kernel.md) */
#define FR_MIN_V4 34
#define FR_MIN_V6 54

#define FR_SPORT 40000
#define FR_DPORT 8080
#define FR_PAYLOAD_BYTE 0xab

/* the addresses every frame goes from (src) and to (dst) */
static const __u8 fr_v4_src[16] = { 10, 0, 0, 1 };
static const __u8 fr_v4_dst[16] = { 10, 0, 0, 2 };
static const __u8 fr_v6_src[16] = { 0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1 };
static const __u8 fr_v6_dst[16] = { 0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2 };

/* IPv6 fragment header (RFC 8200 4.5); the kernel's struct frag_hdr is not UAPI */
struct fr_frag_hdr {
	__u8 nexthdr;
	__u8 reserved;
	__be16 frag_off; /* offset in 8-byte units << 3 | M flag */
	__be32 identification;
} FR_PACKED;

/* 8-byte hop-by-hop or destination options header holding one PadN option */
struct fr_opt8 {
	struct ipv6_opt_hdr hdr;
	__u8 padn_type;
	__u8 padn_len;
	__u8 pad[4];
} FR_PACKED;

/* BIG TCP's host-only hop-by-hop header: one jumbo payload option (RFC 2675) */
struct fr_jumbo {
	struct ipv6_opt_hdr hdr;
	__u8 tlv_type;
	__u8 tlv_len;
	__be32 jumbo_len;
} FR_PACKED;

_Static_assert(sizeof(struct fr_frag_hdr) == 8, "fragment header");
_Static_assert(sizeof(struct fr_opt8) == 8, "options header");
_Static_assert(sizeof(struct fr_jumbo) == 8, "jumbo header");
_Static_assert(sizeof(struct rt2_hdr) == 24, "type 2 routing header");

/*
 * Header builders return the header by value: the frames are packed structs,
 * and assigning to a packed member is safe where a pointer to it is not.
 */
static inline struct ethhdr fr_eth(__u16 proto)
{
	struct ethhdr e = { .h_source = { 0x02, 0, 0, 0, 0, 1 },
			    .h_dest = { 0x02, 0, 0, 0, 0, 2 } };

	e.h_proto = htobe16(proto);
	return e;
}

/* tot_len as a sender would write it; the program must not trust it */
static inline struct iphdr fr_ip4(__u8 ihl, __u8 proto, __u16 tot_len)
{
	struct iphdr ip = { .version = 4, .ihl = ihl, .ttl = 64, .protocol = proto };

	ip.tot_len = htobe16(tot_len);
	ip.id = htobe16(1);
	ip.frag_off = htobe16(0x4000); /* IP_DF, as TCP sends: not a fragment */
	memcpy(&ip.saddr, fr_v4_src, 4);
	memcpy(&ip.daddr, fr_v4_dst, 4);
	return ip;
}

/* IPv4 options filling (ihl - 5) * 4 bytes: NOPs then an end-of-list */
static inline void fr_ip4_opts(__u8 *opts, size_t len)
{
	memset(opts, 1 /* IPOPT_NOOP */, len);
	opts[len - 1] = 0; /* IPOPT_END */
}

static inline struct ipv6hdr fr_ip6(__u8 nexthdr, __u16 payload_len)
{
	struct ipv6hdr ip6 = { .version = 6, .nexthdr = nexthdr, .hop_limit = 64 };

	ip6.payload_len = htobe16(payload_len);
	memcpy(&ip6.saddr, fr_v6_src, 16);
	memcpy(&ip6.daddr, fr_v6_dst, 16);
	return ip6;
}

static inline struct tcphdr fr_tcp(__u8 doff)
{
	struct tcphdr t = { .doff = doff, .ack = 1, .psh = 1 };

	t.source = htobe16(FR_SPORT);
	t.dest = htobe16(FR_DPORT);
	t.seq = htobe32(1000);
	t.ack_seq = htobe32(2000);
	t.window = htobe16(512);
	return t;
}

/* TCP options filling (doff - 5) * 4 bytes: NOPs then an end-of-list */
static inline void fr_tcp_opts(__u8 *opts, size_t len)
{
	memset(opts, 1 /* TCPOPT_NOP */, len);
	opts[len - 1] = 0; /* TCPOPT_EOL */
}

static inline struct udphdr fr_udp(__u16 len)
{
	struct udphdr u = { 0 };

	u.source = htobe16(FR_SPORT);
	u.dest = htobe16(FR_DPORT);
	u.len = htobe16(len);
	return u;
}

static inline struct icmphdr fr_icmp(void)
{
	struct icmphdr ic = { .type = ICMP_ECHO };

	ic.un.echo.id = htobe16(7);
	ic.un.echo.sequence = htobe16(1);
	return ic;
}

static inline struct icmp6hdr fr_icmp6(void)
{
	struct icmp6hdr ic = { .icmp6_type = ICMPV6_ECHO_REQUEST };

	ic.icmp6_identifier = htobe16(7);
	ic.icmp6_sequence = htobe16(1);
	return ic;
}

static inline struct fr_opt8 fr_opt8(__u8 nexthdr)
{
	struct fr_opt8 o = { .hdr = { .nexthdr = nexthdr, .hdrlen = 0 },
			     .padn_type = 1 /* PadN */, .padn_len = 4 };

	return o;
}

static inline struct rt2_hdr fr_rt2(__u8 nexthdr)
{
	struct rt2_hdr rt = { .rt_hdr = { .nexthdr = nexthdr,
					  .hdrlen = 2, /* (2 + 1) * 8 = 24 bytes */
					  .type = 2,
					  .segments_left = 1 } };

	memcpy(&rt.addr, fr_v6_dst, 16);
	return rt;
}

/* offset in bytes (a multiple of 8) and the more-fragments flag */
static inline struct fr_frag_hdr fr_frag(__u8 nexthdr, __u16 offset, int more)
{
	struct fr_frag_hdr f = { .nexthdr = nexthdr };

	f.frag_off = htobe16((__u16)(offset | (more ? 1 : 0)));
	f.identification = htobe32(0x1234);
	return f;
}

static inline struct fr_jumbo fr_jumbo(__u8 nexthdr, __u32 jumbo_len)
{
	struct fr_jumbo j = { .hdr = { .nexthdr = nexthdr, .hdrlen = 0 },
			      .tlv_type = 0xC2 /* IPV6_TLV_JUMBO */, .tlv_len = 4 };

	j.jumbo_len = htobe32(jumbo_len);
	return j;
}

/* A builder's last step: the frame f copied out to buf; its size, which the builder returns. */
#define FR_OUT(buf, f) (memcpy((buf), &(f), sizeof(f)), sizeof(f))

static inline void fr_payload(__u8 *p, size_t len)
{
	memset(p, FR_PAYLOAD_BYTE, len);
}

#endif /* NETACCT_TEST_FRAMES_H */
