//! How a bus session reads a frame: its first byte within `idle` (an open session that stays
//! quiet longer is closed, stage `idle`), its length, the cost of the frame reserved from the
//! intake budget ([`super::budget`]; the session reads nothing while it waits), then the rest
//! of the frame within `frame_timeout` of its first byte, not counting the wait (stage
//! `frame`: a started frame that trickles in slower is a slowloris). The buffer of a frame is
//! given back before waiting for the next, so an idle session holds no frame memory. The
//! `Hello` is read the same way but within the handshake's deadline and without the budget: it
//! may be at most [`MAX_HELLO_BYTES`].

use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::time::Instant;
use vigil_bus::FrameError;

use super::budget::{IntakeBudget, Reservation};

/// A buffer larger than this is freed between frames rather than kept.
const KEPT_BUFFER: usize = 4 << 10;

/// Where a connection took too long (the label of `vigil_bus_sessions_timed_out_total`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// The TLS handshake (`bus.handshake_timeout`).
    Handshake,
    /// The `Hello`, within the same deadline as the handshake.
    Hello,
    /// Nothing sent by an open session (`bus.idle_timeout`): counted, not alarmed (a cut
    /// network path looks the same).
    Idle,
    /// A started frame (`bus.frame_timeout`).
    Frame,
}

impl Stage {
    /// Every stage.
    pub const ALL: [Stage; 4] = [Stage::Handshake, Stage::Hello, Stage::Idle, Stage::Frame];

    /// Its metric label.
    pub fn label(self) -> &'static str {
        match self {
            Stage::Handshake => "handshake",
            Stage::Hello => "hello",
            Stage::Idle => "idle",
            Stage::Frame => "frame",
        }
    }
}

/// Why no frame was read.
#[derive(Debug)]
pub enum ReadError {
    /// Nothing arrived within `idle`.
    Idle,
    /// A started frame did not arrive within `frame_timeout`.
    Slow,
    /// The stream failed, ended, or announced a frame over the limit.
    Frame(FrameError),
}

impl From<FrameError> for ReadError {
    fn from(e: FrameError) -> Self {
        ReadError::Frame(e)
    }
}

impl From<std::io::Error> for ReadError {
    fn from(e: std::io::Error) -> Self {
        ReadError::Frame(e.into())
    }
}

/// Largest `Hello`: it is read before the session may hold intake memory, within this.
pub const MAX_HELLO_BYTES: usize = 4 << 10;

/// Reads the next frame of `sensor` into `frame` (see the module doc); the reservation returned
/// covers it and its decoded copies until dropped.
pub async fn next_frame<R: AsyncRead + Unpin>(
    reader: &mut R,
    frame: &mut Vec<u8>,
    budget: &IntakeBudget,
    sensor: &str,
    idle: Duration,
    frame_timeout: Duration,
) -> Result<Reservation, ReadError> {
    read(reader, frame, idle, frame_timeout, async |len| {
        Ok(budget.reserve(sensor, len).await)
    })
    .await
}

/// Reads a `Hello` into `frame` within `within`; one over [`MAX_HELLO_BYTES`] is refused as too
/// large.
pub async fn hello_frame<R: AsyncRead + Unpin>(
    reader: &mut R,
    frame: &mut Vec<u8>,
    within: Duration,
) -> Result<(), ReadError> {
    read(reader, frame, within, within, async |len| match len {
        0..=MAX_HELLO_BYTES => Ok(()),
        _ => Err(FrameError::TooLarge(len).into()),
    })
    .await
}

/// Reads a frame as the module doc says, calling `admit` with its length between its header
/// and its body (its wait not counted in `frame_timeout`).
async fn read<R: AsyncRead + Unpin, T>(
    reader: &mut R,
    frame: &mut Vec<u8>,
    idle: Duration,
    frame_timeout: Duration,
    admit: impl AsyncFnOnce(usize) -> Result<T, ReadError>,
) -> Result<T, ReadError> {
    frame.clear();
    if frame.capacity() > KEPT_BUFFER {
        *frame = Vec::new();
    }
    let mut header = [0u8; 4];
    let got = match tokio::time::timeout(idle, reader.read(&mut header)).await {
        Err(_) => return Err(ReadError::Idle),
        Ok(Ok(0)) => return Err(FrameError::Closed.into()),
        Ok(read) => read?,
    };
    let mut deadline = Instant::now() + frame_timeout;
    match tokio::time::timeout_at(deadline, reader.read_exact(&mut header[got..])).await {
        Err(_) => return Err(ReadError::Slow),
        Ok(Err(e)) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
            return Err(FrameError::Truncated.into());
        }
        Ok(read) => read?,
    };
    let len = vigil_bus::frame_len(header)?;
    let waiting = Instant::now();
    let admitted = admit(len).await?;
    deadline += waiting.elapsed();
    match tokio::time::timeout_at(deadline, vigil_bus::read_frame_body(reader, len, frame)).await {
        Err(_) => Err(ReadError::Slow),
        Ok(read) => read.map(|()| admitted).map_err(ReadError::Frame),
    }
}
