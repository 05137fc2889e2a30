//! Frames: a 4-byte big-endian length, then that many bytes of one encoded message.
//!
//! A length above [`MAX_FRAME_BYTES`] is refused before anything is allocated, so a peer
//! cannot make the reader reserve memory it will not fill.

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// Largest frame accepted or sent (a batch of events with their raw logs fits many times).
pub const MAX_FRAME_BYTES: usize = 32 << 20;

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
    let len = u32::from_be_bytes(len) as usize;
    if len > MAX_FRAME_BYTES {
        return Err(FrameError::TooLarge(len));
    }
    buf.clear();
    buf.resize(len, 0);
    reader.read_exact(buf).await.map_err(|e| match e.kind() {
        std::io::ErrorKind::UnexpectedEof => FrameError::Truncated,
        _ => FrameError::Io(e),
    })?;
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
