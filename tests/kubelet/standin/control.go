// The control interface: HTTP/1.1 with JSON over a unix socket.
//
// Tests drive the stand-in and read the node's state through it instead of
// through a Kubernetes API server (there is none here). GET /node is what
// the node object would say about device-plugin resources (plus counters
// and timestamps), GET /describe is the Capacity/Allocatable part of
// `kubectl describe node`, the POST calls make the kubelet act (allocate,
// restart, stop), and POST /wait blocks until a condition holds so that
// tests need no sleeps. The socket lives outside the device-plugins folder
// so that the kubelet's socket cleanup never removes it. The full contract
// is in tests/kubelet/README.md.
package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"time"

	pb "gdp/dpapi"
)

// The longest /wait when the request gives no timeout_ms.
const defaultWaitTimeout = 10 * time.Second

type optionsJSON struct {
	PreStartRequired                bool `json:"pre_start_required"`
	GetPreferredAllocationAvailable bool `json:"get_preferred_allocation_available"`
}

func optionsJSONOf(o *pb.DevicePluginOptions) *optionsJSON {
	if o == nil {
		return nil
	}
	return &optionsJSON{
		PreStartRequired:                o.GetPreStartRequired(),
		GetPreferredAllocationAvailable: o.GetGetPreferredAllocationAvailable(),
	}
}

type deviceJSON struct {
	ID      string `json:"id"`
	Health  string `json:"health"`
	NUMA    *int64 `json:"numa"`
	Healthy bool   `json:"healthy"`
}

type resourceJSON struct {
	Capacity      int          `json:"capacity"`
	Allocatable   int          `json:"allocatable"`
	Connected     bool         `json:"connected"`
	Endpoint      string       `json:"endpoint"`
	Options       *optionsJSON `json:"options"`
	Devices       []deviceJSON `json:"devices"`
	ListsReceived int64        `json:"lists_received"`
	RegisterNs    int64        `json:"register_ns"`
	LastListNs    int64        `json:"last_list_ns"`
	StoppedNs     int64        `json:"stopped_ns"`
}

type timesJSON struct {
	StartNs             int64 `json:"start_ns"`
	LastSocketCreatedNs int64 `json:"last_socket_created_ns"`
	LastRegisterNs      int64 `json:"last_register_ns"`
	LastListNs          int64 `json:"last_list_ns"`
}

type nodeJSON struct {
	Resources         map[string]resourceJSON `json:"resources"`
	Registrations     int64                   `json:"registrations"`
	RegisterErrors    int64                   `json:"register_errors"`
	LastRegisterError string                  `json:"last_register_error"`
	Restarts          int64                   `json:"restarts"`
	Times             timesJSON               `json:"times"`
}

// nodeLocked is GET /node's answer. Call with k.mu held.
func (k *kubelet) nodeLocked() nodeJSON {
	n := nodeJSON{
		Resources:         make(map[string]resourceJSON, len(k.resources)),
		Registrations:     k.registrations,
		RegisterErrors:    k.registerErrors,
		LastRegisterError: k.lastRegisterErr,
		Restarts:          k.restarts,
		Times: timesJSON{
			StartNs:             k.startNs,
			LastSocketCreatedNs: k.socketNs,
			LastRegisterNs:      k.registerNs,
			LastListNs:          k.listNs,
		},
	}
	for name, r := range k.resources {
		capacity, allocatable := r.counts()
		rj := resourceJSON{
			Capacity:      capacity,
			Allocatable:   allocatable,
			Connected:     r.ep != nil,
			Endpoint:      r.endpointPath,
			Options:       optionsJSONOf(r.options),
			Devices:       make([]deviceJSON, 0, len(r.devices)),
			ListsReceived: r.lists,
			RegisterNs:    r.registerNs,
			LastListNs:    r.lastListNs,
			StoppedNs:     r.stoppedNs,
		}
		for _, d := range r.devices {
			rj.Devices = append(rj.Devices, deviceJSON{ID: d.ID, Health: d.Health, NUMA: d.NUMA, Healthy: d.Healthy})
		}
		n.Resources[name] = rj
	}
	return n
}

func (k *kubelet) node() nodeJSON {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.nodeLocked()
}

// describe is the Capacity/Allocatable part of `kubectl describe node`,
// device-plugin resources only, names sorted.
func (k *kubelet) describe() string {
	n := k.node()
	names := make([]string, 0, len(n.Resources))
	for name := range n.Resources {
		names = append(names, name)
	}
	sort.Strings(names)
	var b strings.Builder
	b.WriteString("Capacity:\n")
	for _, name := range names {
		fmt.Fprintf(&b, "  %s:  %d\n", name, n.Resources[name].Capacity)
	}
	b.WriteString("Allocatable:\n")
	for _, name := range names {
		fmt.Fprintf(&b, "  %s:  %d\n", name, n.Resources[name].Allocatable)
	}
	return b.String()
}

type waitRequest struct {
	Resource             string `json:"resource"`
	Allocatable          *int   `json:"allocatable"`
	Capacity             *int   `json:"capacity"`
	Connected            *bool  `json:"connected"`
	ListsAtLeast         *int64 `json:"lists_at_least"`
	RegistrationsAtLeast *int64 `json:"registrations_at_least"`
	RestartsAtLeast      *int64 `json:"restarts_at_least"`
	TimeoutMs            *int64 `json:"timeout_ms"`
}

// holdsLocked says whether every condition given in w holds. A resource
// the kubelet does not know reads as capacity 0, allocatable 0, not
// connected, no lists. Call with k.mu held.
func (k *kubelet) holdsLocked(w *waitRequest) bool {
	if w.RegistrationsAtLeast != nil && k.registrations < *w.RegistrationsAtLeast {
		return false
	}
	if w.RestartsAtLeast != nil && k.restarts < *w.RestartsAtLeast {
		return false
	}
	var capacity, allocatable int
	var connected bool
	var lists int64
	if r := k.resources[w.Resource]; r != nil {
		capacity, allocatable = r.counts()
		connected = r.ep != nil
		lists = r.lists
	}
	if w.Allocatable != nil && allocatable != *w.Allocatable {
		return false
	}
	if w.Capacity != nil && capacity != *w.Capacity {
		return false
	}
	if w.Connected != nil && connected != *w.Connected {
		return false
	}
	if w.ListsAtLeast != nil && lists < *w.ListsAtLeast {
		return false
	}
	return true
}

// wait blocks until w holds or its timeout passes; returns whether it held
// and the node at that moment.
func (k *kubelet) wait(w *waitRequest, cancel <-chan struct{}) (bool, nodeJSON) {
	timeout := defaultWaitTimeout
	if w.TimeoutMs != nil {
		timeout = time.Duration(*w.TimeoutMs) * time.Millisecond
	}
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	for {
		k.mu.Lock()
		if k.holdsLocked(w) {
			n := k.nodeLocked()
			k.mu.Unlock()
			return true, n
		}
		ch := k.changed
		k.mu.Unlock()
		select {
		case <-ch:
		case <-timer.C:
			k.mu.Lock()
			ok := k.holdsLocked(w)
			n := k.nodeLocked()
			k.mu.Unlock()
			return ok, n
		case <-cancel:
			return false, k.node()
		}
	}
}

// control serves the HTTP API; stop is called (once) by POST /stop.
type control struct {
	k    *kubelet
	stop func()
}

func writeJSON(w http.ResponseWriter, status int, v interface{}) {
	body, err := json.Marshal(v)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(append(body, '\n'))
}

func badRequest(w http.ResponseWriter, format string, args ...interface{}) {
	writeJSON(w, http.StatusBadRequest, map[string]interface{}{"ok": false, "message": fmt.Sprintf(format, args...)})
}

// decode reads a JSON body into v, refusing unknown fields so that a typo
// in a test fails loudly instead of being ignored. An empty body is {}.
func decode(r *http.Request, v interface{}) error {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return err
	}
	if len(strings.TrimSpace(string(body))) == 0 {
		return nil
	}
	dec := json.NewDecoder(strings.NewReader(string(body)))
	dec.DisallowUnknownFields()
	return dec.Decode(v)
}

func (c *control) handler() http.Handler {
	mux := http.NewServeMux()
	get := func(path string, h http.HandlerFunc) {
		mux.HandleFunc(path, func(w http.ResponseWriter, r *http.Request) {
			if r.Method != http.MethodGet {
				w.Header().Set("Allow", "GET")
				badRequestStatus(w, http.StatusMethodNotAllowed, "use GET for "+path)
				return
			}
			h(w, r)
		})
	}
	post := func(path string, h http.HandlerFunc) {
		mux.HandleFunc(path, func(w http.ResponseWriter, r *http.Request) {
			if r.Method != http.MethodPost {
				w.Header().Set("Allow", "POST")
				badRequestStatus(w, http.StatusMethodNotAllowed, "use POST for "+path)
				return
			}
			h(w, r)
		})
	}

	get("/node", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, c.k.node())
	})
	get("/describe", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		io.WriteString(w, c.k.describe())
	})
	get("/events", func(w http.ResponseWriter, r *http.Request) {
		c.k.mu.Lock()
		evs := append([]event(nil), c.k.events...)
		dropped := c.k.eventsDropped
		c.k.mu.Unlock()
		if evs == nil {
			evs = []event{}
		}
		writeJSON(w, http.StatusOK, map[string]interface{}{"events": evs, "dropped": dropped})
	})
	post("/allocate", func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			Resource string   `json:"resource"`
			Devices  []string `json:"devices"`
		}
		if err := decode(r, &req); err != nil {
			badRequest(w, "bad request body: %v", err)
			return
		}
		writeJSON(w, http.StatusOK, c.k.allocate(req.Resource, req.Devices))
	})
	post("/allocate-pod", func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			Resource string `json:"resource"`
			Count    int    `json:"count"`
		}
		if err := decode(r, &req); err != nil {
			badRequest(w, "bad request body: %v", err)
			return
		}
		if req.Count < 0 {
			badRequest(w, "count must not be negative")
			return
		}
		writeJSON(w, http.StatusOK, c.k.allocatePod(req.Resource, req.Count))
	})
	post("/preferred", func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			Resource    string   `json:"resource"`
			Available   []string `json:"available"`
			MustInclude []string `json:"must_include"`
			Size        int32    `json:"size"`
		}
		if err := decode(r, &req); err != nil {
			badRequest(w, "bad request body: %v", err)
			return
		}
		writeJSON(w, http.StatusOK, c.k.preferred(req.Resource, req.Available, req.MustInclude, req.Size))
	})
	post("/restart", func(w http.ResponseWriter, r *http.Request) {
		created, err := c.k.restart()
		if err != nil {
			writeJSON(w, http.StatusInternalServerError, map[string]interface{}{"ok": false, "message": err.Error()})
			return
		}
		writeJSON(w, http.StatusOK, map[string]interface{}{"ok": true, "socket_created_ns": created})
	})
	post("/wait", func(w http.ResponseWriter, r *http.Request) {
		var req waitRequest
		if err := decode(r, &req); err != nil {
			badRequest(w, "bad request body: %v", err)
			return
		}
		ok, n := c.k.wait(&req, r.Context().Done())
		writeJSON(w, http.StatusOK, map[string]interface{}{"ok": ok, "node": n})
	})
	post("/stop", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]interface{}{"ok": true})
		if f, ok := w.(http.Flusher); ok {
			f.Flush()
		}
		go c.stop()
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		badRequestStatus(w, http.StatusNotFound, "no such path: "+r.URL.Path)
	})
	return mux
}

func badRequestStatus(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]interface{}{"ok": false, "message": msg})
}
