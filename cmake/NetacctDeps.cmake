# Build dependencies, each with the Debian package that provides it: a missing
# one stops the configure step with a message naming the package.
find_package(PkgConfig)
if(NOT PKG_CONFIG_FOUND)
  message(FATAL_ERROR "pkg-config not found: install the Debian package 'pkg-config'")
endif()

function(na_require_pkg var module debpkg)
  pkg_check_modules(${var} QUIET IMPORTED_TARGET ${module})
  if(NOT ${var}_FOUND)
    message(FATAL_ERROR "${module} not found: install the Debian package '${debpkg}'")
  endif()
endfunction()

na_require_pkg(LIBBPF libbpf libbpf-dev)
na_require_pkg(LIBELF libelf libelf-dev)
na_require_pkg(ZLIB zlib zlib1g-dev)
# libcgroup: required by the project's brief. Linked only by
# tests/reference/libcgroup_v2, which measures that libcgroup 2.0.2 makes,
# enters and removes no cgroup v2 group without a controller; netacct's own
# cgroups are made on the cgroup2 filesystem (agent/cgroup.c, docs/design.md).
na_require_pkg(LIBCGROUP libcgroup libcgroup-dev)

function(na_require_program var name debpkg)
  find_program(${var} NAMES ${name} ${ARGN} PATHS /usr/sbin /sbin)
  if(NOT ${var})
    message(FATAL_ERROR "${name} not found: install the Debian package '${debpkg}'")
  endif()
endfunction()

na_require_program(NA_CLANG clang clang)
na_require_program(NA_LLVM_STRIP llvm-strip llvm)
na_require_program(NA_BPFTOOL bpftool bpftool)
na_require_pkg(JSONC json-c libjson-c-dev)
# libmicrohttpd: the agent's /metrics endpoint.
na_require_pkg(MHD libmicrohttpd libmicrohttpd-dev)
find_package(Threads REQUIRED)
# ncursesw: the interactive view of `netacct top`.
na_require_pkg(NCURSES ncursesw libncurses-dev)
# SQLite: the agent's traffic history and `netacct report` (agent/history.c).
na_require_pkg(SQLITE sqlite3 libsqlite3-dev)
# cairo: report --svg and --png draw with its SVG and PNG surfaces (cli/chart.c).
na_require_pkg(CAIRO cairo libcairo2-dev)
na_require_pkg(CAIRO_SVG cairo-svg libcairo2-dev)
na_require_pkg(CAIRO_PNG cairo-png libcairo2-dev)
# fontconfig (with cairo's): chart.c gives its caches back when it is done (FcFini).
na_require_pkg(FONTCONFIG fontconfig libfontconfig-dev)
