# The conformance suite that a grpc core (Python grpcio) client runs against
# our C test server, grpc-testserver (contract: ../README.md).
#
# Why: grpc core is an HTTP/2 + gRPC stack written independently of ours and
# of grpc-go, with its own header order, flow-control windows and authority
# rules (see shared/reference/deviceplugin-api.md section 4.2). Every case
# drives one behaviour of the contract through it and prints a TAP-like
# line, "ok - <name>" or "not ok - <name>: <reason>"; lines starting with
# "#" are diagnostics. The last line is "N passed, M failed".

import os
import queue
import select
import signal
import subprocess
import sys
import threading
import time

import grpc

SERVICE = "v1beta1.DevicePlugin"
LIST_AND_WATCH = "/%s/ListAndWatch" % SERVICE
MIB = 1024 * 1024
# grpc core's default limit on a received message (the kubelet's too).
DEFAULT_MAX_RECEIVE = 4 * MIB

# The child process of the "client vanishes" case: it opens ListAndWatch
# on its own connection, says so after the first message, then idles until
# it is killed. It speaks raw bytes so that it needs no generated stubs.
VANISHING_CLIENT = """
import sys, time, grpc
channel = grpc.insecure_channel(
    "unix://" + sys.argv[1], options=[("grpc.default_authority", "localhost")])
call = channel.unary_stream(sys.argv[2])(b"")
next(call)
print("first message", flush=True)
time.sleep(120)
"""


class CaseFailure(Exception):
    """A check inside a case did not hold; the text says what and why."""


def expect(condition, reason):
    if not condition:
        raise CaseFailure(reason)


def expect_rpc_error(call, code):
    """Run call(); it must fail with the grpc status code; return the error."""
    try:
        call()
    except grpc.RpcError as err:
        expect(err.code() == code,
               "expected %s, got %s (%r)" % (code.name, err.code().name,
                                             err.details()))
        return err
    raise CaseFailure("expected %s, got OK" % code.name)


class StreamReader:
    """Reads a server-streaming call on a thread, only as far as allowed.

    The thread calls next() on the call only when it holds a credit, so a
    test can stop reading (the messages then pile up in grpc core and, once
    its window is full, in the server) and resume later.
    """

    def __init__(self, call):
        self.call = call
        self.items = queue.Queue()
        self._credit = threading.Semaphore(0)
        self._unlimited = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def allow(self, count=1):
        for _ in range(count):
            self._credit.release()

    def allow_all(self):
        self._unlimited.set()
        self._credit.release()

    def close(self):
        self.call.cancel()
        self.allow_all()

    def _run(self):
        try:
            while True:
                if not self._unlimited.is_set():
                    self._credit.acquire()
                self.items.put(("message", next(self.call)))
        except StopIteration:
            self.items.put(("end", self.call.code(), self.call.details()))
        except grpc.RpcError as err:
            self.items.put(("error", err.code(), err.details()))

    def next_item(self, timeout, what):
        try:
            return self.items.get(timeout=timeout)
        except queue.Empty:
            raise CaseFailure("no %s within %.1f s"
                              % (what, timeout)) from None

    def next_message(self, timeout, what="stream message"):
        item = self.next_item(timeout, what)
        if item[0] != "message":
            raise CaseFailure("expected %s, got %s" % (what, describe(item)))
        return item[1]


def describe(item):
    """Text for an item of StreamReader.items."""
    if item[0] == "message":
        ids = [device.ID for device in item[1].devices]
        return "a message with devices %r" % ids
    return "%s with status %s (%r)" % (
        "the end" if item[0] == "end" else "an error", item[1].name, item[2])


def gen_number(response):
    """The n of the gen-<n> device in a ListAndWatch message, or None."""
    for device in response.devices:
        if device.ID.startswith("gen-"):
            return int(device.ID[4:])
    return None


class Suite:
    def __init__(self, socket_path, messages, services):
        self.path = socket_path
        self.pb = messages
        self.services = services
        self.passed = 0
        self.failed = 0
        self.channel = self.new_channel()
        self.stub = services.DevicePluginStub(self.channel)

    # ----- helpers -----

    def new_channel(self, authority="localhost", extra_options=()):
        options = [("grpc.default_authority", authority)]
        options.extend(extra_options)
        return grpc.insecure_channel("unix://" + self.path, options=options)

    def allocate_request(self, containers):
        request = self.pb.AllocateRequest()
        for ids in containers:
            request.container_requests.add(devices_ids=ids)
        return request

    def allocate(self, containers, timeout=10.0, stub=None):
        stub = stub or self.stub
        return stub.Allocate(self.allocate_request(containers),
                             timeout=timeout)

    def command(self, text, timeout=10.0):
        """Send a test-server command (the first device id of Allocate)."""
        return self.allocate([[text]], timeout=timeout)

    def stats(self):
        response = self.command("stats")
        expect(len(response.container_responses) >= 1,
               "stats: no container response")
        values = {}
        for key, value in response.container_responses[0].envs.items():
            if value.isdigit():
                values[key] = int(value)
        for key in ("conns_open", "streams_open", "streams_closed_by_peer",
                    "deadline_cancelled", "max_queued_bytes", "rss_kb"):
            expect(key in values, "stats: counter %r missing" % key)
        return values

    def wait_stats(self, predicate, seconds):
        """Poll stats until predicate(stats) holds; return the last stats."""
        limit = time.monotonic() + seconds
        while True:
            values = self.stats()
            if predicate(values) or time.monotonic() >= limit:
                return values
            time.sleep(0.05)

    def check_devices_env(self, response, containers):
        expect(len(response.container_responses) == len(containers),
               "expected %d container responses, got %d"
               % (len(containers), len(response.container_responses)))
        for index, ids in enumerate(containers):
            envs = response.container_responses[index].envs
            want = ",".join(ids)
            got = envs.get("DEVICES")
            expect(got == want, "container %d: DEVICES %r, expected %r"
                   % (index, got, want))

    def run_case(self, name, function):
        try:
            function()
        except CaseFailure as failure:
            self.report(name, str(failure))
        except grpc.RpcError as err:
            self.report(name, "unexpected RPC error %s: %r"
                        % (err.code().name, err.details()))
        except Exception as err:  # a broken case must not stop the suite
            self.report(name, "%s: %s" % (type(err).__name__, err))
        else:
            self.report(name, None)

    def report(self, name, reason):
        if reason is None:
            self.passed += 1
            print("ok - %s" % name, flush=True)
        else:
            self.failed += 1
            reason = reason.replace("\n", "\\n")
            print("not ok - %s: %s" % (name, reason), flush=True)

    # ----- cases -----

    def case_connect(self):
        try:
            grpc.channel_ready_future(self.channel).result(timeout=10)
        except grpc.FutureTimeoutError:
            raise CaseFailure("channel not ready within 10 s") from None

    def case_options(self):
        response = self.stub.GetDevicePluginOptions(self.pb.Empty(),
                                                    timeout=5)
        expect(response.pre_start_required is False,
               "pre_start_required is %r" % response.pre_start_required)
        expect(response.get_preferred_allocation_available is True,
               "get_preferred_allocation_available is %r"
               % response.get_preferred_allocation_available)

    def case_prestart(self):
        # Raw bytes both ways: the answer must be an empty message, and a
        # deserializer would hide stray bytes.
        method = self.channel.unary_unary("/%s/PreStartContainer" % SERVICE)
        request = self.pb.PreStartContainerRequest(devices_ids=["dev-0"])
        answer = method(request.SerializeToString(), timeout=5)
        expect(answer == b"", "response is %r, expected empty" % answer[:64])

    def case_preferred(self):
        request = self.pb.PreferredAllocationRequest()
        cases = [
            (["d0", "d1", "d2", "d3", "d4"], ["d3", "d1"], 4,
             ["d3", "d1", "d0", "d2"]),
            (["a", "b", "c"], [], 2, ["a", "b"]),
            (["x", "y"], ["y"], 1, ["y"]),
        ]
        for available, must, size, _ in cases:
            request.container_requests.add(available_deviceIDs=available,
                                           must_include_deviceIDs=must,
                                           allocation_size=size)
        response = self.stub.GetPreferredAllocation(request, timeout=5)
        expect(len(response.container_responses) == len(cases),
               "expected %d container responses, got %d"
               % (len(cases), len(response.container_responses)))
        for index, case in enumerate(cases):
            got = list(response.container_responses[index].deviceIDs)
            expect(got == case[3], "container %d: %r, expected %r"
                   % (index, got, case[3]))

    def case_allocate_two(self):
        containers = [["dev-0", "dev-1"], ["dev-2"]]
        response = self.allocate(containers)
        self.check_devices_env(response, containers)

    def case_error_status(self):
        message = "grüße ✓ 100% sûr\nzweite Zeile"
        err = expect_rpc_error(
            lambda: self.command("status:9:" + message),
            grpc.StatusCode.FAILED_PRECONDITION)
        expect(err.details() == message, "message %r, expected %r"
               % (err.details(), message))

    def case_unknown_method(self):
        method = self.channel.unary_unary("/%s/Nope" % SERVICE)
        err = expect_rpc_error(lambda: method(b"", timeout=5),
                               grpc.StatusCode.UNIMPLEMENTED)
        expect("Nope" in (err.details() or ""),
               "message %r does not name the method" % err.details())

    def case_unknown_service(self):
        method = self.channel.unary_unary("/v1beta1.Nope/X")
        err = expect_rpc_error(lambda: method(b"", timeout=5),
                               grpc.StatusCode.UNIMPLEMENTED)
        expect("v1beta1.Nope" in (err.details() or ""),
               "message %r does not name the service" % err.details())

    def check_initial_list(self, response):
        ids = [device.ID for device in response.devices]
        expect(ids == ["dev-0", "dev-1"], "initial devices %r" % ids)
        for device in response.devices:
            expect(device.health == "Healthy",
                   "%s health %r" % (device.ID, device.health))
        nodes = [node.ID for node in response.devices[0].topology.nodes]
        expect(nodes == [0], "dev-0 NUMA nodes %r, expected [0]" % nodes)

    def case_list_and_watch(self):
        reader = StreamReader(self.stub.ListAndWatch(self.pb.Empty(),
                                                     timeout=30))
        try:
            reader.allow(1)
            self.check_initial_list(reader.next_message(5, "initial list"))
            self.command("push:3")
            reader.allow(3)
            for n in (1, 2, 3):
                response = reader.next_message(5, "message gen-%d" % n)
                ids = [device.ID for device in response.devices]
                expect(ids == ["dev-0", "dev-1", "gen-%d" % n],
                       "message %d: devices %r" % (n, ids))
            self.command("end:0")
            reader.allow(1)
            item = reader.next_item(5, "end of stream")
            expect(item[0] == "end" and item[1] == grpc.StatusCode.OK,
                   "expected the stream to end with OK, got %s"
                   % describe(item))
        finally:
            reader.close()

    def case_concurrent(self):
        calls = []
        for i in range(200):
            if i % 2 == 0:
                containers = [["sleep:50", "c%d-a" % i], ["c%d-b" % i]]
            else:
                containers = [["c%d-a" % i, "c%d-x" % i], ["c%d-b" % i]]
            future = self.stub.Allocate.future(
                self.allocate_request(containers), timeout=30)
            calls.append((containers, future))
        bad = []
        for containers, future in calls:
            try:
                self.check_devices_env(future.result(), containers)
            except CaseFailure as failure:
                bad.append("%s: %s" % (containers[1][0], failure))
            except grpc.RpcError as err:
                bad.append("%s: %s %r" % (containers[1][0], err.code().name,
                                          err.details()))
        expect(not bad, "%d of 200 calls wrong, first: %s"
               % (len(bad), bad[0] if bad else ""))
        # A sleeping call must not hold the loop: the server counts the
        # sleeps it holds at once (no timing, which a loaded machine skews).
        peak = self.stats().get("sleepers_peak", 0)
        expect(peak >= 2, "at most %d sleep at once: sleeps did not overlap"
               % peak)

    def sized_request(self, size):
        """An Allocate request whose encoding is exactly size bytes."""
        length = size - 16
        for _ in range(8):
            request = self.allocate_request([["x" * length]])
            encoded = request.ByteSize()
            if encoded == size:
                return request
            length += size - encoded
        raise CaseFailure("could not build a %d-byte request" % size)

    def case_size_under(self):
        request = self.sized_request(4 * MIB - 64)
        # The answer echoes the id; raise the receive limit only if the
        # answer itself would exceed grpc core's default.
        expected = self.pb.AllocateResponse()
        expected.container_responses.add().envs["DEVICES"] = (
            request.container_requests[0].devices_ids[0])
        stub = self.stub
        channel = None
        if expected.ByteSize() > DEFAULT_MAX_RECEIVE:
            channel = self.new_channel(extra_options=[
                ("grpc.max_receive_message_length", 8 * MIB)])
            stub = self.services.DevicePluginStub(channel)
        try:
            response = stub.Allocate(request, timeout=20)
        finally:
            if channel is not None:
                channel.close()
        got = response.container_responses[0].envs.get("DEVICES", "")
        expect(got == request.container_requests[0].devices_ids[0],
               "DEVICES of %d bytes, expected %d"
               % (len(got), len(request.container_requests[0].devices_ids[0])))

    def case_size_over(self):
        request = self.sized_request(4 * MIB + 64)
        expect_rpc_error(lambda: self.stub.Allocate(request, timeout=20),
                         grpc.StatusCode.RESOURCE_EXHAUSTED)

    def case_size_response(self):
        response = self.command("size:4000000", timeout=20)
        envs = response.container_responses[0].envs
        pad = envs.get("PAD", "")
        expect(len(pad) == 4000000 and pad == "x" * 4000000,
               "PAD of %d bytes, expected 4000000 x" % len(pad))
        expect(envs.get("DEVICES") == "size:4000000",
               "DEVICES %r" % envs.get("DEVICES"))

    def case_client_vanishes(self):
        before = self.stats()
        child = subprocess.Popen(
            [sys.executable, "-c", VANISHING_CLIENT, self.path,
             LIST_AND_WATCH],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        try:
            ready, _, _ = select.select([child.stdout], [], [], 10)
            line = child.stdout.readline() if ready else b""
            expect(line.strip() == b"first message",
                   "child did not receive the first message in 10 s")
            during = self.stats()
            expect(during["streams_open"] == before["streams_open"] + 1,
                   "streams_open %d with the child's stream open, was %d"
                   % (during["streams_open"], before["streams_open"]))
            expect(during["conns_open"] == before["conns_open"] + 1,
                   "conns_open %d with the child connected, was %d"
                   % (during["conns_open"], before["conns_open"]))
            os.kill(child.pid, signal.SIGKILL)
            child.wait(5)

            def settled(values):
                return (values["streams_open"] == before["streams_open"]
                        and values["conns_open"] == before["conns_open"]
                        and values["streams_closed_by_peer"]
                        > before["streams_closed_by_peer"])

            after = self.wait_stats(settled, 10.0)
            expect(settled(after),
                   "10 s after SIGKILL: streams_open %d (want %d), conns_open "
                   "%d (want %d), streams_closed_by_peer %d (want > %d)"
                   % (after["streams_open"], before["streams_open"],
                      after["conns_open"], before["conns_open"],
                      after["streams_closed_by_peer"],
                      before["streams_closed_by_peer"]))
        finally:
            if child.poll() is None:
                child.kill()
                child.wait(5)
            child.stdout.close()

    def case_slow_reader(self):
        # The reader gets its own connection with no BDP probing and a
        # small window (lookahead_bytes). With grpc core 1.51.1 that
        # connection announces INITIAL_WINDOW_SIZE 16384 and no connection
        # WINDOW_UPDATE, and a stopped reader holds about one flood message
        # in grpc core: the server's HTTP/2 flow control does engage, and
        # its per-stream queue must hold or refuse the rest of the flood.
        # (Were a grpc core version to buffer much more itself, the bounds
        # below would still be checked, only less severely.)
        slow_channel = self.new_channel(extra_options=[
            ("grpc.http2.bdp_probe", 0),
            ("grpc.http2.lookahead_bytes", 16384),
            ("grpc.use_local_subchannel_pool", 1),
        ])
        slow_stub = self.services.DevicePluginStub(slow_channel)
        before = self.stats()
        reader = StreamReader(slow_stub.ListAndWatch(self.pb.Empty(),
                                                     timeout=60))
        flooding = False
        try:
            reader.allow(1)
            self.check_initial_list(reader.next_message(5, "initial list"))
            self.command("flood:65536")
            flooding = True
            peak_queued = 0
            worst = 0.0
            started = time.monotonic()
            while time.monotonic() - started < 1.0:
                call_start = time.monotonic()
                try:
                    # The flood runs until flood:0: an answer at all shows
                    # the loop serves other calls; a loaded machine is
                    # slow, not stalled, hence the generous deadline.
                    self.stub.GetDevicePluginOptions(self.pb.Empty(),
                                                     timeout=10.0)
                except grpc.RpcError as err:
                    raise CaseFailure("unary call during the flood failed: "
                                      "%s %r" % (err.code().name,
                                                 err.details())) from None
                worst = max(worst, time.monotonic() - call_start)
                peak_queued = max(peak_queued, self.stats()["queued_bytes"])
                time.sleep(0.1)
            self.command("flood:0")
            flooding = False
            after = self.stats()
            print("# slow reader: peak queued_bytes %d, max_queued_bytes %d,"
                  " rss_kb %d -> %d, slowest unary call %.3f s"
                  % (peak_queued, after["max_queued_bytes"],
                     before["rss_kb"], after["rss_kb"], worst), flush=True)
            expect(after["max_queued_bytes"] <= 16 * MIB,
                   "max_queued_bytes %d > 16 MiB" % after["max_queued_bytes"])
            growth = after["rss_kb"] - before["rss_kb"]
            expect(growth <= 64 * 1024,
                   "rss grew by %d KiB (> 64 MiB)" % growth)

            # Resume: drain what is buffered, then a marker (push:1 sends an
            # unpadded message) shows the end of what the server sent.
            reader.allow_all()
            received = []
            idle_limit = time.monotonic() + 30
            while time.monotonic() < idle_limit:
                try:
                    item = reader.items.get(timeout=0.3)
                except queue.Empty:
                    break
                if item[0] != "message":
                    raise CaseFailure("stream ended early with %s"
                                      % describe(item))
                received.append(item[1])
            self.command("push:1")
            while True:
                response = reader.next_message(10, "push marker")
                received.append(response)
                if response.devices[-1].health == "Healthy":
                    break
            self.command("end:0")
            item = reader.next_item(10, "end of stream")
            expect(item[0] == "end" and item[1] == grpc.StatusCode.OK,
                   "expected the stream to end with OK, got %s"
                   % describe(item))
            gens = [gen_number(response) for response in received]
            expect(None not in gens, "a message without a gen-<n> device")
            flood_count = len(gens) - 1
            print("# slow reader: %d flood messages delivered after resuming"
                  % flood_count, flush=True)
            expect(flood_count >= 1, "no flood message arrived")
            for earlier, later in zip(gens, gens[1:]):
                expect(later > earlier, "gen-%d came after gen-%d"
                       % (later, earlier))
        finally:
            if flooding:
                self.command("flood:0")
            reader.close()
            slow_channel.close()

    def case_deadline(self):
        before = self.stats()
        # Whichever side's timer fires first ends the call, and either way
        # it is DEADLINE_EXCEEDED: the client's own, or ours (armed from
        # grpc-timeout when the request arrived), which sends trailers with
        # grpc-status 4 before any RST_STREAM.
        try:
            self.command("sleep:60000", timeout=0.1)
            raise CaseFailure("expected DEADLINE_EXCEEDED, got OK")
        except grpc.RpcError as err:
            expect(err.code() == grpc.StatusCode.DEADLINE_EXCEEDED,
                   "expected DEADLINE_EXCEEDED, got %s (%r)"
                   % (err.code().name, err.details()))
        # The server ended the 60 s sleep at its deadline: it counts it,
        # and lets the sleeper go (no wall-clock bound, which load skews).
        after = self.wait_stats(
            lambda values: values["deadline_cancelled"]
            > before["deadline_cancelled"] and values["sleepers"] == 0, 20.0)
        expect(after["deadline_cancelled"] > before["deadline_cancelled"],
               "deadline_cancelled still %d after 20 s"
               % after["deadline_cancelled"])
        expect(after["sleepers"] == 0,
               "%d sleep calls still held after the deadline"
               % after["sleepers"])

    def authority_case(self, authority):
        channel = self.new_channel(authority=authority)
        try:
            stub = self.services.DevicePluginStub(channel)
            response = stub.GetDevicePluginOptions(self.pb.Empty(), timeout=5)
            expect(response.get_preferred_allocation_available,
                   "wrong options %r" % response)
        finally:
            channel.close()

    def run(self):
        cases = [
            ("connect", self.case_connect),
            ("a GetDevicePluginOptions values", self.case_options),
            ("a PreStartContainer empty", self.case_prestart),
            ("a GetPreferredAllocation ordering", self.case_preferred),
            ("b Allocate with 2 containers", self.case_allocate_two),
            ("c error status and UTF-8 message", self.case_error_status),
            ("d unknown method", self.case_unknown_method),
            ("d unknown service", self.case_unknown_service),
            ("e ListAndWatch initial, push, end", self.case_list_and_watch),
            ("f 200 concurrent Allocate", self.case_concurrent),
            ("g request just under 4 MiB", self.case_size_under),
            ("g request just over 4 MiB", self.case_size_over),
            ("g 4000000-byte response", self.case_size_response),
            ("h client vanishes mid-stream", self.case_client_vanishes),
            ("i slow stream reader", self.case_slow_reader),
            ("j deadline", self.case_deadline),
            ("k authority: raw socket path",
             lambda: self.authority_case(
                 "/var/lib/kubelet/device-plugins/x.sock")),
            ("k authority: grpc core >= 1.57 form",
             lambda: self.authority_case("tmp%2Fx.sock")),
        ]
        for name, function in cases:
            self.run_case(name, function)
        self.channel.close()
        print("%d passed, %d failed" % (self.passed, self.failed), flush=True)
        return self.failed == 0
