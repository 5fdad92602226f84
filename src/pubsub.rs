//! The announcement event hub: ONE Redis pub/sub subscription per process, fanned out in-process
//! to every open `/announcements/stream` of the event's org.
//!
//! The legacy service opened one Redis connection per open stream. Here a single task holds a
//! dedicated pub/sub connection with `PSUBSCRIBE <prefix>:announcements:*` (started by the first
//! stream, reconnected with backoff), and each stream gets a bounded receiver of its org's
//! `tokio::sync::broadcast` channel: publishing never waits for a slow client, and a client that
//! falls more than `ANNOUNCEMENT_STREAM_BUFFER` events behind is disconnected (it reconnects).
//!
//! Channel names and payloads are the legacy ones, so `sole` and legacy instances sharing a Redis
//! see each other's events. Without Redis (the in-process cache), events are fanned out inside
//! this process only.
//!
//! The hub also carries the shutdown notification streams observe: [`Hub::shutdown`] ends every
//! open stream cleanly, so a draining server is not held open by idle tabs.
//!
//! The same subscription carries the guard cache's invalidations (`SUBSCRIBE <prefix>:guard`,
//! see [`crate::guard_cache`]): the cache is trusted only while this subscription is confirmed,
//! and every confirmation or loss starts a new cache epoch. The guard starts the subscription on
//! its first request.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::StreamExt;
use secrecy::ExposeSecret;
use tokio::sync::{broadcast, watch};

use crate::cache::Cache;
use crate::config::Settings;
use crate::guard_cache::{GuardCache, Scope};

/// One event as received from the channel: the JSON text, shared by every receiver.
pub type Event = Arc<str>;

/// Where the process-wide subscription stands (reported by `/health/ready`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SubscriptionState {
    /// No stream has been opened yet, so nothing has connected.
    Idle,
    Connecting,
    Subscribed,
    /// The connection was lost or could not be made; retrying with backoff.
    Reconnecting,
    /// No Redis: events are fanned out inside this process only.
    InProcess,
    /// The server is shutting down.
    Stopped,
}

impl SubscriptionState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Idle => "idle",
            Self::Connecting => "connecting",
            Self::Subscribed => "subscribed",
            Self::Reconnecting => "reconnecting",
            Self::InProcess => "in_process",
            Self::Stopped => "stopped",
        }
    }

    /// Events published now reach this process's streams.
    pub fn is_live(self) -> bool {
        matches!(self, Self::Subscribed | Self::InProcess)
    }
}

const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// The longest pause between pings; with the guard cache on, it pings once per cache TTL (at
/// least once a second), so a silently dead connection is noticed about as fast as entries
/// expire anyway.
const PING_INTERVAL: Duration = Duration::from_secs(30);
const PING_TIMEOUT: Duration = Duration::from_secs(5);
const BACKOFF_START: Duration = Duration::from_millis(100);
const BACKOFF_MAX: Duration = Duration::from_secs(5);

pub struct Hub {
    /// `<prefix>:announcements:`; the org id follows it in a channel name.
    channel_prefix: String,
    client: Option<redis::Client>,
    buffer: usize,
    orgs: Mutex<HashMap<String, broadcast::Sender<Event>>>,
    state: watch::Sender<SubscriptionState>,
    started: AtomicBool,
    shutdown: watch::Sender<bool>,
    /// `<prefix>:guard`, the guard cache's invalidation channel.
    guard_channel: String,
    /// The guard's in-process cache, trusted only while this hub's subscription is live.
    pub guard: Arc<GuardCache>,
    ping_interval: Duration,
}

impl Hub {
    /// A hub over Redis when the cache is Redis-backed, else in-process. Connects nothing.
    pub fn new(settings: &Settings, cache: &Cache) -> Self {
        let client = match (&settings.redis_url, cache.backend_name()) {
            (Some(url), "redis") => match redis::Client::open(url.expose_secret()) {
                Ok(client) => Some(client),
                Err(e) => {
                    tracing::error!(error = %e, "announcement hub: invalid REDIS_URL; fanning out in-process only");
                    None
                }
            },
            _ => None,
        };
        let initial = if client.is_some() {
            SubscriptionState::Idle
        } else {
            SubscriptionState::InProcess
        };
        let guard = Arc::new(GuardCache::new(settings.guard_cache_ttl, client.is_none()));
        let ping_interval = if settings.guard_cache_ttl.is_zero() {
            PING_INTERVAL
        } else {
            settings
                .guard_cache_ttl
                .clamp(Duration::from_secs(1), PING_INTERVAL)
        };
        Self {
            guard_channel: cache.key(&["guard"]),
            guard,
            ping_interval,
            channel_prefix: cache.key(&["announcements", ""]),
            client,
            buffer: settings.announcement_stream_buffer.max(1),
            orgs: Mutex::default(),
            state: watch::Sender::new(initial),
            started: AtomicBool::new(false),
            shutdown: watch::Sender::new(false),
        }
    }

    /// `<prefix>:announcements:<org_id>`, the legacy channel name.
    pub fn channel(&self, org_id: &str) -> String {
        format!("{}{org_id}", self.channel_prefix)
    }

    pub fn state(&self) -> SubscriptionState {
        *self.state.borrow()
    }

    /// Open streams in this process (all orgs).
    pub fn receivers(&self) -> usize {
        self.lock()
            .values()
            .map(broadcast::Sender::receiver_count)
            .sum()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, broadcast::Sender<Event>>> {
        self.orgs
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// A receiver of the org's events; starts the process-wide subscription on first use.
    pub fn subscribe(self: &Arc<Self>, org_id: &str) -> broadcast::Receiver<Event> {
        self.start();
        let mut orgs = self.lock();
        orgs.retain(|_, tx| tx.receiver_count() > 0);
        orgs.entry(org_id.to_owned())
            .or_insert_with(|| broadcast::channel(self.buffer).0)
            .subscribe()
    }

    /// Waits (at most `limit`) until published events reach this process; false on timeout.
    pub async fn wait_live(&self, limit: Duration) -> bool {
        let mut rx = self.state.subscribe();
        tokio::time::timeout(limit, rx.wait_for(|s| s.is_live()))
            .await
            .is_ok_and(|r| r.is_ok())
    }

    /// Publishes an announcement event after its transaction committed. Failures are logged,
    /// never returned: the change is saved whatever happens to the notification.
    pub async fn publish(&self, cache: &Cache, org_id: &str, payload: &str) {
        if self.client.is_none() {
            self.deliver(org_id, payload);
            return;
        }
        let channel = self.channel(org_id);
        match cache.publish(&channel, payload).await {
            Ok(receivers) => {
                tracing::debug!(channel = %channel, receivers, "announcement event published");
            }
            Err(e) => tracing::error!(
                error = %e,
                channel = %channel,
                "publishing the announcement event failed; the change is saved but open streams were not notified"
            ),
        }
    }

    /// Starts the process-wide subscription unless it runs already (the guard calls this on
    /// every request: one atomic load once started).
    pub fn ensure_started(self: &Arc<Self>) {
        if !self.started.load(Ordering::Acquire) {
            self.start();
        }
    }

    /// Drops what `scope` names from the guard cache of this process at once and of every
    /// other process through Redis. Call it after the change committed. A failed publish is
    /// logged: other processes then notice the change when their entries expire.
    pub async fn invalidate(&self, cache: &Cache, scope: Scope) {
        self.guard.apply(&scope);
        if self.client.is_none() {
            return;
        }
        let payload = scope.encode();
        if let Err(e) = cache.publish(&self.guard_channel, &payload).await {
            tracing::error!(
                error = %e,
                channel = %self.guard_channel,
                "publishing a guard cache invalidation failed; other instances notice the change when their entries expire"
            );
        }
    }

    /// Hands one event to this process's open streams of `org_id`.
    fn deliver(&self, org_id: &str, payload: &str) {
        let mut orgs = self.lock();
        if let Some(tx) = orgs.get(org_id)
            && tx.send(Arc::from(payload)).is_err()
        {
            orgs.remove(org_id);
        }
    }

    /// Ends every open stream and the subscription task (server shutdown).
    pub fn shutdown(&self) {
        self.shutdown.send_replace(true);
        self.state.send_replace(SubscriptionState::Stopped);
        if self.client.is_some() {
            self.guard.set_live(false);
        }
    }

    /// A receiver that turns `true` when the server shuts down.
    pub fn shutdown_signal(&self) -> watch::Receiver<bool> {
        self.shutdown.subscribe()
    }

    fn start(self: &Arc<Self>) {
        let Some(client) = self.client.clone() else {
            return;
        };
        if self.started.swap(true, Ordering::SeqCst) {
            return;
        }
        if *self.shutdown.borrow() {
            return;
        }
        self.state.send_replace(SubscriptionState::Connecting);
        let hub = Arc::clone(self);
        tokio::spawn(async move { hub.run(client).await });
    }

    /// The subscription task: connect, PSUBSCRIBE once, deliver; reconnect with backoff.
    async fn run(self: Arc<Self>, client: redis::Client) {
        let pattern = format!("{}*", crate::cache::escape_glob(&self.channel_prefix));
        let mut shutdown = self.shutdown.subscribe();
        let mut backoff = BACKOFF_START;
        loop {
            if *shutdown.borrow() {
                break;
            }
            let connect = async {
                let mut pubsub = tokio::time::timeout(CONNECT_TIMEOUT, client.get_async_pubsub())
                    .await
                    .map_err(|_| "connect timed out".to_owned())?
                    .map_err(|e| e.to_string())?;
                tokio::time::timeout(CONNECT_TIMEOUT, pubsub.psubscribe(&pattern))
                    .await
                    .map_err(|_| "PSUBSCRIBE timed out".to_owned())?
                    .map_err(|e| e.to_string())?;
                tokio::time::timeout(CONNECT_TIMEOUT, pubsub.subscribe(&self.guard_channel))
                    .await
                    .map_err(|_| "SUBSCRIBE timed out".to_owned())?
                    .map_err(|e| e.to_string())?;
                Ok::<_, String>(pubsub)
            };
            let connected = tokio::select! {
                r = connect => Some(r),
                () = stopped(&mut shutdown) => None,
            };
            match connected {
                None => break,
                Some(Ok(pubsub)) => {
                    backoff = BACKOFF_START;
                    // Invalidations reach this process from now on: a new cache epoch starts.
                    self.guard.set_live(true);
                    self.state.send_replace(SubscriptionState::Subscribed);
                    tracing::info!(pattern = %pattern, "announcement hub subscribed");
                    let (mut sink, mut messages) = pubsub.split();
                    let mut ping = tokio::time::interval_at(
                        tokio::time::Instant::now() + self.ping_interval,
                        self.ping_interval,
                    );
                    let ping_timeout = PING_TIMEOUT.min(self.ping_interval);
                    loop {
                        tokio::select! {
                            msg = messages.next() => match msg {
                                Some(msg) => self.on_message(&msg),
                                None => {
                                    tracing::warn!("announcement hub: Redis pub/sub connection lost; reconnecting");
                                    break;
                                }
                            },
                            _ = ping.tick() => {
                                let alive = tokio::time::timeout(ping_timeout, sink.ping::<redis::Value>()).await;
                                if !matches!(alive, Ok(Ok(_))) {
                                    tracing::warn!("announcement hub: Redis pub/sub ping failed; reconnecting");
                                    break;
                                }
                            }
                            () = stopped(&mut shutdown) => {
                                self.guard.set_live(false);
                                return;
                            }
                        }
                    }
                    // Invalidations may have been missed: nothing cached so far is trusted.
                    self.guard.set_live(false);
                }
                Some(Err(e)) => {
                    tracing::warn!(error = %e, retry_in_ms = backoff.as_millis() as u64, "announcement hub: cannot subscribe to Redis");
                }
            }
            if *shutdown.borrow() {
                break;
            }
            self.state.send_replace(SubscriptionState::Reconnecting);
            tokio::select! {
                () = tokio::time::sleep(backoff) => {}
                () = stopped(&mut shutdown) => break,
            }
            backoff = (backoff * 2).min(BACKOFF_MAX);
        }
        self.guard.set_live(false);
        self.state.send_replace(SubscriptionState::Stopped);
    }

    fn on_message(&self, msg: &redis::Msg) {
        if msg.get_channel_name() == self.guard_channel {
            match std::str::from_utf8(msg.get_payload_bytes()) {
                Ok(payload) => self.guard.apply(&Scope::decode(payload)),
                Err(_) => self.guard.apply(&Scope::All),
            }
            return;
        }
        let Some(org_id) = msg.get_channel_name().strip_prefix(&self.channel_prefix) else {
            return;
        };
        match std::str::from_utf8(msg.get_payload_bytes()) {
            Ok(payload) => self.deliver(org_id, payload),
            Err(_) => tracing::warn!(org_id, "announcement hub: ignoring a non-UTF-8 event"),
        }
    }
}

/// Resolves once the shutdown flag is set (or its sender is gone).
pub async fn stopped(rx: &mut watch::Receiver<bool>) {
    let _ = rx.wait_for(|s| *s).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hub(prefix: &str) -> Arc<Hub> {
        let env = crate::config::EnvMap::from_pairs([("REDIS_KEY_PREFIX", prefix.to_owned())]);
        let settings = Settings::from_env(&env).unwrap();
        Arc::new(Hub::new(&settings, &Cache::memory(prefix)))
    }

    #[tokio::test]
    async fn in_process_fan_out_reaches_only_the_events_org() {
        let hub = hub("sole");
        assert_eq!(hub.channel("acme"), "sole:announcements:acme");
        assert_eq!(hub.state(), SubscriptionState::InProcess);
        let mut a1 = hub.subscribe("acme");
        let mut a2 = hub.subscribe("acme");
        let mut b = hub.subscribe("other");
        hub.publish(&Cache::memory("sole"), "acme", "{\"x\":1}")
            .await;
        assert_eq!(&*a1.recv().await.unwrap(), "{\"x\":1}");
        assert_eq!(&*a2.recv().await.unwrap(), "{\"x\":1}");
        assert!(b.try_recv().is_err());
        assert_eq!(hub.receivers(), 3);
    }

    #[tokio::test]
    async fn a_receiver_that_falls_behind_is_told_it_lagged() {
        let hub = hub("sole");
        let mut slow = hub.subscribe("acme");
        for i in 0..100 {
            hub.deliver("acme", &i.to_string());
        }
        assert!(matches!(
            slow.recv().await,
            Err(broadcast::error::RecvError::Lagged(_))
        ));
    }
}
