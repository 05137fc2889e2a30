//! Index entries that almost always hold one value: kept inline, a vector only for the rest.

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::hash::Hash;

/// The values filed under one key of an index map.
#[derive(Debug, Clone)]
pub enum Few<T> {
    /// The usual case, without an allocation.
    One(T),
    /// Two or more.
    Many(Vec<T>),
}

impl<T: Copy + PartialEq> Few<T> {
    /// The values, in the order they were added.
    pub fn as_slice(&self) -> &[T] {
        match self {
            Few::One(one) => std::slice::from_ref(one),
            Few::Many(many) => many,
        }
    }

    /// Files `value` under `key` in `map`.
    pub fn add<K: Hash + Eq>(map: &mut HashMap<K, Few<T>>, key: K, value: T) {
        match map.entry(key) {
            Entry::Vacant(v) => {
                v.insert(Few::One(value));
            }
            Entry::Occupied(mut o) => {
                let slot = o.get_mut();
                match slot {
                    Few::One(first) => *slot = Few::Many(vec![*first, value]),
                    Few::Many(many) => many.push(value),
                }
            }
        }
    }

    /// Removes `value` from under `key`, dropping the key once nothing is left.
    pub fn take<K: Hash + Eq>(map: &mut HashMap<K, Few<T>>, key: K, value: T) {
        let empty = match map.get_mut(&key) {
            Some(Few::One(one)) => *one == value,
            Some(Few::Many(many)) => {
                many.retain(|v| *v != value);
                many.is_empty()
            }
            None => false,
        };
        if empty {
            map.remove(&key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_then_many_then_gone() {
        let mut map: HashMap<u8, Few<u64>> = HashMap::new();
        Few::add(&mut map, 1, 10);
        assert!(matches!(map[&1], Few::One(10)));
        Few::add(&mut map, 1, 11);
        assert_eq!(map[&1].as_slice(), &[10, 11]);
        Few::take(&mut map, 1, 10);
        assert_eq!(map[&1].as_slice(), &[11]);
        Few::take(&mut map, 1, 12);
        Few::take(&mut map, 1, 11);
        assert!(map.is_empty());
    }
}
