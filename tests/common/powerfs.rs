//! A filesystem that forgets what was not synced: the tests' model of a power cut.
//!
//! It is mounted with FUSE (the `fuser` crate's own mount, no libfuse) and keeps every
//! file and directory in this process's memory, twice: what reads see now, and what a
//! sync has made durable. A file's content becomes durable at its `fsync` or `fdatasync`
//! (both also persist its size, which is what the data needs to be read back); a
//! directory's entries at its own `fsync` — creating, renaming or removing a name is not
//! durable before that, not even when the file itself is synced, so a directory that was
//! just made is lost with its parent's unsynced entries. This is the least POSIX promises,
//! and less than ext4 or XFS usually keep.
//!
//! [`PowerFs::cut`] is the power cut: it unmounts (which also empties the kernel's caches
//! of the mount), throws away what was not durable as the [`Cut`] says, and mounts again.
//! Every file is opened `direct_io`, so no write waits in the kernel's page cache: each
//! one reaches this filesystem when the program makes it, and a program's own
//! `sync_file_range` (sled's flush) makes nothing durable, as on a disk with a volatile
//! write cache.
//!
//! It must never keep anything across a cut that was not synced under the cut's rules:
//! a test that passes on it claims exactly that.

use std::collections::BTreeMap;
use std::ffi::{OsStr, OsString};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use fuser::{
    AccessFlags, BackgroundSession, Config, Errno, FileAttr, FileHandle, FileType, Filesystem,
    FopenFlags, Generation, INodeNo, LockOwner, MountOption, OpenFlags, RenameFlags, ReplyAttr,
    ReplyCreate, ReplyData, ReplyDirectory, ReplyEmpty, ReplyEntry, ReplyOpen, ReplyStatfs,
    ReplyWrite, Request, TimeOrNow, WriteFlags,
};
use parking_lot::Mutex;

/// What a power cut keeps of what was not synced.
#[derive(Clone, Copy, Debug)]
pub enum Cut {
    /// Nothing: every file back to its content at its last sync, every directory back to
    /// its entries at its last sync.
    DropAll,
    /// Torn writes: each 4 KiB page of each unsynced write, and each unsynced change of a
    /// file's length, survives or not by a draw from the seed, replayed in the order they
    /// were made (a file grows only as far as a surviving write reaches). Directories as
    /// in `DropAll`.
    Torn(u64),
    /// The metadata but not the data, as a journal that commits metadata alone leaves it:
    /// every directory entry and every file's length as last written, but unsynced writes
    /// never reached the disk — where a file grew there are zeros, where it was
    /// overwritten the old bytes.
    KeepMetadataDropData,
    /// Every write kept, every unsynced change of a directory rolled back.
    DropDirsOnly,
}

/// What a cut threw away.
#[derive(Clone, Copy, Debug, Default)]
pub struct CutReport {
    /// Unsynced writes and length changes of files, before the cut.
    pub unsynced_changes: usize,
    /// Of those, lost whole or in part.
    pub dropped_changes: usize,
    /// Directories whose entries differed from their durable entries, rolled back.
    pub dirs_rolled_back: usize,
}

/// Page size of a torn write: each page of a write survives or not on its own.
const PAGE: u64 = 4096;
/// The kernel asks again for every attribute and every name: nothing it caches can
/// disagree with the tree after a cut.
const TTL: Duration = Duration::ZERO;

/// One unsynced change to a file, replayed in order onto its durable content by a sync
/// (all of them) or a cut (as the cut says).
#[derive(Debug)]
enum Change {
    Write { offset: u64, bytes: Vec<u8> },
    SetLen(u64),
}

impl Change {
    fn apply(&self, to: &mut Vec<u8>) {
        match self {
            Change::Write { offset, bytes } => write_at(to, *offset, bytes),
            Change::SetLen(len) => to.resize(*len as usize, 0),
        }
    }
}

fn write_at(to: &mut Vec<u8>, offset: u64, bytes: &[u8]) {
    let (start, end) = (offset as usize, offset as usize + bytes.len());
    if to.len() < end {
        to.resize(end, 0);
    }
    to[start..end].copy_from_slice(bytes);
}

#[derive(Debug, Default)]
struct File {
    /// What reads see.
    current: Vec<u8>,
    /// The content as of the last sync.
    durable: Vec<u8>,
    /// What changed since the last sync, in order: `current` is `durable` with these
    /// applied.
    unsynced: Vec<Change>,
}

#[derive(Debug, Default)]
struct Dir {
    /// What lookups see.
    current: BTreeMap<OsString, u64>,
    /// The entries as of the last sync of this directory.
    durable: BTreeMap<OsString, u64>,
}

#[derive(Debug)]
enum Body {
    File(File),
    Dir(Dir),
}

#[derive(Debug)]
struct Node {
    /// The directory holding it now (a directory's `..`).
    parent: u64,
    perm: u16,
    uid: u32,
    gid: u32,
    mtime: SystemTime,
    body: Body,
}

/// Whether the filesystem takes requests.
#[derive(Debug)]
enum Power {
    On,
    /// The power fails at the `writes`-th write from now: that write reaches the
    /// filesystem (unsynced), process `kill` is killed before it hears back, and the
    /// power is off.
    FailsAtWrite {
        writes: u64,
        kill: u32,
    },
    /// Every request fails (EIO) until the cut.
    Off,
}

/// Every inode. An inode stays while any directory's current or durable entries name it,
/// and until the next cut (which removes what no entry reaches any more): an unlinked
/// file comes back whole if its unlink was not synced.
#[derive(Debug)]
struct Tree {
    /// By inode number, ordered, so that a torn cut draws in the same order every time.
    nodes: BTreeMap<u64, Node>,
    next_ino: u64,
    power: Power,
}

/// A small deterministic generator for torn cuts (splitmix64).
struct Draw(u64);

impl Draw {
    fn keep(&mut self) -> bool {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        (z ^ (z >> 31)) & 1 == 1
    }
}

impl Tree {
    fn new(uid: u32, gid: u32) -> Tree {
        let root = Node {
            parent: INodeNo::ROOT.0,
            perm: 0o755,
            uid,
            gid,
            mtime: SystemTime::now(),
            body: Body::Dir(Dir::default()),
        };
        Tree {
            nodes: BTreeMap::from([(INodeNo::ROOT.0, root)]),
            next_ino: INodeNo::ROOT.0 + 1,
            power: Power::On,
        }
    }

    fn powered(&self) -> Result<(), Errno> {
        match self.power {
            Power::Off => Err(Errno::EIO),
            _ => Ok(()),
        }
    }

    /// Counts a write that has reached the tree; at the armed one the power fails.
    fn wrote(&mut self) {
        if let Power::FailsAtWrite { writes, kill } = &mut self.power {
            *writes -= 1;
            if *writes == 0 {
                // No unwinding here: the process that asked is gone either way.
                let _ = Command::new("kill")
                    .args(["-KILL", &kill.to_string()])
                    .status();
                self.power = Power::Off;
            }
        }
    }

    fn attr(&self, ino: u64) -> Option<FileAttr> {
        let n = self.nodes.get(&ino)?;
        let (kind, size, nlink) = match &n.body {
            Body::File(f) => (FileType::RegularFile, f.current.len() as u64, 1),
            Body::Dir(_) => (FileType::Directory, 0, 2),
        };
        Some(FileAttr {
            ino: INodeNo(ino),
            size,
            blocks: size.div_ceil(512),
            atime: n.mtime,
            mtime: n.mtime,
            ctime: n.mtime,
            crtime: n.mtime,
            kind,
            perm: n.perm,
            nlink,
            uid: n.uid,
            gid: n.gid,
            rdev: 0,
            blksize: PAGE as u32,
            flags: 0,
        })
    }

    fn dir(&self, ino: u64) -> Result<&Dir, Errno> {
        match self.nodes.get(&ino).map(|n| &n.body) {
            Some(Body::Dir(d)) => Ok(d),
            Some(Body::File(_)) => Err(Errno::ENOTDIR),
            None => Err(Errno::ENOENT),
        }
    }

    fn dir_mut(&mut self, ino: u64) -> Result<&mut Dir, Errno> {
        match self.nodes.get_mut(&ino).map(|n| &mut n.body) {
            Some(Body::Dir(d)) => Ok(d),
            Some(Body::File(_)) => Err(Errno::ENOTDIR),
            None => Err(Errno::ENOENT),
        }
    }

    fn file_mut(&mut self, ino: u64) -> Result<&mut File, Errno> {
        match self.nodes.get_mut(&ino).map(|n| &mut n.body) {
            Some(Body::File(f)) => Ok(f),
            Some(Body::Dir(_)) => Err(Errno::EISDIR),
            None => Err(Errno::ENOENT),
        }
    }

    fn lookup(&self, parent: u64, name: &OsStr) -> Result<u64, Errno> {
        self.dir(parent)?
            .current
            .get(name)
            .copied()
            .ok_or(Errno::ENOENT)
    }

    fn is_dir(&self, ino: u64) -> bool {
        matches!(self.nodes.get(&ino).map(|n| &n.body), Some(Body::Dir(_)))
    }

    /// A new entry `name` in `parent` for a new file or directory.
    fn make(
        &mut self,
        req: &Request,
        parent: u64,
        name: &OsStr,
        perm: u32,
        body: Body,
    ) -> Result<FileAttr, Errno> {
        self.powered()?;
        if self.dir(parent)?.current.contains_key(name) {
            return Err(Errno::EEXIST);
        }
        let ino = self.next_ino;
        self.next_ino += 1;
        self.nodes.insert(
            ino,
            Node {
                parent,
                perm: (perm & 0o7777) as u16,
                uid: req.uid(),
                gid: req.gid(),
                mtime: SystemTime::now(),
                body,
            },
        );
        self.dir_mut(parent)?.current.insert(name.to_owned(), ino);
        Ok(self.attr(ino).expect("just made"))
    }

    fn remove(&mut self, parent: u64, name: &OsStr, dir: bool) -> Result<(), Errno> {
        self.powered()?;
        let ino = self.lookup(parent, name)?;
        match (&self.nodes[&ino].body, dir) {
            (Body::Dir(_), false) => return Err(Errno::EISDIR),
            (Body::File(_), true) => return Err(Errno::ENOTDIR),
            (Body::Dir(d), true) if !d.current.is_empty() => return Err(Errno::ENOTEMPTY),
            _ => {}
        }
        self.dir_mut(parent)?.current.remove(name);
        Ok(())
    }

    fn rename(
        &mut self,
        parent: u64,
        name: &OsStr,
        newparent: u64,
        newname: &OsStr,
        flags: RenameFlags,
    ) -> Result<(), Errno> {
        self.powered()?;
        if flags.contains(RenameFlags::RENAME_EXCHANGE) {
            return Err(Errno::EINVAL);
        }
        let ino = self.lookup(parent, name)?;
        self.dir(newparent)?;
        if let Some(&target) = self.dir(newparent)?.current.get(newname) {
            if flags.contains(RenameFlags::RENAME_NOREPLACE) {
                return Err(Errno::EEXIST);
            }
            if target == ino {
                return Ok(());
            }
            match (self.is_dir(ino), &self.nodes[&target].body) {
                (true, Body::File(_)) => return Err(Errno::ENOTDIR),
                (false, Body::Dir(_)) => return Err(Errno::EISDIR),
                (true, Body::Dir(d)) if !d.current.is_empty() => return Err(Errno::ENOTEMPTY),
                _ => {}
            }
        }
        // A directory never moves into itself.
        let mut up = newparent;
        while up != INodeNo::ROOT.0 {
            if up == ino {
                return Err(Errno::EINVAL);
            }
            up = self.nodes[&up].parent;
        }
        self.dir_mut(parent)?.current.remove(name);
        self.dir_mut(newparent)?
            .current
            .insert(newname.to_owned(), ino);
        if let Some(n) = self.nodes.get_mut(&ino) {
            n.parent = newparent;
        }
        Ok(())
    }

    fn change(&mut self, ino: u64, change: Change) -> Result<(), Errno> {
        self.powered()?;
        let f = self.file_mut(ino)?;
        change.apply(&mut f.current);
        f.unsynced.push(change);
        if let Some(n) = self.nodes.get_mut(&ino) {
            n.mtime = SystemTime::now();
        }
        Ok(())
    }

    fn sync_file(&mut self, ino: u64) -> Result<(), Errno> {
        self.powered()?;
        let f = self.file_mut(ino)?;
        for c in f.unsynced.drain(..) {
            c.apply(&mut f.durable);
        }
        debug_assert_eq!(f.durable, f.current);
        Ok(())
    }

    fn sync_dir(&mut self, ino: u64) -> Result<(), Errno> {
        self.powered()?;
        let d = self.dir_mut(ino)?;
        d.durable = d.current.clone();
        Ok(())
    }

    fn cut(&mut self, kind: Cut) -> CutReport {
        self.power = Power::On;
        let mut report = CutReport::default();
        let mut draw = Draw(match kind {
            Cut::Torn(seed) => seed,
            _ => 0,
        });
        for node in self.nodes.values_mut() {
            match &mut node.body {
                Body::File(f) => {
                    report.unsynced_changes += f.unsynced.len();
                    for c in std::mem::take(&mut f.unsynced) {
                        let kept = match (kind, &c) {
                            (Cut::DropAll, _) => false,
                            (Cut::DropDirsOnly, _) => {
                                c.apply(&mut f.durable);
                                true
                            }
                            (Cut::KeepMetadataDropData, Change::Write { offset, bytes }) => {
                                // The length the write gave the file, none of its bytes.
                                let end = (*offset as usize + bytes.len()).max(f.durable.len());
                                f.durable.resize(end, 0);
                                bytes.is_empty()
                            }
                            (Cut::KeepMetadataDropData, Change::SetLen(_)) => {
                                c.apply(&mut f.durable);
                                true
                            }
                            (Cut::Torn(_), Change::SetLen(_)) => {
                                let keep = draw.keep();
                                if keep {
                                    c.apply(&mut f.durable);
                                }
                                keep
                            }
                            (Cut::Torn(_), Change::Write { offset, bytes }) => {
                                let mut all = true;
                                let mut at = *offset;
                                let end = offset + bytes.len() as u64;
                                while at < end {
                                    let piece_end = ((at / PAGE + 1) * PAGE).min(end);
                                    if draw.keep() {
                                        let piece = &bytes
                                            [(at - offset) as usize..(piece_end - offset) as usize];
                                        write_at(&mut f.durable, at, piece);
                                    } else {
                                        all = false;
                                    }
                                    at = piece_end;
                                }
                                all
                            }
                        };
                        if !kept {
                            report.dropped_changes += 1;
                        }
                    }
                    f.current = f.durable.clone();
                }
                Body::Dir(d) => {
                    if d.current != d.durable {
                        match kind {
                            Cut::KeepMetadataDropData => d.durable = d.current.clone(),
                            _ => {
                                report.dirs_rolled_back += 1;
                                d.current = d.durable.clone();
                            }
                        }
                    }
                }
            }
        }
        // What no directory names any more is gone; a directory's parent is the one that
        // names it now.
        let mut reached = BTreeMap::from([(INodeNo::ROOT.0, INodeNo::ROOT.0)]);
        let mut stack = vec![INodeNo::ROOT.0];
        while let Some(dir) = stack.pop() {
            if let Ok(d) = self.dir(dir) {
                for &ino in d.current.values() {
                    if reached.insert(ino, dir).is_none() {
                        stack.push(ino);
                    }
                }
            }
        }
        self.nodes.retain(|ino, _| reached.contains_key(ino));
        for (ino, parent) in reached {
            if let Some(n) = self.nodes.get_mut(&ino) {
                n.parent = parent;
            }
        }
        report
    }
}

/// The FUSE side: every request on the shared tree.
struct Ops(Arc<Mutex<Tree>>);

fn reply_entry(reply: ReplyEntry, attr: Result<FileAttr, Errno>) {
    match attr {
        Ok(a) => reply.entry(&TTL, &a, Generation(0)),
        Err(e) => reply.error(e),
    }
}

fn reply_empty(reply: ReplyEmpty, r: Result<(), Errno>) {
    match r {
        Ok(()) => reply.ok(),
        Err(e) => reply.error(e),
    }
}

impl Filesystem for Ops {
    fn lookup(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEntry) {
        let t = self.0.lock();
        reply_entry(
            reply,
            t.lookup(parent.0, name)
                .map(|ino| t.attr(ino).expect("named inodes exist")),
        );
    }

    fn getattr(&self, _req: &Request, ino: INodeNo, _fh: Option<FileHandle>, reply: ReplyAttr) {
        match self.0.lock().attr(ino.0) {
            Some(a) => reply.attr(&TTL, &a),
            None => reply.error(Errno::ENOENT),
        }
    }

    fn setattr(
        &self,
        _req: &Request,
        ino: INodeNo,
        mode: Option<u32>,
        uid: Option<u32>,
        gid: Option<u32>,
        size: Option<u64>,
        _atime: Option<TimeOrNow>,
        mtime: Option<TimeOrNow>,
        _ctime: Option<SystemTime>,
        _fh: Option<FileHandle>,
        _crtime: Option<SystemTime>,
        _chgtime: Option<SystemTime>,
        _bkuptime: Option<SystemTime>,
        _flags: Option<fuser::BsdFileFlags>,
        reply: ReplyAttr,
    ) {
        let mut t = self.0.lock();
        if let Some(size) = size {
            if let Err(e) = t.change(ino.0, Change::SetLen(size)) {
                return reply.error(e);
            }
        }
        let Some(n) = t.nodes.get_mut(&ino.0) else {
            return reply.error(Errno::ENOENT);
        };
        // Modes, owners and times are kept as they are set, never rolled back: nothing
        // under test depends on them.
        if let Some(mode) = mode {
            n.perm = (mode & 0o7777) as u16;
        }
        n.uid = uid.unwrap_or(n.uid);
        n.gid = gid.unwrap_or(n.gid);
        match mtime {
            Some(TimeOrNow::SpecificTime(at)) => n.mtime = at,
            Some(TimeOrNow::Now) => n.mtime = SystemTime::now(),
            None => {}
        }
        reply.attr(&TTL, &t.attr(ino.0).expect("exists"));
    }

    fn mknod(
        &self,
        req: &Request,
        parent: INodeNo,
        name: &OsStr,
        mode: u32,
        umask: u32,
        _rdev: u32,
        reply: ReplyEntry,
    ) {
        if mode & S_IFMT != S_IFREG {
            return reply.error(Errno::EPERM);
        }
        let made = self.0.lock().make(
            req,
            parent.0,
            name,
            mode & !umask,
            Body::File(File::default()),
        );
        reply_entry(reply, made);
    }

    fn mkdir(
        &self,
        req: &Request,
        parent: INodeNo,
        name: &OsStr,
        mode: u32,
        umask: u32,
        reply: ReplyEntry,
    ) {
        let made = self.0.lock().make(
            req,
            parent.0,
            name,
            mode & !umask,
            Body::Dir(Dir::default()),
        );
        reply_entry(reply, made);
    }

    fn unlink(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEmpty) {
        reply_empty(reply, self.0.lock().remove(parent.0, name, false));
    }

    fn rmdir(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEmpty) {
        reply_empty(reply, self.0.lock().remove(parent.0, name, true));
    }

    fn rename(
        &self,
        _req: &Request,
        parent: INodeNo,
        name: &OsStr,
        newparent: INodeNo,
        newname: &OsStr,
        flags: RenameFlags,
        reply: ReplyEmpty,
    ) {
        reply_empty(
            reply,
            self.0
                .lock()
                .rename(parent.0, name, newparent.0, newname, flags),
        );
    }

    fn open(&self, _req: &Request, ino: INodeNo, _flags: OpenFlags, reply: ReplyOpen) {
        match self.0.lock().nodes.get(&ino.0).map(|n| &n.body) {
            Some(Body::File(_)) => reply.opened(FileHandle(0), FopenFlags::FOPEN_DIRECT_IO),
            Some(Body::Dir(_)) => reply.error(Errno::EISDIR),
            None => reply.error(Errno::ENOENT),
        }
    }

    fn create(
        &self,
        req: &Request,
        parent: INodeNo,
        name: &OsStr,
        mode: u32,
        umask: u32,
        _flags: i32,
        reply: ReplyCreate,
    ) {
        let made = self.0.lock().make(
            req,
            parent.0,
            name,
            mode & !umask,
            Body::File(File::default()),
        );
        match made {
            Ok(a) => reply.created(
                &TTL,
                &a,
                Generation(0),
                FileHandle(0),
                FopenFlags::FOPEN_DIRECT_IO,
            ),
            Err(e) => reply.error(e),
        }
    }

    fn read(
        &self,
        _req: &Request,
        ino: INodeNo,
        _fh: FileHandle,
        offset: u64,
        size: u32,
        _flags: OpenFlags,
        _lock_owner: Option<LockOwner>,
        reply: ReplyData,
    ) {
        let mut t = self.0.lock();
        if let Err(e) = t.powered() {
            return reply.error(e);
        }
        match t.file_mut(ino.0) {
            Ok(f) => {
                let start = (offset as usize).min(f.current.len());
                let end = (start + size as usize).min(f.current.len());
                reply.data(&f.current[start..end]);
            }
            Err(e) => reply.error(e),
        }
    }

    fn write(
        &self,
        _req: &Request,
        ino: INodeNo,
        _fh: FileHandle,
        offset: u64,
        data: &[u8],
        _write_flags: WriteFlags,
        _flags: OpenFlags,
        _lock_owner: Option<LockOwner>,
        reply: ReplyWrite,
    ) {
        let change = Change::Write {
            offset,
            bytes: data.to_vec(),
        };
        let mut t = self.0.lock();
        match t.change(ino.0, change) {
            Ok(()) => {
                t.wrote();
                reply.written(data.len() as u32)
            }
            Err(e) => reply.error(e),
        }
    }

    fn flush(
        &self,
        _req: &Request,
        _ino: INodeNo,
        _fh: FileHandle,
        _lock_owner: LockOwner,
        reply: ReplyEmpty,
    ) {
        // close(2) makes nothing durable.
        reply.ok();
    }

    fn fsync(
        &self,
        _req: &Request,
        ino: INodeNo,
        _fh: FileHandle,
        _datasync: bool,
        reply: ReplyEmpty,
    ) {
        // fdatasync persists the length too: the data cannot be read back without it.
        reply_empty(reply, self.0.lock().sync_file(ino.0));
    }

    fn readdir(
        &self,
        _req: &Request,
        ino: INodeNo,
        _fh: FileHandle,
        offset: u64,
        mut reply: ReplyDirectory,
    ) {
        let t = self.0.lock();
        let d = match t.dir(ino.0) {
            Ok(d) => d,
            Err(e) => return reply.error(e),
        };
        let parent = t.nodes[&ino.0].parent;
        let dots = [
            (ino.0, FileType::Directory, OsStr::new(".")),
            (parent, FileType::Directory, OsStr::new("..")),
        ];
        let entries = d.current.iter().map(|(name, &child)| {
            let kind = if t.is_dir(child) {
                FileType::Directory
            } else {
                FileType::RegularFile
            };
            (child, kind, name.as_os_str())
        });
        for (i, (child, kind, name)) in dots
            .into_iter()
            .chain(entries)
            .enumerate()
            .skip(offset as usize)
        {
            if reply.add(INodeNo(child), i as u64 + 1, kind, name) {
                break;
            }
        }
        reply.ok();
    }

    fn fsyncdir(
        &self,
        _req: &Request,
        ino: INodeNo,
        _fh: FileHandle,
        _datasync: bool,
        reply: ReplyEmpty,
    ) {
        reply_empty(reply, self.0.lock().sync_dir(ino.0));
    }

    fn statfs(&self, _req: &Request, _ino: INodeNo, reply: ReplyStatfs) {
        // Plenty of room: 1 TiB in 4 KiB blocks, a million inodes.
        reply.statfs(1 << 28, 1 << 28, 1 << 28, 1 << 20, 1 << 20, 4096, 255, 4096);
    }

    fn access(&self, _req: &Request, _ino: INodeNo, _mask: AccessFlags, reply: ReplyEmpty) {
        reply.ok();
    }
}

/// The file type bits of a mode, and the type of a regular file (the only kind `mknod`
/// makes here).
const S_IFMT: u32 = 0o170_000;
const S_IFREG: u32 = 0o100_000;

/// The mounted filesystem, in a temporary directory of its own; unmounted when dropped.
pub struct PowerFs {
    tree: Arc<Mutex<Tree>>,
    /// Holds the mount point.
    _dir: tempfile::TempDir,
    mount: PathBuf,
    session: Option<BackgroundSession>,
}

/// Why this machine cannot mount the filesystem, if it cannot.
fn missing_prerequisite() -> Option<String> {
    let how = "the power-cut test mounts a FUSE filesystem of its own";
    if !Path::new("/dev/fuse").exists() {
        return Some(format!(
            "{how}, and /dev/fuse is missing: load the fuse module (`modprobe fuse`); in a \
             container, pass the device in (`--device /dev/fuse --cap-add SYS_ADMIN`)"
        ));
    }
    // Opened and closed again: the mount opens it as this user too, fusermount3 or not.
    let opened = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/fuse");
    if let Err(e) = opened {
        return Some(format!(
            "{how}, and /dev/fuse cannot be opened ({e}): run the tests as root (CI does), or \
             make /dev/fuse readable and writable for everyone (mode 0666, as Debian has it)"
        ));
    }
    let root = std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0);
    let fusermount = Command::new("fusermount3")
        .arg("--version")
        .output()
        .is_ok();
    if !root && !fusermount {
        return Some(format!(
            "{how}: that needs root (CI runs as root) or `fusermount3`, which is in Debian's \
             fuse3 package (`apt-get install fuse3`; .ci/run installs it)"
        ));
    }
    None
}

impl PowerFs {
    /// Mounts an empty filesystem. Fails the test, saying what is missing and how to get
    /// it, when this machine cannot mount it (never a silent skip).
    pub fn mount() -> PowerFs {
        if let Some(why) = missing_prerequisite() {
            panic!("{why}");
        }
        let dir = tempfile::tempdir().unwrap();
        let mount = dir.path().join("mnt");
        std::fs::create_dir(&mount).unwrap();
        let owner = std::fs::metadata(&mount).unwrap();
        let mut fs = PowerFs {
            tree: Arc::new(Mutex::new(Tree::new(owner.uid(), owner.gid()))),
            _dir: dir,
            mount,
            session: None,
        };
        fs.attach();
        fs
    }

    fn attach(&mut self) {
        let mut config = Config::default();
        config.mount_options = vec![
            MountOption::FSName("powerfs".into()),
            MountOption::Subtype("powerfs".into()),
        ];
        let session = fuser::spawn_mount(Ops(self.tree.clone()), &self.mount, &config)
            .unwrap_or_else(|e| {
                panic!(
                    "mounting the power-cut FUSE filesystem at {} failed: {e}. It needs \
                     /dev/fuse and root (CI runs as root) or `fusermount3` (Debian's fuse3 \
                     package: `apt-get install fuse3`; .ci/run installs it)",
                    self.mount.display()
                )
            });
        self.session = Some(session);
    }

    /// Unmounts; when that fails (a process still uses it), detaches the mount lazily
    /// rather than leave it behind, and says why.
    fn detach(&mut self) -> std::io::Result<()> {
        match self.session.take().map(BackgroundSession::umount_and_join) {
            Some(Err(e)) => {
                let _ = Command::new("umount").arg("-l").arg(&self.mount).status();
                Err(e)
            }
            _ => Ok(()),
        }
    }

    /// Where it is mounted.
    pub fn path(&self) -> &Path {
        &self.mount
    }

    /// Arms the power cut: it comes at the `writes`-th write from now (1: the next), which
    /// reaches the filesystem unsynced while process `kill` (the one writing) is killed
    /// before it hears back; every later request fails until [`PowerFs::cut`]. So the cut
    /// always comes with a write in flight.
    pub fn fail_at_write(&self, writes: u64, kill: u32) {
        assert!(writes > 0);
        self.tree.lock().power = Power::FailsAtWrite { writes, kill };
    }

    /// A power cut: unmounts (every process using the filesystem must be gone), loses
    /// what was not synced as `kind` says, and mounts again.
    pub fn cut(&mut self, kind: Cut) -> CutReport {
        if let Err(e) = self.detach() {
            panic!(
                "unmounting {} failed (is a process still using it?): {e}",
                self.mount.display()
            );
        }
        let report = self.tree.lock().cut(kind);
        self.attach();
        report
    }
}

impl Drop for PowerFs {
    fn drop(&mut self) {
        let _ = self.detach();
    }
}
