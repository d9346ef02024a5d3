// Package cluster starts a private three-node MariaDB Galera cluster on
// loopback ports, for tests: each node is a mariadbd process of its own
// with a data directory, port, socket and Galera ports of its own, and
// every process it starts is stopped by its pid when Stop runs (or killed
// by the kernel if the Go process that started it dies first).
package cluster

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	// The driver the readiness checks use; the tests open GORM on the same.
	_ "github.com/go-sql-driver/mysql"
)

// The programs and the provider library the cluster needs (Debian's
// mariadb-server and galera-4 packages).
const (
	Mariadbd  = "/usr/sbin/mariadbd"
	InstallDB = "mariadb-install-db"
	Provider  = "/usr/lib/galera/libgalera_smm.so"
)

// Size is the number of nodes.
const Size = 3

// Database is the database every node serves, created at start.
const Database = "test"

// Missing returns what the host lacks to run a cluster, or "" when nothing.
func Missing() string {
	var miss []string
	if _, err := os.Stat(Mariadbd); err != nil {
		miss = append(miss, Mariadbd)
	}
	if _, err := exec.LookPath(InstallDB); err != nil {
		miss = append(miss, InstallDB)
	}
	if _, err := os.Stat(Provider); err != nil {
		miss = append(miss, Provider)
	}
	for _, p := range []string{"rsync", "wsrep_sst_rsync"} {
		if _, err := exec.LookPath(p); err != nil {
			miss = append(miss, p)
		}
	}
	return strings.Join(miss, ", ")
}

// Node is one mariadbd of the cluster.
type Node struct {
	Name string
	Port int // the SQL port on 127.0.0.1
	dir  string
	cnf  string
	cmd  *exec.Cmd
	done chan struct{} // closed when the process has exited
	err  error         // its exit status, once done is closed
}

// DSN returns a go-sql-driver/mysql DSN for n as root on database test,
// with parseTime=true and params ("wsrep_sync_wait=1") appended; unknown
// parameters are set as session variables by the driver.
func (n *Node) DSN(params string) string {
	dsn := fmt.Sprintf("root@tcp(127.0.0.1:%d)/%s?parseTime=true", n.Port, Database)
	if params != "" {
		dsn += "&" + params
	}
	return dsn
}

// ErrorLog returns the last max bytes of n's error log.
func (n *Node) ErrorLog(max int) string {
	b, _ := os.ReadFile(filepath.Join(n.dir, "error.log"))
	if len(b) > max {
		b = b[len(b)-max:]
	}
	return string(b)
}

// Cluster is a running cluster. Stop it when done.
type Cluster struct {
	Nodes [Size]*Node
	base  string
	logf  func(format string, args ...any)
	stop  sync.Once
}

// Start creates the nodes' data directories under a new temporary
// directory, bootstraps the first node, joins the others (they receive
// the first node's state by rsync SST) and returns once every node reports
// wsrep_ready=ON and wsrep_cluster_size=3. On failure every process
// started is stopped and the error carries the end of the nodes' logs.
// logf receives progress lines; it may be nil.
func Start(ctx context.Context, logf func(format string, args ...any)) (c *Cluster, err error) {
	if miss := Missing(); miss != "" {
		return nil, fmt.Errorf("cluster: missing %s", miss)
	}
	if logf == nil {
		logf = func(string, ...any) {}
	}
	base, err := os.MkdirTemp("", "galera-")
	if err != nil {
		return nil, err
	}
	c = &Cluster{base: base, logf: logf}
	defer func() {
		if err != nil {
			logs := c.logs(3000)
			c.Stop()
			err = fmt.Errorf("%w\n%s", err, logs)
		}
	}()
	owner, err := serverUser()
	if err != nil {
		return nil, err
	}
	ports, err := freePorts(4 * Size)
	if err != nil {
		return nil, err
	}
	gcomm := make([]string, Size)
	for i := range Size {
		gcomm[i] = fmt.Sprintf("127.0.0.1:%d", ports[4*i+1])
	}
	for i := range Size {
		n := &Node{Name: fmt.Sprintf("node%d", i+1), Port: ports[4*i], dir: filepath.Join(base, fmt.Sprintf("node%d", i+1))}
		n.cnf = filepath.Join(n.dir, "my.cnf")
		if err := os.MkdirAll(filepath.Join(n.dir, "data"), 0o755); err != nil {
			return nil, err
		}
		cnf := config(n, ports[4*i+1], ports[4*i+2], ports[4*i+3], strings.Join(gcomm, ","))
		if err := os.WriteFile(n.cnf, []byte(cnf), 0o644); err != nil {
			return nil, err
		}
		c.Nodes[i] = n
	}
	if owner != nil {
		if err := chownAll(base, owner); err != nil {
			return nil, err
		}
	}
	start := time.Now()
	// One system database for the first node; the others start empty and
	// get theirs by SST, as a real joiner does.
	if err := c.installDB(ctx, c.Nodes[0], owner); err != nil {
		return nil, err
	}
	logf("galera: data directory made in %v", time.Since(start).Round(time.Millisecond))
	if err := c.Nodes[0].start(owner, "--wsrep-new-cluster"); err != nil {
		return nil, err
	}
	if err := c.waitReady(ctx, c.Nodes[0], 1); err != nil {
		return nil, fmt.Errorf("cluster: bootstrap %s: %w", c.Nodes[0].Name, err)
	}
	if err := c.exec(ctx, 0, "CREATE DATABASE IF NOT EXISTS "+Database); err != nil {
		return nil, err
	}
	logf("galera: %s bootstrapped on 127.0.0.1:%d after %v", c.Nodes[0].Name, c.Nodes[0].Port, time.Since(start).Round(time.Millisecond))
	// Joiners one at a time: a donor serves one SST at a time.
	for i, n := range c.Nodes[1:] {
		if err := n.start(owner); err != nil {
			return nil, err
		}
		if err := c.waitReady(ctx, n, i+2); err != nil {
			return nil, fmt.Errorf("cluster: join %s: %w", n.Name, err)
		}
		logf("galera: %s joined on 127.0.0.1:%d after %v", n.Name, n.Port, time.Since(start).Round(time.Millisecond))
	}
	for _, n := range c.Nodes {
		if err := c.waitReady(ctx, n, Size); err != nil {
			return nil, fmt.Errorf("cluster: %s: %w", n.Name, err)
		}
	}
	logf("galera: cluster of %d ready after %v", Size, time.Since(start).Round(time.Millisecond))
	return c, nil
}

// config returns the option file of node n.
func config(n *Node, gmcast, ist, sst int, gcomm string) string {
	data := filepath.Join(n.dir, "data")
	lines := []string{
		"[mysqld]",
		"datadir=" + data,
		"socket=" + filepath.Join(n.dir, "mysqld.sock"),
		"pid-file=" + filepath.Join(n.dir, "mysqld.pid"),
		"log-error=" + filepath.Join(n.dir, "error.log"),
		"tmpdir=" + n.dir,
		"bind-address=127.0.0.1",
		"port=" + strconv.Itoa(n.Port),
		"skip-name-resolve",
		"character-set-server=utf8mb4",
		"collation-server=utf8mb4_general_ci",
		"binlog_format=ROW",
		"default_storage_engine=InnoDB",
		"innodb_autoinc_lock_mode=2",
		// Small and quick: three servers share a two-core machine.
		"innodb_buffer_pool_size=64M",
		"innodb_log_file_size=32M",
		"innodb_flush_log_at_trx_commit=2",
		"performance_schema=OFF",
		"max_connections=300",
		"wsrep_on=ON",
		"wsrep_provider=" + Provider,
		"wsrep_cluster_name=gormsession_test",
		"wsrep_cluster_address=gcomm://" + gcomm,
		"wsrep_node_name=" + n.Name,
		fmt.Sprintf("wsrep_node_address=127.0.0.1:%d", gmcast),
		fmt.Sprintf("wsrep_node_incoming_address=127.0.0.1:%d", n.Port),
		"wsrep_sst_method=rsync",
		fmt.Sprintf("wsrep_sst_receive_address=127.0.0.1:%d", sst),
		fmt.Sprintf(`wsrep_provider_options="gmcast.listen_addr=tcp://127.0.0.1:%d;ist.recv_addr=127.0.0.1:%d;gcache.size=32M;pc.recovery=FALSE"`, gmcast, ist),
		"",
	}
	return strings.Join(lines, "\n")
}

// serverUser returns the account the servers run as when this process is
// root (mariadbd refuses to run as root), or nil to run them as ourselves.
func serverUser() (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	u, err := user.Lookup("mysql")
	if err != nil {
		return nil, fmt.Errorf("cluster: running as root needs the mysql user: %w", err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
}

func chownAll(root string, cred *syscall.Credential) error {
	return filepath.Walk(root, func(p string, _ os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(p, int(cred.Uid), int(cred.Gid))
	})
}

// command returns a command for a server-side program that runs as owner
// (when not nil), in its own process group, and is killed by the kernel
// if this process dies before stopping it.
func command(owner *syscall.Credential, name string, args ...string) *exec.Cmd {
	cmd := exec.Command(name, args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL, Credential: owner}
	cmd.Env = append(os.Environ(), "LC_ALL=C")
	return cmd
}

func (c *Cluster) installDB(ctx context.Context, n *Node, owner *syscall.Credential) error {
	cmd := command(owner, InstallDB, "--defaults-file="+n.cnf, "--auth-root-authentication-method=normal",
		"--skip-test-db", "--skip-name-resolve", "--wsrep-on=OFF")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("cluster: %s: %w", InstallDB, err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			return fmt.Errorf("cluster: %s: %w\n%s", InstallDB, err, out.String())
		}
		return nil
	case <-ctx.Done():
		_ = cmd.Process.Signal(syscall.SIGKILL)
		<-done
		return fmt.Errorf("cluster: %s: %w", InstallDB, ctx.Err())
	}
}

func (n *Node) start(owner *syscall.Credential, extra ...string) error {
	args := append([]string{"--defaults-file=" + n.cnf}, extra...)
	cmd := command(owner, Mariadbd, args...)
	log, err := os.OpenFile(filepath.Join(n.dir, "stdout.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		log.Close()
		return fmt.Errorf("cluster: start %s: %w", n.Name, err)
	}
	n.cmd, n.done = cmd, make(chan struct{})
	go func() {
		n.err = cmd.Wait()
		log.Close()
		close(n.done)
	}()
	return nil
}

// waitReady waits until n answers with wsrep_ready=ON,
// wsrep_local_state_comment=Synced and a cluster of at least size nodes.
func (c *Cluster) waitReady(ctx context.Context, n *Node, size int) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	db, err := sql.Open("mysql", fmt.Sprintf("root@tcp(127.0.0.1:%d)/?timeout=2s", n.Port))
	if err != nil {
		return err
	}
	defer db.Close()
	var last string
	for {
		select {
		case <-n.done:
			return fmt.Errorf("mariadbd exited: %v", n.err)
		default:
		}
		st, err := status(ctx, db)
		if err != nil {
			last = err.Error()
		} else {
			last = fmt.Sprintf("ready=%s state=%s size=%s", st["wsrep_ready"], st["wsrep_local_state_comment"], st["wsrep_cluster_size"])
			if got, _ := strconv.Atoi(st["wsrep_cluster_size"]); st["wsrep_ready"] == "ON" &&
				st["wsrep_local_state_comment"] == "Synced" && got >= size {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("not ready (%s): %w", last, ctx.Err())
		case <-n.done:
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func status(ctx context.Context, db *sql.DB) (map[string]string, error) {
	rows, err := db.QueryContext(ctx, "SHOW GLOBAL STATUS LIKE 'wsrep%'")
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	st := map[string]string{}
	for rows.Next() {
		var k, v string
		if err := rows.Scan(&k, &v); err != nil {
			return nil, err
		}
		st[strings.ToLower(k)] = v
	}
	return st, rows.Err()
}

// Status returns node i's wsrep status variables, lower-cased names.
func (c *Cluster) Status(ctx context.Context, i int) (map[string]string, error) {
	db, err := sql.Open("mysql", fmt.Sprintf("root@tcp(127.0.0.1:%d)/", c.Nodes[i].Port))
	if err != nil {
		return nil, err
	}
	defer db.Close()
	return status(ctx, db)
}

// exec runs one statement on node i as root.
func (c *Cluster) exec(ctx context.Context, i int, stmt string) error {
	db, err := sql.Open("mysql", fmt.Sprintf("root@tcp(127.0.0.1:%d)/", c.Nodes[i].Port))
	if err != nil {
		return err
	}
	defer db.Close()
	if _, err := db.ExecContext(ctx, stmt); err != nil {
		return fmt.Errorf("cluster: %s: %w", c.Nodes[i].Name, err)
	}
	return nil
}

// Stop stops every node it started, by pid: SIGTERM, waiting up to 30s
// for a clean exit, then SIGKILL to the process group made for the node
// (the node if it is still there, and any SST script or rsync daemon it
// started), and removes the data directories. It is safe to call more than
// once and from a deferred call after a failure.
func (c *Cluster) Stop() {
	c.stop.Do(func() {
		start := time.Now()
		var wg sync.WaitGroup
		for _, n := range c.Nodes {
			if n == nil || n.cmd == nil {
				continue
			}
			wg.Go(func() {
				pid := n.cmd.Process.Pid
				_ = syscall.Kill(pid, syscall.SIGTERM)
				select {
				case <-n.done:
				case <-time.After(30 * time.Second):
					c.logf("galera: %s (pid %d) ignored SIGTERM for 30s; killing it", n.Name, pid)
				}
				// The process group we created for it: mariadbd itself if
				// it is still there, and any SST script or rsync daemon.
				_ = syscall.Kill(-pid, syscall.SIGKILL)
				<-n.done
			})
		}
		wg.Wait()
		if c.base != "" {
			_ = os.RemoveAll(c.base)
		}
		c.logf("galera: cluster stopped in %v", time.Since(start).Round(time.Millisecond))
	})
}

func (c *Cluster) logs(max int) string {
	var b strings.Builder
	for _, n := range c.Nodes {
		if n == nil {
			continue
		}
		fmt.Fprintf(&b, "--- %s error.log (end) ---\n%s\n", n.Name, n.ErrorLog(max))
	}
	return b.String()
}

// freePorts returns n distinct loopback ports that were free a moment ago.
func freePorts(n int) ([]int, error) {
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	ports := make([]int, 0, n)
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, errors.Join(errors.New("cluster: no free loopback port"), err)
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}
