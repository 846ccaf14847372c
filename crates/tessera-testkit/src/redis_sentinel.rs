//! A private Redis Sentinel deployment on free loopback ports: one master, one replica and
//! `n` sentinels (`redis-server <conf> --sentinel`), all killed (and their directory
//! removed) on drop.
//!
//! The sentinels use quorum 1, `down-after-milliseconds 1000` and `failover-timeout 5000`,
//! so a killed master is replaced in about two seconds.

use std::time::{Duration, Instant};

use crate::redis_server::{RedisServer, TempDir, cli, free_port};

/// The master name the sentinels monitor.
pub const MASTER_NAME: &str = "tessera-test";

/// One master, one replica, `n` sentinels.
pub struct RedisSentinel {
    /// The data nodes (master and replica at start; which is which changes on failover).
    /// `None` once killed.
    data: Vec<Option<RedisServer>>,
    data_ports: Vec<u16>,
    sentinels: Vec<RedisServer>,
    _dir: TempDir,
}

impl RedisSentinel {
    /// Starts the deployment and waits until every sentinel knows the master and its
    /// replica (so a failover can happen).
    pub fn start(sentinels: usize) -> Self {
        Self::start_with(sentinels, &[])
    }

    /// [`start`](Self::start) with `extra` arguments for both data nodes.
    pub fn start_with(sentinels: usize, extra: &[&str]) -> Self {
        let dir = TempDir::new("sentinel");
        let fast_sync = [
            "--repl-diskless-sync",
            "yes",
            "--repl-diskless-sync-delay",
            "0",
        ];
        let mut master_args: Vec<&str> = fast_sync.to_vec();
        master_args.extend(extra);
        let master_port = free_port();
        let master = RedisServer::start(master_port, dir.path(), &master_args);
        let replica_port = free_port();
        let master_port_s = master_port.to_string();
        let mut replica_args: Vec<&str> = vec!["--replicaof", "127.0.0.1", &master_port_s];
        replica_args.extend(fast_sync);
        replica_args.extend(extra);
        let replica = RedisServer::start(replica_port, dir.path(), &replica_args);
        let mut s = Self {
            data: vec![Some(master), Some(replica)],
            data_ports: vec![master_port, replica_port],
            sentinels: Vec::new(),
            _dir: dir,
        };
        s.wait(Duration::from_secs(20), "the replica to sync", |s| {
            s.raw_cli(replica_port, &["INFO", "replication"])
                .contains("master_link_status:up")
        });
        for _ in 0..sentinels.max(1) {
            let port = free_port();
            let conf = s._dir.path().join(format!("sentinel-{port}.conf"));
            std::fs::write(
                &conf,
                format!(
                    "sentinel monitor {MASTER_NAME} 127.0.0.1 {master_port} 1\n\
                     sentinel down-after-milliseconds {MASTER_NAME} 1000\n\
                     sentinel failover-timeout {MASTER_NAME} 5000\n\
                     sentinel parallel-syncs {MASTER_NAME} 1\n"
                ),
            )
            .expect("write sentinel config");
            s.sentinels
                .push(RedisServer::start_sentinel(port, s._dir.path(), &conf, &[]));
        }
        s.wait(
            Duration::from_secs(30),
            "the sentinels to see a good replica",
            |s| {
                s.sentinels.iter().all(|sen| {
                    let replicas = sen.cli(&["SENTINEL", "REPLICAS", MASTER_NAME]);
                    let field = |name: &str| {
                        let mut lines = replicas.lines();
                        lines.find(|l| l.trim() == name)?;
                        lines.next().map(|v| v.trim().to_owned())
                    };
                    field("port").as_deref() == Some(replica_port.to_string().as_str())
                        && field("flags").as_deref() == Some("slave")
                        && field("master-link-status").as_deref() == Some("ok")
                })
            },
        );
        s
    }

    /// Replication offset of the node on `port` (`master_repl_offset` of a master,
    /// `slave_repl_offset` of a replica).
    fn offset(&self, port: u16, field: &str) -> Option<u64> {
        let info = cli(port, &["INFO", "replication"]);
        info.lines().find_map(|l| {
            l.trim()
                .strip_prefix(field)?
                .strip_prefix(':')?
                .parse()
                .ok()
        })
    }

    /// `redis+sentinel://127.0.0.1:<p1>,…/<MASTER_NAME>`.
    pub fn url(&self) -> String {
        self.url_with_userinfo("")
    }

    /// The URL with `userinfo` (e.g. `"user:pass@"`) before the sentinels.
    pub fn url_with_userinfo(&self, userinfo: &str) -> String {
        let hosts: Vec<String> = self
            .sentinels
            .iter()
            .map(|s| format!("127.0.0.1:{}", s.port()))
            .collect();
        format!(
            "redis+sentinel://{userinfo}{}/{MASTER_NAME}",
            hosts.join(",")
        )
    }

    /// Ports of the sentinels.
    pub fn sentinel_ports(&self) -> Vec<u16> {
        self.sentinels.iter().map(RedisServer::port).collect()
    }

    /// Ports of both data nodes (master and replica, in start order).
    pub fn data_ports(&self) -> Vec<u16> {
        self.data_ports.clone()
    }

    /// The master's port as the first sentinel names it.
    pub fn master_port(&self) -> u16 {
        let out = self.sentinels[0].cli(&["SENTINEL", "GET-MASTER-ADDR-BY-NAME", MASTER_NAME]);
        out.lines()
            .nth(1)
            .and_then(|p| p.trim().parse().ok())
            .unwrap_or_else(|| panic!("sentinel does not name a master: {out:?}"))
    }

    /// The data node that is not the master (whether alive or not).
    pub fn replica_port(&self) -> u16 {
        let master = self.master_port();
        self.data_ports
            .iter()
            .copied()
            .find(|p| *p != master)
            .expect("two data nodes")
    }

    /// `redis-cli -p <port> args…` on a data node.
    pub fn raw_cli(&self, port: u16, args: &[&str]) -> String {
        cli(port, args)
    }

    /// `redis-cli` on the current master.
    pub fn master_cli(&self, args: &[&str]) -> String {
        cli(self.master_port(), args)
    }

    /// Waits (up to 10 s) until the replica has processed every write the master had
    /// accepted when this was called (its `slave_repl_offset` reaches the master's
    /// `master_repl_offset`), so a failover loses nothing written before. (`WAIT` from a
    /// separate `redis-cli` connection would not do: it waits for that connection's own
    /// writes only.)
    pub fn wait_replicated(&self) {
        let master = self.master_port();
        let replica = self.replica_port();
        let target = self
            .offset(master, "master_repl_offset")
            .expect("master reports its offset");
        self.wait(Duration::from_secs(10), "the replica to catch up", |s| {
            s.offset(replica, "slave_repl_offset")
                .is_some_and(|o| o >= target)
        });
    }

    /// Kills the current master and waits until the sentinels have promoted the replica;
    /// returns the new master's port.
    pub fn kill_master(&mut self) -> u16 {
        let old = self.master_port();
        let index = self
            .data_ports
            .iter()
            .position(|p| *p == old)
            .expect("the master is one of ours");
        if let Some(mut server) = self.data[index].take() {
            server.stop();
        }
        self.wait_promoted(old)
    }

    /// `SENTINEL FAILOVER` (the old master stays up and is turned into a replica) and waits
    /// until the replica is the master and the old master reports itself a replica; returns
    /// the new master's port.
    pub fn failover(&self) -> u16 {
        let old = self.master_port();
        let new = self.start_failover();
        self.wait_demoted(old);
        new
    }

    /// `SENTINEL FAILOVER` and waits only until the replica is promoted: the old master is
    /// still up, and still a writable master, until Sentinel demotes it seconds later (see
    /// [`wait_demoted`](Self::wait_demoted)). Returns the new master's port.
    pub fn start_failover(&self) -> u16 {
        let old = self.master_port();
        let out = self.sentinels[0].cli(&["SENTINEL", "FAILOVER", MASTER_NAME]);
        assert!(out.contains("OK"), "SENTINEL FAILOVER: {out:?}");
        self.wait_promoted(old)
    }

    /// Waits until the node on `port` reports itself a replica.
    pub fn wait_demoted(&self, port: u16) {
        self.wait(
            Duration::from_secs(30),
            "the old master to become a replica",
            |s| s.raw_cli(port, &["ROLE"]).starts_with("slave"),
        );
    }

    fn wait_promoted(&self, old: u16) -> u16 {
        self.wait(Duration::from_secs(30), "a new master", |s| {
            s.sentinels.iter().all(|sen| {
                let out = sen.cli(&["SENTINEL", "GET-MASTER-ADDR-BY-NAME", MASTER_NAME]);
                out.lines()
                    .nth(1)
                    .and_then(|p| p.trim().parse::<u16>().ok())
                    .is_some_and(|p| p != old && cli(p, &["ROLE"]).starts_with("master"))
            })
        });
        self.master_port()
    }

    fn wait(&self, limit: Duration, what: &str, mut done: impl FnMut(&Self) -> bool) {
        let deadline = Instant::now() + limit;
        while !done(self) {
            assert!(Instant::now() < deadline, "timed out waiting for {what}");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}
