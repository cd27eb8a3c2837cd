//! The network seam: connect to an address and get a byte stream, bind and accept. The
//! node never names a socket type, so the same code runs on tokio's TCP and on turmoil's
//! simulated network (whose streams are tokio-io compatible; that impl lives in the
//! simulation tests).

use std::future::Future;
use std::io;
use std::pin::Pin;

use tokio::io::{AsyncRead, AsyncWrite};

/// A boxed future, as the object-safe traits below return.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A connected byte stream.
pub trait Stream: AsyncRead + AsyncWrite + Send + Unpin + 'static {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin + 'static> Stream for T {}

/// A stream behind a box.
pub type BoxStream = Box<dyn Stream>;

/// A bound listener.
pub trait Listener: Send + 'static {
    /// The next accepted connection.
    fn accept(&mut self) -> BoxFuture<'_, io::Result<BoxStream>>;
    /// The address it is bound to (with the real port when bound to port 0).
    fn local_addr(&self) -> io::Result<String>;
}

/// Connects and binds.
pub trait Network: Send + Sync + 'static {
    /// Connects to `addr` (`host:port`).
    fn connect<'a>(&'a self, addr: &'a str) -> BoxFuture<'a, io::Result<BoxStream>>;
    /// Binds a listener on `addr`.
    fn bind<'a>(&'a self, addr: &'a str) -> BoxFuture<'a, io::Result<Box<dyn Listener>>>;
}

/// Real TCP through tokio.
#[derive(Debug, Clone, Copy, Default)]
pub struct TokioNetwork;

impl Listener for tokio::net::TcpListener {
    fn accept(&mut self) -> BoxFuture<'_, io::Result<BoxStream>> {
        Box::pin(async move {
            let (stream, _) = tokio::net::TcpListener::accept(self).await?;
            stream.set_nodelay(true)?;
            Ok(Box::new(stream) as BoxStream)
        })
    }

    fn local_addr(&self) -> io::Result<String> {
        Ok(tokio::net::TcpListener::local_addr(self)?.to_string())
    }
}

impl Listener for Box<dyn Listener> {
    fn accept(&mut self) -> BoxFuture<'_, io::Result<BoxStream>> {
        (**self).accept()
    }

    fn local_addr(&self) -> io::Result<String> {
        (**self).local_addr()
    }
}

impl Network for TokioNetwork {
    fn connect<'a>(&'a self, addr: &'a str) -> BoxFuture<'a, io::Result<BoxStream>> {
        Box::pin(async move {
            let stream = tokio::net::TcpStream::connect(addr).await?;
            stream.set_nodelay(true)?;
            Ok(Box::new(stream) as BoxStream)
        })
    }

    fn bind<'a>(&'a self, addr: &'a str) -> BoxFuture<'a, io::Result<Box<dyn Listener>>> {
        Box::pin(async move {
            let listener = tokio::net::TcpListener::bind(addr).await?;
            Ok(Box::new(listener) as Box<dyn Listener>)
        })
    }
}
