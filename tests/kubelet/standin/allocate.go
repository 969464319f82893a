// Allocation: the kubelet's calls to a plugin at pod admission.
//
// /allocate and /preferred make one raw call each, shaped exactly like the
// kubelet's (one container request, no deadline) and pass the ids through
// unfiltered, so tests can send unknown or duplicate ids on purpose.
// /allocate-pod does what the kubelet's devicesToAllocate and
// allocateContainerResources do for a container that asks for n devices,
// without a Topology Manager hint (reference §2.7): the same checks with
// the same error texts, GetPreferredAllocation when the plugin's options
// offer it, the answer intersected with the candidates and filled up if
// short, then Allocate. The stand-in has no pods, so devices are not held
// after the call: each /allocate-pod starts from all healthy devices.
//
// Answers are JSON with the protobuf field names (envs, mounts, devices,
// annotations, cdi_devices, ...); empty fields are present as {} or [].
package main

import (
	"context"
	"fmt"

	pb "gdp/dpapi"

	"google.golang.org/grpc/status"
)

type mountJSON struct {
	ContainerPath string `json:"container_path"`
	HostPath      string `json:"host_path"`
	ReadOnly      bool   `json:"read_only"`
}

type deviceSpecJSON struct {
	ContainerPath string `json:"container_path"`
	HostPath      string `json:"host_path"`
	Permissions   string `json:"permissions"`
}

type cdiDeviceJSON struct {
	Name string `json:"name"`
}

type containerAllocateResponseJSON struct {
	Envs        map[string]string `json:"envs"`
	Mounts      []mountJSON       `json:"mounts"`
	Devices     []deviceSpecJSON  `json:"devices"`
	Annotations map[string]string `json:"annotations"`
	CDIDevices  []cdiDeviceJSON   `json:"cdi_devices"`
}

func containerAllocateResponseJSONOf(r *pb.ContainerAllocateResponse) *containerAllocateResponseJSON {
	j := &containerAllocateResponseJSON{
		Envs:        map[string]string{},
		Mounts:      []mountJSON{},
		Devices:     []deviceSpecJSON{},
		Annotations: map[string]string{},
		CDIDevices:  []cdiDeviceJSON{},
	}
	for k, v := range r.GetEnvs() {
		j.Envs[k] = v
	}
	for k, v := range r.GetAnnotations() {
		j.Annotations[k] = v
	}
	for _, m := range r.GetMounts() {
		j.Mounts = append(j.Mounts, mountJSON{m.GetContainerPath(), m.GetHostPath(), m.GetReadOnly()})
	}
	for _, d := range r.GetDevices() {
		j.Devices = append(j.Devices, deviceSpecJSON{d.GetContainerPath(), d.GetHostPath(), d.GetPermissions()})
	}
	for _, c := range r.GetCdiDevices() {
		j.CDIDevices = append(j.CDIDevices, cdiDeviceJSON{c.GetName()})
	}
	return j
}

// result is the JSON answer of the allocation calls. Code and Message are
// set when OK is false; Called says whether an RPC reached the plugin (a
// refusal by the kubelet itself reads code 2, UNKNOWN, as status.Convert
// gives for the kubelet's plain Go errors).
type result map[string]interface{}

func refused(msg string) result {
	return result{"ok": false, "called": false, "code": 2, "message": msg}
}

func rpcFailed(err error) result {
	st := status.Convert(err)
	return result{"ok": false, "called": true, "code": int(st.Code()), "message": st.Message()}
}

// endpointFor returns the resource's live endpoint, or the kubelet's
// refusal: an unknown resource, or a stopped endpoint.
func (k *kubelet) endpointFor(name string) (*endpoint, *result) {
	k.mu.Lock()
	defer k.mu.Unlock()
	res := k.resources[name]
	if res == nil {
		r := refused(fmt.Sprintf("unknown Device Plugin %s", name))
		return nil, &r
	}
	if res.ep == nil {
		r := refused(fmt.Sprintf("endpoint %s has been stopped", name))
		return nil, &r
	}
	return res.ep, nil
}

// callAllocate sends the kubelet's Allocate: one container request, no
// deadline. It fills res with "response" (container_responses[0]) and
// "container_responses" (how many came back).
func callAllocate(ep *endpoint, ids []string, res result) result {
	resp, err := ep.client.Allocate(context.Background(), &pb.AllocateRequest{
		ContainerRequests: []*pb.ContainerAllocateRequest{{DevicesIds: ids}},
	})
	if err != nil {
		r := rpcFailed(err)
		for k, v := range res {
			if _, set := r[k]; !set {
				r[k] = v
			}
		}
		return r
	}
	n := len(resp.GetContainerResponses())
	res["container_responses"] = n
	res["called"] = true
	if n == 0 {
		// The kubelet fails the pod with this (manager.go).
		res["ok"] = false
		res["code"] = 2
		res["message"] = fmt.Sprintf("no containers return in allocation response %v", resp)
		res["response"] = nil
		return res
	}
	res["ok"] = true
	delete(res, "stage") // only a failure says which call failed
	res["response"] = containerAllocateResponseJSONOf(resp.GetContainerResponses()[0])
	return res
}

// allocate is POST /allocate: Allocate with exactly these ids.
func (k *kubelet) allocate(name string, ids []string) result {
	ep, refusal := k.endpointFor(name)
	if refusal != nil {
		return *refusal
	}
	if ids == nil {
		ids = []string{}
	}
	k.logger.Printf("Allocate: resource=%q devices=%q", name, ids)
	return callAllocate(ep, ids, result{})
}

// preferred is POST /preferred: one raw GetPreferredAllocation.
func (k *kubelet) preferred(name string, available, mustInclude []string, size int32) result {
	ep, refusal := k.endpointFor(name)
	if refusal != nil {
		return *refusal
	}
	resp, err := ep.client.GetPreferredAllocation(context.Background(), &pb.PreferredAllocationRequest{
		ContainerRequests: []*pb.ContainerPreferredAllocationRequest{{
			AvailableDeviceIDs:   available,
			MustIncludeDeviceIDs: mustInclude,
			AllocationSize:       size,
		}},
	})
	if err != nil {
		return rpcFailed(err)
	}
	type containerJSON struct {
		DeviceIDs []string `json:"deviceIDs"`
	}
	out := []containerJSON{}
	for _, c := range resp.GetContainerResponses() {
		ids := c.GetDeviceIDs()
		if ids == nil {
			ids = []string{}
		}
		out = append(out, containerJSON{ids})
	}
	return result{"ok": true, "called": true, "response": map[string]interface{}{"container_responses": out}}
}

// allocatePod is POST /allocate-pod: admit a container asking for n.
func (k *kubelet) allocatePod(name string, n int) result {
	k.mu.Lock()
	res := k.resources[name]
	if res == nil {
		k.mu.Unlock()
		return refused(fmt.Sprintf("cannot allocate unregistered device %s", name))
	}
	var healthy []string
	for _, d := range res.devices {
		if d.Healthy {
			healthy = append(healthy, d.ID)
		}
	}
	ep := res.ep
	var opts *pb.DevicePluginOptions
	if ep != nil {
		opts = ep.options
	}
	k.mu.Unlock()

	if len(healthy) == 0 {
		return refused(fmt.Sprintf("no healthy devices present; cannot allocate unhealthy devices %s", name))
	}
	if n == 0 {
		// Nothing needed: the kubelet makes no call.
		return result{"ok": true, "called": false, "devices": []string{}, "preferred": nil, "response": nil}
	}
	if len(healthy) < n {
		return refused(fmt.Sprintf("requested number of devices unavailable for %s. Requested: %d, Available: %d",
			name, n, len(healthy)))
	}
	if ep == nil {
		return refused(fmt.Sprintf("endpoint %s has been stopped", name))
	}

	// The kubelet's order: the plugin's preference (if offered), kept only
	// where it names a candidate, then the other candidates.
	picked := make([]string, 0, n)
	taken := make(map[string]bool, n)
	candidate := make(map[string]bool, len(healthy))
	for _, id := range healthy {
		candidate[id] = true
	}
	take := func(ids []string) {
		for _, id := range ids {
			if len(picked) == n {
				return
			}
			if candidate[id] && !taken[id] {
				taken[id] = true
				picked = append(picked, id)
			}
		}
	}
	var preferred interface{}
	if opts.GetGetPreferredAllocationAvailable() {
		resp, err := ep.client.GetPreferredAllocation(context.Background(), &pb.PreferredAllocationRequest{
			ContainerRequests: []*pb.ContainerPreferredAllocationRequest{{
				AvailableDeviceIDs:   healthy,
				MustIncludeDeviceIDs: []string{},
				AllocationSize:       int32(n),
			}},
		})
		if err != nil {
			r := rpcFailed(err)
			r["stage"] = "GetPreferredAllocation"
			return r
		}
		ids := []string{}
		if crs := resp.GetContainerResponses(); len(crs) > 0 {
			ids = append(ids, crs[0].GetDeviceIDs()...)
		}
		preferred = ids
		take(ids)
	}
	take(healthy)
	k.logger.Printf("allocate-pod: resource=%q count=%d picked=%q", name, n, picked)
	return callAllocate(ep, picked, result{"devices": picked, "preferred": preferred, "stage": "Allocate"})
}
