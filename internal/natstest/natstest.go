// Package natstest runs real NATS servers inside a test process, with
// JetStream, on loopback only, shut down when the test ends.
package natstest

import (
	"net"
	"strconv"
	"strings"
	"testing"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/hush-chat/hush/internal/wait"
)

// StartServer runs one server on 127.0.0.1 at port (0: a free one),
// keeping JetStream's files in dir ("": a fresh temporary directory), and
// returns it ready for connections. Each edit changes the options first
// (TLS, users, routes).
func StartServer(t testing.TB, port int, dir string, edit ...func(*server.Options)) *server.Server {
	t.Helper()
	if port == 0 {
		port = -1
	}
	if dir == "" {
		dir = t.TempDir()
	}
	opts := &server.Options{Host: "127.0.0.1", Port: port, JetStream: true, StoreDir: dir, NoSigs: true, NoLog: true}
	for _, e := range edit {
		e(opts)
	}
	s, err := server.NewServer(opts)
	if err != nil {
		t.Fatal(err)
	}
	s.Start()
	t.Cleanup(s.Shutdown)
	if !s.ReadyForConnections(wait.Timeout) {
		t.Fatal("nats server not ready")
	}
	return s
}

// Cluster runs n servers clustered by routes (cluster "hush", servers
// named n0, n1, …). Their JetStream needs a moment more to elect a
// leader: wait for an account answer before using it.
func Cluster(t testing.TB, n int) []*server.Server {
	t.Helper()
	ports := make([]int, n)
	var routes []string
	for i := range ports {
		ports[i] = freePort(t)
		routes = append(routes, "nats://127.0.0.1:"+strconv.Itoa(ports[i]))
	}
	servers := make([]*server.Server, n)
	for i := range servers {
		servers[i] = StartServer(t, 0, "", func(o *server.Options) {
			o.ServerName = "n" + strconv.Itoa(i)
			o.Cluster = server.ClusterOpts{Name: "hush", Host: "127.0.0.1", Port: ports[i]}
			o.Routes = server.RoutesFromStr(strings.Join(routes, ","))
		})
	}
	return servers
}

// freePort is a port nothing listens on just now: the routes must be
// known before the servers that listen on them start.
func freePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}
