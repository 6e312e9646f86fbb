#!/usr/bin/python3
"""cli.usage_docs: README.md and netacct(8) say what `netacct help` says.

netacct's command table (cli/dispatch.c) is the one source of the commands
and their arguments; the documents copy it, and this test holds them to it:

  * README.md: the block under "## Usage" is `netacct help`, word for word;
  * netacct(8): each command's SYNOPSIS entry, as groff renders it, is
    "netacct CMD ARGS" with ARGS as `netacct help CMD` spells them, and so
    is its .SS heading in COMMANDS; the first SYNOPSIS entry is the global
    usage line; no command is in one and not in the other.

(cli.completion holds scripts/netacct.bash-completion to the same table.)

    test_usage_docs.py NETACCT README.md netacct.8

Exit 0 when they agree, 1 naming each difference and the fix, 77 when groff
is not installed (Debian package groff-base; scripts/test installs it).
"""

import difflib
import re
import shutil
import subprocess
import sys


def run(*argv):
    p = subprocess.run(argv, capture_output=True, text=True, timeout=30)
    if p.returncode != 0:
        sys.exit("%s: exit %d: %s" % (" ".join(argv), p.returncode, p.stderr.strip()))
    return p.stdout


def commands(netacct):
    """{name: args} from `netacct help` (names) and `netacct help NAME` (one line each)."""
    out = {}
    text = run(netacct, "help")
    section = text.split("\nCommands:\n", 1)[1].split("\n\n", 1)[0]
    for name in re.findall(r"^  ([a-z]+)\b", section, re.M):
        first = run(netacct, "help", name).splitlines()[0]
        prefix = "Usage: netacct " + name
        if not first.startswith(prefix):
            sys.exit("netacct help %s: %r does not start with %r" % (name, first, prefix))
        out[name] = first[len(prefix):].strip()
    if not out:
        sys.exit("netacct help lists no commands")
    return out


def readme_usage(path):
    text = open(path, encoding="utf-8").read()
    m = re.search(r"^## Usage\n\n```\n(.*?)^```\n", text, re.M | re.S)
    return m.group(1) if m else None


def man_synopsis(path):
    """The SYNOPSIS entries as groff renders them, each on one line."""
    p = subprocess.run(["groff", "-man", "-Tascii", "-P-cbou", path], capture_output=True, text=True,
                       timeout=30)
    m = re.search(r"^SYNOPSIS\n(.*?)^\S", p.stdout, re.M | re.S)
    if not m:
        return []
    return [" ".join(e.split()) for e in re.split(r"\n\s*\n", m.group(1)) if e.strip()]


def man_headings(path):
    """{command: its .SS heading} of the COMMANDS section, groff escapes undone."""
    out = {}
    section = None
    for line in open(path, encoding="utf-8"):
        if line.startswith(".SH "):
            section = line[4:].strip().strip('"')
        elif section == "COMMANDS" and line.startswith(".SS "):
            h = line[4:].strip()
            if h.startswith('"') and h.endswith('"'):
                h = h[1:-1]
            h = h.replace("\\-", "-").replace("\\&", "")
            out[h.split()[0]] = h
    return out


def main():
    netacct, readme, man = sys.argv[1:4]
    if not shutil.which("groff"):
        print("skip: groff not installed (Debian package groff-base)")
        return 77
    bad = []
    cmds = commands(netacct)
    usage_line = run(netacct, "help").splitlines()[0]

    help_text = run(netacct, "help")
    got = readme_usage(readme)
    if got is None:
        bad.append("README.md: no ``` block right under \"## Usage\"")
    elif got != help_text:
        diff = "".join(difflib.unified_diff(got.splitlines(True), help_text.splitlines(True),
                                            "README.md (Usage)", "netacct help"))
        bad.append("README.md's Usage block is not `netacct help` (replace it with that output):\n" + diff)

    syn = man_synopsis(man)
    want = "netacct " + usage_line[len("Usage: netacct "):]
    if not syn or syn[0] != want:
        bad.append("netacct(8) SYNOPSIS: the first entry is %r, `netacct help` says %r"
                   % (syn[0] if syn else None, want))
    entries = {e.split()[1]: e for e in syn[1:] if len(e.split()) > 1}
    heads = man_headings(man)
    for name, args in cmds.items():
        line = ("netacct %s %s" % (name, args)).strip()
        if entries.get(name) != line:
            bad.append("netacct(8) SYNOPSIS of %s:\n  man page:     %s\n  netacct help: %s"
                       % (name, entries.get(name), line))
        if heads.get(name) != line[len("netacct "):]:
            bad.append("netacct(8) .SS heading of %s:\n  man page:     %s\n  netacct help: %s"
                       % (name, heads.get(name), line[len("netacct "):]))
    for name in sorted(set(entries) - set(cmds)):
        bad.append("netacct(8) SYNOPSIS has %s, which `netacct help` does not list" % name)
    for name in sorted(set(heads) - set(cmds)):
        bad.append("netacct(8) COMMANDS has .SS %s, which `netacct help` does not list" % name)

    for b in bad:
        print("FAIL: " + b)
    print("%d commands; %d differences" % (len(cmds), len(bad)))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
