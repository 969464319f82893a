// Suite cases made of unary calls: option values, PreStartContainer,
// GetPreferredAllocation, Allocate answers, error statuses, unknown
// methods and services, message-size limits, deadlines and :authority
// variants (cases a, b, c, d, g, j and k of the suite).
//
// Each checks one promise of the test server's contract as seen through
// grpc-go, the kubelet's gRPC library.
package main

import (
	"context"
	"fmt"
	"path/filepath"
	"reflect"
	"strings"
	"time"

	pb "gdp/dpapi"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"
)

const maxMsg = 4 * 1024 * 1024 // grpc-go's default receive limit

func (s *suite) caseOptions() error {
	ctx, cancel := bounded(5 * time.Second)
	defer cancel()
	opts, err := s.dp.GetDevicePluginOptions(ctx, &pb.Empty{})
	if err != nil {
		return err
	}
	if opts.GetPreStartRequired() || !opts.GetGetPreferredAllocationAvailable() {
		return fmt.Errorf("got pre_start_required=%v get_preferred_allocation_available=%v, want false and true",
			opts.GetPreStartRequired(), opts.GetGetPreferredAllocationAvailable())
	}
	return nil
}

func (s *suite) casePreStart() error {
	ctx, cancel := bounded(5 * time.Second)
	defer cancel()
	resp, err := s.dp.PreStartContainer(ctx, &pb.PreStartContainerRequest{DevicesIds: []string{"dev-0"}})
	if err != nil {
		return err
	}
	if n := proto.Size(resp); n != 0 {
		return fmt.Errorf("response encodes to %d bytes, want an empty message", n)
	}
	return nil
}

func (s *suite) casePreferred() error {
	type tc struct {
		available, must []string
		size            int32
		want            []string
	}
	cases := []tc{
		// must-include first (in their order), then the rest of available
		// in order, skipping those already taken, capped at size.
		{[]string{"d0", "d1", "d2", "d3", "d4", "d5"}, []string{"d4", "d1"}, 4, []string{"d4", "d1", "d0", "d2"}},
		// fewer available than asked for: all of them.
		{[]string{"a", "b"}, nil, 5, []string{"a", "b"}},
		// the cap may leave out available ones entirely.
		{[]string{"x", "y", "z"}, []string{"y"}, 1, []string{"y"}},
		{[]string{"p", "q", "r"}, nil, 2, []string{"p", "q"}},
	}
	req := &pb.PreferredAllocationRequest{}
	for _, c := range cases {
		req.ContainerRequests = append(req.ContainerRequests, &pb.ContainerPreferredAllocationRequest{
			AvailableDeviceIDs:   c.available,
			MustIncludeDeviceIDs: c.must,
			AllocationSize:       c.size,
		})
	}
	ctx, cancel := bounded(5 * time.Second)
	defer cancel()
	resp, err := s.dp.GetPreferredAllocation(ctx, req)
	if err != nil {
		return err
	}
	got := resp.GetContainerResponses()
	if len(got) != len(cases) {
		return fmt.Errorf("got %d container responses, want %d", len(got), len(cases))
	}
	for i, c := range cases {
		ids := got[i].GetDeviceIDs()
		if len(ids) == 0 && len(c.want) == 0 {
			continue
		}
		if !reflect.DeepEqual(ids, c.want) {
			return fmt.Errorf("container %d (available %v, must %v, size %d): got %q, want %q",
				i, c.available, c.must, c.size, ids, c.want)
		}
	}
	return nil
}

func (s *suite) caseAllocateTwo() error {
	resp, err := allocate(s.dp, 5*time.Second, []string{"dev-0", "dev-1"}, []string{"dev-2"})
	if err != nil {
		return err
	}
	return checkDevices(resp, "dev-0,dev-1", "dev-2")
}

func (s *suite) caseErrorStatus() error {
	// Non-ASCII UTF-8, a % sign and a newline: all of them must be
	// percent-encoded in grpc-message and come back exactly.
	msg := "grüße 100% ✓ 日本\nnächste Zeile"
	_, err := allocate(s.dp, 5*time.Second, []string{"status:9:" + msg})
	st, err := expectCode(err, codes.FailedPrecondition)
	if err != nil {
		return err
	}
	if st.Message() != msg {
		return fmt.Errorf("message %q, want %q", st.Message(), msg)
	}
	return nil
}

// invokeUnknown calls a method the server does not have and checks for
// UNIMPLEMENTED with a message that names what was missing.
func (s *suite) invokeUnknown(method, mustName string) error {
	ctx, cancel := bounded(5 * time.Second)
	defer cancel()
	err := s.conn.Invoke(ctx, method, &pb.Empty{}, &pb.Empty{})
	st, err := expectCode(err, codes.Unimplemented)
	if err != nil {
		return err
	}
	if !strings.Contains(st.Message(), mustName) {
		return fmt.Errorf("message %q does not name %q", st.Message(), mustName)
	}
	return nil
}

func (s *suite) caseUnknownMethod() error {
	return s.invokeUnknown("/v1beta1.DevicePlugin/Nope", "Nope")
}

func (s *suite) caseUnknownService() error {
	return s.invokeUnknown("/v1beta1.Nope/X", "v1beta1.Nope")
}

// requestOfSize builds an Allocate request (one container, one long id)
// whose protobuf encoding is exactly size bytes.
func requestOfSize(size int) (*pb.AllocateRequest, error) {
	n := size
	for i := 0; i < 4; i++ {
		req := allocReq([]string{strings.Repeat("a", n)})
		got := proto.Size(req)
		if got == size {
			return req, nil
		}
		n -= got - size
	}
	return nil, fmt.Errorf("cannot build a request of exactly %d bytes", size)
}

func (s *suite) caseRequestUnderLimit() error {
	req, err := requestOfSize(maxMsg - 64)
	if err != nil {
		return err
	}
	ctx, cancel := bounded(20 * time.Second)
	defer cancel()
	resp, err := s.dp.Allocate(ctx, req)
	if err != nil {
		return fmt.Errorf("%d-byte request: %v", proto.Size(req), err)
	}
	return checkDevices(resp, req.ContainerRequests[0].DevicesIds[0])
}

func (s *suite) caseRequestOverLimit() error {
	req, err := requestOfSize(maxMsg + 64)
	if err != nil {
		return err
	}
	ctx, cancel := bounded(20 * time.Second)
	defer cancel()
	_, err = s.dp.Allocate(ctx, req)
	if _, err := expectCode(err, codes.ResourceExhausted); err != nil {
		return fmt.Errorf("%d-byte request: %v", proto.Size(req), err)
	}
	// The connection must still be usable afterwards.
	if _, err := allocate(s.dp, 5*time.Second, []string{"after"}); err != nil {
		return fmt.Errorf("next call on the connection: %v", err)
	}
	return nil
}

func (s *suite) caseLargeResponse() error {
	const n = 4000000
	resp, err := allocate(s.dp, 20*time.Second, []string{fmt.Sprintf("size:%d", n)})
	if err != nil {
		return err
	}
	if len(resp.GetContainerResponses()) != 1 {
		return fmt.Errorf("got %d container responses, want 1", len(resp.GetContainerResponses()))
	}
	pad := resp.GetContainerResponses()[0].GetEnvs()["PAD"]
	if len(pad) != n || strings.Count(pad, "x") != n {
		return fmt.Errorf("PAD has %d bytes (%d of them 'x'), want %d x's", len(pad), strings.Count(pad, "x"), n)
	}
	return nil
}

func (s *suite) caseDeadline() error {
	before, err := s.stats()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err = s.dp.Allocate(ctx, allocReq([]string{"sleep:2000"}))
	took := time.Since(start)
	if _, err := expectCode(err, codes.DeadlineExceeded); err != nil {
		return err
	}
	if took > time.Second {
		return fmt.Errorf("DEADLINE_EXCEEDED came after %v, want within about 1 s", took)
	}
	s.note("j: DEADLINE_EXCEEDED after %v", took)
	_, err = s.pollStats(10*time.Second, func(c counters) error {
		return want(c, "deadline_cancelled", c["deadline_cancelled"] > before["deadline_cancelled"],
			fmt.Sprintf("> %d", before["deadline_cancelled"]))
	})
	return err
}

// The :authority values kubelets and other clients have sent for a
// unix socket (deviceplugin-api.md 4.1 and 4.2).
type authorityKind int

const (
	authorityRaw       authorityKind = iota // kubelet <= 1.25: the path as it is
	authorityEncoded                        // grpc-go >= 1.58: %2Fvar%2Flib...
	authorityCoreStyle                      // grpc core >= 1.57: var%2Flib...
)

// encodeAuthority percent-encodes like grpc-go's encodeAuthority: what is
// not unreserved, a sub-delim, ':' or '@' becomes %XX.
func encodeAuthority(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9',
			strings.IndexByte("-._~!$&'()*+,;=:@", c) >= 0:
			b.WriteByte(c)
		default:
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

func (s *suite) authorityCase(kind authorityKind) func() error {
	return func() error {
		path, err := filepath.Abs(s.socket)
		if err != nil {
			return err
		}
		authority := path
		switch kind {
		case authorityEncoded:
			authority = encodeAuthority(path)
		case authorityCoreStyle:
			authority = encodeAuthority(strings.TrimPrefix(path, "/"))
		}
		conn, err := dialPlugin(context.Background(), s.socket, grpc.WithAuthority(authority))
		if err != nil {
			return fmt.Errorf("dial: %v", err)
		}
		defer conn.Close()
		ctx, cancel := bounded(5 * time.Second)
		defer cancel()
		opts, err := pb.NewDevicePluginClient(conn).GetDevicePluginOptions(ctx, &pb.Empty{})
		if err != nil {
			return fmt.Errorf(":authority %q: %v", authority, err)
		}
		if !opts.GetGetPreferredAllocationAvailable() {
			return fmt.Errorf(":authority %q: wrong options %v", authority, opts)
		}
		return nil
	}
}
