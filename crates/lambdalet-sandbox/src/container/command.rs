//! The runtime's command, made ready before the init forks it: C strings and the pointer
//! arrays `execve` takes, and for a program named without a slash (an image's `ENTRYPOINT`,
//! `python3`), where to look for it: each directory of the `PATH` of its environment, inside
//! the sandbox, as Docker does.

use std::ffi::CString;
use std::io;
use std::os::unix::ffi::OsStrExt;

use super::plan::Exec;

/// The `PATH` a bare program name is looked up on when its environment has none (Docker's).
const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// The runtime's command as C strings and the pointer arrays `execve` takes, all made before
/// the fork (the child allocates nothing until an exec has failed).
pub(super) struct Prepared {
    /// The paths to try, in order: the program itself, or for a bare name, the name in each
    /// directory of `PATH` (an empty entry: the working directory, as `execvp` has it).
    candidates: Vec<CString>,
    /// The `PATH` a bare name was looked up on.
    searched: Option<String>,
    /// Owns what `argv` points to.
    _args: Vec<CString>,
    /// Owns what `envp` points to.
    _env: Vec<CString>,
    /// NULL-terminated.
    argv: Vec<*const libc::c_char>,
    /// NULL-terminated.
    envp: Vec<*const libc::c_char>,
    pub(super) cwd: CString,
}

fn c_string(b: &[u8]) -> io::Result<CString> {
    CString::new(b)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "a NUL byte in the command"))
}

/// The environment's `PATH` (the first, as `getenv` finds it), or Docker's default.
fn search_path(env: &[(String, String)]) -> &str {
    env.iter()
        .find(|(k, _)| k == "PATH")
        .map_or(DEFAULT_PATH, |(_, v)| v.as_str())
}

impl Prepared {
    pub(super) fn new(exec: &Exec) -> io::Result<Self> {
        let program = exec.program.as_os_str().as_bytes();
        let (candidates, searched) = if program.is_empty() || program.contains(&b'/') {
            (vec![c_string(program)?], None)
        } else {
            let path = search_path(&exec.env);
            let candidates = path
                .split(':')
                .map(|dir| {
                    let dir = dir.trim_end_matches('/').as_bytes();
                    if dir.is_empty() {
                        c_string(program)
                    } else {
                        c_string(&[dir, b"/", program].concat())
                    }
                })
                .collect::<Result<_, _>>()?;
            (candidates, Some(path.to_owned()))
        };
        let mut args = vec![c_string(program)?];
        for a in &exec.args {
            args.push(c_string(a.as_bytes())?);
        }
        let env: Vec<CString> = exec
            .env
            .iter()
            .map(|(k, v)| c_string(format!("{k}={v}").as_bytes()))
            .collect::<Result<_, _>>()?;
        let pointers = |strings: &[CString]| {
            strings
                .iter()
                .map(|s| s.as_ptr())
                .chain(std::iter::once(std::ptr::null()))
                .collect()
        };
        Ok(Self {
            candidates,
            searched,
            argv: pointers(&args),
            envp: pointers(&env),
            _args: args,
            _env: env,
            cwd: c_string(exec.cwd.as_os_str().as_bytes())?,
        })
    }

    /// Tries each candidate until one is executed or fails for a reason other than not being
    /// there (`ENOENT`, `ENOTDIR`) or not being executable (`EACCES`, remembered: a later
    /// candidate may do). Returns only on failure: the error of the last meaningful attempt,
    /// and which candidate made it.
    pub(super) fn exec(&self) -> (io::Error, Option<usize>) {
        let mut failed = (libc::ENOENT, None);
        for (i, program) in self.candidates.iter().enumerate() {
            // SAFETY: a live C string and NULL-terminated arrays of pointers to live C strings
            // (owned by `self`).
            unsafe { libc::execve(program.as_ptr(), self.argv.as_ptr(), self.envp.as_ptr()) };
            let errno = io::Error::last_os_error().raw_os_error().unwrap_or(0);
            match errno {
                libc::ENOENT | libc::ENOTDIR => {}
                libc::EACCES => failed = (errno, Some(i)),
                _ => return (io::Error::from_raw_os_error(errno), Some(i)),
            }
        }
        (io::Error::from_raw_os_error(failed.0), failed.1)
    }

    /// What an exec's failure (`errno`, at `candidate`) means, said for a looked-up name.
    pub(super) fn exec_error(&self, errno: i32, candidate: Option<usize>) -> io::Error {
        let e = io::Error::from_raw_os_error(errno);
        let Some(path) = &self.searched else {
            return e;
        };
        match candidate.and_then(|i| self.candidates.get(i)) {
            Some(tried) => io::Error::new(e.kind(), format!("{}: {e}", tried.to_string_lossy())),
            None if matches!(errno, libc::ENOENT | libc::ENOTDIR) => {
                io::Error::new(io::ErrorKind::NotFound, format!("not found on PATH {path}"))
            }
            None => e,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exec(program: &str, env: &[(&str, &str)]) -> Exec {
        Exec {
            program: program.into(),
            args: vec!["-u".into()],
            env: env
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
            cwd: "/var/task".into(),
        }
    }

    fn candidates(p: &Prepared) -> Vec<String> {
        p.candidates
            .iter()
            .map(|c| c.to_string_lossy().into_owned())
            .collect()
    }

    #[test]
    fn a_bare_name_is_looked_up_on_the_environments_path() {
        let p = Prepared::new(&exec(
            "python3",
            &[
                ("A", "1"),
                ("PATH", "/opt/py/bin/::/usr/bin"),
                ("PATH", "/x"),
            ],
        ))
        .expect("prepared");
        assert_eq!(
            candidates(&p),
            ["/opt/py/bin/python3", "python3", "/usr/bin/python3"]
        );
        assert_eq!(p.searched.as_deref(), Some("/opt/py/bin/::/usr/bin"));
        assert_eq!(p.argv.len(), 3, "argv[0], -u, NULL");
        assert!(p.argv[2].is_null() && p.envp.len() == 4 && p.envp[3].is_null());
        let p = Prepared::new(&exec("python3", &[])).expect("prepared");
        assert_eq!(candidates(&p)[0], "/usr/local/sbin/python3");
        assert_eq!(candidates(&p).len(), 6);
        assert_eq!(p.searched.as_deref(), Some(DEFAULT_PATH));
    }

    #[test]
    fn a_path_with_a_slash_is_used_as_it_is() {
        for program in ["/usr/bin/python3", "./bootstrap", "bin/app"] {
            let p = Prepared::new(&exec(program, &[("PATH", "/usr/bin")])).expect("prepared");
            assert_eq!(candidates(&p), [program]);
            assert_eq!(p.searched, None);
        }
    }

    #[test]
    fn a_failed_lookup_says_where_it_looked() {
        let p = Prepared::new(&exec("python3", &[("PATH", "/a:/b")])).expect("prepared");
        assert_eq!(
            p.exec_error(libc::ENOENT, None).to_string(),
            "not found on PATH /a:/b"
        );
        let e = p.exec_error(libc::EACCES, Some(1));
        assert_eq!(e.kind(), io::ErrorKind::PermissionDenied);
        assert_eq!(e.to_string(), "/b/python3: Permission denied (os error 13)");
        let p = Prepared::new(&exec("/usr/bin/python3", &[])).expect("prepared");
        assert_eq!(
            p.exec_error(libc::ENOENT, Some(0)).raw_os_error(),
            Some(libc::ENOENT)
        );
        let e = Prepared::new(&exec("py\0thon", &[]))
            .err()
            .expect("a NUL byte");
        assert_eq!(e.kind(), io::ErrorKind::InvalidInput);
    }

    #[test]
    fn nothing_runnable_on_path_is_not_found() {
        let p = Prepared::new(&exec(
            "lambdalet-no-such-program",
            &[("PATH", "/nonexistent:/etc/passwd")],
        ))
        .expect("prepared");
        let (e, candidate) = p.exec();
        assert_eq!((e.raw_os_error(), candidate), (Some(libc::ENOENT), None));
    }
}
