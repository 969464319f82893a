#!/usr/bin/python3
"""rules-test.py: the chart's Prometheus rules
(deploy/helm/gpu-device-plugin/files/gpu-device-plugin-rules.yaml), checked
with the real promtool (Debian's prometheus package): `promtool check
rules` (syntax, PromQL), `promtool test rules` on its test file (made-up
series; the recorded values and the alerts that fire), and that
docs/observability.md's example queries are the rules' expressions: each
```promql block of the page is one rule's expr, and every recording
rule's expr is on the page, so the page and the file cannot drift.

Usage: rules-test.py SOURCE_ROOT. Exits 77 (skipped) without promtool.
"""

import os
import re
import shutil
import subprocess
import sys

import yaml


def squash(q):
    return re.sub(r"\s+", "", q)


def main():
    root = sys.argv[1]
    promtool = shutil.which("promtool")
    if not promtool:
        print("SKIP: promtool not found (scripts/install-deps.sh installs "
              "Debian's prometheus package)")
        return 77
    d = os.path.join(root, "deploy", "prometheus")
    rules = os.path.join(root, "deploy", "helm", "gpu-device-plugin",
                         "files", "gpu-device-plugin-rules.yaml")
    failures = 0
    for args in (["check", "rules", rules],
                 ["test", "rules", "gpu-device-plugin-rules.test.yaml"]):
        r = subprocess.run([promtool] + args, cwd=d, capture_output=True,
                           text=True, timeout=60)
        if r.returncode == 0:
            print("ok - promtool %s" % " ".join(args[:2]))
        else:
            print("not ok - promtool %s: %s%s" % (" ".join(args[:2]),
                                                  r.stdout, r.stderr))
            failures += 1
    with open(rules) as f:
        groups = yaml.safe_load(f)["groups"]
    exprs = {squash(r["expr"]): r for g in groups for r in g["rules"]}
    with open(os.path.join(root, "docs", "observability.md")) as f:
        doc = f.read()
    blocks = [squash(b) for b in
              re.findall(r"```promql\n(.*?)```", doc, re.S)]
    bad = [b for b in blocks if b not in exprs]
    if blocks and not bad:
        print("ok - each of the page's %d promql blocks is a rule" %
              len(blocks))
    else:
        print("not ok - promql blocks of docs/observability.md that are "
              "no rule's expr: %s" % (bad or "none found"))
        failures += 1
    missing = [r["record"] for e, r in exprs.items()
               if "record" in r and e not in blocks]
    if missing:
        print("not ok - recording rules not on the page: %s" % missing)
        failures += 1
    else:
        print("ok - every recording rule's expr is on the page")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
