//! The synthetic organisation, the aggregate of every product's resources: projects, healthy resources, edge cases
//! a correct report must not flag, the planted ghosts, and the load balancers, managed databases, scaling groups and
//! Kapsule clusters (healthy and planted, from their products' tables). Built once per configuration; everything is a pure
//! function of the [`SimConfig`]. The resource types are each product's (see [`crate::products`]); they are
//! generated here together because one server draws its volume and IP from the same seeded stream.

use chrono::{DateTime, NaiveDate, Utc};

use crate::config::SimConfig;
use crate::ids::IdStream;
use crate::prices::{GB, PriceBook};
use crate::products::account::Project;
use crate::products::autoscaling::{self, ScalingGroup};
use crate::products::block::{self, BlockSnapshot, BlockVolume, ParentVolume, VolumeReference};
use crate::products::cockpit::PLANTS;
use crate::products::instance::{self, FlexibleIp, InstanceSnapshot, InstanceVolume, Server, ServerRef, ServerVolume};
use crate::products::k8s::{self, KapsuleCluster};
use crate::products::lb::{self, LoadBalancer};
use crate::products::rdb::{self, Database};

/// Where the healthy servers go, cycled by index: 60 % in fr-par-1 (so its lists span several pages once there
/// are ~100 servers), the rest split between a second Paris zone and Amsterdam.
const SERVER_ZONES: [&str; 10] = [
    "fr-par-1", "fr-par-1", "fr-par-1", "fr-par-1", "fr-par-1", "fr-par-1", "fr-par-2", "fr-par-2", "nl-ams-1",
    "nl-ams-1",
];

/// Seven roles against eight commercial types and ten zones: the combinations keep varying along the index.
const ROLES: [&str; 7] = ["web", "api", "worker", "db", "cache", "ci-runner", "proxy"];

const PROJECT_NAMES: [&str; 4] = ["default", "web-shop", "data-platform", "sandbox"];

/// Public prefixes for the healthy servers' flexible IPs; the orphaned ghosts use 51.15.x.y, so they never collide.
const IP_PREFIXES: [&str; 4] = ["51.158", "163.172", "212.47", "62.210"];

/// Ids of the planted resources, so the oracle finds them without relying on names.
#[derive(Debug, Clone, PartialEq)]
pub struct GhostIds {
    pub stopped_server: String,
    pub standby_server: String,
    pub unattached_block_volume: String,
    pub never_attached_block_volume: String,
    pub unattached_local_volume: String,
    pub orphaned_ips: [String; 2],
    pub old_snapshot: String,
    pub year_old_snapshot: String,
    pub orphaned_block_snapshot: String,
    pub orphaned_instance_snapshot: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Organization {
    pub id: String,
    pub today: NaiveDate,
    pub projects: Vec<Project>,
    pub servers: Vec<Server>,
    pub instance_volumes: Vec<InstanceVolume>,
    pub ips: Vec<FlexibleIp>,
    pub instance_snapshots: Vec<InstanceSnapshot>,
    pub block_volumes: Vec<BlockVolume>,
    pub block_snapshots: Vec<BlockSnapshot>,
    /// The load balancers, in the order of the Load Balancer table (see [`crate::services()`]).
    pub load_balancers: Vec<LoadBalancer>,
    /// The managed databases, in the order of the Managed Database table (see [`crate::services()`]).
    pub databases: Vec<Database>,
    /// The Autoscaling groups, in the order of the Autoscaling table (see [`crate::scaling()`]).
    pub scaling_groups: Vec<ScalingGroup>,
    /// The Kubernetes Kapsule clusters with their pools and nodes, in the order of the Kapsule table (see
    /// [`crate::kapsule()`]).
    pub kapsule_clusters: Vec<KapsuleCluster>,
    /// The Instances the Kapsule nodes and the scaling groups' members run on, in that order: the Instance API
    /// lists them and the Billing API charges them like any server, but they are not in `servers`, whose every
    /// other reader (the ghosts, the planted cases, Cockpit's healthy series) is about stand-alone servers.
    pub managed_servers: Vec<Server>,
    pub prices: PriceBook,
    pub ghosts: GhostIds,
    /// Ids of the planted utilisation servers, in the order of the Cockpit table of planted cases (see
    /// [`crate::utilisation()`]).
    pub utilisation_servers: Vec<String>,
    /// Public image every server was created from (id, root snapshot id).
    pub image: (String, String),
}

/// Builds the organisation described by `config` (deterministic: same config, same organisation).
pub fn organization(config: &SimConfig) -> Organization {
    Organization::build(config)
}

impl Organization {
    /// The ids of every resource the Billing API charges for: servers (Kapsule nodes' and scaling groups'
    /// included), Block volumes and snapshots, flexible IPs, load balancers, managed databases.
    pub fn billable_ids(&self) -> std::collections::HashSet<&str> {
        self.servers
            .iter()
            .chain(&self.managed_servers)
            .map(|s| s.id.as_str())
            .chain(self.load_balancers.iter().map(|l| l.id.as_str()))
            .chain(self.databases.iter().map(|d| d.id.as_str()))
            .chain(self.block_volumes.iter().map(|v| v.id.as_str()))
            .chain(self.ips.iter().map(|i| i.id.as_str()))
            .chain(self.block_snapshots.iter().map(|s| s.id.as_str()))
            .collect()
    }

    pub fn build(config: &SimConfig) -> Organization {
        let mut b = Builder::new(config);
        b.projects(config.projects);
        b.healthy(config.servers);
        let mut edge = IdStream::new(config.seed, "edge");
        let hibernating = b.hibernating(&mut edge);
        let ghosts = b.ghosts();
        b.edge_cases(&mut edge, hibernating);
        let utilisation_servers = b.utilisation();
        b.team_tags(&ghosts);
        let mut stat = IdStream::new(config.seed, "image");
        let image = (stat.uuid(), stat.uuid());
        let load_balancers = b.load_balancers(&utilisation_servers);
        let project_ids: Vec<String> = b.projects.iter().map(|p| p.id.clone()).collect();
        let databases = rdb::build(config.seed, config.today, &project_ids);
        let scaling_groups = autoscaling::build(config.seed, config.today, &project_ids, &image.0, &load_balancers);
        let kapsule_clusters = k8s::build(config.seed, config.today, &project_ids);
        let managed_servers = b.managed_servers(&kapsule_clusters, &scaling_groups);
        Organization {
            id: config.organization_id.clone(),
            today: config.today,
            projects: b.projects,
            servers: b.servers,
            instance_volumes: b.instance_volumes,
            ips: b.ips,
            instance_snapshots: b.instance_snapshots,
            block_volumes: b.block_volumes,
            block_snapshots: b.block_snapshots,
            load_balancers,
            databases,
            scaling_groups,
            kapsule_clusters,
            managed_servers,
            prices: PriceBook::default(),
            ghosts,
            utilisation_servers,
            image,
        }
    }

    /// What the Instance API serves.
    pub(crate) fn instance(&self) -> instance::Served<'_> {
        instance::Served {
            organization_id: &self.id,
            today: self.today,
            image: &self.image,
            servers: &self.servers,
            managed_servers: &self.managed_servers,
            volumes: &self.instance_volumes,
            ips: &self.ips,
            snapshots: &self.instance_snapshots,
            server_types: &self.prices.server_types,
        }
    }

    /// What the Block API serves.
    pub(crate) fn block(&self) -> block::Served<'_> {
        block::Served {
            organization_id: &self.id,
            prices: &self.prices,
            volumes: &self.block_volumes,
            snapshots: &self.block_snapshots,
        }
    }

    pub fn project(&self, id: &str) -> Option<&Project> {
        self.projects.iter().find(|p| p.id == id)
    }

    pub fn server(&self, id: &str) -> Option<&Server> {
        self.servers.iter().find(|s| s.id == id)
    }

    pub fn block_volume(&self, id: &str) -> Option<&BlockVolume> {
        self.block_volumes.iter().find(|v| v.id == id)
    }

    pub fn instance_volume(&self, id: &str) -> Option<&InstanceVolume> {
        self.instance_volumes.iter().find(|v| v.id == id)
    }

    pub fn ip(&self, id: &str) -> Option<&FlexibleIp> {
        self.ips.iter().find(|i| i.id == id)
    }

    pub fn block_snapshot(&self, id: &str) -> Option<&BlockSnapshot> {
        self.block_snapshots.iter().find(|s| s.id == id)
    }

    pub fn instance_snapshot(&self, id: &str) -> Option<&InstanceSnapshot> {
        self.instance_snapshots.iter().find(|s| s.id == id)
    }

    pub fn load_balancer(&self, id: &str) -> Option<&LoadBalancer> {
        self.load_balancers.iter().find(|l| l.id == id)
    }

    pub fn database(&self, id: &str) -> Option<&Database> {
        self.databases.iter().find(|d| d.id == id)
    }

    pub fn scaling_group(&self, id: &str) -> Option<&ScalingGroup> {
        self.scaling_groups.iter().find(|g| g.id == id)
    }

    pub fn kapsule_cluster(&self, id: &str) -> Option<&KapsuleCluster> {
        self.kapsule_clusters.iter().find(|c| c.id == id)
    }
}

/// A server's MAC address in Scaleway's `de:00:00` range, from the low 24 bits of `bits`.
fn mac_address(bits: u64) -> String {
    format!("de:00:00:{:02x}:{:02x}:{:02x}", (bits >> 16) & 0xff, (bits >> 8) & 0xff, bits & 0xff)
}

/// Shape of a server to create; the builder adds its SBS volume and IP.
struct ServerSpec<'a> {
    name: String,
    project: usize,
    zone: &'a str,
    commercial_type: &'a str,
    state: &'a str,
    state_detail: &'a str,
    created_days_ago: u64,
    modified_days_ago: u64,
    volume_gb: u64,
    volume_type: &'a str,
    with_ip: bool,
    tags: Vec<String>,
}

struct Builder<'c> {
    config: &'c SimConfig,
    today: NaiveDate,
    projects: Vec<Project>,
    servers: Vec<Server>,
    instance_volumes: Vec<InstanceVolume>,
    ips: Vec<FlexibleIp>,
    instance_snapshots: Vec<InstanceSnapshot>,
    block_volumes: Vec<BlockVolume>,
    block_snapshots: Vec<BlockSnapshot>,
    /// Index of the next healthy IP address.
    next_address: u64,
}

impl<'c> Builder<'c> {
    fn new(config: &'c SimConfig) -> Self {
        Builder {
            config,
            today: config.today,
            projects: Vec::new(),
            servers: Vec::new(),
            instance_volumes: Vec::new(),
            ips: Vec::new(),
            instance_snapshots: Vec::new(),
            block_volumes: Vec::new(),
            block_snapshots: Vec::new(),
            next_address: 0,
        }
    }

    fn projects(&mut self, count: usize) {
        let mut rng = IdStream::new(self.config.seed, "projects");
        for i in 0..count {
            // Like older real organisations, the default project's id is the organisation id.
            let id = if i == 0 { self.config.organization_id.clone() } else { rng.uuid() };
            let name = PROJECT_NAMES.get(i).map_or_else(|| format!("project-{i}"), ToString::to_string);
            let created_days = 900u64.saturating_sub(40 * i as u64).max(30);
            let created_at = rng.days_ago(self.today, created_days);
            let touched = rng.below(30).min(created_days);
            let updated_at = rng.days_ago(self.today, created_days - touched);
            let description = match i {
                1 => "Customer-facing shop",
                2 => "Batch and analytics jobs",
                _ => "",
            }
            .to_string();
            self.projects.push(Project { id, name, description, created_at, updated_at });
        }
    }

    fn project_id(&self, index: usize) -> String {
        self.projects[index % self.projects.len()].id.clone()
    }

    /// Adds a server with one SBS volume attached and, optionally, an attached flexible IP.
    fn server(&mut self, rng: &mut IdStream, spec: ServerSpec<'_>, address: String) -> usize {
        let project_id = self.project_id(spec.project);
        let id = rng.uuid();
        let creation_date = rng.days_ago(self.today, spec.created_days_ago);
        let modification_date = rng.days_ago(self.today, spec.modified_days_ago);
        let volume_id = rng.uuid();
        self.block_volumes.push(BlockVolume {
            id: volume_id.clone(),
            name: format!("{}-vol-0", spec.name),
            project_id: project_id.clone(),
            zone: spec.zone.to_string(),
            volume_type: spec.volume_type.to_string(),
            size: spec.volume_gb * GB,
            status: "in_use".to_string(),
            references: vec![VolumeReference { id: rng.uuid(), server_id: id.clone(), created_at: creation_date }],
            created_at: creation_date,
            updated_at: modification_date,
            last_detached_at: None,
            tags: Vec::new(),
            future_field: None,
        });
        let mut ip_ids = Vec::new();
        if spec.with_ip {
            let ip_id = rng.uuid();
            let ipam_id = rng.uuid();
            self.ips.push(FlexibleIp {
                id: ip_id.clone(),
                address,
                project_id: project_id.clone(),
                zone: spec.zone.to_string(),
                ip_type: "routed_ipv4".to_string(),
                state: "attached".to_string(),
                server: Some(ServerRef { id: id.clone(), name: spec.name.clone() }),
                ipam_id,
            });
            ip_ids.push(ip_id);
        }
        let mac = rng.below(1 << 24);
        // A server stopped in place keeps its hypervisor slot (and its bill); only a full stop releases it.
        let powered = spec.state != "stopped";
        let location = powered.then(|| {
            [(10 + rng.below(30)).to_string(), (100 + rng.below(2000)).to_string(), rng.below(64).to_string()]
        });
        self.servers.push(Server {
            id,
            name: spec.name,
            security_group_id: self.security_group(&project_id, spec.zone),
            project_id,
            zone: spec.zone.to_string(),
            commercial_type: spec.commercial_type.to_string(),
            state: spec.state.to_string(),
            state_detail: spec.state_detail.to_string(),
            creation_date,
            modification_date,
            volumes: vec![ServerVolume::Sbs { id: volume_id }],
            ip_ids,
            mac_address: mac_address(mac),
            tags: spec.tags,
            location,
            future_field: None,
        });
        self.servers.len() - 1
    }

    /// The Instances of the Kapsule nodes (named and dated as their nodes, in their pool's security group) and of
    /// the scaling groups' members (from their template), all running. Their root volumes are left out: the
    /// Block API would list and bill them, and no report judges an in-use volume.
    fn managed_servers(&self, clusters: &[KapsuleCluster], groups: &[ScalingGroup]) -> Vec<Server> {
        let managed = |id: &str,
                       name: &str,
                       project_id: &str,
                       zone: &str,
                       commercial_type: &str,
                       security_group_id,
                       created: DateTime<Utc>,
                       modified: DateTime<Utc>| {
            let h = crate::ids::fnv1a(id);
            Server {
                id: id.to_string(),
                name: name.to_string(),
                project_id: project_id.to_string(),
                zone: zone.to_string(),
                commercial_type: commercial_type.to_string(),
                state: "running".to_string(),
                state_detail: "booted".to_string(),
                creation_date: created,
                modification_date: modified,
                volumes: Vec::new(),
                ip_ids: Vec::new(),
                mac_address: mac_address(h),
                security_group_id,
                tags: Vec::new(),
                location: Some([(10 + h % 30).to_string(), (100 + (h >> 8) % 2000).to_string(), (h % 64).to_string()]),
                future_field: None,
            }
        };
        let nodes = clusters.iter().flat_map(|c| c.pools.iter().map(move |p| (c, p))).flat_map(|(c, p)| {
            p.nodes.iter().map(move |n| {
                let (project, zone, sg) = (&c.project_id, &p.zone, p.security_group_id.clone());
                managed(&n.instance_id, &n.name, project, zone, &p.commercial_type, sg, n.created_at, n.updated_at)
            })
        });
        let members = groups.iter().flat_map(|g| {
            let sg = self.security_group(&g.project_id, &g.zone);
            g.members.iter().map(move |m| {
                let t = &g.template;
                managed(
                    &m.server_id,
                    &m.name,
                    &g.project_id,
                    &g.zone,
                    &t.commercial_type,
                    sg.clone(),
                    m.created_at,
                    m.created_at,
                )
            })
        });
        nodes.chain(members).collect()
    }

    /// The default security group of a project in a zone, shared by its servers there.
    fn security_group(&self, project_id: &str, zone: &str) -> String {
        IdStream::new(self.config.seed ^ crate::ids::fnv1a(project_id), &format!("security-group/{zone}")).uuid()
    }

    fn next_healthy_address(&mut self) -> String {
        let n = self.next_address;
        self.next_address += 1;
        let block = n / (254 * 254);
        let prefix = IP_PREFIXES[(block % IP_PREFIXES.len() as u64) as usize];
        format!("{prefix}.{}.{}", (n / 254) % 254 + 1, n % 254 + 1)
    }

    fn healthy(&mut self, count: usize) {
        let mut rng = IdStream::new(self.config.seed, "healthy");
        let types = PriceBook::default().server_types;
        for i in 0..count {
            let created = 30 + rng.below(600);
            let modified = rng.below(30);
            let spec = ServerSpec {
                name: format!("{}-{:03}", ROLES[i % ROLES.len()], i + 1),
                project: i,
                zone: SERVER_ZONES[i % SERVER_ZONES.len()],
                commercial_type: types[i % types.len()].name,
                state: "running",
                state_detail: "booted",
                created_days_ago: created,
                modified_days_ago: modified,
                volume_gb: 20,
                volume_type: "sbs_5k",
                with_ip: true,
                tags: vec![format!("role={}", ROLES[i % ROLES.len()])],
            };
            let address = self.next_healthy_address();
            let index = self.server(&mut rng, spec, address);
            if i % 5 == 4 {
                let volume = self.boot_volume(index).clone();
                let created_at = rng.days_ago(self.today, 10);
                let name = format!("{}-nightly", self.servers[index].name);
                self.snapshot_of(&mut rng, &volume, name, volume.size, created_at);
            }
        }
    }

    fn boot_volume(&self, server: usize) -> &BlockVolume {
        let id = match &self.servers[server].volumes[0] {
            ServerVolume::Sbs { id } | ServerVolume::Local { id } => id,
        };
        // Searched from the end: during the build, the volume asked for is usually the one just created.
        self.block_volumes.iter().rev().find(|v| &v.id == id).expect("every built server has a block boot volume")
    }

    fn snapshot_of(
        &mut self,
        rng: &mut IdStream,
        volume: &BlockVolume,
        name: String,
        size: u64,
        created: DateTime<Utc>,
    ) {
        self.block_snapshots.push(BlockSnapshot {
            id: rng.uuid(),
            name,
            project_id: volume.project_id.clone(),
            zone: volume.zone.clone(),
            size,
            status: "available".to_string(),
            parent_volume: Some(ParentVolume {
                id: volume.id.clone(),
                name: volume.name.clone(),
                volume_type: volume.volume_type.clone(),
                status: volume.status.clone(),
            }),
            created_at: created,
            updated_at: created,
        });
    }

    /// A healthy server in `zone`, preferably in `project`: snapshots of its volume are "of an existing volume".
    /// Without healthy servers, any powered server in the zone (the hibernating edge case lives in fr-par-1).
    fn anchor(&self, zone: &str, project: usize) -> Option<usize> {
        let project_id = self.project_id(project);
        let running = |s: &Server| s.zone == zone && s.state == "running";
        let powered = |s: &Server| s.zone == zone && !s.state.starts_with("stopped");
        let in_project = self.servers.iter().position(|s| running(s) && s.project_id == project_id);
        in_project.or_else(|| self.servers.iter().position(running)).or_else(|| self.servers.iter().position(powered))
    }

    fn ghosts(&mut self) -> GhostIds {
        let mut rng = IdStream::new(self.config.seed, "ghosts");
        let today = self.today;

        // a. Powered off for five weeks: compute is no longer billed, its volume and IP still are.
        let ghost_address = |rng: &mut IdStream| format!("51.15.{}.{}", rng.below(256), 1 + rng.below(254));
        let address = ghost_address(&mut rng);
        let stopped = self.server(
            &mut rng,
            ServerSpec {
                name: "legacy-api-1".to_string(),
                project: 0,
                zone: "fr-par-1",
                commercial_type: "DEV1-M",
                state: "stopped",
                state_detail: "",
                created_days_ago: 400,
                modified_days_ago: 35,
                volume_gb: 40,
                volume_type: "sbs_5k",
                with_ip: true,
                tags: vec!["legacy".to_string()],
            },
            address,
        );

        // b. Stopped in place (standby): still billed like a running instance.
        let standby = self.server(
            &mut rng,
            ServerSpec {
                name: "batch-worker-standby".to_string(),
                project: 1,
                zone: "fr-par-2",
                commercial_type: "PRO2-S",
                state: "stopped in place",
                state_detail: "stopped in place",
                created_days_ago: 90,
                modified_days_ago: 12,
                volume_gb: 100,
                volume_type: "sbs_15k",
                with_ip: false,
                tags: vec!["batch".to_string()],
            },
            String::new(),
        );

        // c. Detached two months ago.
        let created = rng.days_ago(today, 200);
        let detached = rng.days_ago(today, 60);
        let old_data =
            self.free_block_volume(&mut rng, "old-data", 0, "fr-par-1", 500, "sbs_5k", created, Some(detached));

        // d. Created and never attached.
        let created = rng.days_ago(today, 20);
        let tmp = self.free_block_volume(&mut rng, "tmp-migration", 1, "nl-ams-1", 250, "sbs_15k", created, None);

        // e. A local volume left behind; the collected APIs publish no l_ssd price.
        let scratch = InstanceVolume {
            id: rng.uuid(),
            name: "scratch-leftover".to_string(),
            project_id: self.project_id(0),
            zone: "fr-par-1".to_string(),
            volume_type: "l_ssd".to_string(),
            size: 20 * GB,
            server: None,
            state: "available".to_string(),
            creation_date: rng.days_ago(today, 150),
            modification_date: rng.days_ago(today, 45),
        };
        let scratch_id = scratch.id.clone();
        self.instance_volumes.push(scratch);

        // f, g. Reserved IPs attached to nothing (IPs carry no timestamps).
        let mut orphan = |b: &mut Self, project: usize, zone: &str| {
            let ip = FlexibleIp {
                id: rng.uuid(),
                address: ghost_address(&mut rng),
                project_id: b.project_id(project),
                zone: zone.to_string(),
                ip_type: "routed_ipv4".to_string(),
                state: "detached".to_string(),
                server: None,
                ipam_id: rng.uuid(),
            };
            let id = ip.id.clone();
            b.ips.push(ip);
            id
        };
        let orphaned_ips = [orphan(self, 0, "fr-par-1"), orphan(self, 1, "nl-ams-1")];

        // h, i. Old snapshots of volumes that still exist.
        let old_snapshot = self.ghost_snapshot(&mut rng, "pre-upgrade-backup", 0, "fr-par-1", 50, 120, true);
        let year_old = self.ghost_snapshot(&mut rng, "yearly-archive", 1, "fr-par-1", 200, 400, true);
        // j. Its volume was deleted.
        let orphaned_block = self.ghost_snapshot(&mut rng, "deleted-vm-snap", 0, "fr-par-2", 30, 10, false);

        // k. Instance (local) snapshot whose base volume exists nowhere.
        let created = rng.days_ago(today, 200);
        let local_snap = InstanceSnapshot {
            id: rng.uuid(),
            name: "old-local-snap".to_string(),
            project_id: self.project_id(1),
            zone: "fr-par-1".to_string(),
            volume_type: "l_ssd".to_string(),
            size: 10 * GB,
            state: "available".to_string(),
            base_volume: Some(ServerRef { id: rng.uuid(), name: "gone".to_string() }),
            creation_date: created,
            modification_date: created,
        };
        let local_snap_id = local_snap.id.clone();
        self.instance_snapshots.push(local_snap);

        GhostIds {
            stopped_server: self.servers[stopped].id.clone(),
            standby_server: self.servers[standby].id.clone(),
            unattached_block_volume: old_data,
            never_attached_block_volume: tmp,
            unattached_local_volume: scratch_id,
            orphaned_ips,
            old_snapshot,
            year_old_snapshot: year_old,
            orphaned_block_snapshot: orphaned_block,
            orphaned_instance_snapshot: local_snap_id,
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn free_block_volume(
        &mut self,
        rng: &mut IdStream,
        name: &str,
        project: usize,
        zone: &str,
        size_gb: u64,
        volume_type: &str,
        created_at: DateTime<Utc>,
        last_detached_at: Option<DateTime<Utc>>,
    ) -> String {
        let id = rng.uuid();
        self.block_volumes.push(BlockVolume {
            id: id.clone(),
            name: name.to_string(),
            project_id: self.project_id(project),
            zone: zone.to_string(),
            volume_type: volume_type.to_string(),
            size: size_gb * GB,
            status: "available".to_string(),
            references: Vec::new(),
            created_at,
            updated_at: last_detached_at.unwrap_or(created_at),
            last_detached_at,
            tags: Vec::new(),
            future_field: None,
        });
        id
    }

    #[allow(clippy::too_many_arguments)]
    fn ghost_snapshot(
        &mut self,
        rng: &mut IdStream,
        name: &str,
        project: usize,
        zone: &str,
        size_gb: u64,
        days_ago: u64,
        with_parent: bool,
    ) -> String {
        let created = rng.days_ago(self.today, days_ago);
        let parent = if with_parent { self.anchor(zone, project).map(|s| self.boot_volume(s).clone()) } else { None };
        let id = rng.uuid();
        self.block_snapshots.push(BlockSnapshot {
            id: id.clone(),
            name: name.to_string(),
            project_id: self.project_id(project),
            zone: zone.to_string(),
            size: size_gb * GB,
            status: "available".to_string(),
            parent_volume: parent.map(|v| ParentVolume {
                id: v.id,
                name: v.name,
                volume_type: v.volume_type,
                status: v.status,
            }),
            created_at: created,
            updated_at: created,
        });
        id
    }

    /// A state the decoder has never seen plus an unknown field: it is powered, not stopped.
    fn hibernating(&mut self, rng: &mut IdStream) -> usize {
        let index = self.server(
            rng,
            ServerSpec {
                name: "edge-hibernating".to_string(),
                project: 0,
                zone: "fr-par-1",
                commercial_type: "PLAY2-PICO",
                state: "hibernating",
                state_detail: "hibernating",
                created_days_ago: 300,
                modified_days_ago: 3,
                volume_gb: 20,
                volume_type: "sbs_5k",
                with_ip: false,
                tags: Vec::new(),
            },
            String::new(),
        );
        self.servers[index].future_field = Some(serde_json::json!({"x": 1}));
        // An in-use volume with a field from a future API version.
        let volume_id = self.boot_volume(index).id.clone();
        if let Some(v) = self.block_volumes.iter_mut().find(|v| v.id == volume_id) {
            v.future_field = Some(serde_json::json!({"tier": "warm"}));
        }
        index
    }

    /// Ownership tags, set last so that they draw nothing from the id streams: the servers of the first three
    /// projects get their team's tags (the data-platform ones alternate between tagged and untagged, in creation
    /// order), the planted ghosts keep theirs, and every attached block volume copies its server's tags.
    fn team_tags(&mut self, ghosts: &GhostIds) {
        let p2 = self.projects.get(2).map(|p| p.id.clone());
        let (p0, p1) = (self.project_id(0), self.project_id(1));
        let mut p2_seen = 0usize;
        for s in &mut self.servers {
            if s.id == ghosts.stopped_server || s.id == ghosts.standby_server {
                continue;
            }
            let tags: &[&str] = if s.project_id == p0 {
                &["team=platform", "env:prod"]
            } else if s.project_id == p1 {
                &["team=checkout", "env=prod", "critical"]
            } else if p2.as_deref() == Some(s.project_id.as_str()) {
                p2_seen += 1;
                if p2_seen % 2 == 1 { &["team=data"] } else { &[] }
            } else {
                continue;
            };
            s.tags = tags.iter().map(ToString::to_string).collect();
        }
        let by_id: std::collections::HashMap<&str, &Vec<String>> =
            self.servers.iter().map(|s| (s.id.as_str(), &s.tags)).collect();
        for v in &mut self.block_volumes {
            if let Some(tags) = v.references.first().and_then(|r| by_id.get(r.server_id.as_str())) {
                v.tags = (*tags).clone();
            }
        }
    }

    /// The planted utilisation cases: running servers built like the healthy ones (a boot SBS volume, an attached
    /// flexible IP, the team tags), added last and drawn from their own stream, so that no other id, anchor or
    /// address changes. Their CPU profiles are Cockpit's (see [`crate::products::cockpit`]).
    fn utilisation(&mut self) -> Vec<String> {
        let mut rng = IdStream::new(self.config.seed, "utilisation");
        let mut ids = Vec::with_capacity(PLANTS.len());
        for plant in &PLANTS {
            let modified = plant.restart_days_ago.unwrap_or_else(|| rng.below(30).min(plant.created_days_ago));
            let spec = ServerSpec {
                name: plant.name.to_string(),
                project: plant.project,
                zone: plant.zone,
                commercial_type: plant.commercial_type,
                state: "running",
                state_detail: "booted",
                created_days_ago: plant.created_days_ago,
                modified_days_ago: modified,
                volume_gb: 20,
                volume_type: "sbs_5k",
                with_ip: true,
                tags: vec![format!("role={}", plant.role)],
            };
            let address = self.next_healthy_address();
            let index = self.server(&mut rng, spec, address);
            ids.push(self.servers[index].id.clone());
        }
        ids
    }

    /// The load balancers, from their own stream; the healthy ones' pools hold the public addresses of healthy
    /// running servers of their project and zone (never a planted utilisation server, whose story is its CPU).
    fn load_balancers(&self, utilisation_servers: &[String]) -> Vec<LoadBalancer> {
        let project_ids: Vec<String> = self.projects.iter().map(|p| p.id.clone()).collect();
        let candidates = |project_id: &str, zone: &str| -> Vec<String> {
            self.servers
                .iter()
                .filter(|s| s.state == "running" && s.project_id == project_id && s.zone == zone)
                .filter(|s| !utilisation_servers.contains(&s.id))
                .filter_map(|s| s.ip_ids.first())
                .filter_map(|id| self.ips.iter().find(|ip| &ip.id == id))
                .map(|ip| ip.address.clone())
                .collect()
        };
        lb::build(self.config.seed, self.today, &project_ids, candidates)
    }

    /// Resources that look suspicious to a sloppy report but are not waste.
    fn edge_cases(&mut self, rng: &mut IdStream, hibernating: usize) {
        let today = self.today;

        let anchor = self.anchor("fr-par-1", 0).unwrap_or(hibernating);

        // A local volume that is attached: `state` is "available" for attached local volumes too, only `server`
        // tells them apart from the orphaned one.
        let server = &self.servers[anchor];
        let local = InstanceVolume {
            id: rng.uuid(),
            name: format!("{}-local-data", server.name),
            project_id: server.project_id.clone(),
            zone: server.zone.clone(),
            volume_type: "l_ssd".to_string(),
            size: 25 * GB,
            server: Some(ServerRef { id: server.id.clone(), name: server.name.clone() }),
            state: "available".to_string(),
            creation_date: server.creation_date,
            modification_date: server.modification_date,
        };
        self.servers[anchor].volumes.push(ServerVolume::Local { id: local.id.clone() });
        self.instance_volumes.push(local);

        // A snapshot one day short of a 90-day threshold, of a volume that exists.
        let volume = self.boot_volume(anchor).clone();
        let created = rng.days_ago(today, 89);
        self.snapshot_of(rng, &volume, "pre-release-check".to_string(), volume.size, created);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> SimConfig {
        SimConfig { today: NaiveDate::from_ymd_opt(2026, 11, 22).unwrap(), ..SimConfig::default() }
    }

    #[test]
    fn same_config_same_organisation() {
        assert_eq!(Organization::build(&config()), Organization::build(&config()));
    }

    #[test]
    fn ghost_ids_do_not_depend_on_the_healthy_population() {
        let small = Organization::build(&SimConfig { servers: 1, ..config() });
        let large = Organization::build(&SimConfig { servers: 250, projects: 7, ..config() });
        assert_eq!(small.ghosts, large.ghosts);
        assert_eq!(small.utilisation_servers, large.utilisation_servers);
        let ids = |o: &Organization| {
            let lbs = o.load_balancers.iter().map(|l| l.id.clone());
            let nodes = o.kapsule_clusters.iter().flat_map(|c| &c.pools).flat_map(|p| &p.nodes);
            lbs.chain(o.databases.iter().map(|d| d.id.clone()))
                .chain(nodes.flat_map(|n| [n.id.clone(), n.instance_id.clone()]))
                .collect::<Vec<_>>()
        };
        assert_eq!(ids(&small), ids(&large));
    }

    #[test]
    fn healthy_population_matches_the_config() {
        let org = Organization::build(&config());
        // 60 healthy servers and the 6 planted utilisation cases (all in fr-par-1).
        assert_eq!(org.servers.iter().filter(|s| s.state == "running").count(), 66);
        assert_eq!(org.servers.iter().filter(|s| s.zone == "fr-par-1" && s.state == "running").count(), 42);
        assert_eq!(org.projects[0].id, org.id);
        assert_eq!(org.projects[0].name, "default");
        assert_eq!(
            org.projects.iter().map(|p| p.name.as_str()).collect::<Vec<_>>(),
            ["default", "web-shop", "data-platform"]
        );
        // Every attached reference points at an existing server.
        for v in &org.block_volumes {
            for r in &v.references {
                assert!(org.server(&r.server_id).is_some());
            }
        }
        let addresses: std::collections::HashSet<_> = org.ips.iter().map(|i| &i.address).collect();
        assert_eq!(addresses.len(), org.ips.len());
    }

    #[test]
    fn works_without_healthy_servers() {
        let org = Organization::build(&SimConfig { servers: 0, ..config() });
        let h = org.block_snapshot(&org.ghosts.old_snapshot).unwrap();
        assert!(org.block_volume(&h.parent_volume.as_ref().unwrap().id).is_some());
        // The healthy load balancers fall back to fixed private addresses.
        assert_eq!(org.load_balancers[0].backends[0].pool, ["10.0.0.11", "10.0.0.12"]);
    }

    #[test]
    fn healthy_load_balancers_point_at_healthy_servers() {
        let org = Organization::build(&config());
        let web = &org.load_balancers[0];
        assert_eq!(
            (web.name.as_str(), web.project_id.as_str(), web.zone.as_str()),
            ("web-lb", org.id.as_str(), "fr-par-1")
        );
        assert_eq!(web.backends[0].pool.len(), 2);
        for address in web.backends.iter().chain(&org.load_balancers[1].backends).flat_map(|b| &b.pool) {
            let ip = org.ips.iter().find(|i| &i.address == address).expect("a server's flexible IP");
            let server = org.server(&ip.server.as_ref().unwrap().id).unwrap();
            assert_eq!(server.state, "running");
            assert!(!org.utilisation_servers.contains(&server.id));
        }
        let api = &org.load_balancers[1];
        assert_eq!((api.name.as_str(), api.project_id.as_str()), ("api-lb", org.projects[1].id.as_str()));
        assert!(api.backends.iter().all(|b| !b.pool.is_empty()));
    }
}
