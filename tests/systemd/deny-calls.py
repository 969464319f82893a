#!/usr/bin/python3
"""deny-calls.py: runs a program with system calls refused as a systemd
unit's SystemCallFilter=~GROUP... with SystemCallErrorNumber=EPERM does
(the groups' members as systemd-analyze names them, nested groups
followed), so the plugin meets the unit's filter without a service
manager. Debian's python3-seccomp loads the filter; every other call is
allowed, as the unit's @system-service list allows what the plugin uses.

Usage: deny-calls.py @GROUP... -- PROGRAM [ARGS...]
Exits 77 when python3-seccomp or systemd-analyze is missing.
"""
import errno
import os
import subprocess
import sys


def members(group, seen):
    """The system calls of |group|, nested groups expanded."""
    if group in seen:
        return set()
    seen.add(group)
    out = subprocess.run(["systemd-analyze", "syscall-filter", group],
                         capture_output=True, text=True, check=True).stdout
    calls = set()
    for line in out.splitlines()[1:]:
        name = line.strip()
        if not name or name.startswith("#"):
            continue
        if name.startswith("@"):
            calls |= members(name, seen)
        else:
            calls.add(name)
    return calls


def main():
    if "--" not in sys.argv:
        sys.exit(__doc__)
    cut = sys.argv.index("--")
    groups, program = sys.argv[1:cut], sys.argv[cut + 1:]
    try:
        import seccomp
    except ImportError:
        print("deny-calls: python3-seccomp missing", file=sys.stderr)
        return 77
    seen = set()
    calls = set()
    for group in groups:
        calls |= members(group, seen)
    f = seccomp.SyscallFilter(seccomp.ALLOW)
    for name in sorted(calls):
        try:
            f.add_rule(seccomp.ERRNO(errno.EPERM), name)
        except (RuntimeError, ValueError, OSError):
            pass  # not a call on this architecture
    f.load()
    os.execvp(program[0], program)


if __name__ == "__main__":
    sys.exit(main())
