// SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0)
/*
 * The benchmark's baseline: one empty program for each cgroup hook netacct
 * attaches (same attach types), each returning 1 (allow). Compiled and
 * attached by tests/bench/run (variant "empty"); never part of netacct.
 */
#include <linux/bpf.h>

#define SEC(name) __attribute__((section(name), used))

SEC("cgroup_skb/egress") int empty_egress(struct __sk_buff *skb) { return 1; }
SEC("cgroup_skb/ingress") int empty_ingress(struct __sk_buff *skb) { return 1; }
SEC("cgroup/sock_create") int empty_sk_create(struct bpf_sock *sk) { return 1; }
SEC("cgroup/connect4") int empty_connect4(struct bpf_sock_addr *ctx) { return 1; }
SEC("cgroup/connect6") int empty_connect6(struct bpf_sock_addr *ctx) { return 1; }
SEC("cgroup/sendmsg4") int empty_sendmsg4(struct bpf_sock_addr *ctx) { return 1; }
SEC("cgroup/sendmsg6") int empty_sendmsg6(struct bpf_sock_addr *ctx) { return 1; }
SEC("cgroup/sock_release") int empty_release(struct bpf_sock *sk) { return 1; }

char LICENSE[] SEC("license") = "Dual BSD/GPL";
