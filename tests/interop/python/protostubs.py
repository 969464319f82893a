# Generates the Python message and service stubs for the device plugin API
# from the project's .proto at run time, and imports them.
#
# Why: the stubs must always match proto/deviceplugin.proto exactly, and
# generated code must never be written into the source tree. So protoc
# (Debian's python3-grpc-tools) writes them into a private temporary
# directory, we import them from there, and the directory is removed again;
# the imported modules stay usable because they live in memory.

import importlib
import os
import shutil
import subprocess
import sys
import tempfile


class StubError(RuntimeError):
    """Raised when the stubs cannot be generated or imported."""


def load(proto_path):
    """Return (messages_module, services_module) generated from proto_path."""
    proto_path = os.path.abspath(proto_path)
    if not os.path.isfile(proto_path):
        raise StubError("proto file not found: %s" % proto_path)
    proto_dir, proto_file = os.path.split(proto_path)
    base = os.path.splitext(proto_file)[0]
    out_dir = tempfile.mkdtemp(prefix="dp-pystubs-")
    try:
        cmd = [
            sys.executable, "-m", "grpc_tools.protoc",
            "-I" + proto_dir,
            "--python_out=" + out_dir,
            "--grpc_python_out=" + out_dir,
            proto_path,
        ]
        result = subprocess.run(cmd, capture_output=True, text=True,
                                timeout=120, check=False)
        if result.returncode != 0:
            raise StubError("protoc failed (%d): %s"
                            % (result.returncode, result.stderr.strip()))
        # Keep the generated modules' bytecode out of everything but the
        # temporary directory, then import them from there.
        previous = sys.dont_write_bytecode
        sys.dont_write_bytecode = True
        sys.path.insert(0, out_dir)
        try:
            messages = importlib.import_module(base + "_pb2")
            services = importlib.import_module(base + "_pb2_grpc")
        finally:
            sys.path.remove(out_dir)
            sys.dont_write_bytecode = previous
        return messages, services
    finally:
        shutil.rmtree(out_dir, ignore_errors=True)
