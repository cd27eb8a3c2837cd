//! A loopback TCP pair: the client sends a fixed-size request, a thread answers each with
//! a fixed-size reply. Round trips, sends and bulk reads are all this exchange with
//! different sizes.

use std::io::{self, Read, Write};
use std::net::{Ipv4Addr, Shutdown, TcpListener, TcpStream};
use std::thread::JoinHandle;

use super::SOCKET_TIMEOUT;

/// A connected pair on 127.0.0.1 and the thread serving its far end.
pub(crate) struct Loopback {
    client: TcpStream,
    request: Vec<u8>,
    reply: Vec<u8>,
    server: JoinHandle<io::Result<()>>,
}

impl Loopback {
    /// Binds 127.0.0.1:0, connects, and starts the answering thread. Nagle is off on both
    /// ends (a 1-byte request must not wait for more), and every read and write times out
    /// after [`SOCKET_TIMEOUT`].
    pub(crate) fn new(request_bytes: usize, reply_bytes: usize) -> io::Result<Self> {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?;
        // The connection completes in the listener's backlog, so accepting here (not in
        // the thread) cannot block on a client that never came.
        let client = TcpStream::connect(listener.local_addr()?)?;
        let (server, _) = listener.accept()?;
        for stream in [&client, &server] {
            stream.set_nodelay(true)?;
            stream.set_read_timeout(Some(SOCKET_TIMEOUT))?;
            stream.set_write_timeout(Some(SOCKET_TIMEOUT))?;
        }
        let server = std::thread::Builder::new()
            .name("estimate-loopback".into())
            .spawn(move || answer(server, request_bytes, reply_bytes))?;
        Ok(Self { client, request: vec![0x42; request_bytes], reply: vec![0; reply_bytes], server })
    }

    /// `times` exchanges: send the request, read the whole reply.
    pub(crate) fn exchange(&mut self, times: u64) -> io::Result<()> {
        for _ in 0..times {
            self.client.write_all(&self.request)?;
            self.client.read_exact(&mut self.reply)?;
        }
        Ok(())
    }

    /// Closes the client's side and waits for the thread, returning its error if any.
    /// (Dropped instead, the thread still ends: it reads end-of-file or a reset.)
    pub(crate) fn finish(self) -> io::Result<()> {
        self.client.shutdown(Shutdown::Write)?;
        match self.server.join() {
            Ok(result) => result,
            Err(_) => Err(io::Error::other("the loopback thread panicked")),
        }
    }
}

/// Answers every `request_bytes` read with `reply_bytes` until the client hangs up.
fn answer(mut stream: TcpStream, request_bytes: usize, reply_bytes: usize) -> io::Result<()> {
    let mut request = vec![0; request_bytes];
    let reply = vec![0x5A; reply_bytes];
    loop {
        match stream.read_exact(&mut request) {
            Ok(()) => stream.write_all(&reply)?,
            Err(error) if error.kind() == io::ErrorKind::UnexpectedEof => return Ok(()),
            Err(error) => return Err(error),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exchanges_carry_the_whole_reply_and_the_thread_ends_cleanly() {
        let mut pair = Loopback::new(3, 1000).unwrap();
        pair.exchange(5).unwrap();
        assert!(pair.reply.iter().all(|&byte| byte == 0x5A));
        pair.finish().unwrap();
    }
}
