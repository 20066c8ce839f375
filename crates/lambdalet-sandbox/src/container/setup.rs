//! Carrying out an [`InitPlan`]'s root assembly through the [`Os`] trait: make every mount
//! private, lay the steps out under the root, seal it read-only, `pivot_root` into it and name
//! the host. Runs in the container's init, as root, in the sandbox's new namespaces.

use std::io;
use std::path::Path;

use super::os::{Kind, MsFlags, Os};
use super::plan::{Flags, InitPlan, Step};
use super::walk::{file_point, fresh, inside, mkdir_p, real_parents};

/// A failed step: what was being done and the system's answer.
#[derive(Debug)]
pub(crate) struct StepError {
    pub step: String,
    pub error: io::Error,
}

impl std::fmt::Display for StepError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "cannot {}: {}", self.step, self.error)
    }
}

fn at<T>(step: impl FnOnce() -> String, r: io::Result<T>) -> Result<T, StepError> {
    r.map_err(|error| StepError {
        step: step(),
        error,
    })
}

/// Builds the root and moves into it.
pub(crate) fn assemble_root(os: &mut dyn Os, plan: &InitPlan) -> Result<(), StepError> {
    let private = libc::MS_REC | libc::MS_PRIVATE;
    at(
        || "make the sandbox's mounts private".to_owned(),
        os.mount(None, Path::new("/"), None, private, None),
    )?;
    for step in &plan.steps {
        run(os, &plan.root, step)?;
    }
    at(
        || format!("enter the sandbox's root {}", plan.root.display()),
        os.chdir(&plan.root).and_then(|()| os.pivot_here()),
    )?;
    at(
        || format!("set the host name {:?}", plan.hostname),
        os.sethostname(&plan.hostname),
    )
}

fn flag_bits(f: Flags) -> MsFlags {
    let mut bits = 0;
    if f.nosuid {
        bits |= libc::MS_NOSUID;
    }
    if f.nodev {
        bits |= libc::MS_NODEV;
    }
    if f.noexec {
        bits |= libc::MS_NOEXEC;
    }
    bits
}

fn run(os: &mut dyn Os, root: &Path, step: &Step) -> Result<(), StepError> {
    match step {
        Step::Tmpfs {
            path,
            mode,
            size,
            flags,
        } => {
            let target = inside(root, path);
            if path != Path::new("/") {
                at(
                    || format!("create {}", path.display()),
                    mkdir_p(os, root, path, 0o755),
                )?;
            }
            let data = match size {
                Some(s) => format!("mode={mode:o},size={s}"),
                None => format!("mode={mode:o}"),
            };
            at(
                || format!("mount a tmpfs on {}", path.display()),
                os.mount(
                    Some(Path::new("tmpfs")),
                    &target,
                    Some("tmpfs"),
                    flag_bits(*flags),
                    Some(&data),
                ),
            )
        }
        Step::Bind {
            source,
            path,
            file,
            readonly,
            flags,
        } => {
            let what = || format!("mount {} at {}", source.display(), path.display());
            let point = if *file {
                file_point(os, root, path)
            } else {
                mkdir_p(os, root, path, 0o755)
            };
            at(what, point)?;
            bind(os, source, &inside(root, path), *readonly, *flags).map_err(|error| StepError {
                step: what(),
                error,
            })
        }
        Step::Proc { path } => special(
            os,
            root,
            path,
            "proc",
            libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC,
            None,
        ),
        Step::Sysfs { path } => special(
            os,
            root,
            path,
            "sysfs",
            libc::MS_RDONLY | libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC,
            None,
        ),
        Step::Devpts { path } => special(
            os,
            root,
            path,
            "devpts",
            libc::MS_NOSUID | libc::MS_NOEXEC,
            Some("newinstance,ptmxmode=0666,mode=0620"),
        ),
        Step::Mkdir { path, mode } => at(
            || format!("create {}", path.display()),
            mkdir_p(os, root, path, *mode),
        ),
        Step::Symlink { target, path } => at(
            || format!("link {} to {}", path.display(), target.display()),
            real_parents(os, root, path).and_then(|()| os.symlink(target, &inside(root, path))),
        ),
        Step::File {
            path,
            contents,
            mode,
        } => at(
            || format!("write {}", path.display()),
            new_file(os, root, path, contents, *mode),
        ),
        Step::Mknod { path, node } => {
            let target = inside(root, path);
            at(
                || format!("create the device node {}", path.display()),
                real_parents(os, root, path)
                    .and_then(|()| os.mknod(&target, node.char, node.major, node.minor, node.mode))
                    .and_then(|()| os.chown(&target, node.uid, node.gid)),
            )
        }
        Step::Fresh { path, file } => at(
            || format!("make {} the sandbox's own", path.display()),
            fresh(os, root, path, *file),
        ),
        Step::ImageRoot { lower } => at(
            || format!("mount the image {} as the sandbox's root", lower.display()),
            image_root(os, root, lower),
        ),
        Step::Mask { path } => {
            let target = inside(root, path);
            let r = match os.kind(&target) {
                None => Ok(()),
                Some(Kind::Dir) => os.mount(
                    Some(Path::new("tmpfs")),
                    &target,
                    Some("tmpfs"),
                    libc::MS_RDONLY | libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC,
                    Some("size=4k"),
                ),
                Some(Kind::Other) => {
                    bind(os, Path::new("/dev/null"), &target, true, Flags::default())
                }
                Some(Kind::Symlink) => Err(link_refused()),
            };
            at(|| format!("hide {}", path.display()), r)
        }
        Step::ReadOnly { path } => {
            let target = inside(root, path);
            let r = match os.kind(&target) {
                None => Ok(()),
                Some(Kind::Symlink) => Err(link_refused()),
                Some(Kind::Dir | Kind::Other) => bind(
                    os,
                    &target,
                    &target,
                    true,
                    Flags {
                        nosuid: true,
                        nodev: true,
                        noexec: true,
                    },
                ),
            };
            at(|| format!("make {} read-only", path.display()), r)
        }
        Step::Overlay { base, lowers, path } => {
            let what = || {
                format!(
                    "merge the function's layers at {} with overlayfs (a container needs it for two or more layers)",
                    path.display()
                )
            };
            at(what, mkdir_p(os, root, path, 0o755))?;
            at(what, os.chdir(base))?;
            at(
                what,
                os.mount(
                    Some(Path::new("overlay")),
                    &inside(root, path),
                    Some("overlay"),
                    libc::MS_RDONLY | libc::MS_NOSUID | libc::MS_NODEV,
                    Some(&format!("lowerdir={}", lowers.join(":"))),
                ),
            )
        }
        Step::SealRoot => at(
            || "make the sandbox's root read-only".to_owned(),
            os.mount(
                None,
                root,
                None,
                libc::MS_REMOUNT
                    | libc::MS_BIND
                    | libc::MS_RDONLY
                    | libc::MS_NOSUID
                    | libc::MS_NODEV,
                None,
            ),
        ),
    }
}

fn link_refused() -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidInput,
        "a symbolic link, which is never followed",
    )
}

/// Writes a generated file: its directory made if missing (never through a link), whatever
/// file or link is there removed (an image's own), then a new file created.
fn new_file(
    os: &mut dyn Os,
    root: &Path,
    path: &Path,
    contents: &str,
    mode: u32,
) -> io::Result<()> {
    if let Some(parent) = path.parent() {
        mkdir_p(os, root, parent, 0o755)?;
    }
    let target = inside(root, path);
    match os.kind(&target) {
        None => {}
        Some(Kind::Dir) => {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("{} is a directory", path.display()),
            ));
        }
        Some(Kind::Symlink | Kind::Other) => os.remove(&target)?,
    }
    os.write_file(&target, contents, mode)
}

/// An image function's root: a small tmpfs on the root holding overlayfs's upper and work
/// directories, then an overlay of the image (its only lower layer) over it, so that mount
/// points and generated files are made in memory and the image is never written to.
fn image_root(os: &mut dyn Os, root: &Path, lower: &Path) -> io::Result<()> {
    os.mount(
        Some(Path::new("tmpfs")),
        root,
        Some("tmpfs"),
        libc::MS_NOSUID | libc::MS_NODEV,
        Some("mode=755,size=1048576"),
    )?;
    let (upper, work) = (root.join("upper"), root.join("work"));
    os.mkdir(&upper, 0o755)?;
    os.mkdir(&work, 0o755)?;
    let data = format!(
        "lowerdir={},upperdir={},workdir={}",
        super::opt::escape(lower)?,
        super::opt::escape(&upper)?,
        super::opt::escape(&work)?
    );
    os.mount(
        Some(Path::new("overlay")),
        root,
        Some("overlay"),
        libc::MS_NOSUID | libc::MS_NODEV,
        Some(&data),
    )
}

/// A bind mount, then the remount that applies read-only and the other flags to it (a bind
/// mount takes no flags of its own).
fn bind(
    os: &mut dyn Os,
    source: &Path,
    target: &Path,
    readonly: bool,
    flags: Flags,
) -> io::Result<()> {
    os.mount(Some(source), target, None, libc::MS_BIND, None)?;
    let mut bits = flag_bits(flags);
    if readonly {
        bits |= libc::MS_RDONLY;
    }
    if bits != 0 {
        os.mount(
            None,
            target,
            None,
            libc::MS_REMOUNT | libc::MS_BIND | bits,
            None,
        )?;
    }
    Ok(())
}

fn special(
    os: &mut dyn Os,
    root: &Path,
    path: &Path,
    fstype: &str,
    flags: MsFlags,
    data: Option<&str>,
) -> Result<(), StepError> {
    let what = || format!("mount {fstype} on {}", path.display());
    at(what, mkdir_p(os, root, path, 0o755))?;
    at(
        what,
        os.mount(
            Some(Path::new(fstype)),
            &inside(root, path),
            Some(fstype),
            flags,
            data,
        ),
    )
}
