//! Frames: a 4-byte big-endian length, then that many bytes of one encoded message.
//!
//! A length above [`MAX_FRAME_BYTES`] is refused before anything is allocated, and below it the
//! buffer grows only as the bytes arrive (by [`READ_CHUNK`] at a time): a peer that announces a
//! large frame and sends five bytes costs five bytes, not the frame, and the buffer never grows
//! past the frame's length. [`frame_len`] and [`read_frame_body`] let a reader account for a
//! frame between its header and its body (the core reserves intake memory there).

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// Largest frame accepted or sent (a batch of events with their raw logs fits many times).
pub const MAX_FRAME_BYTES: usize = 32 << 20;

/// Most a frame's buffer grows by before the bytes to fill it have arrived.
pub const READ_CHUNK: usize = 64 << 10;

/// Why a frame could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum FrameError {
    /// The stream ended cleanly between frames.
    #[error("connection closed")]
    Closed,
    /// The stream ended in the middle of a frame.
    #[error("connection closed in the middle of a frame")]
    Truncated,
    /// The announced length is over the bound.
    #[error("frame of {0} bytes is over the {MAX_FRAME_BYTES}-byte limit")]
    TooLarge(usize),
    /// The socket failed.
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

/// Reads one frame into `buf` (cleared first).
pub async fn read_frame<R: AsyncRead + Unpin>(
    reader: &mut R,
    buf: &mut Vec<u8>,
) -> Result<(), FrameError> {
    let mut len = [0u8; 4];
    let mut got = 0;
    while got < 4 {
        let n = reader.read(&mut len[got..]).await?;
        if n == 0 {
            return Err(if got == 0 {
                FrameError::Closed
            } else {
                FrameError::Truncated
            });
        }
        got += n;
    }
    read_frame_body(reader, frame_len(len)?, buf).await
}

/// The length a frame's 4-byte header announces, refused over [`MAX_FRAME_BYTES`].
pub fn frame_len(header: [u8; 4]) -> Result<usize, FrameError> {
    let len = u32::from_be_bytes(header) as usize;
    if len > MAX_FRAME_BYTES {
        return Err(FrameError::TooLarge(len));
    }
    Ok(len)
}

/// Reads the `len` bytes of a frame (its header read) into `buf` (cleared first). The buffer
/// grows as they arrive, at most doubling what it holds (by [`READ_CHUNK`] at first) and never
/// past `len`.
pub async fn read_frame_body<R: AsyncRead + Unpin>(
    reader: &mut R,
    len: usize,
    buf: &mut Vec<u8>,
) -> Result<(), FrameError> {
    debug_assert!(len <= MAX_FRAME_BYTES);
    buf.clear();
    while buf.len() < len {
        let remaining = len - buf.len();
        if buf.len() == buf.capacity() {
            buf.reserve_exact(buf.capacity().max(READ_CHUNK).min(remaining));
        }
        let n = (&mut *reader).take(remaining as u64).read_buf(buf).await?;
        if n == 0 {
            return Err(FrameError::Truncated);
        }
    }
    debug_assert_eq!(buf.len(), len);
    Ok(())
}

/// Writes one frame (length and bytes) and flushes.
pub async fn write_frame<W: AsyncWrite + Unpin>(
    writer: &mut W,
    bytes: &[u8],
) -> Result<(), FrameError> {
    if bytes.len() > MAX_FRAME_BYTES {
        return Err(FrameError::TooLarge(bytes.len()));
    }
    let mut out = Vec::with_capacity(4 + bytes.len());
    out.extend_from_slice(&(bytes.len() as u32).to_be_bytes());
    out.extend_from_slice(bytes);
    writer.write_all(&out).await?;
    writer.flush().await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_large_announced_frame_costs_only_the_bytes_that_arrive() {
        // 30 MiB announced, 5 bytes sent: the buffer stays small.
        let mut wire = ((30u32 << 20).to_be_bytes()).to_vec();
        wire.extend_from_slice(b"hello");
        let mut buf = Vec::new();
        assert!(matches!(
            read_frame(&mut &wire[..], &mut buf).await,
            Err(FrameError::Truncated)
        ));
        assert!(buf.capacity() <= 2 * READ_CHUNK, "{}", buf.capacity());
        // A whole large frame still arrives intact.
        let big: Vec<u8> = (0..(3 * READ_CHUNK + 7)).map(|n| n as u8).collect();
        let mut wire = Vec::new();
        write_frame(&mut wire, &big).await.unwrap();
        read_frame(&mut &wire[..], &mut buf).await.unwrap();
        assert_eq!(buf, big);
        // Growing by doubling what arrived stops at the frame's length.
        assert_eq!(buf.capacity(), big.len());
    }

    #[tokio::test]
    async fn round_trip_and_bounds() {
        let mut wire = Vec::new();
        write_frame(&mut wire, b"hello").await.unwrap();
        write_frame(&mut wire, b"").await.unwrap();
        let mut reader = &wire[..];
        let mut buf = Vec::new();
        read_frame(&mut reader, &mut buf).await.unwrap();
        assert_eq!(buf, b"hello");
        read_frame(&mut reader, &mut buf).await.unwrap();
        assert!(buf.is_empty());
        assert!(matches!(
            read_frame(&mut reader, &mut buf).await,
            Err(FrameError::Closed)
        ));

        let huge = ((MAX_FRAME_BYTES + 1) as u32).to_be_bytes();
        assert!(matches!(
            read_frame(&mut &huge[..], &mut buf).await,
            Err(FrameError::TooLarge(_))
        ));
        let cut = [0u8, 0, 0, 9, 1, 2];
        assert!(matches!(
            read_frame(&mut &cut[..], &mut buf).await,
            Err(FrameError::Truncated)
        ));
        assert!(matches!(
            read_frame(&mut &cut[..2], &mut buf).await,
            Err(FrameError::Truncated)
        ));
    }
}
