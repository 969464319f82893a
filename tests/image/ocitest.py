"""ocitest.py: what the two image tests share (tests/image/image-test.py,
the plugin's image; tests/validate/validate-image-test.py, the validation
Job's): TAP-style checks, the tools the daemonless build needs, the
Containerfile read back and compared with the built image's config, the
size check, and the docker-archive unpacked as a node would pull it.
Each test imports it with its own directory on sys.path."""

import json
import os
import shutil
import subprocess
import sys

# A sanitizer build carries its runtime: the size is printed, not held
# to the target, and the sanitizers' options go into the chroot.
SANITIZED = os.environ.get("GDP_SANITIZED") == "1"
FAILED = []


def skip(why):
    print("SKIP: " + why)
    sys.exit(77)


def check(name, ok, why=""):
    print(("ok - " if ok else "not ok - ") + name +
          ("" if ok else ": " + why))
    if not ok:
        FAILED.append(name)
    return ok


def preflight():
    for tool in ("umoci", "skopeo", "unshare", "chroot", "strip"):
        if shutil.which(tool) is None:
            skip(tool + " not found (scripts/install-deps.sh installs it)")
    if os.geteuid() != 0:
        skip("needs root for chroot and namespaces")


def containerfile(path):
    """The final stage's instructions, continuation lines joined:
    {"ENV": [...], "LABEL": [...], ...}, each a list of their texts."""
    with open(path) as f:
        text = f.read().replace("\\\n", " ")
    stage = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        word, _, rest = line.partition(" ")
        if word.upper() == "FROM":
            stage = {}
        stage.setdefault(word.upper(), []).append(rest.strip())
    return stage


def check_containerfile(path, cfg):
    """The Containerfile at |path| gives the image config |cfg| has."""
    stage = containerfile(path)
    env = set(" ".join(stage.get("ENV", [])).split())
    labels = {kv.split("=", 1)[0] for kv in
              " ".join(stage.get("LABEL", [])).split() if "=" in kv}
    check("Containerfile: same environment",
          set(cfg.get("Env", [])) == env, "%s vs %s" % (env, cfg["Env"]))
    check("Containerfile: same label names",
          set(cfg.get("Labels", {})) == labels,
          "%s vs %s" % (labels, sorted(cfg.get("Labels", {}))))
    check("Containerfile: same entry point and user",
          stage.get("ENTRYPOINT") == [json.dumps(cfg["Entrypoint"])]
          and stage.get("USER") == [cfg.get("User")], repr(stage))


def check_size(out, limit, what):
    """size.txt of build output |out| against |limit| compressed bytes."""
    sizes = dict(line.strip().split("=") for line in
                 open(os.path.join(out, "size.txt")))
    comp = int(sizes["compressed"])
    print("# image size: %d bytes compressed, %s uncompressed" %
          (comp, sizes["uncompressed"]))
    if SANITIZED:
        print("# sanitizer build: size target not checked")
        return
    check("compressed size <= " + what, comp <= limit,
          "%d bytes, %d over" % (comp, comp - limit))


def unpack(tar, workdir):
    """Back from the docker-archive, as a node would pull it: the root
    file system's path and the OCI runtime config's process."""
    layout = os.path.join(workdir, "pulled")
    bundle = os.path.join(workdir, "bundle")
    subprocess.run(["skopeo", "--insecure-policy", "copy", "-q",
                    "docker-archive:" + tar, "oci:" + layout + ":t"],
                   check=True)
    subprocess.run(["umoci", "unpack", "--image", layout + ":t", bundle],
                   check=True, stdout=subprocess.DEVNULL)
    with open(os.path.join(bundle, "config.json")) as f:
        process = json.load(f)["process"]
    return os.path.join(bundle, "rootfs"), process
