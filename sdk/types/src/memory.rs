//! State kept in memory: for tests, benchmarks and `--ephemeral` runs.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Mutex, MutexGuard};

use crate::state::{
    ApprovalRecord, Commit, Entries, EventRecord, Scope, Snapshot, StateError, StateStore, Usage,
    Version,
};

#[derive(Debug, Default)]
struct ScopeData {
    version: Version,
    /// Shared with the snapshots taken of it; a commit copies it only
    /// while one is still held.
    entries: Entries,
    /// What `entries` hold, kept with each commit.
    usage: Usage,
    events: Vec<EventRecord>,
    approvals: Vec<ApprovalRecord>,
}

/// State in a map behind one lock.
#[derive(Debug, Default)]
pub struct MemoryState {
    scopes: Mutex<HashMap<Scope, ScopeData>>,
}

impl MemoryState {
    /// Empty state.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<Scope, ScopeData>> {
        // A panic while holding the lock cannot leave a half-applied commit
        // (commits are applied after all checks), so the data is still sound.
        self.scopes.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Every entry of a scope, for inspection in tests.
    pub fn entries(&self, scope: &Scope) -> BTreeMap<String, Vec<u8>> {
        self.lock()
            .get(scope)
            .map(|d| BTreeMap::clone(&d.entries))
            .unwrap_or_default()
    }

    /// Every event committed for a scope.
    pub fn events(&self, scope: &Scope) -> Vec<EventRecord> {
        self.lock()
            .get(scope)
            .map(|d| d.events.clone())
            .unwrap_or_default()
    }

    /// Every approval filed for a scope.
    pub fn approvals(&self, scope: &Scope) -> Vec<ApprovalRecord> {
        self.lock()
            .get(scope)
            .map(|d| d.approvals.clone())
            .unwrap_or_default()
    }
}

impl StateStore for MemoryState {
    fn version(&self, scope: &Scope) -> Result<Version, StateError> {
        Ok(self.lock().get(scope).map_or(0, |d| d.version))
    }

    fn snapshot(&self, scope: &Scope) -> Result<Snapshot, StateError> {
        let scopes = self.lock();
        let (version, entries) = scopes
            .get(scope)
            .map_or((0, Entries::default()), |d| (d.version, d.entries.clone()));
        Ok(Snapshot {
            version,
            entries: Some(entries),
        })
    }

    fn get(&self, scope: &Scope, key: &str) -> Result<Option<Vec<u8>>, StateError> {
        Ok(self
            .lock()
            .get(scope)
            .and_then(|d| d.entries.get(key).cloned()))
    }

    fn list_keys(&self, scope: &Scope, prefix: &str) -> Result<Vec<String>, StateError> {
        let scopes = self.lock();
        let Some(data) = scopes.get(scope) else {
            return Ok(Vec::new());
        };
        Ok(data
            .entries
            .range(prefix.to_owned()..)
            .take_while(|(k, _)| k.starts_with(prefix))
            .map(|(k, _)| k.clone())
            .collect())
    }

    fn commit(&self, scope: &Scope, commit: Commit) -> Result<Version, StateError> {
        if commit
            .deadline
            .is_some_and(|d| std::time::Instant::now() >= d)
        {
            return Err(StateError::Deadline);
        }
        let mut scopes = self.lock();
        let data = scopes.entry(scope.clone()).or_default();
        if let Some(base) = commit.base
            && data.version != base
        {
            return Err(StateError::Conflict {
                base,
                current: data.version,
            });
        }
        if !commit.writes.is_empty() {
            let before = data.usage;
            // Far from the quota (the common case) the writes are applied
            // at once, each one lookup; near it, what each replaces is
            // looked up first so that a refused commit changes nothing.
            if before
                .at_most_after(&commit)
                .breaches(&commit.quota, &before)
            {
                let mut after = before;
                for (key, value) in &commit.writes {
                    if let Some(old) = data.entries.get(key) {
                        after.keys -= 1;
                        after.bytes -= (key.len() + old.len()) as u64;
                    }
                    if let Some(new) = value {
                        after.keys += 1;
                        after.bytes += (key.len() + new.len()) as u64;
                    }
                }
                if after.breaches(&commit.quota, &before) {
                    return Err(StateError::OverQuota {
                        usage: after,
                        quota: commit.quota,
                    });
                }
            }
            let mut after = before;
            let entries = std::sync::Arc::make_mut(&mut data.entries);
            for (key, value) in commit.writes {
                let size = key.len() as u64;
                let old = match value {
                    Some(value) => {
                        after.keys += 1;
                        after.bytes += size + value.len() as u64;
                        entries.insert(key, value)
                    }
                    None => entries.remove(&key),
                };
                if let Some(old) = old {
                    after.keys -= 1;
                    after.bytes -= size + old.len() as u64;
                }
            }
            data.usage = after;
            data.version += 1;
        }
        data.events.extend(commit.events);
        data.approvals.extend(commit.approvals);
        data.approvals
            .retain(|a| !commit.withdrawals.contains(&a.id));
        Ok(data.version)
    }

    fn usage(&self, scope: &Scope) -> Result<Usage, StateError> {
        Ok(self
            .lock()
            .get(scope)
            .map_or_else(Usage::default, |d| d.usage))
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn memory_state_keeps_the_contract() {
        crate::state::contract::check(&super::MemoryState::new());
    }
}
