//! Components lambdalet itself stands in for. A Lambda component's recipe depends on
//! Greengrass's Lambda plumbing (`aws.greengrass.LambdaLauncher`, `LambdaManager`,
//! `LambdaRuntimes`), on `TokenExchangeService` for credentials and on the nucleus; lambdalet
//! does their work, so those dependencies are met by lambdalet at the versions below (the
//! newest Greengrass release each one's behaviour follows).

/// `(component name, version lambdalet declares)`.
pub const BUILTIN: &[(&str, &str)] = &[
    ("aws.greengrass.Nucleus", "2.14.0"),
    ("aws.greengrass.LambdaLauncher", "2.0.13"),
    ("aws.greengrass.LambdaManager", "2.3.4"),
    ("aws.greengrass.LambdaRuntimes", "2.0.8"),
    ("aws.greengrass.TokenExchangeService", "2.0.3"),
    ("aws.greengrass.LegacySubscriptionRouter", "2.1.13"),
];

/// The version lambdalet declares for a built-in component.
pub fn builtin_version(name: &str) -> Option<&'static str> {
    BUILTIN.iter().find(|(n, _)| *n == name).map(|(_, v)| *v)
}
