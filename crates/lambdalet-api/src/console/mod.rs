//! The web console, served by the daemon at `/console` with the API's own authentication:
//! server-rendered pages (`site/pages.rs`, `site/function.rs`), a small script and stylesheet and uPlot
//! for the charts, all embedded in the binary (no build step, works offline). What the pages
//! do (invoke, enable/disable, point an alias) goes through the same API routes as any client,
//! with the viewer's own rights.
//!
//! The pages are built only with the cargo feature `console` (a default one); without it
//! `/console` answers that this build has none. What guards the API against browsers
//! (`guard.rs`) and the sessions' check (`session.rs`) are there either way.

pub(crate) mod guard;
pub(crate) mod session;
#[cfg(feature = "console")]
mod site;
#[cfg(not(feature = "console"))]
#[path = "absent.rs"]
mod site;

pub(crate) use site::routes;

/// Marks a request authenticated by a console session (the pages offer "Sign out").
#[derive(Clone, Copy)]
pub(crate) struct SessionMark;
