//! One client connection: a read buffer that frames are parsed out of, and replies
//! encoded into one write per batch (so a pipeline of N commands costs one `write`).

use bytes::{Buf, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::frame::{Frame, ParseLimits, Protocol, ProtocolError};

/// Initial read buffer: 16 KiB holds a deep pipeline of small commands; it grows up to
/// the configured `max_request_bytes` for one large frame.
const READ_BUFFER_BYTES: usize = 16 * 1024;

/// A framed RESP connection.
#[derive(Debug)]
pub struct Connection {
    stream: TcpStream,
    buffer: BytesMut,
    output: BytesMut,
    limits: ParseLimits,
}

impl Connection {
    /// Wraps an accepted stream.
    pub fn new(stream: TcpStream, limits: ParseLimits) -> Connection {
        // Replies are written whole per batch; Nagle would only delay them.
        if let Err(error) = stream.set_nodelay(true) {
            tracing::debug!(%error, "TCP_NODELAY not set");
        }
        Connection {
            stream,
            buffer: BytesMut::with_capacity(READ_BUFFER_BYTES),
            output: BytesMut::with_capacity(READ_BUFFER_BYTES),
            limits,
        }
    }

    /// The next whole frame already in the buffer, if any.
    pub fn next_frame(&mut self) -> Result<Option<Frame>, ProtocolError> {
        match Frame::parse(&self.buffer, self.limits)? {
            Some((frame, consumed)) => {
                self.buffer.advance(consumed);
                Ok(Some(frame))
            }
            None => Ok(None),
        }
    }

    /// Reads more bytes into the buffer; `false` when the peer closed the connection.
    pub async fn read_more(&mut self) -> std::io::Result<bool> {
        if self.buffer.capacity() - self.buffer.len() < READ_BUFFER_BYTES / 4 {
            self.buffer.reserve(READ_BUFFER_BYTES);
        }
        Ok(self.stream.read_buf(&mut self.buffer).await? > 0)
    }

    /// Writes `frames` in order, encoded in `protocol`, as one write.
    pub async fn write_frames(
        &mut self,
        frames: &[Frame],
        protocol: Protocol,
    ) -> std::io::Result<()> {
        self.output.clear();
        for frame in frames {
            frame.encode_as(&mut self.output, protocol);
        }
        self.stream.write_all(&self.output).await?;
        self.stream.flush().await
    }
}
