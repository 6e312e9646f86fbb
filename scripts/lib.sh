# shellcheck shell=bash
# Shared first step of scripts/quickstart and scripts/test, sourced (not run):
# be root, have the Debian packages, have bpffs, configure and build.
#
#   NA_BUILD_DIR  build directory (default: build)
#
# Works on a fresh Debian 12: everything it needs beyond the base system is
# installed here with apt-get.

NA_PROG=${NA_PROG:-$(basename "$0")}
NA_BUILD_DIR=${NA_BUILD_DIR:-build}

# Build dependencies; cmake/NetacctDeps.cmake names the same packages.
NA_BUILD_PKGS=(clang llvm libbpf-dev libelf-dev zlib1g-dev bpftool libcgroup-dev
	libjson-c-dev libncurses-dev libmicrohttpd-dev libclang-rt-14-dev libsqlite3-dev libcairo2-dev libfontconfig-dev pkg-config cmake make gcc)

na_die() {
	echo "$NA_PROG: $*" >&2
	exit 1
}

# A heading that tells a newcomer what the next lines are.
na_section() {
	printf '\n==> %s\n' "$*"
}

na_require_root() {
	[[ $(id -u) -eq 0 ]] ||
		na_die "must run as root: it installs packages, mounts bpffs, creates cgroups and loads BPF (try: sudo $0)"
}

# The repository root, whatever the caller's working directory.
na_cd_root() {
	cd "$(dirname "${BASH_SOURCE[0]}")/.." || na_die "cannot enter the repository root"
	[[ -f CMakeLists.txt && -d cgroup-fixtures ]] || na_die "$PWD: not the netacct repository root"
}

# na_install_packages PKG...: apt-get update (once) and install only what is missing.
na_install_packages() {
	local pkg status missing=()

	for pkg in "$@"; do
		status=$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null) || status=
		[[ $status == "install ok installed" ]] || missing+=("$pkg")
	done
	if ((${#missing[@]} == 0)); then
		echo "all $# packages present"
		return 0
	fi
	command -v apt-get >/dev/null || na_die "missing packages ${missing[*]} and no apt-get: install them by hand"
	echo "installing: ${missing[*]}"
	apt-get update ||
		na_die "apt-get update failed (network or /etc/apt/sources.list?)"
	DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}" ||
		na_die "apt-get install ${missing[*]} failed"
}

# bpffs at /sys/fs/bpf: netacct pins its maps and links there.
na_mount_bpffs() {
	if awk '$5 == "/sys/fs/bpf" { for (i = 7; $i != "-"; i++) ; if ($(i + 1) == "bpf") ok = 1 }
		END { exit !ok }' /proc/self/mountinfo; then
		echo "bpffs is mounted at /sys/fs/bpf"
		return 0
	fi
	[[ -d /sys/fs/bpf ]] || na_die "/sys/fs/bpf does not exist: this kernel has no BPF syscall (CONFIG_BPF_SYSCALL)"
	mount -t bpf bpf /sys/fs/bpf || na_die "mount -t bpf bpf /sys/fs/bpf failed"
	echo "mounted bpffs at /sys/fs/bpf"
}

na_build() {
	# NA_CMAKE_ARGS: more -D options (scripts/test-sanitize); word-split on purpose.
	# shellcheck disable=SC2086
	cmake -S . -B "$NA_BUILD_DIR" -DCMAKE_BUILD_TYPE=RelWithDebInfo ${NA_CMAKE_ARGS:-} ||
		na_die "cmake configure failed (see above)"
	cmake --build "$NA_BUILD_DIR" -j"$(nproc)" || na_die "build failed (see above)"
}

# na_prepare PKG...: the whole first step, with the extra run-time packages.
na_prepare() {
	na_require_root
	na_cd_root
	na_section "Debian packages"
	na_install_packages "${NA_BUILD_PKGS[@]}" "$@"
	na_section "bpffs"
	na_mount_bpffs
	na_section "Build ($NA_BUILD_DIR)"
	na_build
}
