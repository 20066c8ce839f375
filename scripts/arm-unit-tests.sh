#!/usr/bin/env bash
# The sandbox crate's unit tests built for an ARM board and run under qemu-user (cargo's runner
# in .cargo/config.toml): the system-call code (clone flags, seccomp tables and filters, struct
# layouts, cgroup and mount plans) checked on that architecture's numbers and layouts.
#
#   scripts/arm-unit-tests.sh [TARGET]
#
# TARGET: aarch64-unknown-linux-gnu (the default; 64-bit boards) or
# armv7-unknown-linux-gnueabihf (32-bit ARM: 32-bit pointers and `long`, its own system-call
# numbers, the 64-bit-time calls).
#
# qemu-user emulates one process's instructions, not a kernel: it refuses new namespaces
# (clone and unshare give EINVAL), clone's CLONE_PIDFD (so processes start on the backend's
# fork path), netlink's sock_diag and seccomp filters, and the helper
# processes a test starts (python3, /bin/sh) run natively as x86_64, where an ARM filter
# means nothing. The tests that need those are skipped here, each with its reason printed;
# they run natively in `cargo nextest` on the host.
set -euo pipefail
cd "$(dirname "$0")/.."
target=${1:-aarch64-unknown-linux-gnu}
case "$target" in
  aarch64-unknown-linux-gnu | armv7-unknown-linux-gnueabihf) ;;
  *)
    echo "scripts/arm-unit-tests.sh: TARGET is aarch64-unknown-linux-gnu or armv7-unknown-linux-gnueabihf, not $target" >&2
    exit 2
    ;;
esac

declare -A SKIP=(
  [container::image::real_tests::an_image_runs_in_its_own_read_only_root_and_its_links_lead_nowhere]="needs new namespaces, which qemu-user refuses"
  [container::probe::tests::a_refused_namespace_is_named]="needs unshare to fail as the kernel fails it (EPERM); qemu-user gives EINVAL"
  [peer::tests::the_peer_of_a_loopback_connection_is_found_and_its_holder_known]="needs netlink sock_diag, which qemu-user does not emulate"
  [process::tests::start_failures_say_which_step_failed]="qemu-user refuses clone with CLONE_PIDFD, so processes start on the fork path, whose error does not name the step"
  [seccomp::tests::the_kernel_enforces_the_filter_in_a_child]="qemu-user refuses seccomp filters, and its python3 child runs natively as x86_64"
  [seccomp::tests::without_the_filter_the_same_calls_reach_the_kernel]="its python3 child runs natively as x86_64, with x86_64's system-call numbers"
)
args=()
for t in "${!SKIP[@]}"; do
  echo "skipped under qemu ($target): $t: ${SKIP[$t]}"
  args+=(--skip "$t")
done
cargo test --locked --target "$target" -p lambdalet-sandbox --lib -- --exact "${args[@]}"
