// gdp-cdi-validate: reads a CDI spec directory with the CDI library that
// containerd, CRI-O and podman use (Debian's
// golang-github-container-orchestrated-devices-container-device-interface-dev),
// the way a runtime does, and reports what it made of it, for the plugin's
// CDI tests (tests/cdi/README.md).
//
// Usage: gdp-cdi-validate [-no-apply] DIR NAME...
//
// Every spec in DIR is loaded and checked (the library's own checks and its
// JSON schema); each NAME (a qualified device name such as
// k8s.device-plugin.nvidia.com/gpu=0) must resolve; then, unless -no-apply,
// all NAMEs are injected into an empty OCI spec, which needs every host
// device node to exist. Prints one JSON object on stdout: {"specs": [...],
// "devices": [every device the cache knows], "oci": {"env", "devices",
// "mounts", "hooks"}}. Exits 1 with the reasons on stderr when a spec has
// an error, a name does not resolve or the injection fails; 2 on bad usage.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"

	"github.com/container-orchestrated-devices/container-device-interface/pkg/cdi"
	"github.com/container-orchestrated-devices/container-device-interface/pkg/cdi/validate"
	"github.com/container-orchestrated-devices/container-device-interface/schema"
	oci "github.com/opencontainers/runtime-spec/specs-go"
)

type specInfo struct {
	Path    string `json:"path"`
	Vendor  string `json:"vendor"`
	Class   string `json:"class"`
	Version string `json:"version"`
}

type ociInfo struct {
	Env     []string          `json:"env"`
	Devices []oci.LinuxDevice `json:"devices"`
	Mounts  []oci.Mount       `json:"mounts"`
	Hooks   *oci.Hooks        `json:"hooks"`
}

type report struct {
	Specs   []specInfo `json:"specs"`
	Devices []string   `json:"devices"`
	OCI     *ociInfo   `json:"oci"`
}

func fail(format string, args ...interface{}) {
	fmt.Fprintf(os.Stderr, "gdp-cdi-validate: "+format+"\n", args...)
	os.Exit(1)
}

func main() {
	noApply := flag.Bool("no-apply", false, "resolve the names only")
	flag.Parse()
	if flag.NArg() < 1 {
		fmt.Fprintln(os.Stderr, "usage: gdp-cdi-validate [-no-apply] DIR NAME...")
		os.Exit(2)
	}
	dir, names := flag.Arg(0), flag.Args()[1:]
	cdi.SetSpecValidator(validate.WithSchema(schema.BuiltinSchema()))
	cache, err := cdi.NewCache(cdi.WithSpecDirs(dir), cdi.WithAutoRefresh(false))
	if err != nil {
		fail("loading %s: %v", dir, err)
	}
	bad := false
	for path, errs := range cache.GetErrors() {
		for _, e := range errs {
			fmt.Fprintf(os.Stderr, "gdp-cdi-validate: %s: %v\n", path, e)
			bad = true
		}
	}
	if bad {
		os.Exit(1)
	}
	r := report{Specs: []specInfo{}, Devices: cache.ListDevices()}
	for _, v := range cache.ListVendors() {
		for _, s := range cache.GetVendorSpecs(v) {
			r.Specs = append(r.Specs, specInfo{s.GetPath(), s.GetVendor(),
				s.GetClass(), s.Version})
		}
	}
	for _, n := range names {
		if cache.GetDevice(n) == nil {
			fail("%s does not resolve (known: %v)", n, r.Devices)
		}
	}
	if !*noApply && len(names) > 0 {
		spec := &oci.Spec{Process: &oci.Process{}, Linux: &oci.Linux{}}
		unresolved, err := cache.InjectDevices(spec, names...)
		if err != nil {
			fail("injecting %v (unresolved %v): %v", names, unresolved, err)
		}
		r.OCI = &ociInfo{spec.Process.Env, spec.Linux.Devices, spec.Mounts,
			spec.Hooks}
	}
	out, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		fail("%v", err)
	}
	fmt.Println(string(out))
}
