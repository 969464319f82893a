// The kubelet's checks on a RegisterRequest, with its exact error texts.
//
// The kubelet accepts only version "v1beta1" and a resource name that passes
// IsExtendedResourceName (Kubernetes' core/v1 helper, which uses
// IsQualifiedName and IsDNS1123Subdomain from apimachinery). These are
// rewritten here from the rules in shared/reference/deviceplugin-api.md §2.2
// so that the stand-in refuses exactly what a real kubelet refuses; a plugin
// that registers a name the kubelet would reject must fail here too.
package main

import (
	"fmt"
	"regexp"
	"strings"
)

const (
	apiVersion = "v1beta1"
	// The native namespace: names containing it are not extended resources.
	nativeNamespacePrefix = "kubernetes.io/"
	// Quota's request prefix: "requests." + name must be a qualified name.
	requestsPrefix = "requests."
	// IsQualifiedName's limit on the part after the slash.
	qualifiedNameMaxLength = 63
	// IsDNS1123Subdomain's limit.
	dns1123SubdomainMaxLength = 253
)

var (
	qualifiedNameRegexp    = regexp.MustCompile(`^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$`)
	dns1123SubdomainRegexp = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`)
)

// errUnsupportedVersion is the kubelet's text (types.go errUnsupportedVersion,
// formatted with %q on the list of supported versions).
func errUnsupportedVersion(v string) error {
	return fmt.Errorf("requested API version %q is not supported by kubelet. Supported version is %q",
		v, []string{apiVersion})
}

// errInvalidResourceName is the kubelet's text (types.go errInvalidResourceName).
func errInvalidResourceName(name string) error {
	return fmt.Errorf("the ResourceName %q is invalid", name)
}

// isDNS1123Subdomain: lower-case alphanumerics, '-' and '.', each label
// starting and ending with an alphanumeric, at most 253 characters.
func isDNS1123Subdomain(s string) bool {
	return len(s) <= dns1123SubdomainMaxLength && dns1123SubdomainRegexp.MatchString(s)
}

// isQualifiedName: an optional DNS-1123 subdomain prefix and '/', then a
// name of 1-63 characters of [-A-Za-z0-9_.] that starts and ends with an
// alphanumeric.
func isQualifiedName(value string) bool {
	parts := strings.Split(value, "/")
	var name string
	switch len(parts) {
	case 1:
		name = parts[0]
	case 2:
		prefix := parts[0]
		name = parts[1]
		if prefix == "" || !isDNS1123Subdomain(prefix) {
			return false
		}
	default:
		return false
	}
	return name != "" && len(name) <= qualifiedNameMaxLength && qualifiedNameRegexp.MatchString(name)
}

// isExtendedResourceName mirrors v1helper.IsExtendedResourceName: not a
// native resource (it must contain '/' and must not contain
// "kubernetes.io/"), not starting with "requests.", and "requests." + name
// must be a qualified name.
func isExtendedResourceName(name string) bool {
	if !strings.Contains(name, "/") || strings.Contains(name, nativeNamespacePrefix) {
		return false
	}
	if strings.HasPrefix(name, requestsPrefix) {
		return false
	}
	return isQualifiedName(requestsPrefix + name)
}
