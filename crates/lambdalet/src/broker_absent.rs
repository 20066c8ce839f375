//! The embedded MQTT broker's place in a build without it (no cargo feature `broker`):
//! `--mqtt-listen` defaults to `off`, and an address is refused with what is missing. A remote
//! broker (`--mqtt-remote`) works as in any build.

use std::sync::Arc;

use lambdalet_control::Control;
use lambdalet_events::mqtt::{Incoming, Mqtt};

use crate::cli::ServeArgs;
use crate::resources::Budget;

/// `--mqtt-listen`'s default: no broker to listen for.
pub const DEFAULT_LISTEN: &str = "off";

const MISSING: &str =
    "this lambdalet was built without the embedded MQTT broker (cargo feature `broker`)";

/// `off` gives no broker; an address is an error that says the broker is not in this build.
pub fn start(
    args: &ServeArgs,
    _: &Budget,
    _: &Arc<Control>,
) -> anyhow::Result<Option<(Mqtt, Incoming)>> {
    if args.mqtt_listen == "off" {
        tracing::info!(
            "no MQTT broker: {MISSING}; IOT_CORE topics need --mqtt-remote mqtt://HOST:PORT"
        );
        return Ok(None);
    }
    anyhow::bail!(
        "--mqtt-listen {}: {MISSING}; use --mqtt-remote or --mqtt-listen off",
        args.mqtt_listen
    )
}
