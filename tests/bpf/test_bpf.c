// SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0)
/*
 * bpf.parse: crafted frames through BPF_PROG_TEST_RUN against na_egress and
 * na_ingress, with exact assertions on na_totals and on the na_socks row each
 * run creates. Semantics under test: docs/accounting.md.
 *
 * test_run facts this relies on (docs/kernel.md): data_in starts with an
 * Ethernet header and the program sees skb->len = size - 14 with offset 0 at
 * the IP header; skb->sk is a dummy full socket (protocol 0, state 7, ports 0)
 * with a fresh cookie per run, so every run makes exactly one new row;
 * bpf_skb_cgroup_id() is the caller's cgroup; ctx_in may set gso_segs and
 * gso_size (every other field but mark, priority, ifindex, cb, tstamp,
 * wire_len and hwtstamp must be zero).
 *
 * Exit: 0 all passed, 1 a failure, 77 skip (no BPF privilege; a failure
 * under CI=true), 2 usage.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "netacct.h"
#include "netacct_abi.h"
#include "netacct.skel.h"
#include "frames.h"

#pragma GCC poison u8 u16 u32 u64

/* This copy of the programs: attachment seq 7, cgroup level 1, slot 3. */
#define SELF_TOKEN NA_TOKEN(7, 1, 3)
#define FRAME_MAX 4096 /* test_run takes at most about a page of data_in */
#define MAX_ROWS 8

static int verbose;
static const char *cur_case = "setup";
static int case_failed;

#define FAILF(fmt, ...)                                                             \
	do {                                                                        \
		fprintf(stderr, "FAIL %s: %s:%d: " fmt "\n", cur_case, __FILE__,    \
			__LINE__, __VA_ARGS__);                                     \
		case_failed = 1;                                                    \
	} while (0)

#define ASSERT_EQ(actual, expected, what)                                           \
	do {                                                                        \
		unsigned long long a_ = (unsigned long long)(actual);              \
		unsigned long long e_ = (unsigned long long)(expected);            \
		if (a_ != e_)                                                       \
			FAILF("%s: actual %llu, expected %llu", (what), a_, e_);   \
	} while (0)

#define ASSERT_TRUE(cond, what)                                                     \
	do {                                                                        \
		if (!(cond))                                                        \
			FAILF("%s: expected %s", (what), #cond);                    \
	} while (0)

static void hex(char *out, const __u8 *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		sprintf(out + 2 * i, "%02x", p[i]);
}

#define ASSERT_MEM_EQ(actual, expected, n, what)                                    \
	do {                                                                        \
		if (memcmp((actual), (expected), (n))) {                            \
			char a_[2 * (n) + 1], e_[2 * (n) + 1];                      \
			hex(a_, (const __u8 *)(actual), (n));                       \
			hex(e_, (const __u8 *)(expected), (n));                     \
			FAILF("%s: actual %s, expected %s", (what), a_, e_);       \
		}                                                                   \
	} while (0)

static int libbpf_log(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	(void)level;
	if (!verbose)
		return 0;
	return vfprintf(stderr, fmt, ap);
}

/* ------------------------------------------------------------------------ */
/* Frames. Each builder returns the frame size; the comment gives skb->len.  */

/* IPv4/TCP, no options, 100 bytes payload: len 20 + 20 + 100 = 140 */
static size_t f_v4_tcp(__u8 *buf)
{
	struct FR_PACKED {
		struct ethhdr eth;
		struct iphdr ip;
		struct tcphdr tcp;
		__u8 payload[100];
	} f;

	memset(&f, 0, sizeof(f));
	f.eth = fr_eth(ETH_P_IP);
	f.ip = fr_ip4(5, IPPROTO_TCP, sizeof(f) - ETH_HLEN);
	f.tcp = fr_tcp(5);
	fr_payload(f.payload, sizeof(f.payload));
	return FR_OUT(buf, f);
}

/* IPv4 ihl=8 (12 bytes options), TCP doff=8 (12 bytes options), 64 payload:
 * len 32 + 32 + 64 = 128 */
static size_t f_v4_opts_tcp_opts(__u8 *buf)
{
	struct FR_PACKED {
		struct ethhdr eth;
		struct iphdr ip;
		__u8 ipopts[12];
		struct tcphdr tcp;
		__u8 tcpopts[12];
		__u8 payload[64];
	} f;

	memset(&f, 0, sizeof(f));
	f.eth = fr_eth(ETH_P_IP);
	f.ip = fr_ip4(8, IPPROTO_TCP, sizeof(f) - ETH_HLEN);
	fr_ip4_opts(f.ipopts, sizeof(f.ipopts));
	f.tcp = fr_tcp(8);
	fr_tcp_opts(f.tcpopts, sizeof(f.tcpopts));
	fr_payload(f.payload, sizeof(f.payload));
	return FR_OUT(buf, f);
}

/* pure ACK in a minimum 60-byte Ethernet frame: the 6 trailer bytes are part
 * of skb->len and so count as payload. len 20 + 20 + 6 = 46 */
static size_t f_v4_tcp_ack_padded(__u8 *buf)
{
	struct FR_PACKED {
		struct ethhdr eth;
		struct iphdr ip;
		struct tcphdr tcp;
		__u8 eth_pad[6];
	} f;

	memset(&f, 0, sizeof(f));
	f.eth = fr_eth(ETH_P_IP);
	f.ip = fr_ip4(5, IPPROTO_TCP, 40);
	f.tcp = fr_tcp(5);
	return FR_OUT(buf, f);
}

/* IPv4 TCP doff=8 with 2896 bytes payload, sent as a GSO skb. len 2948 */
static size_t f_v4_tcp_big(__u8 *buf)
{
	struct FR_PACKED {
		struct ethhdr eth;
		struct iphdr ip;
		struct tcphdr tcp;
		__u8 tcpopts[12];
		__u8 payload[2896];
	} f;

	memset(&f, 0, sizeof(f));
	f.eth = fr_eth(ETH_P_IP);
	f.ip = fr_ip4(5, IPPROTO_TCP, sizeof(f) - ETH_HLEN);
	f.tcp = fr_tcp(8);
	fr_tcp_opts(f.tcpopts, sizeof(f.tcpopts));
	fr_payload(f.payload, sizeof(f.payload));
	return FR_OUT(buf, f);
}

/* IPv4/UDP, 32 bytes payload: len 20 + 8 + 32 = 60 */
static size_t f_v4_udp(__u8 *buf)
{
	struct FR_PACKED {
		struct ethhdr eth;
		struct iphdr ip;
		struct udphdr udp;
		__u8 payload[32];
	} f;

	memset(&f, 0, sizeof(f));
	f.eth = fr_eth(ETH_P_IP);
	f.ip = fr_ip4(5, IPPROTO_UDP, sizeof(f) - ETH_HLEN);
	f.udp = fr_udp(sizeof(f.udp) + sizeof(f.payload));
	fr_payload(f.payload, sizeof(f.payload));
	return FR_OUT(buf, f);
}

/* IPv4/ICMP echo, 56 bytes payload: len 20 + 8 + 56 = 84 */
static size_t f_v4_icmp(__u8 *buf)
{
	struct FR_PACKED {
		struct ethhdr eth;
		struct iphdr ip;
		struct icmphdr icmp;
		__u8 payload[56];
	} f;

	memset(&f, 0, sizeof(f));
	f.eth = fr_eth(ETH_P_IP);
	f.ip = fr_ip4(5, IPPROTO_ICMP, sizeof(f) - ETH_HLEN);
	f.icmp = fr_icmp();
	fr_payload(f.payload, sizeof(f.payload));
	return FR_OUT(buf, f);
}

/* IPv4 fragment of a UDP datagram: later (offset 1480) or first (MF set)
 * one. Both len 20 + 100 = 120; the first one's 100 bytes start with UDP. */
static size_t v4_frag(__u8 *buf, __u16 frag_off)
{
	struct FR_PACKED {
		struct ethhdr eth;
		struct iphdr ip;
		union {
			struct udphdr udp;
			__u8 bytes[100];
		} l4;
	} f;

	memset(&f, 0, sizeof(f));
	f.eth = fr_eth(ETH_P_IP);
	f.ip = fr_ip4(5, IPPROTO_UDP, sizeof(f) - ETH_HLEN);
	f.ip.frag_off = htobe16(frag_off);
	fr_payload(f.l4.bytes, sizeof(f.l4.bytes));
	if (!(frag_off & 0x1FFF))
		f.l4.udp = fr_udp(1480);
	return FR_OUT(buf, f);
}

static size_t f_v4_frag_later(__u8 *buf)
{
	return v4_frag(buf, 1480 / 8);
}

static size_t f_v4_frag_first(__u8 *buf)
{
	return v4_frag(buf, 0x2000 /* IP_MF */);
}

/* IPv4/GRE: no L4 header netacct knows, 40 bytes after IP. len 60 */
static size_t f_v4_gre(__u8 *buf)
{
	struct FR_PACKED {
		struct ethhdr eth;
		struct iphdr ip;
		__u8 gre[40];
	} f;

	memset(&f, 0, sizeof(f));
	f.eth = fr_eth(ETH_P_IP);
	f.ip = fr_ip4(5, IPPROTO_GRE, sizeof(f) - ETH_HLEN);
	fr_payload(f.gre, sizeof(f.gre));
	return FR_OUT(buf, f);
}

/* IPv6/TCP, 200 bytes payload: len 40 + 20 + 200 = 260 */
static size_t f_v6_tcp(__u8 *buf)
{
	struct FR_PACKED {
		struct ethhdr eth;
		struct ipv6hdr ip6;
		struct tcphdr tcp;
		__u8 payload[200];
	} f;

	memset(&f, 0, sizeof(f));
	f.eth = fr_eth(ETH_P_IPV6);
	f.ip6 = fr_ip6(IPPROTO_TCP, sizeof(f) - ETH_HLEN - sizeof(f.ip6));
	f.tcp = fr_tcp(5);
	fr_payload(f.payload, sizeof(f.payload));
	return FR_OUT(buf, f);
}

/* IPv6 + hop-by-hop (8) + routing type 2 (24) + destination options (8) +
 * fragment, first fragment with M set (8) + UDP + 64 payload:
 * len 40 + 48 + 8 + 64 = 160 */
static size_t f_v6_udp_exthdrs(__u8 *buf)
{
	struct FR_PACKED {
		struct ethhdr eth;
		struct ipv6hdr ip6;
		struct fr_opt8 hbh;
		struct rt2_hdr rt;
		struct fr_opt8 dst;
		struct fr_frag_hdr frag;
		struct udphdr udp;
		__u8 payload[64];
	} f;

	memset(&f, 0, sizeof(f));
	f.eth = fr_eth(ETH_P_IPV6);
	f.ip6 = fr_ip6(IPPROTO_HOPOPTS, sizeof(f) - ETH_HLEN - sizeof(f.ip6));
	f.hbh = fr_opt8(IPPROTO_ROUTING);
	f.rt = fr_rt2(IPPROTO_DSTOPTS);
	f.dst = fr_opt8(IPPROTO_FRAGMENT);
	f.frag = fr_frag(IPPROTO_UDP, 0, 1);
	f.udp = fr_udp(1400);
	fr_payload(f.payload, sizeof(f.payload));
	return FR_OUT(buf, f);
}

/* IPv6 + authentication header (payload len 4: (4 + 2) * 4 = 24 bytes) + UDP
 * + 16 payload: len 40 + 24 + 8 + 16 = 88 */
static size_t f_v6_ah_udp(__u8 *buf)
{
	struct FR_PACKED {
		struct ethhdr eth;
		struct ipv6hdr ip6;
		struct {
			__u8 nexthdr;
			__u8 hdrlen;
			__be16 reserved;
			__be32 spi;
			__be32 seq;
			__u8 icv[12];
		} FR_PACKED ah;
		struct udphdr udp;
		__u8 payload[16];
	} f;

	_Static_assert(sizeof(f.ah) == 24, "AH with a 96-bit ICV");
	memset(&f, 0, sizeof(f));
	f.eth = fr_eth(ETH_P_IPV6);
	f.ip6 = fr_ip6(51 /* IPPROTO_AH */, sizeof(f) - ETH_HLEN - sizeof(f.ip6));
	f.ah.nexthdr = IPPROTO_UDP;
	f.ah.hdrlen = 4;
	f.ah.spi = htobe32(0x100);
	f.ah.seq = htobe32(1);
	f.udp = fr_udp(8 + 16);
	fr_payload(f.payload, sizeof(f.payload));
	return FR_OUT(buf, f);
}

/* IPv6 later fragment (offset 1448) of a UDP datagram: len 40 + 8 + 100 = 148 */
static size_t f_v6_frag_later(__u8 *buf)
{
	struct FR_PACKED {
		struct ethhdr eth;
		struct ipv6hdr ip6;
		struct fr_frag_hdr frag;
		__u8 payload[100];
	} f;

	memset(&f, 0, sizeof(f));
	f.eth = fr_eth(ETH_P_IPV6);
	f.ip6 = fr_ip6(IPPROTO_FRAGMENT, sizeof(f) - ETH_HLEN - sizeof(f.ip6));
	f.frag = fr_frag(IPPROTO_UDP, 1448, 0);
	fr_payload(f.payload, sizeof(f.payload));
	return FR_OUT(buf, f);
}

/* BIG TCP shape: IPv6 payload_len 0 + jumbo hop-by-hop (8) + TCP doff=8 +
 * 2896 payload: len 40 + 8 + 32 + 2896 = 2976. With payload_len != 0 the
 * same hop-by-hop header is an ordinary (wire) extension header. */
static size_t v6_jumbo_tcp(__u8 *buf, __u16 payload_len)
{
	struct FR_PACKED {
		struct ethhdr eth;
		struct ipv6hdr ip6;
		struct fr_jumbo hbh;
		struct tcphdr tcp;
		__u8 tcpopts[12];
		__u8 payload[2896];
	} f;

	memset(&f, 0, sizeof(f));
	f.eth = fr_eth(ETH_P_IPV6);
	f.ip6 = fr_ip6(IPPROTO_HOPOPTS, payload_len);
	f.hbh = fr_jumbo(IPPROTO_TCP, sizeof(f) - ETH_HLEN - sizeof(f.ip6));
	f.tcp = fr_tcp(8);
	fr_tcp_opts(f.tcpopts, sizeof(f.tcpopts));
	fr_payload(f.payload, sizeof(f.payload));
	return FR_OUT(buf, f);
}

static size_t f_v6_jumbo_tcp(__u8 *buf)
{
	return v6_jumbo_tcp(buf, 0);
}

static size_t f_v6_hbh_jumbo_plen(__u8 *buf)
{
	return v6_jumbo_tcp(buf, 8 + 32 + 2896);
}

/* IPv6/ICMPv6 echo, 32 bytes payload: len 40 + 8 + 32 = 80 */
static size_t f_v6_icmp6(__u8 *buf)
{
	struct FR_PACKED {
		struct ethhdr eth;
		struct ipv6hdr ip6;
		struct icmp6hdr icmp6;
		__u8 payload[32];
	} f;

	memset(&f, 0, sizeof(f));
	f.eth = fr_eth(ETH_P_IPV6);
	f.ip6 = fr_ip6(IPPROTO_ICMPV6, sizeof(f) - ETH_HLEN - sizeof(f.ip6));
	f.icmp6 = fr_icmp6();
	fr_payload(f.payload, sizeof(f.payload));
	return FR_OUT(buf, f);
}

/* IPv6 "no next header" (59), nothing after: the minimum IPv6 frame. len 40 */
static size_t f_v6_nonext(__u8 *buf)
{
	struct FR_PACKED {
		struct ethhdr eth;
		struct ipv6hdr ip6;
	} f;

	_Static_assert(sizeof(f) == FR_MIN_V6, "minimum IPv6 frame");
	memset(&f, 0, sizeof(f));
	f.eth = fr_eth(ETH_P_IPV6);
	f.ip6 = fr_ip6(IPPROTO_NONE, 0);
	return FR_OUT(buf, f);
}

/* IPv6 + n destination options headers (8 each) + UDP + 16 payload:
 * len 40 + 8n + 8 + 16 */
static size_t v6_dstopts_chain(__u8 *buf, int n)
{
	struct FR_PACKED {
		struct ethhdr eth;
		struct ipv6hdr ip6;
		struct fr_opt8 opt[9];
		struct udphdr udp;
		__u8 payload[16];
	} f;
	__u8 *p = buf;
	int i;

	memset(&f, 0, sizeof(f));
	f.eth = fr_eth(ETH_P_IPV6);
	f.ip6 = fr_ip6(IPPROTO_DSTOPTS, 8 * n + 8 + 16);
	for (i = 0; i < n; i++)
		f.opt[i] = fr_opt8(i == n - 1 ? IPPROTO_UDP : IPPROTO_DSTOPTS);
	f.udp = fr_udp(8 + 16);
	fr_payload(f.payload, sizeof(f.payload));
	memcpy(p, &f, ETH_HLEN + sizeof(f.ip6) + 8 * n);
	p += ETH_HLEN + sizeof(f.ip6) + 8 * n;
	memcpy(p, &f.udp, sizeof(f.udp) + sizeof(f.payload));
	return ETH_HLEN + sizeof(f.ip6) + 8 * n + sizeof(f.udp) + sizeof(f.payload);
}

static size_t f_v6_8_exthdrs(__u8 *buf)
{
	return v6_dstopts_chain(buf, 8);
}

static size_t f_v6_9_exthdrs(__u8 *buf)
{
	return v6_dstopts_chain(buf, 9);
}

/* ---- malformed ---------------------------------------------------------- */

/* IPv4/TCP + 20 payload (len 60), then one header field broken */
static size_t v4_tcp_small(__u8 *buf, __u8 version, __u8 ihl, __u8 doff)
{
	struct FR_PACKED {
		struct ethhdr eth;
		struct iphdr ip;
		struct tcphdr tcp;
		__u8 payload[20];
	} f;

	memset(&f, 0, sizeof(f));
	f.eth = fr_eth(ETH_P_IP);
	f.ip = fr_ip4(ihl, IPPROTO_TCP, sizeof(f) - ETH_HLEN);
	f.ip.version = version;
	f.tcp = fr_tcp(doff);
	fr_payload(f.payload, sizeof(f.payload));
	return FR_OUT(buf, f);
}

static size_t f_bad_ihl4(__u8 *buf)
{
	return v4_tcp_small(buf, 4, 4, 5);
}

static size_t f_bad_v4_version6(__u8 *buf)
{
	return v4_tcp_small(buf, 6, 5, 5);
}

static size_t f_bad_doff4(__u8 *buf)
{
	return v4_tcp_small(buf, 4, 5, 4);
}

/* doff=15 asks for 60 bytes of TCP header, 40 remain */
static size_t f_bad_doff_past_end(__u8 *buf)
{
	return v4_tcp_small(buf, 4, 5, 15);
}

/* ihl=15 asks for 60 bytes of IP header in a 40-byte packet (len 40) */
static size_t f_bad_ihl_past_end(__u8 *buf)
{
	struct FR_PACKED {
		struct ethhdr eth;
		struct iphdr ip;
		__u8 rest[20];
	} f;

	memset(&f, 0, sizeof(f));
	f.eth = fr_eth(ETH_P_IP);
	f.ip = fr_ip4(15, IPPROTO_UDP, sizeof(f) - ETH_HLEN);
	memset(f.rest, 1 /* IPOPT_NOOP */, sizeof(f.rest));
	return FR_OUT(buf, f);
}

/* IPv4 + the first n bytes of an L4 header (len 20 + n) */
static size_t v4_l4_cut(__u8 *buf, __u8 proto, size_t n)
{
	struct FR_PACKED {
		struct ethhdr eth;
		struct iphdr ip;
		union {
			struct tcphdr tcp;
			struct udphdr udp;
			struct icmphdr icmp;
		} l4;
	} f;

	memset(&f, 0, sizeof(f));
	f.eth = fr_eth(ETH_P_IP);
	f.ip = fr_ip4(5, proto, sizeof(f.ip) + n);
	if (proto == IPPROTO_TCP)
		f.l4.tcp = fr_tcp(5);
	else if (proto == IPPROTO_UDP)
		f.l4.udp = fr_udp(8);
	else
		f.l4.icmp = fr_icmp();
	memcpy(buf, &f, ETH_HLEN + sizeof(f.ip) + n);
	return ETH_HLEN + sizeof(f.ip) + n;
}

/* the doff byte (offset 12) is missing: len 30 */
static size_t f_bad_tcp_cut10(__u8 *buf)
{
	return v4_l4_cut(buf, IPPROTO_TCP, 10);
}

/* doff=5 readable but only 16 of 20 bytes present: len 36 */
static size_t f_bad_tcp_cut16(__u8 *buf)
{
	return v4_l4_cut(buf, IPPROTO_TCP, 16);
}

/* len 24 */
static size_t f_bad_udp_cut4(__u8 *buf)
{
	return v4_l4_cut(buf, IPPROTO_UDP, 4);
}

/* len 26 */
static size_t f_bad_icmp_cut6(__u8 *buf)
{
	return v4_l4_cut(buf, IPPROTO_ICMP, 6);
}

/* ethertype IPv6, version field 4: IPv6/TCP + 20 payload, len 80 */
static size_t f_bad_v6_version4(__u8 *buf)
{
	struct FR_PACKED {
		struct ethhdr eth;
		struct ipv6hdr ip6;
		struct tcphdr tcp;
		__u8 payload[20];
	} f;

	memset(&f, 0, sizeof(f));
	f.eth = fr_eth(ETH_P_IPV6);
	f.ip6 = fr_ip6(IPPROTO_TCP, sizeof(f) - ETH_HLEN - sizeof(f.ip6));
	f.ip6.version = 4;
	f.tcp = fr_tcp(5);
	fr_payload(f.payload, sizeof(f.payload));
	return FR_OUT(buf, f);
}

/* hop-by-hop hdrlen=3 claims 32 bytes, 16 follow: len 56 */
static size_t f_bad_v6_ext_past_end(__u8 *buf)
{
	struct FR_PACKED {
		struct ethhdr eth;
		struct ipv6hdr ip6;
		struct fr_opt8 hbh;
		__u8 rest[8];
	} f;

	memset(&f, 0, sizeof(f));
	f.eth = fr_eth(ETH_P_IPV6);
	f.ip6 = fr_ip6(IPPROTO_HOPOPTS, 16);
	f.hbh = fr_opt8(IPPROTO_UDP);
	f.hbh.hdr.hdrlen = 3;
	return FR_OUT(buf, f);
}

/* nexthdr hop-by-hop but only 4 bytes follow the IPv6 header: len 44 */
static size_t f_bad_v6_ext_cut(__u8 *buf)
{
	struct FR_PACKED {
		struct ethhdr eth;
		struct ipv6hdr ip6;
		__u8 rest[4];
	} f;

	memset(&f, 0, sizeof(f));
	f.eth = fr_eth(ETH_P_IPV6);
	f.ip6 = fr_ip6(IPPROTO_HOPOPTS, 4);
	f.rest[0] = IPPROTO_UDP;
	return FR_OUT(buf, f);
}

/* IPv6 + 4 bytes of UDP: len 44 */
static size_t f_bad_v6_udp_cut(__u8 *buf)
{
	struct FR_PACKED {
		struct ethhdr eth;
		struct ipv6hdr ip6;
		__u8 udp[4];
	} f;

	memset(&f, 0, sizeof(f));
	f.eth = fr_eth(ETH_P_IPV6);
	f.ip6 = fr_ip6(IPPROTO_UDP, 4);
	return FR_OUT(buf, f);
}

/* ARP request: not IP, 28 bytes after Ethernet. len 28 */
static size_t f_bad_arp(__u8 *buf)
{
	struct FR_PACKED {
		struct ethhdr eth;
		__u8 arp[28];
	} f;

	memset(&f, 0, sizeof(f));
	f.eth = fr_eth(ETH_P_ARP);
	f.arp[1] = 1;    /* htype Ethernet */
	f.arp[2] = 0x08; /* ptype IPv4 */
	f.arp[4] = 6;
	f.arp[5] = 4;
	f.arp[7] = 1;    /* request */
	return FR_OUT(buf, f);
}

/* ------------------------------------------------------------------------ */
/* Cases                                                                     */

struct want {
	__u64 packets, ip, l4, payload;
	__u8 family, proto;
	int parse_error;
	const __u8 *laddr; /* NULL: all zero */
	__u16 lport;
};

struct tcase {
	const char *name;
	size_t (*build)(__u8 *buf);
	int dir;            /* NA_TX: na_egress, NA_RX: na_ingress */
	__u32 gso_segs;     /* with gso_size, passed through ctx_in when non-zero */
	__u32 gso_size;
	int runs;           /* 0 means 1 */
	struct want w;      /* per run */
};

#define TX NA_TX
#define RX NA_RX
#define V4 NA_F_IPV4
#define V6 NA_F_IPV6

/* every well-formed frame goes from fr_*_src:FR_SPORT to fr_*_dst:FR_DPORT */
#define OK(pk, i, l, pl, fam, pr, la, lp)                                   \
	{ .packets = (pk), .ip = (i), .l4 = (l), .payload = (pl), .family = (fam), \
	  .proto = (pr), .laddr = (la), .lport = (lp) }
#define BAD(pk, pl, fam)                                                    \
	{ .packets = (pk), .payload = (pl), .family = (fam), .proto = NA_P_OTHER, \
	  .parse_error = 1 }

static const struct tcase cases[] = {
	{ "v4_tcp_egress", f_v4_tcp, TX, 0, 0, 0,
	  OK(1, 20, 20, 100, V4, NA_P_TCP, fr_v4_src, FR_SPORT) },
	{ "v4_tcp_ingress", f_v4_tcp, RX, 0, 0, 0,
	  OK(1, 20, 20, 100, V4, NA_P_TCP, fr_v4_dst, FR_DPORT) },
	{ "v4_tcp_fresh_cookie_per_run", f_v4_tcp, TX, 0, 0, 3,
	  OK(1, 20, 20, 100, V4, NA_P_TCP, fr_v4_src, FR_SPORT) },
	{ "v4_ipopts_ihl8_tcpopts_doff8", f_v4_opts_tcp_opts, TX, 0, 0, 0,
	  OK(1, 32, 32, 64, V4, NA_P_TCP, fr_v4_src, FR_SPORT) },
	{ "v4_tcp_ack_eth_padding_is_payload", f_v4_tcp_ack_padded, TX, 0, 0, 0,
	  OK(1, 20, 20, 6, V4, NA_P_TCP, fr_v4_src, FR_SPORT) },
	{ "v4_udp_egress", f_v4_udp, TX, 0, 0, 0,
	  OK(1, 20, 8, 32, V4, NA_P_UDP, fr_v4_src, FR_SPORT) },
	{ "v4_udp_ingress", f_v4_udp, RX, 0, 0, 0,
	  OK(1, 20, 8, 32, V4, NA_P_UDP, fr_v4_dst, FR_DPORT) },
	{ "v4_icmp", f_v4_icmp, TX, 0, 0, 0,
	  OK(1, 20, 8, 56, V4, NA_P_ICMP, fr_v4_src, 0) },
	{ "v4_gso45_egress", f_v4_tcp_big, TX, 45, 1448, 0,
	  OK(45, 20 * 45, 32 * 45, 2896, V4, NA_P_TCP, fr_v4_src, FR_SPORT) },
	{ "v4_gso45_ingress", f_v4_tcp_big, RX, 45, 1448, 0,
	  OK(45, 20 * 45, 32 * 45, 2896, V4, NA_P_TCP, fr_v4_dst, FR_DPORT) },
	{ "v4_gso_segs1_is_one_packet", f_v4_tcp_big, TX, 1, 1448, 0,
	  OK(1, 20, 32, 2896, V4, NA_P_TCP, fr_v4_src, FR_SPORT) },
	{ "v4_fragment_later_no_l4", f_v4_frag_later, TX, 0, 0, 0,
	  OK(1, 20, 0, 100, V4, NA_P_UDP, fr_v4_src, 0) },
	{ "v4_fragment_first_has_l4", f_v4_frag_first, TX, 0, 0, 0,
	  OK(1, 20, 8, 92, V4, NA_P_UDP, fr_v4_src, FR_SPORT) },
	{ "v4_gre_is_other_not_error", f_v4_gre, TX, 0, 0, 0,
	  OK(1, 20, 0, 40, V4, NA_P_OTHER, fr_v4_src, 0) },
	{ "v6_tcp_egress", f_v6_tcp, TX, 0, 0, 0,
	  OK(1, 40, 20, 200, V6, NA_P_TCP, fr_v6_src, FR_SPORT) },
	{ "v6_tcp_ingress", f_v6_tcp, RX, 0, 0, 0,
	  OK(1, 40, 20, 200, V6, NA_P_TCP, fr_v6_dst, FR_DPORT) },
	{ "v6_udp_hbh_rt_dst_frag0", f_v6_udp_exthdrs, TX, 0, 0, 0,
	  OK(1, 88, 8, 64, V6, NA_P_UDP, fr_v6_src, FR_SPORT) },
	{ "v6_udp_hbh_rt_dst_frag0_ingress", f_v6_udp_exthdrs, RX, 0, 0, 0,
	  OK(1, 88, 8, 64, V6, NA_P_UDP, fr_v6_dst, FR_DPORT) },
	{ "v6_ah_udp", f_v6_ah_udp, TX, 0, 0, 0,
	  OK(1, 64, 8, 16, V6, NA_P_UDP, fr_v6_src, FR_SPORT) },
	{ "v6_fragment_later_no_l4", f_v6_frag_later, TX, 0, 0, 0,
	  OK(1, 48, 0, 100, V6, NA_P_UDP, fr_v6_src, 0) },
	/* jumbo: 8 bytes counted in neither header nor payload, per segment 40 */
	{ "v6_jumbo_hbh_tcp_gso2", f_v6_jumbo_tcp, TX, 2, 1448, 0,
	  OK(2, 40 * 2, 32 * 2, 2896, V6, NA_P_TCP, fr_v6_src, FR_SPORT) },
	{ "v6_jumbo_hbh_tcp_gso45_ingress", f_v6_jumbo_tcp, RX, 45, 1448, 0,
	  OK(45, 40 * 45, 32 * 45, 2896, V6, NA_P_TCP, fr_v6_dst, FR_DPORT) },
	{ "v6_jumbo_hbh_tcp_no_gso", f_v6_jumbo_tcp, TX, 0, 0, 0,
	  OK(1, 40, 32, 2896, V6, NA_P_TCP, fr_v6_src, FR_SPORT) },
	{ "v6_jumbo_option_with_payload_len_is_wire", f_v6_hbh_jumbo_plen, TX, 0, 0, 0,
	  OK(1, 48, 32, 2896, V6, NA_P_TCP, fr_v6_src, FR_SPORT) },
	{ "v6_icmpv6", f_v6_icmp6, TX, 0, 0, 0,
	  OK(1, 40, 8, 32, V6, NA_P_ICMPV6, fr_v6_src, 0) },
	{ "v6_no_next_header", f_v6_nonext, TX, 0, 0, 0,
	  OK(1, 40, 0, 0, V6, NA_P_OTHER, fr_v6_src, 0) },
	/* up to 8 extension headers parse; a 9th makes the packet unparseable */
	{ "v6_8_exthdrs_parse", f_v6_8_exthdrs, TX, 0, 0, 0,
	  OK(1, 40 + 64, 8, 16, V6, NA_P_UDP, fr_v6_src, FR_SPORT) },

	/* unparseable: every byte of skb->len is payload of 'other'; the row's
	 * family follows the ethertype and its addresses stay zero */
	{ "bad_v4_ihl4", f_bad_ihl4, TX, 0, 0, 0, BAD(1, 60, V4) },
	{ "bad_v4_ihl4_gso45", f_bad_ihl4, TX, 45, 1448, 0, BAD(45, 60, V4) },
	{ "bad_v4_ihl4_ingress", f_bad_ihl4, RX, 0, 0, 0, BAD(1, 60, V4) },
	{ "bad_v4_version6", f_bad_v4_version6, TX, 0, 0, 0, BAD(1, 60, V4) },
	{ "bad_v6_version4", f_bad_v6_version4, TX, 0, 0, 0, BAD(1, 80, V6) },
	{ "bad_tcp_doff4", f_bad_doff4, TX, 0, 0, 0, BAD(1, 60, V4) },
	{ "bad_tcp_doff15_past_end", f_bad_doff_past_end, TX, 0, 0, 0, BAD(1, 60, V4) },
	{ "bad_v4_ihl15_past_end", f_bad_ihl_past_end, TX, 0, 0, 0, BAD(1, 40, V4) },
	{ "bad_tcp_cut_before_doff", f_bad_tcp_cut10, TX, 0, 0, 0, BAD(1, 30, V4) },
	{ "bad_tcp_cut_after_doff", f_bad_tcp_cut16, TX, 0, 0, 0, BAD(1, 36, V4) },
	{ "bad_udp_cut", f_bad_udp_cut4, TX, 0, 0, 0, BAD(1, 24, V4) },
	{ "bad_icmp_cut", f_bad_icmp_cut6, TX, 0, 0, 0, BAD(1, 26, V4) },
	{ "bad_v6_udp_cut", f_bad_v6_udp_cut, TX, 0, 0, 0, BAD(1, 44, V6) },
	{ "bad_v6_exthdr_past_end", f_bad_v6_ext_past_end, TX, 0, 0, 0, BAD(1, 56, V6) },
	{ "bad_v6_exthdr_cut", f_bad_v6_ext_cut, TX, 0, 0, 0, BAD(1, 44, V6) },
	{ "bad_v6_9_exthdrs", f_v6_9_exthdrs, TX, 0, 0, 0, BAD(1, 136, V6) },
	{ "bad_non_ip_arp", f_bad_arp, TX, 0, 0, 0, BAD(1, 28, NA_F_UNSPEC) },
};

/* ------------------------------------------------------------------------ */
/* Harness                                                                   */

struct env {
	struct netacct_bpf *skel;
	int ncpus;
	__u64 cgid; /* this process's cgroup v2 id */
	struct na_totals *percpu; /* ncpus values */
};

/*
 * The cgroup v2 id of this process: the inode of its cgroup directory, found
 * from the "0::" line of /proc/self/cgroup under the cgroup2 mount named in
 * /proc/self/mountinfo (its root field maps namespaced paths).
 */
static int self_cgroup_id(__u64 *id)
{
	char line[4096], cgpath[4096] = "", dir[PATH_MAX];
	struct stat st;
	FILE *f;
	int err = 0;

	f = fopen("/proc/self/cgroup", "re");
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		if (!strncmp(line, "0::", 3)) {
			line[strcspn(line, "\n")] = '\0';
			snprintf(cgpath, sizeof(cgpath), "%s", line + 3);
			break;
		}
	}
	fclose(f);
	if (!cgpath[0])
		return -ENOENT;

	/* Under the cgroup2 mount, whose root maps namespaced paths. */
	err = na_cgroup_abs(cgpath, dir, sizeof(dir));
	if (err)
		return err;
	if (stat(dir, &st))
		err = -errno;
	else
		*id = st.st_ino;
	if (verbose)
		fprintf(stderr, "this process in %s, id %llu\n", dir, (unsigned long long)*id);
	return err;
}

/* Empty na_socks and zero na_totals on every CPU. */
static int state_reset(struct env *e)
{
	int socks = bpf_map__fd(e->skel->maps.na_socks);
	int totals = bpf_map__fd(e->skel->maps.na_totals);
	__u32 zero = 0;
	__u64 key;

	while (!bpf_map_get_next_key(socks, NULL, &key)) {
		if (bpf_map_delete_elem(socks, &key))
			return -errno;
	}
	if (errno != ENOENT)
		return -errno;
	memset(e->percpu, 0, sizeof(*e->percpu) * e->ncpus);
	if (bpf_map_update_elem(totals, &zero, e->percpu, BPF_ANY))
		return -errno;
	return 0;
}

static int totals_read(struct env *e, struct na_totals *sum)
{
	__u32 zero = 0;
	int cpu, d;

	if (bpf_map_lookup_elem(bpf_map__fd(e->skel->maps.na_totals), &zero, e->percpu))
		return -errno;
	memset(sum, 0, sizeof(*sum));
	for (cpu = 0; cpu < e->ncpus; cpu++) {
		const struct na_totals *t = &e->percpu[cpu];

		for (d = 0; d < NA_NDIR; d++) {
			sum->dir[d].packets += t->dir[d].packets;
			sum->dir[d].ip_hdr_bytes += t->dir[d].ip_hdr_bytes;
			sum->dir[d].l4_hdr_bytes += t->dir[d].l4_hdr_bytes;
			sum->dir[d].payload_bytes += t->dir[d].payload_bytes;
		}
		sum->overflow_packets += t->overflow_packets;
		sum->overflow_bytes += t->overflow_bytes;
		sum->parse_errors += t->parse_errors;
		sum->norow_packets += t->norow_packets;
	}
	return 0;
}

/* Up to max rows of na_socks; returns how many there are (or -errno). */
static int rows_read(struct env *e, struct na_row *rows, int max)
{
	int fd = bpf_map__fd(e->skel->maps.na_socks);
	__u64 key, next;
	int n = 0;
	__u64 *prev = NULL;

	while (!bpf_map_get_next_key(fd, prev, &next)) {
		key = next;
		prev = &key;
		if (n < max && bpf_map_lookup_elem(fd, &key, &rows[n]))
			return -errno;
		n++;
	}
	return errno == ENOENT ? n : -errno;
}

static void check_counters(const struct na_counters *c, const struct want *w, __u64 times,
			   const char *where)
{
	char what[128];

	snprintf(what, sizeof(what), "%s.packets", where);
	ASSERT_EQ(c->packets, w->packets * times, what);
	snprintf(what, sizeof(what), "%s.ip_hdr_bytes", where);
	ASSERT_EQ(c->ip_hdr_bytes, w->ip * times, what);
	snprintf(what, sizeof(what), "%s.l4_hdr_bytes", where);
	ASSERT_EQ(c->l4_hdr_bytes, w->l4 * times, what);
	snprintf(what, sizeof(what), "%s.payload_bytes", where);
	ASSERT_EQ(c->payload_bytes, w->payload * times, what);
	/* every case's packets are each the first of their socket: nothing was seen before */
	snprintf(what, sizeof(what), "%s.resent_bytes", where);
	ASSERT_EQ(c->resent_bytes, 0, what);
}

static const struct want want_zero;

static __u64 boottime_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_BOOTTIME, &ts);
	return (__u64)ts.tv_sec * 1000000000ULL + (__u64)ts.tv_nsec;
}

static void check_row(struct env *e, const struct na_row *s, const struct tcase *tc,
		      __u64 t0, __u64 t1)
{
	static const __u8 zero16[16], zero_comm[NA_COMM_LEN];
	const struct want *w = &tc->w;
	const char *dn[NA_NDIR] = { "row.tx", "row.rx" };
	int d;

	ASSERT_EQ(s->cgroup_id, e->cgid, "row.cgroup_id");
	ASSERT_EQ(s->acct_token, SELF_TOKEN, "row.acct_token");
	ASSERT_TRUE(s->first_ns >= t0 && s->first_ns <= t1, "row.first_ns within the run");
	/* no connect() was seen for the dummy socket: owner unknown */
	ASSERT_EQ(s->pid, 0, "row.pid");
	ASSERT_EQ(s->uid, (__u32)-1, "row.uid");
	ASSERT_MEM_EQ(s->comm, zero_comm, NA_COMM_LEN, "row.comm");
	ASSERT_EQ(s->family, w->family, "row.family");
	ASSERT_EQ(s->proto, w->proto, "row.proto");
	ASSERT_MEM_EQ(s->laddr, w->laddr ? w->laddr : zero16, 16, "row.laddr");
	ASSERT_EQ(s->lport, w->lport, "row.lport");
	/* the dummy socket has dst_port 0, i.e. is not connected: no remote side */
	ASSERT_MEM_EQ(s->raddr, zero16, 16, "row.raddr");
	ASSERT_EQ(s->rport, 0, "row.rport");
	ASSERT_EQ(s->owner_src, NA_OWN_NONE, "row.owner_src");
	/* the dummy socket is not a TCP socket (protocol 0): no state */
	ASSERT_EQ(s->state, 0, "row.state");
	ASSERT_EQ(s->rx.srtt_us, 0, "row.rx.srtt_us (no TCP socket)");
	/* a TCP header was parsed: its sequence starts the direction's stream, all payload new */
	ASSERT_EQ(!!(s->flags & (tc->dir == NA_TX ? NA_ROW_TX_SEQ : NA_ROW_RX_SEQ)),
		  w->proto == NA_P_TCP && w->lport != 0, "row.flags seq bit");
	ASSERT_EQ(NA_ROW_DIR(s, tc->dir)->last_len, w->proto == NA_P_TCP && w->lport != 0 ? w->payload : 0,
		  "row.last_len (the segment's payload)");
	for (d = 0; d < NA_NDIR; d++)
		check_counters(&NA_ROW_DIR(s, d)->c, d == tc->dir ? w : &want_zero, 1, dn[d]);
}

/* Runs one case from empty maps; returns 1 if any assertion failed. */
static int run_case(struct env *e, const struct tcase *tc)
{
	static __u8 frame[FRAME_MAX];
	struct na_row rows[MAX_ROWS];
	const char *tn[NA_NDIR] = { "totals.tx", "totals.rx" };
	struct bpf_program *prog = tc->dir == NA_TX ? e->skel->progs.na_egress
						    : e->skel->progs.na_ingress;
	struct na_totals sum;
	struct __sk_buff ctx;
	int runs = tc->runs ? tc->runs : 1;
	size_t size;
	__u64 t0, t1;
	int i, n, err, d;

	cur_case = tc->name;
	case_failed = 0;

	err = state_reset(e);
	if (err) {
		FAILF("reset maps: %s", strerror(-err));
		return 1;
	}
	size = tc->build(frame);
	t0 = boottime_ns();
	for (i = 0; i < runs; i++) {
		LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = frame,
			    .data_size_in = (__u32)size);

		memset(&ctx, 0, sizeof(ctx));
		if (tc->gso_segs || tc->gso_size) {
			ctx.gso_segs = tc->gso_segs;
			ctx.gso_size = tc->gso_size;
			opts.ctx_in = &ctx;
			opts.ctx_size_in = sizeof(ctx);
			opts.ctx_out = &ctx;
			opts.ctx_size_out = sizeof(ctx);
		}
		err = bpf_prog_test_run_opts(bpf_program__fd(prog), &opts);
		if (err) {
			FAILF("bpf_prog_test_run_opts(%s, %zu-byte frame): %s",
			      bpf_program__name(prog), size, strerror(-err));
			return 1;
		}
		ASSERT_EQ(opts.retval, 1, "retval");
		if (opts.ctx_in) {
			ASSERT_EQ(ctx.gso_segs, tc->gso_segs, "ctx_out.gso_segs");
			ASSERT_EQ(ctx.gso_size, tc->gso_size, "ctx_out.gso_size");
		}
	}
	t1 = boottime_ns();

	err = totals_read(e, &sum);
	if (err) {
		FAILF("read na_totals: %s", strerror(-err));
		return 1;
	}
	for (d = 0; d < NA_NDIR; d++)
		check_counters(&sum.dir[d], d == tc->dir ? &tc->w : &want_zero,
			       (__u64)runs, tn[d]);
	ASSERT_EQ(sum.parse_errors, (__u64)tc->w.parse_error * runs, "totals.parse_errors");
	ASSERT_EQ(sum.overflow_packets, 0, "totals.overflow_packets");
	ASSERT_EQ(sum.overflow_bytes, 0, "totals.overflow_bytes");
	ASSERT_EQ(sum.norow_packets, 0, "totals.norow_packets");

	/* a fresh cookie per run: one row per run, each holding that run only */
	n = rows_read(e, rows, MAX_ROWS);
	if (n < 0) {
		FAILF("read na_socks: %s", strerror(-n));
		return 1;
	}
	ASSERT_EQ(n, runs, "na_socks rows");
	for (i = 0; i < n && i < MAX_ROWS; i++)
		check_row(e, &rows[i], tc, t0, t1);
	return case_failed;
}

static int skip_or_fail(const char *why)
{
	const char *ci = getenv("CI");

	if (ci && !strcmp(ci, "true")) {
		fprintf(stderr, "test_bpf: %s; CI=true, so this is a failure, not a skip\n", why);
		return 1;
	}
	fprintf(stderr, "test_bpf: SKIP: %s\n", why);
	return 77;
}

/* -------------------------------------------------------------------------- */
/* Fuzzing: the cases' frames, mutated, through both programs                 */

static __u64 rng_state;

static __u64 rnd(void) /* xorshift64*: seeded, reproducible */
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545F4914F6CDD1Dull;
}

/* A few of: a random byte, a random ethertype, cut, grown, IP header length, TCP data offset, IPv6 next header. */
static size_t mutate(__u8 *f, size_t size)
{
	static const __u8 nexthdrs[] = { 0, 6, 17, 43, 44, 51, 58, 59, 60, 255 };
	int k, ops = (int)(rnd() % 4);
	size_t at, n;

	for (k = 0; k < ops; k++) {
		switch (rnd() % 7) {
		case 0:
			f[rnd() % size] = (__u8)rnd();
			break;
		case 1: /* ethertype: mostly IPv4/IPv6 so that the parser runs */
			n = rnd() % 3;
			f[12] = n == 0 ? 0x08 : n == 1 ? 0x86 : (__u8)rnd();
			f[13] = n == 0 ? 0x00 : n == 1 ? 0xdd : (__u8)rnd();
			break;
		case 2:
			size = 14 + rnd() % (size - 13);
			break;
		case 3:
			n = rnd() % 256;
			for (at = size; at < size + n && at < FRAME_MAX; at++)
				f[at] = (__u8)rnd();
			size = at;
			break;
		case 4:
			if (size > 14)
				f[14] = (__u8)((f[14] & 0xf0) | (rnd() & 0x0f));
			break;
		case 5:
			at = 14 + (size_t)(f[14] & 0x0f) * 4 + 12;
			if (at < size)
				f[at] = (__u8)((rnd() & 0xf0) | (f[at] & 0x0f));
			break;
		default:
			if (size > 20)
				f[20] = nexthdrs[rnd() % sizeof(nexthdrs)];
			break;
		}
	}
	return size;
}

/*
 * n mutated frames, each on a random hook with random GSO values: every run
 * returns 1 (allow), and each run's totals add up to its skb exactly:
 * payload + per-segment headers = skb->len, headers a whole multiple of the
 * segments, packets = max(gso_segs, 1), nothing on the other direction.
 */
static int fuzz(struct env *e, unsigned long n, __u64 seed)
{
	static __u8 frame[FRAME_MAX];
	struct na_totals before, after;
	unsigned long i, skipped = 0, bad = 0, failures = 0;
	size_t ncases = NA_ARRAY_SIZE(cases), size;
	struct __sk_buff ctx;
	int err, d;

	rng_state = seed ? seed : 1;
	cur_case = "fuzz";
	if (state_reset(e) || totals_read(e, &before)) {
		fprintf(stderr, "test_bpf: fuzz: reset the maps\n");
		return 1;
	}
	for (i = 0; i < n && failures < 10; i++) {
		const struct tcase *tc = &cases[rnd() % ncases];
		int dir = (int)(rnd() & 1);
		struct bpf_program *prog = dir == NA_TX ? e->skel->progs.na_egress : e->skel->progs.na_ingress;
		__u32 segs = rnd() % 4 ? 0 : (__u32)(rnd() % 70);
		__u64 psegs, len, ip, l4, pay, jumbo;
		LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = frame);

		size = mutate(frame, tc->build(frame));
		opts.data_size_in = (__u32)size;
		memset(&ctx, 0, sizeof(ctx));
		if (segs) {
			ctx.gso_segs = segs;
			ctx.gso_size = 1 + (__u32)(rnd() % 1500);
			opts.ctx_in = &ctx;
			opts.ctx_size_in = sizeof(ctx);
		}
		err = bpf_prog_test_run_opts(bpf_program__fd(prog), &opts);
		if (err == -EINVAL) { /* the kernel's own minimum sizes (IPv4 34, IPv6 54 bytes) */
			skipped++;
			continue;
		}
		if (err || opts.retval != 1 || totals_read(e, &after)) {
			FAILF("fuzz run %lu (seed %llu): %s, retval %u", i, (unsigned long long)seed,
			      err ? strerror(-err) : "ok", opts.retval);
			failures++;
			continue;
		}
		psegs = segs > 1 ? segs : 1;
		len = size - 14;
		/*
		 * A host-only jumbo hop-by-hop header (BIG TCP, payload_len 0) is
		 * on no wire segment: counted nowhere (docs/accounting.md).
		 */
		if (frame[12] == 0x86 && frame[13] == 0xdd && size >= 62 && frame[20] == 0 && frame[18] == 0 &&
		    frame[19] == 0 && frame[55] == 0 && frame[56] == 0xC2 && frame[57] == 4)
			jumbo = 8;
		else
			jumbo = 0;
		d = dir;
		ip = after.dir[d].ip_hdr_bytes - before.dir[d].ip_hdr_bytes;
		l4 = after.dir[d].l4_hdr_bytes - before.dir[d].l4_hdr_bytes;
		pay = after.dir[d].payload_bytes - before.dir[d].payload_bytes;
		bad += after.parse_errors != before.parse_errors;
		if (after.dir[d].packets - before.dir[d].packets != psegs || ip % psegs || l4 % psegs ||
		    (pay + ip / psegs + l4 / psegs != len && pay + ip / psegs + l4 / psegs + jumbo != len) ||
		    memcmp(&after.dir[!d], &before.dir[!d], sizeof(after.dir[0]))) {
			FAILF("fuzz run %lu (seed %llu, %zu-byte frame of %s, %s, gso_segs %u): packets %llu ip %llu "
			      "l4 %llu payload %llu for skb->len %llu",
			      i, (unsigned long long)seed, size, tc->name, dir == NA_TX ? "egress" : "ingress", segs,
			      (unsigned long long)(after.dir[d].packets - before.dir[d].packets),
			      (unsigned long long)ip, (unsigned long long)l4, (unsigned long long)pay,
			      (unsigned long long)len);
			failures++;
		}
		before = after;
	}
	printf("fuzz: %lu frames (seed %llu), %lu refused by the kernel as too short, %lu with headers "
	       "counted as unparseable, %lu failures\n",
	       i, (unsigned long long)seed, skipped, bad, failures);
	return failures ? 1 : 0;
}

static void usage(FILE *out)
{
	fprintf(out, "usage: test_bpf [-v] [-f N [-s SEED]]\n"
		     "Runs crafted frames through na_egress/na_ingress (BPF_PROG_TEST_RUN).\n"
		     "  -v       show libbpf's log and per-case details\n"
		     "  -f N     then N mutated frames (fuzzing; docs/testing.md)\n"
		     "  -s SEED  the fuzzer's seed (default 1): a failure names it, to replay\n");
}

int main(int argc, char **argv)
{
	struct env e = { 0 };
	int opt, err, passed = 0, failed = 0, ret = 1;
	unsigned long nfuzz = 0;
	__u64 seed = 1;
	size_t i;

	while ((opt = getopt(argc, argv, "vhf:s:")) != -1) {
		switch (opt) {
		case 'v':
			verbose = 1;
			break;
		case 'f':
			nfuzz = strtoul(optarg, NULL, 10);
			break;
		case 's':
			seed = strtoull(optarg, NULL, 10);
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return 2;
	}
	libbpf_set_print(libbpf_log);

	e.ncpus = libbpf_num_possible_cpus();
	if (e.ncpus <= 0) {
		fprintf(stderr, "test_bpf: count possible CPUs: %s\n", strerror(-e.ncpus));
		return 1;
	}
	e.percpu = calloc((size_t)e.ncpus, sizeof(*e.percpu));
	if (!e.percpu) {
		fprintf(stderr, "test_bpf: %s\n", strerror(ENOMEM));
		return 1;
	}
	err = self_cgroup_id(&e.cgid);
	if (err) {
		fprintf(stderr, "test_bpf: find this process's cgroup v2 directory: %s\n",
			strerror(-err));
		goto out;
	}

	e.skel = netacct_bpf__open();
	if (!e.skel) {
		fprintf(stderr, "test_bpf: open BPF object: %s\n", strerror(errno));
		goto out;
	}
	e.skel->rodata->self_token = SELF_TOKEN;
	bpf_program__set_autoload(e.skel->progs.na_sweep, false);
	err = netacct_bpf__load(e.skel);
	if (err == -EPERM || err == -EACCES) {
		char why[160];

		snprintf(why, sizeof(why),
			 "load BPF object: %s (need root, or CAP_BPF and CAP_NET_ADMIN)",
			 strerror(-err));
		ret = skip_or_fail(why);
		goto out;
	}
	if (err) {
		fprintf(stderr, "test_bpf: load BPF object: %s (rerun with -v for libbpf's log)\n",
			strerror(-err));
		goto out;
	}

	{
		/* A live attachment: its token in na_active, as `attach` writes it. */
		__u32 slot = NA_TOKEN_SLOT(SELF_TOKEN);
		__u64 token = SELF_TOKEN;

		if (bpf_map__update_elem(e.skel->maps.na_active, &slot, sizeof(slot), &token, sizeof(token), 0)) {
			fprintf(stderr, "test_bpf: activate: %s\n", strerror(errno));
			goto out;
		}
	}
	for (i = 0; i < NA_ARRAY_SIZE(cases); i++) {
		if (run_case(&e, &cases[i])) {
			failed++;
			printf("FAIL %s\n", cases[i].name);
		} else {
			passed++;
			printf("ok   %s\n", cases[i].name);
		}
	}
	if (nfuzz) {
		if (fuzz(&e, nfuzz, seed))
			failed++;
		else
			passed++;
	}
	printf("%d passed, %d failed\n", passed, failed);
	ret = failed ? 1 : 0;
out:
	netacct_bpf__destroy(e.skel);
	free(e.percpu);
	return ret;
}
