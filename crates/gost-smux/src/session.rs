//! The session: shared state, the public handle, and the three tasks that drive the carrier.
//!
//! Design, in short:
//! * One `Mutex<State>` per session holds everything (streams, queues, wakers). Critical
//!   sections are short and never span an await, so one lock is simpler than many and cannot
//!   deadlock.
//! * The **reader task** owns the carrier's read half. It parses frames and appends PSH payload
//!   to the target stream's receive buffer, and stops reading while the session-wide token bucket
//!   (`max_receive_buffer`) is used up.
//! * The **writer task** owns the write half and writes one frame per `write_all`: first queued
//!   control frames (SYN, NOP, UPD, FIN), then the data *slot*. The slot is a single frame buffer
//!   that a stream's `poll_write` fills (header + payload) when it is empty; the writer swaps it
//!   with its own buffer, so streams fill the next frame while the previous one is written, and
//!   the session never holds more than two data frames. A FIN never overtakes its stream's data
//!   because only the slot can hold unsent data, and a FIN for the slot's owner is queued only
//!   once the writer has taken the slot.
//! * The **keepalive task** queues NOPs and closes a silent session.
//!
//! Every task ends when the session closes. Dropping the last [`Session`] handle and the last
//! [`Stream`] *drains* the session: queued frames (such as the streams' FINs) are written, the
//! carrier is shut down, and the tasks end.

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::future::poll_fn;
use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};

use crate::frame::{Cmd, HEADER_SIZE, Header, INITIAL_PEER_WINDOW, UPDATE_SIZE, Update};
use crate::{Config, Error, Stream};

/// Streams opened by the peer and not yet accepted; when full the reader waits (as Go does).
pub(crate) const ACCEPT_BACKLOG: usize = 1024;
/// How long a drained session may take to write its last frames (Go's `openCloseTimeout`).
const DRAIN_TIMEOUT: Duration = Duration::from_secs(30);
/// The reader's buffer: one largest frame plus its header, so a frame usually needs one read.
const READ_BUFFER: usize = 65535 + HEADER_SIZE;
/// A drained receive buffer larger than this is freed, so one burst does not pin memory.
pub(crate) const SHRINK_ABOVE: usize = 1024 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Phase {
    Open,
    /// No handle is left: write out what is queued, then close.
    Draining,
    Closed,
}

/// A queued control frame, encoded by the writer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ctrl {
    Syn(u32),
    Fin(u32),
    Nop,
    Upd { sid: u32, consumed: u32, window: u32 },
}

/// Wakers of tasks waiting for the same event. Deduplicated, so a task that polls repeatedly
/// does not grow the list; the Vec's capacity is kept, so waking allocates nothing.
#[derive(Default)]
pub(crate) struct Wakers(Vec<Waker>);

impl Wakers {
    pub(crate) fn register(&mut self, waker: &Waker) {
        if !self.0.iter().any(|w| w.will_wake(waker)) {
            self.0.push(waker.clone());
        }
    }

    pub(crate) fn wake_all(&mut self) {
        for w in self.0.drain(..) {
            w.wake();
        }
    }

    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// Stores `waker` in `slot` unless an equivalent one is already there (avoids a clone per poll).
pub(crate) fn set_waker(slot: &mut Option<Waker>, waker: &Waker) {
    match slot {
        Some(w) if w.will_wake(waker) => {}
        _ => *slot = Some(waker.clone()),
    }
}

pub(crate) fn wake(slot: &mut Option<Waker>) {
    if let Some(w) = slot.take() {
        w.wake();
    }
}

/// Per-stream state, owned by the session's map.
pub(crate) struct StreamState {
    /// Received, not yet read bytes.
    pub(crate) recv: VecDeque<u8>,
    /// The peer's FIN arrived: reads end after `recv` drains.
    pub(crate) fin_received: bool,
    /// Our FIN is queued: writes fail.
    pub(crate) fin_sent: bool,
    pub(crate) read_waker: Option<Waker>,
    /// Version 2: a writer waiting for the peer's window.
    pub(crate) write_waker: Option<Waker>,
    /// Version 2 receiver: bytes read in total, and since the last UPD (both wrap like Go's u32).
    pub(crate) num_read: u32,
    pub(crate) incr: u32,
    /// Version 2 sender: bytes sent in total, the peer's last acknowledgement and window.
    pub(crate) num_written: u32,
    pub(crate) peer_consumed: u32,
    pub(crate) peer_window: u32,
    /// Slot sequence number of this stream's last data frame (for `poll_flush`).
    pub(crate) last_slot_seq: u64,
}

impl StreamState {
    fn new() -> StreamState {
        StreamState {
            recv: VecDeque::new(),
            fin_received: false,
            fin_sent: false,
            read_waker: None,
            write_waker: None,
            num_read: 0,
            incr: 0,
            num_written: 0,
            peer_consumed: 0,
            peer_window: INITIAL_PEER_WINDOW,
            last_slot_seq: 0,
        }
    }
}

pub(crate) struct State {
    pub(crate) phase: Phase,
    /// Why the session ended.
    death: Option<Error>,
    next_id: u32,
    go_away: bool,
    pub(crate) streams: HashMap<u32, StreamState>,
    accept_queue: VecDeque<u32>,
    accept_wakers: Wakers,
    /// Receive tokens: `max_receive_buffer` minus buffered bytes. May go negative by one frame.
    pub(crate) bucket: i64,
    /// The reader task, waiting for tokens or for accept backlog space.
    reader_waker: Option<Waker>,
    control: VecDeque<Ctrl>,
    /// The next data frame (header + payload), or empty.
    pub(crate) slot: Vec<u8>,
    pub(crate) slot_owner: Option<u32>,
    /// A stream whose FIN must follow the frame now in the slot.
    fin_after_slot: Option<u32>,
    /// Data frames ever put in the slot / taken by the writer / taken before the last flush.
    pub(crate) slot_seq: u64,
    taken_seq: u64,
    pub(crate) flushed_seq: u64,
    pub(crate) slot_wakers: Wakers,
    pub(crate) flush_wakers: Wakers,
    writer_waker: Option<Waker>,
    /// Tasks waiting for a phase change (`closed()`, the tasks' own shutdown).
    phase_wakers: Wakers,
}

impl State {
    pub(crate) fn death(&self) -> Error {
        self.death.clone().unwrap_or(Error::Closed)
    }

    pub(crate) fn wake_writer(&mut self) {
        wake(&mut self.writer_waker);
    }

    /// Gives `n` read bytes back to the bucket; restarts the reader if that ends a pause.
    pub(crate) fn return_tokens(&mut self, n: usize) {
        let before = self.bucket;
        self.bucket = self.bucket.saturating_add(i64::try_from(n).unwrap_or(i64::MAX));
        if before <= 0 && self.bucket > 0 {
            wake(&mut self.reader_waker);
        }
    }

    /// Queues a FIN for `sid` behind any of its data still in the slot.
    pub(crate) fn queue_fin(&mut self, sid: u32) {
        if self.slot_owner == Some(sid) {
            self.fin_after_slot = Some(sid);
        } else {
            self.control.push_back(Ctrl::Fin(sid));
        }
        self.wake_writer();
    }

    /// Queues an UPD, replacing a queued one for the same stream (so the queue stays bounded
    /// when the carrier is slow: only the newest acknowledgement matters).
    pub(crate) fn queue_update(&mut self, sid: u32, consumed: u32, window: u32) {
        let queued = self.control.iter_mut().find_map(|c| match c {
            Ctrl::Upd { sid: s, consumed, .. } if *s == sid => Some(consumed),
            _ => None,
        });
        match queued {
            Some(c) => *c = consumed,
            None => self.control.push_back(Ctrl::Upd { sid, consumed, window }),
        }
        self.wake_writer();
    }

    /// Moves to `phase` (Draining or Closed), recording `why`, and wakes everyone so they see it.
    fn end(&mut self, phase: Phase, why: Error) {
        self.phase = phase;
        self.death.get_or_insert(why);
        // Streams nobody accepted have no handle that could read them.
        while let Some(sid) = self.accept_queue.pop_front() {
            self.streams.remove(&sid);
        }
        if phase == Phase::Closed {
            self.control.clear();
            self.slot.clear();
            self.slot_owner = None;
            self.fin_after_slot = None;
        }
        wake(&mut self.reader_waker);
        wake(&mut self.writer_waker);
        self.accept_wakers.wake_all();
        self.slot_wakers.wake_all();
        self.flush_wakers.wake_all();
        self.phase_wakers.wake_all();
        for s in self.streams.values_mut() {
            wake(&mut s.read_waker);
            wake(&mut s.write_waker);
        }
    }
}

/// What a session's tasks and handles share.
pub(crate) struct Shared {
    pub(crate) config: Config,
    state: Mutex<State>,
    /// Some frame arrived since the keepalive task last looked.
    data_ready: AtomicBool,
}

impl Shared {
    fn new(config: Config, client: bool) -> Shared {
        let max_frame = config.max_frame_size;
        let bucket = i64::try_from(config.max_receive_buffer).unwrap_or(i64::MAX);
        Shared {
            config,
            state: Mutex::new(State {
                phase: Phase::Open,
                death: None,
                // Incremented by 2 before use: client ids 3, 5, 7..., server ids 2, 4, 6...
                next_id: if client { 1 } else { 0 },
                go_away: false,
                streams: HashMap::new(),
                accept_queue: VecDeque::new(),
                accept_wakers: Wakers::default(),
                bucket,
                reader_waker: None,
                control: VecDeque::new(),
                slot: Vec::with_capacity(HEADER_SIZE + max_frame),
                slot_owner: None,
                fin_after_slot: None,
                slot_seq: 0,
                taken_seq: 0,
                flushed_seq: 0,
                slot_wakers: Wakers::default(),
                flush_wakers: Wakers::default(),
                writer_waker: None,
                phase_wakers: Wakers::default(),
            }),
            data_ready: AtomicBool::new(false),
        }
    }

    /// The state. A panic while the lock was held cannot leave it half-updated in a way that
    /// matters more than stopping would, so a poisoned lock is simply taken over.
    pub(crate) fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub(crate) fn close_with(&self, why: Error) {
        let mut st = self.lock();
        if st.phase != Phase::Closed {
            st.end(Phase::Closed, why);
        }
    }

    /// The last handle is gone: drain and close.
    fn orphan(&self) {
        let mut st = self.lock();
        if st.phase == Phase::Open {
            st.end(Phase::Draining, Error::Closed);
        }
    }

    /// Waits until `done(phase)` holds.
    async fn until(&self, done: impl Fn(Phase) -> bool) {
        poll_fn(|cx| {
            let mut st = self.lock();
            if done(st.phase) {
                Poll::Ready(())
            } else {
                st.phase_wakers.register(cx.waker());
                Poll::Pending
            }
        })
        .await
    }

    // ----- reader side -----

    /// Ready when the bucket has tokens (Go's recvLoop waits the same way before each header).
    fn poll_tokens(&self, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        let mut st = self.lock();
        if st.phase != Phase::Open {
            return Poll::Ready(Err(st.death()));
        }
        if st.bucket > 0 {
            return Poll::Ready(Ok(()));
        }
        set_waker(&mut st.reader_waker, cx.waker());
        Poll::Pending
    }

    /// A SYN: a new stream for `accept_stream`, unless the id is known (duplicate SYNs are
    /// ignored). With a full backlog this waits, which stops reading the carrier, as Go does.
    fn poll_syn(&self, cx: &mut Context<'_>, sid: u32) -> Poll<Result<(), Error>> {
        let mut st = self.lock();
        if st.phase != Phase::Open {
            return Poll::Ready(Err(st.death()));
        }
        if st.streams.contains_key(&sid) {
            return Poll::Ready(Ok(()));
        }
        if st.accept_queue.len() >= ACCEPT_BACKLOG {
            set_waker(&mut st.reader_waker, cx.waker());
            return Poll::Pending;
        }
        st.streams.insert(sid, StreamState::new());
        st.accept_queue.push_back(sid);
        st.accept_wakers.wake_all();
        Poll::Ready(Ok(()))
    }

    fn on_fin(&self, sid: u32) {
        let mut st = self.lock();
        if let Some(s) = st.streams.get_mut(&sid) {
            s.fin_received = true;
            wake(&mut s.read_waker);
        }
    }

    /// PSH payload for `sid`; dropped when the stream is unknown or already forgotten.
    fn deliver(&self, sid: u32, data: &[u8]) {
        let mut guard = self.lock();
        let st = &mut *guard;
        if let Some(s) = st.streams.get_mut(&sid) {
            s.recv.extend(data);
            st.bucket -= i64::try_from(data.len()).unwrap_or(i64::MAX);
            wake(&mut s.read_waker);
        }
    }

    fn on_update(&self, sid: u32, upd: Update) {
        let mut st = self.lock();
        if let Some(s) = st.streams.get_mut(&sid) {
            s.peer_consumed = upd.consumed;
            s.peer_window = upd.window;
            wake(&mut s.write_waker);
        }
    }

    // ----- writer side -----

    fn poll_job(&self, cx: &mut Context<'_>, buf: &mut Vec<u8>, dirty: bool) -> Poll<Job> {
        let mut st = self.lock();
        if st.phase == Phase::Closed {
            return Poll::Ready(Job::Stop);
        }
        // A stream waits in poll_flush: flush before writing more.
        if dirty && !st.flush_wakers.is_empty() && st.taken_seq > st.flushed_seq {
            return Poll::Ready(Job::Flush(st.taken_seq));
        }
        let version = self.config.version;
        if let Some(ctrl) = st.control.pop_front() {
            let mut frame = [0u8; HEADER_SIZE + UPDATE_SIZE];
            let len = match ctrl {
                Ctrl::Syn(sid) => put_header(&mut frame, Header::new(version, Cmd::Syn, 0, sid)),
                Ctrl::Fin(sid) => put_header(&mut frame, Header::new(version, Cmd::Fin, 0, sid)),
                Ctrl::Nop => put_header(&mut frame, Header::new(version, Cmd::Nop, 0, 0)),
                Ctrl::Upd { sid, consumed, window } => {
                    frame = crate::frame::encode_update(version, sid, Update { consumed, window });
                    frame.len()
                }
            };
            return Poll::Ready(Job::Control(frame, len));
        }
        if !st.slot.is_empty() {
            // `buf` is empty with the same capacity: the streams get it as the next slot.
            std::mem::swap(buf, &mut st.slot);
            st.slot_owner = None;
            st.taken_seq = st.slot_seq;
            if let Some(sid) = st.fin_after_slot.take() {
                st.control.push_back(Ctrl::Fin(sid));
            }
            st.slot_wakers.wake_all();
            return Poll::Ready(Job::Data);
        }
        if dirty {
            return Poll::Ready(Job::Flush(st.taken_seq));
        }
        if st.phase == Phase::Draining {
            return Poll::Ready(Job::Drained);
        }
        set_waker(&mut st.writer_waker, cx.waker());
        Poll::Pending
    }

    fn flushed(&self, seq: u64) {
        let mut st = self.lock();
        st.flushed_seq = st.flushed_seq.max(seq);
        st.flush_wakers.wake_all();
    }

    fn queue_nop(&self) {
        let mut st = self.lock();
        // One pending NOP is enough; more would only pile up behind a stuck carrier.
        if !st.control.contains(&Ctrl::Nop) {
            st.control.push_back(Ctrl::Nop);
            st.wake_writer();
        }
    }
}

fn put_header(frame: &mut [u8; HEADER_SIZE + UPDATE_SIZE], h: Header) -> usize {
    frame[..HEADER_SIZE].copy_from_slice(&h.encode());
    HEADER_SIZE
}

enum Job {
    Control([u8; HEADER_SIZE + UPDATE_SIZE], usize),
    /// The writer's buffer holds one data frame.
    Data,
    /// Flush the carrier; afterwards every slot frame up to this sequence number is out.
    Flush(u64),
    /// Draining and nothing is left.
    Drained,
    Stop,
}

fn carrier_eof() -> Error {
    Error::from(io::Error::new(io::ErrorKind::UnexpectedEof, "carrier closed inside a frame"))
}

async fn reader_task<R: AsyncRead + Unpin>(shared: Arc<Shared>, rd: R) {
    let mut rd = BufReader::with_capacity(READ_BUFFER, rd);
    tokio::select! {
        why = read_loop(&shared, &mut rd) => shared.close_with(why),
        () = shared.until(|p| p != Phase::Open) => {}
    }
}

/// Reads frames until something ends the session; returns why.
async fn read_loop<R: AsyncRead + Unpin>(shared: &Shared, rd: &mut BufReader<R>) -> Error {
    let version = shared.config.version;
    let mut hdr = [0u8; HEADER_SIZE];
    loop {
        if let Err(e) = poll_fn(|cx| shared.poll_tokens(cx)).await {
            return e;
        }
        // End of file between frames is the peer's clean close; inside a frame it is an error.
        match rd.fill_buf().await {
            Ok([]) => return Error::Closed,
            Ok(_) => {}
            Err(e) => return e.into(),
        }
        if let Err(e) = rd.read_exact(&mut hdr).await {
            return if e.kind() == io::ErrorKind::UnexpectedEof { carrier_eof() } else { e.into() };
        }
        shared.data_ready.store(true, Ordering::Release);
        let h = match Header::parse(&hdr) {
            Ok(h) => h,
            Err(e) => return e,
        };
        if h.version != version {
            return Error::InvalidVersion { expected: version, got: h.version };
        }
        let sid = h.stream_id;
        match h.cmd {
            Cmd::Nop => {}
            Cmd::Syn => {
                if let Err(e) = poll_fn(|cx| shared.poll_syn(cx, sid)).await {
                    return e;
                }
            }
            Cmd::Fin => shared.on_fin(sid),
            Cmd::Psh => {
                // Straight from the read buffer into the stream's buffer, chunk by chunk.
                let mut left = usize::from(h.length);
                while left > 0 {
                    let chunk = match rd.fill_buf().await {
                        Ok([]) => return carrier_eof(),
                        Ok(chunk) => chunk,
                        Err(e) => return e.into(),
                    };
                    let n = left.min(chunk.len());
                    shared.deliver(sid, &chunk[..n]);
                    rd.consume(n);
                    left -= n;
                }
            }
            Cmd::Upd => {
                let mut body = [0u8; UPDATE_SIZE];
                if let Err(e) = rd.read_exact(&mut body).await {
                    return if e.kind() == io::ErrorKind::UnexpectedEof {
                        carrier_eof()
                    } else {
                        e.into()
                    };
                }
                // Accepted in version 1 sessions too, as Go does.
                shared.on_update(sid, Update::parse(&body));
            }
        }
    }
}

async fn writer_task<W: AsyncWrite + Unpin>(shared: Arc<Shared>, mut wr: W) {
    let work = async {
        write_loop(&shared, &mut wr).await?;
        // Drained (not closed): end the carrier politely.
        if shared.lock().phase == Phase::Draining {
            wr.shutdown().await?;
        }
        Ok::<(), Error>(())
    };
    let stop = async {
        shared.until(|p| p != Phase::Open).await;
        // Draining is bounded: a peer that stopped reading must not keep the task alive.
        tokio::select! {
            () = tokio::time::sleep(DRAIN_TIMEOUT) => {}
            () = shared.until(|p| p == Phase::Closed) => {}
        }
    };
    let result = tokio::select! {
        r = work => r,
        () = stop => Ok(()),
    };
    shared.close_with(result.err().unwrap_or(Error::Closed));
}

async fn write_loop<W: AsyncWrite + Unpin>(shared: &Shared, wr: &mut W) -> Result<(), Error> {
    let mut buf = Vec::with_capacity(HEADER_SIZE + shared.config.max_frame_size);
    // Bytes were written since the last flush.
    let mut dirty = false;
    loop {
        match poll_fn(|cx| shared.poll_job(cx, &mut buf, dirty)).await {
            Job::Control(frame, len) => {
                wr.write_all(&frame[..len]).await?;
                dirty = true;
            }
            Job::Data => {
                // One frame, header and payload, in one write call.
                let written = wr.write_all(&buf).await;
                buf.clear();
                written?;
                dirty = true;
            }
            Job::Flush(seq) => {
                wr.flush().await?;
                dirty = false;
                shared.flushed(seq);
            }
            Job::Drained | Job::Stop => return Ok(()),
        }
    }
}

async fn keepalive_task(shared: Arc<Shared>) {
    tokio::select! {
        why = keepalive_loop(&shared) => shared.close_with(why),
        () = shared.until(|p| p != Phase::Open) => {}
    }
}

/// Sends NOPs and watches for silence, like Go's keepalive goroutine; returns when the session
/// must die.
async fn keepalive_loop(shared: &Shared) -> Error {
    use tokio::time::{Instant, MissedTickBehavior, interval_at};
    // Huge durations would overflow tokio's Instant arithmetic (a panic); ten years is forever.
    const FOREVER: Duration = Duration::from_secs(10 * 365 * 24 * 3600);
    let every = shared.config.keepalive_interval.min(FOREVER);
    let timeout = shared.config.keepalive_timeout.min(FOREVER);
    let now = Instant::now();
    let mut ping = interval_at(now + every, every);
    let mut check = interval_at(now + timeout, timeout);
    ping.set_missed_tick_behavior(MissedTickBehavior::Delay);
    check.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = ping.tick() => shared.queue_nop(),
            _ = check.tick() => {
                let heard = shared.data_ready.swap(false, Ordering::AcqRel);
                // A full receive buffer stops the reader on purpose; silence is expected then.
                if !heard && shared.lock().bucket > 0 {
                    return Error::KeepaliveTimeout;
                }
            }
        }
    }
}

/// Keeps the session open while any handle (a [`Session`] clone or a [`Stream`]) exists.
pub(crate) struct Guard {
    pub(crate) shared: Arc<Shared>,
}

impl Drop for Guard {
    fn drop(&mut self) {
        self.shared.orphan();
    }
}

/// One smux session over one carrier connection; a cheap, clonable handle.
///
/// Created with [`Session::client`] or [`Session::server`], which spawn the session's tasks on
/// the current tokio runtime (the runtime needs its time driver, as keepalive and the drain
/// timeout use timers). Both ends may open streams; the two constructors differ only in stream
/// id parity (the client's are odd, the server's even), so two sides connected to each other must
/// be one client and one server.
///
/// The session ends on [`close`](Session::close), on a carrier error or end of file, on a
/// protocol error (bad version or command) or on a keepalive timeout. When the last `Session`
/// clone and the last [`Stream`] are dropped, the session writes what is still queued (for
/// example the streams' FINs), shuts the carrier down, and its tasks end.
#[derive(Clone)]
pub struct Session {
    guard: Arc<Guard>,
}

impl fmt::Debug for Session {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let st = self.guard.shared.lock();
        f.debug_struct("Session")
            .field("version", &self.guard.shared.config.version)
            .field("phase", &st.phase)
            .field("streams", &st.streams.len())
            .finish()
    }
}

impl Session {
    /// Starts the client side of a session over `io`: streams it opens get odd ids 3, 5, 7...
    ///
    /// Fails if `config` is invalid or if called outside a tokio runtime.
    pub fn client<T>(io: T, config: Config) -> Result<Session, Error>
    where
        T: AsyncRead + AsyncWrite + Send + Unpin + 'static,
    {
        Session::start(io, config, true)
    }

    /// Starts the server side of a session over `io`: streams it opens get even ids 2, 4, 6...
    ///
    /// Fails if `config` is invalid or if called outside a tokio runtime.
    pub fn server<T>(io: T, config: Config) -> Result<Session, Error>
    where
        T: AsyncRead + AsyncWrite + Send + Unpin + 'static,
    {
        Session::start(io, config, false)
    }

    fn start<T>(io: T, config: Config, client: bool) -> Result<Session, Error>
    where
        T: AsyncRead + AsyncWrite + Send + Unpin + 'static,
    {
        config.validate()?;
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| Error::NoRuntime)?;
        let keepalive = !config.keepalive_disabled;
        let shared = Arc::new(Shared::new(config, client));
        let (rd, wr) = tokio::io::split(io);
        runtime.spawn(reader_task(shared.clone(), rd));
        runtime.spawn(writer_task(shared.clone(), wr));
        if keepalive {
            runtime.spawn(keepalive_task(shared.clone()));
        }
        Ok(Session { guard: Arc::new(Guard { shared }) })
    }

    fn shared(&self) -> &Shared {
        &self.guard.shared
    }

    /// Opens a stream: queues its SYN and returns at once (smux has no handshake; data written
    /// next follows the SYN on the wire).
    ///
    /// Fails when the session is closed, or with [`Error::GoAway`] once the ids are exhausted.
    /// Cancel-safe (it does not wait).
    pub async fn open_stream(&self) -> Result<Stream, Error> {
        let id = {
            let mut st = self.shared().lock();
            if st.phase != Phase::Open {
                return Err(st.death());
            }
            if st.go_away {
                return Err(Error::GoAway);
            }
            let id = loop {
                let id = st.next_id.wrapping_add(2);
                st.next_id = id;
                if id < 2 {
                    // Wrapped around: Go's ErrGoAway, and no frame is sent.
                    st.go_away = true;
                    return Err(Error::GoAway);
                }
                // Receivers do not check parity, so a misbehaving peer may have taken this id.
                if !st.streams.contains_key(&id) {
                    break id;
                }
            };
            st.streams.insert(id, StreamState::new());
            st.control.push_back(Ctrl::Syn(id));
            st.wake_writer();
            id
        };
        Ok(Stream::new(id, self.guard.clone()))
    }

    /// Waits for the next stream the peer opened.
    ///
    /// Fails once the session is closed (with the reason it closed). Cancel-safe: a stream is
    /// taken off the queue only when it is returned.
    pub async fn accept_stream(&self) -> Result<Stream, Error> {
        let id = poll_fn(|cx| {
            let mut st = self.shared().lock();
            if st.phase != Phase::Open {
                return Poll::Ready(Err(st.death()));
            }
            while let Some(sid) = st.accept_queue.pop_front() {
                // Backlog space: a reader waiting on a full queue may go on.
                wake(&mut st.reader_waker);
                if st.streams.contains_key(&sid) {
                    return Poll::Ready(Ok(sid));
                }
            }
            st.accept_wakers.register(cx.waker());
            Poll::Pending
        })
        .await?;
        Ok(Stream::new(id, self.guard.clone()))
    }

    /// Closes the session now, like Go's `Session.Close`: the carrier is dropped, queued frames
    /// are discarded, and every stream operation fails from then on (reads first return what was
    /// already received).
    pub fn close(&self) {
        self.shared().close_with(Error::Closed);
    }

    /// Whether `self` and `other` are handles of the same session.
    pub fn same_session(&self, other: &Session) -> bool {
        Arc::ptr_eq(&self.guard, &other.guard)
    }

    /// Whether the session has ended.
    pub fn is_closed(&self) -> bool {
        self.shared().lock().phase != Phase::Open
    }

    /// Streams currently known: open ones plus those waiting to be accepted. 0 once closed.
    pub fn num_streams(&self) -> usize {
        let st = self.shared().lock();
        if st.phase != Phase::Open { 0 } else { st.streams.len() }
    }

    /// Completes when the session has ended, for callers that cache sessions and must replace a
    /// dead one. Cancel-safe.
    pub async fn closed(&self) {
        self.shared().until(|p| p != Phase::Open).await
    }

    /// Why the session ended, or `None` while it is open.
    pub fn close_reason(&self) -> Option<Error> {
        let st = self.shared().lock();
        if st.phase == Phase::Open { None } else { Some(st.death()) }
    }
}

#[cfg(test)]
mod tests;
