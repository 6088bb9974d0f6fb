package redistest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// ClusterNodeTimeout is the cluster-node-timeout of the nodes that
// [StartCluster] starts: a master that does not answer for this long is
// flagged as failing, and its replica takes over about a second later.
// Redis's default is 15 s; this short one keeps failover tests quick.
const ClusterNodeTimeout = 1000 * time.Millisecond

// NumSlots is the number of hash slots of a Redis Cluster.
const NumSlots = 16384

// clusterWait bounds each wait for a cluster to settle.
const clusterWait = 30 * time.Second

// Cluster is a Redis Cluster of redis-server processes started for a test.
type Cluster struct {
	// Nodes are every node started, masters and replicas, in the order in
	// which they were given to redis-cli --cluster create (masters first);
	// roles change with failovers, see [Cluster.Masters].
	Nodes []*Node

	masters  int
	replicas int
}

// Node is one redis-server of a [Cluster].
type Node struct {
	*Server
	ID string // the cluster node id

	// Client is a plain client on this node alone (no redirections), for
	// inspecting or administering it. It is closed when the test ends.
	Client *redis.Client
}

// Live reports whether the node's process is running.
func (n *Node) Live() bool { return n.Pid() != 0 }

func (n *Node) String() string { return n.Addr }

// StartCluster starts masters*(1+replicasPerMaster) redis-servers with
// cluster mode on, on free loopback ports below 55535 whose bus ports
// (port+10000) are free too, each in a directory of its own, joins them into
// a cluster with redis-cli --cluster create, and waits until every node
// reports cluster_state:ok with all 16384 slots served and every replica is
// in sync with its master. Every process is stopped by pid when the test
// ends. Without redis-server and redis-cli on the PATH the test fails if
// [Required], and is skipped otherwise.
func StartCluster(t testing.TB, masters, replicasPerMaster int) *Cluster {
	t.Helper()
	if masters < 3 || replicasPerMaster < 0 {
		t.Fatalf("redistest: StartCluster(%d, %d): a cluster needs at least 3 masters", masters, replicasPerMaster)
	}
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		Unavailable(t, "no redis-server on PATH")
	}
	cli, err := exec.LookPath("redis-cli")
	if err != nil {
		Unavailable(t, "no redis-cli on PATH (needed to create a cluster)")
	}
	begin := time.Now()
	c := &Cluster{masters: masters, replicas: replicasPerMaster}
	used := map[int]bool{}
	for range masters * (1 + replicasPerMaster) {
		s, err := startClusterNode(t, bin, used)
		if err != nil {
			t.Fatalf("redistest: start cluster node: %v", err)
		}
		n := &Node{Server: s, Client: redis.NewClient(&redis.Options{Addr: s.Addr, MaxRetries: -1})}
		t.Cleanup(func() { n.Client.Close() })
		c.Nodes = append(c.Nodes, n)
	}

	ctx, cancel := context.WithTimeout(context.Background(), clusterWait)
	defer cancel()
	args := append([]string{"--cluster", "create"}, c.Addrs()...)
	args = append(args, "--cluster-replicas", strconv.Itoa(replicasPerMaster), "--cluster-yes")
	out, err := exec.CommandContext(ctx, cli, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("redistest: redis-cli --cluster create: %v\n%s\nlog of %s:\n%s", err, out, c.Nodes[0].Addr, c.Nodes[0].logTail())
	}
	for _, n := range c.Nodes {
		if n.ID, err = n.Client.ClusterMyID(ctx).Result(); err != nil {
			t.Fatalf("redistest: CLUSTER MYID on %s: %v", n.Addr, err)
		}
	}
	if err := c.WaitHealthy(ctx); err != nil {
		t.Fatalf("redistest: cluster did not settle: %v", err)
	}
	t.Logf("redistest: cluster of %d masters and %d replicas each up in %v: %s",
		masters, replicasPerMaster, time.Since(begin).Round(time.Millisecond), strings.Join(c.Addrs(), " "))
	return c
}

// clusterArgs are the redis-server arguments of a cluster node.
var clusterArgs = []string{
	"--cluster-enabled", "yes",
	"--cluster-config-file", "nodes.conf",
	"--cluster-node-timeout", strconv.Itoa(int(ClusterNodeTimeout / time.Millisecond)),
	// A replica takes over however long its link to the master was down.
	"--cluster-replica-validity-factor", "0",
	// Start a replica's full sync at once (Redis 7 waits 5 s by default).
	"--repl-diskless-sync-delay", "0",
}

// startClusterNode starts one cluster node on a port below 55535 whose bus
// port is free, in a fresh directory, retrying on another port if the one
// chosen was taken meanwhile.
func startClusterNode(t testing.TB, bin string, used map[int]bool) (*Server, error) {
	var lastErr error
	for range 20 {
		port, err := FreePort(55535)
		if err != nil {
			return nil, err
		}
		if used[port] || used[port+10000] || !portFree(port+10000) {
			continue
		}
		s := &Server{
			Dir:  t.TempDir(),
			Port: port,
			Addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port)),
			args: clusterArgs,
		}
		if lastErr = s.start(bin); lastErr != nil {
			continue
		}
		used[port], used[port+10000] = true, true
		t.Cleanup(s.Stop)
		return s, nil
	}
	if lastErr == nil {
		lastErr = errors.New("no port below 55535 with a free bus port")
	}
	return nil, lastErr
}

// portFree reports whether a TCP listener can be opened on port of 127.0.0.1.
func portFree(port int) bool {
	l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	if err != nil {
		return false
	}
	l.Close()
	return true
}

// Addrs returns the addresses of every node, live or not.
func (c *Cluster) Addrs() []string {
	addrs := make([]string, len(c.Nodes))
	for i, n := range c.Nodes {
		addrs[i] = n.Addr
	}
	return addrs
}

// Client returns a cluster client on the cluster's nodes, closed when the
// test ends. opt may be nil; its Addrs, when empty, are set to every node.
func (c *Cluster) Client(t testing.TB, opt *redis.ClusterOptions) *redis.ClusterClient {
	t.Helper()
	if opt == nil {
		opt = &redis.ClusterOptions{}
	}
	if len(opt.Addrs) == 0 {
		opt.Addrs = c.Addrs()
	}
	cc := redis.NewClusterClient(opt)
	t.Cleanup(func() { cc.Close() })
	return cc
}

// Node returns the node with the given address or node id, or nil.
func (c *Cluster) Node(addrOrID string) *Node {
	for _, n := range c.Nodes {
		if n.Addr == addrOrID || n.ID == addrOrID {
			return n
		}
	}
	return nil
}

// live returns the nodes whose process runs.
func (c *Cluster) live() []*Node {
	var out []*Node
	for _, n := range c.Nodes {
		if n.Live() {
			out = append(out, n)
		}
	}
	return out
}

// SlotMap returns, for each of the 16384 slots, the master that serves it,
// as a live node sees it (nil for a slot it sees unserved).
func (c *Cluster) SlotMap(ctx context.Context) ([]*Node, error) {
	var lastErr error = errors.New("no live node")
	for _, n := range c.live() {
		m, err := c.slotMapOf(ctx, n)
		if err == nil {
			return m, nil
		}
		lastErr = err
	}
	return nil, lastErr
}

func (c *Cluster) slotMapOf(ctx context.Context, n *Node) ([]*Node, error) {
	shards, err := n.Client.ClusterShards(ctx).Result()
	if err != nil {
		return nil, fmt.Errorf("CLUSTER SHARDS on %s: %w", n.Addr, err)
	}
	m := make([]*Node, NumSlots)
	for _, sh := range shards {
		// The shard's master; a failed master that a replica has replaced
		// can still be listed as one, so a healthy master comes first.
		var owner *Node
		for _, sn := range sh.Nodes {
			if sn.Role != "master" || (owner != nil && sn.Health != "online") {
				continue
			}
			if owner = c.Node(sn.ID); owner == nil {
				return nil, fmt.Errorf("CLUSTER SHARDS on %s names unknown node %s", n.Addr, sn.ID)
			}
		}
		if owner == nil {
			continue
		}
		for _, r := range sh.Slots {
			for s := r.Start; s <= r.End && s < NumSlots; s++ {
				m[s] = owner
			}
		}
	}
	return m, nil
}

// Masters returns the masters that serve at least one slot, sorted by
// address, as a live node sees them.
func (c *Cluster) Masters(ctx context.Context) ([]*Node, error) {
	m, err := c.SlotMap(ctx)
	if err != nil {
		return nil, err
	}
	var out []*Node
	for _, n := range m {
		if n != nil && !slices.Contains(out, n) {
			out = append(out, n)
		}
	}
	slices.SortFunc(out, func(a, b *Node) int { return strings.Compare(a.Addr, b.Addr) })
	return out, nil
}

// MasterOf returns the master that serves key's slot.
func (c *Cluster) MasterOf(ctx context.Context, key string) (*Node, error) {
	m, err := c.SlotMap(ctx)
	if err != nil {
		return nil, err
	}
	if n := m[Slot(key)]; n != nil {
		return n, nil
	}
	return nil, fmt.Errorf("slot %d of %q is not served", Slot(key), key)
}

// SlotsOf returns the slots that master n serves.
func (c *Cluster) SlotsOf(ctx context.Context, n *Node) ([]int, error) {
	m, err := c.SlotMap(ctx)
	if err != nil {
		return nil, err
	}
	var out []int
	for s, owner := range m {
		if owner == n {
			out = append(out, s)
		}
	}
	return out, nil
}

// Kill kills node n by pid, as a crash would (SIGKILL), and waits for it to
// exit.
func (c *Cluster) Kill(n *Node) { n.Stop() }

// Restart starts a killed node again on its port and directory; it rejoins
// the cluster with the configuration it saved (a master that was replaced
// comes back as a replica of its successor).
func (c *Cluster) Restart(t testing.TB, n *Node) { n.Server.Restart(t) }

// WaitHealthy waits, polling, until every live node reports
// cluster_state:ok with all 16384 slots assigned and none failing, all live
// nodes agree on which master serves each slot, every served slot has a live
// master, and every live replica's link to its master is up. It gives up
// with an error naming what was still wrong (and the node's log tail) when
// ctx is done or after 30 s.
func (c *Cluster) WaitHealthy(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, clusterWait)
	defer cancel()
	var why error
	for {
		if why = c.health(ctx); why == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("after %v: %w", clusterWait, why)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func (c *Cluster) health(ctx context.Context) error {
	var first []*Node
	for _, n := range c.live() {
		info, err := n.Client.ClusterInfo(ctx).Result()
		if err != nil {
			return fmt.Errorf("CLUSTER INFO on %s: %w", n.Addr, err)
		}
		for _, want := range []string{"cluster_state:ok", "cluster_slots_assigned:16384", "cluster_slots_ok:16384"} {
			k, v, _ := strings.Cut(want, ":")
			if got := infoField(info, k); got != v {
				nodes, _ := n.Client.ClusterNodes(ctx).Result()
				return fmt.Errorf("%[1]s reports %[2]s:%[3]s, want %[4]s\nCLUSTER NODES on %[1]s:\n%[5]s\nCLUSTER INFO:\n%[6]s\nlog of %[1]s:\n%[7]s", n.Addr, k, got, want, nodes, info, n.logTail())
			}
		}
		m, err := c.slotMapOf(ctx, n)
		if err != nil {
			return err
		}
		for s, owner := range m {
			if owner == nil || !owner.Live() {
				return fmt.Errorf("%s sees slot %d served by %v, not a live master", n.Addr, s, owner)
			}
		}
		if first == nil {
			first = m
		} else if !slices.Equal(first, m) {
			return fmt.Errorf("%s and %s disagree on the slot map", c.live()[0].Addr, n.Addr)
		}
		repl, err := n.Client.Info(ctx, "replication").Result()
		if err != nil {
			return fmt.Errorf("INFO replication on %s: %w", n.Addr, err)
		}
		if infoField(repl, "role") == "slave" && infoField(repl, "master_link_status") != "up" {
			return fmt.Errorf("replica %s: master_link_status:%s", n.Addr, infoField(repl, "master_link_status"))
		}
	}
	return nil
}

// WaitRejoined waits, polling, until n, restarted after a failover gave its
// slots to its replica, runs as a replica again with its link to its new
// master up. It gives up with an error showing n's view of the cluster and
// its log tail when ctx is done or after 30 s.
func (c *Cluster) WaitRejoined(ctx context.Context, n *Node) error {
	ctx, cancel := context.WithTimeout(ctx, clusterWait)
	defer cancel()
	for {
		repl, err := n.Client.Info(ctx, "replication").Result()
		if err == nil && infoField(repl, "role") == "slave" && infoField(repl, "master_link_status") == "up" {
			return nil
		}
		select {
		case <-ctx.Done():
			nodes, _ := n.Client.ClusterNodes(context.Background()).Result()
			return fmt.Errorf("after %v, %s has not rejoined as a replica (INFO replication: %q, %v)\nCLUSTER NODES on %[2]s:\n%[5]s\nlog of %[2]s:\n%[6]s",
				clusterWait, n.Addr, repl, err, nodes, n.logTail())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// WaitReplicated waits until every live replica has received every write
// that its master had accepted when WaitReplicated was called, so that a
// failover cannot lose them.
func (c *Cluster) WaitReplicated(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, clusterWait)
	defer cancel()
	for _, n := range c.live() {
		repl, err := n.Client.Info(ctx, "replication").Result()
		if err != nil {
			return fmt.Errorf("INFO replication on %s: %w", n.Addr, err)
		}
		if infoField(repl, "role") != "master" {
			continue
		}
		if err := waitReplicated(ctx, n.Client); err != nil {
			return err
		}
	}
	return nil
}

// waitReplicated waits until every replica that master lists has
// acknowledged the master's replication offset as it is now.
func waitReplicated(ctx context.Context, master *redis.Client) error {
	repl, err := master.Info(ctx, "replication").Result()
	if err != nil {
		return fmt.Errorf("INFO replication on %s: %w", master.Options().Addr, err)
	}
	target, _ := strconv.ParseInt(infoField(repl, "master_repl_offset"), 10, 64)
	for {
		repl, err := master.Info(ctx, "replication").Result()
		if err != nil {
			return fmt.Errorf("INFO replication on %s: %w", master.Options().Addr, err)
		}
		lagging := ""
		n, _ := strconv.Atoi(infoField(repl, "connected_slaves"))
		for i := range n {
			// slave0:ip=127.0.0.1,port=7001,state=online,offset=1234,lag=0
			line := infoField(repl, "slave"+strconv.Itoa(i))
			off := int64(-1)
			for f := range strings.SplitSeq(line, ",") {
				if v, ok := strings.CutPrefix(f, "offset="); ok {
					off, _ = strconv.ParseInt(v, 10, 64)
				}
			}
			if off < target {
				lagging = line
			}
		}
		if lagging == "" {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("replica of %s still behind offset %d: %s: %w", master.Options().Addr, target, lagging, ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// MigrateSlots moves slots from master from to master to while the cluster
// serves clients, as redis-cli --cluster reshard does: for each slot, CLUSTER
// SETSLOT IMPORTING on to and MIGRATING on from, MIGRATE of its keys in
// batches, then CLUSTER SETSLOT NODE on to, from and every other master.
// During the move clients get ASK and then MOVED redirections. It returns
// the number of keys moved.
func (c *Cluster) MigrateSlots(ctx context.Context, from, to *Node, slots []int) (int, error) {
	masters, err := c.Masters(ctx)
	if err != nil {
		return 0, err
	}
	host, port, _ := net.SplitHostPort(to.Addr)
	moved := 0
	for _, slot := range slots {
		if err := to.Client.Do(ctx, "CLUSTER", "SETSLOT", slot, "IMPORTING", from.ID).Err(); err != nil {
			return moved, fmt.Errorf("SETSLOT %d IMPORTING on %s: %w", slot, to.Addr, err)
		}
		if err := from.Client.Do(ctx, "CLUSTER", "SETSLOT", slot, "MIGRATING", to.ID).Err(); err != nil {
			return moved, fmt.Errorf("SETSLOT %d MIGRATING on %s: %w", slot, from.Addr, err)
		}
		for {
			keys, err := from.Client.ClusterGetKeysInSlot(ctx, slot, 100).Result()
			if err != nil {
				return moved, fmt.Errorf("GETKEYSINSLOT %d on %s: %w", slot, from.Addr, err)
			}
			if len(keys) == 0 {
				break
			}
			args := []any{"MIGRATE", host, port, "", 0, 10000, "KEYS"}
			for _, k := range keys {
				args = append(args, k)
			}
			if err := from.Client.Do(ctx, args...).Err(); err != nil && err.Error() != "NOKEY" {
				return moved, fmt.Errorf("MIGRATE of slot %d from %s to %s: %w", slot, from.Addr, to.Addr, err)
			}
			moved += len(keys)
		}
		// The new owner first, so that it answers for the slot before the
		// old one starts sending MOVED there.
		order := []*Node{to, from}
		for _, m := range masters {
			if m != to && m != from {
				order = append(order, m)
			}
		}
		for _, m := range order {
			if err := m.Client.Do(ctx, "CLUSTER", "SETSLOT", slot, "NODE", to.ID).Err(); err != nil {
				return moved, fmt.Errorf("SETSLOT %d NODE on %s: %w", slot, m.Addr, err)
			}
		}
	}
	return moved, nil
}

// infoField returns the value of field in the text of INFO or CLUSTER INFO.
func infoField(info, field string) string {
	for line := range strings.SplitSeq(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), field+":"); ok {
			return v
		}
	}
	return ""
}

// Slot returns the hash slot of key, as Redis Cluster computes it: CRC16
// (XMODEM) of the key, or of its hash tag (the part between the first "{"
// and the next "}", when not empty), modulo 16384.
func Slot(key string) int {
	if i := strings.IndexByte(key, '{'); i >= 0 {
		if j := strings.IndexByte(key[i+1:], '}'); j > 0 {
			key = key[i+1 : i+1+j]
		}
	}
	var crc uint16
	for k := 0; k < len(key); k++ {
		crc ^= uint16(key[k]) << 8
		for range 8 {
			if crc&0x8000 != 0 {
				crc = crc<<1 ^ 0x1021
			} else {
				crc <<= 1
			}
		}
	}
	return int(crc) % NumSlots
}
