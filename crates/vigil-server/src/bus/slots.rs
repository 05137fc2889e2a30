//! The sessions one sensor may have open at once (`bus.max_sessions_per_sensor`): one per
//! network path plus reconnections is plenty; a sensor opening more is refused, so one
//! certificate cannot take every session of the core.

use std::collections::HashMap;
use std::sync::Mutex;

/// Open sessions per sensor name.
#[derive(Default)]
pub struct SensorSlots {
    open: Mutex<HashMap<String, usize>>,
}

/// One open session of a sensor, given back when dropped.
pub struct Slot<'a> {
    slots: &'a SensorSlots,
    sensor: String,
}

impl SensorSlots {
    /// A slot for a session of `sensor`, unless it has `max` open already.
    pub fn take(&self, sensor: &str, max: usize) -> Option<Slot<'_>> {
        let mut open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        let count = open.entry(sensor.to_string()).or_default();
        if *count >= max {
            return None;
        }
        *count += 1;
        Some(Slot {
            slots: self,
            sensor: sensor.to_string(),
        })
    }
}

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        let mut open = self.slots.open.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(count) = open.get_mut(&self.sensor) {
            debug_assert!(*count > 0);
            *count -= 1;
            if *count == 0 {
                open.remove(&self.sensor);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sensor_gets_at_most_max_slots_and_dropping_one_gives_it_back() {
        let slots = SensorSlots::default();
        let a = slots.take("a", 2).unwrap();
        let _b = slots.take("a", 2).unwrap();
        assert!(slots.take("a", 2).is_none());
        assert!(slots.take("other", 2).is_some());
        drop(a);
        assert!(slots.take("a", 2).is_some());
    }
}
