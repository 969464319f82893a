# The peers' server role: a kubelet-like v1beta1.Registration server on
# grpc core (Python grpcio), which our C test client (grpc-testclient)
# calls. Contract: ../README.md, "Contract of the peers' server role".
#
# Why: our client must interoperate with a gRPC server that is not ours.
# Register behaves like the kubelet's (version check with the kubelet's
# exact message, then a blocking dial-back to the plugin's socket with
# :authority "localhost" and a GetDevicePluginOptions call), and two test
# resource names make it fail with a chosen code and a non-ASCII message,
# or answer late, to exercise status decoding and client deadlines.

import os
import signal
import sys
import threading
import time
from concurrent import futures

import grpc

SUPPORTED_VERSION = "v1beta1"
STATUS_PREFIX = "status.example.com/"
SLEEP_PREFIX = "sleep.example.com/"
FAILURE_MESSAGE = "requested failure: ünïcödé 100% ✓"
DIAL_TIMEOUT_S = 10.0
OPTIONS_TIMEOUT_S = 10.0


def status_code(number):
    for code in grpc.StatusCode:
        if code.value[0] == number:
            return code
    return grpc.StatusCode.UNKNOWN


class Registration(grpc.GenericRpcHandler):
    """Answers /v1beta1.Registration/Register; everything else is unknown."""

    def __init__(self, messages, services, plugin_dir, stopping):
        self.pb = messages
        self.services = services
        self.plugin_dir = plugin_dir
        self.stopping = stopping
        self.handler = grpc.unary_unary_rpc_method_handler(
            self.register,
            request_deserializer=messages.RegisterRequest.FromString,
            response_serializer=messages.Empty.SerializeToString)

    def service(self, handler_call_details):
        if handler_call_details.method == "/v1beta1.Registration/Register":
            return self.handler
        return None

    def register(self, request, context):
        name = request.resource_name
        if name.startswith(STATUS_PREFIX):
            code = status_code(int(name[len(STATUS_PREFIX):]))
            if code != grpc.StatusCode.OK:
                context.abort(code, FAILURE_MESSAGE)
            return self.pb.Empty()
        if name.startswith(SLEEP_PREFIX):
            seconds = int(name[len(SLEEP_PREFIX):]) / 1000.0
            # Wake early if the caller went away or we are shutting down.
            limit = time.monotonic() + seconds
            while context.is_active() and not self.stopping.is_set():
                left = limit - time.monotonic()
                if left <= 0:
                    break
                self.stopping.wait(min(left, 0.05))
            return self.pb.Empty()
        return self.register_like_kubelet(request, context)

    def register_like_kubelet(self, request, context):
        if request.version != SUPPORTED_VERSION:
            # The kubelet formats this with Go's %q on the version and on
            # its []string of supported versions; grpc-go sends a plain
            # error as UNKNOWN.
            context.abort(
                grpc.StatusCode.UNKNOWN,
                'requested API version "%s" is not supported by kubelet. '
                'Supported version is ["%s"]'
                % (request.version, SUPPORTED_VERSION))
        path = os.path.join(self.plugin_dir, request.endpoint)
        channel = grpc.insecure_channel(
            "unix://" + path,
            options=[("grpc.default_authority", "localhost")])
        try:
            try:
                grpc.channel_ready_future(channel).result(
                    timeout=DIAL_TIMEOUT_S)
            except grpc.FutureTimeoutError:
                context.abort(
                    grpc.StatusCode.DEADLINE_EXCEEDED,
                    "dial back to %s: not ready within %.0f s"
                    % (path, DIAL_TIMEOUT_S))
            stub = self.services.DevicePluginStub(channel)
            try:
                stub.GetDevicePluginOptions(self.pb.Empty(),
                                            timeout=OPTIONS_TIMEOUT_S)
            except grpc.RpcError as err:
                context.abort(err.code(),
                              "GetDevicePluginOptions on %s: %s"
                              % (path, err.details()))
        finally:
            channel.close()
        return self.pb.Empty()


def serve(socket_path, messages, services, plugin_dir=None):
    """Serve until SIGTERM or SIGINT; return the process exit status."""
    socket_path = os.path.abspath(socket_path)
    if plugin_dir is None:
        plugin_dir = os.path.dirname(socket_path)
    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    signal.signal(signal.SIGINT, lambda *_: stopping.set())

    if os.path.exists(socket_path):
        os.unlink(socket_path)
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=16))
    server.add_generic_rpc_handlers(
        (Registration(messages, services, plugin_dir, stopping),))
    if server.add_insecure_port("unix://" + socket_path) == 0:
        print("cannot listen on %s" % socket_path, file=sys.stderr)
        return 1
    server.start()
    print("ready", flush=True)
    # A timed wait, so that the signal handler gets to run promptly.
    while not stopping.wait(0.2):
        pass
    server.stop(grace=1.0).wait(5)
    if os.path.exists(socket_path):
        os.unlink(socket_path)
    return 0
