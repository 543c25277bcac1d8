//! The synthetic world a storm happens in: a layered service graph
//! (frontends → mid-tier → datastores, caches, queues), machines, and each
//! service's instances placed on them with Kubernetes-style pod names.

use argus_model::SplitMix64;

const FRONTENDS: &[&str] = &[
    "web",
    "storefront",
    "api-gateway",
    "mobile-bff",
    "admin-portal",
    "partner-api",
    "graphql",
    "edge-proxy",
];
const MIDS: &[&str] = &[
    "checkout",
    "cart",
    "payments",
    "orders",
    "inventory",
    "shipping",
    "catalog",
    "search",
    "recommendations",
    "user-profile",
    "auth",
    "notifications",
    "pricing",
    "reviews",
    "ads",
    "fraud-check",
    "loyalty",
    "billing",
    "invoicing",
    "tax",
    "currency",
    "email",
    "sms",
    "geo",
    "ledger",
    "returns",
    "wishlist",
    "media",
    "session",
    "coupons",
    "accounts",
    "feature-flags",
    "quotes",
    "fulfillment",
    "warehouse",
    "analytics-api",
    "consent",
    "identity",
    "rates",
    "audit",
];
const STORES: &[(&str, u16)] = &[
    ("postgres-orders", 5432),
    ("postgres-payments", 5432),
    ("mysql-users", 3306),
    ("redis-cache", 6379),
    ("redis-session", 6379),
    ("kafka", 9092),
    ("rabbitmq", 5672),
    ("elasticsearch", 9200),
    ("mongo-catalog", 27017),
    ("cassandra-events", 9042),
    ("memcached", 11211),
    ("etcd", 2379),
    ("minio", 9000),
    ("postgres-ledger", 5432),
    ("redis-ratelimit", 6379),
    ("zookeeper", 2181),
    ("clickhouse", 9000),
];
const NAMESPACES: &[&str] = &["shop", "payments", "platform", "identity", "logistics"];
const ALNUM: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";

/// Where a service sits in the graph.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Tier {
    Frontend,
    Mid,
    Store,
}

#[derive(Debug, Clone)]
pub(crate) struct Service {
    pub name: String,
    pub tier: Tier,
    pub namespace: String,
    pub port: u16,
    pub instances: Vec<usize>,
}

#[derive(Debug, Clone)]
pub(crate) struct Instance {
    pub service: usize,
    pub pod: String,
    pub ip: String,
    pub node: usize,
}

#[derive(Debug, Clone)]
pub(crate) struct Node {
    /// The Kubernetes node name (the truth's name for it).
    pub name: String,
    /// Its fully qualified host name, as syslog writes it.
    pub fqdn: String,
    pub ip: String,
}

#[derive(Debug, Clone)]
pub(crate) struct World {
    pub services: Vec<Service>,
    pub instances: Vec<Instance>,
    pub nodes: Vec<Node>,
    /// callees[s]: the services `s` calls.
    pub callees: Vec<Vec<usize>>,
    /// callers[s]: the services that call `s`.
    pub callers: Vec<Vec<usize>>,
}

pub(crate) fn token(rng: &mut SplitMix64, n: usize) -> String {
    (0..n)
        .map(|_| ALNUM[rng.index(ALNUM.len())] as char)
        .collect()
}

fn shuffled<T: Clone>(rng: &mut SplitMix64, items: &[T]) -> Vec<T> {
    let mut v = items.to_vec();
    for i in (1..v.len()).rev() {
        let j = rng.index(i + 1);
        v.swap(i, j);
    }
    v
}

/// `n` distinct names from `pool`, suffixed (`-2`, `-3`) once it runs out.
fn names(rng: &mut SplitMix64, pool: &[&str], n: usize) -> Vec<String> {
    let pool = shuffled(rng, pool);
    (0..n)
        .map(|i| {
            let base = pool[i % pool.len()];
            match i / pool.len() {
                0 => base.to_string(),
                k => format!("{base}-{}", k + 1),
            }
        })
        .collect()
}

impl World {
    /// A graph of `n_services` (at least 5) on `n_nodes` (at least 1) machines.
    pub fn build(rng: &mut SplitMix64, n_services: usize, n_nodes: usize) -> World {
        let n = n_services.max(5);
        let n_front = (n / 8).clamp(1, 6);
        let n_store = (n / 4).clamp(2, STORES.len());
        let n_mid = n - n_front - n_store;
        let mid_levels = if n_mid >= 12 { 3 } else { 2 };
        let nodes = build_nodes(rng, n_nodes.max(1));
        let mut services = Vec::new();
        let mut level = Vec::new();
        for name in names(rng, FRONTENDS, n_front) {
            services.push((name, Tier::Frontend, 8080));
            level.push(0);
        }
        for (i, name) in names(rng, MIDS, n_mid).into_iter().enumerate() {
            services.push((name, Tier::Mid, [8080, 8080, 9090, 50051][rng.index(4)]));
            level.push(1 + i * mid_levels / n_mid.max(1));
        }
        let stores = shuffled(rng, STORES);
        for (name, port) in stores.into_iter().take(n_store) {
            services.push((name.to_string(), Tier::Store, port));
            level.push(1 + mid_levels);
        }
        let count = services.len();
        let mut callees: Vec<Vec<usize>> = vec![Vec::new(); count];
        for s in 0..count {
            if services[s].1 == Tier::Store {
                continue;
            }
            let below: Vec<usize> = (0..count).filter(|&t| level[t] > level[s]).collect();
            let next: Vec<usize> = below
                .iter()
                .copied()
                .filter(|&t| level[t] == level[s] + 1)
                .collect();
            let want = 1 + rng.index(if services[s].1 == Tier::Frontend {
                5
            } else {
                3
            });
            for _ in 0..want {
                let pool = if rng.unit() < 0.65 && !next.is_empty() {
                    &next
                } else {
                    &below
                };
                let t = pool[rng.index(pool.len())];
                if !callees[s].contains(&t) {
                    callees[s].push(t);
                }
            }
        }
        // Everyone below the frontends has a caller.
        for t in 0..count {
            if level[t] == 0 || callees.iter().any(|c| c.contains(&t)) {
                continue;
            }
            let above: Vec<usize> = (0..count)
                .filter(|&s| level[s] < level[t] && services[s].1 != Tier::Store)
                .collect();
            let s = above[rng.index(above.len())];
            callees[s].push(t);
        }
        let mut callers: Vec<Vec<usize>> = vec![Vec::new(); count];
        for (s, cs) in callees.iter().enumerate() {
            for &t in cs {
                callers[t].push(s);
            }
        }
        let mut world = World {
            services: Vec::new(),
            instances: Vec::new(),
            nodes,
            callees,
            callers,
        };
        for (s, (name, tier, port)) in services.into_iter().enumerate() {
            let namespace = match tier {
                Tier::Store => "data".to_string(),
                Tier::Frontend => "edge".to_string(),
                Tier::Mid => NAMESPACES[rng.index(NAMESPACES.len())].to_string(),
            };
            let replicas = 1 + rng.index(if tier == Tier::Store { 3 } else { 4 });
            let first = rng.below(9) + 1;
            let len = 8 + rng.index(2);
            let hash = format!("{first}{}", token(rng, len));
            let mut on = shuffled(rng, &(0..world.nodes.len()).collect::<Vec<_>>());
            on.truncate(replicas);
            while on.len() < replicas {
                on.push(rng.index(world.nodes.len()));
            }
            let mut instances = Vec::new();
            for (r, node) in on.into_iter().enumerate() {
                let pod = match tier {
                    Tier::Store => format!("{name}-{r}"),
                    _ => format!("{name}-{hash}-{}", token(rng, 5)),
                };
                let ip = format!("10.244.{}.{}", node, 2 + rng.below(250));
                world.instances.push(Instance {
                    service: s,
                    pod,
                    ip,
                    node,
                });
                instances.push(world.instances.len() - 1);
            }
            world.services.push(Service {
                name,
                tier,
                namespace,
                port,
                instances,
            });
        }
        world
    }

    /// The graph as `caller,callee` CSV.
    pub fn graph_csv(&self) -> String {
        let mut s = String::from("caller,callee\n");
        for (a, cs) in self.callees.iter().enumerate() {
            for &b in cs {
                s.push_str(&format!(
                    "{},{}\n",
                    self.services[a].name, self.services[b].name
                ));
            }
        }
        s
    }

    /// Where every instance runs, as `address,node` CSV: each pod's address
    /// and name, and each machine's node exporter address, with the node's
    /// name. What `kube_pod_info`, `node_uname_info` and node-labelled
    /// scrape targets tell a running Argus; nothing about faults.
    pub fn placement_csv(&self) -> String {
        let mut s = String::from("address,node\n");
        for (i, inst) in self.instances.iter().enumerate() {
            let node = &self.nodes[inst.node].name;
            s.push_str(&format!("{},{node}\n", self.address(i)));
            s.push_str(&format!("{},{node}\n", inst.pod));
        }
        for n in &self.nodes {
            s.push_str(&format!("{}:9100,{}\n", n.ip, n.name));
        }
        s
    }

    /// `ip:port` of an instance.
    pub fn address(&self, i: usize) -> String {
        let inst = &self.instances[i];
        format!("{}:{}", inst.ip, self.services[inst.service].port)
    }

    /// Every service that (transitively) calls `s`, and `s`.
    pub fn upstream(&self, s: usize) -> Vec<usize> {
        let mut seen = vec![s];
        let mut i = 0;
        while i < seen.len() {
            for &c in &self.callers[seen[i]] {
                if !seen.contains(&c) {
                    seen.push(c);
                }
            }
            i += 1;
        }
        seen
    }

    /// Every service `s` (transitively) calls, and `s`.
    pub fn downstream(&self, s: usize) -> Vec<usize> {
        let mut seen = vec![s];
        let mut i = 0;
        while i < seen.len() {
            for &c in &self.callees[seen[i]] {
                if !seen.contains(&c) {
                    seen.push(c);
                }
            }
            i += 1;
        }
        seen
    }
}

fn build_nodes(rng: &mut SplitMix64, n: usize) -> Vec<Node> {
    let style = rng.index(3);
    let pool = 1 + rng.below(3);
    let group = token(rng, 8);
    let mut used = std::collections::HashSet::new();
    (0..n)
        .map(|i| {
            let (a, b) = loop {
                let ab = (rng.below(8), 2 + rng.below(250));
                if used.insert(ab) {
                    break ab;
                }
            };
            let ip = format!("10.0.{a}.{b}");
            let (name, fqdn) = match style {
                0 => {
                    let n = format!("ip-10-0-{a}-{b}");
                    (n.clone(), format!("{n}.ec2.internal"))
                }
                1 => {
                    let n = format!("node-{:02}", i + 1);
                    (n.clone(), format!("{n}.prod.example.net"))
                }
                _ => {
                    let n = format!("gke-prod-pool-{pool}-{group}-{}", token(rng, 4));
                    (n.clone(), format!("{n}.c.prod.internal"))
                }
            };
            Node { name, fqdn, ip }
        })
        .collect()
}
