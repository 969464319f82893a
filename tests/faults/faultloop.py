#!/usr/bin/python3
"""Fault-injection loops over the real plugin, SQLite style.

    faultloop.py nvml  PLUGIN STANDIN FAKE_LIB_DIR PROFILES MAKE_SYSFS
    faultloop.py alloc PLUGIN STANDIN FAKE_LIB_DIR PROFILES MAKE_SYSFS

nvml: a dry run of the scenario (start, register, ListAndWatch, health
checks with a fast probe, an XID) counts every NVML call the plugin makes
(the fake's FAKE_NVML_TRACE). Then each call is failed in turn
(FAKE_NVML_FAIL=SYMBOL:N:ERROR, N = 1..3, and SYMBOL:1+:ERROR for every
call from the first) with each relevant error, and each entry point the
plugin used is hidden in turn (FAKE_NVML_HIDE: dlsym finds no such
symbol, as on an older driver). Every run must end one
of two ways: the plugin exits 1 with an error line naming the call and
the NVML error, or it serves what it can, with a log line naming the
call and the error unless the answer needs none (NOT_SUPPORTED, a TIMEOUT
of a wait). Never a crash, a sanitizer report, a hang on SIGTERM, or a
tight loop (CPU time while idle). The metrics endpoint is on
(--metrics-address, a unix socket): a plugin that serves answers a
scrape at the end, and a failure its log names (the call and the error)
is counted in gdp_nvml_errors_total under that call and error.

alloc: a dry run of the scenario (start-up, register, ListAndWatch,
Allocate, GetPreferredAllocation, a kubelet restart, an XID, SIGHUP)
counts the allocations the plugin makes (GDP_FAULT_ALLOC=0 reports the
count at exit); then allocation N fails for N = 1..k. Whatever fails,
every call the stand-in started ends with a status (OK, or an error with
a message), the plugin never crashes or leaks (ASan builds), and
registration always comes back: the scenario ends with a successful
Allocate, and a scrape of /metrics that ends with a status or a close
(never a hang), then a whole 200 answer. A failure at start-up may end
the process with exit 1 and a message instead, as a DaemonSet pod then
restarts.

The stand-in, fake NVML and sysfs fixture are those of the plugin tests
(tests/plugin/run-plugin-tests.py, whose Node class this reuses). Prints
"ok - ..." / "not ok - ..." per run and "N passed, M failed" last.
GDP_FAULT_QUICK=1 (set in sanitizer builds) keeps N = 1 and 1+ and the
two errors every call can give, to bound the run time.
"""

import http.client
import importlib.util
import os
import re
import signal
import socket
import sys
import time

MODE = sys.argv[1]
sys.argv = [sys.argv[0]] + sys.argv[2:]  # what run-plugin-tests expects
_spec = importlib.util.spec_from_file_location(
    "plugintests", os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "plugin", "run-plugin-tests.py"))
pt = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(pt)

QUICK = os.environ.get("GDP_FAULT_QUICK") == "1" or pt.SANITIZED
PROFILE = "azure-nd96asr-v4"  # NVLinks, NUMA, MIG-capable: every call
HEALTH_ARGS = ["--health-probe-interval=50ms",
               "--health-recovery-quiet=200ms"]
# Calls made only on the way out: failing them is not a scenario.
NOT_SCENARIO = {"nvmlShutdown", "nvmlEventSetFree", "nvmlErrorString"}
WAITS = {"nvmlEventSetWait", "nvmlEventSetWait_v2"}
SANITIZER = re.compile(r"AddressSanitizer|LeakSanitizer|runtime error:|"
                       r"UndefinedBehaviorSanitizer")


def errors_for(symbol):
    """The NVML errors worth giving |symbol|, most telling first."""
    errs = ["NVML_ERROR_UNKNOWN", "NVML_ERROR_GPU_IS_LOST"]
    if QUICK:
        return errs
    if symbol in WAITS:
        return errs + ["NVML_ERROR_TIMEOUT", "NVML_ERROR_NOT_SUPPORTED"]
    if symbol.startswith("nvmlInit"):
        return errs + ["NVML_ERROR_DRIVER_NOT_LOADED",
                       "NVML_ERROR_NO_PERMISSION"]
    return errs + ["NVML_ERROR_NOT_SUPPORTED", "NVML_ERROR_NO_PERMISSION"]


def cpu_seconds(pid):
    """User + system CPU time of |pid| so far."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def first_uuid():
    return pt.profile_uuids(PROFILE)[0]


def start(node, env, args=None):
    node.fifo = os.path.join(node.tmp, "nvml-control")
    node.env["FAKE_NVML_CONTROL"] = node.fifo
    node.env.update(env)
    node.metrics = os.path.join(node.tmp, "metrics.sock")
    node.start_kubelet()
    return node.start_plugin((HEALTH_ARGS if args is None else args) +
                             ["--metrics-address", node.metrics])


SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$')


def scrape(node, path="/metrics"):
    """(status, body) of a GET on the endpoint, (None, why) when it
    closed without an answer. A hang raises (the socket's timeout)."""
    conn = pt.UnixHTTP(node.metrics)
    conn.timeout = 10
    try:
        conn.request("GET", path)
        resp = conn.getresponse()
        return resp.status, resp.read().decode()
    except (ConnectionError, http.client.RemoteDisconnected,
            http.client.IncompleteRead) as e:
        return None, str(e)
    finally:
        conn.close()


def nvml_errors(text):
    """{(call, error): count} of gdp_nvml_errors_total in a scrape."""
    out = {}
    for line in text.splitlines():
        m = SAMPLE.match(line)
        if m and m.group(1) == "gdp_nvml_errors_total":
            labels = dict(re.findall(r'([a-z]+)="([^"]*)"', m.group(2)))
            key = (family(labels["call"]), labels["error"])
            out[key] = out.get(key, 0) + float(m.group(3))
    return out


def served_or_exited(node, timeout=10):
    """Waits until the plugin registered, went idle, or exited."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if node.plugin.poll() is not None:
            return "exited"
        log = open(node.plugin_log).read()
        if "No devices found" in log:
            return "idle"
        if node.call("GET", "/node")["registrations"] > 0 and \
                "Registered device plugin" in log:
            return "served"
        time.sleep(0.01)
    return "stuck"


def run_nvml(env, observe=0.4):
    """One run of the NVML scenario; returns (outcome, exit, log, cpu,
    tmp, scrape): scrape is (log so far, status, body) of a scrape at
    the end when the plugin served, else None."""
    node = pt.Node(PROFILE)
    scraped = None
    try:
        start(node, env)
        outcome = served_or_exited(node)
        cpu = 0.0
        if outcome in ("served", "idle"):
            if os.path.exists(node.fifo):
                try:
                    pt.inject(node, "xid %s 94" % first_uuid())
                except AssertionError:
                    pass  # the FIFO never opened: NVML init failed
            c0 = cpu_seconds(node.plugin.pid)
            time.sleep(observe)
            cpu = cpu_seconds(node.plugin.pid) - c0
            before = open(node.plugin_log).read()
            try:
                scraped = (before,) + scrape(node)
            except OSError as e:        # the timeout: a hung endpoint
                scraped = (before, None, "no answer: %s" % e)
            rc = node.stop_plugin(signal.SIGTERM, timeout=10)
        else:
            try:
                rc = node.plugin.wait(timeout=10)
            except Exception:  # noqa: BLE001 - reported as a hang
                rc = "hung"
            node.plugin = None
        log = open(node.plugin_log).read()
        return outcome, rc, log, cpu, node.tmp, scraped
    finally:
        node.close()


def dry_run_counts():
    trace = "/tmp/gdp-faultloop-trace.%d" % os.getpid()
    outcome, rc, log, _, _, _ = run_nvml({"FAKE_NVML_TRACE": trace})
    if outcome != "served" or rc != 0:
        raise SystemExit("dry run failed (%s, exit %s): %s" %
                         (outcome, rc, log[-2000:]))
    counts = {}
    with open(trace) as f:
        for line in f:
            sym, n = line.split()
            counts[sym] = int(n)
    os.unlink(trace)
    return counts


def family(symbol):
    """nvmlEventSetWait_v2 -> nvmlEventSetWait: how logs name a call."""
    return re.sub(r"_v[0-9]+$", "", symbol)


def check_nvml(what, symbol, err, result, must_name=True):
    """The verdict on one run, or None when it behaved."""
    outcome, rc, log, cpu, _, scraped = result
    if SANITIZER.search(log):
        return "sanitizer report: %s" % SANITIZER.search(log).group(0)
    if outcome == "stuck" or rc == "hung":
        return "hung (%s, exit %s)" % (outcome, rc)
    if cpu > 0.25:
        return "busy while idle: %.2f s CPU in 0.4 s" % cpu
    named = [ln for ln in log.splitlines()
             if family(symbol) in ln and (err is None or err in ln)]
    if outcome == "exited":
        if rc != 1:
            return "exited %s, not 1" % rc
        if not any(ln.startswith("E") for ln in named):
            return "exit 1 without an error line naming %s%s" % (
                symbol, " and " + err if err else "")
        return None
    if rc != 0:
        return "SIGTERM: exit %s" % rc
    if must_name and not named:
        return "served without a log line naming %s%s" % (
            symbol, " and " + err if err else "")
    return check_scrape(symbol, err, scraped)


def check_scrape(symbol, err, scraped):
    """A serving plugin answers a scrape; a failure its log named
    before the scrape is counted under its call and error."""
    before, status, body = scraped
    if status != 200:
        return "/metrics: %s %s" % (status, body[:200])
    if err is None or (symbol in WAITS and err == "NVML_ERROR_TIMEOUT"):
        return None     # a wait's timeout is no failure: not counted
    said = [ln for ln in before.splitlines()
            if family(symbol) in ln and err in ln]
    counted = nvml_errors(body).get((family(symbol), err), 0)
    if said and counted < 1:
        return "logged %s with %s, not in gdp_nvml_errors_total: %s" % (
            symbol, err, sorted(nvml_errors(body)))
    return None


def needs_no_word(symbol, err):
    """Answers a plugin may rightly take in silence."""
    if err == "NVML_ERROR_NOT_SUPPORTED":
        return True        # "no such feature" is an answer
    if symbol in WAITS and err in ("NVML_ERROR_TIMEOUT",
                                   "NVML_ERROR_GPU_IS_LOST"):
        return True        # a timeout; or "lost" the probe then disproves
    return False


def nvml_loop():
    counts = dry_run_counts()
    runs = []
    for sym in sorted(counts):
        if sym in NOT_SCENARIO:
            continue
        ns = ["1", "1+"] if QUICK else \
            [str(n) for n in range(1, min(counts[sym], 3) + 1)] + ["1+"]
        for n in ns:
            for err in errors_for(sym):
                runs.append(("fail %s call %s with %s" % (sym, n, err),
                             sym, err, {"FAKE_NVML_FAIL": "%s:%s:%s" % (
                                 sym, n, err)}))
    for sym in sorted(counts):
        runs.append(("hide %s" % sym, sym, None, {"FAKE_NVML_HIDE": sym}))
    passed = failed = 0
    for what, sym, err, env in runs:
        result = run_nvml(env)
        must = err is not None and not needs_no_word(sym, err)
        why = check_nvml(what, sym, err, result, must)
        if why is None:
            passed += 1
            print("ok - %s (%s)" % (what, result[0]), flush=True)
        else:
            failed += 1
            print("not ok - %s: %s" % (what, why), flush=True)
            for line in result[2].splitlines()[-8:]:
                print("#   plugin: %s" % line)
    return passed, failed


# ---- allocation failures ------------------------------------------------

ALLOC_PROFILE = "azure-nc24"
COUNT_LINE = re.compile(r"fault injection: (\d+) allocations")


class Refused(Exception):
    """The plugin did something no failure excuses."""


def call_ended(node, path, body):
    """A stand-in call that must end: OK, or an error with a message."""
    try:
        r = node.call("POST", path, body)
    except OSError as e:  # the HTTP timeout: the call never ended
        raise Refused("%s never ended (%s)" % (path, e)) from e
    if not r.get("ok") and r.get("called") and not r.get("message"):
        raise Refused("%s ended with no message: %s" % (path, r))
    return r


def lists(node):
    res = node.resource() or {}
    return res.get("lists_received", 0)


def comes_back(node, what, before):
    """Registration (and a fresh ListAndWatch) after |what|."""
    try:
        node.wait(connected=True, lists_at_least=before + 1,
                  timeout_ms=10000)
    except AssertionError as e:
        raise Refused("not registered again after %s" % what) from e


def sighup_outcome(node):
    """What the SIGHUP came to: a new list, a reload that changed
    nothing the kubelet sees, or an error that kept the old state (the
    reload failed for want of memory: the plugin goes on serving what it
    had, which the last Allocate checks)."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        log = open(node.plugin_log).read()
        after = log[log.rfind("Received SIGHUP"):]
        if "with the new device list" in after:
            return "new list"
        if re.search(r"^E", after, re.M):
            return "kept"
        if "Reload done" in after:
            return "unchanged"
        time.sleep(0.01)
    raise Refused("no word on the SIGHUP within 10 s")


def alloc_scenario(node):
    """Start-up to SIGTERM; returns the plugin's exit code."""
    u = pt.profile_uuids(ALLOC_PROFILE)
    outcome = served_or_exited(node)
    if outcome == "exited":
        return "start-up"
    if outcome != "served":
        raise Refused("start-up: %s" % outcome)
    call_ended(node, "/allocate", {"resource": pt.RESOURCE,
                                   "devices": [u[0], u[1]]})
    call_ended(node, "/allocate-pod", {"resource": pt.RESOURCE, "count": 2})
    call_ended(node, "/preferred", {"resource": pt.RESOURCE,
                                    "available": u, "must_include": [u[3]],
                                    "size": 2})
    before = lists(node)
    node.call("POST", "/restart")
    comes_back(node, "a kubelet restart", before)
    pt.inject(node, "xid %s 94" % u[2])
    before = lists(node)
    node.plugin.send_signal(signal.SIGHUP)
    if sighup_outcome(node) == "new list":
        comes_back(node, "SIGHUP", before)
    # Registration is back when an Allocate works again: the failure
    # may have struck one of these calls too, which then ended with a
    # status, so try for a while.
    deadline = time.monotonic() + 10
    while True:
        final = call_ended(node, "/allocate", {"resource": pt.RESOURCE,
                                               "devices": [u[0]]})
        if final.get("ok"):
            break
        if time.monotonic() > deadline:
            raise Refused("Allocate still fails after 10 s: %s" % final)
        time.sleep(0.05)
    scrape_ends(node)
    return "served"


def scrape_ends(node):
    """A scrape ends (a status, or a close: an allocation for it may be
    the one that fails), and one after it is answered whole."""
    deadline = time.monotonic() + 10
    while True:
        try:
            status, body = scrape(node)
        except OSError as e:
            raise Refused("/metrics never ended (%s)" % e) from e
        if status == 200 and 'gdp_devices{resource="%s"' % pt.RESOURCE \
                in body:
            return      # whole: http.client read all of Content-Length
        if status not in (None, 200, 500):
            raise Refused("/metrics: %s %s" % (status, body[:200]))
        if time.monotonic() > deadline:
            raise Refused("/metrics not answered whole after 10 s: %s %s" %
                          (status, body[-200:]))
        time.sleep(0.05)


def run_alloc(n):
    """One run with allocation |n| failing; returns (verdict, log)."""
    node = pt.Node(ALLOC_PROFILE)
    verdict = None
    try:
        # A slow probe: the health thread then allocates the same way in
        # every run, so that allocation N is the same one each time.
        start(node, {"GDP_FAULT_ALLOC": str(n),
                     "GDP_FAULT_ALLOC_BACKTRACE": "1"},
              ["--health-probe-interval=1h", "--health-recovery-quiet=1h"])
        try:
            how = alloc_scenario(node)
        except Refused as e:
            how, verdict = None, str(e)
        if how == "start-up":
            rc = node.plugin.wait(timeout=10)
            node.plugin = None
        else:
            rc = node.stop_plugin(signal.SIGTERM, timeout=10)
        log = open(node.plugin_log).read()
        if verdict is None:
            verdict = alloc_verdict(how, rc, log)
        return verdict, log
    finally:
        node.close()


def where_it_failed(log):
    """The backtrace the plugin printed where the allocation failed."""
    lines = log.splitlines()
    for i, line in enumerate(lines):
        if "fails here" in line:
            return lines[i:i + 12]
    return []


def alloc_verdict(how, rc, log):
    """None when the run behaved, else what was wrong."""
    if SANITIZER.search(log):
        return "sanitizer report: %s" % SANITIZER.search(log).group(0)
    if how == "start-up":
        low = log.lower()
        if rc != 1 or ("out of memory" not in low and
                       "cannot allocate memory" not in low):
            return "start-up ended with exit %s, not 1 naming memory" % rc
        return None
    if rc != 0:
        return "SIGTERM: exit %s" % rc
    return None


def alloc_loop():
    verdict, log = run_alloc(0)
    m = COUNT_LINE.search(log)
    if verdict is not None or m is None:
        raise SystemExit("dry run failed (%s): %s" % (verdict, log[-2000:]))
    total = int(m.group(1))
    passed = failed = 0
    for n in range(1, total + 1):
        verdict, log = run_alloc(n)
        if verdict is None:
            passed += 1
            print("ok - allocation %d of %d fails" % (n, total), flush=True)
            continue
        failed += 1
        print("not ok - allocation %d of %d fails: %s" % (n, total, verdict),
              flush=True)
        for line in where_it_failed(log) + log.splitlines()[-8:]:
            print("#   plugin: %s" % line)
    return passed, failed


def main():
    if MODE == "nvml":
        passed, failed = nvml_loop()
    elif MODE == "alloc":
        passed, failed = alloc_loop()
    else:
        raise SystemExit("faultloop.py: unknown mode %r" % MODE)
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
