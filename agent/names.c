// SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0)
/*
 * Names people know a cgroup by (docs/names.md). The path alone gives the
 * systemd unit, the container id and its runtime, the Kubernetes pod's UID
 * and QoS class: every runtime and the kubelet name their cgroups after
 * them. The human names come from files the kubelet and the runtimes keep
 * on the host, read lazily and kept per cgroup id:
 *
 *   /var/log/pods/NAMESPACE_POD_UID/                      pod UID -> namespace, pod
 *   /var/log/containers/POD_NAMESPACE_CONTAINER-ID.log     container id -> its name
 *   /var/lib/docker/containers/ID/config.v2.json          "Name", Kubernetes labels
 *   /var/lib/containers/storage/DRIVER-containers/containers.json
 *                                                         id -> "names" (podman, CRI-O)
 *
 * Nothing is asked of a daemon or the network, and nothing waits: files are
 * opened non-blocking and read only when they are regular and small; one
 * that is missing or unreadable leaves the names empty.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>

#include "netacct.h"

#pragma GCC poison u8 u16 u32 u64

#define ID_LEN 64                  /* container ids: 64 hex digits (docker, containerd, CRI-O, podman) */
#define JSON_MAX (16u << 20)       /* containers.json of thousands of containers; config.v2.json is KiBs */
#define JSON_DEPTH 64

/* ---- the path ---------------------------------------------------------------- */

static int is_hex(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (!isxdigit((unsigned char)s[i]) || isupper((unsigned char)s[i]))
			return 0;
	return 1;
}

static int ends_with(const char *s, const char *suf)
{
	size_t n = strlen(s), m = strlen(suf);

	return n > m && !strcmp(s + n - m, suf);
}

/* A systemd unit a cgroup directory can be named after (units that hold processes, and slices). */
static int is_unit(const char *c)
{
	static const char *const sfx[] = { ".service", ".scope", ".slice", ".socket", ".mount", ".swap" };
	size_t i;

	for (i = 0; i < NA_ARRAY_SIZE(sfx); i++)
		if (ends_with(c, sfx[i]))
			return 1;
	return 0;
}

/* "user@1000.service": the uid of a user's service manager, -1 for anything else. */
static long long user_manager(const char *c)
{
	char *end;
	long long uid;

	if (strncmp(c, "user@", 5) || !isdigit((unsigned char)c[5]))
		return -1;
	uid = strtoll(c + 5, &end, 10);
	return !strcmp(end, ".service") && uid >= 0 && uid <= 0xffffffffll ? uid : -1;
}

/*
 * A container's cgroup: PREFIX-ID.scope (systemd driver) or PREFIX-ID / ID
 * (cgroupfs driver); *rt its runtime. The conmon monitors of CRI-O and
 * podman (crio-conmon-ID, libpod-conmon-ID) are not the container.
 */
static int container_of(const char *c, const char *parent, int in_pod, enum na_runtime *rt, char id[72])
{
	static const struct {
		const char *prefix;
		enum na_runtime rt;
	} pfx[] = {
		{ "docker-", NA_RT_DOCKER },   { "cri-containerd-", NA_RT_CONTAINERD },
		{ "crio-", NA_RT_CRIO },       { "libpod-", NA_RT_PODMAN },
		{ "nerdctl-", NA_RT_CONTAINERD },
	};
	size_t n = strlen(c), i, p;

	if (ends_with(c, ".scope"))
		n -= 6;
	for (i = 0; i < NA_ARRAY_SIZE(pfx); i++) {
		p = strlen(pfx[i].prefix);
		if (n == p + ID_LEN && !strncmp(c, pfx[i].prefix, p) && is_hex(c + p, ID_LEN)) {
			*rt = pfx[i].rt;
			memcpy(id, c + p, ID_LEN);
			id[ID_LEN] = '\0';
			return 1;
		}
	}
	/* A bare id: docker's cgroupfs driver (/docker/ID), and every runtime's below a pod (cgroupfs). */
	if (strlen(c) == ID_LEN && is_hex(c, ID_LEN) && (in_pod || (parent && !strcmp(parent, "docker")))) {
		*rt = in_pod ? NA_RT_UNKNOWN : NA_RT_DOCKER;
		memcpy(id, c, ID_LEN);
		id[ID_LEN] = '\0';
		return 1;
	}
	return 0;
}

/* A pod UID as a cgroup name carries it (the systemd driver writes '-' as '_'): to the API's form. */
static int pod_uid(const char *s, size_t n, char out[72])
{
	size_t i;

	if (n < 8 || n > 64)
		return 0;
	for (i = 0; i < n; i++)
		if (!isxdigit((unsigned char)s[i]) && s[i] != '-' && s[i] != '_')
			return 0; /* out untouched: nothing half-written */
	for (i = 0; i < n; i++)
		out[i] = s[i] == '_' ? '-' : (char)tolower((unsigned char)s[i]);
	out[n] = '\0';
	return 1;
}

static void set_qos(struct na_cgnames *n, const char *level)
{
	const char *q = !strcmp(level, "burstable") ? "Burstable" : !strcmp(level, "besteffort") ? "BestEffort" : "Guaranteed";

	snprintf(n->qos, sizeof(n->qos), "%s", q);
}

/* Does the text [start, end) end in word, as a whole '-'-separated part? */
static int ends_in(const char *start, const char *end, const char *word)
{
	size_t w = strlen(word);

	return (size_t)(end - start) >= w && !strncmp(end - w, word, w) && (end - w == start || *(end - w - 1) == '-');
}

/*
 * The kubelet's pod cgroups. systemd driver: the slice
 * [ROOT-]kubepods[-burstable|-besteffort]-pod<UID with '_'>.slice (a slice
 * names its parents: kubepods-burstable.slice is in kubepods.slice).
 * cgroupfs driver: pod<UID>, in kubepods/ (Guaranteed) or in
 * kubepods/burstable/, kubepods/besteffort/.
 */
static int pod_of(char *const *comp, size_t i, struct na_cgnames *n)
{
	const char *c = comp[i], *p, *q, *end;

	if (ends_with(c, ".slice")) {
		end = c + strlen(c) - 6;
		/* the last "-pod": a --cgroup-root may hold one too */
		for (p = NULL, q = c; (q = strstr(q, "-pod")) && q < end; q++)
			p = q;
		if (!p || !pod_uid(p + 4, (size_t)(end - p - 4), n->pod_uid))
			return 0;
		if (ends_in(c, p, "kubepods")) {
			set_qos(n, "guaranteed");
			return 1;
		}
		if (ends_in(c, p, "kubepods-burstable") || ends_in(c, p, "kubepods-besteffort")) {
			set_qos(n, p[-1] == 'e' ? "burstable" : "besteffort");
			return 1;
		}
		n->pod_uid[0] = '\0';
		return 0;
	}
	if (strncmp(c, "pod", 3) || !i || !pod_uid(c + 3, strlen(c + 3), n->pod_uid))
		return 0;
	if (!strcmp(comp[i - 1], "kubepods")) {
		set_qos(n, "guaranteed");
		return 1;
	}
	if (i >= 2 && !strcmp(comp[i - 2], "kubepods") &&
	    (!strcmp(comp[i - 1], "burstable") || !strcmp(comp[i - 1], "besteffort"))) {
		set_qos(n, comp[i - 1]);
		return 1;
	}
	n->pod_uid[0] = '\0';
	return 0;
}

const char *na_runtime_name(enum na_runtime rt)
{
	switch (rt) {
	case NA_RT_DOCKER:
		return "docker";
	case NA_RT_CONTAINERD:
		return "containerd";
	case NA_RT_CRIO:
		return "cri-o";
	case NA_RT_PODMAN:
		return "podman";
	default:
		return "";
	}
}

int na_cgpath_parse(const char *rel, struct na_cgpath_info *out)
{
	char buf[PATH_MAX], *comp[PATH_MAX / 2], *s, *save = NULL;
	size_t n = 0, i, pod_at = 0;
	int in_pod = 0;
	long long uid;

	memset(out, 0, sizeof(*out));
	out->user = -1;
	if (!rel || rel[0] != '/' || strlen(rel) >= sizeof(buf))
		return -EINVAL;
	memcpy(buf, rel, strlen(rel) + 1);
	for (s = strtok_r(buf, "/", &save); s && n < NA_ARRAY_SIZE(comp); s = strtok_r(NULL, "/", &save))
		comp[n++] = s;
	for (i = 0; i < n; i++) {
		if ((uid = user_manager(comp[i])) >= 0) {
			out->user = uid;
			snprintf(out->n.unit, sizeof(out->n.unit), "%s", comp[i]);
		} else if (is_unit(comp[i])) {
			/* The innermost unit; one in a user's manager is named with the manager. */
			if (out->user >= 0)
				snprintf(out->n.unit, sizeof(out->n.unit), "user@%lld.service/%s", out->user, comp[i]);
			else
				snprintf(out->n.unit, sizeof(out->n.unit), "%s", comp[i]);
		}
		if (!out->n.pod_uid[0] && pod_of(comp, i, &out->n)) {
			in_pod = 1;
			pod_at = i;
		}
	}
	/* The innermost container: cgroups a container makes below its own (crun's "container", a nested systemd) are its. */
	for (i = n; i-- > 0;) {
		if (container_of(comp[i], i ? comp[i - 1] : NULL, in_pod && i == pod_at + 1, &out->runtime, out->id))
			break;
	}
	if (out->id[0]) {
		if (out->runtime == NA_RT_UNKNOWN)
			snprintf(out->n.container_id, sizeof(out->n.container_id), "%s", out->id);
		else
			snprintf(out->n.container_id, sizeof(out->n.container_id), "%s://%s", na_runtime_name(out->runtime),
				 out->id);
	}
	return 0;
}

/* ---- names from the metadata ------------------------------------------------------ */

/* A name from a file others write: printable ASCII without '/', else nothing. */
static void put_name(char *dst, size_t len, const char *s, size_t n)
{
	size_t i;

	dst[0] = '\0';
	if (!s || !n || n >= len)
		return;
	for (i = 0; i < n; i++)
		if ((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] >= 0x7f || s[i] == '/')
			return;
	memcpy(dst, s, n);
	dst[n] = '\0';
}

static void fill(char *dst, size_t len, const char *s)
{
	if (!dst[0] && s)
		put_name(dst, len, s, strlen(s));
}

int na_names_parse_k8s(const char *name, struct na_cgnames *c)
{
	const char *f[6], *p = name;
	size_t len[6];
	int k;

	if (!name || strncmp(name, "k8s_", 4))
		return 0;
	/* k8s_CONTAINER_POD_NAMESPACE_UID_ATTEMPT: none of the parts may hold '_' */
	for (k = 0; k < 6; k++) {
		const char *e = strchr(p, '_');

		f[k] = p;
		len[k] = e ? (size_t)(e - p) : strlen(p);
		if (!len[k] || (k < 5 && !e) || (k == 5 && e))
			return 0;
		p = e ? e + 1 : p + len[k];
	}
	/* "k8s" is f[0]; an old dockershim writes CONTAINER.HASH; the pod's sandbox is "POD" */
	if (!c->container[0] && !(len[1] == 3 && !strncmp(f[1], "POD", 3))) {
		size_t n = strcspn(f[1], ".");

		put_name(c->container, sizeof(c->container), f[1], n < len[1] ? n : len[1]);
	}
	if (!c->pod[0])
		put_name(c->pod, sizeof(c->pod), f[2], len[2]);
	if (!c->ns[0])
		put_name(c->ns, sizeof(c->ns), f[3], len[3]);
	return 1;
}

struct pod_ent {
	char *uid, *ns, *pod;
};
struct ctr_ent {
	char id[ID_LEN + 1];
	char *pod, *ns, *name;
};
struct store_ent {
	char id[ID_LEN + 1];
	char *name;
};

struct entry {
	uint64_t cgid;
	struct na_cgnames n;
	struct na_cgpath_info info;
	int have_path;
	int complete;          /* nothing more to look for */
	unsigned pass;         /* the pass it was last looked for in */
	int64_t checked_s, used_s;
};

struct na_names {
	char root[1024];       /* "" for "/": paths are root + "/var/..." */
	struct entry **tab;    /* open addressing by cgroup id */
	size_t cap, n;
	unsigned pass;
	int64_t now_s;
	/* listings, read at most once per pass, when a lookup needs them */
	struct pod_ent *pods;
	size_t npods;
	unsigned pods_pass;
	struct ctr_ent *ctrs;
	size_t nctrs;
	unsigned ctrs_pass;
	struct store_ent *store; /* containers/storage of root and of the user whose is read */
	size_t nstore;
	unsigned store_pass;
	long long store_user;
	struct na_cgnames empty;
};

int na_names_new(const char *root, struct na_names **out)
{
	struct na_names *n = calloc(1, sizeof(*n));
	const char *env = getenv(NA_METADATA_ROOT_ENV);

	*out = NULL;
	if (!n)
		return na_err(-ENOMEM, "names");
	if (!root)
		root = env && env[0] == '/' ? env : "/";
	if (strlen(root) >= sizeof(n->root)) {
		free(n);
		return na_err(-ENAMETOOLONG, "metadata root %.64s... (%s)", root, NA_METADATA_ROOT_ENV);
	}
	snprintf(n->root, sizeof(n->root), "%s", root);
	while (n->root[0] && n->root[strlen(n->root) - 1] == '/')
		n->root[strlen(n->root) - 1] = '\0';
	n->cap = 64;
	n->tab = calloc(n->cap, sizeof(*n->tab));
	if (!n->tab) {
		free(n);
		return na_err(-ENOMEM, "names");
	}
	n->pass = 1;
	n->now_s = na_mono_s();
	n->store_user = -2;
	*out = n;
	return 0;
}

static void free_pods(struct na_names *n)
{
	size_t i;

	for (i = 0; i < n->npods; i++)
		free(n->pods[i].ns);
	free(n->pods);
	n->pods = NULL;
	n->npods = 0;
}

static void free_ctrs(struct na_names *n)
{
	size_t i;

	for (i = 0; i < n->nctrs; i++)
		free(n->ctrs[i].pod);
	free(n->ctrs);
	n->ctrs = NULL;
	n->nctrs = 0;
}

static void free_store(struct na_names *n)
{
	size_t i;

	for (i = 0; i < n->nstore; i++)
		free(n->store[i].name);
	free(n->store);
	n->store = NULL;
	n->nstore = 0;
}

void na_names_free(struct na_names *n)
{
	size_t i;

	if (!n)
		return;
	for (i = 0; i < n->cap; i++)
		free(n->tab[i]);
	free(n->tab);
	free_pods(n);
	free_ctrs(n);
	free_store(n);
	free(n);
}

void na_names_pass(struct na_names *n)
{
	n->pass++;
	n->now_s = na_mono_s();
}

/*
 * The whole of a small regular file, NUL-terminated, or NULL. Opened without
 * waiting (a FIFO in its place would block a plain open) and never through a
 * link at its last component.
 */
static char *slurp(const char *path, size_t max, size_t *len)
{
	struct stat st;
	char *buf = NULL;
	size_t got = 0;
	ssize_t r;
	int fd = open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_NOFOLLOW | O_CLOEXEC);

	if (fd < 0)
		return NULL;
	if (fstat(fd, &st) || !S_ISREG(st.st_mode) || (size_t)st.st_size > max)
		goto out;
	buf = malloc((size_t)st.st_size + 1);
	if (!buf)
		goto out;
	while (got < (size_t)st.st_size && (r = read(fd, buf + got, (size_t)st.st_size - got)) > 0)
		got += (size_t)r;
	buf[got] = '\0';
	*len = got;
out:
	close(fd);
	return buf;
}

static json_object *json_read(const char *path)
{
	json_tokener *tok;
	json_object *o = NULL;
	size_t len = 0;
	char *buf = slurp(path, JSON_MAX, &len);

	if (!buf)
		return NULL;
	tok = json_tokener_new_ex(JSON_DEPTH);
	if (tok) {
		o = json_tokener_parse_ex(tok, buf, (int)len);
		if (json_tokener_get_error(tok) != json_tokener_success) {
			json_object_put(o);
			o = NULL;
		}
		json_tokener_free(tok);
	}
	free(buf);
	return o;
}

static const char *json_str(json_object *o, const char *key)
{
	json_object *v;

	if (!o || !json_object_is_type(o, json_type_object) || !json_object_object_get_ex(o, key, &v) ||
	    !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

/* Split a copy of name at '_' into exactly k fields; the copy is *mem. */
static int split_(const char *name, size_t len, char **f, int k, char **mem)
{
	char *s = strndup(name, len), *p;
	int i;

	*mem = s;
	if (!s)
		return 0;
	for (i = 0, p = s; i < k; i++) {
		f[i] = p;
		p = strchr(p, '_');
		if ((i < k - 1) != (p != NULL) || !*f[i] || (p && p == f[i]))
			return 0;
		if (p)
			*p++ = '\0';
	}
	return 1;
}

static int pod_cmp(const void *a, const void *b)
{
	return strcmp(((const struct pod_ent *)a)->uid, ((const struct pod_ent *)b)->uid);
}

static int ctr_cmp(const void *a, const void *b)
{
	return strcmp(((const struct ctr_ent *)a)->id, ((const struct ctr_ent *)b)->id);
}

static int store_cmp(const void *a, const void *b)
{
	return strcmp(((const struct store_ent *)a)->id, ((const struct store_ent *)b)->id);
}

static void *grow(void *v, size_t n, size_t *cap, size_t sz)
{
	void *p;

	if (n < *cap)
		return v;
	p = realloc(v, (*cap ? *cap * 2 : 64) * sz);
	if (p)
		*cap = *cap ? *cap * 2 : 64;
	return p;
}

/* /var/log/pods: one directory per pod, NAMESPACE_POD_UID (none of them holds '_'). */
static void read_pods(struct na_names *n)
{
	char path[PATH_MAX], *f[3], *mem;
	struct dirent *d;
	size_t cap = 0;
	DIR *dir;

	if (n->pods_pass == n->pass)
		return;
	n->pods_pass = n->pass;
	free_pods(n);
	snprintf(path, sizeof(path), "%s/var/log/pods", n->root);
	dir = opendir(path);
	if (!dir)
		return;
	while ((d = readdir(dir))) {
		struct pod_ent *p;

		mem = NULL;
		if (d->d_name[0] == '.' || !split_(d->d_name, strlen(d->d_name), f, 3, &mem)) {
			free(mem);
			continue;
		}
		p = grow(n->pods, n->npods, &cap, sizeof(*p));
		if (!p) {
			free(mem);
			break;
		}
		n->pods = p;
		/* one allocation per entry, freed through ns (== mem) */
		p[n->npods++] = (struct pod_ent){ .uid = f[2], .ns = f[0], .pod = f[1] };
	}
	closedir(dir);
	if (n->npods)
		qsort(n->pods, n->npods, sizeof(*n->pods), pod_cmp);
}

/* /var/log/containers: POD_NAMESPACE_CONTAINER-ID.log, a link per container (cut at 255 bytes: then no id). */
static void read_ctrs(struct na_names *n)
{
	char path[PATH_MAX], *f[3], *mem, *dash;
	struct dirent *d;
	size_t cap = 0, len;
	DIR *dir;

	if (n->ctrs_pass == n->pass)
		return;
	n->ctrs_pass = n->pass;
	free_ctrs(n);
	snprintf(path, sizeof(path), "%s/var/log/containers", n->root);
	dir = opendir(path);
	if (!dir)
		return;
	while ((d = readdir(dir))) {
		struct ctr_ent *c;

		len = strlen(d->d_name);
		mem = NULL;
		if (!ends_with(d->d_name, ".log") || !split_(d->d_name, len - 4, f, 3, &mem) ||
		    !(dash = strrchr(f[2], '-')) || dash == f[2] || strlen(dash + 1) != ID_LEN ||
		    !is_hex(dash + 1, ID_LEN)) {
			free(mem);
			continue;
		}
		c = grow(n->ctrs, n->nctrs, &cap, sizeof(*c));
		if (!c) {
			free(mem);
			break;
		}
		n->ctrs = c;
		*dash = '\0';
		c = &n->ctrs[n->nctrs++];
		memcpy(c->id, dash + 1, ID_LEN + 1);
		c->pod = f[0]; /* == mem: freed through it */
		c->ns = f[1];
		c->name = f[2];
	}
	closedir(dir);
	if (n->nctrs)
		qsort(n->ctrs, n->nctrs, sizeof(*n->ctrs), ctr_cmp);
}

static void store_add(struct na_names *n, size_t *cap, const char *id, const char *name)
{
	struct store_ent *s;

	if (!id || !name || strlen(id) != ID_LEN || !is_hex(id, ID_LEN))
		return;
	s = grow(n->store, n->nstore, cap, sizeof(*s));
	if (!s)
		return;
	n->store = s;
	s = &n->store[n->nstore];
	memcpy(s->id, id, ID_LEN + 1);
	if ((s->name = strdup(name)))
		n->nstore++;
}

/* Every DRIVER-containers/containers.json under a containers/storage graph root. */
static void read_store_root(struct na_names *n, const char *graph, size_t *cap)
{
	char path[PATH_MAX];
	struct dirent *d;
	DIR *dir = opendir(graph);

	if (!dir)
		return;
	while ((d = readdir(dir))) {
		json_object *arr;
		size_t i;

		if (!ends_with(d->d_name, "-containers") ||
		    (size_t)snprintf(path, sizeof(path), "%s/%s/containers.json", graph, d->d_name) >= sizeof(path))
			continue;
		arr = json_read(path);
		if (!arr || !json_object_is_type(arr, json_type_array)) {
			json_object_put(arr);
			continue;
		}
		for (i = 0; i < json_object_array_length(arr); i++) {
			json_object *c = json_object_array_get_idx(arr, i), *names;

			if (json_object_object_get_ex(c, "names", &names) && json_object_is_type(names, json_type_array) &&
			    json_object_array_length(names) > 0) {
				json_object *nm = json_object_array_get_idx(names, 0);

				if (json_object_is_type(nm, json_type_string))
					store_add(n, cap, json_str(c, "id"), json_object_get_string(nm));
			}
		}
		json_object_put(arr);
	}
	closedir(dir);
}

/* A user's home directory from the metadata root's /etc/passwd (never NSS: that may ask the network). */
static int user_home(const struct na_names *n, long long uid, char *home, size_t len)
{
	char path[PATH_MAX];
	struct passwd *pw;
	int found = 0;
	FILE *f;

	snprintf(path, sizeof(path), "%s/etc/passwd", n->root);
	f = fopen(path, "re");
	if (!f)
		return 0;
	while (!found && (pw = fgetpwent(f)))
		if ((long long)pw->pw_uid == uid && pw->pw_dir[0] == '/') {
			snprintf(home, len, "%s", pw->pw_dir);
			found = 1;
		}
	fclose(f);
	return found;
}

/* containers/storage: the system's (podman as root, CRI-O) and, for a rootless podman, its user's. */
static void read_store(struct na_names *n, long long user)
{
	char path[PATH_MAX], home[PATH_MAX];
	size_t cap = 0;

	if (n->store_pass == n->pass && n->store_user == user)
		return;
	n->store_pass = n->pass;
	n->store_user = user;
	free_store(n);
	snprintf(path, sizeof(path), "%s/var/lib/containers/storage", n->root);
	read_store_root(n, path, &cap);
	if (user > 0 && user_home(n, user, home, sizeof(home)) &&
	    (size_t)snprintf(path, sizeof(path), "%s%s/.local/share/containers/storage", n->root, home) < sizeof(path))
		read_store_root(n, path, &cap);
	if (n->nstore)
		qsort(n->store, n->nstore, sizeof(*n->store), store_cmp);
}

/* docker: /var/lib/docker/containers/ID/config.v2.json, "Name" ("/web") and the kubelet's labels. */
static void docker_names(struct na_names *n, const char *id, struct na_cgnames *c)
{
	char path[PATH_MAX];
	json_object *o, *cfg, *labels;
	const char *name;

	snprintf(path, sizeof(path), "%s/var/lib/docker/containers/%s/config.v2.json", n->root, id);
	o = json_read(path);
	if (!o)
		return;
	if (json_object_object_get_ex(o, "Config", &cfg) && json_object_object_get_ex(cfg, "Labels", &labels)) {
		fill(c->container, sizeof(c->container), json_str(labels, "io.kubernetes.container.name"));
		fill(c->pod, sizeof(c->pod), json_str(labels, "io.kubernetes.pod.name"));
		fill(c->ns, sizeof(c->ns), json_str(labels, "io.kubernetes.pod.namespace"));
	}
	name = json_str(o, "Name");
	if (name && !na_names_parse_k8s(name + (name[0] == '/'), c))
		fill(c->container, sizeof(c->container), name + (name[0] == '/'));
	json_object_put(o);
}

/* Look the names of e up in the metadata: what is still missing. */
static void lookup(struct na_names *n, struct entry *e)
{
	struct na_cgnames *c = &e->n;
	const struct na_cgpath_info *in = &e->info;

	if (c->pod_uid[0] && !(c->pod[0] && c->ns[0])) {
		struct pod_ent key = { .uid = (char *)c->pod_uid }, *p;

		read_pods(n);
		p = n->npods ? bsearch(&key, n->pods, n->npods, sizeof(*n->pods), pod_cmp) : NULL;
		if (p) {
			fill(c->pod, sizeof(c->pod), p->pod);
			fill(c->ns, sizeof(c->ns), p->ns);
		}
	}
	if (in->id[0] && !c->container[0]) {
		struct ctr_ent key, *k;

		memcpy(key.id, in->id, ID_LEN + 1);
		if (c->pod_uid[0]) {
			read_ctrs(n);
			k = n->nctrs ? bsearch(&key, n->ctrs, n->nctrs, sizeof(*n->ctrs), ctr_cmp) : NULL;
			if (k) {
				fill(c->container, sizeof(c->container), k->name);
				fill(c->pod, sizeof(c->pod), k->pod);
				fill(c->ns, sizeof(c->ns), k->ns);
			}
		}
		if (!c->container[0] && (in->runtime == NA_RT_DOCKER || in->runtime == NA_RT_UNKNOWN))
			docker_names(n, in->id, c);
		if (!c->container[0] && (in->runtime == NA_RT_PODMAN || in->runtime == NA_RT_CRIO ||
					 in->runtime == NA_RT_UNKNOWN)) {
			struct store_ent skey, *s;

			memcpy(skey.id, in->id, ID_LEN + 1);
			read_store(n, in->runtime == NA_RT_PODMAN ? in->user : -1);
			s = n->nstore ? bsearch(&skey, n->store, n->nstore, sizeof(*n->store), store_cmp) : NULL;
			if (s && !na_names_parse_k8s(s->name, c))
				fill(c->container, sizeof(c->container), s->name);
		}
	}
	/*
	 * Still missing something: looked for again later (a pod's sandbox has no
	 * log, and stays so; it holds no sockets, so it is rarely asked for).
	 */
	e->complete = (!in->id[0] || c->container[0]) && (!c->pod_uid[0] || (c->pod[0] && c->ns[0]));
	e->checked_s = n->now_s;
	e->pass = n->pass;
}

static size_t slot_of(const struct na_names *n, uint64_t cgid)
{
	uint64_t x = cgid * 0x9e3779b97f4a7c15ull;

	return (size_t)(x >> 17) & (n->cap - 1);
}

static int rehash(struct na_names *n, size_t cap)
{
	struct entry **tab = calloc(cap, sizeof(*tab)), **old = n->tab;
	size_t i, oc = n->cap, k;

	if (!tab)
		return -ENOMEM;
	n->tab = tab;
	n->cap = cap;
	for (i = 0; i < oc; i++) {
		if (!old[i])
			continue;
		for (k = slot_of(n, old[i]->cgid); tab[k]; k = (k + 1) & (cap - 1))
			;
		tab[k] = old[i];
	}
	free(old);
	return 0;
}

const struct na_cgnames *na_names_get(struct na_names *n, uint64_t cgid, const char *rel)
{
	struct entry *e;
	size_t k;

	if (!n)
		return NULL;
	for (k = slot_of(n, cgid); (e = n->tab[k]); k = (k + 1) & (n->cap - 1))
		if (e->cgid == cgid)
			break;
	if (!e) {
		if (2 * (n->n + 1) > n->cap && rehash(n, n->cap * 2))
			return &n->empty;
		e = calloc(1, sizeof(*e));
		if (!e)
			return &n->empty;
		for (k = slot_of(n, cgid); n->tab[k]; k = (k + 1) & (n->cap - 1))
			;
		n->tab[k] = e;
		n->n++;
		e->cgid = cgid;
		e->complete = 1;
		if (rel && !na_cgpath_parse(rel, &e->info)) {
			e->have_path = 1;
			e->n = e->info.n;
			lookup(n, e);
		}
	} else if (!e->have_path && rel && !na_cgpath_parse(rel, &e->info)) {
		/* its path became known (a cgroup made after the reader started) */
		e->have_path = 1;
		e->n = e->info.n;
		lookup(n, e);
	} else if (!e->complete && e->pass != n->pass && n->now_s - e->checked_s >= NA_NAMES_RETRY_S) {
		lookup(n, e); /* fills only what is still empty: what a reader holds does not change under it */
	}
	e->used_s = n->now_s;
	return &e->n;
}

void na_names_expire(struct na_names *n, unsigned idle_s)
{
	size_t i, kept = 0;
	int gone = 0;

	for (i = 0; i < n->cap; i++) {
		if (n->tab[i] && n->now_s - n->tab[i]->used_s > (int64_t)idle_s) {
			free(n->tab[i]);
			n->tab[i] = NULL;
			gone = 1;
		}
		kept += n->tab[i] != NULL;
	}
	n->n = kept;
	if (gone)
		rehash(n, n->cap); /* open addressing: the probe chains are made again */
}

void na_cgnames_best(const struct na_cgnames *c, const char *rel, char *buf, size_t len)
{
	const char *id = strstr(c ? c->container_id : "", "://");

	id = id ? id + 3 : c ? c->container_id : "";
	if (c && c->pod[0] && c->container[0])
		snprintf(buf, len, "%s/%s", c->pod, c->container);
	else if (c && c->container[0])
		snprintf(buf, len, "%s", c->container);
	else if (c && c->pod[0] && id[0])
		snprintf(buf, len, "%s/%.12s", c->pod, id);
	else if (c && c->pod[0])
		snprintf(buf, len, "%s", c->pod);
	else if (c && id[0] && id != c->container_id)
		snprintf(buf, len, "%.*s:%.12s", (int)(id - 3 - c->container_id), c->container_id, id);
	else if (c && id[0])
		snprintf(buf, len, "%.12s", id);
	else if (c && c->unit[0])
		snprintf(buf, len, "%s", c->unit);
	else
		snprintf(buf, len, "%s", rel ? rel : "-");
}
