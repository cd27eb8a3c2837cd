//! The analytics log of book 13.3.2: every submitted query, timestamped, appended.
//!
//! One line per query: `unix_ms<TAB>query<LF>`, the query in its display form (NFC,
//! whitespace collapsed, which [`Query`] guarantees holds no tab or newline). Plain text
//! so that `tail`, `grep` and `sort` work on it; append-only so a crash can only tear the
//! last line, which the reader counts as malformed and skips.

use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, BufWriter, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use crate::error::LogError;
use crate::normalize::Query;

/// Longest line the reader accepts: a [`crate::normalize::MAX_QUERY_CHARS`]-character
/// query of 4-byte characters, a timestamp and slack. Longer lines are malformed.
pub const MAX_LINE_BYTES: usize = 1024;

/// One logged query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogRecord {
    /// When it was submitted, milliseconds since the Unix epoch.
    pub unix_ms: u64,
    /// The query.
    pub query: Query,
}

/// The appending side of the log.
#[derive(Debug)]
pub struct QueryLogWriter {
    path: PathBuf,
    out: BufWriter<File>,
}

impl QueryLogWriter {
    /// Opens (creating if needed) the log at `path` for appending.
    pub fn open(path: &Path) -> Result<QueryLogWriter, LogError> {
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(|source| LogError::Io { path: path.to_owned(), source })?;
        Ok(QueryLogWriter { path: path.to_owned(), out: BufWriter::with_capacity(64 * 1024, file) })
    }

    /// Appends one record (buffered: [`QueryLogWriter::flush`] makes it visible).
    pub fn append(&mut self, unix_ms: u64, query: &Query) -> Result<(), LogError> {
        writeln!(self.out, "{unix_ms}\t{}", query.display())
            .map_err(|source| LogError::Io { path: self.path.clone(), source })
    }

    /// Writes buffered records to the file.
    pub fn flush(&mut self) -> Result<(), LogError> {
        self.out.flush().map_err(|source| LogError::Io { path: self.path.clone(), source })
    }

    /// Flushes and fsyncs: records appended so far survive a crash.
    pub fn sync(&mut self) -> Result<(), LogError> {
        self.flush()?;
        self.out
            .get_ref()
            .sync_data()
            .map_err(|source| LogError::Io { path: self.path.clone(), source })
    }
}

/// Counts from one pass over a log.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReadStats {
    /// Lines read.
    pub lines: u64,
    /// Lines skipped: no tab, a bad timestamp, a refused query, not UTF-8, too long.
    pub malformed: u64,
}

/// Reads the log at `path`, calling `each` for every well-formed record. A last line
/// without its newline (torn by a crash) counts as malformed.
pub fn read(path: &Path, mut each: impl FnMut(LogRecord)) -> Result<ReadStats, LogError> {
    let each = |unix_ms, text: &str| match Query::parse(text) {
        Ok(query) => {
            each(LogRecord { unix_ms, query });
            true
        }
        Err(_) => false,
    };
    scan(path, 0..u64::MAX, Tail::Malformed, each).map(|(stats, _)| stats)
}

/// Reads the log from byte `offset` on (where the previous call stopped), for incremental
/// updates; returns the offset to resume from. A last line without its newline may still
/// be being written, so it is left for the next call rather than counted.
pub fn read_from(
    path: &Path,
    offset: u64,
    mut each: impl FnMut(LogRecord),
) -> Result<(ReadStats, u64), LogError> {
    let each = |unix_ms, text: &str| match Query::parse(text) {
        Ok(query) => {
            each(LogRecord { unix_ms, query });
            true
        }
        Err(_) => false,
    };
    scan(path, offset..u64::MAX, Tail::Leave, each)
}

/// What to do with a last line that has no newline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Tail {
    /// Count it as malformed (a whole-log read: it was torn by a crash).
    Malformed,
    /// Leave it for the next read (it may still be being written).
    Leave,
}

/// The reader under [`read`] and [`read_from`]: hands `each` the timestamp and raw text
/// of every line that starts in `range` (byte offsets, the start at a line start); `each`
/// says whether the text was a valid query.
pub(crate) fn scan(
    path: &Path,
    range: std::ops::Range<u64>,
    tail: Tail,
    mut each: impl FnMut(u64, &str) -> bool,
) -> Result<(ReadStats, u64), LogError> {
    let io = |source| LogError::Io { path: path.to_owned(), source };
    let mut file = File::open(path).map_err(io)?;
    file.seek(SeekFrom::Start(range.start)).map_err(io)?;
    let mut reader = BufReader::with_capacity(1 << 20, file);
    let mut stats = ReadStats::default();
    let mut position = range.start;
    let mut line = Vec::with_capacity(256);
    loop {
        if position >= range.end {
            return Ok((stats, position));
        }
        line.clear();
        let read = reader
            .by_ref()
            .take(MAX_LINE_BYTES as u64 + 1)
            .read_until(b'\n', &mut line)
            .map_err(io)?;
        if read == 0 {
            return Ok((stats, position));
        }
        let complete = line.last() == Some(&b'\n');
        if !complete && line.len() > MAX_LINE_BYTES {
            let skipped = skip_rest_of_line(&mut reader).map_err(io)?;
            if skipped.ended_line || tail == Tail::Malformed {
                stats.lines += 1;
                stats.malformed += 1;
                position += (read + skipped.bytes) as u64;
                continue;
            }
            return Ok((stats, position));
        }
        if !complete && tail == Tail::Leave {
            return Ok((stats, position));
        }
        stats.lines += 1;
        position += read as u64;
        let accepted = complete
            && split_line(&line[..line.len() - 1])
                .is_some_and(|(unix_ms, text)| each(unix_ms, text));
        if !accepted {
            stats.malformed += 1;
        }
    }
}

struct Skipped {
    bytes: usize,
    ended_line: bool,
}

fn skip_rest_of_line(reader: &mut impl BufRead) -> std::io::Result<Skipped> {
    let mut bytes = 0;
    loop {
        let buffer = reader.fill_buf()?;
        if buffer.is_empty() {
            return Ok(Skipped { bytes, ended_line: false });
        }
        if let Some(newline) = buffer.iter().position(|byte| *byte == b'\n') {
            reader.consume(newline + 1);
            return Ok(Skipped { bytes: bytes + newline + 1, ended_line: true });
        }
        let len = buffer.len();
        reader.consume(len);
        bytes += len;
    }
}

/// One line without its newline; `None` when malformed.
pub fn parse_line(line: &[u8]) -> Option<LogRecord> {
    let (unix_ms, text) = split_line(line)?;
    Some(LogRecord { unix_ms, query: Query::parse(text).ok()? })
}

/// Offsets that cut the file at `path` into `parts` ranges of whole lines, for reading
/// in parallel: each cut moves forward to just after a newline.
pub(crate) fn split_points(path: &Path, parts: usize) -> Result<Vec<u64>, LogError> {
    let io = |source| LogError::Io { path: path.to_owned(), source };
    let mut file = File::open(path).map_err(io)?;
    let len = file.metadata().map_err(io)?.len();
    let mut points = vec![0];
    for part in 1..parts.max(1) {
        let guess = (len as u128 * part as u128 / parts as u128) as u64;
        file.seek(SeekFrom::Start(guess)).map_err(io)?;
        let mut reader = BufReader::new(&mut file);
        let mut skipped = Vec::new();
        let read = reader
            .by_ref()
            .take(MAX_LINE_BYTES as u64 * 4)
            .read_until(b'\n', &mut skipped)
            .map_err(io)?;
        let point = (guess + read as u64).min(len);
        if point > *points.last().unwrap_or(&0) {
            points.push(point);
        }
    }
    points.push(len);
    Ok(points)
}

/// A line's timestamp and UTF-8 text, not yet normalised.
fn split_line(line: &[u8]) -> Option<(u64, &str)> {
    let tab = line.iter().position(|byte| *byte == b'\t')?;
    let unix_ms = std::str::from_utf8(&line[..tab]).ok()?.parse().ok()?;
    Some((unix_ms, std::str::from_utf8(&line[tab + 1..]).ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn appended_records_read_back_in_order() {
        let folder = tempfile::tempdir().expect("temporary folder");
        let path = folder.path().join("queries.log");
        let mut writer = QueryLogWriter::open(&path).expect("opened");
        for (ms, text) in [(1, "Café"), (2, "東京 タワー"), (3, "pizza 🍕")] {
            writer.append(ms, &Query::parse(text).expect("query")).expect("appended");
        }
        writer.sync().expect("synced");
        let mut seen = Vec::new();
        let stats =
            read(&path, |record| seen.push((record.unix_ms, record.query.display().to_owned())))
                .expect("read");
        assert_eq!(stats, ReadStats { lines: 3, malformed: 0 });
        assert_eq!(
            seen,
            vec![(1, "Café".into()), (2, "東京 タワー".into()), (3, "pizza 🍕".into())]
        );
    }

    #[test]
    fn incremental_reads_resume_where_they_stopped_and_wait_for_a_torn_line() {
        let folder = tempfile::tempdir().expect("temporary folder");
        let path = folder.path().join("queries.log");
        std::fs::write(&path, "1\ta\n2\tb\n3\tpart").expect("written");
        let mut seen = Vec::new();
        let (stats, offset) =
            read_from(&path, 0, |record| seen.push(record.unix_ms)).expect("read");
        assert_eq!((seen.clone(), stats.lines, offset), (vec![1, 2], 2, 8));
        let mut file = OpenOptions::new().append(true).open(&path).expect("opened");
        file.write_all(b"ial\n4\td\n").expect("appended");
        let (stats, offset) =
            read_from(&path, offset, |record| seen.push(record.unix_ms)).expect("read");
        assert_eq!((seen, stats.lines, offset), (vec![1, 2, 3, 4], 2, 22));
    }

    #[test]
    fn malformed_and_torn_lines_are_counted_and_skipped() {
        let folder = tempfile::tempdir().expect("temporary folder");
        let path = folder.path().join("queries.log");
        let long = "x".repeat(MAX_LINE_BYTES * 3);
        let text =
            format!("5\tok\nnotab\nx\tbad time\n7\t\n8\t{long}\n9\t\u{1}\n10\tfine\n11\ttorn");
        std::fs::write(&path, text).expect("written");
        let mut seen = Vec::new();
        let stats = read(&path, |record| seen.push(record.unix_ms)).expect("read");
        assert_eq!(seen, vec![5, 10]);
        assert_eq!(stats, ReadStats { lines: 8, malformed: 6 });
    }
}
