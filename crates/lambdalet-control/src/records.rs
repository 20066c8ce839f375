//! Reading invocation records back (`lambdalet logs`, the console, the live tail's first
//! records): the API asks here rather than reading the store itself.

use lambdalet_store::InvocationRecord;

use crate::control::Control;
use crate::error::ControlError;

impl Control {
    /// The newest `limit` records of `function` with an id above `after`, oldest first. Records
    /// still queued for the writer are written first, so an invocation that has answered is
    /// always there.
    pub async fn recent_invocations(
        &self,
        function: &str,
        limit: usize,
        after: i64,
    ) -> Result<Vec<InvocationRecord>, ControlError> {
        let invoker = self.invoker.clone();
        let f = function.to_owned();
        self.blocking(move |s| {
            invoker.flush_records();
            s.recent_invocations(&f, limit, after)
        })
        .await
    }
}
