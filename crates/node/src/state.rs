//! What every request handler shares: the store, the node's identity and its settings.

use std::sync::{Arc, RwLock};

use tandem_store::Store;

use crate::config::Config;
use crate::error::NodeError;
use crate::identity::Identity;
use crate::secrets::MasterKey;

/// The kind of tracker this node serves. Only the built-in tracker exists so far; the connector
/// issues add the others.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrackerKind {
    Builtin,
    ServiceNow,
}

impl TrackerKind {
    pub const ALL: &'static [TrackerKind] = &[TrackerKind::Builtin, TrackerKind::ServiceNow];

    pub fn as_str(self) -> &'static str {
        match self {
            TrackerKind::Builtin => "builtin",
            TrackerKind::ServiceNow => "servicenow",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            TrackerKind::Builtin => "Tandem built-in tracker",
            TrackerKind::ServiceNow => "ServiceNow",
        }
    }

    pub fn parse(s: &str) -> Option<TrackerKind> {
        Self::ALL.iter().copied().find(|k| k.as_str() == s)
    }
}

/// The settings an admin edits on the General settings page; kept in the database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeSettings {
    pub name: String,
    pub node_url: String,
    pub tracker: TrackerKind,
}

pub(crate) const NAME_SETTING: &str = "node.name";
pub(crate) const URL_SETTING: &str = "node.url";
pub(crate) const TRACKER_SETTING: &str = "node.tracker";

#[derive(Clone)]
pub struct AppState(Arc<Inner>);

struct Inner {
    store: Arc<dyn Store>,
    license_keys: Vec<ed25519_dalek::VerifyingKey>,
    identity: Identity,
    config: Config,
    settings: RwLock<NodeSettings>,
    master_key: MasterKey,
    /// Calls to other nodes, under the address policy.
    http: crate::outbound::PeerClient,
    /// Calls to URLs the admin configured (the error webhook).
    admin_http: reqwest::Client,
    /// The public probe's budget, per client address.
    probes: governor::DefaultKeyedRateLimiter<std::net::IpAddr>,
    outbox: tokio::sync::Notify,
    sync: tokio::sync::Notify,
    /// The bulk jobs this process runs, with their live counts ([`AppState::live_job`]).
    jobs: std::sync::Mutex<std::collections::HashMap<i64, Arc<crate::sync::jobs::LiveJob>>>,
    /// How delivery to each connection's remote goes ([`AppState::delivery_link`]).
    delivery:
        std::sync::Mutex<std::collections::HashMap<uuid::Uuid, crate::connections::delivery::Link>>,
    /// Held by each delivery round with a remote: see [`AppState::delivery_round`].
    delivery_round: tokio::sync::Mutex<()>,
    /// Twin locks, by hash of (connection, item): see [`AppState::lock_twin`].
    twin_locks: Box<[tokio::sync::Mutex<()>]>,
    /// Held from counting the pending invitations to storing a new one: see
    /// [`AppState::issuing_invitation`].
    issuing_invitation: tokio::sync::Mutex<()>,
    /// Each connection's reach, as last worked out ([`crate::sync::scope::reach`]).
    reach_cache: crate::sync::scope::ReachCache,
    /// Rule runs at once ([`AppState::rules_slot`]).
    rule_slots: tokio::sync::Semaphore,
    /// Failed sign-ins by user name and address ([`AppState::logins`]).
    logins: crate::auth::throttle::LoginThrottle,
    /// Password hashes at once ([`AppState::hash_gate`]).
    hash_gate: crate::auth::throttle::HashGate,
    /// Refusal lines anyone can cause, at most one per source and interval.
    refusal_log: crate::log_limit::LogLimiter,
    /// When each connection's last sync time was last written ([`AppState::due_touch`]).
    touched: std::sync::Mutex<std::collections::HashMap<uuid::Uuid, std::time::Instant>>,
    /// The tracker the node serves: its ServiceNow instance and client (none on the built-in
    /// tracker) and how the rules see items. Changed while the node runs when an admin saves a
    /// ServiceNow connection; the bridge's supervisor watches it.
    served: tokio::sync::watch::Sender<Served>,
    /// What the mirror reports, on a node that mirrors a tracker.
    bridge: std::sync::Mutex<Option<crate::mirror::MirrorStatus>>,
    bridge_wake: tokio::sync::Notify,
    /// Set by Resolve and retry on a polling error: the bridge polls at once.
    bridge_poll_now: std::sync::atomic::AtomicBool,
    /// Held while the list of ServiceNow writes to retry is read and changed.
    bridge_retries: tokio::sync::Mutex<()>,
    /// This node's Prometheus metrics ([`crate::metrics`]): its own, not the process's.
    metrics: crate::metrics::Metrics,
    /// Sync work a storage fault held up ([`AppState::owed`]).
    owed: crate::sync::engine::Owed,
    /// The plan as last determined, and when ([`crate::license::plan`]).
    plan: std::sync::Mutex<Option<(std::time::Instant, tandem_protocol::license::Plan)>>,
}

/// The tracker a node serves, as [`AppState`] keeps it.
#[derive(Clone)]
pub struct Served {
    /// The ServiceNow instance, when the node serves one.
    pub servicenow: Option<crate::config::ServiceNowConfig>,
    /// Its client, shared by the bridge and the script helpers.
    pub client: Option<Arc<tandem_connectors::servicenow::Client>>,
    pub view: crate::sync::item_json::View,
    /// The tracker the mirror keeps in step with, on a node that mirrors one.
    pub mirrored: Option<crate::mirror::Mirrored>,
}

impl Served {
    fn new(servicenow: Option<crate::config::ServiceNowConfig>) -> Result<Self, NodeError> {
        let Some(sn) = servicenow else {
            return Ok(Served {
                servicenow: None,
                client: None,
                view: crate::sync::item_json::View::builtin(),
                mirrored: None,
            });
        };
        let client = crate::servicenow::client(&sn).map_err(|e| {
            NodeError::Internal(format!("the ServiceNow connector cannot start: {e}"))
        })?;
        let client = Arc::new(client);
        Ok(Served {
            mirrored: Some(crate::servicenow::mirrored(&sn, client.clone())),
            view: crate::sync::item_json::View::new(Arc::new(
                tandem_connectors::servicenow::ServiceNowSchema::new(
                    tandem_connectors::servicenow::tables(&sn.tables),
                ),
            )),
            client: Some(client),
            servicenow: Some(sn),
        })
    }
}

/// How many probes one client address may ask for per minute (all at once at most).
const PROBES_PER_MINUTE: std::num::NonZeroU32 = std::num::NonZeroU32::new(30).unwrap();

/// How many locks the twins share ([`AppState::lock_twin`]).
const TWIN_LOCKS: usize = 1024;
/// How stale a connection's recorded last sync time may be.
const TOUCH_EVERY: std::time::Duration = std::time::Duration::from_millis(500);

impl AppState {
    pub fn new(
        store: Arc<dyn Store>,
        identity: Identity,
        config: Config,
        settings: NodeSettings,
        master_key: MasterKey,
    ) -> Result<Self, NodeError> {
        // Checked when the configuration was resolved; a key that does not parse trusts nothing.
        let license_keys = config
            .license_public_key
            .iter()
            .filter_map(|k| tandem_protocol::license::parse_vendor_public_key(k).ok())
            .collect();
        let http = crate::outbound::PeerClient::new(config.allow_private_destinations)
            .map_err(NodeError::Internal)?;
        let admin_http = reqwest::Client::builder()
            .user_agent(concat!("tandem/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(std::time::Duration::from_secs(5))
            .timeout(std::time::Duration::from_secs(30))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| NodeError::Internal(format!("cannot make the HTTP client: {e}")))?;
        let probes = governor::RateLimiter::keyed(
            governor::Quota::per_minute(PROBES_PER_MINUTE).allow_burst(PROBES_PER_MINUTE),
        );
        let served = Served::new(config.servicenow.clone())?;
        Ok(AppState(Arc::new(Inner {
            served: tokio::sync::watch::Sender::new(served),
            bridge_wake: tokio::sync::Notify::new(),
            bridge_retries: tokio::sync::Mutex::new(()),
            plan: std::sync::Mutex::new(None),
            metrics: crate::metrics::Metrics::new(),
            owed: crate::sync::engine::Owed::default(),
            bridge: std::sync::Mutex::new(None),
            bridge_poll_now: std::sync::atomic::AtomicBool::new(false),
            store,
            license_keys,
            identity,
            config,
            settings: RwLock::new(settings),
            master_key,
            http,
            admin_http,
            probes,
            outbox: tokio::sync::Notify::new(),
            sync: tokio::sync::Notify::new(),
            jobs: std::sync::Mutex::new(std::collections::HashMap::new()),
            delivery: std::sync::Mutex::new(std::collections::HashMap::new()),
            delivery_round: tokio::sync::Mutex::new(()),
            twin_locks: (0..TWIN_LOCKS)
                .map(|_| tokio::sync::Mutex::new(()))
                .collect(),
            touched: std::sync::Mutex::new(std::collections::HashMap::new()),
            refusal_log: crate::log_limit::LogLimiter::default(),
            issuing_invitation: tokio::sync::Mutex::new(()),
            reach_cache: Default::default(),
            rule_slots: tokio::sync::Semaphore::new(
                std::thread::available_parallelism().map_or(2, std::num::NonZero::get),
            ),
            logins: crate::auth::throttle::LoginThrottle::default(),
            hash_gate: crate::auth::throttle::HashGate::for_this_machine(),
        })))
    }

    /// This node's metrics: the counters its work bumps ([`crate::metrics`]).
    /// Sync work a storage fault held up, done by the incoming loop once the store takes
    /// writes again.
    pub fn owed(&self) -> &crate::sync::engine::Owed {
        &self.0.owed
    }

    pub fn metrics(&self) -> &crate::metrics::Metrics {
        &self.0.metrics
    }

    /// The sign-in throttle: every password check starts with [`LoginThrottle::begin`].
    ///
    /// [`LoginThrottle::begin`]: crate::auth::throttle::LoginThrottle::begin
    pub fn logins(&self) -> &crate::auth::throttle::LoginThrottle {
        &self.0.logins
    }

    /// The slots password hashing runs in, so that many sign-ins at once cannot exhaust memory.
    pub fn hash_gate(&self) -> &crate::auth::throttle::HashGate {
        &self.0.hash_gate
    }

    /// Whether a refusal line of `kind` from `source` is written now: `Some(n)`, `n` lines of
    /// it having been left out since the last (see [`crate::log_limit`]).
    pub fn refusal_log(&self, kind: &'static str, source: Option<std::net::IpAddr>) -> Option<u64> {
        self.0.refusal_log.allow(kind, source)
    }

    /// A turn to run sync rules on a blocking thread. Rules use the CPU only, so more runs at
    /// once than there are cores would only add threads and switches between them (the engine
    /// works on many twins at once; without this each would get a thread of its own).
    pub async fn rules_slot(&self) -> tokio::sync::SemaphorePermit<'_> {
        self.0
            .rule_slots
            .acquire()
            .await
            .expect("the rules semaphore is never closed")
    }

    /// Whether the connection's last sync time is due to be written again: at most every
    /// half second, so a busy connection does not write its record for every item.
    pub fn due_touch(&self, connection: uuid::Uuid) -> bool {
        let now = std::time::Instant::now();
        let mut touched = self.0.touched.lock().unwrap_or_else(|p| p.into_inner());
        match touched.get(&connection) {
            Some(at) if now.duration_since(*at) < TOUCH_EVERY => false,
            _ => {
                touched.insert(connection, now);
                true
            }
        }
    }

    /// Seals and opens secrets kept in the database.
    pub fn master_key(&self) -> &MasterKey {
        &self.0.master_key
    }

    /// The client for calls to other nodes (the address policy of [`crate::outbound`]).
    pub fn http(&self) -> &crate::outbound::PeerClient {
        &self.0.http
    }

    /// The client for URLs the admin configured.
    pub fn admin_http(&self) -> &reqwest::Client {
        &self.0.admin_http
    }

    /// Whether a client at `ip` may probe now ([`PROBES_PER_MINUTE`]).
    pub fn may_probe(&self, ip: std::net::IpAddr) -> bool {
        let limiter = &self.0.probes;
        // Forget clients whose budget is full again, so the table stays small.
        if limiter.len() > 10_000 {
            limiter.retain_recent();
        }
        limiter.check_key(&ip).is_ok()
    }

    /// Wakes the delivery of queued node-to-node messages.
    pub fn wake_delivery(&self) {
        self.0.outbox.notify_one();
    }

    /// Registers a bulk job this process runs from now on; returns its live counts.
    pub fn register_job(&self, id: i64) -> Arc<crate::sync::jobs::LiveJob> {
        let mut jobs = self.0.jobs.lock().unwrap_or_else(|p| p.into_inner());
        Arc::clone(jobs.entry(id).or_default())
    }

    /// The live counts of a bulk job this process runs.
    pub fn live_job(&self, id: i64) -> Option<Arc<crate::sync::jobs::LiveJob>> {
        let jobs = self.0.jobs.lock().unwrap_or_else(|p| p.into_inner());
        jobs.get(&id).cloned()
    }

    /// The job ended (or stopped): its record in the store says the rest.
    pub fn forget_job(&self, id: i64) {
        let mut jobs = self.0.jobs.lock().unwrap_or_else(|p| p.into_inner());
        jobs.remove(&id);
    }

    /// How delivery to the connection's remote goes now (in memory: a restart starts afresh).
    pub fn delivery_link(&self, connection: uuid::Uuid) -> crate::connections::delivery::Link {
        let links = self.0.delivery.lock().unwrap_or_else(|p| p.into_inner());
        links.get(&connection).cloned().unwrap_or_default()
    }

    /// Held while delivery talks to a remote (one round: a batch sent and its acknowledgement
    /// applied). What changes the queue under it — a Clean-up voiding what waits — takes it
    /// too, so that nothing it reports as not sent is on its way.
    pub async fn delivery_round(&self) -> tokio::sync::MutexGuard<'_, ()> {
        self.0.delivery_round.lock().await
    }

    /// Changes how delivery to the connection's remote goes.
    pub fn update_delivery<R>(
        &self,
        connection: uuid::Uuid,
        change: impl FnOnce(&mut crate::connections::delivery::Link) -> R,
    ) -> R {
        let mut links = self.0.delivery.lock().unwrap_or_else(|p| p.into_inner());
        change(links.entry(connection).or_default())
    }

    /// Held while the engine reads, stamps and writes one twin — sending a change, applying
    /// the remote's, recording an acknowledgement — so two paths never interleave on it (an
    /// event and an Exalate would queue one replica twice; an apply would lose a version a send
    /// just wrote). Twins share a fixed set of locks by hash: hold one at a time.
    pub async fn lock_twin(
        &self,
        connection_id: uuid::Uuid,
        key: &tandem_model::ItemKey,
    ) -> tokio::sync::MutexGuard<'_, ()> {
        use std::hash::{Hash, Hasher};
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        connection_id.hash(&mut hasher);
        key.project.as_str().hash(&mut hasher);
        key.number.hash(&mut hasher);
        let shard = (hasher.finish() % TWIN_LOCKS as u64) as usize;
        self.0.twin_locks[shard].lock().await
    }

    /// Wakes the sync engine: a change or a request waits.
    /// Tells the mirror that mirror items may have changed (a no-op elsewhere).
    pub fn wake_bridge(&self) {
        if self.0.served.borrow().client.is_some() {
            self.0.bridge_wake.notify_one();
        }
    }

    /// The plan cached at most `fresh` ago.
    pub fn cached_plan(
        &self,
        fresh: std::time::Duration,
    ) -> Option<tandem_protocol::license::Plan> {
        let cached = self.0.plan.lock().unwrap_or_else(|p| p.into_inner());
        cached
            .as_ref()
            .filter(|(at, _)| at.elapsed() < fresh)
            .map(|(_, plan)| plan.clone())
    }

    /// Keeps the plan just determined; `None` forgets it (a license key was installed).
    pub fn cache_plan(&self, plan: Option<tandem_protocol::license::Plan>) {
        *self.0.plan.lock().unwrap_or_else(|p| p.into_inner()) =
            plan.map(|p| (std::time::Instant::now(), p));
    }

    /// Held while the mirror's list of writes to retry is read and changed.
    pub async fn bridge_retries_lock(&self) -> tokio::sync::MutexGuard<'_, ()> {
        self.0.bridge_retries.lock().await
    }

    /// Waits until [`AppState::wake_bridge`] is called.
    /// Asks the bridge to poll the instance now rather than at its next interval.
    pub fn poll_bridge_now(&self) {
        self.0
            .bridge_poll_now
            .store(true, std::sync::atomic::Ordering::Relaxed);
        self.wake_bridge();
    }

    /// Whether a poll was asked for since the last call.
    pub fn take_bridge_poll_request(&self) -> bool {
        self.0
            .bridge_poll_now
            .swap(false, std::sync::atomic::Ordering::Relaxed)
    }

    pub async fn bridge_woken(&self) {
        self.0.bridge_wake.notified().await;
    }

    pub fn wake_sync(&self) {
        self.0.sync.notify_one();
    }

    /// Waits until [`AppState::wake_sync`] is called.
    pub async fn sync_woken(&self) {
        self.0.sync.notified().await;
    }

    /// Waits until [`AppState::wake_delivery`] is called.
    pub async fn delivery_woken(&self) {
        self.0.outbox.notified().await;
    }

    /// The client of the ServiceNow instance this node serves, if it serves one.
    pub fn servicenow(&self) -> Option<Arc<tandem_connectors::servicenow::Client>> {
        self.0.served.borrow().client.clone()
    }

    /// The ServiceNow instance this node serves, if it serves one (from the configuration, or
    /// saved on the General settings page).
    pub fn servicenow_config(&self) -> Option<crate::config::ServiceNowConfig> {
        self.0.served.borrow().servicenow.clone()
    }

    /// Serves the ServiceNow instance from now on (saved on the General settings page): the
    /// rules see ServiceNow records, and the bridge starts again with the new settings.
    pub async fn serve_servicenow(
        &self,
        config: crate::config::ServiceNowConfig,
    ) -> Result<(), NodeError> {
        let served = Served::new(Some(config))?;
        let mut settings = self.settings();
        if settings.tracker != TrackerKind::ServiceNow {
            settings.tracker = TrackerKind::ServiceNow;
            self.update_settings(settings).await?;
        }
        self.0.served.send_replace(served);
        Ok(())
    }

    /// Follows what the node serves: the bridge's supervisor restarts the bridge on a change.
    pub fn watch_served(&self) -> tokio::sync::watch::Receiver<Served> {
        self.0.served.subscribe()
    }

    /// Changes what the mirror reports.
    pub fn set_bridge_status(&self, change: impl FnOnce(&mut crate::mirror::MirrorStatus)) {
        let mut slot = self
            .0
            .bridge
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        change(slot.get_or_insert_with(Default::default));
    }

    /// What the mirror last reported; `None` on a node that mirrors no tracker.
    pub fn bridge_status(&self) -> Option<crate::mirror::MirrorStatus> {
        self.0
            .bridge
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// How the rules see this node's items.
    pub fn view(&self) -> crate::sync::item_json::View {
        self.0.served.borrow().view.clone()
    }

    /// Held while an invitation is issued, from counting those that wait to storing the new
    /// one, so that invitations made at once cannot all pass the count. (Only this process
    /// writes the database.)
    pub async fn issuing_invitation(&self) -> tokio::sync::MutexGuard<'_, ()> {
        self.0.issuing_invitation.lock().await
    }

    /// Each connection's reach, as last worked out.
    pub fn reach_cache(&self) -> &crate::sync::scope::ReachCache {
        &self.0.reach_cache
    }

    pub fn store(&self) -> &dyn Store {
        self.0.store.as_ref()
    }

    /// The store, shared: for work that outlives a borrow, such as the script helpers.
    pub fn shared_store(&self) -> Arc<dyn Store> {
        self.0.store.clone()
    }

    pub fn identity(&self) -> &Identity {
        &self.0.identity
    }

    /// The vendor keys whose license keys this node accepts.
    pub fn license_keys(&self) -> &[ed25519_dalek::VerifyingKey] {
        &self.0.license_keys
    }

    pub fn config(&self) -> &Config {
        &self.0.config
    }

    pub fn settings(&self) -> NodeSettings {
        self.0
            .settings
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    /// Stores new settings and makes them current.
    pub async fn update_settings(&self, settings: NodeSettings) -> Result<(), NodeError> {
        let store = self.store();
        store.set_setting(NAME_SETTING, &settings.name).await?;
        store.set_setting(URL_SETTING, &settings.node_url).await?;
        store
            .set_setting(TRACKER_SETTING, settings.tracker.as_str())
            .await?;
        *self
            .0
            .settings
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = settings;
        Ok(())
    }

    /// Whether browsers reach the node over HTTPS (cookies are then marked `Secure`).
    pub fn https(&self) -> bool {
        self.settings().node_url.starts_with("https://")
    }
}
