//! `lambdalet install --systemd`: the service on a host without the .deb (any systemd
//! distribution): the binary, the unit, the settings file, the dedicated user, then
//! `systemctl enable --now`. What the .deb's files and maintainer scripts do, from one
//! command, printing each step.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, bail};
use clap::Args;

/// The unit and the settings the .deb ships (`packaging/`).
const UNIT: &str = include_str!("../../../packaging/lambdalet.service");
const CONFIG: &str = include_str!("../../../packaging/config.toml");
/// The per-function uids (`--sandbox-uid-base` and up), reserved for the `lambdalet` user.
const SUBORDINATE: &str = "lambdalet:2000000:1000000";

#[derive(Debug, Args)]
pub struct InstallArgs {
    /// Install as a systemd service (the one service manager supported).
    #[arg(long, required = true)]
    pub systemd: bool,
    /// Where the binary is copied.
    #[arg(long, value_name = "PATH", default_value = "/usr/local/bin/lambdalet")]
    pub bin: PathBuf,
    /// Write the files under DIR instead of / (an image being built): no user is created
    /// and systemctl is not run; the steps left are printed.
    #[arg(long, value_name = "DIR")]
    pub root: Option<PathBuf>,
    /// Install and enable, but do not start the service now.
    #[arg(long)]
    pub no_start: bool,
}

pub fn run(args: &InstallArgs) -> anyhow::Result<()> {
    let root = args.root.clone().unwrap_or_else(|| PathBuf::from("/"));
    let under = |p: &Path| root.join(p.strip_prefix("/").unwrap_or(p));
    if args.root.is_none() && !nix::unistd::geteuid().is_root() {
        bail!(
            "installing a service needs root: run it with sudo (or pass --root DIR to stage the files)"
        );
    }
    if !args.bin.is_absolute() {
        bail!("--bin must be an absolute path, not {}", args.bin.display());
    }
    println!("installing lambdalet as a systemd service");

    let me = std::env::current_exe().context("cannot find this program's own file")?;
    let bin = under(&args.bin);
    if me.canonicalize().ok() != bin.canonicalize().ok() {
        create_parent(&bin)?;
        // Through a temporary name: a running binary cannot be written over in place.
        let tmp = bin.with_extension("new");
        std::fs::copy(&me, &tmp)
            .and_then(|_| std::fs::rename(&tmp, &bin))
            .with_context(|| format!("cannot copy {} to {}", me.display(), bin.display()))?;
        println!(
            "  binary     {} (from {})",
            args.bin.display(),
            me.display()
        );
    } else {
        println!("  binary     {} (already there)", args.bin.display());
    }
    set_mode(&bin, 0o755)?;

    let unit_path = under(Path::new("/etc/systemd/system/lambdalet.service"));
    create_parent(&unit_path)?;
    let unit = UNIT.replace(
        "ExecStart=/usr/bin/lambdalet ",
        &format!("ExecStart={} ", args.bin.display()),
    );
    std::fs::write(&unit_path, unit)
        .with_context(|| format!("cannot write {}", unit_path.display()))?;
    println!("  unit       /etc/systemd/system/lambdalet.service");

    let config = under(Path::new("/etc/lambdalet/config.toml"));
    if config.exists() {
        println!("  settings   /etc/lambdalet/config.toml (kept yours)");
    } else {
        create_parent(&config)?;
        std::fs::write(&config, CONFIG)
            .with_context(|| format!("cannot write {}", config.display()))?;
        // The service's own: it may hold a remote broker's password.
        set_mode(&config, 0o640)?;
        println!(
            "  settings   /etc/lambdalet/config.toml (new: edit it, then systemctl restart lambdalet)"
        );
    }

    if args.root.is_some() {
        println!("  user       not created under --root; on the target run:");
        println!(
            "               useradd --system --user-group --home-dir /var/lib/lambdalet --no-create-home --shell /usr/sbin/nologin lambdalet"
        );
        println!(
            "               echo {SUBORDINATE} >> /etc/subuid; echo {SUBORDINATE} >> /etc/subgid"
        );
        println!("  service    then: systemctl daemon-reload && systemctl enable --now lambdalet");
        return Ok(());
    }
    dedicated_user()?;

    if !Path::new("/run/systemd/system").exists() {
        println!(
            "  service    not started: systemd is not running on this host (start it with `systemctl enable --now lambdalet` once it is)"
        );
        return Ok(());
    }
    systemctl(&["daemon-reload"])?;
    if args.no_start {
        systemctl(&["enable", "lambdalet"])?;
        println!("  service    enabled (start it with `systemctl start lambdalet`)");
    } else {
        systemctl(&["enable", "--now", "lambdalet"])?;
        println!(
            "  service    enabled and started: `systemctl status lambdalet`, `journalctl -u lambdalet -f`"
        );
    }
    Ok(())
}

/// The `lambdalet` system user and group, and the per-function uids reserved for it.
fn dedicated_user() -> anyhow::Result<()> {
    let exists = Command::new("getent")
        .args(["passwd", "lambdalet"])
        .output()
        .is_ok_and(|o| o.status.success());
    if exists {
        println!("  user       lambdalet (exists)");
    } else {
        let nologin = ["/usr/sbin/nologin", "/sbin/nologin"]
            .into_iter()
            .find(|p| Path::new(p).exists())
            .unwrap_or("/bin/false");
        let status = Command::new("useradd")
            .args([
                "--system",
                "--user-group",
                "--home-dir",
                "/var/lib/lambdalet",
                "--no-create-home",
                "--shell",
                nologin,
                "lambdalet",
            ])
            .status()
            .context("cannot run useradd (install the passwd/shadow-utils package)")?;
        if !status.success() {
            bail!("useradd could not create the lambdalet user ({status})");
        }
        println!("  user       lambdalet (new system user and group)");
    }
    for file in ["/etc/subuid", "/etc/subgid"] {
        let text = std::fs::read_to_string(file).unwrap_or_default();
        if !text.lines().any(|l| l.starts_with("lambdalet:")) {
            let mut text = text;
            if !text.is_empty() && !text.ends_with('\n') {
                text.push('\n');
            }
            text.push_str(SUBORDINATE);
            text.push('\n');
            std::fs::write(file, text).with_context(|| format!("cannot write {file}"))?;
        }
    }
    println!(
        "  uids       2000000-2999999 (functions' own) reserved for lambdalet in /etc/subuid and /etc/subgid"
    );
    Ok(())
}

fn systemctl(args: &[&str]) -> anyhow::Result<()> {
    let status = Command::new("systemctl")
        .args(args)
        .status()
        .context("cannot run systemctl")?;
    if !status.success() {
        bail!("systemctl {} failed ({status})", args.join(" "));
    }
    Ok(())
}

fn create_parent(path: &Path) -> anyhow::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    Ok(())
}

fn set_mode(path: &Path, mode: u32) -> anyhow::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
        .with_context(|| format!("cannot set the mode of {}", path.display()))
}
