//! Filesystem usage: mounts from `/proc/1/mounts` (falling back to
//! `/proc/self/mounts`, as node_exporter does) and `statvfs(3)` on each.
//!
//! node_exporter 1.5's default excludes apply: the pseudo filesystem types
//! `autofs|binfmt_misc|bpf|cgroup2?|configfs|debugfs|devpts|devtmpfs|fusectl|
//! hugetlbfs|iso9660|mqueue|nsfs|overlay|proc|procfs|pstore|rpc_pipefs|
//! securityfs|selinuxfs|squashfs|sysfs|tracefs` and the mount points under
//! `/dev`, `/proc`, `/sys`, `/run/credentials/…`, `/var/lib/docker/…` and
//! `/var/lib/containers/storage/…`.
//!
//! **Network filesystems** (NFS, CIFS/SMB, Ceph, GlusterFS, 9p, sshfs, …) are
//! skipped by default, because `statvfs` on a hung server blocks forever.
//! With `include_network`, they are queried on a helper thread with a timeout;
//! a mount that times out reports `node_filesystem_device_error 1` and is not
//! queried again until its stuck call returns.
//!
//! ```
//! use argus_collect::collectors::filesystem::{fstype_ignored, mountpoint_ignored};
//! assert!(fstype_ignored("proc") && !fstype_ignored("ext4") && !fstype_ignored("tmpfs"));
//! assert!(mountpoint_ignored("/sys/fs/cgroup") && !mountpoint_ignored("/"));
//! ```

use std::collections::HashSet;
use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;

use super::{as_str, fields, lines, read_into, Collector};
use crate::expose::{MetricFamily, MetricKind};
use crate::CollectError;

const IGNORED_FS: [&str; 24] = [
    "autofs",
    "binfmt_misc",
    "bpf",
    "cgroup",
    "cgroup2",
    "configfs",
    "debugfs",
    "devpts",
    "devtmpfs",
    "fusectl",
    "hugetlbfs",
    "iso9660",
    "mqueue",
    "nsfs",
    "overlay",
    "proc",
    "procfs",
    "pstore",
    "rpc_pipefs",
    "securityfs",
    "selinuxfs",
    "squashfs",
    "sysfs",
    "tracefs",
];

const NETWORK_FS: [&str; 16] = [
    "nfs",
    "nfs4",
    "cifs",
    "smb3",
    "smbfs",
    "ceph",
    "glusterfs",
    "fuse.glusterfs",
    "fuse.sshfs",
    "9p",
    "lustre",
    "afs",
    "ncpfs",
    "fuse.s3fs",
    "fuse.rclone",
    "gpfs",
];

/// Whether node_exporter's default `fs-types-exclude` drops `fstype`.
pub fn fstype_ignored(fstype: &str) -> bool {
    IGNORED_FS.contains(&fstype)
}

/// Whether `fstype` is a network filesystem (statvfs may hang).
pub fn is_network_fs(fstype: &str) -> bool {
    NETWORK_FS.contains(&fstype)
}

/// Whether node_exporter's default `mount-points-exclude` drops `mp`.
pub fn mountpoint_ignored(mp: &str) -> bool {
    let Some(r) = mp.strip_prefix('/') else {
        return false;
    };
    for p in ["dev", "proc", "sys"] {
        if let Some(rest) = r.strip_prefix(p) {
            if rest.is_empty() || rest.starts_with('/') {
                return true;
            }
        }
    }
    [
        "run/credentials/",
        "var/lib/docker/",
        "var/lib/containers/storage/",
    ]
    .iter()
    .any(|p| r.strip_prefix(p).is_some_and(|rest| !rest.is_empty()))
}

/// Undoes the kernel's octal escapes in /proc/mounts (`\040` for a space).
pub fn unescape_mount(s: &str) -> String {
    if !s.contains('\\') {
        return s.to_string();
    }
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\'
            && i + 3 < b.len()
            && b[i + 1..i + 4].iter().all(|c| (b'0'..=b'7').contains(c))
        {
            let v = (u32::from(b[i + 1] - b'0') << 6)
                | (u32::from(b[i + 2] - b'0') << 3)
                | u32::from(b[i + 3] - b'0');
            out.push(v as u8);
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Filesystem collector configuration.
#[derive(Debug, Clone)]
pub struct FsOptions {
    /// Prefix for statvfs paths (node_exporter's `--path.rootfs`), normally `/`.
    pub rootfs: PathBuf,
    /// Query network filesystems (on a helper thread, with `timeout`).
    pub include_network: bool,
    /// Time limit for one network filesystem's statvfs.
    pub timeout: Duration,
}

/// Result of one statvfs: size, free, avail, files, files_free, readonly.
type Stat = [f64; 6];

fn statvfs(path: &Path) -> std::io::Result<Stat> {
    let c = CString::new(path.as_os_str().as_bytes())
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::InvalidInput, "path contains NUL"))?;
    // SAFETY: `c` is a valid NUL-terminated string and `st` a properly sized,
    // zero-initialised out-parameter that statvfs fills on success.
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    let rc = unsafe { libc::statvfs(c.as_ptr(), &mut st) };
    if rc != 0 {
        return Err(std::io::Error::last_os_error());
    }
    let bs = st.f_frsize as f64;
    Ok([
        st.f_blocks as f64 * bs,
        st.f_bfree as f64 * bs,
        st.f_bavail as f64 * bs,
        st.f_files as f64,
        st.f_ffree as f64,
        if st.f_flag & libc::ST_RDONLY != 0 {
            1.0
        } else {
            0.0
        },
    ])
}

/// Reads the mount table and statvfs of each mount.
#[derive(Debug)]
pub struct FilesystemCollector {
    mounts: [PathBuf; 2],
    opts: FsOptions,
    buf: Vec<u8>,
    stuck: Arc<Mutex<HashSet<PathBuf>>>,
}

impl FilesystemCollector {
    /// A collector reading the mount table under `procfs_root`.
    pub fn new(procfs_root: &Path, opts: FsOptions) -> Self {
        FilesystemCollector {
            mounts: [
                procfs_root.join("1/mounts"),
                procfs_root.join("self/mounts"),
            ],
            opts,
            buf: Vec::with_capacity(8192),
            stuck: Arc::new(Mutex::new(HashSet::new())),
        }
    }

    fn stat_with_timeout(&self, path: PathBuf) -> Option<Stat> {
        if self.stuck.lock().contains(&path) {
            return None;
        }
        let (tx, rx) = std::sync::mpsc::channel();
        let stuck = Arc::clone(&self.stuck);
        let p = path.clone();
        let spawned = std::thread::Builder::new()
            .name("argus-statvfs".into())
            .spawn(move || {
                let r = statvfs(&p);
                stuck.lock().remove(&p);
                let _ = tx.send(r);
            });
        if spawned.is_err() {
            return None;
        }
        match rx.recv_timeout(self.opts.timeout) {
            Ok(r) => r.ok(),
            Err(_) => {
                tracing::warn!(mountpoint = %path.display(), "statvfs timed out; the mount is marked stuck until the call returns.");
                self.stuck.lock().insert(path);
                None
            }
        }
    }
}

const NAMES: [(&str, &str); 6] = [
    ("node_filesystem_size_bytes", "Filesystem size in bytes."),
    (
        "node_filesystem_free_bytes",
        "Filesystem free space in bytes.",
    ),
    (
        "node_filesystem_avail_bytes",
        "Filesystem space available to non-root users in bytes.",
    ),
    ("node_filesystem_files", "Filesystem total file nodes."),
    (
        "node_filesystem_files_free",
        "Filesystem total free file nodes.",
    ),
    ("node_filesystem_readonly", "Filesystem read-only status."),
];

impl Collector for FilesystemCollector {
    fn name(&self) -> &'static str {
        "filesystem"
    }

    fn collect(&mut self, out: &mut Vec<MetricFamily>) -> Result<(), CollectError> {
        if read_into(&self.mounts[0], &mut self.buf).is_err() {
            read_into(&self.mounts[1], &mut self.buf)?;
        }
        let mut fams: Vec<MetricFamily> = NAMES
            .iter()
            .map(|(n, h)| MetricFamily::new(*n, *h, MetricKind::Gauge))
            .collect();
        let mut err_fam = MetricFamily::new(
            "node_filesystem_device_error",
            "Whether an error occurred while getting statistics for the given device.",
            MetricKind::Gauge,
        );
        let mut seen: HashSet<(String, String, String)> = HashSet::new();
        let buf = std::mem::take(&mut self.buf);
        for line in lines(&buf) {
            let mut it = fields(line);
            let (Some(dev), Some(mp), Some(fstype), opts) =
                (it.next(), it.next(), it.next(), it.next())
            else {
                continue;
            };
            let (Some(dev), Some(mp), Some(fstype)) = (as_str(dev), as_str(mp), as_str(fstype))
            else {
                continue;
            };
            if fstype_ignored(fstype) {
                continue;
            }
            let mp = unescape_mount(mp);
            if mountpoint_ignored(&mp) {
                continue;
            }
            let network = is_network_fs(fstype);
            if network && !self.opts.include_network {
                continue;
            }
            let key = (unescape_mount(dev), fstype.to_string(), mp);
            if !seen.insert(key.clone()) {
                continue;
            }
            let path = self.opts.rootfs.join(key.2.trim_start_matches('/'));
            let st = if network {
                self.stat_with_timeout(path)
            } else {
                statvfs(&path).ok()
            };
            let labels = vec![("device", key.0), ("fstype", key.1), ("mountpoint", key.2)];
            match st {
                Some(st) => {
                    for (f, v) in fams.iter_mut().zip(st) {
                        f.push_owned(labels.clone(), v);
                    }
                    err_fam.push_owned(labels, 0.0);
                }
                None => {
                    let ro = opts.is_some_and(|o| o.split(|&c| c == b',').any(|o| o == b"ro"));
                    fams[5].push_owned(labels.clone(), if ro { 1.0 } else { 0.0 });
                    err_fam.push_owned(labels, 1.0);
                }
            }
        }
        self.buf = buf;
        out.extend(fams);
        out.push(err_fam);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn excludes_match_node_exporter_defaults() {
        for m in [
            "/dev",
            "/dev/shm",
            "/proc",
            "/sys/kernel",
            "/run/credentials/x",
            "/var/lib/docker/overlay2/a",
        ] {
            assert!(mountpoint_ignored(m), "{m}");
        }
        for m in [
            "/",
            "/home",
            "/devices",
            "/var/lib/docker",
            "/run/credentials",
            "/run",
            "relative",
        ] {
            assert!(!mountpoint_ignored(m), "{m}");
        }
        assert!(fstype_ignored("cgroup2") && fstype_ignored("overlay") && !fstype_ignored("xfs"));
        assert_eq!(unescape_mount(r"/mnt/my\040disk"), "/mnt/my disk");
        assert_eq!(unescape_mount(r"/odd\04"), r"/odd\04");
        assert_eq!(unescape_mount(r"\"), r"\");
    }

    #[test]
    fn stats_real_mounts_from_fixture_table() {
        let d = tempfile::tempdir().unwrap();
        let root = d.path().to_str().unwrap();
        std::fs::create_dir_all(d.path().join("self")).unwrap();
        std::fs::write(
            d.path().join("self/mounts"),
            format!(
                "/dev/root / ext4 rw,relatime 0 0\nproc /proc proc rw 0 0\n/dev/sdz {root} ext4 ro 0 0\n/dev/sdz {root} ext4 ro 0 0\n\
srv:/x /mnt/nfs nfs4 rw 0 0\n/dev/gone /definitely/missing\\040dir xfs ro 0 0\ntrunc /x\n"
            ),
        )
        .unwrap();
        let opts = FsOptions {
            rootfs: "/".into(),
            include_network: false,
            timeout: Duration::from_secs(1),
        };
        let mut out = Vec::new();
        FilesystemCollector::new(d.path(), opts)
            .collect(&mut out)
            .unwrap();
        let size = out
            .iter()
            .find(|f| f.name == "node_filesystem_size_bytes")
            .unwrap();
        assert_eq!(
            size.samples.len(),
            2,
            "/ and the tempdir, deduplicated; nfs skipped"
        );
        assert!(size.samples.iter().all(|s| s.value > 0.0));
        assert_eq!(size.samples[0].labels[2], ("mountpoint", "/".to_string()));
        let err = out
            .iter()
            .find(|f| f.name == "node_filesystem_device_error")
            .unwrap();
        let missing = err
            .samples
            .iter()
            .find(|s| s.labels[2].1 == "/definitely/missing dir")
            .unwrap();
        assert_eq!(missing.value, 1.0);
        let ro = out
            .iter()
            .find(|f| f.name == "node_filesystem_readonly")
            .unwrap();
        assert_eq!(ro.samples.last().unwrap().value, 1.0);
    }

    #[test]
    fn network_fs_goes_through_timeout_path() {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(d.path().join("1")).unwrap();
        let mp = d.path().to_str().unwrap().to_string();
        std::fs::write(
            d.path().join("1/mounts"),
            format!("srv:/x {mp} nfs4 rw 0 0\n"),
        )
        .unwrap();
        let opts = FsOptions {
            rootfs: "/".into(),
            include_network: true,
            timeout: Duration::from_secs(5),
        };
        let mut out = Vec::new();
        FilesystemCollector::new(d.path(), opts)
            .collect(&mut out)
            .unwrap();
        assert_eq!(out[0].samples.len(), 1);
    }
}
