#!/usr/bin/python3
# The grpc core (Python grpcio) interop peer for our gRPC layer.
#
#   peer.py client-suite --socket PATH --proto PROTO
#       runs the conformance suite against our grpc-testserver on PATH;
#   peer.py server --socket PATH --proto PROTO [--dir DIR]
#       serves a kubelet-like v1beta1.Registration on PATH for our
#       grpc-testclient (DIR: where plugin sockets are dialed back; default
#       the directory of PATH).
#
# Why: grpc core is one of the two independent gRPC stacks we test against
# (see ../README.md). Run it with Debian's /usr/bin/python3, which sees
# python3-grpcio, python3-grpc-tools and python3-protobuf. The stubs are
# generated from PROTO at run time (protostubs.py).

import argparse
import os
import sys

# Nothing of this peer is cached as bytecode next to the sources.
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import protostubs  # noqa: E402  (needs the path set above)


def main(argv=None):
    parser = argparse.ArgumentParser(
        description="grpc core interop peer for the device plugin API")
    commands = parser.add_subparsers(dest="command", required=True)

    suite = commands.add_parser(
        "client-suite", help="run the conformance suite against a server")
    suite.add_argument("--socket", required=True,
                       help="unix socket of grpc-testserver")
    suite.add_argument("--proto", required=True,
                       help="path of deviceplugin.proto")

    server = commands.add_parser(
        "server", help="serve a kubelet-like v1beta1.Registration")
    server.add_argument("--socket", required=True,
                        help="unix socket to listen on (kubelet.sock)")
    server.add_argument("--proto", required=True,
                        help="path of deviceplugin.proto")
    server.add_argument("--dir", default=None,
                        help="directory of the plugin sockets to dial back")

    args = parser.parse_args(argv)
    try:
        messages, services = protostubs.load(args.proto)
    except protostubs.StubError as err:
        print("peer.py: %s" % err, file=sys.stderr)
        return 2

    if args.command == "client-suite":
        import client_suite
        ok = client_suite.Suite(os.path.abspath(args.socket), messages,
                                services).run()
        return 0 if ok else 1

    import kubelet_server
    plugin_dir = os.path.abspath(args.dir) if args.dir else None
    return kubelet_server.serve(args.socket, messages, services, plugin_dir)


if __name__ == "__main__":
    sys.exit(main())
