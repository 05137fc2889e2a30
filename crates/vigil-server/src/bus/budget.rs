//! The core-wide budget of memory for bus intake: the bytes of frames being read and of their
//! decoded copies, until the batch is queued for the store. A session reserves a frame's cost
//! ([`frame_cost`]) once it knows the frame's length and before it reads the body; while the
//! budget is spent it waits and reads nothing, so TCP pushes back on the sender and nothing is
//! allocated past the budget. One sensor's sessions together hold at most half of it, so a
//! stolen certificate cannot starve the other sensors.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use metrics::Gauge;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// A frame of `n` bytes is held in at most three copies at once: its bytes and its decoded
/// message, then the message, the batch's event list and the decoded events (the frame's bytes
/// are freed once decoded). Each decoded event's fixed overhead is not counted.
pub const COPIES: usize = 3;

/// What a frame of `len` bytes costs the budget.
pub const fn frame_cost(len: usize) -> usize {
    len.saturating_mul(COPIES)
}

/// The budget; see the module doc.
pub struct IntakeBudget {
    total: Arc<Semaphore>,
    /// Each sensor's share (half the total), created at its first frame.
    shares: Mutex<HashMap<String, Arc<Semaphore>>>,
    share: usize,
    reserved: Gauge,
}

/// Budget held for one frame until dropped.
pub struct Reservation {
    _share: OwnedSemaphorePermit,
    _total: OwnedSemaphorePermit,
    bytes: usize,
    reserved: Gauge,
}

impl Drop for Reservation {
    fn drop(&mut self) {
        self.reserved.decrement(self.bytes as f64);
    }
}

impl IntakeBudget {
    /// A budget of `bytes`, its use shown on `reserved` (`vigil_bus_intake_memory_bytes`).
    pub fn new(bytes: usize, reserved: Gauge) -> IntakeBudget {
        debug_assert!(bytes / 2 >= frame_cost(vigil_bus::MAX_FRAME_BYTES));
        IntakeBudget {
            total: Arc::new(Semaphore::new(bytes)),
            shares: Mutex::new(HashMap::new()),
            share: bytes / 2,
            reserved,
        }
    }

    /// Waits until `sensor` may hold a frame of `len` bytes (at most
    /// [`vigil_bus::MAX_FRAME_BYTES`]) and reserves its cost.
    pub async fn reserve(&self, sensor: &str, len: usize) -> Reservation {
        debug_assert!(len <= vigil_bus::MAX_FRAME_BYTES);
        let bytes = frame_cost(len);
        // At most 3 × 32 MiB: fits.
        let permits = u32::try_from(bytes).unwrap_or(u32::MAX);
        let share = {
            let mut shares = self.shares.lock().unwrap_or_else(|p| p.into_inner());
            Arc::clone(
                shares
                    .entry(sensor.to_string())
                    .or_insert_with(|| Arc::new(Semaphore::new(self.share))),
            )
        };
        // Neither semaphore is ever closed.
        let (Ok(share), Ok(total)) = (
            share.acquire_many_owned(permits).await,
            Arc::clone(&self.total).acquire_many_owned(permits).await,
        ) else {
            unreachable!("the intake budget is never closed")
        };
        self.reserved.increment(bytes as f64);
        Reservation {
            _share: share,
            _total: total,
            bytes,
            reserved: self.reserved.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_sensor_past_its_share_waits_until_a_frame_is_given_back() {
        const MIB: usize = 1 << 20;
        let budget = IntakeBudget::new(192 * MIB, metrics::gauge!("test_intake"));
        // Mallory's share is 96 MiB: four 8 MiB frames at 24 MiB each.
        let mut held = Vec::new();
        for _ in 0..4 {
            held.push(budget.reserve("mallory", 8 * MIB).await);
        }
        let fifth = budget.reserve("mallory", 8 * MIB);
        tokio::pin!(fifth);
        assert!(ready_soon(fifth.as_mut()).await.is_none());
        // Another sensor still gets the other half.
        let other = budget.reserve("edge1", 32 * MIB).await;
        assert_eq!(other.bytes, 96 * MIB);
        held.pop();
        assert!(ready_soon(fifth.as_mut()).await.is_some());
    }

    /// The output of `future` if it is ready within 50 ms.
    async fn ready_soon<F: std::future::Future + Unpin>(future: F) -> Option<F::Output> {
        tokio::time::timeout(std::time::Duration::from_millis(50), future)
            .await
            .ok()
    }
}
