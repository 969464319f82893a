// The kubelet's device manager, as far as a device plugin can see it.
//
// This file holds the stand-in's node state and both of its gRPC roles:
//
//   - the v1beta1.Registration server on DIR/kubelet.sock (a default
//     grpc.NewServer(), like the kubelet's), whose Register checks the
//     version and the resource name and then, before answering, dials the
//     plugin back and calls GetDevicePluginOptions (reference §2.2-2.4);
//   - one grpc-go client per registered resource, dialed exactly like the
//     kubelet's device-plugin client (§2.3), that reads ListAndWatch forever
//     and turns every message into capacity/allocatable (§2.5), and that
//     marks the resource's devices unhealthy and closes the connection when
//     the stream ends for any reason (§2.6);
//   - the directory handling of a kubelet start: create DIR, delete every
//     unix socket in it, listen on kubelet.sock (§2.1), and restart(), which
//     does what a kubelet restart does to the plugins.
//
// Everything the control interface reports is read from here under k.mu;
// every change closes k.changed so that /wait can block without polling.
package main

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net"
	"os"
	"path/filepath"
	"sync"
	"time"

	pb "gdp/dpapi"

	"google.golang.org/grpc"
)

const (
	kubeletSocketName = "kubelet.sock"
	// The kubelet's checkpoint file lives in the same folder; its cleanup
	// never removes it (we write none, but leave one alone if present).
	checkpointName = "kubelet_internal_checkpoint"
	// The kubelet's plugin handler creates this empty file in the socket
	// folder when the plugin watcher picks it up (reference §2.1).
	deprecationName = "DEPRECATION"
	// Timeout of the kubelet's blocking dial to a plugin socket (§2.3).
	dialTimeout = 10 * time.Second
	// The kubelet's text for dial failures (types.go errFailedToDialDevicePlugin).
	errFailedToDialDevicePlugin = "failed to dial device plugin:"
	// How many events /events keeps; older ones are dropped.
	maxEvents = 100000
)

// A device as the last ListAndWatch message described it.
type device struct {
	ID     string
	Health string // the string the plugin sent
	NUMA   *int64 // the first topology node, nil without topology
	// In the kubelet's healthy set: Health == "Healthy" in the last message,
	// and the plugin has not been disconnected since.
	Healthy bool
}

// endpoint is one successful registration: the connection the kubelet
// dialed back and the options it read.
type endpoint struct {
	resource string
	path     string
	conn     *grpc.ClientConn
	client   pb.DevicePluginClient
	options  *pb.DevicePluginOptions
}

// resource is the kubelet's record of one extended resource. It outlives
// its endpoint: after a disconnect the kubelet keeps the resource listed
// (with everything unhealthy) for its 5-minute grace period.
type resource struct {
	name         string
	ep           *endpoint // nil when stopped (disconnected, or after a restart)
	endpointPath string    // the last endpoint's socket path
	options      *pb.DevicePluginOptions
	devices      []device
	lists        int64 // ListAndWatch messages received, over its whole life
	registerNs   int64 // last successful registration
	lastListNs   int64
	stoppedNs    int64 // when the endpoint was last stopped; 0 if never
}

func (r *resource) counts() (capacity, allocatable int) {
	for _, d := range r.devices {
		if d.Healthy {
			allocatable++
		}
	}
	return len(r.devices), allocatable
}

type event struct {
	Kind     string `json:"kind"`
	Ns       int64  `json:"ns"`
	Resource string `json:"resource,omitempty"`
	Detail   string `json:"detail,omitempty"`
}

type kubelet struct {
	dir      string
	sockPath string
	logger   *log.Logger

	restartMu sync.Mutex // serialises start/restart/stop of the server

	mu              sync.Mutex
	changed         chan struct{} // closed (and replaced) on every change
	resources       map[string]*resource
	registrations   int64
	registerErrors  int64
	lastRegisterErr string
	restarts        int64
	startNs         int64
	socketNs        int64
	registerNs      int64
	listNs          int64
	events          []event
	eventsDropped   int64

	// The running Registration server. gen counts server lifetimes: a
	// Register that began under an older one must not install anything.
	gen       uint64
	genCtx    context.Context
	genCancel context.CancelFunc
	srv       *grpc.Server
	serveDone chan struct{}
	stopping  bool

	watchDelay time.Duration // before each ListAndWatch (--watch-delay-ms)
}

func newKubelet(dir string, logger *log.Logger) *kubelet {
	return &kubelet{
		dir:       dir,
		sockPath:  filepath.Join(dir, kubeletSocketName),
		logger:    logger,
		changed:   make(chan struct{}),
		resources: make(map[string]*resource),
		startNs:   time.Now().UnixNano(),
	}
}

// notifyLocked wakes every /wait. Call with k.mu held.
func (k *kubelet) notifyLocked() {
	close(k.changed)
	k.changed = make(chan struct{})
}

// eventLocked records an event. Call with k.mu held.
func (k *kubelet) eventLocked(kind string, ns int64, res, detail string) {
	if len(k.events) >= maxEvents {
		drop := maxEvents / 2
		k.events = append(k.events[:0], k.events[drop:]...)
		k.eventsDropped += int64(drop)
	}
	k.events = append(k.events, event{Kind: kind, Ns: ns, Resource: res, Detail: detail})
}

// cleanupDir does the kubelet's CleanupPluginDirectory: every unix socket
// in the folder goes; the checkpoint, other files and folders stay.
func (k *kubelet) cleanupDir() error {
	entries, err := os.ReadDir(k.dir)
	if err != nil {
		return err
	}
	var first error
	failed := 0
	fail := func(err error) {
		if first == nil {
			first = err
		}
		failed++
	}
	for _, e := range entries {
		if e.Name() == checkpointName {
			continue
		}
		path := filepath.Join(k.dir, e.Name())
		st, err := os.Lstat(path)
		if err != nil {
			if !os.IsNotExist(err) {
				fail(err)
			}
			continue
		}
		if st.IsDir() || st.Mode()&os.ModeSocket == 0 {
			continue
		}
		if err := os.Remove(path); err != nil && !os.IsNotExist(err) {
			fail(err)
			continue
		}
		k.logger.Printf("cleanup: removed socket %s", path)
	}
	if failed > 1 {
		return fmt.Errorf("%v (and %d more errors)", first, failed-1)
	}
	return first
}

// start is the kubelet's start: create the folder, clean it up, serve.
func (k *kubelet) start() error {
	k.restartMu.Lock()
	defer k.restartMu.Unlock()
	if err := os.MkdirAll(k.dir, 0o750); err != nil {
		return err
	}
	if err := k.cleanupDir(); err != nil {
		return err
	}
	_, err := k.serveLocked()
	return err
}

// serveLocked removes a stale kubelet.sock, listens on it and serves a
// fresh default grpc.NewServer(). Call with k.restartMu held. Returns when
// the socket is created (the time it recorded).
func (k *kubelet) serveLocked() (int64, error) {
	if err := os.Remove(k.sockPath); err != nil && !os.IsNotExist(err) {
		return 0, fmt.Errorf("failed to remove existing socket: %w", err)
	}
	lis, err := net.Listen("unix", k.sockPath)
	if err != nil {
		return 0, err
	}
	now := time.Now().UnixNano()
	srv := grpc.NewServer()
	ctx, cancel := context.WithCancel(context.Background())

	k.mu.Lock()
	k.gen++
	reg := &registration{k: k, gen: k.gen, genCtx: ctx}
	k.genCtx, k.genCancel = ctx, cancel
	k.srv = srv
	k.serveDone = make(chan struct{})
	k.socketNs = now
	k.eventLocked("socket_created", now, "", k.sockPath)
	k.notifyLocked()
	done := k.serveDone
	k.mu.Unlock()

	pb.RegisterRegistrationServer(srv, reg)
	go func() {
		defer close(done)
		if err := srv.Serve(lis); err != nil {
			k.logger.Printf("registration server: serve: %v", err)
		}
	}()
	// The real kubelet's plugin handler makes this file when the plugin
	// watcher is set up, just after the device manager has started.
	if f, err := os.Create(filepath.Join(k.dir, deprecationName)); err == nil {
		f.Close()
	}
	k.logger.Printf("listening on %s", k.sockPath)
	return now, nil
}

// stopServerLocked stops the Registration server (closing kubelet.sock's
// listener, which unlinks it, and every connection to it) and cancels
// whatever a Register under it still waits for. Call with k.restartMu held.
func (k *kubelet) stopServerLocked() {
	k.mu.Lock()
	srv, cancel, done := k.srv, k.genCancel, k.serveDone
	k.srv, k.genCancel = nil, nil
	k.mu.Unlock()
	if cancel != nil {
		cancel()
	}
	if srv != nil {
		srv.Stop()
		<-done
	}
}

// restart simulates a kubelet restart: the old process's server and its
// connections to the plugins go away; the new process has, for each
// resource it had checkpointed, a stopped endpoint and no devices (so
// capacity and allocatable read 0 until the plugin registers again,
// reference §2.1), deletes every socket in the folder (the plugins' too)
// and serves kubelet.sock again.
func (k *kubelet) restart() (int64, error) {
	k.restartMu.Lock()
	defer k.restartMu.Unlock()

	now := time.Now().UnixNano()
	var eps []*endpoint
	k.mu.Lock()
	k.restarts++
	// Register handlers still in flight belong to the old server: a bump
	// of gen keeps them from installing anything.
	k.gen++
	for _, r := range k.resources {
		if r.ep != nil {
			eps = append(eps, r.ep)
			r.ep = nil
		}
		r.options = nil
		r.devices = nil
		r.stoppedNs = now
	}
	k.eventLocked("restart", now, "", "")
	k.notifyLocked()
	k.mu.Unlock()

	for _, ep := range eps {
		ep.conn.Close()
	}
	k.stopServerLocked()
	if err := k.cleanupDir(); err != nil {
		k.logger.Printf("restart: cleanup: %v", err)
	}
	created, err := k.serveLocked()
	if err != nil {
		return 0, err
	}
	k.logger.Printf("restart: done in %.3f ms (%d plugin connections closed)",
		float64(time.Now().UnixNano()-now)/1e6, len(eps))
	return created, nil
}

// shutdown stops serving and removes kubelet.sock, for /stop and signals.
func (k *kubelet) shutdown() {
	k.restartMu.Lock()
	defer k.restartMu.Unlock()
	k.mu.Lock()
	k.stopping = true
	k.mu.Unlock()
	k.stopServerLocked()
	if err := os.Remove(k.sockPath); err != nil && !os.IsNotExist(err) {
		k.logger.Printf("stop: %v", err)
	}
}

// registration is the Registration service of one server lifetime.
type registration struct {
	pb.UnimplementedRegistrationServer
	k      *kubelet
	gen    uint64
	genCtx context.Context // cancelled when this server stops
}

func (r *registration) Register(ctx context.Context, req *pb.RegisterRequest) (*pb.Empty, error) {
	k := r.k
	name := req.GetResourceName()
	now := time.Now().UnixNano()
	k.mu.Lock()
	k.registrations++
	k.registerNs = now
	k.eventLocked("register", now, name, "endpoint="+req.GetEndpoint()+" version="+req.GetVersion())
	k.notifyLocked()
	k.mu.Unlock()
	k.logger.Printf("Register: resource=%q endpoint=%q version=%q", name, req.GetEndpoint(), req.GetVersion())

	ep, err := r.connect(ctx, req)
	if err != nil {
		k.mu.Lock()
		k.registerErrors++
		k.lastRegisterErr = err.Error()
		k.eventLocked("register_error", time.Now().UnixNano(), name, err.Error())
		k.notifyLocked()
		k.mu.Unlock()
		k.logger.Printf("Register: resource=%q failed: %v", name, err)
		// A plain error: grpc-go sends it as UNKNOWN, like the kubelet's.
		return &pb.Empty{}, err
	}
	k.logger.Printf("Register: resource=%q connected to %s, options %+v", name, ep.path, optionsJSONOf(ep.options))
	return &pb.Empty{}, nil
}

// connect does the kubelet's checks and its synchronous dial-back; on
// success the endpoint replaces the resource's old one and its
// ListAndWatch reader is started.
func (r *registration) connect(ctx context.Context, req *pb.RegisterRequest) (*endpoint, error) {
	k := r.k
	name := req.GetResourceName()
	if req.GetVersion() != apiVersion {
		return nil, errUnsupportedVersion(req.GetVersion())
	}
	if !isExtendedResourceName(name) {
		return nil, errInvalidResourceName(name)
	}
	path := filepath.Join(k.dir, req.GetEndpoint())
	conn, err := dialPlugin(ctx, path)
	if err != nil {
		return nil, fmt.Errorf(errFailedToDialDevicePlugin+" %v", err)
	}
	client := pb.NewDevicePluginClient(conn)
	// The kubelet calls this with context.Background(): no deadline. Ours
	// ends only if this server lifetime ends (a restart or a stop).
	opts, err := client.GetDevicePluginOptions(r.genCtx, &pb.Empty{})
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("failed to get device plugin options: %v", err)
	}
	ep := &endpoint{resource: name, path: path, conn: conn, client: client, options: opts}

	now := time.Now().UnixNano()
	k.mu.Lock()
	if k.gen != r.gen || k.stopping {
		k.mu.Unlock()
		conn.Close()
		return nil, errors.New("kubelet restarted during registration")
	}
	res := k.resources[name]
	if res == nil {
		res = &resource{name: name}
		k.resources[name] = res
	}
	old := res.ep
	res.ep = ep
	res.endpointPath = path
	res.options = opts
	res.registerNs = now
	k.eventLocked("connected", now, name, path)
	k.notifyLocked()
	k.mu.Unlock()
	if old != nil {
		// The stand-in's simplification (README "Differences"): the old
		// connection is closed at once. Its reader sees it is no longer
		// current and leaves the resource alone.
		k.logger.Printf("resource %q re-registered: closing the old connection to %s", name, old.path)
		old.conn.Close()
	}
	go k.runEndpoint(ep)
	return ep, nil
}

// dialPlugin dials like the kubelet's device-plugin client (client.go
// dial): the bare socket path, :authority localhost, insecure, blocking
// until the connection is ready, a unix dialer, 10 s.
func dialPlugin(ctx context.Context, path string) (*grpc.ClientConn, error) {
	ctx, cancel := context.WithTimeout(ctx, dialTimeout)
	defer cancel()
	return grpc.DialContext(ctx, path,
		grpc.WithAuthority("localhost"),
		grpc.WithInsecure(),
		grpc.WithBlock(),
		grpc.WithContextDialer(func(ctx context.Context, addr string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "unix", addr)
		}),
	)
}

// runEndpoint is the kubelet's client Run: ListAndWatch with no deadline,
// read forever, and on any end (even status OK) disconnect.
func (k *kubelet) runEndpoint(ep *endpoint) {
	time.Sleep(k.watchDelay)
	stream, err := ep.client.ListAndWatch(context.Background(), &pb.Empty{})
	if err != nil {
		k.endpointEnded(ep, err)
		return
	}
	for {
		resp, err := stream.Recv()
		if err != nil {
			k.endpointEnded(ep, err)
			return
		}
		k.onList(ep, resp)
	}
}

// onList is genericDeviceUpdateCallback: the message is the complete list.
func (k *kubelet) onList(ep *endpoint, resp *pb.ListAndWatchResponse) {
	now := time.Now().UnixNano()
	devs := make([]device, 0, len(resp.GetDevices()))
	healthy := 0
	for _, d := range resp.GetDevices() {
		dev := device{ID: d.GetID(), Health: d.GetHealth(), Healthy: d.GetHealth() == "Healthy"}
		if nodes := d.GetTopology().GetNodes(); len(nodes) > 0 {
			id := nodes[0].GetID()
			dev.NUMA = &id
		}
		if dev.Healthy {
			healthy++
		}
		devs = append(devs, dev)
	}
	k.mu.Lock()
	res := k.resources[ep.resource]
	if res == nil || res.ep != ep {
		// A message that raced with a replacement or a restart.
		k.mu.Unlock()
		return
	}
	res.devices = devs
	res.lists++
	res.lastListNs = now
	k.listNs = now
	k.eventLocked("list", now, ep.resource, fmt.Sprintf("devices=%d healthy=%d", len(devs), healthy))
	k.notifyLocked()
	k.mu.Unlock()
	k.logger.Printf("ListAndWatch: resource=%q devices=%d healthy=%d", ep.resource, len(devs), healthy)
}

// endpointEnded is the kubelet's disconnectClient + PluginDisconnected:
// close the connection, move every healthy device to unhealthy (capacity
// stays, allocatable drops to 0), mark the endpoint stopped.
func (k *kubelet) endpointEnded(ep *endpoint, err error) {
	now := time.Now().UnixNano()
	current := false
	k.mu.Lock()
	if res := k.resources[ep.resource]; res != nil && res.ep == ep {
		current = true
		res.ep = nil
		res.stoppedNs = now
		for i := range res.devices {
			res.devices[i].Healthy = false
		}
		k.eventLocked("disconnected", now, ep.resource, err.Error())
		k.notifyLocked()
	}
	k.mu.Unlock()
	ep.conn.Close()
	if current {
		k.logger.Printf("ListAndWatch ended for resource %q: %v; devices marked unhealthy, connection closed", ep.resource, err)
	}
}
