//! One client connection: a read buffer that frames are parsed out of, and replies
//! encoded into one write per batch (so a pipeline of N commands costs one `write`).
//!
//! While replies are written, requests keep being read (up to `max_request_bytes`
//! ahead): a client may write its whole pipeline before it reads a reply (the `redis`
//! crate's pipelines, `nc`), and a server that only writes would leave both sides
//! blocked in `write` with full socket buffers, forever.

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
    /// The client closed its side while replies were written: what it sent before is
    /// in `buffer`, and [`Connection::read_more`] reports the end.
    closed: bool,
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
            closed: false,
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
        if self.closed {
            return Ok(false);
        }
        reserve(&mut self.buffer);
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
        let read_ahead = self.limits.max_request_bytes.max(READ_BUFFER_BYTES);
        let (mut reader, mut writer) = self.stream.split();
        let mut written = 0;
        while written < self.output.len() {
            let room = !self.closed && self.buffer.len() < read_ahead;
            if room {
                reserve(&mut self.buffer);
            }
            tokio::select! {
                wrote = writer.write(&self.output[written..]) => match wrote? {
                    0 => return Err(std::io::ErrorKind::WriteZero.into()),
                    n => written += n,
                },
                read = reader.read_buf(&mut self.buffer), if room => {
                    self.closed |= read? == 0;
                }
            }
        }
        writer.flush().await
    }
}

/// Room for another read in `buffer`.
fn reserve(buffer: &mut BytesMut) {
    if buffer.capacity() - buffer.len() < READ_BUFFER_BYTES / 4 {
        buffer.reserve(READ_BUFFER_BYTES);
    }
}
