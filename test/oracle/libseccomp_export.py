#!/usr/bin/python3
"""libseccomp as a test oracle: compiles seccomp profiles with libseccomp and prints the BPF.

Run with /usr/bin/python3 (Debian's python3-seccomp, libseccomp 2.5.4, is importable only there).

stdin, one JSON object:
  {"profiles": [
     {"default": "ERRNO(1)" | "ALLOW" | "KILL" | "KILL_THREAD" | "KILL_PROCESS" | "TRAP" | "LOG" | "TRACE(n)",
      "arches": ["x86_64", "x86", "x32"],      # optional, default ["x86_64"]: exactly these arches
      "optimize": 1 | 2,                       # optional; 2 = libseccomp's binary tree
      "badarch": "KILL_PROCESS",               # optional; see BADARCH below
      "rules": [ {"action": ..., "syscall": "<name>" | <number>,
                  "args": [ {"arg": i, "op": "EQ|NE|LT|LE|GT|GE|MASKED_EQ",
                             "value": "0x...", "mask": "0x..."} ]} ]},
     ...],
   "resolve": {"arches": [...], "names": [...]},  # optional
   "timeout": 5                                  # optional: seconds per profile; compiles in a
  }                                              # watched worker process (libseccomp can hang)

stdout, one JSON object:
  {"programs": ["<hex of seccomp_export_bpf output>" | {"error": "..."}, ...],   # "timeout: ..." on a hang
   "numbers": {"<arch>": {"<name>": <nr> | null}}}   # only when "resolve" was given

MASKED_EQ: "mask" is the mask and "value" the datum, i.e. libseccomp's Arg(i, MASKED_EQ, mask, value)
(libseccomp compares (arg & mask) == (value & mask)).

BADARCH: libseccomp kills calls of foreign arches with KILL (thread) unless told otherwise; stockade
kills them with KILL_PROCESS. The oracle sets Attr.ACT_BADARCH to KILL_PROCESS by default so the two
programs can be compared verdict for verdict; pass "badarch" to choose another action.

"numbers" gives libseccomp's own number for each name on each arch: null when libseccomp does not
know the name there (it resolves it to a negative pseudo number, e.g. socketcall on x86_64); note that
it gives i386 socket() & co. the socketcall multiplexer's number, 102, where the kernel also has 359.
One process compiles many profiles: start-up costs far more than compiling one.
"""
import json
import os
import re
import select
import signal
import sys
import tempfile
import time

try:
    import seccomp
except ImportError as e:  # the caller turns this into a skip
    sys.stderr.write("python3-seccomp is not importable: %s\n" % e)
    sys.exit(3)

ARCHES = {
    "x86_64": seccomp.Arch.X86_64, "amd64": seccomp.Arch.X86_64,
    "x86": seccomp.Arch.X86, "i386": seccomp.Arch.X86,
    "x32": seccomp.Arch.X32,
    "aarch64": seccomp.Arch.AARCH64, "arm64": seccomp.Arch.AARCH64,
}

OPS = {
    "EQ": seccomp.EQ, "NE": seccomp.NE, "LT": seccomp.LT, "LE": seccomp.LE,
    "GT": seccomp.GT, "GE": seccomp.GE, "MASKED_EQ": seccomp.MASKED_EQ,
}

ACTION_RE = re.compile(r"^\s*([A-Z_]+)\s*(?:\(\s*(\d+)\s*\))?\s*$")


def parse_action(text):
    m = ACTION_RE.match(str(text).upper())
    if not m:
        raise ValueError("bad action %r" % (text,))
    name, data = m.group(1), m.group(2)
    n = int(data) if data is not None else None
    if name == "ALLOW":
        return seccomp.ALLOW
    if name in ("KILL", "KILL_THREAD"):
        return seccomp.KILL
    if name == "KILL_PROCESS":
        return seccomp.KILL_PROCESS
    if name == "TRAP":
        return seccomp.TRAP
    if name == "LOG":
        return seccomp.LOG
    if name == "ERRNO":
        return seccomp.ERRNO(1 if n is None else n)
    if name == "TRACE":
        return seccomp.TRACE(0 if n is None else n)
    raise ValueError("unsupported action %r" % (text,))


def s32(x):
    """The binding takes C ints: tokens and actions with the top bit set as negative values."""
    x &= 0xFFFFFFFF
    return x - 0x100000000 if x & 0x80000000 else x


def as_int(v):
    if isinstance(v, int):
        return v
    return int(str(v), 0)


def compile_profile(p):
    default = parse_action(p.get("default", "KILL"))
    f = seccomp.SyscallFilter(default)
    # set_attr takes a C int: pass the u32 action as its signed value.
    f.set_attr(seccomp.Attr.ACT_BADARCH, parse_action(p.get("badarch", "KILL_PROCESS")))
    wanted = [ARCHES[a] for a in p.get("arches") or ["x86_64"]]
    for a in wanted:
        if not f.exist_arch(a):
            f.add_arch(a)
    # The native arch is in every new filter; drop it when the request does not name it.
    native = s32(seccomp.system_arch())  # an unsigned token here, a signed one in Arch.*
    if native not in wanted and f.exist_arch(native):
        f.remove_arch(native)
    if "optimize" in p:
        f.set_attr(seccomp.Attr.CTL_OPTIMIZE, int(p["optimize"]))
    for i, r in enumerate(p.get("rules", [])):
        args = []
        for c in r.get("args", []):
            op = OPS[c["op"]]
            if c["op"] == "MASKED_EQ":
                args.append(seccomp.Arg(int(c["arg"]), op, as_int(c["mask"]), as_int(c["value"])))
            else:
                args.append(seccomp.Arg(int(c["arg"]), op, as_int(c["value"])))
        try:
            f.add_rule(parse_action(r["action"]), r["syscall"], *args)
        except Exception as e:  # libseccomp's errno: -13 action == default, -22 invalid, ...
            raise RuntimeError("rules[%d] (%s): %s" % (i, r.get("syscall"), e))
    with tempfile.TemporaryFile() as t:
        f.export_bpf(t)
        t.seek(0)
        return t.read().hex()


def resolve(req):
    out = {}
    for a in req.get("arches", []):
        table = {}
        for name in req.get("names", []):
            try:
                nr = seccomp.resolve_syscall(ARCHES[a], name)
            except Exception:
                nr = -1
            table[name] = nr if nr >= 0 else None
        out[a] = table
    return out


def compile_all_guarded(profiles, timeout):
    """compile_profile for every profile in a forked worker, one JSON line per profile. libseccomp
    2.5.4 loops forever on some rule sets (two rules of one syscall sharing an LT/LE/GT/GE/NE
    comparison, each with more comparisons after it): when the worker spends more than `timeout`
    seconds on one profile it is killed, the profile is reported as a timeout and a new worker goes
    on with the next one."""
    results = []
    while len(results) < len(profiles):
        first = len(results)
        rfd, wfd = os.pipe()
        pid = os.fork()
        if pid == 0:  # worker
            os.close(rfd)
            with os.fdopen(wfd, "wb") as w:
                for p in profiles[first:]:
                    try:
                        out = compile_profile(p)
                    except Exception as e:
                        out = {"error": str(e)}
                    w.write(json.dumps(out).encode() + b"\n")
                    w.flush()
            os._exit(0)
        os.close(wfd)
        buf = b""
        timed_out = False
        deadline = time.monotonic() + timeout
        with os.fdopen(rfd, "rb", buffering=0) as r:
            while len(results) < len(profiles):
                left = deadline - time.monotonic()
                if left <= 0 or not select.select([r], [], [], left)[0]:
                    timed_out = True
                    break
                chunk = r.read(1 << 20)
                if not chunk:
                    break
                buf += chunk
                while b"\n" in buf:
                    line, buf = buf.split(b"\n", 1)
                    results.append(json.loads(line))
                    deadline = time.monotonic() + timeout
        if timed_out:
            os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        if timed_out:
            results.append({"error": "timeout: libseccomp did not finish within %g s" % timeout})
        elif len(results) < len(profiles):
            results.append({"error": "the libseccomp worker died"})
    return results


def main():
    req = json.load(sys.stdin)
    result = {"programs": []}
    profiles = req.get("profiles", [])
    timeout = float(req.get("timeout", 0))  # seconds per profile; 0 = no guard, compile here
    if timeout > 0 and profiles:
        result["programs"] = compile_all_guarded(profiles, timeout)
    for p in profiles if timeout <= 0 else []:
        try:
            result["programs"].append(compile_profile(p))
        except Exception as e:
            result["programs"].append({"error": str(e)})
    if "resolve" in req:
        result["numbers"] = resolve(req["resolve"])
    json.dump(result, sys.stdout, separators=(",", ":"))
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
