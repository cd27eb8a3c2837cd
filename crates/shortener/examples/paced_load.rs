//! An open-loop HTTP/1.1 load generator: GETs at a fixed rate, latency measured from
//! when each request was *due*, not when it went out (so a stalled server's queue is
//! counted, which a closed-loop client like wrk hides: it stops sending while it waits).
//!
//! `paced_load HOST:PORT PATHS_FILE RATE SECONDS CONNECTIONS [STATUS]`
//!
//! Requests are due every 1/RATE s, cycling through the paths of PATHS_FILE (one per
//! line); a due request goes out on the first idle keep-alive connection (so with too
//! few connections the wait for one is latency too). Every answer must have status
//! STATUS (default 301). Prints the offered and answered rates and the latency
//! percentiles, in µs, as one line:
//! `rate R offered O answered A p50 X p90 X p99 X p999 X max X late L errors E client_stalls S longest_stall_us X`
//! (`late`: requests that went out over 1 ms after they were due, for want of a free
//! connection or of the client's core). Run it on a core of its own (taskset): it spins
//! between requests to send them on time (tokio's timers tick in whole milliseconds).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::cell::RefCell;
use std::collections::VecDeque;
use std::rc::Rc;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::Notify;

/// The queue of due requests: (path index, when it was due).
struct Due {
    queue: RefCell<VecDeque<(usize, Instant)>>,
    ready: Notify,
    done: std::cell::Cell<bool>,
}

/// One connection's results.
#[derive(Default)]
struct Tally {
    latencies_us: Vec<u32>,
    late: u64,
    errors: u64,
}

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.len() < 5 {
        anyhow::bail!("usage: paced_load HOST:PORT PATHS_FILE RATE SECONDS CONNECTIONS [STATUS]");
    }
    let target = args[0].clone();
    let paths: Vec<String> = std::fs::read_to_string(&args[1])?
        .lines()
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect();
    anyhow::ensure!(!paths.is_empty(), "{} has no paths", args[1]);
    let rate: f64 = args[2].parse()?;
    let seconds: f64 = args[3].parse()?;
    let connections: usize = args[4].parse()?;
    let status: u16 = args.get(5).map_or(Ok(301), |s| s.parse())?;
    anyhow::ensure!(
        rate > 0.0 && seconds > 0.0 && connections > 0,
        "rate, seconds and connections must be positive"
    );
    let host = target.clone();
    let requests: Rc<Vec<Vec<u8>>> = Rc::new(
        paths
            .iter()
            .map(|p| format!("GET {p} HTTP/1.1\r\nHost: {host}\r\n\r\n").into_bytes())
            .collect(),
    );
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let local = tokio::task::LocalSet::new();
    local.block_on(&runtime, async move {
        let due = Rc::new(Due {
            queue: RefCell::new(VecDeque::new()),
            ready: Notify::new(),
            done: std::cell::Cell::new(false),
        });
        let mut workers = Vec::new();
        for _ in 0..connections {
            let stream = TcpStream::connect(&target).await?;
            stream.set_nodelay(true)?;
            let (due, requests) = (Rc::clone(&due), Rc::clone(&requests));
            workers.push(tokio::task::spawn_local(connection(stream, due, requests, status)));
        }
        let interval = Duration::from_secs_f64(1.0 / rate);
        let total = (rate * seconds) as u64;
        let start = Instant::now() + Duration::from_millis(10);
        let mut sent = 0u64;
        // The client's own stalls: the pacer not running for over 1 ms (its core taken,
        // or the connections' work in between), which delays requests as a slow server
        // would. Printed, so a run whose client stalled can be told apart.
        let (mut stalls, mut longest_stall) = (0u64, Duration::ZERO);
        let mut last = Instant::now();
        // The pacer: spins (yielding to the connections between checks) and queues each
        // request at its due time.
        while sent < total {
            let now = Instant::now();
            let gap = now - last;
            last = now;
            if gap > Duration::from_millis(1) {
                stalls += 1;
                longest_stall = longest_stall.max(gap);
            }
            while sent < total {
                let at = start + interval.mul_f64(sent as f64);
                if at > now {
                    break;
                }
                due.queue.borrow_mut().push_back(((sent as usize) % requests.len(), at));
                sent += 1;
                // One idle connection per request (a busy one looks at the queue when
                // it is done), not all of them.
                due.ready.notify_one();
            }
            tokio::task::yield_now().await;
        }
        let offered_for = start.elapsed();
        due.done.set(true);
        due.ready.notify_waiters();
        let mut all = Tally::default();
        for w in workers {
            let t = w.await??;
            all.latencies_us.extend(t.latencies_us);
            all.late += t.late;
            all.errors += t.errors;
        }
        let elapsed = start.elapsed().as_secs_f64();
        let mut lat = all.latencies_us;
        lat.sort_unstable();
        let pct = |p: f64| -> u32 {
            if lat.is_empty() {
                return 0;
            }
            lat[((lat.len() as f64 * p) as usize).min(lat.len() - 1)]
        };
        println!(
            "rate {rate:.0} offered {:.0} answered {:.0} p50 {} p90 {} p99 {} p999 {} max {} late {} errors {} client_stalls {} longest_stall_us {}",
            total as f64 / offered_for.as_secs_f64(),
            lat.len() as f64 / elapsed,
            pct(0.5),
            pct(0.9),
            pct(0.99),
            pct(0.999),
            lat.last().copied().unwrap_or(0),
            all.late,
            all.errors,
            stalls,
            longest_stall.as_micros(),
        );
        anyhow::Ok(())
    })
}

/// One keep-alive connection: takes due requests until the pacer is done and the queue
/// empty; a failed connection counts its request as an error and stops.
async fn connection(
    mut stream: TcpStream,
    due: Rc<Due>,
    requests: Rc<Vec<Vec<u8>>>,
    status: u16,
) -> anyhow::Result<Tally> {
    let mut tally = Tally::default();
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let next = due.queue.borrow_mut().pop_front();
        let Some((index, at)) = next else {
            if due.done.get() {
                return Ok(tally);
            }
            due.ready.notified().await;
            continue;
        };
        if at.elapsed() > Duration::from_millis(1) {
            tally.late += 1;
        }
        if stream.write_all(&requests[index]).await.is_err() {
            tally.errors += 1;
            return Ok(tally);
        }
        match read_response(&mut stream, &mut buf).await {
            Ok(got) if got == status => {}
            Ok(_) => tally.errors += 1,
            Err(_) => {
                tally.errors += 1;
                return Ok(tally);
            }
        }
        tally.latencies_us.push(at.elapsed().as_micros().min(u128::from(u32::MAX)) as u32);
    }
}

/// Reads one response (headers, then a `Content-Length` body); its status.
async fn read_response(stream: &mut TcpStream, buf: &mut [u8]) -> anyhow::Result<u16> {
    let mut filled = 0;
    loop {
        let n = stream.read(&mut buf[filled..]).await?;
        anyhow::ensure!(n > 0, "connection closed");
        filled += n;
        let Some(end) = buf[..filled].windows(4).position(|w| w == b"\r\n\r\n") else {
            anyhow::ensure!(filled < buf.len(), "headers over {} bytes", buf.len());
            continue;
        };
        let head = std::str::from_utf8(&buf[..end])?;
        let status: u16 = head
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| anyhow::anyhow!("no status line"))?;
        let length: usize = head
            .lines()
            .filter_map(|l| l.split_once(':'))
            .find(|(name, _)| name.trim().eq_ignore_ascii_case("content-length"))
            .map_or(Ok(0), |(_, v)| v.trim().parse())?;
        let mut body = filled - (end + 4);
        while body < length {
            let n = stream.read(&mut buf[..]).await?;
            anyhow::ensure!(n > 0, "connection closed in a body");
            body += n;
        }
        return Ok(status);
    }
}
