package redistest

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// SentinelMasterName is the name under which the sentinels of
// [StartSentinel] monitor their master.
const SentinelMasterName = "mymaster"

// SentinelDownAfter is the down-after-milliseconds of the sentinels that
// [StartSentinel] starts: a master that does not answer for this long is
// subjectively down, and a failover starts once two sentinels agree.
const SentinelDownAfter = 1000 * time.Millisecond

// sentinelWait bounds each wait for a Sentinel group to settle or fail over.
const sentinelWait = 30 * time.Second

// SentinelGroup is a Redis master, its replica and three sentinels that
// monitor them, started for a test.
type SentinelGroup struct {
	// Data are the two data servers: Data[0] started as the master and
	// Data[1] as its replica. Roles change with failovers; see
	// [SentinelGroup.Master].
	Data [2]*Server
	// Sentinels are the three sentinel processes.
	Sentinels []*Server
}

// StartSentinel starts a redis-server master, one replica of it and three
// sentinels (redis-server --sentinel, each with a generated configuration
// file in a directory of its own) that monitor the master under
// [SentinelMasterName] with a quorum of two, a down-after of
// [SentinelDownAfter] and a failover timeout of 3 s, all on free loopback
// ports. It waits until the replica is in sync and every sentinel knows the
// replica and the two other sentinels, so that a failover can start at once.
// Every process is stopped by pid when the test ends. Without redis-server
// on the PATH the test fails if [Required], and is skipped otherwise.
func StartSentinel(t testing.TB) *SentinelGroup {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		Unavailable(t, "no redis-server on PATH")
	}
	begin := time.Now()
	g := &SentinelGroup{}
	sync := []string{"--repl-diskless-sync-delay", "0"}
	g.Data[0] = Start(t, sync...)
	g.Data[1] = Start(t, append(sync, "--replicaof", "127.0.0.1", strconv.Itoa(g.Data[0].Port))...)
	ctx, cancel := context.WithTimeout(context.Background(), sentinelWait)
	defer cancel()
	// A sentinel learns of replicas from the master's INFO, which it reads
	// at once and then every 10 s: start the sentinels once the replica is
	// linked, so that the first INFO lists it.
	if err := waitLinked(ctx, g.Data[1], g.Data[0]); err != nil {
		t.Fatalf("redistest: %v", err)
	}
	for range 3 {
		s, err := startSentinel(t, bin, g.Data[0].Port)
		if err != nil {
			t.Fatalf("redistest: start sentinel: %v", err)
		}
		g.Sentinels = append(g.Sentinels, s)
	}
	if err := g.WaitHealthy(ctx); err != nil {
		t.Fatalf("redistest: Sentinel group did not settle: %v", err)
	}
	t.Logf("redistest: Sentinel group up in %v: master %s, replica %s, sentinels %v",
		time.Since(begin).Round(time.Millisecond), g.Data[0].Addr, g.Data[1].Addr, g.SentinelAddrs())
	return g
}

// startSentinel starts a sentinel monitoring the master on masterPort, on a
// free port, retrying on another port if the one chosen was taken meanwhile.
func startSentinel(t testing.TB, bin string, masterPort int) (*Server, error) {
	var lastErr error
	for range 5 {
		port, err := FreePort(0)
		if err != nil {
			return nil, err
		}
		dir := t.TempDir()
		conf := fmt.Sprintf(`port %d
bind 127.0.0.1
daemonize no
dir %q
logfile "redis.log"
sentinel monitor %s 127.0.0.1 %d 2
sentinel down-after-milliseconds %[3]s %[5]d
sentinel failover-timeout %[3]s 3000
sentinel parallel-syncs %[3]s 1
`, port, dir, SentinelMasterName, masterPort, SentinelDownAfter.Milliseconds())
		path := filepath.Join(dir, "sentinel.conf")
		if err := os.WriteFile(path, []byte(conf), 0o600); err != nil {
			return nil, err
		}
		s := &Server{Dir: dir, Port: port, Addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port))}
		if lastErr = s.startSentinel(bin, path); lastErr == nil {
			t.Cleanup(s.Stop)
			return s, nil
		}
	}
	return nil, lastErr
}

// startSentinel runs redis-server path --sentinel and waits for it to answer
// PING.
func (s *Server) startSentinel(bin, path string) error {
	return s.run("redis-server --sentinel", exec.Command(bin, path, "--sentinel"))
}

// SentinelAddrs returns the addresses of the three sentinels.
func (g *SentinelGroup) SentinelAddrs() []string {
	addrs := make([]string, len(g.Sentinels))
	for i, s := range g.Sentinels {
		addrs[i] = s.Addr
	}
	return addrs
}

// Client returns a failover client (redis.NewFailoverClient) on the group,
// closed when the test ends. opt may be nil; its MasterName and
// SentinelAddrs, when empty, are set to the group's.
func (g *SentinelGroup) Client(t testing.TB, opt *redis.FailoverOptions) *redis.Client {
	t.Helper()
	if opt == nil {
		opt = &redis.FailoverOptions{}
	}
	if opt.MasterName == "" {
		opt.MasterName = SentinelMasterName
	}
	if len(opt.SentinelAddrs) == 0 {
		opt.SentinelAddrs = g.SentinelAddrs()
	}
	c := redis.NewFailoverClient(opt)
	t.Cleanup(func() { c.Close() })
	return c
}

// Server returns the data server with the given address, or nil.
func (g *SentinelGroup) Server(addr string) *Server {
	for _, s := range g.Data {
		if s.Addr == addr {
			return s
		}
	}
	return nil
}

// Master returns the data server that every live sentinel names as the
// master, provided that it is live and reports role:master.
func (g *SentinelGroup) Master(ctx context.Context) (*Server, error) {
	var addr string
	for _, s := range g.Sentinels {
		if s.Pid() == 0 {
			continue
		}
		sc := redis.NewSentinelClient(&redis.Options{Addr: s.Addr, MaxRetries: -1})
		hp, err := sc.GetMasterAddrByName(ctx, SentinelMasterName).Result()
		sc.Close()
		if err != nil {
			return nil, fmt.Errorf("sentinel %s: get-master-addr-by-name: %w", s.Addr, err)
		}
		a := net.JoinHostPort(hp[0], hp[1])
		if addr != "" && a != addr {
			return nil, fmt.Errorf("sentinels disagree on the master: %s and %s", addr, a)
		}
		addr = a
	}
	m := g.Server(addr)
	if m == nil || m.Pid() == 0 {
		return nil, fmt.Errorf("sentinels name %s, which is not a live data server", addr)
	}
	if role, err := g.role(ctx, m); err != nil || role != "master" {
		return nil, fmt.Errorf("sentinels name %s, which reports role %q (%v)", addr, role, err)
	}
	return m, nil
}

func (g *SentinelGroup) role(ctx context.Context, s *Server) (string, error) {
	c := redis.NewClient(&redis.Options{Addr: s.Addr, MaxRetries: -1})
	defer c.Close()
	info, err := c.Info(ctx, "replication").Result()
	if err != nil {
		return "", err
	}
	return infoField(info, "role"), nil
}

// WaitHealthy waits, polling, until every live sentinel names the same live
// master, every other live data server is its replica with the link up and
// in sync, and every live sentinel knows a replica that is not down and the
// other live sentinels: the state in which a failover can start at once.
func (g *SentinelGroup) WaitHealthy(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, sentinelWait)
	defer cancel()
	var why error
	for {
		if why = g.health(ctx); why == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("after %v: %w", sentinelWait, why)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func (g *SentinelGroup) health(ctx context.Context) error {
	m, err := g.Master(ctx)
	if err != nil {
		return err
	}
	replicas := 0
	for _, s := range g.Data {
		if s == m || s.Pid() == 0 {
			continue
		}
		if err := linked(ctx, s, m); err != nil {
			return err
		}
		replicas++
	}
	live := 0
	for _, s := range g.Sentinels {
		if s.Pid() != 0 {
			live++
		}
	}
	for _, s := range g.Sentinels {
		if s.Pid() == 0 {
			continue
		}
		sc := redis.NewSentinelClient(&redis.Options{Addr: s.Addr, MaxRetries: -1})
		reps, err := sc.Replicas(ctx, SentinelMasterName).Result()
		if err == nil {
			var others []map[string]string
			others, err = sc.Sentinels(ctx, SentinelMasterName).Result()
			if err == nil && len(others) < live-1 {
				err = fmt.Errorf("knows %d other sentinels, want %d", len(others), live-1)
			}
		}
		sc.Close()
		if err != nil {
			return fmt.Errorf("sentinel %s: %w", s.Addr, err)
		}
		up := 0
		for _, r := range reps {
			if flags := r["flags"]; flags == "slave" {
				up++
			}
		}
		if up < replicas {
			return fmt.Errorf("sentinel %s knows %d replicas that are up, want %d\nlog:\n%s", s.Addr, up, replicas, s.logTail())
		}
	}
	mc := redis.NewClient(&redis.Options{Addr: m.Addr, MaxRetries: -1})
	defer mc.Close()
	return waitReplicated(ctx, mc)
}

// Failover asks a sentinel for a failover (SENTINEL FAILOVER, which needs no
// agreement) and waits until every sentinel names the new master and it
// reports role:master. It returns the old and the new master. The old
// master, still running, is left for the sentinels to turn into a replica
// (they notice it some 10 s later); [SentinelGroup.Rejoin] does it at once.
func (g *SentinelGroup) Failover(ctx context.Context) (from, to *Server, err error) {
	from, err = g.Master(ctx)
	if err != nil {
		return nil, nil, err
	}
	sc := redis.NewSentinelClient(&redis.Options{Addr: g.Sentinels[0].Addr, MaxRetries: -1})
	defer sc.Close()
	if err := sc.Failover(ctx, SentinelMasterName).Err(); err != nil {
		return nil, nil, fmt.Errorf("SENTINEL FAILOVER on %s: %w", g.Sentinels[0].Addr, err)
	}
	to, err = g.WaitNewMaster(ctx, from)
	return from, to, err
}

// KillMaster kills the current master by pid (SIGKILL), as a crash would,
// and returns it. The sentinels notice after [SentinelDownAfter] and fail
// over; see [SentinelGroup.WaitNewMaster].
func (g *SentinelGroup) KillMaster(ctx context.Context) (*Server, error) {
	m, err := g.Master(ctx)
	if err != nil {
		return nil, err
	}
	m.Stop()
	return m, nil
}

// WaitNewMaster waits, polling, until every live sentinel names a master
// other than old and that server reports role:master, and returns it.
func (g *SentinelGroup) WaitNewMaster(ctx context.Context, old *Server) (*Server, error) {
	ctx, cancel := context.WithTimeout(ctx, sentinelWait)
	defer cancel()
	var why error
	for {
		m, err := g.Master(ctx)
		if err == nil && m != old {
			return m, nil
		}
		if err != nil {
			why = err
		} else {
			why = fmt.Errorf("sentinels still name %s", old.Addr)
		}
		select {
		case <-ctx.Done():
			var logs string
			for _, s := range g.Sentinels {
				logs += "\nsentinel " + s.Addr + ":\n" + s.logTail()
			}
			return nil, fmt.Errorf("no new master after %v: %w%s", sentinelWait, why, logs)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// linked reports, as an error, whether replica is not yet a replica of
// master with its link up.
func linked(ctx context.Context, replica, master *Server) error {
	c := redis.NewClient(&redis.Options{Addr: replica.Addr, MaxRetries: -1})
	defer c.Close()
	info, err := c.Info(ctx, "replication").Result()
	if err != nil {
		return fmt.Errorf("INFO replication on %s: %w", replica.Addr, err)
	}
	if infoField(info, "role") != "slave" || infoField(info, "master_port") != strconv.Itoa(master.Port) ||
		infoField(info, "master_link_status") != "up" {
		return fmt.Errorf("%s is not yet a replica of %s with its link up\nlog:\n%s", replica.Addr, master.Addr, replica.logTail())
	}
	return nil
}

// waitLinked waits, polling, until replica is a replica of master with its
// link up.
func waitLinked(ctx context.Context, replica, master *Server) error {
	for {
		err := linked(ctx, replica, master)
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// Rejoin makes every live data server other than the master a replica of
// the master (REPLICAOF), as the sentinels would once they notice (up to 10 s
// after a failover), and waits until the group is healthy again, so that the
// next failover can start at once.
func (g *SentinelGroup) Rejoin(ctx context.Context) error {
	m, err := g.Master(ctx)
	if err != nil {
		return err
	}
	for _, s := range g.Data {
		if s == m || s.Pid() == 0 {
			continue
		}
		c := redis.NewClient(&redis.Options{Addr: s.Addr, MaxRetries: -1})
		err := c.ReplicaOf(ctx, "127.0.0.1", strconv.Itoa(m.Port)).Err()
		c.Close()
		if err != nil {
			return fmt.Errorf("REPLICAOF on %s: %w", s.Addr, err)
		}
	}
	return g.WaitHealthy(ctx)
}
