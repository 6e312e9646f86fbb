#!/usr/bin/env bash
# cli.completion: scripts/netacct.bash-completion, without privilege.
#
#   test_completion.sh COMPLETION_SCRIPT [NETACCT_BINARY]
#
# 1. Completes typed command lines (COMP_WORDS/COMP_CWORD, then _netacct) and
#    asserts COMPREPLY. Attached cgroups come from a stub `netacct` function
#    that prints a fixed `status --json`, under a fake cgroup2 mount in a
#    temporary directory: no root, no BPF, nothing outside the temp dir.
# 2. With the binary: every option and option value the completion offers is
#    accepted by netacct (`netacct CMD OPT [VALUE] --help` exits 0: options
#    are parsed in order, and --help stops before any state is read), and
#    every option in `netacct help` is offered by the completion.
# 3. With the lister of the commands' option tables (tests/unit/
#    cli_options_list.c, from the binary's own command table): for each
#    command with a table, the completion offers exactly the table's options
#    (an abbreviation getopt_long would accept is not enough), and the
#    command's usage line in `netacct help CMD` names each of them but -h/--help.
set -uo pipefail

COMPLETION=${1:?usage: test_completion.sh COMPLETION_SCRIPT [NETACCT_BINARY [OPTIONS_LISTER]]}
NETACCT_BIN=${2:-}
OPTIONS_LIST=${3:-}
fails=0
checks=0

TMP=$(mktemp -d /tmp/netacct-test-completion.XXXXXX) || exit 1
trap 'rm -rf -- "$TMP"' EXIT

# shellcheck source=scripts/netacct.bash-completion
. "$COMPLETION" || {
	echo "FAIL: cannot source $COMPLETION"
	exit 1
}
complete -p netacct >/dev/null || {
	echo "FAIL: no 'complete' registration for netacct"
	exit 1
}
REAL_CG2=$(_netacct_cgroup2_mount) || REAL_CG2=

# A fake cgroup2 mount with a few directories, and a stub netacct.
FAKE=$TMP/cg2
mkdir -p "$FAKE/app/worker" "$FAKE/db" "$FAKE/other"
_netacct_cgroup2_mount() { printf '%s\n' "$FAKE"; }
netacct() {
	printf '%s\n' "$*" >>"$TMP/stub.calls"
	if [[ ${*: -2} == "status --json" ]]; then
		printf '%s\n' '{"pin_root":"/sys/fs/bpf/netacct","abi_version":2,"live_sockets":3,"attached":[{"cgroup":"/app","cgroup_id":101,"cgroup_exists":true,"programs":8},{"cgroup":"/app/worker","cgroup_id":102,"cgroup_exists":true,"programs":8},{"cgroup":"/db","cgroup_id":103,"cgroup_exists":true,"programs":8}]}'
		return 0
	fi
	return 1
}

# comp WORD...: complete the last word (may be empty) of the command line.
comp() {
	COMP_WORDS=("$@")
	COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
	COMP_LINE="$*"
	COMP_POINT=${#COMP_LINE}
	COMPREPLY=()
	_netacct 2>/dev/null
}

# expect "EXPECTED REPLIES" WORD...: the replies, in any order.
expect() {
	local want got

	want=$(tr ' ' '\n' <<<"$1" | sed '/^$/d' | sort | tr '\n' ' ')
	shift
	comp "$@"
	got=$(printf '%s\n' "${COMPREPLY[@]}" | sed '/^$/d' | sort | tr '\n' ' ')
	checks=$((checks + 1))
	if [[ $got != "$want" ]]; then
		echo "FAIL: completing '$*|': got [$got], want [$want]"
		fails=$((fails + 1))
	fi
}

# Commands, prefixes, global options
expect "attach detach status export top log run trace agent report doctor help version" netacct ""
expect "export" netacct ex
expect "top trace" netacct t
expect "--pin-root" netacct --pin
expect "--verbose --version" netacct --ver
expect "top trace" netacct -v --pin-root /x t
comp netacct --pin-root "$TMP/c"
checks=$((checks + 1))
[[ ${COMPREPLY[*]} == "$TMP/cg2/" ]] || { echo "FAIL: --pin-root DIR: got [${COMPREPLY[*]}]"; fails=$((fails + 1)); }

# Per-command options (after global options, and with a command prefix)
expect "--batch --bits" netacct top --b
expect "--batch --bits" netacct -v --pin-root /x top --b
expect "--batch --bits" netacct to --b
expect "--group-by" netacct export --gr
expect "--no-header" netacct export --no
expect "-f --follow -H --human -h --help --csv --json --networks" netacct log -
expect "--all" netacct detach --a
expect "--max-sockets --max-closed --max-peers" netacct attach --max
expect "--json" netacct status --j
expect "--config" netacct agent --co
expect "tx rx" netacct trace --dir ""
expect "--every" netacct report --ev
expect "--svg --since" netacct report --s

# Option values
expect "process peer pod peer-class" netacct top --group-by p
expect "socket process cgroup peer unit container pod peer-class" netacct export --group-by ""
expect "--full-path" netacct top --fu
touch "$TMP/networks"
expect "$TMP/networks" netacct export --networks "$TMP/netw"
expect "cgroup" netacct top --group-by = cg              # '=' split off (COMP_WORDBREAKS)
expect "--group-by=cgroup" netacct top --group-by=cg    # one word
expect "cgroup container" netacct top --group-by = c
expect "icmp icmpv6" netacct top --proto ic
expect "txrate tx" netacct top --sort t
expect "" netacct top --limit ""
expect "" netacct top -d ""
expect "" netacct attach --max-sockets ""
touch "$TMP/out.csv" "$TMP/out.csv.gz"
expect "$TMP/out.csv $TMP/out.csv.gz" netacct export -o "$TMP/out"
expect "help" netacct help he
expect "hour" netacct report --every h
expect "process peer" netacct report --by p
expect "today" netacct report --since to
touch "$TMP/h.db"
expect "$TMP/h.db" netacct report --db "$TMP/h."

# Attached cgroups, from the stub's status --json, joined with the mount
: >"$TMP/stub.calls"
expect "$FAKE/app $FAKE/app/worker $FAKE/db" netacct detach ""
expect "$FAKE/app $FAKE/app/worker" netacct export "$FAKE/a"
expect "$FAKE/db" netacct top --cgroup "$FAKE/d"
expect "$FAKE/db" netacct top --batch "$FAKE/d"
expect "$FAKE/db" netacct --pin-root /sys/fs/bpf/netacct-x detach "$FAKE/d"
checks=$((checks + 1))
if ! grep -qx -- "--pin-root /sys/fs/bpf/netacct-x status --json" "$TMP/stub.calls"; then
	echo "FAIL: --pin-root not passed on to status --json; calls:"
	cat "$TMP/stub.calls"
	fails=$((fails + 1))
fi
# Nothing attached matches: other directories, to go on by hand
expect "$FAKE/other/" netacct detach "$FAKE/o"

# attach: the mount, then directories under it
expect "$FAKE/" netacct attach ""
expect "$FAKE/app/ $FAKE/db/ $FAKE/other/" netacct attach "$FAKE/"
expect "$FAKE/app/worker/" netacct attach --max-sockets 100 "$FAKE/app/w"

# 2. The completion against the binary
if [[ -n $NETACCT_BIN ]]; then
	unset -f netacct
	accepts() { # accepts CMD ARG...: `netacct CMD ARG... --help` exits 0
		local out rc

		out=$("$NETACCT_BIN" "$@" --help 2>&1 >/dev/null)
		rc=$?
		checks=$((checks + 1))
		if ((rc != 0)); then
			echo "FAIL: the completion offers '$*', netacct refuses it (exit $rc): $out"
			fails=$((fails + 1))
		fi
	}
	sample() { # a valid value for an option that takes one
		case $1 in
		--max-sockets | --max-closed | --max-peers) echo 1024 ;;
		--log-size) echo 65536 ;;
		--group) echo root ;;
		--config) echo "$TMP/never-read.conf" ;;
		--networks) echo "$TMP/never-read.networks" ;;
		--listen) echo 127.0.0.1:9477 ;;
		--port | --rate | --count | --top) echo 5 ;;
		--db) echo "$TMP/never-read.db" ;;
		--since | --until) echo -2h ;;
		--every) echo hour ;;
		--by) echo peer ;;
		--svg | --png) echo "$TMP/never-written.svg" ;;
		--dir) echo rx ;;
		--name) echo x ;;
		--parent) echo /nonexistent ;;
		--group-by) echo socket ;;
		-o | --output) echo "$TMP/never-written.csv" ;;
		-d | --interval | -n | --iterations | --limit | --pid) echo 1 ;;
		--sort) echo tx ;;
		--proto) echo tcp ;;
		--cgroup) echo "$REAL_CG2" ;;
		--pin-root) echo /sys/fs/bpf/netacct-test-completion ;;
		esac
	}
	for o in $_netacct_global_opts; do
		case $o in
		-h | --help | --version) ;;
		*) if _netacct_takes_value "$o"; then accepts "$o" "$(sample "$o")"; else accepts "$o"; fi ;;
		esac
	done
	for c in attach detach status export top log agent run trace report doctor; do
		for o in $(_netacct_cmd_opts "$c"); do
			[[ $o == -h || $o == --help ]] && continue
			[[ $o == --cgroup && -z $REAL_CG2 ]] && continue # needs a real cgroup2 directory
			if _netacct_takes_value "$o"; then
				accepts "$c" "$o" "$(sample "$o")"
			else
				accepts "$c" "$o"
			fi
		done
	done
	for v in $_netacct_groups; do accepts top --group-by "$v"; done
	for v in $_netacct_groups; do accepts export --group-by "$v"; done
	for v in $_netacct_protos; do accepts top --proto "$v"; done
	for v in $_netacct_sort_cols; do accepts top --sort "$v"; done
	for v in $_netacct_everys; do accepts report --every "$v"; done
	for v in $_netacct_bys; do accepts report --by "$v"; done
	for v in $_netacct_whens; do accepts report --since "$v"; done
	# ... and every column top sorts by is offered (the binary's usage names them all).
	for v in $("$NETACCT_BIN" top --sort '?' 2>&1 | sed -n "s/.*: one of //p" | head -n 1); do
		checks=$((checks + 1))
		if [[ " $_netacct_sort_cols " != *" $v "* ]]; then
			echo "FAIL: top --sort takes '$v', the completion does not offer it"
			fails=$((fails + 1))
		fi
	done
	[[ -e $TMP/never-written.csv ]] && { echo "FAIL: export -o ... --help wrote a file"; fails=$((fails + 1)); }
	[[ -e $TMP/never-written.svg ]] && { echo "FAIL: report --svg ... --help wrote a file"; fails=$((fails + 1)); }

	# Every command and option of `netacct help` is offered (each command's
	# arguments from its one-line usage, `netacct help CMD`).
	while read -r c; do
		args=$("$NETACCT_BIN" help "$c" | sed -n "1s/^Usage: netacct $c//p")
		checks=$((checks + 1))
		if [[ " $_netacct_commands " != *" $c "* ]]; then
			echo "FAIL: netacct help lists command '$c', the completion does not"
			fails=$((fails + 1))
			continue
		fi
		for o in $(tr '[]|' '   ' <<<"$args"); do
			[[ $o == -* && $o != -- ]] || continue # "--" ends run's options
			checks=$((checks + 1))
			if [[ " $(_netacct_cmd_opts "$c") " != *" $o "* ]]; then
				echo "FAIL: netacct help lists '$c $o', the completion does not offer it"
				fails=$((fails + 1))
			fi
		done
	done < <("$NETACCT_BIN" help | sed -n '/^Commands:/,/^$/{s/^  \([a-z][a-z]*\).*/\1/p}')
fi

# 3. The option tables against the completion and the usage lines
if [[ -n $OPTIONS_LIST && -n $NETACCT_BIN ]]; then
	tables=$("$OPTIONS_LIST") || { echo "FAIL: $OPTIONS_LIST failed"; exit 1; }
	checks=$((checks + 1))
	[[ -n $tables ]] || { echo "FAIL: $OPTIONS_LIST lists no command"; fails=$((fails + 1)); }
	while read -r c opts; do
		usage=" $("$NETACCT_BIN" help "$c" | sed -n "1s/^Usage: netacct $c//p" | tr '[]|' '   ') "
		offered=$(_netacct_cmd_opts "$c")
		for o in $opts; do
			checks=$((checks + 1))
			if [[ " $offered " != *" $o "* ]]; then
				echo "FAIL: netacct $c takes '$o' (its option table), the completion does not offer it"
				fails=$((fails + 1))
			fi
			[[ $o == -h || $o == --help ]] && continue
			checks=$((checks + 1))
			if [[ $usage != *" $o "* ]]; then
				echo "FAIL: netacct $c takes '$o' (its option table), its usage line (netacct help $c) does not name it"
				fails=$((fails + 1))
			fi
		done
		for o in $offered; do
			checks=$((checks + 1))
			if [[ " $opts " != *" $o "* ]]; then
				echo "FAIL: the completion offers 'netacct $c $o', which is not in $c's option table"
				fails=$((fails + 1))
			fi
		done
	done <<<"$tables"
fi

echo "$checks checks, $fails failed"
((fails == 0))
