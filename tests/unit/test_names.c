// SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0)
/*
 * unit.names: agent/names.c and agent/netclass.c.
 *  - cgroup paths exactly as the kubelet (systemd and cgroupfs drivers),
 *    docker, containerd, CRI-O, podman and systemd lay them out: the unit,
 *    the container id and its runtime, the pod UID and QoS class;
 *  - names from metadata fixtures in a private directory under /tmp (the
 *    kubelet's log directories, docker's config.v2.json, containers/storage's
 *    containers.json, a rootless podman's through /etc/passwd), and what a
 *    missing, broken, oversized or FIFO file leaves (nothing, at once);
 *  - networks files: the built-in classes, longest prefix, the user's over a
 *    built-in one, and each error naming its line.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <arpa/inet.h>

#include "netacct.h"

#pragma GCC poison u8 u16 u32 u64

#include "check.h"

#define ID1 "9a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f9"
#define ID2 "0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0"
#define ID3 "5555aaaa5555aaaa5555aaaa5555aaaa5555aaaa5555aaaa5555aaaa5555aaaa"
#define UID "3f1a9c2e-5b7d-4e8f-9a0b-1c2d3e4f5a6b"
#define UID_ "3f1a9c2e_5b7d_4e8f_9a0b_1c2d3e4f5a6b"

struct layout {
	const char *path;
	const char *unit, *container_id, *pod_uid, *qos;
	enum na_runtime rt;
};

static const struct layout layouts[] = {
	/* kubelet, systemd driver: containerd, CRI-O, cri-dockerd; the three QoS classes */
	{ "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" UID_ ".slice/cri-containerd-" ID1 ".scope",
	  "cri-containerd-" ID1 ".scope", "containerd://" ID1, UID, "Burstable", NA_RT_CONTAINERD },
	{ "/kubepods.slice/kubepods-pod" UID_ ".slice/crio-" ID1 ".scope", "crio-" ID1 ".scope", "cri-o://" ID1, UID,
	  "Guaranteed", NA_RT_CRIO },
	{ "/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod" UID_ ".slice/docker-" ID1 ".scope",
	  "docker-" ID1 ".scope", "docker://" ID1, UID, "BestEffort", NA_RT_DOCKER },
	/* CRI-O's monitor is not the container; the pod slice is the pod */
	{ "/kubepods.slice/kubepods-pod" UID_ ".slice/crio-conmon-" ID1 ".scope", "crio-conmon-" ID1 ".scope", "", UID,
	  "Guaranteed", NA_RT_NONE },
	{ "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" UID_ ".slice",
	  "kubepods-burstable-pod" UID_ ".slice", "", UID, "Burstable", NA_RT_NONE },
	{ "/kubepods.slice/kubepods-burstable.slice", "kubepods-burstable.slice", "", "", "", NA_RT_NONE },
	/* kind and the like: --cgroup-root /kubelet */
	{ "/kubelet.slice/kubelet-kubepods.slice/kubelet-kubepods-besteffort.slice/kubelet-kubepods-besteffort-pod" UID_
	  ".slice/cri-containerd-" ID1 ".scope",
	  "cri-containerd-" ID1 ".scope", "containerd://" ID1, UID, "BestEffort", NA_RT_CONTAINERD },
	/* kubelet, cgroupfs driver: no QoS directory for Guaranteed, the bare id (containerd, docker), crio-ID */
	{ "/kubepods/burstable/pod" UID "/" ID1, "", ID1, UID, "Burstable", NA_RT_UNKNOWN },
	{ "/kubepods/pod" UID "/" ID1, "", ID1, UID, "Guaranteed", NA_RT_UNKNOWN },
	{ "/kubepods/besteffort/pod" UID "/crio-" ID1, "", "cri-o://" ID1, UID, "BestEffort", NA_RT_CRIO },
	/* a static pod's UID is a hash, 32 hex digits */
	{ "/kubepods/burstable/pod8a0e2e2d3b9c4f7c1e6f5d4c3b2a1908/" ID1, "", ID1, "8a0e2e2d3b9c4f7c1e6f5d4c3b2a1908",
	  "Burstable", NA_RT_UNKNOWN },
	/* docker alone: systemd and cgroupfs drivers */
	{ "/system.slice/docker-" ID1 ".scope", "docker-" ID1 ".scope", "docker://" ID1, "", "", NA_RT_DOCKER },
	{ "/docker/" ID1, "", "docker://" ID1, "", "", NA_RT_DOCKER },
	/* podman: as root, in a pod, its conmon, rootless, cgroupfs, crun's payload cgroup below the container's */
	{ "/machine.slice/libpod-" ID1 ".scope", "libpod-" ID1 ".scope", "podman://" ID1, "", "", NA_RT_PODMAN },
	{ "/machine.slice/libpod-" ID1 ".scope/container", "libpod-" ID1 ".scope", "podman://" ID1, "", "",
	  NA_RT_PODMAN },
	{ "/machine.slice/machine-libpod_pod_" ID2 ".slice/libpod-" ID1 ".scope", "libpod-" ID1 ".scope",
	  "podman://" ID1, "", "", NA_RT_PODMAN },
	{ "/machine.slice/libpod-conmon-" ID1 ".scope", "libpod-conmon-" ID1 ".scope", "", "", "", NA_RT_NONE },
	{ "/user.slice/user-1000.slice/user@1000.service/user.slice/libpod-" ID1 ".scope",
	  "user@1000.service/libpod-" ID1 ".scope", "podman://" ID1, "", "", NA_RT_PODMAN },
	{ "/libpod_parent/libpod-" ID1, "", "podman://" ID1, "", "", NA_RT_PODMAN },
	/* nerdctl (containerd) */
	{ "/system.slice/nerdctl-" ID1 ".scope", "nerdctl-" ID1 ".scope", "containerd://" ID1, "", "", NA_RT_CONTAINERD },
	/* docker in a docker container: the innermost container */
	{ "/system.slice/docker-" ID2 ".scope/docker/" ID1, "docker-" ID2 ".scope", "docker://" ID1, "", "",
	  NA_RT_DOCKER },
	/* systemd units: system, template, escaped, a login session, user units */
	{ "/system.slice/nginx.service", "nginx.service", "", "", "", NA_RT_NONE },
	{ "/system.slice/system-getty.slice/getty@tty1.service", "getty@tty1.service", "", "", "", NA_RT_NONE },
	{ "/system.slice/system-systemd\\x2dfsck.slice/systemd-fsck@dev-disk-by\\x2duuid-1234.service",
	  "systemd-fsck@dev-disk-by\\x2duuid-1234.service", "", "", "", NA_RT_NONE },
	{ "/user.slice/user-1000.slice/session-3.scope", "session-3.scope", "", "", "", NA_RT_NONE },
	{ "/user.slice/user-1000.slice/user@1000.service/app.slice/foo.service", "user@1000.service/foo.service", "",
	  "", "", NA_RT_NONE },
	{ "/user.slice/user-1000.slice/user@1000.service", "user@1000.service", "", "", "", NA_RT_NONE },
	{ "/system.slice/foo.service/payload", "foo.service", "", "", "", NA_RT_NONE },
	/* a test's own prefix above a layout */
	{ "/netacct-test-ab12cd34/kubepods/burstable/pod" UID "/" ID1, "", ID1, UID, "Burstable", NA_RT_UNKNOWN },
	/* not what they look like */
	{ "/", "", "", "", "", NA_RT_NONE },
	{ "/podcast/pod12345678", "", "", "", "", NA_RT_NONE },
	{ "/kubepods/burstable/podXYZ-not-hex/" ID1, "", "", "", "", NA_RT_NONE },
	{ "/apps/" ID1, "", "", "", "", NA_RT_NONE },
	{ "/system.slice/docker-" ID1 "0.scope", "docker-" ID1 "0.scope", "", "", "", NA_RT_NONE },
	{ "/system.slice/docker-9A1B2C3D4E5F60718293A4B5C6D7E8F90A1B2C3D4E5F60718293A4B5C6D7E8F9.scope",
	  "docker-9A1B2C3D4E5F60718293A4B5C6D7E8F90A1B2C3D4E5F60718293A4B5C6D7E8F9.scope", "", "", "", NA_RT_NONE },
	{ "/mypods.slice/mypods-pod" UID_ ".slice", "mypods-pod" UID_ ".slice", "", "", "", NA_RT_NONE },
	/* a bad byte in the UID: no pod, and nothing of the UID left behind (fuzz.parsers found it) */
	{ "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod3f1a9c2e_5b7d_4e8f\0039a0b.slice",
	  "kubepods-burstable-pod3f1a9c2e_5b7d_4e8f\0039a0b.slice", "", "", "", NA_RT_NONE },
	{ "/kubepods/burstable/pod3f1a9c2e-5b7d-4e8f\0039a0b/" ID1, "", "", "", "", NA_RT_NONE },
};

static void test_layouts(void)
{
	struct na_cgpath_info in;
	size_t i;
	char what[512];

	for (i = 0; i < NA_ARRAY_SIZE(layouts); i++) {
		const struct layout *l = &layouts[i];

		snprintf(what, sizeof(what), "%.400s", l->path);
		ASSERT_EQ(na_cgpath_parse(l->path, &in), 0, what);
		ASSERT_STREQ(in.n.unit, l->unit, what);
		ASSERT_STREQ(in.n.container_id, l->container_id, what);
		ASSERT_STREQ(in.n.pod_uid, l->pod_uid, what);
		ASSERT_STREQ(in.n.qos, l->qos, what);
		ASSERT_EQ(in.runtime, l->rt, what);
	}
	na_cgpath_parse("/user.slice/user-1000.slice/user@1000.service/user.slice/libpod-" ID1 ".scope", &in);
	ASSERT_EQ(in.user, 1000, "rootless podman: the user");
	ASSERT_EQ(na_cgpath_parse("relative", &in), -EINVAL, "a relative path");
	ASSERT_EQ(na_cgpath_parse(NULL, &in), -EINVAL, "no path");
}

static void test_k8s_names(void)
{
	struct na_cgnames c;

	memset(&c, 0, sizeof(c));
	ASSERT_EQ(na_names_parse_k8s("k8s_payments-api_payments-7d9f_shop_" UID "_0", &c), 1, "k8s_ name");
	ASSERT_STREQ(c.container, "payments-api", "k8s_ container");
	ASSERT_STREQ(c.pod, "payments-7d9f", "k8s_ pod");
	ASSERT_STREQ(c.ns, "shop", "k8s_ namespace");
	memset(&c, 0, sizeof(c));
	ASSERT_EQ(na_names_parse_k8s("k8s_POD_payments-7d9f_shop_" UID "_0", &c), 1, "the sandbox");
	ASSERT_STREQ(c.container, "", "the sandbox is no container of its own");
	ASSERT_STREQ(c.pod, "payments-7d9f", "the sandbox's pod");
	memset(&c, 0, sizeof(c));
	ASSERT_EQ(na_names_parse_k8s("k8s_web.1a2b3c4d_web-0_default_" UID "_3", &c), 1, "old dockershim name");
	ASSERT_STREQ(c.container, "web", "old dockershim: the name before the hash");
	memset(&c, 0, sizeof(c));
	ASSERT_EQ(na_names_parse_k8s("k8s_a_b_c_d", &c), 0, "too few parts");
	ASSERT_EQ(na_names_parse_k8s("k8s_a_b_c_d_e_f", &c), 0, "too many parts");
	ASSERT_EQ(na_names_parse_k8s("k8s__b_c_d_e", &c), 0, "an empty part");
	ASSERT_EQ(na_names_parse_k8s("web", &c), 0, "not one");
}

static void test_best(void)
{
	struct na_cgnames c;
	char b[300];

	memset(&c, 0, sizeof(c));
	na_cgnames_best(&c, "/a/b", b, sizeof(b));
	ASSERT_STREQ(b, "/a/b", "nothing known: the path");
	na_cgnames_best(NULL, NULL, b, sizeof(b));
	ASSERT_STREQ(b, "-", "no path");
	snprintf(c.unit, sizeof(c.unit), "nginx.service");
	na_cgnames_best(&c, "/system.slice/nginx.service", b, sizeof(b));
	ASSERT_STREQ(b, "nginx.service", "a unit");
	snprintf(c.container_id, sizeof(c.container_id), "containerd://" ID1);
	na_cgnames_best(&c, "/x", b, sizeof(b));
	ASSERT_STREQ(b, "containerd:9a1b2c3d4e5f", "a container id: runtime and 12 digits");
	snprintf(c.container_id, sizeof(c.container_id), ID1);
	na_cgnames_best(&c, "/x", b, sizeof(b));
	ASSERT_STREQ(b, "9a1b2c3d4e5f", "a bare container id");
	snprintf(c.pod, sizeof(c.pod), "payments-7d9f");
	na_cgnames_best(&c, "/x", b, sizeof(b));
	ASSERT_STREQ(b, "payments-7d9f/9a1b2c3d4e5f", "pod and id");
	snprintf(c.container, sizeof(c.container), "payments-api");
	na_cgnames_best(&c, "/x", b, sizeof(b));
	ASSERT_STREQ(b, "payments-7d9f/payments-api", "pod and container");
	c.pod[0] = '\0';
	na_cgnames_best(&c, "/x", b, sizeof(b));
	ASSERT_STREQ(b, "payments-api", "a container's name");
}

/* ---- metadata fixtures ---------------------------------------------------------- */

static char root[64];

static void put_file(const char *rel, const char *text)
{
	char path[512], *s;
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", root, rel);
	for (s = path + strlen(root) + 1; (s = strchr(s, '/')); s++) {
		*s = '\0';
		mkdir(path, 0755);
		*s = '/';
	}
	f = fopen(path, "w");
	if (!f) {
		CHECK(0, "create %s: %s", path, strerror(errno));
		return;
	}
	fputs(text, f);
	fclose(f);
}

static void put_dir(const char *rel)
{
	char path[512];

	snprintf(path, sizeof(path), "%s/%s/x", root, rel);
	put_file(path + strlen(root) + 1, "");
}

static void put_link(const char *rel, const char *to)
{
	char path[512];

	put_file(rel, "");
	snprintf(path, sizeof(path), "%s/%s", root, rel);
	unlink(path);
	CHECK(!symlink(to, path), "symlink %s: %s", path, strerror(errno));
}

static void rm_tree(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf -- '%s'", root);
	if (root[0] && system(cmd))
		fprintf(stderr, "FAIL rm %s\n", root);
}

static void test_metadata(void)
{
	struct na_names *n = NULL;
	const struct na_cgnames *c;

	snprintf(root, sizeof(root), "/tmp/netacct-test-names.XXXXXX");
	if (!mkdtemp(root)) {
		CHECK(0, "mkdtemp: %s", strerror(errno));
		return;
	}
	/* the kubelet's: a pod's log directory and its containers' links */
	put_dir("var/log/pods/shop_payments-7d9f_" UID "/payments-api");
	put_link("var/log/containers/payments-7d9f_shop_payments-api-" ID1 ".log",
		 "/var/log/pods/shop_payments-7d9f_" UID "/payments-api/0.log");
	put_link("var/log/containers/payments-7d9f_shop_sidecar-" ID3 ".log",
		 "/var/log/pods/shop_payments-7d9f_" UID "/sidecar/0.log");
	put_link("var/log/containers/broken.log", "/nowhere");
	/* docker: a plain container, and one cri-dockerd made for a pod (name and labels) */
	put_file("var/lib/docker/containers/" ID2 "/config.v2.json",
		 "{\"StreamConfig\":{},\"State\":{\"Running\":true,\"Pid\":4242},\"ID\":\"" ID2 "\","
		 "\"Created\":\"2026-12-01T10:00:00Z\",\"Path\":\"nginx\",\"Args\":[],"
		 "\"Config\":{\"Hostname\":\"0f1e2d3c4b5a\",\"Labels\":{\"maintainer\":\"x\"}},"
		 "\"Image\":\"sha256:aa\",\"Name\":\"/web\",\"Driver\":\"overlay2\"}");
	/* containers/storage: podman as root; a rootless podman's in its home */
	put_file("var/lib/containers/storage/overlay-containers/containers.json",
		 "[{\"id\":\"" ID3 "\",\"names\":[\"db\"],\"image\":\"bb\",\"layer\":\"cc\","
		 "\"metadata\":\"{\\\"image-name\\\":\\\"docker.io/library/postgres:16\\\"}\","
		 "\"created\":\"2026-12-01T10:00:00Z\",\"flags\":{}}]");
	put_file("etc/passwd", "root:x:0:0:root:/root:/bin/bash\nalice:x:1000:1000::/home/alice:/bin/bash\n");
	put_file("home/alice/.local/share/containers/storage/overlay-containers/containers.json",
		 "[{\"id\":\"" ID1 "\",\"names\":[\"notes\"]}]");

	if (na_names_new(root, &n)) {
		CHECK(0, "%s", "na_names_new");
		rm_tree();
		return;
	}
	c = na_names_get(n, 1, "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" UID_
			 ".slice/cri-containerd-" ID1 ".scope");
	ASSERT_STREQ(c->container, "payments-api", "k8s systemd: container from /var/log/containers");
	ASSERT_STREQ(c->pod, "payments-7d9f", "k8s systemd: pod from /var/log/pods");
	ASSERT_STREQ(c->ns, "shop", "k8s systemd: namespace");
	ASSERT_STREQ(c->qos, "Burstable", "k8s systemd: QoS");
	c = na_names_get(n, 2, "/kubepods/burstable/pod" UID "/" ID3);
	ASSERT_STREQ(c->container, "sidecar", "k8s cgroupfs: container by its bare id");
	ASSERT_STREQ(c->pod, "payments-7d9f", "k8s cgroupfs: pod");
	c = na_names_get(n, 3, "/system.slice/docker-" ID2 ".scope");
	ASSERT_STREQ(c->container, "web", "docker: config.v2.json Name without its '/'");
	ASSERT_STREQ(c->pod, "", "docker: no pod");
	c = na_names_get(n, 4, "/machine.slice/libpod-" ID3 ".scope");
	ASSERT_STREQ(c->container, "db", "podman: containers.json");
	c = na_names_get(n, 5, "/user.slice/user-1000.slice/user@1000.service/user.slice/libpod-" ID1 ".scope");
	ASSERT_STREQ(c->container, "notes", "rootless podman: the user's containers.json (home from /etc/passwd)");
	c = na_names_get(n, 6, "/kubepods/pod11111111-2222-3333-4444-555555555555/" ID2);
	ASSERT_STREQ(c->pod, "", "a pod without a log directory: no name");
	ASSERT_STREQ(c->pod_uid, "11111111-2222-3333-4444-555555555555", "... its UID from the path");
	ASSERT_STREQ(c->container, "web", "... a bare id found in docker's configs");
	c = na_names_get(n, 7, NULL);
	ASSERT_STREQ(c->unit, "", "no path: nothing");
	c = na_names_get(n, 1, "/ignored");
	ASSERT_STREQ(c->container, "payments-api", "kept per cgroup id");

	/* A config that is not JSON, and a FIFO in place of one: empty, at once. */
	put_file("var/lib/docker/containers/" ID1 "/config.v2.json", "{\"Name\":\"/half");
	c = na_names_get(n, 10, "/docker/" ID1);
	ASSERT_STREQ(c->container, "", "broken JSON: no name");
	{
		char path[512];

		snprintf(path, sizeof(path), "%s/var/lib/docker/containers/" ID1 "/config.v2.json", root);
		unlink(path);
		CHECK(!mkfifo(path, 0600), "mkfifo: %s", strerror(errno));
		c = na_names_get(n, 11, "/system.slice/docker-" ID1 ".scope");
		ASSERT_STREQ(c->container, "", "a FIFO: no name, and no wait");
	}
	na_names_free(n);
	rm_tree();

	/* No metadata at all: what the path gives. */
	ASSERT_EQ(na_names_new("/nonexistent-netacct-root", &n), 0, "names over a missing root");
	c = na_names_get(n, 1, "/kubepods.slice/kubepods-pod" UID_ ".slice/crio-" ID1 ".scope");
	ASSERT_STREQ(c->container_id, "cri-o://" ID1, "no metadata: the id");
	ASSERT_STREQ(c->container, "", "no metadata: no name");
	na_names_pass(n);
	na_names_expire(n, 0);
	na_names_free(n);
}

/* ---- networks ------------------------------------------------------------------------ */

static int cls_of(const struct na_netclass *c, const char *addr)
{
	uint8_t a[16] = { 0 };

	if (inet_pton(AF_INET, addr, a) == 1)
		return na_netclass_of(c, NA_F_IPV4, a);
	if (inet_pton(AF_INET6, addr, a) == 1)
		return na_netclass_of(c, NA_F_IPV6, a);
	return -2;
}

static const char *name_of(const struct na_netclass *c, const char *addr)
{
	return na_netclass_name(c, cls_of(c, addr));
}

static struct na_netclass *from_text(const char *text)
{
	struct na_netclass *c = NULL;
	FILE *f = fmemopen((void *)text, strlen(text), "r");

	if (!f)
		return NULL;
	if (na_netclass_parse(f, "networks", &c))
		c = NULL;
	fclose(f);
	return c;
}

/* The error a bad file gets, as na_log prints it on stderr. */
static void bad_file(const char *text, const char *msg)
{
	char got[512] = "";
	FILE *tmp = tmpfile();
	int saved = dup(2);
	struct na_netclass *c;

	fflush(stderr);
	if (tmp)
		dup2(fileno(tmp), 2);
	c = from_text(text);
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	if (tmp) {
		rewind(tmp);
		if (!fgets(got, sizeof(got), tmp))
			got[0] = '\0';
		fclose(tmp);
	}
	got[strcspn(got, "\n")] = '\0';
	CHECK(!c, "bad file accepted: %s", text);
	ASSERT_STREQ(got, msg, text);
	na_netclass_free(c);
}

static void test_networks(void)
{
	struct na_netclass *c = NULL;
	static const struct {
		const char *addr, *cls;
	} builtin[] = {
		{ "127.0.0.1", "loopback" },   { "127.255.0.9", "loopback" },  { "::1", "loopback" },
		{ "169.254.169.254", "link-local" }, { "fe80::1", "link-local" }, { "255.255.255.255", "link-local" },
		{ "10.2.7.41", "private" },    { "172.16.0.1", "private" },    { "172.32.0.1", "internet" },
		{ "192.168.1.1", "private" },  { "100.64.0.1", "private" },    { "100.128.0.1", "internet" },
		{ "fd12::1", "private" },      { "fc00::1", "private" },       { "224.0.0.251", "multicast" },
		{ "239.1.2.3", "multicast" },  { "ff02::fb", "multicast" },    { "8.8.8.8", "internet" },
		{ "2001:db8::1", "internet" }, { "::ffff:10.0.0.1", "private" }, { "::ffff:1.1.1.1", "internet" },
	};
	size_t i;

	ASSERT_EQ(na_netclass_parse(NULL, "built-in", &c), 0, "built-in classes");
	for (i = 0; c && i < NA_ARRAY_SIZE(builtin); i++)
		ASSERT_STREQ(name_of(c, builtin[i].addr), builtin[i].cls, builtin[i].addr);
	ASSERT_EQ(cls_of(c, "0.0.0.0"), -1, "no address, no class");
	ASSERT_EQ(cls_of(c, "::"), -1, "no IPv6 address, no class");
	ASSERT_STREQ(na_netclass_name(c, -1), "", "the name of no class");
	na_netclass_free(c);

	c = from_text("# where the bytes go\n"
		      "internal 10.0.0.0/8 fd00::/8   # the company's\n"
		      "zone-b 10.2.0.0/16\n"
		      "\n"
		      "zone-b 10.9.9.9\n"
		      "peering 8.8.8.0/24\n"
		      "lo-test 127.0.2.0/24\n");
	CHECK(c != NULL, "%s", "a good networks file parses");
	if (c) {
		ASSERT_STREQ(name_of(c, "10.2.7.41"), "zone-b", "longest prefix: zone-b over internal");
		ASSERT_STREQ(name_of(c, "10.3.0.1"), "internal", "internal");
		ASSERT_STREQ(name_of(c, "10.9.9.9"), "zone-b", "a host, on a second line of the class");
		ASSERT_STREQ(name_of(c, "10.9.9.8"), "internal", "its neighbour");
		ASSERT_STREQ(name_of(c, "fd00::5"), "internal", "IPv6 of internal");
		ASSERT_STREQ(name_of(c, "fd12::5"), "internal", "fd00::/8 holds fd12::");
		ASSERT_STREQ(name_of(c, "fc12::5"), "private", "the rest of fc00::/7");
		ASSERT_STREQ(name_of(c, "8.8.8.8"), "peering", "a user class inside internet");
		ASSERT_STREQ(name_of(c, "127.0.2.1"), "lo-test", "a user class inside loopback");
		ASSERT_STREQ(name_of(c, "127.0.0.1"), "loopback", "the rest of loopback");
		ASSERT_STREQ(name_of(c, "172.16.0.1"), "private", "built-in private still there");
		ASSERT_EQ(na_netclass_count(c), 5 + 4, "5 built-in classes and 4 of the file's");
	}
	na_netclass_free(c);

	/* The user's network wins over a built-in one of the same prefix; a built-in name may be reused. */
	c = from_text("corp 10.0.0.0/8\nprivate 100.64.0.0/10\ncgnat 100.64.0.0/11\n");
	if (c) {
		ASSERT_STREQ(name_of(c, "10.1.1.1"), "corp", "the user's /8 over the built-in /8");
		ASSERT_STREQ(name_of(c, "100.64.1.1"), "cgnat", "a longer user prefix");
		ASSERT_STREQ(name_of(c, "100.100.1.1"), "private", "the built-in name reused");
	} else {
		CHECK(0, "%s", "file with built-in names");
	}
	na_netclass_free(c);

	fprintf(stderr, "# the next messages are expected (networks file errors):\n");
	bad_file("internal 10.0.0.0/8\nzone-b 10.2.0.0/33\n",
		 "netacct: networks:2: 10.2.0.0/33: the prefix length of an IPv4 network is 0 to 32");
	bad_file("internal 10.1.0.0/8\n",
		 "netacct: networks:1: 10.1.0.0/8: bits set past the prefix length (write the network's first address)");
	bad_file("internal 10.0.0.0/8\nzone-b 10.0.0.0/8\n",
		 "netacct: networks:2: 10.0.0.0/8: already in class internal (line 1)");
	bad_file("a fd00::/8\nb fd00:0::/8\n", "netacct: networks:2: fd00::/8: already in class a (line 1)");
	bad_file("internal\n", "netacct: networks:1: internal: no network: NAME CIDR [CIDR...]");
	bad_file("10.0.0.0/8 internal\n", "netacct: networks:1: 10.0.0.0/8: the class's name comes first: NAME CIDR [CIDR...]");
	bad_file("10.0.0.1 10.0.0.0/8\n", "netacct: networks:1: 10.0.0.1: the class's name comes first: NAME CIDR [CIDR...]");
	bad_file("in/ternal 10.0.0.0/8\n",
		 "netacct: networks:1: in/ternal: a class name is letters, digits, '-', '_' or '.', starting with a letter or digit, at most 63");
	bad_file("x 10.0.0.0/8 host.example\n", "netacct: networks:1: host.example: not an address or ADDRESS/LENGTH");
	bad_file("x ::/129\n", "netacct: networks:1: ::/129: the prefix length of an IPv6 network is 0 to 128");
	bad_file("x 10.0.0.0/+8\n", "netacct: networks:1: 10.0.0.0/+8: the prefix length of an IPv4 network is 0 to 32");
	{
		char many[4096] = "";
		int k;

		for (k = 0; k < 65; k++)
			snprintf(many + strlen(many), sizeof(many) - strlen(many), "c%d 10.%d.0.0/16\n", k, k);
		bad_file(many, "netacct: networks:65: c64: more than 64 classes");
	}
	ASSERT_EQ(na_netclass_load("/nonexistent/networks", &c), -ENOENT, "a named file that is missing");
}

int main(void)
{
	test_layouts();
	test_k8s_names();
	test_best();
	test_metadata();
	test_networks();
	return check_summary();
}
