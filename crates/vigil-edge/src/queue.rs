//! A queue of event batches bounded by its number of events: senders wait for room (TCP, TLS
//! and file sources, so the pressure reaches the sender or the disk), or are told there is
//! none (UDP, which cannot push back and counts what it drops).

use std::sync::Arc;

use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc};

/// A batch in the queue, holding its share of the room until it is dropped.
pub struct Queued<T> {
    /// What was sent.
    pub item: T,
    _room: Option<OwnedSemaphorePermit>,
}

/// The sending side (cheap to clone).
pub struct QueueSender<T> {
    tx: mpsc::UnboundedSender<Queued<T>>,
    room: Arc<Semaphore>,
    capacity: u32,
}

impl<T> Clone for QueueSender<T> {
    fn clone(&self) -> Self {
        QueueSender {
            tx: self.tx.clone(),
            room: self.room.clone(),
            capacity: self.capacity,
        }
    }
}

/// Watches and closes a queue without keeping it open (the channel closes when every
/// [`QueueSender`] is gone).
#[derive(Clone)]
pub struct QueueControl {
    room: Arc<Semaphore>,
    capacity: u32,
}

impl QueueControl {
    /// Events queued now.
    pub fn depth(&self) -> usize {
        (self.capacity as usize).saturating_sub(self.room.available_permits())
    }

    /// Stops the queue: senders waiting for room, and every later send, fail; what is already
    /// queued is still received.
    pub fn close(&self) {
        self.room.close();
    }
}

/// The queue is closed: its receiver is gone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the queue's receiver has stopped")]
pub struct Closed;

/// Why [`QueueSender::try_send`] did not queue a batch.
#[derive(Debug)]
pub enum TrySendError<T> {
    /// There is no room now; the batch is handed back.
    Full(T),
    /// The receiver has stopped.
    Closed,
}

/// A queue of at most `capacity` events (a batch larger than that takes all of it).
pub fn bounded<T>(capacity: usize) -> (QueueSender<T>, mpsc::UnboundedReceiver<Queued<T>>) {
    let capacity = u32::try_from(capacity.clamp(1, Semaphore::MAX_PERMITS)).unwrap_or(u32::MAX);
    let (tx, rx) = mpsc::unbounded_channel();
    let sender = QueueSender {
        tx,
        room: Arc::new(Semaphore::new(capacity as usize)),
        capacity,
    };
    (sender, rx)
}

impl<T> QueueSender<T> {
    fn permits(&self, events: usize) -> u32 {
        u32::try_from(events)
            .unwrap_or(u32::MAX)
            .clamp(1, self.capacity)
    }

    /// Queues `item`, which holds `events` events, waiting for room.
    pub async fn send(&self, item: T, events: usize) -> Result<(), Closed> {
        let room = self
            .room
            .clone()
            .acquire_many_owned(self.permits(events))
            .await
            .map_err(|_| Closed)?;
        self.tx
            .send(Queued {
                item,
                _room: Some(room),
            })
            .map_err(|_| Closed)
    }

    /// Queues `item` if there is room now.
    pub fn try_send(&self, item: T, events: usize) -> Result<(), TrySendError<T>> {
        match self
            .room
            .clone()
            .try_acquire_many_owned(self.permits(events))
        {
            Ok(room) => self
                .tx
                .send(Queued {
                    item,
                    _room: Some(room),
                })
                .map_err(|_| TrySendError::Closed),
            Err(tokio::sync::TryAcquireError::NoPermits) => Err(TrySendError::Full(item)),
            Err(tokio::sync::TryAcquireError::Closed) => Err(TrySendError::Closed),
        }
    }

    /// Events queued now.
    pub fn depth(&self) -> usize {
        self.control().depth()
    }

    /// A handle that watches and closes the queue without keeping it open.
    pub fn control(&self) -> QueueControl {
        QueueControl {
            room: self.room.clone(),
            capacity: self.capacity,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn room_is_counted_in_events() {
        let (tx, mut rx) = bounded::<&str>(10);
        tx.send("a", 6).await.unwrap();
        assert_eq!(tx.depth(), 6);
        assert!(matches!(tx.try_send("b", 5), Err(TrySendError::Full("b"))));
        tx.try_send("c", 4).unwrap();
        assert_eq!(tx.depth(), 10);
        let first = rx.recv().await.unwrap();
        assert_eq!(first.item, "a");
        drop(first);
        assert_eq!(tx.depth(), 4, "room comes back when the batch is done");
        drop(rx.recv().await);
        assert_eq!(tx.depth(), 0);
        tx.send("huge", 1_000).await.unwrap();
        assert_eq!(
            tx.depth(),
            10,
            "a batch larger than the queue takes all of it"
        );
        assert!(matches!(tx.try_send("d", 1), Err(TrySendError::Full("d"))));
        drop(rx.recv().await);
        tx.control().close();
        assert_eq!(tx.send("e", 1).await, Err(Closed));
    }
}
