//! The sample API's items: the wire types and an in-memory store safe under concurrent writers.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use serde::Serialize;

/// The most items the store holds, so the demo cannot be made to eat memory.
pub const MAX_ITEMS: usize = 10_000;

/// A stored item, as the API returns it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Item {
    /// Assigned by the store, never reused.
    pub id: u64,
    /// 1 to 100 characters, trimmed.
    pub name: String,
    /// 0 to 1,000,000.
    pub quantity: u32,
    /// Up to 10 tags of `a-z`, `0-9` and `-`.
    pub tags: Vec<String>,
    /// The client id of the token that created it.
    pub created_by: String,
}

/// A validated `POST /v1/items` body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewItem {
    /// The item's name.
    pub name: String,
    /// The item's quantity.
    pub quantity: u32,
    /// The item's tags.
    pub tags: Vec<String>,
}

/// The store already holds [`MAX_ITEMS`] items.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the store is full ({MAX_ITEMS} items)")]
pub struct StoreFull;

#[derive(Debug, Default)]
struct Items {
    by_id: BTreeMap<u64, Item>,
    last_id: u64,
}

/// The in-memory store. One mutex guards ids and items together, so
/// concurrent writers never share an id and a listing is a consistent snapshot.
#[derive(Debug, Clone, Default)]
pub struct ItemStore {
    items: Arc<Mutex<Items>>,
}

impl ItemStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, Items> {
        self.items.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Stores an item under the next id.
    pub fn insert(&self, item: NewItem, created_by: impl Into<String>) -> Result<Item, StoreFull> {
        let mut items = self.lock();
        if items.by_id.len() >= MAX_ITEMS {
            return Err(StoreFull);
        }
        items.last_id += 1;
        let item = Item {
            id: items.last_id,
            name: item.name,
            quantity: item.quantity,
            tags: item.tags,
            created_by: created_by.into(),
        };
        items.by_id.insert(item.id, item.clone());
        Ok(item)
    }

    /// The item with this id.
    pub fn get(&self, id: u64) -> Option<Item> {
        self.lock().by_id.get(&id).cloned()
    }

    /// Every item, by id.
    pub fn list(&self) -> Vec<Item> {
        self.lock().by_id.values().cloned().collect()
    }

    /// Removes an item; `false` if there was none.
    pub fn remove(&self, id: u64) -> bool {
        self.lock().by_id.remove(&id).is_some()
    }

    /// How many items are stored.
    pub fn len(&self) -> usize {
        self.lock().by_id.len()
    }

    /// Whether the store is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn new_item(name: &str) -> NewItem {
        NewItem {
            name: name.to_owned(),
            quantity: 1,
            tags: Vec::new(),
        }
    }

    #[test]
    fn assigns_ids_that_are_never_reused() {
        let store = ItemStore::new();
        let first = store.insert(new_item("a"), "svc").unwrap();
        let second = store.insert(new_item("b"), "svc").unwrap();
        assert_eq!((first.id, second.id), (1, 2));
        assert!(store.remove(2));
        assert!(!store.remove(2));
        assert_eq!(store.insert(new_item("c"), "svc").unwrap().id, 3);
        assert_eq!(store.get(1), Some(first));
        assert_eq!(store.list().len(), 2);
    }

    #[test]
    fn concurrent_writers_get_distinct_ids() {
        let store = ItemStore::new();
        let threads: Vec<_> = (0..8)
            .map(|thread| {
                let store = store.clone();
                std::thread::spawn(move || {
                    (0..250)
                        .map(|n| {
                            store
                                .insert(new_item(&format!("{thread}-{n}")), "svc")
                                .unwrap()
                                .id
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        let mut ids: Vec<u64> = threads
            .into_iter()
            .flat_map(|thread| thread.join().unwrap())
            .collect();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), 2000);
        assert_eq!(store.len(), 2000);
    }

    #[test]
    fn refuses_items_beyond_the_cap() {
        let store = ItemStore::new();
        for n in 0..MAX_ITEMS {
            store.insert(new_item(&n.to_string()), "svc").unwrap();
        }
        assert_eq!(
            store.insert(new_item("one too many"), "svc"),
            Err(StoreFull)
        );
    }
}
