//! What the guard knows about a user in an org, cached in process so that a warm authenticated
//! request costs no database statement.
//!
//! An entry holds the guard's one-row check (the org exists, the user, the identity with its
//! `token_version` and active flag, the membership statuses, the superuser flag) and, once a
//! route asked, the effective permissions and the [`View`]s every page load reads (`/auth/me`,
//! `/self/context`), so those answer with no statement at all. It is keyed by user, token
//! identity and org; a view lives and dies with its entry.
//!
//! Trust rules, in order:
//! - An entry is trusted only while invalidations are known to reach this process: the Redis
//!   subscription of the event hub is confirmed (or there is no Redis and every write happens
//!   in this process). Every confirmation and every loss of the subscription starts a new
//!   epoch; entries of an older epoch are never trusted again, so nothing cached before a loss
//!   survives it, even when the loss is noticed late.
//! - Every write of `sole` that changes those facts publishes an [`Scope`] after its commit;
//!   every process drops the matching entries when it arrives.
//! - An entry read from the database while an invalidation arrived is not stored (the read may
//!   have seen the state before the write).
//! - Whatever happens, an entry expires `GUARD_CACHE_TTL_SECONDS` after the read that filled it:
//!   writes made by the legacy service on a shared database publish nothing, so this bounds how
//!   long they go unnoticed.

use std::any::Any;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use uuid::Uuid;

use crate::services::users::GuardCheck;

/// What changed, as published on the invalidation channel.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Scope {
    /// A `users` row, its membership(s), roles or direct permissions.
    User(Uuid),
    /// An identity (active flag, token version, password, MFA): every user of it.
    Identity(Uuid),
    /// Everything about an org (role permissions, the org itself).
    Org(String),
    /// Everything.
    All,
}

impl Scope {
    /// The payload on the wire: `user:<id>`, `identity:<id>`, `org:<id>` or `all`.
    pub fn encode(&self) -> String {
        match self {
            Self::User(id) => format!("user:{id}"),
            Self::Identity(id) => format!("identity:{id}"),
            Self::Org(org) => format!("org:{org}"),
            Self::All => "all".to_owned(),
        }
    }

    /// A payload this version does not understand drops everything (the safe reading).
    pub fn decode(payload: &str) -> Self {
        let parsed = match payload.split_once(':') {
            Some(("user", id)) => Uuid::parse_str(id).ok().map(Self::User),
            Some(("identity", id)) => Uuid::parse_str(id).ok().map(Self::Identity),
            Some(("org", org)) if !org.is_empty() => Some(Self::Org(org.to_owned())),
            _ => None,
        };
        parsed.unwrap_or(Self::All)
    }
}

/// A per-user read that every page load repeats, cached with the guard's entry. Each is
/// invalidated by the same scopes as the entry, so every write that changes what a view shows
/// publishes one: roles and permissions ([`Scope::User`], [`Scope::Org`]), the profile's name
/// ([`Scope::User`]), the org's settings ([`Scope::Org`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum View {
    /// `GET /auth/me`: display name, role names and effective permissions.
    Me,
    /// `GET /self/context`: the org, its session timeout, the roles and direct permissions.
    Context,
}

type ViewValue = Arc<dyn Any + Send + Sync>;

/// Taken before reading the database: the read may be stored only if nothing was invalidated
/// since.
#[derive(Clone, Copy, Debug)]
pub struct Ticket {
    seq: u64,
    epoch: u64,
    at: Instant,
}

struct Entry {
    org: Box<str>,
    epoch: u64,
    at: Instant,
    check: Arc<GuardCheck>,
    permissions: Option<Arc<Vec<String>>>,
    views: Vec<(View, ViewValue)>,
}

type Slot = (Uuid, Option<Uuid>);

/// More entries than this and the expired ones are swept (then all, if still too many).
const MAX_ENTRIES: usize = 100_000;

pub struct GuardCache {
    ttl: Duration,
    live: AtomicBool,
    /// Bumped on every invalidation and every change of `live`.
    seq: AtomicU64,
    /// Bumped on every change of `live`: entries of an older epoch are never trusted.
    epoch: AtomicU64,
    entries: RwLock<HashMap<Slot, Vec<Entry>>>,
    len: AtomicU64,
}

impl std::fmt::Debug for GuardCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GuardCache")
            .field("ttl", &self.ttl)
            .field("live", &self.is_live())
            .finish_non_exhaustive()
    }
}

impl GuardCache {
    /// `live` is where invalidations stand at start: true without Redis (every write happens in
    /// this process), false until the subscription is confirmed otherwise.
    pub fn new(ttl: Duration, live: bool) -> Self {
        Self {
            ttl,
            live: AtomicBool::new(live),
            seq: AtomicU64::new(0),
            epoch: AtomicU64::new(0),
            entries: RwLock::default(),
            len: AtomicU64::new(0),
        }
    }

    pub fn is_live(&self) -> bool {
        self.live.load(Ordering::Acquire)
    }

    /// The subscription was confirmed (`true`) or lost (`false`): a new epoch either way.
    pub fn set_live(&self, live: bool) {
        self.epoch.fetch_add(1, Ordering::AcqRel);
        self.seq.fetch_add(1, Ordering::AcqRel);
        self.live.store(live, Ordering::Release);
        if !live {
            self.write().clear();
            self.len.store(0, Ordering::Relaxed);
        }
    }

    fn enabled(&self) -> bool {
        !self.ttl.is_zero() && self.is_live()
    }

    /// `None` when nothing may be cached now.
    pub fn ticket(&self) -> Option<Ticket> {
        if !self.enabled() {
            return None;
        }
        let epoch = self.epoch.load(Ordering::Acquire);
        let seq = self.seq.load(Ordering::Acquire);
        Some(Ticket {
            seq,
            epoch,
            at: Instant::now(),
        })
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, HashMap<Slot, Vec<Entry>>> {
        self.entries
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, HashMap<Slot, Vec<Entry>>> {
        self.entries
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn trusted(&self, entry: &Entry) -> bool {
        entry.epoch == self.epoch.load(Ordering::Acquire) && entry.at.elapsed() < self.ttl
    }

    /// The cached check of `user` (token identity `iid`) in `org`, when it may be trusted.
    pub fn get(&self, user: Uuid, iid: Option<Uuid>, org: &str) -> Option<Arc<GuardCheck>> {
        if !self.enabled() {
            return None;
        }
        let entries = self.read();
        let entry = entries.get(&(user, iid))?.iter().find(|e| &*e.org == org)?;
        self.trusted(entry).then(|| Arc::clone(&entry.check))
    }

    /// The cached effective permissions, when the entry may be trusted and holds them.
    pub fn permissions(
        &self,
        user: Uuid,
        iid: Option<Uuid>,
        org: &str,
    ) -> Option<Arc<Vec<String>>> {
        if !self.enabled() {
            return None;
        }
        let entries = self.read();
        let entry = entries.get(&(user, iid))?.iter().find(|e| &*e.org == org)?;
        if !self.trusted(entry) {
            return None;
        }
        entry.permissions.clone()
    }

    /// Whether nothing was invalidated since `ticket` (checked under the write lock).
    fn still_valid(&self, ticket: &Ticket) -> bool {
        self.is_live()
            && self.seq.load(Ordering::Acquire) == ticket.seq
            && self.epoch.load(Ordering::Acquire) == ticket.epoch
    }

    /// Stores what the guard read after taking `ticket`, unless something was invalidated
    /// meanwhile.
    pub fn put(
        &self,
        ticket: Ticket,
        user: Uuid,
        iid: Option<Uuid>,
        org: &str,
        check: Arc<GuardCheck>,
    ) {
        let mut entries = self.write();
        if !self.still_valid(&ticket) {
            return;
        }
        if self.len.load(Ordering::Relaxed) as usize >= MAX_ENTRIES {
            self.sweep(&mut entries);
        }
        let slot = entries.entry((user, iid)).or_default();
        let entry = Entry {
            org: org.into(),
            epoch: ticket.epoch,
            at: ticket.at,
            check,
            permissions: None,
            views: Vec::new(),
        };
        match slot.iter_mut().find(|e| &*e.org == org) {
            Some(existing) => *existing = entry,
            None => {
                slot.push(entry);
                self.len.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// Adds the permissions read after `ticket` to the entry, unless something was invalidated
    /// meanwhile.
    pub fn put_permissions(
        &self,
        ticket: Ticket,
        user: Uuid,
        iid: Option<Uuid>,
        org: &str,
        permissions: Arc<Vec<String>>,
    ) {
        let mut entries = self.write();
        if !self.still_valid(&ticket) {
            return;
        }
        let epoch = ticket.epoch;
        if let Some(entry) = entries
            .get_mut(&(user, iid))
            .and_then(|slot| slot.iter_mut().find(|e| &*e.org == org))
            && entry.epoch == epoch
        {
            entry.permissions = Some(permissions);
        }
    }

    /// A cached view of `user` in `org`, when its entry may be trusted and holds one.
    pub fn view<T: Any + Send + Sync>(
        &self,
        user: Uuid,
        iid: Option<Uuid>,
        org: &str,
        view: View,
    ) -> Option<Arc<T>> {
        if !self.enabled() {
            return None;
        }
        let entries = self.read();
        let entry = entries.get(&(user, iid))?.iter().find(|e| &*e.org == org)?;
        if !self.trusted(entry) {
            return None;
        }
        let (_, value) = entry.views.iter().find(|(v, _)| *v == view)?;
        Arc::clone(value).downcast::<T>().ok()
    }

    /// Keeps a view read under `ticket` with the entry it belongs to, unless something was
    /// invalidated since (or the entry is gone or of an older epoch: then it is not kept).
    pub fn put_view<T: Any + Send + Sync>(
        &self,
        ticket: Ticket,
        user: Uuid,
        iid: Option<Uuid>,
        org: &str,
        view: View,
        value: Arc<T>,
    ) {
        let mut entries = self.write();
        if !self.still_valid(&ticket) {
            return;
        }
        if let Some(entry) = entries
            .get_mut(&(user, iid))
            .and_then(|slot| slot.iter_mut().find(|e| &*e.org == org))
            && entry.epoch == ticket.epoch
        {
            let value: ViewValue = value;
            match entry.views.iter_mut().find(|(v, _)| *v == view) {
                Some(slot) => slot.1 = value,
                None => entry.views.push((view, value)),
            }
        }
    }

    /// Drops what `scope` names (an invalidation from this or another process).
    pub fn apply(&self, scope: &Scope) {
        // First: a read in flight must not store what it read before the write.
        self.seq.fetch_add(1, Ordering::AcqRel);
        let mut entries = self.write();
        let mut removed = 0u64;
        match scope {
            Scope::All => {
                entries.clear();
                self.len.store(0, Ordering::Relaxed);
                return;
            }
            Scope::User(id) => {
                entries.retain(|(user, _), slot| {
                    if user == id {
                        removed += slot.len() as u64;
                        false
                    } else {
                        true
                    }
                });
            }
            Scope::Identity(id) => {
                entries.retain(|(_, iid), slot| {
                    let before = slot.len();
                    if *iid == Some(*id) {
                        slot.clear();
                    } else {
                        slot.retain(|e| {
                            e.check
                                .context
                                .as_ref()
                                .is_none_or(|c| c.identity_id != *id && c.user_identity_id != *id)
                        });
                    }
                    removed += (before - slot.len()) as u64;
                    !slot.is_empty()
                });
            }
            Scope::Org(org) => {
                entries.retain(|_, slot| {
                    let before = slot.len();
                    slot.retain(|e| &*e.org != org.as_str());
                    removed += (before - slot.len()) as u64;
                    !slot.is_empty()
                });
            }
        }
        let _ = self
            .len
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| {
                Some(n.saturating_sub(removed))
            });
    }

    fn sweep(&self, entries: &mut HashMap<Slot, Vec<Entry>>) {
        let epoch = self.epoch.load(Ordering::Acquire);
        entries.retain(|_, slot| {
            slot.retain(|e| e.epoch == epoch && e.at.elapsed() < self.ttl);
            !slot.is_empty()
        });
        if entries.values().map(Vec::len).sum::<usize>() >= MAX_ENTRIES {
            entries.clear();
        }
        let n = entries.values().map(Vec::len).sum::<usize>();
        self.len.store(n as u64, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::services::users::UserContext;
    use time::OffsetDateTime;

    fn check(identity: Uuid) -> Arc<GuardCheck> {
        Arc::new(GuardCheck {
            org_exists: true,
            has_membership: true,
            context: Some(UserContext {
                user_id: Uuid::new_v4(),
                user_org_id: "acme".into(),
                user_email: "a@example.com".into(),
                user_is_active: true,
                is_superuser: false,
                user_created_at: OffsetDateTime::UNIX_EPOCH,
                user_identity_id: identity,
                identity_id: identity,
                identity_email: "a@example.com".into(),
                identity_is_active: true,
                token_version: 1,
                last_active_at: None,
                must_change_password: false,
                mfa_enabled: false,
                membership_id: None,
                employment_status: None,
                platform_status: None,
                invitation_status: None,
            }),
        })
    }

    #[test]
    fn scopes_round_trip_and_unknown_payloads_drop_everything() {
        let id = Uuid::new_v4();
        for scope in [
            Scope::User(id),
            Scope::Identity(id),
            Scope::Org("acme".into()),
            Scope::All,
        ] {
            assert_eq!(Scope::decode(&scope.encode()), scope);
        }
        assert_eq!(Scope::decode("user:not-a-uuid"), Scope::All);
        assert_eq!(Scope::decode("something-new"), Scope::All);
    }

    #[test]
    fn entries_are_trusted_only_while_live_and_in_their_epoch() {
        let cache = GuardCache::new(Duration::from_secs(60), false);
        assert!(cache.ticket().is_none(), "not live: nothing may be cached");
        cache.set_live(true);
        let (user, identity) = (Uuid::new_v4(), Uuid::new_v4());
        let ticket = cache.ticket().unwrap();
        cache.put(ticket, user, Some(identity), "acme", check(identity));
        assert!(cache.get(user, Some(identity), "acme").is_some());
        assert!(cache.get(user, Some(identity), "other").is_none());
        // Lost and regained: what was cached before is gone for good.
        cache.set_live(false);
        assert!(cache.get(user, Some(identity), "acme").is_none());
        cache.set_live(true);
        assert!(cache.get(user, Some(identity), "acme").is_none());
        // A read that started before the loss is not stored after it.
        cache.put(ticket, user, Some(identity), "acme", check(identity));
        assert!(cache.get(user, Some(identity), "acme").is_none());
    }

    #[test]
    fn an_invalidation_during_a_read_prevents_storing_it() {
        let cache = GuardCache::new(Duration::from_secs(60), true);
        let (user, identity) = (Uuid::new_v4(), Uuid::new_v4());
        let ticket = cache.ticket().unwrap();
        cache.apply(&Scope::User(Uuid::new_v4()));
        cache.put(ticket, user, Some(identity), "acme", check(identity));
        assert!(cache.get(user, Some(identity), "acme").is_none());
    }

    #[test]
    fn scopes_drop_the_entries_they_name() {
        let cache = GuardCache::new(Duration::from_secs(60), true);
        let (u1, i1, u2, i2) = (
            Uuid::new_v4(),
            Uuid::new_v4(),
            Uuid::new_v4(),
            Uuid::new_v4(),
        );
        let fill = |cache: &GuardCache| {
            for (u, i, org) in [(u1, i1, "acme"), (u2, i2, "acme"), (u2, i2, "globex")] {
                let t = cache.ticket().unwrap();
                cache.put(t, u, Some(i), org, check(i));
                let t = cache.ticket().unwrap();
                cache.put_permissions(t, u, Some(i), org, Arc::new(vec!["user.view".into()]));
            }
        };
        fill(&cache);
        assert!(cache.permissions(u2, Some(i2), "globex").is_some());
        cache.apply(&Scope::User(u1));
        assert!(cache.get(u1, Some(i1), "acme").is_none());
        assert!(cache.get(u2, Some(i2), "acme").is_some());
        cache.apply(&Scope::Org("globex".into()));
        assert!(cache.get(u2, Some(i2), "globex").is_none());
        assert!(cache.get(u2, Some(i2), "acme").is_some());
        cache.apply(&Scope::Identity(i2));
        assert!(cache.get(u2, Some(i2), "acme").is_none());
        fill(&cache);
        cache.apply(&Scope::All);
        assert!(cache.get(u1, Some(i1), "acme").is_none());
        assert!(cache.permissions(u2, Some(i2), "acme").is_none());
    }

    #[test]
    fn views_live_with_their_entry_and_go_with_it() {
        let cache = GuardCache::new(Duration::from_secs(60), true);
        let (user, identity) = (Uuid::new_v4(), Uuid::new_v4());
        let key = (user, Some(identity), "acme");
        let name = |cache: &GuardCache| -> Option<Arc<String>> {
            cache.view::<String>(key.0, key.1, key.2, View::Me)
        };
        // No entry yet: a view has nothing to belong to and is not kept.
        let t = cache.ticket().unwrap();
        cache.put_view(t, key.0, key.1, key.2, View::Me, Arc::new("Ada".to_owned()));
        assert!(name(&cache).is_none());

        let t = cache.ticket().unwrap();
        cache.put(t, key.0, key.1, key.2, check(identity));
        let t = cache.ticket().unwrap();
        cache.put_view(t, key.0, key.1, key.2, View::Me, Arc::new("Ada".to_owned()));
        assert_eq!(name(&cache).as_deref().map(String::as_str), Some("Ada"));
        // Another view of the same entry, and a wrong type, find nothing.
        assert!(
            cache
                .view::<String>(key.0, key.1, key.2, View::Context)
                .is_none()
        );
        assert!(cache.view::<u32>(key.0, key.1, key.2, View::Me).is_none());

        // A read that saw an invalidation land meanwhile is not kept.
        let t = cache.ticket().unwrap();
        cache.apply(&Scope::User(Uuid::new_v4()));
        cache.put_view(
            t,
            key.0,
            key.1,
            key.2,
            View::Me,
            Arc::new("Stale".to_owned()),
        );
        assert_eq!(name(&cache).as_deref().map(String::as_str), Some("Ada"));

        // The entry's scopes drop the view with it: a profile change, an org's settings.
        cache.apply(&Scope::User(user));
        assert!(name(&cache).is_none());
        let t = cache.ticket().unwrap();
        cache.put(t, key.0, key.1, key.2, check(identity));
        let t = cache.ticket().unwrap();
        cache.put_view(t, key.0, key.1, key.2, View::Me, Arc::new("Ada".to_owned()));
        cache.apply(&Scope::Org("acme".into()));
        assert!(name(&cache).is_none());
    }

    #[test]
    fn entries_expire_after_the_ttl() {
        let cache = GuardCache::new(Duration::from_millis(1), true);
        let (user, identity) = (Uuid::new_v4(), Uuid::new_v4());
        let ticket = cache.ticket().unwrap();
        cache.put(ticket, user, Some(identity), "acme", check(identity));
        let deadline = Instant::now() + Duration::from_secs(5);
        while cache.get(user, Some(identity), "acme").is_some() {
            assert!(Instant::now() < deadline, "entry never expired");
            std::thread::yield_now();
        }
        let off = GuardCache::new(Duration::ZERO, true);
        assert!(off.ticket().is_none(), "a zero TTL disables the cache");
    }
}
